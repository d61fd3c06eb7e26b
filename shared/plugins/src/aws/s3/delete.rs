//! `io.kestra.plugin.aws.s3.Delete` (one object: `key`, `versionId` of the
//! delete marker, `deleteMarker`, `requestCharged` out) and `DeleteList`
//! (every object a listing keeps, `concurrent` at once; `count` and `size`
//! out; `errorOnEmpty` fails when none matched).

use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_s3::types::RequestPayer;
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::AwsProps;
use super::common::{ListProps, Listing, blank, bucket_name, s3_error};
use super::list::BucketProps;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Delete an S3 object.
///
/// Deletes one object by key.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.s3.Delete",
    group = "aws",
    example = "id: delete\ntype: io.kestra.plugin.aws.s3.Delete\nregion: eu-central-1\nbucket: my-bucket\nkey: path/to/file\n",
    outputs(
        versionId(String, "The version id of the delete marker created, if any."),
        deleteMarker(Boolean, "Whether the object deleted was (or became) a delete marker."),
        requestCharged(String, "Whether the requester was charged.")
    )
)]
struct DeleteProps {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    b: BucketProps,
    /// The key of the object.
    #[serde(deserialize_with = "de::string_lenient")]
    key: String,
    /// Bypass Object Lock governance-mode retention.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    bypass_governance_retention: Option<bool>,
    /// The MFA device's serial number, a space and its code (versioned buckets with MFA delete).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    mfa: Option<String>,
}

struct Delete {
    p: DeleteProps,
    bucket: String,
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: DeleteProps = parse_props(props)?;
    p.aws.check()?;
    let bucket = bucket_name(&p.b.bucket)?;
    if p.key.trim().is_empty() {
        return Err(TaskError::property("key", "must not be blank"));
    }
    Ok(Box::new(Delete { p, bucket }))
}

#[async_trait]
impl RunnableTask for Delete {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.p.aws.s3().await?;
        let key = self.p.key.trim();
        let r = client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .set_bypass_governance_retention(self.p.bypass_governance_retention)
            .set_mfa(blank(&self.p.mfa))
            .set_request_payer(blank(&self.p.b.request_payer).as_deref().map(RequestPayer::from))
            .send()
            .await
            .map_err(|e| s3_error(&format!("cannot delete s3://{}/{key}", self.bucket), e))?;
        cx.info(&format!("Deleted s3://{}/{key}", self.bucket));
        let mut out = Map::new();
        out.insert("versionId".into(), json!(r.version_id()));
        out.insert("deleteMarker".into(), json!(r.delete_marker()));
        out.insert("requestCharged".into(), json!(r.request_charged().map(|c| c.as_str())));
        Ok(TaskOutput::with(out))
    }
}

pub static DELETE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DeleteProps>(build_delete));

/// Delete the objects an S3 listing returns.
///
/// Lists objects (prefix, regexp, filter…) and deletes each, concurrent at once when set.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.s3.DeleteList",
    group = "aws",
    example = "id: delete_list\ntype: io.kestra.plugin.aws.s3.DeleteList\nregion: eu-central-1\nbucket: my-bucket\nprefix: sub-dir/\n",
    outputs(count(Integer, "Objects deleted."), size(Integer, "Their bytes in all."))
)]
struct DeleteListProps {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    b: BucketProps,
    #[serde(flatten)]
    list: ListProps,
    /// Delete this many objects at once (at least 2); one at a time when absent.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    concurrent: Option<u64>,
    /// Fail when no object matched.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    error_on_empty: Option<bool>,
}

struct DeleteList {
    aws: AwsProps,
    listing: Listing,
    concurrent: usize,
    error_on_empty: bool,
}

fn build_list(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: DeleteListProps = parse_props(props)?;
    p.aws.check()?;
    let listing = p.list.check(&p.b.bucket, &p.b.request_payer)?;
    let concurrent = match p.concurrent {
        None => 1,
        Some(n) if (2..=256).contains(&n) => n as usize,
        Some(n) => return Err(TaskError::property("concurrent", format!("must be from 2 to 256, got {n}"))),
    };
    Ok(Box::new(DeleteList { aws: p.aws, listing, concurrent, error_on_empty: p.error_on_empty.unwrap_or(false) }))
}

#[async_trait]
impl RunnableTask for DeleteList {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.aws.s3().await?;
        let objects = self.listing.list(&client).await?;
        let bucket = &self.listing.bucket;
        let sizes: Vec<i64> = futures::stream::iter(objects)
            .map(|o| {
                let client = client.clone();
                async move {
                    client
                        .delete_object()
                        .bucket(bucket)
                        .key(&o.key)
                        .send()
                        .await
                        .map_err(|e| s3_error(&format!("cannot delete s3://{bucket}/{}", o.key), e))?;
                    Ok::<i64, TaskError>(o.size)
                }
            })
            .buffer_unordered(self.concurrent)
            .try_collect()
            .await?;
        let (count, size) = (sizes.len() as u64, sizes.iter().sum::<i64>());
        cx.counter("s3.objects.deleted.count", count as f64, &[]);
        cx.counter("s3.objects.deleted.size", size as f64, &[]);
        if self.error_on_empty && count == 0 {
            return Err(TaskError::failed(format!(
                "Unable to find any files to delete on {bucket} with regexp='{}', prefix='{}'",
                self.listing.regexp.as_ref().map(|r| r.as_str()).unwrap_or("null"),
                self.listing.prefix.as_deref().unwrap_or("null")
            )));
        }
        cx.info(&format!("Deleted {count} keys for {size} bytes"));
        let mut out = Map::new();
        out.insert("count".into(), json!(count));
        out.insert("size".into(), json!(size));
        Ok(TaskOutput::with(out))
    }
}

pub static DELETE_LIST: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DeleteListProps>(build_list));
