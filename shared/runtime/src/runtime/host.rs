//! The template host of the runtime: `kv()` reads the KV store, `secret()`
//! the decoded secrets, `read()` internal storage or a namespace file,
//! `fileSize()` and its kin internal storage, `errorLogs()` the stored
//! logs (at most `MAX_ERROR_LOG_LINES` lines) — bridging the sync template functions to the async backends.

use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::logs::StoreLogSink;
use super::secrets::Secrets;
use crate::backend::nsfiles::namespace_files;
use crate::backend::{KvLookup, KvStore, StateStore, Storage, storage_path};
use crate::template::TemplateHost;
use crate::template::size::{MAX_ERROR_LOG_LINES, MAX_READ_BYTES, error_logs_too_large, read_too_large};

/// The text of a file for `read()`, at most [`MAX_READ_BYTES`]: the
/// reading stops one byte past it and the function fails naming the bound.
async fn read_bounded(r: impl tokio::io::AsyncRead + Unpin, path: &str) -> Result<String, String> {
    let mut buf = Vec::new();
    r.take(MAX_READ_BYTES + 1).read_to_end(&mut buf).await.map_err(|e| format!("cannot read '{path}': {e}"))?;
    if buf.len() as u64 > MAX_READ_BYTES {
        return Err(read_too_large(path));
    }
    String::from_utf8(buf).map_err(|_| format!("cannot read '{path}': the file is not UTF-8 text"))
}

/// Template services backed by the runtime's stores.
pub struct RuntimeHost {
    pub kv: Arc<dyn KvStore>,
    pub storage: Arc<dyn Storage>,
    pub secrets: Arc<Secrets>,
    /// Where `errorLogs()` reads the execution's logs.
    pub state: Arc<dyn StateStore>,
    /// Flushed before `errorLogs()` reads, so this process's lines are in.
    pub logs: StoreLogSink,
}

/// Runs a future to completion from sync code inside the multi-threaded runtime.
fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, String> {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            Ok(tokio::task::block_in_place(|| h.block_on(f)))
        }
        _ => Err("this template function needs the multi-threaded runtime".to_string()),
    }
}

impl TemplateHost for RuntimeHost {
    fn kv(&self, namespace: &str, key: &str) -> Result<Option<Value>, String> {
        match block_on(self.kv.get(namespace, key, Utc::now()))? {
            Ok(KvLookup::Found(v)) => Ok(Some(v.value)),
            Ok(KvLookup::Missing) => Ok(None),
            Ok(KvLookup::Expired) => {
                Err(format!("The requested value for key '{key}' in namespace '{namespace}' has expired"))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn secret(&self, key: &str) -> Result<String, String> {
        self.secrets.get(key).map(str::to_string).ok_or_else(|| format!("Cannot find secret for key '{key}'."))
    }

    fn read(&self, namespace: &str, path: &str) -> Result<String, String> {
        let internal = path.starts_with("kestra://");
        let p = if internal { storage_path(path).map_err(|e| e.to_string())? } else { String::new() };
        block_on(async {
            let opened = if internal {
                self.storage.get(&p).await
            } else {
                namespace_files(self.storage.clone()).get(namespace, path).await
            };
            read_bounded(opened.map_err(|e| format!("cannot read '{path}': {e}"))?, path).await
        })?
    }

    fn read_revision(&self, namespace: &str, path: &str, revision: u32) -> Result<String, String> {
        block_on(async {
            let opened = namespace_files(self.storage.clone()).get_revision(namespace, path, revision).await;
            read_bounded(opened.map_err(|e| format!("cannot read '{path}': {e}"))?, path).await
        })?
    }

    fn secret_values(&self) -> Vec<String> {
        self.secrets.values()
    }

    fn file_size(&self, _namespace: &str, path: &str) -> Result<Option<u64>, String> {
        let p = storage_path(path).map_err(|e| e.to_string())?;
        block_on(self.storage.size(&p))?.map_err(|e| format!("cannot read the size of '{path}': {e}"))
    }

    fn tasks_with_state(&self, id: &str, state: &str) -> Result<Vec<Value>, String> {
        let exec = block_on(self.state.load_execution(id))?
            .map_err(|e| format!("cannot read execution {id}: {e}"))?
            .ok_or_else(|| format!("tasksWithState(): execution {id} not found"))?;
        Ok(exec
            .task_run_list
            .iter()
            .filter(|t| t.state.current.as_str() == state)
            .map(|t| {
                let mut m = serde_json::Map::new();
                m.insert("taskId".into(), Value::String(t.task_id.clone()));
                m.insert("state".into(), Value::String(state.to_string()));
                if let Some(v) = &t.value {
                    m.insert("value".into(), Value::String(v.clone()));
                }
                Value::Object(m)
            })
            .collect())
    }

    fn iteration_output(
        &self,
        execution_id: &str,
        parent_run_id: &str,
        task_id: &str,
        iteration: i64,
    ) -> Result<Option<Value>, String> {
        let exec = block_on(self.state.load_execution(execution_id))?
            .map_err(|e| format!("cannot read execution {execution_id}: {e}"))?
            .ok_or_else(|| format!("iterationOutput(): execution {execution_id} not found"))?;
        let wanted = iteration.to_string();
        Ok(exec
            .task_run_list
            .iter()
            .find(|t| {
                t.task_id == task_id
                    && t.parent_task_run_id.as_deref() == Some(parent_run_id)
                    && t.value.as_deref() == Some(wanted.as_str())
            })
            .and_then(|t| t.outputs.as_ref())
            .map(|o| o.get("value").cloned().unwrap_or(Value::Null)))
    }

    fn error_logs(&self, id: &str) -> Result<Vec<Value>, String> {
        let lines = block_on(async {
            self.logs.flush().await;
            self.state.logs_at_level(id, "ERROR", MAX_ERROR_LOG_LINES, MAX_READ_BYTES).await
        })?
        .map_err(|e| format!("cannot read the logs of execution {id}: {e}"))?;
        if lines.len() > MAX_ERROR_LOG_LINES {
            return Err(error_logs_too_large(id, true));
        }
        if lines.iter().map(|l| l.message.len() as u64).sum::<u64>() > MAX_READ_BYTES {
            return Err(error_logs_too_large(id, false));
        }
        Ok(lines.iter().map(crate::plugins::core::fetch::kestra_line).collect())
    }
}
