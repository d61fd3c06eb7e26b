//! `io.kestra.plugin.gcp.gcs.Download`: streams `gs://bucket/object` into
//! internal storage (named after the object). Outputs `uri` (kestra://),
//! `bucket` and `path`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio_util::io::StreamReader;

use super::super::common::{GcpProps, gcs_error, parse_gs};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::ByteStream;

/// Download a GCS object.
///
/// Copies a gs:// object into the execution's files.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.gcs.Download",
    group = "gcp",
    example = "id: download\ntype: io.kestra.plugin.gcp.gcs.Download\nfrom: gs://my-bucket/trips/2024-01.csv\n",
    outputs(uri(String, "The stored file."), bucket(String, "The bucket."), path(String, "The object's path."))
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    /// Where to read from (a gs:// URI or a kestra:// file).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
}

struct Download {
    gcp: GcpProps,
    bucket: String,
    path: String,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let (bucket, path) = parse_gs("from", &p.from)?;
    if path.is_empty() || path.ends_with('/') {
        return Err(TaskError::property("from", format!("'{}' names no object", p.from.trim())));
    }
    Ok(Box::new(Download { gcp: p.gcp, bucket, path }))
}

#[async_trait]
impl RunnableTask for Download {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let gcs = r.gcs(cx)?;
        let source = super::blob::uri(&self.bucket, &self.path);
        if gcs.get_object(&self.bucket, &self.path).await.map_err(gcs_error)?.is_none() {
            return Err(TaskError::failed(format!(
                "Unable to find blob on bucket '{}' with path '{}'",
                self.bucket, self.path
            )));
        }
        let stream = gcs.download(&self.bucket, &self.path).await.map_err(gcs_error)?;
        let reader: ByteStream = Box::pin(StreamReader::new(stream));
        let file = self.path.rsplit('/').next().unwrap_or("download");
        let (uri, size) = cx.put_file(file, reader).await?;
        cx.info(&format!("Downloaded {size} bytes from '{source}' to {uri}"));
        let mut out = Map::new();
        out.insert("bucket".into(), Value::String(self.bucket.clone()));
        out.insert("path".into(), Value::String(self.path.clone()));
        out.insert("uri".into(), Value::String(uri));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
