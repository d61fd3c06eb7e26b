//! `io.kestra.plugin.gcp.gcs.Delete`: deletes one object. With
//! `errorOnMissing` (default false) a missing object fails the task.
//! Outputs `uri` and `deleted`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::common::{GcpProps, gcs_error, parse_gs};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Delete a GCS object.
///
/// Deletes one gs:// object.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.gcs.Delete",
    group = "gcp",
    example = "id: rm\ntype: io.kestra.plugin.gcp.gcs.Delete\nuri: gs://my-bucket/tmp/file.csv\n",
    outputs(uri(String, "The object."), deleted(Boolean, "Whether it existed."))
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The gs:// object.
    #[serde(deserialize_with = "de::string_lenient")]
    uri: String,
    /// Fail when the object does not exist.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    error_on_missing: Option<bool>,
}

struct Delete {
    p: Props,
    bucket: String,
    path: String,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let (bucket, path) = parse_gs("uri", &p.uri)?;
    Ok(Box::new(Delete { p, bucket, path }))
}

#[async_trait]
impl RunnableTask for Delete {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.gcp.resolve(cx)?;
        let gcs = r.gcs(cx)?;
        let uri = super::blob::uri(&self.bucket, &self.path);
        let deleted = gcs.delete_object(&self.bucket, &self.path).await.map_err(gcs_error)?;
        if !deleted && self.p.error_on_missing.unwrap_or(false) {
            return Err(TaskError::failed(format!("Unable to find file '{uri}'")));
        }
        cx.info(&if deleted { format!("Deleted '{uri}'") } else { format!("'{uri}' did not exist") });
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(uri));
        out.insert("deleted".into(), Value::Bool(deleted));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
