//! Structured logs Cloud Logging understands: one JSON object per line on
//! stdout with `severity` (DEBUG, INFO, WARNING, ERROR), `message`, `time`,
//! `target`, the event's fields and those of its spans; a span field named
//! `trace` (a trace id taken from the request) becomes
//! `logging.googleapis.com/trace` = `projects/{project}/traces/{id}`, so a
//! request's lines are grouped under it in the console.

use std::io::Write;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The span field carrying the request's trace id.
pub const TRACE_FIELD: &str = "trace";

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

/// Installs the layer on stdout, filtered by `RUST_LOG` (default `info`).
/// Returns false if a subscriber was already installed.
pub fn init(project: Option<String>) -> bool {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry().with(filter).with(CloudLogging::new(std::io::stdout, project)).try_init().is_ok()
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    #[test]
    fn lines_are_cloud_logging_json() {
        let buf = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(CloudLogging::new(buf.clone(), Some("proj".into())));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("push", function = "executor", trace = "abc123");
            let _g = span.enter();
            tracing::warn!(message_id = "42", attempt = 2u64, "execution event could not be processed");
            tracing::error!("boom");
        });
        let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
        let lines: Vec<Value> =
            text.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["severity"], "WARNING");
        assert_eq!(lines[0]["message"], "execution event could not be processed");
        assert_eq!(lines[0]["message_id"], "42");
        assert_eq!(lines[0]["attempt"], 2);
        assert_eq!(lines[0]["function"], "executor");
        assert_eq!(lines[0]["logging.googleapis.com/trace"], "projects/proj/traces/abc123");
        assert_eq!(lines[1]["severity"], "ERROR");
        assert!(lines[1]["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    }

    #[test]
    fn trace_ids_from_headers() {
        assert_eq!(
            trace_id(Some("105445aa7843bc8bf206b12000100000/1;o=1"), None).as_deref(),
            Some("105445aa7843bc8bf206b12000100000")
        );
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(trace_id(None, Some(tp)).as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(trace_id(Some("not hex/1"), None), None);
        assert_eq!(trace_id(None, None), None);
    }
}
