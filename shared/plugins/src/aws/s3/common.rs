//! What the S3 types share: the properties of a listing (plugin-aws
//! `ListInterface`: prefix, delimiter, marker, regexp, filter, maxKeys…),
//! the listing itself, Kestra's `S3Object` model, streaming an object into
//! internal storage, the `action` done with listed objects (`NONE`, `MOVE`
//! to `moveTo`, `DELETE`) and the SDK's errors as task errors.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::DateTimeFormat;
use aws_sdk_s3::types::RequestPayer;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{Declare, RunContext, TaskError, de};
use baton_backend::ByteStream;

/// An SDK error as a task error: S3's code and message when it answered.
pub fn s3_error<E, R>(what: &str, e: SdkError<E, R>) -> TaskError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    crate::aws::connection::sdk_error("S3", what, e)
}

/// The HTTP status S3 answered with, if it answered.
pub fn status<E, R: HasStatus>(e: &SdkError<E, R>) -> Option<u16> {
    e.raw_response().map(HasStatus::status_code)
}

/// A raw response whose status can be read.
pub trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// An enum-like value, upper-cased and checked against `allowed`.
pub fn one_of(name: &str, v: &Option<String>, allowed: &[&str]) -> Result<Option<String>, TaskError> {
    let Some(s) = v.as_deref().map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
    let up = s.to_ascii_uppercase();
    if allowed.contains(&up.as_str()) {
        Ok(Some(up))
    } else {
        Err(TaskError::property(name, format!("'{s}' is not one of {}", allowed.join(", "))))
    }
}

pub(crate) fn blank(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

/// What to list (plugin-aws `ListInterface`), `#[serde(flatten)]`ed into
/// List, DeleteList, Downloads and the Trigger.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct ListProps {
    /// Only keys that begin with this prefix.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub prefix: Option<String>,
    /// Group keys up to this character: keys past it under the prefix are not listed.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub delimiter: Option<String>,
    /// List the keys after this one.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub marker: Option<String>,
    /// How S3 encodes the keys it returns (url).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub encoding_type: Option<String>,
    /// The most objects listed, over all pages.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, default = "1000")]
    pub max_keys: Option<u64>,
    /// Fail unless the bucket belongs to this account id.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub expected_bucket_owner: Option<String>,
    /// Only keys this regular expression matches whole.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub regexp: Option<String>,
    /// Only files, only directories (keys ending in /), or both.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["FILES", "DIRECTORY", "BOTH"], default = "\"BOTH\"")]
    pub filter: Option<String>,
}

/// Which keys a listing keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Files,
    Directory,
    Both,
}

/// A checked listing of one bucket.
#[derive(Debug, Clone)]
pub struct Listing {
    pub bucket: String,
    pub prefix: Option<String>,
    pub delimiter: Option<String>,
    pub marker: Option<String>,
    pub encoding_type: Option<String>,
    pub max_keys: usize,
    pub expected_bucket_owner: Option<String>,
    pub request_payer: Option<String>,
    pub regexp: Option<Regex>,
    pub filter: Filter,
}

impl ListProps {
    /// The listing of `bucket`; `filter` when the type fixes it (Download's FILES).
    pub fn check(&self, bucket: &str, request_payer: &Option<String>) -> Result<Listing, TaskError> {
        let regexp = match blank(&self.regexp) {
            Some(r) => Some(
                Regex::new(&format!("^(?:{r})$"))
                    .map_err(|e| TaskError::property("regexp", format!("invalid regular expression: {e}")))?,
            ),
            None => None,
        };
        let filter = match one_of("filter", &self.filter, &["FILES", "DIRECTORY", "BOTH"])?.as_deref() {
            Some("FILES") => Filter::Files,
            Some("DIRECTORY") => Filter::Directory,
            _ => Filter::Both,
        };
        let max_keys = self.max_keys.unwrap_or(1000);
        if max_keys == 0 {
            return Err(TaskError::property("maxKeys", "must be at least 1"));
        }
        Ok(Listing {
            bucket: bucket_name(bucket)?,
            prefix: self.prefix.clone().filter(|p| !p.is_empty()),
            delimiter: self.delimiter.clone().filter(|d| !d.is_empty()),
            marker: blank(&self.marker),
            encoding_type: blank(&self.encoding_type),
            max_keys: usize::try_from(max_keys).unwrap_or(usize::MAX),
            expected_bucket_owner: blank(&self.expected_bucket_owner),
            request_payer: blank(request_payer),
            regexp,
            filter,
        })
    }
}

/// A bucket name, checked not blank.
pub fn bucket_name(b: &str) -> Result<String, TaskError> {
    let b = b.trim();
    if b.is_empty() {
        return Err(TaskError::property("bucket", "must not be blank"));
    }
    Ok(b.to_string())
}

/// One listed object, as plugin-aws' `S3Object` (`uri` once downloaded).
#[derive(Debug, Clone, PartialEq)]
pub struct S3Obj {
    pub key: String,
    pub etag: Option<String>,
    pub size: i64,
    /// RFC 3339, as Kestra's `Instant`.
    pub last_modified: Option<String>,
    pub owner: Option<(Option<String>, Option<String>)>,
}

impl S3Obj {
    fn of(o: &aws_sdk_s3::types::Object) -> S3Obj {
        S3Obj {
            key: o.key().unwrap_or_default().to_string(),
            etag: o.e_tag().map(str::to_string),
            size: o.size().unwrap_or(0),
            last_modified: o.last_modified().and_then(|d| d.fmt(DateTimeFormat::DateTime).ok()),
            owner: o.owner().map(|w| (w.id().map(str::to_string), w.display_name().map(str::to_string))),
        }
    }

    /// Kestra's JSON: key, etag, size, lastModified, owner {id, displayName} (and uri when set).
    pub fn to_json(&self, uri: Option<&str>) -> Value {
        let mut m = Map::new();
        if let Some(u) = uri {
            m.insert("uri".into(), json!(u));
        }
        m.insert("key".into(), json!(self.key));
        m.insert("etag".into(), json!(self.etag));
        m.insert("size".into(), json!(self.size));
        m.insert("lastModified".into(), json!(self.last_modified));
        if let Some((id, name)) = &self.owner {
            m.insert("owner".into(), json!({"id": id, "displayName": name}));
        }
        Value::Object(m)
    }

    /// The version the trigger remembers: the ETag, else the modification time (as Kestra).
    pub fn version(&self) -> String {
        self.etag.clone().or_else(|| self.last_modified.clone()).unwrap_or_default()
    }
}

impl Listing {
    /// The objects, over as many pages as `maxKeys` needs, kept per `regexp` and `filter`.
    pub async fn list(&self, client: &aws_sdk_s3::Client) -> Result<Vec<S3Obj>, TaskError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = i32::try_from(self.max_keys.min(1000)).unwrap_or(1000);
            let r = client
                .list_objects_v2()
                .bucket(&self.bucket)
                .max_keys(page)
                .set_prefix(self.prefix.clone())
                .set_delimiter(self.delimiter.clone())
                .set_start_after(self.marker.clone())
                .set_encoding_type(self.encoding_type.as_deref().map(Into::into))
                .set_expected_bucket_owner(self.expected_bucket_owner.clone())
                .set_request_payer(self.request_payer.as_deref().map(RequestPayer::from))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| s3_error(&format!("cannot list bucket '{}'", self.bucket), e))?;
            all.extend(r.contents().iter().map(S3Obj::of));
            if all.len() >= self.max_keys || r.is_truncated() != Some(true) {
                break;
            }
            match r.next_continuation_token() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        all.truncate(self.max_keys);
        Ok(all.into_iter().filter(|o| self.keeps(&o.key)).collect())
    }

    /// Whether `regexp` and `filter` keep `key`.
    pub fn keeps(&self, key: &str) -> bool {
        let dir = key.ends_with('/');
        self.regexp.as_ref().is_none_or(|r| r.is_match(key))
            && match self.filter {
                Filter::Both => true,
                Filter::Files => !dir,
                Filter::Directory => dir,
            }
    }
}

/// What GetObject told of the object besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub uri: String,
    pub size: u64,
    pub etag: Option<String>,
    pub content_length: Option<i64>,
    pub content_type: Option<String>,
    pub metadata: Map<String, Value>,
    pub version_id: Option<String>,
    /// (algorithm, base64 value) when S3 returned a checksum.
    pub checksum: Option<(String, String)>,
}

impl Fetched {
    /// Kestra's `FileInfo` (and the single Download's outputs).
    pub fn file_info(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("uri".into(), json!(self.uri));
        m.insert("contentLength".into(), json!(self.content_length));
        m.insert("contentType".into(), json!(self.content_type));
        m.insert("metadata".into(), Value::Object(self.metadata.clone()));
        m.insert("eTag".into(), json!(self.etag));
        m.insert("versionId".into(), json!(self.version_id));
        m.insert("checksumAlgorithm".into(), json!(self.checksum.as_ref().map(|c| &c.0)));
        m.insert("checksumValue".into(), json!(self.checksum.as_ref().map(|c| &c.1)));
        m
    }
}

/// One GetObject.
#[derive(Debug, Clone, Default)]
pub struct Get {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub request_payer: Option<String>,
    pub expected_bucket_owner: Option<String>,
    pub checksum: bool,
}

/// GetObject: its metadata and a reader of its bytes (streamed, never whole in memory).
pub async fn get(client: &aws_sdk_s3::Client, g: &Get) -> Result<(Fetched, ByteStream), TaskError> {
    let mut req = client
        .get_object()
        .bucket(&g.bucket)
        .key(&g.key)
        .set_version_id(g.version_id.clone())
        .set_request_payer(g.request_payer.as_deref().map(RequestPayer::from))
        .set_expected_bucket_owner(g.expected_bucket_owner.clone());
    if g.checksum {
        req = req.checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled);
    }
    let out = req.send().await.map_err(|e| s3_error(&format!("cannot get s3://{}/{}", g.bucket, g.key), e))?;
    let checksum = [
        ("SHA256", out.checksum_sha256()),
        ("SHA1", out.checksum_sha1()),
        ("CRC32", out.checksum_crc32()),
        ("CRC32C", out.checksum_crc32_c()),
    ]
    .into_iter()
    .find_map(|(a, v)| v.map(|v| (a.to_string(), v.to_string())));
    let fetched = Fetched {
        etag: out.e_tag().map(str::to_string),
        content_length: out.content_length(),
        content_type: out.content_type().map(str::to_string),
        metadata: out.metadata().map(|m| m.iter().map(|(k, v)| (k.clone(), json!(v))).collect()).unwrap_or_default(),
        version_id: out.version_id().map(str::to_string),
        checksum,
        ..Fetched::default()
    };
    let reader: ByteStream = Box::pin(out.body.into_async_read());
    Ok((fetched, reader))
}

/// Streams an object into this task's files (named after its key's last part).
pub async fn download(cx: &RunContext, client: &aws_sdk_s3::Client, g: &Get) -> Result<Fetched, TaskError> {
    let (mut fetched, reader) = get(client, g).await?;
    if g.checksum && fetched.checksum.is_none() {
        cx.warn(&format!(
            "Checksum validation requested for key '{}' but the object has no stored checksum; transfer was not verified.",
            g.key
        ));
    }
    let name = g.key.trim_end_matches('/').rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("object");
    let (uri, size) = cx.put_file(name, reader).await?;
    cx.counter("file.size", size as f64, &[]);
    fetched.uri = uri;
    fetched.size = size;
    Ok(fetched)
}
