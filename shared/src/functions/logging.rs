//! Structured logs Cloud Logging understands: one JSON object per line on
//! stdout with `severity` (DEBUG, INFO, WARNING, ERROR), `message`, `time`,
//! `target`, the event's fields and those of its spans; a span field named
//! `trace` (a trace id taken from the request) becomes
//! `logging.googleapis.com/trace` = `projects/{project}/traces/{id}`, so a
//! request's lines are grouped under it in the console.
//!
//! Task log lines (what tasks log, and the executor's WARN/ERROR lines about
//! an execution) are stored, and with [`TaskLogEcho`] also written here as
//! one entry each: Kestra's level as the severity, the line's own time, and
//! `logging.googleapis.com/labels` naming the execution, flow and task run,
//! so `gcloud logging read 'labels.executionId="…"'` finds them. Only the
//! function runtime installs it (`baton run` echoes logs on stderr itself).

use std::io::Write;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::backend::{self, Claim, ExecutionFilter, ExecutionSummary, LogEntry, StateStore};
use crate::model::Execution;

/// The span field carrying the request's trace id.
pub const TRACE_FIELD: &str = "trace";

/// The span field carrying the current span's id (a task run attempt's,
/// when traces are exported).
pub const SPAN_FIELD: &str = "span_id";

/// The `tracing` layer writing Cloud Logging JSON lines.
pub struct CloudLogging<W> {
    writer: W,
    project: Option<String>,
}

impl<W> CloudLogging<W> {
    /// Lines go to `writer`; traces are qualified with `project` when known.
    pub fn new(writer: W, project: Option<String>) -> Self {
        CloudLogging { writer, project }
    }
}

/// Installs the layer on stdout, filtered by `RUST_LOG` (default `info`),
/// and the trace exporter when the `OTEL_*` variables ask for it (see
/// [`crate::telemetry`]): the guard to keep until the process ends.
pub fn init(
    project: Option<String>,
    service: &str,
) -> Result<crate::telemetry::Telemetry, crate::telemetry::TelemetryError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (telemetry, traces) = crate::telemetry::from_env(service)?;
    let lines = CloudLogging::new(std::io::stdout, project).with_filter(filter);
    let _ = tracing_subscriber::registry().with(traces).with(lines).try_init();
    Ok(telemetry)
}

/// Cloud Logging's name for a level.
pub fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

/// The trace id of a request: `X-Cloud-Trace-Context: TRACE/SPAN;o=1`, or
/// W3C `traceparent: 00-TRACE-SPAN-01`.
pub fn trace_id(cloud_trace_context: Option<&str>, traceparent: Option<&str>) -> Option<String> {
    let valid = |s: &str| !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_hexdigit());
    if let Some(id) = cloud_trace_context.and_then(|v| v.split('/').next()).filter(|s| valid(s)) {
        return Some(id.to_string());
    }
    let mut parts = traceparent?.split('-');
    let (_version, id) = (parts.next()?, parts.next()?);
    valid(id).then(|| id.to_string())
}

/// Span fields, kept in the span's extensions.
struct SpanFields(Map<String, Value>);

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().to_string(), Value::String(value.to_string()));
    }
}

impl<S, W> Layer<S> for CloudLogging<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, id: &tracing::span::Id, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        attrs.record(&mut JsonVisitor(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut JsonVisitor(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert("severity".into(), severity(meta.level()).into());
        line.insert("time".into(), chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true).into());
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    for (k, v) in &fields.0 {
                        match (k.as_str(), &self.project, v) {
                            (TRACE_FIELD, Some(p), Value::String(id)) => line.insert(
                                "logging.googleapis.com/trace".into(),
                                format!("projects/{p}/traces/{id}").into(),
                            ),
                            (SPAN_FIELD, _, Value::String(id)) => {
                                line.insert("logging.googleapis.com/spanId".into(), id.clone().into())
                            }
                            _ => line.insert(k.clone(), v.clone()),
                        };
                    }
                }
            }
        }
        let mut fields = Map::new();
        event.record(&mut JsonVisitor(&mut fields));
        let message = fields.remove("message").unwrap_or(Value::String(String::new()));
        line.extend(fields);
        line.insert("message".into(), message);
        line.insert("target".into(), meta.target().into());
        let mut out = serde_json::to_vec(&Value::Object(line)).unwrap_or_default();
        out.push(b'\n');
        let _ = self.writer.make_writer().write_all(&out);
    }
}

// ------------------------------------------------------------ task logs ---

/// Cloud Logging's severity for a Kestra level: TRACE and DEBUG are DEBUG,
/// WARN is WARNING; an unknown level is DEFAULT.
pub fn task_severity(level: &str) -> &'static str {
    match level.trim().to_ascii_uppercase().as_str() {
        "ERROR" => "ERROR",
        "WARN" | "WARNING" => "WARNING",
        "INFO" => "INFO",
        "DEBUG" | "TRACE" => "DEBUG",
        _ => "DEFAULT",
    }
}

/// One task log line as a Cloud Logging structured entry. `trace` is the
/// qualified `projects/{project}/traces/{id}`.
pub fn task_entry(entry: &LogEntry, trace: Option<&str>) -> Value {
    let mut labels = Map::new();
    labels.insert("executionId".into(), entry.execution_id.clone().into());
    labels.insert("namespace".into(), entry.namespace.clone().into());
    labels.insert("flowId".into(), entry.flow_id.clone().into());
    if let Some(t) = &entry.task_id {
        labels.insert("taskId".into(), t.clone().into());
    }
    if let Some(t) = &entry.task_run_id {
        labels.insert("taskRunId".into(), t.clone().into());
    }
    if let Some(a) = entry.attempt_number {
        labels.insert("attemptNumber".into(), a.to_string().into());
    }
    let mut line = json!({
        "severity": task_severity(&entry.level),
        "message": entry.message,
        "time": entry.timestamp.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "logging.googleapis.com/labels": labels,
    });
    if let (Some(t), Value::Object(m)) = (trace, &mut line) {
        m.insert("logging.googleapis.com/trace".into(), t.into());
    }
    line
}

/// The trace id recorded on the current span or one of its parents (the
/// push request's, see [`TRACE_FIELD`]), when [`CloudLogging`] is the
/// layer that keeps span fields.
pub fn current_trace() -> Option<String> {
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
            let span = registry.span(id)?;
            span.scope().find_map(|s| {
                s.extensions()
                    .get::<SpanFields>()
                    .and_then(|f| f.0.get(TRACE_FIELD).and_then(Value::as_str).map(str::to_string))
            })
        })
        .flatten()
}

/// A state store that also writes every log line appended to it as a Cloud
/// Logging entry ([`task_entry`]), so every path that stores task logs (the
/// engine's log sink, the executor, the worker and the sweep) reaches
/// stdout. Lines are written before they are stored: if the store fails,
/// stdout still has them. Every other call goes to `inner` unchanged.
pub struct TaskLogEcho<W> {
    inner: Arc<dyn StateStore>,
    writer: W,
    project: Option<String>,
}

impl<W> TaskLogEcho<W> {
    /// Lines go to `writer`; traces are qualified with `project` when known.
    pub fn new(inner: Arc<dyn StateStore>, writer: W, project: Option<String>) -> Self {
        TaskLogEcho { inner, writer, project }
    }
}

/// `inner` with its task log lines also on stdout: what the function
/// runtime runs on.
pub fn task_logs_on_stdout(inner: Arc<dyn StateStore>, project: Option<String>) -> Arc<dyn StateStore> {
    Arc::new(TaskLogEcho::new(inner, std::io::stdout as fn() -> std::io::Stdout, project))
}

#[async_trait]
impl<W> StateStore for TaskLogEcho<W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    async fn create_execution(&self, execution: &Execution) -> backend::Result<()> {
        self.inner.create_execution(execution).await
    }
    fn sealer(&self) -> Option<Arc<backend::seal::Sealer>> {
        self.inner.sealer()
    }
    async fn load_execution(&self, id: &str) -> backend::Result<Option<Execution>> {
        self.inner.load_execution(id).await
    }
    async fn save_execution(&self, execution: &Execution, changed_task_runs: &[String]) -> backend::Result<u64> {
        self.inner.save_execution(execution, changed_task_runs).await
    }
    async fn save_execution_at(&self, execution: &Execution, changed: &[usize]) -> backend::Result<u64> {
        self.inner.save_execution_at(execution, changed).await
    }
    async fn save_execution_ending(
        &self,
        execution: &Execution,
        changed: &[usize],
        ended: &[backend::AttemptEnd],
    ) -> backend::Result<u64> {
        self.inner.save_execution_ending(execution, changed, ended).await
    }
    async fn save_execution_claiming(
        &self,
        execution: &Execution,
        changed: &[usize],
        ended: &[backend::AttemptEnd],
        opened: &[backend::AttemptClaim],
    ) -> backend::Result<u64> {
        self.inner.save_execution_claiming(execution, changed, ended, opened).await
    }
    async fn confirm_claim(
        &self,
        task_run_id: &str,
        attempt: u32,
        worker_id: &str,
        until: DateTime<Utc>,
    ) -> backend::Result<Claim> {
        self.inner.confirm_claim(task_run_id, attempt, worker_id, until).await
    }
    async fn end_attempts(&self, ended: &[backend::AttemptEnd]) -> backend::Result<()> {
        self.inner.end_attempts(ended).await
    }
    async fn list_executions(&self, filter: &ExecutionFilter) -> backend::Result<Vec<ExecutionSummary>> {
        self.inner.list_executions(filter).await
    }
    async fn delete_execution(&self, id: &str, logs: bool) -> backend::Result<bool> {
        self.inner.delete_execution(id, logs).await
    }
    async fn append_logs(&self, logs: &[LogEntry]) -> backend::Result<()> {
        if !logs.is_empty() {
            let trace = match (&self.project, current_trace()) {
                (Some(p), Some(id)) => Some(format!("projects/{p}/traces/{id}")),
                _ => None,
            };
            // with traces exported, each line is grouped under its execution's trace
            let traced = crate::runtime::telemetry::enabled();
            let mut out = Vec::new();
            for l in logs {
                let own = match (&self.project, traced) {
                    (Some(p), true) => {
                        Some(format!("projects/{p}/traces/{}", crate::runtime::telemetry::trace_id(&l.execution_id)))
                    }
                    _ => None,
                };
                if serde_json::to_writer(&mut out, &task_entry(l, own.as_deref().or(trace.as_deref()))).is_ok() {
                    out.push(b'\n');
                }
            }
            let _ = self.writer.make_writer().write_all(&out);
        }
        self.inner.append_logs(logs).await
    }
    async fn logs(&self, execution_id: &str) -> backend::Result<Vec<LogEntry>> {
        self.inner.logs(execution_id).await
    }
    async fn log_volume(&self, execution_id: &str) -> backend::Result<Option<(u64, u64)>> {
        self.inner.log_volume(execution_id).await
    }
    async fn logs_at_level(
        &self,
        execution_id: &str,
        level: &str,
        max_lines: usize,
        max_bytes: u64,
    ) -> backend::Result<Vec<LogEntry>> {
        self.inner.logs_at_level(execution_id, level, max_lines, max_bytes).await
    }
    async fn purge_logs(&self, query: &backend::purge::LogPurge) -> backend::Result<backend::purge::Purged> {
        self.inner.purge_logs(query).await
    }
    async fn ended_executions(
        &self,
        query: &backend::purge::EndedExecutions,
    ) -> backend::Result<Vec<ExecutionSummary>> {
        self.inner.ended_executions(query).await
    }
    async fn claim(
        &self,
        task_run_id: &str,
        attempt: u32,
        worker_id: &str,
        until: DateTime<Utc>,
    ) -> backend::Result<Claim> {
        self.inner.claim(task_run_id, attempt, worker_id, until).await
    }
    async fn heartbeat(
        &self,
        task_run_id: &str,
        attempt: u32,
        worker_id: &str,
        until: DateTime<Utc>,
    ) -> backend::Result<()> {
        self.inner.heartbeat(task_run_id, attempt, worker_id, until).await
    }
    async fn finish_claim(&self, task_run_id: &str, attempt: u32) -> backend::Result<()> {
        self.inner.finish_claim(task_run_id, attempt).await
    }
    async fn finish_claim_with(&self, task_run_id: &str, attempt: u32, result: &str) -> backend::Result<()> {
        self.inner.finish_claim_with(task_run_id, attempt, result).await
    }
    async fn kept_result(&self, task_run_id: &str, attempt: u32) -> backend::Result<Option<String>> {
        self.inner.kept_result(task_run_id, attempt).await
    }
    async fn load_record(&self, kind: &str, key: &str) -> backend::Result<Option<(u64, Value)>> {
        self.inner.load_record(kind, key).await
    }
    async fn save_record(&self, kind: &str, key: &str, expected: u64, value: &Value) -> backend::Result<u64> {
        self.inner.save_record(kind, key, expected, value).await
    }
    async fn save_flow(&self, namespace: &str, id: &str, source: &str) -> backend::Result<u32> {
        self.inner.save_flow(namespace, id, source).await
    }
    async fn load_flow(
        &self,
        namespace: &str,
        id: &str,
        revision: Option<u32>,
    ) -> backend::Result<Option<(u32, String)>> {
        self.inner.load_flow(namespace, id, revision).await
    }
    async fn list_flow_revisions(
        &self,
        namespace: &str,
        id: &str,
        limit: usize,
    ) -> backend::Result<Vec<backend::FlowRevision>> {
        self.inner.list_flow_revisions(namespace, id, limit).await
    }
    async fn delete_flow_revisions(&self, namespace: &str, id: &str, revisions: &[u32]) -> backend::Result<usize> {
        self.inner.delete_flow_revisions(namespace, id, revisions).await
    }
    fn metrics(&self) -> &dyn backend::metrics::MetricStore {
        self.inner.metrics()
    }
    fn partial(&self) -> Option<&dyn backend::partial::PartialStore> {
        self.inner.partial()
    }
}

#[cfg(test)]
mod tests;
