//! `io.kestra.plugin.aws.s3.List`: the objects of a bucket (`prefix`,
//! `delimiter`, `marker`, `maxKeys` over all pages), kept when `regexp`
//! matches the whole key and per `filter`, at most `maxFiles` of them
//! (warning beyond). Output `objects`: Kestra's S3Object (key, etag, size,
//! lastModified, owner).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::AwsProps;
use super::common::{ListProps, Listing};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The bucket and `requestPayer` of the object types (plugin-aws `AbstractS3Object`).
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct BucketProps {
    /// The bucket.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic)]
    pub bucket: String,
    /// Confirms the requester pays for the request (requester).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub request_payer: Option<String>,
}

/// List the objects of an S3 bucket.
///
/// Lists objects under a prefix, filtered by regexp and type, at most maxFiles of them.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.s3.List",
    group = "aws",
    example = "id: list\ntype: io.kestra.plugin.aws.s3.List\nregion: eu-central-1\nbucket: my-bucket\nprefix: sub-dir/\nfilter: FILES\n",
    outputs(objects(List, "The objects: {key, etag, size, lastModified, owner}."))
)]
struct Props {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    b: BucketProps,
    #[serde(flatten)]
    list: ListProps,
    /// Return at most this many objects.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "25")]
    max_files: Option<u64>,
}

struct List {
    aws: AwsProps,
    listing: Listing,
    max_files: usize,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.aws.check()?;
    let listing = p.list.check(&p.b.bucket, &p.b.request_payer)?;
    let max_files = usize::try_from(p.max_files.unwrap_or(25)).unwrap_or(usize::MAX);
    Ok(Box::new(List { aws: p.aws, listing, max_files }))
}

/// Truncates to `max` with Kestra's warning.
pub(crate) fn cap<T>(cx: &RunContext, items: &mut Vec<T>, max: usize) {
    if items.len() > max {
        cx.warn(&format!(
            "Listing returned {} files but maxFiles limit is {max}. Only the first {max} files will be returned. \
             Increase the maxFiles property if you need more files.",
            items.len()
        ));
        items.truncate(max);
    }
}

#[async_trait]
impl RunnableTask for List {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.aws.s3().await?;
        let mut objects = self.listing.list(&client).await?;
        cx.counter("s3.objects.count", objects.len() as f64, &[]);
        cx.info(&format!(
            "Found {} keys in bucket '{}' (prefix {:?})",
            objects.len(),
            self.listing.bucket,
            self.listing.prefix.as_deref().unwrap_or("")
        ));
        cap(cx, &mut objects, self.max_files);
        let mut out = Map::new();
        out.insert("objects".into(), Value::Array(objects.iter().map(|o| o.to_json(None)).collect()));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_the_listing() {
        let p: Props = parse_props(
            json!({"bucket": "b", "prefix": "in/", "regexp": ".*\\.csv", "filter": "files", "maxKeys": "10"})
                .as_object()
                .expect("map"),
        )
        .expect("props");
        let l = p.list.check(&p.b.bucket, &None).expect("valid");
        assert_eq!((l.bucket.as_str(), l.prefix.as_deref(), l.max_keys), ("b", Some("in/"), 10));
        assert!(l.keeps("in/a.csv") && !l.keeps("in/a.json") && !l.keeps("in/x.csv/"));
        let bad = |v: Value| build(v.as_object().expect("map")).err().expect("invalid").to_string();
        assert!(bad(json!({"bucket": "b", "regexp": "("})).contains("'regexp'"));
        assert!(bad(json!({"bucket": "b", "filter": "ALL"})).contains("'filter'"));
        assert!(bad(json!({"bucket": " "})).contains("'bucket'"));
        assert!(bad(json!({"prefix": "x"})).contains("bucket"));
        assert!(bad(json!({"bucket": "b", "maxKeys": 0})).contains("'maxKeys'"));
    }
}
