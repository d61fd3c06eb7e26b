//! `io.kestra.plugin.core.storage.LocalFiles` (deprecated in Kestra, kept
//! for older flows): `inputs` (a map, or a JSON map, of relative file name
//! → content or `kestra://` URI) are written into the working directory,
//! then the files matching `outputs` (globs relative to it) are stored in
//! internal storage; output `uris`: relative path → `kestra://` URI. Meant
//! inside a `WorkingDirectory`, whose tasks share the folder.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::scripts::files::{upload_output_files, write_input_files};
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Turn inline or stored files into execution files (legacy).
///
/// Kestra's older LocalFiles: `inputs` maps file names to contents; `outputs` lists the names kept as outputs.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.storage.LocalFiles",
    aliases = ["io.kestra.core.tasks.storages.LocalFiles"],
    group = "core",
    example = "id: files\ntype: io.kestra.plugin.core.storage.LocalFiles\ninputs:\n  query.sql: SELECT 1\n",
    outputs(
        uris(Map, "The stored files, by name.")
    ),
)]
struct Props {
    /// File name → content (or a kestra:// URI).
    #[serde(default)]
    inputs: Option<Value>,
    /// File names (globs) to keep as outputs.
    #[serde(default)]
    #[prop(kind = "StringOrList")]
    outputs: Option<Value>,
}

/// The task, built from rendered properties.
#[derive(Debug)]
pub struct LocalFiles {
    inputs: Vec<(String, String)>,
    outputs: Vec<String>,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let inputs = match p.inputs {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(TaskError::property(
                    "inputs",
                    format!("expected a map of file name to content, got '{s}'"),
                ));
            }
        },
        Some(other) => {
            return Err(TaskError::property("inputs", format!("expected a map of file name to content, got {other}")));
        }
    };
    let inputs = inputs.into_iter().map(|(k, v)| (k, de::value_to_string(&v))).collect();
    let outputs = match p.outputs {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(de::value_to_string).collect(),
        Some(Value::String(s)) => vec![s],
        Some(other) => return Err(TaskError::property("outputs", format!("expected a list of globs, got {other}"))),
    };
    Ok(Box::new(LocalFiles { inputs, outputs }))
}

#[async_trait]
impl RunnableTask for LocalFiles {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let dir = cx.working_dir()?;
        write_input_files(cx, &dir, &self.inputs).await?;
        let uris = upload_output_files(cx, &dir, &self.outputs, &[], false).await?;
        let mut out = Map::new();
        out.insert("uris".into(), Value::Object(uris));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    #[tokio::test]
    async fn writes_inputs_and_stores_matching_outputs() {
        let env = Env::new();
        env.storage.insert("/company/team/my-flow/executions/exec1/in.json", "{\"a\":1}").unwrap();
        let cx = env.cx(&json!({}));
        let _ = std::fs::remove_dir_all(cx.working_dir_path());
        let raw = json!({
            "inputs": {"hello.txt": "Hello {{ inputs.name }}\n", "sub/address.json": "kestra:///company/team/my-flow/executions/exec1/in.json"},
            "outputs": ["sub/**", "*.txt"],
        });
        let out = env.run(&DEF, raw).await.unwrap();
        let uris = out.outputs["uris"].as_object().unwrap();
        let mut keys: Vec<&String> = uris.keys().collect();
        keys.sort();
        assert_eq!(keys, vec!["hello.txt", "sub/address.json"]);
        let dir = cx.working_dir_path();
        assert_eq!(std::fs::read_to_string(dir.join("hello.txt")).unwrap(), "Hello world\n");
        assert_eq!(std::fs::read_to_string(dir.join("sub/address.json")).unwrap(), "{\"a\":1}");
        let e = env.run(&DEF, json!({"inputs": {"../x": "no"}})).await.unwrap_err();
        assert!(e.to_string().contains("inputFiles") || e.to_string().contains("../x"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
