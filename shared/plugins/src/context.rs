//! The context a runnable task runs in: its identity, the template context
//! and renderer, and the services it may use (KV, internal storage, HTTP,
//! logs). Built by the worker for each attempt; plugins never see globals.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::Utc;
use serde_json::{Map, Value};

use super::TaskError;
use baton_backend::{ByteStream, KvStore, LogEntry, Storage};
use baton_model::ids::slugify;
use baton_template::{Renderer, Scope, TemplateHost};

/// Where log lines go (the store, the terminal, Cloud Logging…).
pub trait LogSink: Send + Sync {
    fn emit(&self, entry: LogEntry);
    /// Bytes of lines emitted but not yet stored, for a producer that can
    /// wait (a script's output reader); 0 for a sink that never lags.
    fn backlog_bytes(&self) -> usize {
        0
    }
}

/// Progress of a long transfer, for a terminal progress bar.
pub trait Progress: Send + Sync {
    /// Called as bytes move; `total` when known.
    fn update(&self, task_id: &str, done: u64, total: Option<u64>);
    fn finish(&self, task_id: &str);
}

/// The HTTP client, built on first use: building one reads the system's
/// CA certificates (tens of milliseconds), which a run whose tasks never
/// call out does not pay. Derefs to the client; clones share it.
#[derive(Clone, Default)]
pub struct LazyHttp(Arc<std::sync::OnceLock<reqwest::Client>>);

impl LazyHttp {
    /// The client itself (built now if it was not).
    pub fn client(&self) -> reqwest::Client {
        self.get().clone()
    }

    fn get(&self) -> &reqwest::Client {
        self.0.get_or_init(|| reqwest::Client::builder().user_agent("baton").build().unwrap_or_default())
    }
}

impl From<reqwest::Client> for LazyHttp {
    fn from(c: reqwest::Client) -> LazyHttp {
        LazyHttp(Arc::new(std::sync::OnceLock::from(c)))
    }
}

impl std::ops::Deref for LazyHttp {
    type Target = reqwest::Client;
    fn deref(&self) -> &reqwest::Client {
        self.get()
    }
}

/// Services shared by every task a worker runs.
#[derive(Clone)]
pub struct Services {
    pub renderer: Arc<Renderer>,
    pub kv: Arc<dyn KvStore>,
    pub storage: Arc<dyn Storage>,
    pub logs: Arc<dyn LogSink>,
    pub http: LazyHttp,
    pub progress: Option<Arc<dyn Progress>>,
    /// Where per-task working directories are created.
    pub work_root: PathBuf,
    /// Plugin settings (script runners, GCP endpoints, caches).
    pub config: Arc<super::PluginConfig>,
    /// The flow store, where the runtime serves the API (`git.SyncFlows`).
    pub flows: Option<Arc<dyn super::flow_store::FlowStore>>,
    /// Other executions, where the runtime gives its engine (`execution.Resume`).
    pub executions: Option<Arc<dyn super::core::resume::ExecutionControl>>,
}

/// Everything one attempt of one task may use.
pub struct RunContext {
    pub execution_id: String,
    pub task_run_id: String,
    pub attempt: u32,
    pub namespace: String,
    pub flow_id: String,
    pub task_id: String,
    pub task_type: String,
    /// The template context (inputs, vars, outputs, taskrun…), as the
    /// job brought it: templates convert only the entries they read.
    scope: Scope,
    /// The context as one tree, made the first time a task asks for it
    /// ([`RunContext::context`]).
    merged: OnceLock<Value>,
    /// The task's properties before rendering (for typed rendering).
    pub raw_props: Map<String, Value>,
    pub services: Services,
    /// The template host (kv, secret, read) bound to this execution.
    pub host: Arc<dyn TemplateHost>,
    secrets_seen: Mutex<Vec<String>>,
    working_dir: PathBuf,
    shares_working_dir: bool,
    /// The metrics this attempt records (`context_metrics.rs`).
    pub(super) metrics: super::context_metrics::MetricRecorder,
}

impl RunContext {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        execution_id: String,
        task_run_id: String,
        attempt: u32,
        namespace: String,
        flow_id: String,
        task_id: String,
        task_type: String,
        context: impl Into<Scope>,
        raw_props: Map<String, Value>,
        services: Services,
        host: Arc<dyn TemplateHost>,
    ) -> RunContext {
        let mut context: Scope = context.into();
        // Kestra's `{{ workingDir }}`: the attempt's working directory
        // (created on first use by `working_dir()`).
        let shared_dir = context.get(baton_executor::context::WORKING_DIRECTORY_ID).and_then(Value::as_str);
        let working_dir = match shared_dir {
            // tasks of one WorkingDirectory share its folder (Kestra's semantics)
            Some(wd) => services.work_root.join(format!("{execution_id}-wd-{wd}")),
            None => working_dir_path(&services.work_root, &execution_id, &task_run_id, attempt),
        };
        let shares_working_dir = shared_dir.is_some();
        // Kestra's `{{ workerTaskrun }}`: inside a WorkingDirectory, its task run
        let worker_taskrun = shared_dir.and_then(|wd| {
            context.get("parents")?.as_array()?.iter().find_map(|p| {
                let tr = p.get("taskrun")?;
                (tr.get("id")?.as_str()? == wd).then(|| tr.clone())
            })
        });
        if let Some(tr) = worker_taskrun {
            context.insert_absent("workerTaskrun", || tr);
        }
        let dir = working_dir.clone();
        context.insert_absent("workingDir", || Value::String(dir.display().to_string()));
        // `{{ outputFiles.<name> }}` (DuckDB tasks, Kestra's legacy Bash):
        // where the task writes each plain file name its `outputFiles` lists.
        if let Some(files) = output_file_vars(&raw_props, &dir) {
            context.insert_absent("outputFiles", || files);
        }
        // `{{ inputFile }}` (MySQL tasks): where `inputFile` is copied
        // for LOAD DATA LOCAL INFILE, set whether or not the task has one.
        if task_type.starts_with("io.kestra.plugin.jdbc.mysql.") {
            let file = dir.join(crate::jdbc::mysql::query::INPUT_FILE);
            context.insert_absent("inputFile", || Value::String(file.display().to_string()));
        }
        // Kestra's `{{ outputDir }}`: every file written there is an output file.
        if output_dir_enabled(&raw_props) {
            context.insert_absent("outputDir", || Value::String(dir.join(&task_run_id).display().to_string()));
        }
        RunContext {
            execution_id,
            task_run_id,
            attempt,
            namespace,
            flow_id,
            task_id,
            task_type,
            scope: context,
            merged: OnceLock::new(),
            raw_props,
            services,
            host,
            secrets_seen: Mutex::new(Vec::new()),
            working_dir,
            shares_working_dir,
            metrics: Default::default(),
        }
    }

    /// The template context as one tree (built on first use: a task that
    /// only renders its properties never needs it).
    pub fn context(&self) -> &Value {
        self.merged.get_or_init(|| self.scope.to_value())
    }

    /// The context's top-level entry `key` (`inputs`, `trigger`, `taskrun`…).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.scope.get(key)
    }

    /// True inside a `WorkingDirectory`: the folder outlives this task, so
    /// the task must not remove it.
    pub fn shares_working_dir(&self) -> bool {
        self.shares_working_dir
    }

    /// Renders a template string with this task's context.
    pub fn render(&self, template: &str) -> Result<String, TaskError> {
        self.services
            .renderer
            .render_str_in(template, &self.scope, self.host.as_ref())
            .map_err(|e| TaskError::Template(e.to_string()))
    }

    /// Renders every string inside a JSON value.
    pub fn render_value(&self, v: &Value) -> Result<Value, TaskError> {
        self.services
            .renderer
            .render_value_in(v, &self.scope, self.host.as_ref())
            .map_err(|e| TaskError::Template(e.to_string()))
    }

    /// Renders a property keeping the expression's type when the whole
    /// string is one `{{ expression }}` (numbers, booleans, maps, lists).
    pub fn render_typed(&self, v: &Value) -> Result<Value, TaskError> {
        self.services
            .renderer
            .render_typed_in(v, &self.scope, self.host.as_ref())
            .map_err(|e| TaskError::Template(e.to_string()))
    }

    /// Logs a line at `level` (INFO, WARN…), with secrets masked.
    pub fn log(&self, level: &str, message: &str) {
        let msg = self.mask_text(message);
        self.services.logs.emit(LogEntry {
            namespace: self.namespace.clone(),
            flow_id: self.flow_id.clone(),
            execution_id: self.execution_id.clone(),
            task_id: Some(self.task_id.clone()),
            task_run_id: Some(self.task_run_id.clone()),
            attempt_number: Some(self.attempt),
            timestamp: Utc::now(),
            level: level.to_string(),
            message: msg,
        });
    }

    /// `text` with every known secret value (and every value registered
    /// with [`RunContext::mask`]) replaced by `******`.
    pub fn mask_text(&self, text: &str) -> String {
        mask_secrets(text, &self.masked_values())
    }

    /// The values masked in what leaves the task: every known secret and
    /// every value registered with [`RunContext::mask`].
    pub fn masked_values(&self) -> Vec<String> {
        let mut values = self.host.secret_values();
        if let Ok(seen) = self.secrets_seen.lock() {
            values.extend(seen.iter().cloned());
        }
        values
    }

    /// Like [`RunContext::mask_text`] for every string inside a JSON value
    /// (task outputs, labels): what leaves the worker never holds a secret.
    pub fn mask_value(&self, v: Value) -> Value {
        mask_json(v, &self.masked_values())
    }

    pub fn info(&self, message: &str) {
        self.log("INFO", message);
    }

    pub fn warn(&self, message: &str) {
        self.log("WARN", message);
    }

    /// Registers a value the user marked secret some other way than
    /// `secret()` (a `SECRET` input) or a credential Baton obtained itself
    /// (an access token): masked like a secret in logs and outputs from now
    /// on. Never for a plain property value (a `password: postgres` written
    /// in the flow): as in Kestra, only what is secret is masked, and masking
    /// a plain word would rewrite every output that happens to contain it.
    pub fn mask(&self, value: &str) {
        if let Ok(mut seen) = self.secrets_seen.lock() {
            seen.push(value.to_string());
        }
    }

    /// The storage path of a `kestra://` URI this execution may read (its
    /// namespace's files, or the files of the execution that started it);
    /// a property error naming the file otherwise.
    pub fn readable_path(&self, property: &str, uri: &str) -> Result<String, TaskError> {
        let path = baton_backend::storage_path(uri.trim()).map_err(|e| TaskError::property(property, e.to_string()))?;
        self.check_readable(property, &path)?;
        Ok(path)
    }

    /// Whether this execution may read the storage path `path` (see
    /// [`baton_backend::scope`]).
    pub fn check_readable(&self, property: &str, path: &str) -> Result<(), TaskError> {
        let starter = self.get("trigger").and_then(baton_backend::scope::Starter::from_trigger);
        baton_backend::scope::check(path, &self.namespace, starter.as_ref())
            .map_err(|e| TaskError::property(property, e.to_string()))
    }

    /// `/{namespace as path}/{flow}/executions/{id}`: Kestra's execution prefix.
    pub fn execution_prefix(&self) -> String {
        execution_prefix(&self.namespace, &self.flow_id, &self.execution_id)
    }

    /// `…/tasks/{task}/{taskRunId}`: where this task's files go.
    pub fn task_prefix(&self) -> String {
        format!("{}/tasks/{}/{}", self.execution_prefix(), slugify(&self.task_id), self.task_run_id)
    }

    /// Streams `data` into internal storage as `file` under this task's
    /// prefix; returns the `kestra:///…` URI and the size.
    pub async fn put_file(&self, file: &str, data: ByteStream) -> Result<(String, u64), TaskError> {
        let path = format!("{}/{}", self.task_prefix(), file);
        let n = self
            .services
            .storage
            .put(&path, data)
            .await
            .map_err(|e| TaskError::failed(format!("cannot write {path} to internal storage: {e}")))?;
        Ok((format!("kestra://{path}"), n))
    }

    /// A fresh working directory for this attempt (created on first use).
    pub fn working_dir(&self) -> Result<PathBuf, TaskError> {
        let dir = self.working_dir_path();
        std::fs::create_dir_all(&dir)
            .map_err(|e| TaskError::failed(format!("cannot create working directory {}: {e}", dir.display())))?;
        Ok(dir)
    }
}

impl RunContext {
    /// The path of this attempt's working directory (`{{ workingDir }}`),
    /// without creating it.
    pub fn working_dir_path(&self) -> PathBuf {
        self.working_dir.clone()
    }
}

fn working_dir_path(work_root: &std::path::Path, execution_id: &str, task_run_id: &str, attempt: u32) -> PathBuf {
    work_root.join(format!("{execution_id}-{task_run_id}-{attempt}"))
}

/// Where a task writes the output file `name` it lists in `outputFiles`
/// (a plain file name): `{workingDir}/{name}`.
pub fn output_file_path(working_dir: &std::path::Path, name: &str) -> PathBuf {
    working_dir.join(name)
}

/// True for a plain file name (no folder, no glob, not `.`/`..`).
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '*', '?', '[', '{'])
}

/// `{name: path}` for the plain names of a literal `outputFiles` list.
fn output_file_vars(raw_props: &Map<String, Value>, dir: &std::path::Path) -> Option<Value> {
    let Some(Value::Array(names)) = raw_props.get("outputFiles") else { return None };
    let files: Map<String, Value> = names
        .iter()
        .filter_map(Value::as_str)
        .filter(|n| is_plain_file_name(n))
        .map(|n| (n.to_string(), Value::String(output_file_path(dir, n).display().to_string())))
        .collect();
    (!files.is_empty()).then_some(Value::Object(files))
}

/// Whether a task has Kestra's output directory: `outputDirectory: true`,
/// or a property that uses `outputDir`.
fn output_dir_enabled(raw_props: &Map<String, Value>) -> bool {
    raw_props.get("outputDirectory").is_some_and(|v| v == &Value::Bool(true) || v == "true")
        || raw_props.iter().any(|(k, v)| k != "outputDirectory" && v.to_string().contains("outputDir"))
}

impl RunContext {
    /// The output directory (`{{ outputDir }}`) when the task has one.
    pub fn output_dir_path(&self) -> Option<PathBuf> {
        self.get("outputDir").and_then(Value::as_str).map(PathBuf::from)
    }
}

pub use baton_model::mask::{mask_json, mask_secrets};
pub use baton_model::storage::execution_prefix;

/// Removes a task's temporary file or directory when dropped, however the
/// task ends.
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = if self.0.is_dir() { std::fs::remove_dir_all(&self.0) } else { std::fs::remove_file(&self.0) };
    }
}
