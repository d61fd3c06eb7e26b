//! Trace export with OpenTelemetry, for the CLI, the local server and the
//! functions: on when the standard `OTEL_*` variables ask for it, off (and
//! free: no layer, no span) otherwise.
//!
//! - On when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` is set, unless `OTEL_SDK_DISABLED=true`
//!   or `OTEL_TRACES_EXPORTER=none`. The exporter is OTLP over HTTP
//!   (`opentelemetry-otlp`), `http/protobuf` by default or `http/json`
//!   (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`);
//!   `grpc` is refused by name (not built in). Endpoint, headers and
//!   timeout come from the standard variables, read by the exporter;
//!   `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` name the resource
//!   (the default service name is the binary's: `baton`, `baton-executor`…).
//! - Spans go through a batch processor on its own thread (its queue is
//!   bounded: spans past it are dropped by the SDK, never held); the
//!   [`Telemetry`] guard flushes and shuts it down when the binary ends,
//!   and [`Telemetry::flush`] lets a function flush after a request (Cloud
//!   Run freezes the CPU between requests).
//! - Which spans: those of `baton_runtime::runtime::telemetry` (executions,
//!   task run attempts, with ids derived from the execution id) and the I/O
//!   spans under them (target `baton::trace`); no other span or log line
//!   is exported.

use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracerProvider};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

use crate::runtime::telemetry as spans;

/// Why traces could not be set up as the variables ask.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("{var}={value}: Baton exports OTLP over HTTP only (set it to http/protobuf or http/json)")]
    Protocol { var: &'static str, value: String },
    #[error("cannot set up the OTLP trace exporter: {0}")]
    Exporter(String),
}

/// The tracer provider while traces are exported; flushes and shuts down on drop.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// No export (the variables do not ask for it).
    pub fn off() -> Telemetry {
        Telemetry { provider: None }
    }

    /// Whether spans are exported.
    pub fn is_on(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends the spans ended so far (blocking: call it off the async threads).
    pub fn flush(&self) {
        if let Some(p) = &self.provider
            && let Err(e) = p.force_flush()
        {
            tracing::debug!(error = %e, "flushing traces failed");
        }
    }

    /// A handle that flushes the same provider (for a function's requests).
    pub fn flusher(&self) -> Option<Flusher> {
        self.provider.clone().map(Flusher)
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            spans::set_enabled(false);
            let _ = p.shutdown();
        }
    }
}

/// Flushes the exported spans (cheap to clone).
#[derive(Clone)]
pub struct Flusher(SdkTracerProvider);

impl Flusher {
    /// Sends the spans ended so far, on a blocking thread.
    pub async fn flush(&self) {
        let p = self.0.clone();
        let _ = tokio::task::spawn_blocking(move || p.force_flush()).await;
    }
}

static FLUSHER: std::sync::OnceLock<Flusher> = std::sync::OnceLock::new();

/// Sends the spans ended so far when traces are exported (a function calls
/// it before answering a push request: Cloud Run may freeze the CPU, and
/// with it the batch processor, once the answer is sent); nothing otherwise.
pub async fn flush_before_answering() {
    if let Some(f) = FLUSHER.get() {
        f.flush().await;
    }
}

/// Ids of new spans: the execution's own where the runtime asks for them
/// (`pending_ids`), random otherwise.
#[derive(Debug, Default)]
struct BatonIds(RandomIdGenerator);

impl IdGenerator for BatonIds {
    fn new_trace_id(&self) -> TraceId {
        spans::pending_ids().map_or_else(|| self.0.new_trace_id(), |(t, _)| t)
    }
    fn new_span_id(&self) -> SpanId {
        spans::pending_ids().map_or_else(|| self.0.new_span_id(), |(_, s)| s)
    }
}

fn var(vars: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    vars(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Whether the variables ask for traces.
pub fn wanted(vars: &dyn Fn(&str) -> Option<String>) -> bool {
    let endpoint =
        var(vars, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some() || var(vars, "OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
    let disabled = var(vars, "OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let none = var(vars, "OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
    endpoint && !disabled && !none
}

/// The OTLP protocol the variables name (`http/protobuf` when unset).
pub fn protocol(vars: &dyn Fn(&str) -> Option<String>) -> Result<Protocol, TelemetryError> {
    for name in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
        if let Some(v) = var(vars, name) {
            return match v.as_str() {
                "http/protobuf" => Ok(Protocol::HttpBinary),
                "http/json" => Ok(Protocol::HttpJson),
                _ => Err(TelemetryError::Protocol { var: name, value: v }),
            };
        }
    }
    Ok(Protocol::HttpBinary)
}

/// Sets up trace export from the process's variables: the guard, and the
/// `tracing` layer to add to the subscriber (`None` when off).
pub fn from_env<S>(service: &str) -> Result<(Telemetry, Option<impl Layer<S> + use<S>>), TelemetryError>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let vars = |name: &str| std::env::var(name).ok();
    if !wanted(&vars) {
        return Ok((Telemetry::off(), None));
    }
    let protocol = protocol(&vars)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if var(&vars, "OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service.to_string());
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_id_generator(BatonIds::default())
        .with_resource(resource.build())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let tracer = provider.tracer(spans::SCOPE);
    // the spans' own attributes only: not the source location, thread,
    // target or busy/idle times of every span
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_filter(Targets::new().with_target("baton::trace", tracing::Level::INFO));
    spans::set_enabled(true);
    let _ = FLUSHER.set(Flusher(provider.clone()));
    Ok((Telemetry { provider: Some(provider) }, Some(layer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn on_only_with_an_endpoint_and_not_disabled() {
        assert!(!wanted(&vars(&[])));
        assert!(wanted(&vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")])));
        assert!(wanted(&vars(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces")])));
        assert!(!wanted(&vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_SDK_DISABLED", "true")])));
        assert!(!wanted(&vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_TRACES_EXPORTER", "none")])));
    }

    #[test]
    fn protocols_over_http_and_grpc_refused_by_name() {
        assert!(matches!(protocol(&vars(&[])), Ok(Protocol::HttpBinary)));
        assert!(matches!(protocol(&vars(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")])), Ok(Protocol::HttpJson)));
        let e = protocol(&vars(&[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")])).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc: Baton exports OTLP over HTTP only (set it to http/protobuf or http/json)"
            )
        );
    }
}
