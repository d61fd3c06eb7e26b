//! `io.kestra.plugin.gcp.gcs.Copy`: copies an object server-side (`from`
//! and `to` are gs:// URIs); with `delete`, the source is removed after the
//! copy (a move). Output `uri` of the copy.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::common::{GcpProps, gcs_error, parse_gs};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Copy (or move) a GCS object.
///
/// Copies one gs:// object to another; deletes the source when delete.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.gcs.Copy",
    group = "gcp",
    example = "id: cp\ntype: io.kestra.plugin.gcp.gcs.Copy\nfrom: gs://my-bucket/in/a.csv\nto: gs://my-bucket/archive/a.csv\n",
    outputs(uri(String, "The copy."))
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    /// Where to read from (a gs:// URI or a kestra:// file).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// Where to write to (a gs:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    to: String,
    /// Delete the source after copying.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    delete: Option<bool>,
}

struct Copy {
    gcp: GcpProps,
    from: (String, String),
    to: (String, String),
    delete: bool,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let from = parse_gs("from", &p.from)?;
    let mut to = parse_gs("to", &p.to)?;
    if to.1.is_empty() || to.1.ends_with('/') {
        to.1 = format!("{}{}", to.1, from.1.rsplit('/').next().unwrap_or_default());
    }
    if from == to {
        return Err(TaskError::property("to", format!("Invalid copy to same path '{}'", p.to.trim())));
    }
    Ok(Box::new(Copy { gcp: p.gcp, from, to, delete: p.delete.unwrap_or(false) }))
}

#[async_trait]
impl RunnableTask for Copy {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let gcs = r.gcs(cx)?;
        let (src, dst) = (super::blob::uri(&self.from.0, &self.from.1), super::blob::uri(&self.to.0, &self.to.1));
        cx.info(&format!("{} from '{src}' to '{dst}'", if self.delete { "Moving" } else { "Copying" }));
        let copied =
            gcs.copy_object((&self.from.0, &self.from.1), (&self.to.0, &self.to.1)).await.map_err(gcs_error)?;
        if self.delete {
            gcs.delete_object(&self.from.0, &self.from.1).await.map_err(gcs_error)?;
        }
        let bucket = copied["bucket"].as_str().unwrap_or(&self.to.0);
        let name = copied["name"].as_str().unwrap_or(&self.to.1);
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(super::blob::uri(bucket, name)));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
