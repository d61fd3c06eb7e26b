//! `io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles`: deletes every
//! internal-storage file under the current execution's prefix. Output
//! `uris`: the `kestra:///…` URIs deleted.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput};

/// Delete the files this execution stored.
///
/// Removes every file in internal storage that belongs to the current execution (outputs, uploads).
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
    aliases = [
        "io.kestra.core.tasks.storages.PurgeCurrentExecutionFiles",
        "io.kestra.plugin.core.storage.PurgeExecution",
        "io.kestra.core.tasks.storages.PurgeExecution"
    ],
    group = "core",
    example = "id: cleanup\ntype: io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles\n",
    outputs(
        uris(List, "The files deleted.")
    ),
)]
pub struct PurgeCurrentExecutionFiles;

fn build(_props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(PurgeCurrentExecutionFiles))
}

#[async_trait]
impl RunnableTask for PurgeCurrentExecutionFiles {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        // The trailing slash keeps a sibling execution whose id merely
        // starts with this one out of the purge.
        let prefix = format!("{}/", cx.execution_prefix());
        let deleted = cx
            .services
            .storage
            .delete_prefix(&prefix)
            .await
            .map_err(|e| TaskError::failed(format!("cannot purge the execution files under {prefix}: {e}")))?;
        cx.info(&format!("Purged {} file(s) of the current execution", deleted.len()));
        let uris: Vec<Value> = deleted.into_iter().map(|p| Value::String(format!("kestra://{p}"))).collect();
        let mut out = Map::new();
        out.insert("uris".into(), Value::Array(uris));
        Ok(TaskOutput::with(out))
    }
}

/// `storage.PurgeCurrentExecutionFiles` (it has no properties of its own).
pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<PurgeCurrentExecutionFiles>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    #[tokio::test]
    async fn purges_only_this_execution() {
        let env = Env::new();
        for (path, body) in [
            ("/company/team/my-flow/executions/exec1/tasks/a/tr0/x.csv", "1"),
            ("/company/team/my-flow/executions/exec1/inputs/f/y.txt", "2"),
            ("/company/team/my-flow/executions/exec10/tasks/a/tr9/z.csv", "3"),
            ("/company/team/_kv/k.ion", "4"),
        ] {
            env.storage.insert(path, body).unwrap();
        }
        let out = env.run(&DEF, json!({})).await.unwrap();
        let uris = out.outputs.get("uris").and_then(Value::as_array).cloned().unwrap();
        assert_eq!(
            uris,
            vec![
                json!("kestra:///company/team/my-flow/executions/exec1/inputs/f/y.txt"),
                json!("kestra:///company/team/my-flow/executions/exec1/tasks/a/tr0/x.csv"),
            ]
        );
        let left = baton_backend::Storage::list(env.storage.as_ref(), "/").await.unwrap();
        assert_eq!(left, vec!["/company/team/_kv/k.ion", "/company/team/my-flow/executions/exec10/tasks/a/tr9/z.csv"]);
    }
}
