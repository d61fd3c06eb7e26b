//! OpenTelemetry traces of executions: one trace per execution, whatever
//! process runs which part of it.
//!
//! An execution's trace id and its root span's id are **derived from the
//! execution id** (SHA-256), so the executor that ends an execution, the
//! worker functions that ran its task runs and a cold instance taking over
//! after a crash all name the same trace without handing a context along:
//! nothing is lost when a message arrives twice, late or on another
//! instance. The W3C `traceparent` of the execution's root span
//! ([`traceparent`]) travels with the Pub/Sub messages all the same, for
//! the tools outside Baton that read it.
//!
//! - Each task run attempt is a `tracing` span ([`attempt_span`]) whose
//!   OpenTelemetry parent is the execution's root span; the I/O the plugins
//!   do inside it (HTTP, PostgreSQL, scripts, GCS, BigQuery) are its
//!   children, as `tracing` spans under it.
//! - The root span itself is written when the execution ends
//!   ([`execution_ended`]), with the execution's start and end times: a
//!   span is written once, by one process, and an execution may outlive
//!   every process that worked on it.
//!
//! All of it is off unless the binary installed an exporter
//! ([`set_enabled`], from the `OTEL_*` variables): then no span is made and
//! each call here is one relaxed atomic load. The SDK, which only accepts
//! ids from its id generator, asks [`pending_ids`] for the ids this module
//! wants for the span being built.

use std::cell::Cell;

use chrono::{DateTime, Utc};
use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
};
use opentelemetry::{Context, KeyValue};
use sha2::{Digest, Sha256};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::messages::WorkerJob;
use crate::model::{Execution, StateType};

thread_local! {
    /// The ids the next span built on this thread must take (see [`pending_ids`]).
    static PENDING: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// The instrumentation scope's name, as exporters show it.
pub const SCOPE: &str = "baton";

/// Turns the spans on (a binary that installed a tracer provider and the
/// `tracing` layer) or off.
pub fn set_enabled(on: bool) {
    crate::backend::io_trace::set_enabled(on);
}

/// Whether traces are being exported.
pub fn enabled() -> bool {
    crate::backend::io_trace::enabled()
}

/// The ids the span being built on this thread must take, if this module
/// is building it: the tracer provider's id generator returns these
/// instead of random ones.
pub fn pending_ids() -> Option<(TraceId, SpanId)> {
    PENDING.with(Cell::get)
}

fn digest(kind: &str, id: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"baton/");
    h.update(kind.as_bytes());
    h.update(b"/");
    h.update(id.as_bytes());
    h.finalize().into()
}

/// The trace id of an execution: the first 16 bytes of a SHA-256 of its id.
pub fn trace_id(execution_id: &str) -> TraceId {
    let d = digest("trace", execution_id);
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    // all zeroes is the invalid id
    if b == [0; 16] {
        b[15] = 1;
    }
    TraceId::from_bytes(b)
}

/// The span id of an execution's root span.
pub fn root_span_id(execution_id: &str) -> SpanId {
    let d = digest("execution", execution_id);
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    if b == [0; 8] {
        b[7] = 1;
    }
    SpanId::from_bytes(b)
}

/// The execution's root span as a remote parent (sampled).
fn root_context(execution_id: &str) -> SpanContext {
    SpanContext::new(
        trace_id(execution_id),
        root_span_id(execution_id),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    )
}

/// W3C `traceparent` of the execution's root span: `00-TRACE-SPAN-01`.
pub fn traceparent(execution_id: &str) -> String {
    format!("00-{}-{}-01", trace_id(execution_id), root_span_id(execution_id))
}

/// The span of one task run attempt, child of its execution's root span;
/// `Span::none()` when traces are off. The attempt's work is instrumented
/// with it, so the spans the plugins open are its children. Its `trace`
/// field is the execution's trace id: on Google Cloud the attempt's log
/// lines are grouped under the execution's trace.
pub fn attempt_span(job: &WorkerJob) -> tracing::Span {
    if !enabled() {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        target: "baton::trace",
        "task_run",
        otel.name = %job.task.id,
        otel.kind = "internal",
        trace = %trace_id(&job.execution_id),
        span_id = tracing::field::Empty,
        baton.execution.id = %job.execution_id,
        baton.namespace = %job.namespace,
        baton.flow.id = %job.flow_id,
        baton.task.id = %job.task.id,
        baton.task.type = %job.task.kind,
        baton.taskrun.id = %job.task_run_id,
        baton.attempt = job.attempt,
        baton.state = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        otel.status_message = tracing::field::Empty,
    );
    let parent = Context::new().with_remote_span_context(root_context(&job.execution_id));
    let _ = span.set_parent(parent);
    // the attempt's own id, for log lines (Cloud Logging's `spanId`)
    let id = span.context().span().span_context().span_id();
    if id != SpanId::INVALID {
        span.record("span_id", id.to_string().as_str());
    }
    span
}

/// Records an attempt's end state on its span (an error status unless it
/// succeeded or was warned).
pub fn attempt_ended(span: &tracing::Span, state: StateType, error: Option<&str>) {
    if span.is_none() {
        return;
    }
    span.record("baton.state", state.to_string().as_str());
    if state.is_failed() || state == StateType::Killed {
        span.record("otel.status_code", "ERROR");
        if let Some(e) = error {
            span.record("otel.status_message", e);
        }
    } else {
        span.record("otel.status_code", "OK");
    }
}

/// Writes the execution's root span when it ends: from its first state to
/// now, with its namespace, flow, end state and labels; a subflow's links
/// to its parent execution's root span.
pub fn execution_ended(exec: &Execution, state: StateType) {
    if !enabled() {
        return;
    }
    let start: DateTime<Utc> = exec.state.histories.first().map(|h| h.date).unwrap_or_else(Utc::now);
    let end = exec.state.histories.last().map(|h| h.date).filter(|d| *d >= start).unwrap_or_else(Utc::now);
    let mut attributes = vec![
        KeyValue::new("baton.execution.id", exec.id.clone()),
        KeyValue::new("baton.namespace", exec.namespace.clone()),
        KeyValue::new("baton.flow.id", exec.flow_id.clone()),
        KeyValue::new("baton.flow.revision", i64::from(exec.flow_revision)),
        KeyValue::new("baton.state", state.to_string()),
    ];
    for label in exec.labels.iter().take(MAX_LABELS) {
        attributes.push(KeyValue::new(format!("baton.label.{}", label.key), label.value.clone()));
    }
    let tracer = opentelemetry::global::tracer(SCOPE);
    let mut builder = tracer
        .span_builder(format!("{}.{}", exec.namespace, exec.flow_id))
        .with_kind(SpanKind::Internal)
        .with_start_time(std::time::SystemTime::from(start))
        .with_attributes(attributes);
    if let Some(parent) = &exec.parent_id {
        builder = builder.with_links(vec![Link::with_context(root_context(parent))]);
    }
    PENDING.with(|p| p.set(Some((trace_id(&exec.id), root_span_id(&exec.id)))));
    let mut span = tracer.build_with_context(builder, &Context::new());
    PENDING.with(|p| p.set(None));
    use opentelemetry::trace::Span as _;
    span.set_status(if state.is_failed() || state == StateType::Killed {
        Status::error(format!("execution ended {state}"))
    } else {
        Status::Ok
    });
    span.end_with_timestamp(std::time::SystemTime::from(end));
}

/// Labels copied onto an execution's span, at most (a bound on attributes).
pub const MAX_LABELS: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_derived_from_the_execution_id_and_differ_between_executions() {
        assert_eq!(trace_id("abc"), trace_id("abc"));
        assert_ne!(trace_id("abc"), trace_id("abd"));
        assert_ne!(root_span_id("abc"), root_span_id("abd"));
        let tp = traceparent("abc");
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!((parts[0], parts[1].len(), parts[2].len(), parts[3]), ("00", 32, 16, "01"));
        assert_eq!(parts[1], trace_id("abc").to_string());
    }

    #[test]
    fn off_by_default_makes_no_span() {
        set_enabled(false);
        let job: WorkerJob = serde_json::from_value(serde_json::json!({
            "executionId": "e", "taskRunId": "t", "attempt": 1, "namespace": "n", "flowId": "f",
            "flowRevision": 1, "task": {"id": "a", "type": "io.kestra.plugin.core.log.Log", "props": {}},
            "context": {}
        }))
        .unwrap_or_else(|e| panic!("job: {e}"));
        assert!(attempt_span(&job).is_none());
        assert!(pending_ids().is_none());
    }
}
