//! Kestra 2.0's `executionContext: true` on a script task: the variables
//! the task could render (`inputs`, `outputs`, `labels`, `vars`, `trigger`,
//! `flow`, `execution`, `task`, `taskrun` — not `envs` nor `globals`, which
//! reach the script as environment variables) written as one JSON object
//! to `.kestra-execution-context.json` in the working directory, where
//! Kestra's Python library (`from kestra import context`) reads it. The
//! file may hold SECRET inputs in clear, so, as in Kestra, its name is
//! reserved — no `outputFiles` pattern collects it — and it is removed when
//! the task's commands end, so a later task of a WorkingDirectory never
//! sees it.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::{RunContext, TaskError};

/// The reserved file name (Kestra's Python library's `CONTEXT_FILE`).
pub const NAME: &str = ".kestra-execution-context.json";

/// The keys of the template context the file holds.
const KEYS: [&str; 9] = ["inputs", "outputs", "labels", "vars", "trigger", "flow", "execution", "task", "taskrun"];

/// The file's content for `context` (the task's template context).
pub fn content(context: &Value) -> Value {
    let mut out = Map::new();
    for k in KEYS {
        if let Some(v) = context.get(k).filter(|v| !v.is_null()) {
            out.insert(k.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

/// Removes the file when dropped (the task ended, however it ended).
pub struct Written(PathBuf);

impl Drop for Written {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes the file into `dir`.
pub async fn write(cx: &RunContext, dir: &Path) -> Result<Written, TaskError> {
    let path = dir.join(NAME);
    let bytes = serde_json::to_vec(&content(cx.context()))
        .map_err(|e| TaskError::failed(format!("executionContext: cannot write the context: {e}")))?;
    tokio::fs::write(&path, bytes)
        .await
        .map_err(|e| TaskError::failed(format!("executionContext: cannot write {}: {e}", path.display())))?;
    Ok(Written(path))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn the_file_holds_what_the_task_renders_but_envs_and_globals() {
        let ctx = json!({"inputs": {"a": 1}, "outputs": {"t": {"uri": "kestra:///x"}}, "labels": {"env": "prod"},
                         "vars": {"v": 42}, "flow": {"id": "f"}, "execution": {"id": "e"}, "task": {"id": "t"},
                         "taskrun": {"id": "r"}, "envs": {"secret": "no"}, "globals": {"g": 1}, "trigger": null});
        let c = super::content(&ctx);
        let mut keys: Vec<&str> = c.as_object().expect("object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["execution", "flow", "inputs", "labels", "outputs", "task", "taskrun", "vars"]);
    }
}
