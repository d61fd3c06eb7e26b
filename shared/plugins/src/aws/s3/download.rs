//! `io.kestra.plugin.aws.s3.Download`: one object (`key`, `versionId`)
//! streamed into internal storage — outputs `uri`, `eTag`,
//! `contentLength`, `contentType`, `metadata`, `versionId` and, with
//! `validateChecksum`, `checksumAlgorithm`/`checksumValue` — or, when
//! `prefix`, `delimiter` or `regexp` is set, every file such a listing
//! keeps (at most `maxFiles`), output `files` (key → FileInfo).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::AwsProps;
use super::common::{Get, ListProps, Listing, blank, download};
use super::list::{BucketProps, cap};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Download objects from S3.
///
/// Streams one object (key) into the execution's files, or every file a listing keeps when prefix, delimiter or regexp is set.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.s3.Download",
    group = "aws",
    example = "id: download\ntype: io.kestra.plugin.aws.s3.Download\nregion: eu-central-1\nbucket: my-bucket\nkey: path/to/file\n",
    outputs(
        uri(String, "The stored file (single object)."),
        eTag(String, "The object's ETag."),
        contentLength(Integer, "Its bytes."),
        contentType(String, "Its Content-Type."),
        metadata(Map, "Its user metadata."),
        versionId(String, "Its version."),
        checksumAlgorithm(String, "The checksum's algorithm S3 returned (validateChecksum)."),
        checksumValue(String, "The checksum (base64)."),
        files(Map, "Several objects: key → {uri, contentLength, contentType, metadata, eTag, versionId…}.")
    )
)]
struct Props {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    b: BucketProps,
    /// The object's key (one object).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    key: Option<String>,
    /// A version of the object.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    version_id: Option<String>,
    #[serde(flatten)]
    list: ListProps,
    /// Download at most this many objects (several objects).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "25")]
    max_files: Option<u64>,
    /// Ask S3 for the stored checksum and verify the bytes against it.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    validate_checksum: Option<bool>,
}

enum Mode {
    One(Get),
    Many(Listing, usize, bool),
}

struct Download {
    aws: AwsProps,
    mode: Mode,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.aws.check()?;
    let checksum = p.validate_checksum.unwrap_or(false);
    let many = p.list.prefix.is_some() || p.list.delimiter.is_some() || p.list.regexp.is_some();
    let mode = if many {
        // as Kestra: files only
        let list = ListProps { filter: Some("FILES".into()), ..p.list.clone() };
        let max = usize::try_from(p.max_files.unwrap_or(25)).unwrap_or(usize::MAX);
        Mode::Many(list.check(&p.b.bucket, &p.b.request_payer)?, max, checksum)
    } else {
        let key = blank(&p.key).ok_or_else(|| {
            TaskError::property(
                "key",
                "either specify 'key' for single file download or at least one filtering parameter \
                 (prefix, delimiter, regexp) for multiple files download",
            )
        })?;
        let l = p.list.check(&p.b.bucket, &p.b.request_payer)?;
        Mode::One(Get {
            bucket: l.bucket,
            key,
            version_id: blank(&p.version_id),
            request_payer: l.request_payer,
            expected_bucket_owner: l.expected_bucket_owner,
            checksum,
        })
    };
    Ok(Box::new(Download { aws: p.aws, mode }))
}

#[async_trait]
impl RunnableTask for Download {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.aws.s3().await?;
        match &self.mode {
            Mode::One(g) => {
                let f = download(cx, &client, g).await?;
                cx.info(&format!("Downloaded {} bytes from s3://{}/{} to {}", f.size, g.bucket, g.key, f.uri));
                Ok(TaskOutput::with(f.file_info()))
            }
            Mode::Many(listing, max, checksum) => {
                let mut objects = listing.list(&client).await?;
                cap(cx, &mut objects, *max);
                if objects.is_empty() {
                    cx.warn("No objects found matching the filter criteria");
                }
                let mut files = Map::new();
                for o in &objects {
                    let g = Get {
                        bucket: listing.bucket.clone(),
                        key: o.key.clone(),
                        request_payer: listing.request_payer.clone(),
                        expected_bucket_owner: listing.expected_bucket_owner.clone(),
                        checksum: *checksum,
                        ..Get::default()
                    };
                    let f = download(cx, &client, &g).await?;
                    files.insert(o.key.clone(), Value::Object(f.file_info()));
                }
                cx.info(&format!("Downloaded {} objects from bucket '{}'", files.len(), listing.bucket));
                let mut out = Map::new();
                out.insert("files".into(), json!(files));
                Ok(TaskOutput::with(out))
            }
        }
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn one_object_or_a_listing() {
        let ok = |v: Value| build(v.as_object().expect("map")).is_ok();
        assert!(ok(json!({"bucket": "b", "key": "k"})));
        assert!(ok(json!({"bucket": "b", "prefix": "in/"})));
        let e = build(json!({"bucket": "b"}).as_object().expect("map")).err().expect("invalid").to_string();
        assert!(e.contains("'key'"), "{e}");
    }
}
