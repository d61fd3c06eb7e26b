//! `io.kestra.plugin.aws.s3.Upload`: streams files of internal storage to
//! S3. `from` is one kestra:// URI (stored under `key`), or several — a
//! list (or its JSON text), each stored under `key/{file name}`, or a map
//! (or its JSON text) of relative key → URI, stored under `key/{relative
//! key}`. A file up to one part is sent in one PutObject, a larger one as a
//! multipart upload part by part, so memory holds one part per file
//! (8 MiB or more) whatever the file's size; `concurrentUploads` files at
//! once, at most [`MAX_CONCURRENT`]. The object options (`metadata`,
//! `contentType`, `tagging`, `storageClass`, encryption, Object Lock…) are
//! PutObject's. Outputs `bucket`, `key`, `eTag`, `versionId`, and `files`
//! (relative key → {eTag, versionId, contentLength}) for several files.

use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_s3::primitives::{ByteStream as Body, DateTime, DateTimeFormat};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectCannedAcl, ObjectLockLegalHoldStatus,
    ObjectLockMode, RequestPayer, ServerSideEncryption, StorageClass,
};
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::io::AsyncReadExt;

use super::super::AwsProps;
use super::common::{blank, bucket_name, one_of, s3_error};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::ByteStream;

/// The smallest part (and the largest file sent in one request).
pub const PART_SIZE: u64 = 8 * 1024 * 1024;
/// The most files uploaded at once, whatever `concurrentUploads` says (each holds a part in memory).
pub const MAX_CONCURRENT: usize = 4;

/// Upload files to S3.
///
/// Streams one or several files of the execution to S3, with the object's options (metadata, content headers, ACL, storage class, encryption, tags, Object Lock).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.s3.Upload",
    group = "aws",
    example = "id: upload\ntype: io.kestra.plugin.aws.s3.Upload\nregion: eu-central-1\nfrom: \"{{ outputs.extract.uri }}\"\nbucket: my-bucket\nkey: path/to/file.csv\n",
    outputs(
        bucket(String, "The bucket."),
        key(String, "The key (the base key for several files)."),
        eTag(String, "The object's ETag (one file)."),
        versionId(String, "The object's version (one file)."),
        files(Map, "Several files: relative key → {eTag, versionId, contentLength}.")
    )
)]
struct Props {
    #[serde(flatten)]
    aws: AwsProps,
    /// The bucket.
    #[serde(deserialize_with = "de::string_lenient")]
    bucket: String,
    /// Confirms the requester pays for the request (requester).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    request_payer: Option<String>,
    /// The file (kestra:// URI), a list of them, or a map of relative key → URI (or their JSON text).
    #[prop(kind = "Any", required)]
    from: Value,
    /// The object's key; for several files the base key they go under.
    #[serde(deserialize_with = "de::string_lenient")]
    key: String,
    /// User metadata stored with each object.
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    metadata: Vec<(String, String)>,
    /// Cache-Control.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    cache_control: Option<String>,
    /// Content-Type.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    content_type: Option<String>,
    /// Content-Encoding.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    content_encoding: Option<String>,
    /// Content-Disposition.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    content_disposition: Option<String>,
    /// Content-Language.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    content_language: Option<String>,
    /// The file's length: the upload fails when the file has another.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    content_length: Option<u64>,
    /// Expires (an ISO-8601 instant).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    expires: Option<String>,
    /// The canned ACL (private, public-read…).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    acl: Option<String>,
    /// The storage class (STANDARD when absent).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    storage_class: Option<String>,
    /// Server-side encryption: AES256, aws:kms (AWS_KMS), aws:kms:dsse (AWS_KMS_DSSE).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    server_side_encryption: Option<String>,
    /// Use an S3 Bucket Key with SSE-KMS.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    bucket_key_enabled: Option<bool>,
    /// The checksum S3 verifies: CRC32, CRC32_C, SHA1, SHA256, CRC64_NVME.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["CRC32", "CRC32_C", "SHA1", "SHA256", "CRC64_NVME"])]
    checksum_algorithm: Option<String>,
    /// The file's checksum (base64) for checksumAlgorithm, computed when absent; one part's files only.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    checksum: Option<String>,
    /// Fail unless the bucket belongs to this account id.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    expected_bucket_owner: Option<String>,
    /// Object Lock mode: GOVERNANCE or COMPLIANCE.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["GOVERNANCE", "COMPLIANCE"])]
    object_lock_mode: Option<String>,
    /// Object Lock legal hold: ON or OFF.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ON", "OFF"])]
    object_lock_legal_hold_status: Option<String>,
    /// Keep the object locked until this ISO-8601 instant.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    object_lock_retain_until_date: Option<String>,
    /// Tags of each object (name → value).
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    tagging: Vec<(String, String)>,
    /// Files uploaded at once (Baton: at most 4, each holding one part in memory).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "50")]
    concurrent_uploads: Option<u64>,
}

/// The PutObject options, checked.
#[derive(Debug, Clone, Default)]
struct Options {
    metadata: Option<std::collections::HashMap<String, String>>,
    cache_control: Option<String>,
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    expires: Option<DateTime>,
    acl: Option<ObjectCannedAcl>,
    storage_class: Option<StorageClass>,
    sse: Option<ServerSideEncryption>,
    bucket_key_enabled: Option<bool>,
    checksum_algorithm: Option<ChecksumAlgorithm>,
    expected_bucket_owner: Option<String>,
    request_payer: Option<RequestPayer>,
    lock_mode: Option<ObjectLockMode>,
    legal_hold: Option<ObjectLockLegalHoldStatus>,
    retain_until: Option<DateTime>,
    tagging: Option<String>,
}

/// Sets the options on a PutObject or CreateMultipartUpload request (the same setters).
macro_rules! with_options {
    ($req:expr, $o:expr) => {
        $req.set_metadata($o.metadata.clone())
            .set_cache_control($o.cache_control.clone())
            .set_content_type($o.content_type.clone())
            .set_content_encoding($o.content_encoding.clone())
            .set_content_disposition($o.content_disposition.clone())
            .set_content_language($o.content_language.clone())
            .set_expires($o.expires)
            .set_acl($o.acl.clone())
            .set_storage_class($o.storage_class.clone())
            .set_server_side_encryption($o.sse.clone())
            .set_bucket_key_enabled($o.bucket_key_enabled)
            .set_checksum_algorithm($o.checksum_algorithm.clone())
            .set_expected_bucket_owner($o.expected_bucket_owner.clone())
            .set_request_payer($o.request_payer.clone())
            .set_object_lock_mode($o.lock_mode.clone())
            .set_object_lock_legal_hold_status($o.legal_hold.clone())
            .set_object_lock_retain_until_date($o.retain_until)
            .set_tagging($o.tagging.clone())
    };
}

fn instant(name: &str, v: &Option<String>) -> Result<Option<DateTime>, TaskError> {
    blank(v)
        .map(|s| {
            DateTime::from_str(&s, DateTimeFormat::DateTime)
                .map_err(|e| TaskError::property(name, format!("'{s}' is not an ISO-8601 instant: {e}")))
        })
        .transpose()
}

/// `k=v&…`, percent-encoded (the `x-amz-tagging` header).
fn tag_query(tags: &[(String, String)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    tags.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

impl Props {
    fn options(&self) -> Result<Options, TaskError> {
        let sse = blank(&self.server_side_encryption).map(|s| match s.as_str() {
            "AWS_KMS" => "aws:kms".to_string(),
            "AWS_KMS_DSSE" => "aws:kms:dsse".to_string(),
            _ => s,
        });
        let algo = one_of(
            "checksumAlgorithm",
            &self.checksum_algorithm,
            &["CRC32", "CRC32_C", "SHA1", "SHA256", "CRC64_NVME"],
        )?
        .map(|a| ChecksumAlgorithm::from(a.replace('_', "").as_str()));
        if self.checksum.is_some() && algo.is_none() {
            return Err(TaskError::property("checksum", "needs checksumAlgorithm, the algorithm of its value"));
        }
        Ok(Options {
            metadata: (!self.metadata.is_empty()).then(|| self.metadata.iter().cloned().collect()),
            cache_control: blank(&self.cache_control),
            content_type: blank(&self.content_type),
            content_encoding: blank(&self.content_encoding),
            content_disposition: blank(&self.content_disposition),
            content_language: blank(&self.content_language),
            expires: instant("expires", &self.expires)?,
            acl: blank(&self.acl).as_deref().map(ObjectCannedAcl::from),
            storage_class: blank(&self.storage_class).as_deref().map(StorageClass::from),
            sse: sse.as_deref().map(ServerSideEncryption::from),
            bucket_key_enabled: self.bucket_key_enabled,
            checksum_algorithm: algo,
            expected_bucket_owner: blank(&self.expected_bucket_owner),
            request_payer: blank(&self.request_payer).as_deref().map(RequestPayer::from),
            lock_mode: one_of("objectLockMode", &self.object_lock_mode, &["GOVERNANCE", "COMPLIANCE"])?
                .as_deref()
                .map(ObjectLockMode::from),
            legal_hold: one_of("objectLockLegalHoldStatus", &self.object_lock_legal_hold_status, &["ON", "OFF"])?
                .as_deref()
                .map(ObjectLockLegalHoldStatus::from),
            retain_until: instant("objectLockRetainUntilDate", &self.object_lock_retain_until_date)?,
            tagging: (!self.tagging.is_empty()).then(|| tag_query(&self.tagging)),
        })
    }
}

/// `from` as (relative key, kestra:// URI) pairs; `single` when it named one file.
fn sources(from: &Value) -> Result<(Vec<(String, String)>, bool), TaskError> {
    let name = |uri: &str| uri.trim().rsplit('/').next().unwrap_or_default().to_string();
    let bad =
        |what: &str| TaskError::property("from", format!("expected a kestra:// URI, a list or a map of them: {what}"));
    let parsed;
    let v = match from {
        Value::String(s) if s.trim_start().starts_with(['[', '{']) => {
            parsed = serde_json::from_str::<Value>(s).map_err(|e| bad(&format!("invalid JSON: {e}")))?;
            &parsed
        }
        other => other,
    };
    let pairs: Vec<(String, String)> = match v {
        Value::String(s) => return Ok((vec![(name(s), s.trim().to_string())], true)),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(|s| (name(s), s.trim().to_string())).ok_or_else(|| bad(&format!("{i}"))))
            .collect::<Result<_, _>>()?,
        Value::Object(m) => m
            .iter()
            .map(|(k, i)| i.as_str().map(|s| (k.clone(), s.trim().to_string())).ok_or_else(|| bad(&format!("{i}"))))
            .collect::<Result<_, _>>()?,
        other => return Err(bad(&format!("{other}"))),
    };
    if pairs.is_empty() {
        return Err(TaskError::property(
            "from",
            "No files to upload: the 'from' property contains an empty collection or array",
        ));
    }
    let single = pairs.len() == 1;
    Ok((pairs, single))
}

struct Upload {
    aws: AwsProps,
    bucket: String,
    key: String,
    from: Vec<(String, String)>,
    single: bool,
    opts: Options,
    checksum: Option<String>,
    content_length: Option<u64>,
    concurrent: usize,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.aws.check()?;
    let bucket = bucket_name(&p.bucket)?;
    let (from, single) = sources(&p.from)?;
    let single = single || from.len() == 1;
    if p.key.trim().is_empty() {
        return Err(TaskError::property("key", "must not be blank"));
    }
    if (p.checksum.is_some() || p.content_length.is_some()) && !single {
        let name = if p.checksum.is_some() { "checksum" } else { "contentLength" };
        return Err(TaskError::property(name, "is one file's: several files are uploaded"));
    }
    let concurrent = usize::try_from(p.concurrent_uploads.unwrap_or(50).clamp(1, MAX_CONCURRENT as u64)).unwrap_or(1);
    Ok(Box::new(Upload {
        opts: p.options()?,
        key: p.key.trim().to_string(),
        checksum: blank(&p.checksum),
        content_length: p.content_length,
        aws: p.aws,
        bucket,
        from,
        single,
        concurrent,
    }))
}

/// Reads up to `n` bytes (fewer only at the end of the file).
async fn chunk(r: &mut ByteStream, n: u64) -> Result<Vec<u8>, TaskError> {
    let mut buf = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(64 << 20));
    (&mut *r)
        .take(n)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| TaskError::failed(format!("cannot read the file: {e}")))?;
    Ok(buf)
}

/// What one file's upload returned: (ETag, version id, bytes).
type Sent = (Option<String>, Option<String>, u64);

impl Upload {
    async fn one(&self, cx: &RunContext, client: &aws_sdk_s3::Client, uri: &str, key: &str) -> Result<Sent, TaskError> {
        let path = cx.readable_path("from", uri)?;
        let storage = &cx.services.storage;
        let size = storage
            .size(&path)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read '{uri}': {e}")))?
            .ok_or_else(|| TaskError::property("from", format!("'{uri}' does not exist in internal storage")))?;
        if let Some(n) = self.content_length.filter(|n| *n != size) {
            return Err(TaskError::property("contentLength", format!("is {n}, but '{uri}' has {size} bytes")));
        }
        let mut reader =
            storage.get(&path).await.map_err(|e| TaskError::failed(format!("cannot read '{uri}': {e}")))?;
        // parts of at least 8 MiB, few enough for S3's 10,000
        let part = PART_SIZE.max(size.div_ceil(9_000).div_ceil(1 << 20) << 20);
        let target = format!("s3://{}/{key}", self.bucket);
        cx.info(&format!("Uploading '{uri}' ({size} bytes) to '{target}'"));
        if size <= part {
            let data = chunk(&mut reader, part).await?;
            let n = data.len() as u64;
            let mut req =
                with_options!(client.put_object().bucket(&self.bucket).key(key), self.opts).body(Body::from(data));
            if let (Some(sum), Some(a)) = (&self.checksum, &self.opts.checksum_algorithm) {
                req = match a {
                    ChecksumAlgorithm::Sha1 => req.checksum_sha1(sum),
                    ChecksumAlgorithm::Sha256 => req.checksum_sha256(sum),
                    ChecksumAlgorithm::Crc32C => req.checksum_crc32_c(sum),
                    ChecksumAlgorithm::Crc64Nvme => req.checksum_crc64_nvme(sum),
                    _ => req.checksum_crc32(sum),
                };
            }
            let r = req.send().await.map_err(|e| s3_error(&format!("cannot upload to '{target}'"), e))?;
            return Ok((r.e_tag().map(str::to_string), r.version_id().map(str::to_string), n));
        }
        if self.checksum.is_some() {
            return Err(TaskError::property(
                "checksum",
                format!(
                    "a whole-file checksum goes with one request, but '{uri}' ({size} bytes) is sent in parts of {part}: remove it (checksumAlgorithm alone has each part checked)"
                ),
            ));
        }
        let created = with_options!(client.create_multipart_upload().bucket(&self.bucket).key(key), self.opts)
            .send()
            .await
            .map_err(|e| s3_error(&format!("cannot start the upload to '{target}'"), e))?;
        let id = created.upload_id().unwrap_or_default().to_string();
        let result = self.parts(client, &mut reader, key, &id, part).await;
        match result {
            Ok((parts, n)) => {
                let r = client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&id)
                    .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                    .set_expected_bucket_owner(self.opts.expected_bucket_owner.clone())
                    .set_request_payer(self.opts.request_payer.clone())
                    .send()
                    .await
                    .map_err(|e| s3_error(&format!("cannot complete the upload to '{target}'"), e))?;
                Ok((r.e_tag().map(str::to_string), r.version_id().map(str::to_string), n))
            }
            Err(e) => {
                let _ = client.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(&id).send().await;
                Err(e)
            }
        }
    }

    async fn parts(
        &self,
        client: &aws_sdk_s3::Client,
        reader: &mut ByteStream,
        key: &str,
        id: &str,
        part: u64,
    ) -> Result<(Vec<CompletedPart>, u64), TaskError> {
        let (mut parts, mut total) = (Vec::new(), 0u64);
        for number in 1..=10_000i32 {
            let data = chunk(reader, part).await?;
            if data.is_empty() && number > 1 {
                break;
            }
            let last = (data.len() as u64) < part;
            total += data.len() as u64;
            let r = client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(id)
                .part_number(number)
                .set_checksum_algorithm(self.opts.checksum_algorithm.clone())
                .set_expected_bucket_owner(self.opts.expected_bucket_owner.clone())
                .set_request_payer(self.opts.request_payer.clone())
                .body(Body::from(data))
                .send()
                .await
                .map_err(|e| s3_error(&format!("cannot upload part {number} to s3://{}/{key}", self.bucket), e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(r.e_tag().map(str::to_string))
                    .set_checksum_crc32(r.checksum_crc32().map(str::to_string))
                    .set_checksum_crc32_c(r.checksum_crc32_c().map(str::to_string))
                    .set_checksum_crc64_nvme(r.checksum_crc64_nvme().map(str::to_string))
                    .set_checksum_sha1(r.checksum_sha1().map(str::to_string))
                    .set_checksum_sha256(r.checksum_sha256().map(str::to_string))
                    .build(),
            );
            if last {
                break;
            }
        }
        Ok((parts, total))
    }
}

#[async_trait]
impl RunnableTask for Upload {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.aws.s3().await?;
        let mut out = Map::new();
        out.insert("bucket".into(), json!(self.bucket));
        out.insert("key".into(), json!(self.key));
        if self.single {
            let (etag, version, n) = self.one(cx, &client, &self.from[0].1, &self.key).await?;
            cx.counter("file.count", 1.0, &[]);
            cx.counter("file.size", n as f64, &[]);
            out.insert("eTag".into(), json!(etag));
            out.insert("versionId".into(), json!(version));
            return Ok(TaskOutput::with(out));
        }
        let base = self.key.trim_end_matches('/');
        let sent: Vec<(String, Sent)> = futures::stream::iter(self.from.iter().cloned())
            .map(|(rel, uri): (String, String)| {
                let (client, key) = (client.clone(), format!("{base}/{}", rel.trim_start_matches('/')));
                async move { self.one(cx, &client, &uri, &key).await.map(|s| (rel, s)) }
            })
            .buffered(self.concurrent)
            .try_collect()
            .await?;
        let mut files = Map::new();
        for (rel, (etag, version, n)) in sent {
            cx.counter("file.count", 1.0, &[]);
            cx.counter("file.size", n as f64, &[]);
            files.insert(rel, json!({"eTag": etag, "versionId": version, "contentLength": n}));
        }
        out.insert("files".into(), Value::Object(files));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn from_takes_a_uri_a_list_a_map_or_their_json() {
        let u = "kestra:///ns/f/executions/e/tasks/t/r/a.csv";
        assert_eq!(sources(&json!(u)).expect("one"), (vec![("a.csv".into(), u.into())], true));
        let (list, single) = sources(&json!([u, "kestra:///x/b.csv"])).expect("list");
        assert_eq!((list[1].0.as_str(), single), ("b.csv", false));
        let (map, _) =
            sources(&json!(format!("{{\"first\": \"{u}\", \"dir/second\": \"kestra:///x/b\"}}"))).expect("json");
        assert_eq!(map.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["first", "dir/second"]);
        assert!(sources(&json!([])).expect_err("empty").to_string().contains("No files to upload"));
        assert!(sources(&json!([1])).is_err());
    }

    #[test]
    fn options_are_checked() {
        let p = |v: Value| -> Result<Options, TaskError> {
            parse_props::<Props>(v.as_object().expect("map")).and_then(|p| p.options())
        };
        let base = json!({"bucket": "b", "key": "k", "from": "kestra:///a"});
        let with = |k: &str, v: Value| {
            let mut m = base.clone();
            m[k] = v;
            m
        };
        let o = p(with("checksumAlgorithm", json!("CRC32_C"))).expect("valid");
        assert_eq!(o.checksum_algorithm, Some(ChecksumAlgorithm::Crc32C));
        assert_eq!(
            p(with("serverSideEncryption", json!("AWS_KMS"))).expect("v").sse,
            Some(ServerSideEncryption::AwsKms)
        );
        assert_eq!(p(with("tagging", json!({"a b": "c&d"}))).expect("v").tagging.as_deref(), Some("a%20b=c%26d"));
        assert!(p(with("expires", json!("tomorrow"))).expect_err("bad").to_string().contains("'expires'"));
        assert!(p(with("checksum", json!("abc="))).expect_err("bad").to_string().contains("'checksum'"));
        assert!(p(with("objectLockMode", json!("SOFT"))).is_err());
    }
}
