//! `io.kestra.plugin.sentry.SentryAlert` (an event — `payload`, or
//! Kestra's default naming the failed execution — sent to a Sentry
//! project) and `SentryExecution` (the execution as a Sentry event, as
//! Kestra's template builds it: an exception naming the flow, state and
//! failed task, the execution's facts as `extra`, with `eventId`,
//! `platform`, `level`, `transaction`, `serverName`, `extra` and `errors`
//! set over it). Both keep their `io.kestra.plugin.notifications.sentry`
//! names as aliases.
//!
//! A DSN of sentry.io's form (`https://KEY@oORG.ingest.sentry.io/PROJECT`)
//! becomes the project's envelope (or store) endpoint, as in Kestra; any
//! other DSN is the URL posted to (a self-hosted relay). The envelope is
//! Sentry's: a header line, an item header and the event. Sentry's bounds
//! hold: an event of at most 1 MB, an envelope of at most 100 MB.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::Utc;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::summary::{self, Summary, SummaryProps};
use super::webhook::{Options, Target, payload_text};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Sentry's largest event.
const MAX_EVENT: usize = 1024 * 1024;
/// Sentry's largest envelope (decompressed).
const MAX_ENVELOPE: usize = 100 * 1024 * 1024;

/// Where the event goes and how it is wrapped; `#[serde(flatten)]`ed.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct Project {
    /// The project's DSN.
    #[serde(deserialize_with = "de::string_lenient")]
    dsn: String,
    /// Sentry's ingest endpoint: `ENVELOPE`, or `STORE` for projects without the envelope endpoint.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ENVELOPE", "STORE"], default = "\"ENVELOPE\"")]
    endpoint_type: Option<String>,
    /// HTTP options: headers, connectTimeout, readTimeout, readIdleTimeout, maxContentLength.
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<Options>,
}

/// Send an alert to Sentry.
///
/// Sends `payload` (a Sentry event, as JSON) — by default an error event naming this execution — to the Sentry project of `dsn`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.sentry.SentryAlert",
    aliases = ["io.kestra.plugin.notifications.sentry.SentryAlert"],
    group = "core",
    example = "id: sentry\ntype: io.kestra.plugin.sentry.SentryAlert\ndsn: \"{{ secret('SENTRY_DSN') }}\"\n"
)]
struct AlertProps {
    #[serde(flatten)]
    project: Project,
    /// The event (JSON); by default an `error` event naming this execution.
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
}

/// Send an execution's summary to Sentry as an event.
///
/// Sends this execution (or `executionId`) as a Sentry event: an exception naming its flow, state and failed task, and its facts and link as `extra`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.sentry.SentryExecution",
    aliases = ["io.kestra.plugin.notifications.sentry.SentryExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.sentry.SentryExecution\ndsn: \"{{ secret('SENTRY_DSN') }}\"\nexecutionId: \"{{ trigger.executionId }}\"\nlevel: ERROR\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    project: Project,
    /// The event's id: 32 lowercase hex digits (generated when absent).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    event_id: Option<String>,
    /// The platform Sentry shows the event for.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["C", "CFML", "COCOA", "CSHARP", "ELIXIR", "HASKELL", "GO", "GROOVY", "JAVA", "JAVASCRIPT", "NATIVE", "NODE", "OBJC", "OTHER", "PERL", "PHP", "PYTHON", "RUBY"], default = "\"JAVA\"")]
    platform: Option<String>,
    /// The event's level.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["FATAL", "ERROR", "WARNING", "INFO", "DEBUG"], default = "\"ERROR\"")]
    level: Option<String>,
    /// The event's transaction (a route or operation name).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    transaction: Option<String>,
    /// The host reported with the event.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    server_name: Option<String>,
    /// Entries added to the event's `extra`.
    #[serde(default)]
    #[prop(kind = "Map")]
    extra: Option<Map<String, Value>>,
    /// The event's `errors` section.
    #[serde(default)]
    #[prop(kind = "Map")]
    errors: Option<Map<String, Value>>,
    /// Replaced by the execution's event, as in Kestra: the task logs a warning when it is set.
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
    #[serde(flatten)]
    execution: SummaryProps,
}

impl Project {
    fn envelope(&self) -> bool {
        !self.endpoint_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("STORE"))
    }

    /// The URL posted to: a sentry.io DSN's endpoint, any other DSN as is.
    fn url(&self) -> String {
        static SENTRY_IO: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"^(https?)://([a-f0-9]+)@(o[0-9]+\.ingest\.sentry\.io)/([0-9]+)$").expect("valid regex")
        });
        match SENTRY_IO.captures(self.dsn.trim()) {
            Some(c) => format!(
                "{}://{}/api/{}/{}/?sentry_version=7&sentry_client=java&sentry_key={}",
                &c[1],
                &c[3],
                &c[4],
                if self.envelope() { "envelope" } else { "store" },
                &c[2]
            ),
            None => self.dsn.trim().to_string(),
        }
    }

    /// The body sent: the event, wrapped in an envelope unless `STORE`.
    fn body(&self, event: &str) -> Result<String, TaskError> {
        if event.len() > MAX_EVENT {
            return Err(TaskError::failed(format!(
                "the Sentry event is {} bytes, more than Sentry's {MAX_EVENT} bytes",
                event.len()
            )));
        }
        if !self.envelope() {
            return Ok(event.to_string());
        }
        let header = json!({
            "event_id": uuid::Uuid::new_v4().simple().to_string(),
            "dsn": self.dsn,
            "sdk": {"name": "java", "version": "7"},
            "sent_at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        let item = json!({"type": "event", "length": event.len(), "content_type": "application/json", "filename": "application.log"});
        let envelope = format!("{header}\n{item}\n{event}\n");
        if envelope.len() > MAX_ENVELOPE {
            return Err(TaskError::failed(format!("the Sentry envelope is more than Sentry's {MAX_ENVELOPE} bytes")));
        }
        Ok(envelope)
    }

    async fn send(&self, cx: &RunContext, event: &str) -> Result<(), TaskError> {
        let body = self.body(event)?;
        let target = Target { url: self.url(), options: self.options.clone() };
        target.post(cx, "Sentry", &body).await.map_err(|e| match e {
            TaskError::Failed(m) if self.envelope() && (m.contains("'401'") || m.contains("'404'")) => {
                TaskError::failed(format!(
                    "{m} — the envelope endpoint may not be supported by this project: try endpointType: STORE"
                ))
            }
            e => e,
        })
    }
}

/// Kestra's default event of `SentryAlert`.
fn default_event(cx: &RunContext) -> Value {
    let get = |a: &str, b: &str| cx.get(a).and_then(|v| v.get(b)).map(de::value_to_string).unwrap_or_default();
    json!({
        "timestamp": get("execution", "startDate"),
        "platform": "java",
        "level": "error",
        "message": {"message": format!("Execution {} failed", cx.execution_id)},
        "extra": {"Namespace": get("flow", "namespace"), "Flow ID": get("flow", "id"), "Execution ID": cx.execution_id},
    })
}

/// Kestra's Sentry template, with the written properties over it.
fn execution_event(s: &Summary, p: &ExecutionProps, event_id: &str) -> Value {
    let mut extra = Map::new();
    for (k, v) in [
        ("Namespace", s.namespace.clone()),
        ("Flow ID", s.flow_id.clone()),
        ("Execution ID", s.id.clone()),
        ("Execution Status", s.state.as_str().to_string()),
        ("Final task ID", s.last_task.clone().unwrap_or_default()),
        ("Link", s.link.clone().unwrap_or_default()),
    ] {
        extra.insert(k.into(), json!(v));
    }
    if let Some(more) = &p.extra {
        extra.extend(more.clone());
    }
    let mut event = Map::new();
    event.insert(
        "exception".into(),
        json!({"values": [{
            "type": format!("{} ➛ {}", s.flow_id, s.state.as_str()),
            "value": format!("Failed on task `{}` after {}", s.first_failed.as_deref().unwrap_or_default(), s.duration),
            "module": s.namespace,
            "stacktrace": {},
        }]}),
    );
    event.insert("extra".into(), Value::Object(extra));
    event.insert("event_id".into(), json!(event_id));
    event.insert("timestamp".into(), json!(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
    event.insert("platform".into(), json!(p.platform.as_deref().unwrap_or("JAVA").to_ascii_lowercase()));
    event.insert("level".into(), json!(p.level.as_deref().unwrap_or("ERROR").to_ascii_lowercase()));
    if let Some(t) = &p.transaction {
        event.insert("transaction".into(), json!(t));
    }
    if let Some(n) = &p.server_name {
        event.insert("server_name".into(), json!(n));
    }
    if let Some(e) = p.errors.as_ref().filter(|m| !m.is_empty()) {
        event.insert("errors".into(), Value::Object(e.clone()));
    }
    Value::Object(event)
}

/// The task, built from rendered properties.
#[derive(Debug)]
enum Sentry {
    Alert(Box<AlertProps>),
    Execution(Box<ExecutionProps>),
}

fn build_alert(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: AlertProps = parse_props(props)?;
    Ok(Box::new(Sentry::Alert(Box::new(p))))
}

fn build_execution(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ExecutionProps = parse_props(props)?;
    if let Some(id) = &p.event_id
        && !(id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    {
        return Err(TaskError::property(
            "eventId",
            format!("'{id}' is not 32 lowercase hex digits (a uuid4 without dashes)"),
        ));
    }
    Ok(Box::new(Sentry::Execution(Box::new(p))))
}

#[async_trait]
impl RunnableTask for Sentry {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        match self {
            Sentry::Alert(p) => {
                let event = match p.payload.as_ref().filter(|v| !v.is_null()) {
                    Some(v) => payload_text(v),
                    None => default_event(cx).to_string(),
                };
                p.project.send(cx, &event).await?;
            }
            Sentry::Execution(p) => {
                summary::warn_replaced_payload(cx, "SentryExecution", p.payload.as_ref());
                let s = p.execution.load(cx, "SentryExecution").await?;
                let id = p.event_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
                p.project.send(cx, &execution_event(&s, p, &id).to_string()).await?;
            }
        }
        Ok(TaskOutput::empty())
    }
}

pub static ALERT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<AlertProps>(build_alert));

pub static EXECUTION: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ExecutionProps>(build_execution));

#[cfg(test)]
mod tests {
    use super::*;

    fn project(dsn: &str, t: Option<&str>) -> Project {
        Project { dsn: dsn.into(), endpoint_type: t.map(Into::into), options: None }
    }

    #[test]
    fn a_sentry_io_dsn_becomes_its_endpoint_and_others_are_urls() {
        let p = project("https://abc123@o42.ingest.sentry.io/7", None);
        assert_eq!(
            p.url(),
            "https://o42.ingest.sentry.io/api/7/envelope/?sentry_version=7&sentry_client=java&sentry_key=abc123"
        );
        assert!(project("https://abc123@o42.ingest.sentry.io/7", Some("STORE")).url().contains("/api/7/store/"));
        assert_eq!(project("http://127.0.0.1:9/relay", None).url(), "http://127.0.0.1:9/relay");
    }

    #[test]
    fn the_envelope_has_three_lines_and_the_bounds_hold() {
        let p = project("http://127.0.0.1:9/relay", None);
        let body = p.body("{\"a\":1}").unwrap();
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines.len(), 3, "{body}");
        let item: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(item["length"], 7);
        assert_eq!(lines[2], "{\"a\":1}");
        assert_eq!(project("x", Some("STORE")).body("{}").unwrap(), "{}");
        let big = "x".repeat(MAX_EVENT + 1);
        assert!(p.body(&big).unwrap_err().to_string().contains("1048576"));
    }
}
