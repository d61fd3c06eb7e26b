//! The async side of a SQLite task: puts the database file in place (Kestra's
//! `sqliteFile` copied into the working directory), runs the
//! [`engine`](super::engine) on a blocking thread, turns the rows it sends
//! into Kestra's outputs through `jdbc::fetch`, uploads `outputFiles` and,
//! with `outputDbFile`, the database (`databaseUri`), then removes the
//! working directory (unless a `WorkingDirectory` shares it).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use rusqlite::InterruptHandle;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::engine::{self, Job, Msg};
use super::props::{Location, Spec};
use crate::jdbc::fetch::ResultWriter;
use crate::jdbc::files;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput};

/// Rows in flight between SQLite's thread and the output writer.
const CHANNEL: usize = 1024;

/// `jdbc.sqlite.Query` or `Queries`, built from rendered properties.
#[derive(Debug)]
pub struct SqliteTask {
    pub spec: Spec,
}

/// Interrupts SQLite's statement if the task is dropped (timeout, kill) or
/// gives up before that thread is done.
struct Interrupt(Option<InterruptHandle>);

impl Drop for Interrupt {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.interrupt();
        }
    }
}

#[async_trait]
impl RunnableTask for SqliteTask {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let dir = cx.working_dir()?;
        let out = self.run_in(cx, &dir).await;
        if !cx.shares_working_dir()
            && let Err(e) = tokio::fs::remove_dir_all(&dir).await
        {
            cx.log("DEBUG", &format!("cannot remove the working directory {}: {e}", dir.display()));
        }
        out
    }
}

impl SqliteTask {
    async fn run_in(&self, cx: &RunContext, dir: &Path) -> Result<TaskOutput, TaskError> {
        let spec = &self.spec;
        let db_path = self.database_file(cx, dir).await?;
        let (tx, mut rx) = mpsc::channel(CHANNEL);
        let job = Job {
            db_path: db_path.clone(),
            statements: spec.statements.clone(),
            after_sql: spec.after_sql.clone(),
            parameters: spec.parameters.clone(),
            fetch: spec.fetch,
            multi: spec.multi,
            transaction: spec.transaction,
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
            drop(interrupt);
            rx.close();
        } else {
            interrupt.0 = None;
        }
        let ran = handle.await.map_err(|e| TaskError::failed(format!("the SQLite thread failed: {e}")))?;
        consumed?;
        ran?;

        let n = spec.statements.len();
        let fetched: u64 = results.iter().filter_map(|r| r.get("size").and_then(Value::as_u64)).sum();
        cx.info(&format!(
            "{n} statement{} run on SQLite ({}), fetchType {}{}",
            if n == 1 { "" } else { "s" },
            db_path.as_ref().map_or("in memory".to_string(), |p| p.display().to_string()),
            spec.fetch.as_str(),
            if results.is_empty() { String::new() } else { format!(", {fetched} row(s)") },
        ));
        cx.counter("fetch.size", fetched as f64, &[]);

        let mut out = Map::new();
        if spec.multi {
            out.insert("outputs".into(), Value::Array(results.into_iter().map(Value::Object).collect()));
        } else if let Some(last) = results.pop() {
            out.extend(last);
        }
        let uploaded = files::upload_outputs(cx, dir, &spec.output_files).await?;
        if !uploaded.is_empty() {
            out.insert("outputFiles".into(), Value::Object(uploaded));
        }
        if spec.output_db_file
            && let Some(p) = &db_path
        {
            if !p.exists() {
                std::fs::File::create(p)
                    .map_err(|e| TaskError::failed(format!("cannot create {}: {e}", p.display())))?;
            }
            let name = p.file_name().and_then(|s| s.to_str()).unwrap_or("database.sqlite").to_string();
            let uri = files::upload(cx, "Database file", p, &name).await?;
            out.insert("databaseUri".into(), Value::String(uri));
        }
        Ok(TaskOutput::with(out))
    }

    /// The database file to open (`None`: in memory), as Kestra picks it:
    /// with `sqliteFile` or `outputDbFile`, a file of the working directory
    /// named as the URL's (`sqliteFile` copied there); else the URL's path.
    async fn database_file(&self, cx: &RunContext, dir: &Path) -> Result<Option<PathBuf>, TaskError> {
        let spec = &self.spec;
        if spec.sqlite_file.is_some() || spec.output_db_file {
            let name = match &spec.location {
                Location::Memory => "database.sqlite".to_string(),
                Location::Path(p) => Path::new(p)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| TaskError::property("url", format!("'{p}' does not name a database file")))?
                    .to_string(),
            };
            let path = dir.join(name);
            if let Some(uri) = &spec.sqlite_file {
                files::copy_from_storage(cx, "sqliteFile", uri, &path).await?;
            }
            return Ok(Some(path));
        }
        let Location::Path(p) = &spec.location else { return Ok(None) };
        let path = if Path::new(p).is_absolute() { PathBuf::from(p) } else { dir.join(p) };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| TaskError::failed(format!("cannot create folder {}: {e}", parent.display())))?;
        }
        Ok(Some(path))
    }
}
