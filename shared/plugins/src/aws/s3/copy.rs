//! `io.kestra.plugin.aws.s3.Copy`: copies an object server-side, `from`
//! `{bucket, key, versionId}` to `to` `{bucket, key, serverSideEncryption,
//! kmsKeyId}` (each part of `to` defaults to the source's); with `delete`,
//! the source is removed after the copy (a move). Outputs `bucket`, `key`,
//! `eTag`, `versionId`. One CopyObject request: S3 copies up to 5 GB so.

use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_s3::types::ServerSideEncryption;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::AwsProps;
use super::common::{blank, bucket_name, one_of, s3_error};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// A destination object (plugin-aws `Copy.CopyObject`, also `moveTo`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyObject {
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub bucket: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub key: Option<String>,
    /// NONE, AES256 or AWS_KMS.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub server_side_encryption: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub kms_key_id: Option<String>,
}

/// A source object (plugin-aws `Copy.CopyObjectFrom`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyObjectFrom {
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub bucket: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub version_id: Option<String>,
    // a CopyObject too in Kestra: accepted on the source, where it has no effect there either
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub server_side_encryption: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub kms_key_id: Option<String>,
}

/// The encryption of a copy, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Encryption {
    pub sse: Option<ServerSideEncryption>,
    pub kms_key_id: Option<String>,
}

impl Encryption {
    pub fn of(property: &str, o: &CopyObject) -> Result<Encryption, TaskError> {
        let name = format!("{property}.serverSideEncryption");
        let sse = match one_of(&name, &o.server_side_encryption, &["NONE", "AES256", "AWS_KMS"])?.as_deref() {
            Some("AES256") => Some(ServerSideEncryption::Aes256),
            Some("AWS_KMS") => Some(ServerSideEncryption::AwsKms),
            _ => None,
        };
        let kms_key_id = if sse == Some(ServerSideEncryption::AwsKms) { blank(&o.kms_key_id) } else { None };
        Ok(Encryption { sse, kms_key_id })
    }
}

/// One server-side copy.
#[derive(Debug, Clone)]
pub struct CopySpec {
    pub from: (String, String),
    pub version_id: Option<String>,
    /// Copy only while the source still has this ETag (a move of what was listed).
    pub if_match: Option<String>,
    pub to: (String, String),
    pub encryption: Encryption,
}

/// `key` percent-encoded for `x-amz-copy-source` (`/` kept).
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Copies; the copy's (ETag, version id).
pub async fn copy(client: &aws_sdk_s3::Client, c: &CopySpec) -> Result<(Option<String>, Option<String>), TaskError> {
    let mut source = format!("{}/{}", c.from.0, encode_key(&c.from.1));
    if let Some(v) = &c.version_id {
        source.push_str(&format!("?versionId={}", encode_key(v)));
    }
    let out = client
        .copy_object()
        .copy_source(source)
        .bucket(&c.to.0)
        .key(&c.to.1)
        .set_copy_source_if_match(c.if_match.clone())
        .set_server_side_encryption(c.encryption.sse.clone())
        .set_ssekms_key_id(c.encryption.kms_key_id.clone())
        .send()
        .await;
    let out = out.map_err(|e| {
        s3_error(&format!("cannot copy s3://{}/{} to s3://{}/{}", c.from.0, c.from.1, c.to.0, c.to.1), e)
    })?;
    let etag = out.copy_object_result().and_then(|r| r.e_tag()).map(str::to_string);
    Ok((etag, out.version_id().map(str::to_string)))
}

/// Copy (or move) an S3 object.
///
/// Copies an object within or across buckets, server-side; deletes the source after the copy when delete.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.s3.Copy",
    group = "aws",
    example = "id: copy\ntype: io.kestra.plugin.aws.s3.Copy\nregion: eu-central-1\nfrom:\n  bucket: my-bucket\n  key: in/data.csv\nto:\n  key: archive/data.csv\ndelete: true\n",
    outputs(
        bucket(String, "The copy's bucket."),
        key(String, "The copy's key."),
        eTag(String, "The copy's ETag."),
        versionId(String, "The copy's version.")
    )
)]
struct Props {
    #[serde(flatten)]
    aws: AwsProps,
    /// The source: bucket, key, versionId.
    #[prop(kind = "Map", required)]
    from: CopyObjectFrom,
    /// The destination: bucket and key (the source's when absent), serverSideEncryption (NONE, AES256, AWS_KMS), kmsKeyId.
    #[serde(default)]
    #[prop(kind = "Map")]
    to: Option<CopyObject>,
    /// Delete the source after the copy.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    delete: Option<bool>,
}

struct Copy {
    aws: AwsProps,
    spec: CopySpec,
    delete: bool,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.aws.check()?;
    let src_bucket = bucket_name(p.from.bucket.as_deref().unwrap_or_default())
        .map_err(|_| TaskError::property("from.bucket", "is required"))?;
    let src_key = blank(&p.from.key).ok_or_else(|| TaskError::property("from.key", "is required"))?;
    let to = p.to.clone().unwrap_or_default();
    let dst_bucket = blank(&to.bucket).unwrap_or_else(|| src_bucket.clone());
    let dst_key = blank(&to.key).unwrap_or_else(|| src_key.clone());
    let encryption = Encryption::of("to", &to)?;
    if p.delete == Some(true) && (&src_bucket, &src_key) == (&dst_bucket, &dst_key) {
        return Err(TaskError::property("to", "copying an object onto itself with delete: true would delete it"));
    }
    let spec = CopySpec {
        from: (src_bucket, src_key),
        version_id: blank(&p.from.version_id),
        if_match: None,
        to: (dst_bucket, dst_key),
        encryption,
    };
    Ok(Box::new(Copy { aws: p.aws, spec, delete: p.delete.unwrap_or(false) }))
}

#[async_trait]
impl RunnableTask for Copy {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.aws.s3().await?;
        let s = &self.spec;
        cx.info(&format!(
            "{} s3://{}/{} to s3://{}/{}",
            if self.delete { "Moving" } else { "Copying" },
            s.from.0,
            s.from.1,
            s.to.0,
            s.to.1
        ));
        let (etag, version) = copy(&client, s).await?;
        if self.delete {
            client
                .delete_object()
                .bucket(&s.from.0)
                .key(&s.from.1)
                .send()
                .await
                .map_err(|e| s3_error(&format!("cannot delete s3://{}/{}", s.from.0, s.from.1), e))?;
        }
        let mut out = Map::new();
        out.insert("bucket".into(), json!(s.to.0));
        out.insert("key".into(), json!(s.to.1));
        out.insert("eTag".into(), json!(etag));
        out.insert("versionId".into(), json!(version));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn built(v: Value) -> Result<Box<dyn RunnableTask>, TaskError> {
        build(v.as_object().expect("map"))
    }

    #[test]
    fn checks_from_and_to() {
        assert!(built(json!({"from": {"bucket": "b", "key": "k"}, "to": {"key": "k2"}})).is_ok());
        let err = |v| built(v).err().expect("invalid").to_string();
        assert!(err(json!({"from": {"bucket": "b"}})).contains("'from.key'"));
        assert!(err(json!({"from": {"key": "k"}})).contains("'from.bucket'"));
        assert!(err(json!({"from": {"bucket": "b", "key": "k"}, "delete": true})).contains("onto itself"));
        assert!(err(json!({"from": {"bucket": "b", "key": "k"}, "to": {"key": "x", "acl": "p"}})).contains("acl"));
        assert!(
            err(json!({"from": {"bucket": "b", "key": "k"}, "to": {"key": "x", "serverSideEncryption": "DES"}}))
                .contains("to.serverSideEncryption")
        );
    }

    #[test]
    fn copy_sources_are_percent_encoded() {
        assert_eq!(encode_key("a dir/é+x.csv"), "a%20dir/%C3%A9%2Bx.csv");
    }
}
