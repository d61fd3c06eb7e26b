//! The async side of a DuckDB task: prepares the working directory (input
//! files, a stored database), runs the [`engine`](super::engine) on a
//! blocking thread, turns the rows it sends into Kestra's outputs through
//! `jdbc::fetch`, uploads `outputFiles` (and the database with
//! `outputDbFile`), and removes the working directory.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::engine::{self, Job, Msg, Stopper};
use super::props::{Database, Spec};
use crate::jdbc::fetch::ResultWriter;
use crate::jdbc::files;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput};

/// Rows in flight between DuckDB's thread and the output writer.
const CHANNEL: usize = 1024;

/// `jdbc.duckdb.Query` or `Queries`, built from rendered properties.
#[derive(Debug)]
pub struct DuckDbTask {
    pub spec: Spec,
}

/// Stops DuckDB's thread if the task is dropped (timeout, kill) or gives up
/// before that thread is done.
struct Interrupt(Option<Stopper>);

impl Interrupt {
    fn now(&mut self) {
        if let Some(s) = self.0.take() {
            s.stop();
        }
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        self.now();
    }
}

#[async_trait]
impl RunnableTask for DuckDbTask {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let dir = cx.working_dir()?;
        let out = self.run_in(cx, &dir).await;
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            cx.log("DEBUG", &format!("cannot remove the working directory {}: {e}", dir.display()));
        }
        out
    }
}

impl DuckDbTask {
    async fn run_in(&self, cx: &RunContext, dir: &Path) -> Result<TaskOutput, TaskError> {
        let spec = &self.spec;
        files::write_inputs(cx, dir, &spec.input_files).await?;
        let db_path = self.database_file(cx, dir).await?;

        let (tx, mut rx) = mpsc::channel(CHANNEL);
        let job = Job {
            db_path: db_path.clone(),
            working_dir: dir.to_path_buf(),
            statements: spec.statements.clone(),
            after_sql: spec.after_sql.clone(),
            parameters: spec.parameters.clone(),
            fetch: spec.fetch,
            multi: spec.multi,
            transaction: spec.transaction,
            extensions: spec.extensions.clone(),
            time_zone: spec.time_zone,
        };
        let handle = tokio::task::spawn_blocking(move || engine::run(job, tx));

        let mut interrupt = Interrupt(None);
        let mut results: Vec<Map<String, Value>> = Vec::new();
        let consumed: Result<(), TaskError> = async {
            let mut writer: Option<ResultWriter> = None;
            while let Some(msg) = rx.recv().await {
                match msg {
                    Msg::Ready(h) => interrupt.0 = Some(h),
                    Msg::Log(level, text) => cx.log(level, &text),
                    Msg::Begin => {
                        let name =
                            if spec.multi { format!("result-{}.ion", results.len() + 1) } else { "result.ion".into() };
                        writer = Some(ResultWriter::new(cx, spec.fetch, &name));
                    }
                    Msg::Row(row) => {
                        if let Some(w) = writer.as_mut() {
                            w.push(row).await?;
                        }
                    }
                    Msg::End => {
                        if let Some(w) = writer.take() {
                            results.push(w.finish().await?);
                        }
                    }
                }
            }
            Ok(())
        }
        .await;
        if consumed.is_err() {
            interrupt.now();
            rx.close();
        }
        let ran = handle.await.map_err(|e| TaskError::failed(format!("the DuckDB thread failed: {e}")))?;
        interrupt.0 = None;
        consumed?;
        ran?;

        let n = spec.statements.len();
        let fetched: u64 = results.iter().filter_map(|r| r.get("size").and_then(Value::as_u64)).sum();
        cx.info(&format!(
            "{n} statement{} run on DuckDB ({}), fetchType {}{}",
            if n == 1 { "" } else { "s" },
            db_path.as_ref().map_or("in memory".to_string(), |p| p.display().to_string()),
            spec.fetch.as_str(),
            if results.is_empty() { String::new() } else { format!(", {fetched} row(s)") },
        ));

        let mut out = Map::new();
        if spec.multi {
            out.insert("outputs".into(), Value::Array(results.into_iter().map(Value::Object).collect()));
        } else if let Some(last) = results.pop() {
            out.extend(last);
        }
        out.insert("outputFiles".into(), Value::Object(files::upload_outputs(cx, dir, &spec.output_files).await?));
        if spec.output_db_file
            && let Some(p) = &db_path
        {
            let name = p.file_name().and_then(|s| s.to_str()).unwrap_or("database.duckdb").to_string();
            let uri = files::upload(cx, "Database file", p, &name).await?;
            out.insert("databaseUri".into(), Value::String(uri));
        }
        Ok(TaskOutput::with(out))
    }

    /// The database file to open (`None`: in memory).
    async fn database_file(&self, cx: &RunContext, dir: &Path) -> Result<Option<PathBuf>, TaskError> {
        let fresh = dir.join("database.duckdb");
        match &self.spec.database {
            Database::Fresh => Ok(self.spec.output_db_file.then_some(fresh)),
            Database::Path(p) => {
                if let Some(parent) = p.parent().filter(|p| !p.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(parent)
                        .await
                        .map_err(|e| TaskError::failed(format!("cannot create folder {}: {e}", parent.display())))?;
                }
                Ok(Some(p.clone()))
            }
            Database::Stored(uri) => {
                files::copy_from_storage(cx, "databaseUri", uri, &fresh).await?;
                Ok(Some(fresh))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use crate::context::Services;
    use crate::core::test_support::Env;
    use crate::jdbc::duckdb::{QUERIES, QUERY};
    use crate::registry::PluginDef;
    use crate::{RunContext, TaskError, TaskOutput};
    use baton_template::{NoHost, Renderer};

    /// A context of its own (the working directory is per execution).
    fn cx(env: &Env, raw: &Value) -> RunContext {
        let services = Services {
            renderer: Arc::new(Renderer::new()),
            kv: env.kv.clone(),
            storage: env.storage.clone(),
            logs: env.logs.clone(),
            http: reqwest::Client::new().into(),
            progress: None,
            config: Default::default(),
            flows: None,
            executions: None,
            work_root: std::env::temp_dir().join("baton-duckdb-tests"),
        };
        let id = uuid::Uuid::new_v4().to_string();
        let props = raw.as_object().cloned().unwrap_or_default();
        let (ns, flow, task) = ("company.team".to_string(), "my-flow".to_string(), "t1".to_string());
        let context = env.context.clone();
        RunContext::new(
            id,
            "tr1".into(),
            1,
            ns,
            flow,
            task,
            "duckdb".into(),
            context,
            props,
            services,
            Arc::new(NoHost),
        )
    }

    async fn run(cx: &RunContext, def: &PluginDef, raw: &Value) -> Result<TaskOutput, TaskError> {
        let rendered = cx.render_value(raw)?;
        let task = (def.build)(rendered.as_object().unwrap())?;
        task.run(cx).await
    }

    #[tokio::test]
    async fn literal_input_files_output_files_and_cleanup() {
        let env = Env::new();
        let raw = json!({
            "inputFiles": {"in.csv": "id,name\n1,a\n2,b\n"},
            "outputFiles": ["out"],
            "sql": "CREATE TABLE t AS FROM read_csv_auto('{{ workingDir }}/in.csv');\n\
                    COPY (SELECT name FROM t ORDER BY id DESC) TO '{{ outputFiles.out }}' (HEADER false);\n\
                    SELECT sum(id) AS total FROM t",
            "fetchType": "FETCH_ONE",
        });
        let cx = cx(&env, &raw);
        let out = run(&cx, &QUERY, &raw).await.unwrap();
        assert_eq!(out.outputs["row"], json!({"total": 3}));
        let uri = out.outputs["outputFiles"]["out"].as_str().unwrap();
        assert!(uri.ends_with("/tasks/t1/tr1/out"), "{uri}");
        assert_eq!(env.storage.bytes(uri.trim_start_matches("kestra://")).unwrap(), b"b\na\n");
        assert!(!cx.working_dir_path().exists(), "the working directory is removed");
    }

    #[tokio::test]
    async fn none_gives_an_empty_output_per_result_and_errors_stop_the_batch() {
        let env = Env::new();
        let raw = json!({"sql": "SELECT 1; SELECT 2;"});
        let out = run(&cx(&env, &raw), &QUERIES, &raw).await.unwrap();
        assert_eq!(out.outputs["outputs"], json!([{}, {}]));
        let raw = json!({"sql": "SELECT 1; SELECT nope; SELECT 3"});
        let e = run(&cx(&env, &raw), &QUERIES, &raw).await.unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("Binder Error") && msg.contains("in statement 2 of 3: SELECT nope"), "{msg}");
    }
}
