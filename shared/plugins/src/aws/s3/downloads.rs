//! `io.kestra.plugin.aws.s3.Downloads`: lists objects (as `List`, at most
//! `maxFiles`), streams each file into internal storage, then does
//! `action` with every object listed (MOVE to `moveTo`, DELETE, NONE).
//! Outputs `objects` (S3Object with its `uri`) and `outputFiles` (key → uri).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::AwsProps;
use super::action::{Action, ActionProps};
use super::common::{Get, ListProps, Listing, download};
use super::list::{BucketProps, cap};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Download the objects an S3 listing returns.
///
/// Lists objects, downloads each file into the execution's files, then moves or deletes them (action).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.s3.Downloads",
    group = "aws",
    example = "id: downloads\ntype: io.kestra.plugin.aws.s3.Downloads\nregion: eu-central-1\nbucket: my-bucket\nprefix: in/\naction: MOVE\nmoveTo:\n  bucket: my-bucket\n  key: archive\n",
    outputs(
        objects(List, "The files downloaded: {uri, key, etag, size, lastModified, owner}."),
        outputFiles(Map, "Key → the stored file's URI.")
    )
)]
struct Props {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    b: BucketProps,
    #[serde(flatten)]
    list: ListProps,
    /// Take at most this many objects.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "25")]
    max_files: Option<u64>,
    #[serde(flatten)]
    action: ActionProps,
    /// Ask S3 for the stored checksums and verify the bytes against them.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    validate_checksum: Option<bool>,
}

struct Downloads {
    aws: AwsProps,
    listing: Listing,
    max_files: usize,
    action: Action,
    checksum: bool,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.aws.check()?;
    Ok(Box::new(Downloads {
        listing: p.list.check(&p.b.bucket, &p.b.request_payer)?,
        max_files: usize::try_from(p.max_files.unwrap_or(25)).unwrap_or(usize::MAX),
        action: p.action.check()?,
        checksum: p.validate_checksum.unwrap_or(false),
        aws: p.aws,
    }))
}

#[async_trait]
impl RunnableTask for Downloads {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.aws.s3().await?;
        let mut listed = self.listing.list(&client).await?;
        cap(cx, &mut listed, self.max_files);
        let (mut objects, mut files, mut total) = (Vec::new(), Map::new(), 0u64);
        for o in listed.iter().filter(|o| !o.key.ends_with('/')) {
            let g = Get {
                bucket: self.listing.bucket.clone(),
                key: o.key.clone(),
                request_payer: self.listing.request_payer.clone(),
                expected_bucket_owner: self.listing.expected_bucket_owner.clone(),
                checksum: self.checksum,
                ..Get::default()
            };
            let f = download(cx, &client, &g).await?;
            total += f.size;
            let mut obj = o.to_json(Some(&f.uri));
            if let (Value::Object(m), Some((algo, value))) = (&mut obj, &f.checksum) {
                m.insert("checksumAlgorithm".into(), json!(algo));
                m.insert("checksumValue".into(), json!(value));
            }
            objects.push(obj);
            files.insert(o.key.clone(), json!(f.uri));
        }
        cx.counter("files.count", objects.len() as f64, &[]);
        cx.counter("files.size.total", total as f64, &[]);
        cx.info(&format!("Downloaded {} files ({total} bytes) from bucket '{}'", objects.len(), self.listing.bucket));
        self.action.perform(&client, &self.listing.bucket, &listed).await?;
        let mut out = Map::new();
        out.insert("objects".into(), Value::Array(objects));
        out.insert("outputFiles".into(), Value::Object(files));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
