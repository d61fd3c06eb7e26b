//! `io.kestra.plugin.core.http.SseRequest`: sends an HTTP request (the
//! properties of `Request` but `allowFailed` and `timeout`, which Kestra's
//! task has only inside `options`) and reads the Server-Sent Events of the
//! response until the server ends the stream → `uri`, `size` (the events
//! received, also counter `size`), and either `events` (each `{data, id,
//! name, comment, retry}`, `data` parsed when it is JSON) or, with
//! `concatJqExpression`, `result`: the expression's text value on each
//! event, concatenated. An event the expression fails on (or gives a
//! null, a map or a list) fails the task, or with `failedOnMissingJq:
//! false` is skipped. As in Kestra, `events` is output only when `result`
//! is empty. A status of 400 or more fails the task unless
//! `options.allowFailed`.
//!
//! Bounds, each named by its error: [`MAX_EVENTS`] events and
//! [`MAX_STREAM_BYTES`] bytes of stream are kept, an event is at most
//! [`MAX_EVENT_BYTES`], the stream is read for at most [`MAX_DURATION`],
//! and a stream silent for `options.timeout.readIdleTimeout` (or
//! `options.readTimeout`; default [`DEFAULT_IDLE`]) fails. The jq
//! expression is a jq program ([`baton_template::jq`], run by jaq).

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::http::{self, HttpOptions};
use super::request::{Outgoing, body_text};
use super::sse_stream::{SseEvent, SseParser};
use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

pub const TYPE: &str = "io.kestra.plugin.core.http.SseRequest";

/// The most events one task keeps.
pub const MAX_EVENTS: usize = 10_000;
/// The most bytes of stream one task reads.
pub const MAX_STREAM_BYTES: usize = 10 * 1024 * 1024;
/// The largest event kept.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// The longest a stream is read.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// How long a silent stream is waited for, unless `options` say.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);

/// Read the Server-Sent Events of an HTTP endpoint.
///
/// Sends a request and reads the response's Server-Sent Events until the server closes the stream. Outputs the events (`data` parsed when it is JSON, with `id`, `name`, `comment`, `retry` when sent), or with `concatJqExpression` the concatenated text it extracts from each event. A status of 400 or more fails the task unless `options.allowFailed`. Bounded: 10,000 events, 10 MB of stream, 1 MB per event, one hour of reading, and `options.timeout.readIdleTimeout` (default 5 minutes) of silence; each fails the task naming it.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = TYPE,
    group = "core",
    example = "id: consume_events\ntype: io.kestra.plugin.core.http.SseRequest\nuri: https://example.com/events\nheaders:\n  Authorization: \"Bearer {{ secret('API_TOKEN') }}\"\nconcatJqExpression: .data.message\n",
    outputs(
        uri(String, "The URL requested."),
        size(Integer, "The number of events received."),
        events(List, "Every event received, when there is no `result`."),
        result(String, "The values `concatJqExpression` extracted, concatenated.")
    ),
)]
struct Props {
    /// The URL of the event stream.
    #[serde(deserialize_with = "de::string_lenient")]
    uri: String,
    /// The HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS…).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"GET\"")]
    method: Option<String>,
    /// Request headers (`Accept: text/event-stream` unless set).
    #[serde(default, deserialize_with = "de::multi_map")]
    #[prop(kind = "Map")]
    headers: Vec<(String, Vec<String>)>,
    /// The request body (a string, or a value sent as JSON).
    #[serde(default)]
    body: Option<Value>,
    /// Fields sent as a form (urlencoded or multipart).
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    form_data: Vec<(String, String)>,
    /// The request's Content-Type.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"application/json\"")]
    content_type: Option<String>,
    /// Client options: connectTimeout, readIdleTimeout, followRedirects, basicAuthUser…
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<HttpOptions>,
    /// A jq program (the whole language, run by jaq) applied to each event `{data, id, name, …}`; its string, number or boolean values are concatenated into `result`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    concat_jq_expression: Option<String>,
    /// Fail when the expression fails on an event or gives no text value; false skips the event.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    failed_on_missing_jq: Option<bool>,
}

/// Limits of one read, so tests can shrink them.
#[derive(Debug, Clone, Copy)]
struct Limits {
    events: usize,
    stream_bytes: usize,
    event_bytes: usize,
    duration: Duration,
}

const LIMITS: Limits =
    Limits { events: MAX_EVENTS, stream_bytes: MAX_STREAM_BYTES, event_bytes: MAX_EVENT_BYTES, duration: MAX_DURATION };

/// `http.SseRequest`.
#[derive(Debug)]
struct SseRequest {
    out: Outgoing,
    allow_failed: bool,
    idle: Duration,
    jq: Option<String>,
    failed_on_missing_jq: bool,
    limits: Limits,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(parse(props)?))
}

fn parse(props: &Map<String, Value>) -> Result<SseRequest, TaskError> {
    let p: Props = parse_props(props)?;
    let options = p.options.unwrap_or_default();
    let idle = match options.read_timeout.or(options.timeout.as_ref().and_then(|t| t.read_idle_timeout)) {
        None => DEFAULT_IDLE,
        Some(d) => d.to_std().map_err(|_| TaskError::property("options.timeout", "must not be negative"))?,
    };
    let jq = p.concat_jq_expression.filter(|s| !s.trim().is_empty());
    if let Some(expr) = &jq {
        baton_template::jq::check(expr).map_err(|e| TaskError::property("concatJqExpression", e))?;
    }
    Ok(SseRequest {
        allow_failed: options.allow_failed.unwrap_or(false),
        idle,
        jq,
        failed_on_missing_jq: p.failed_on_missing_jq.unwrap_or(true),
        limits: LIMITS,
        out: Outgoing {
            url: http::parse_uri("uri", &p.uri)?,
            method: http::parse_method(p.method.as_deref())?,
            headers: p.headers,
            body: body_text(p.body),
            form_data: p.form_data,
            content_type: p.content_type,
            options,
        },
    })
}

/// The text one event gives `expr`: the last value of its stream (a
/// string, number or boolean), `None` for an empty stream.
fn extract(expr: &str, event: &Value) -> Result<Option<String>, String> {
    let mut last = None;
    for v in baton_template::jq::run(event.clone(), expr)? {
        last = Some(match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                let kind = match other {
                    Value::Null => "NULL",
                    Value::Array(_) => "ARRAY",
                    _ => "OBJECT",
                };
                return Err(format!("Expected text value from JQ expression but got: {kind}"));
            }
        });
    }
    Ok(last)
}

impl SseRequest {
    /// Reads the stream's events, within the limits.
    async fn read(&self, cx: &RunContext, mut resp: reqwest::Response) -> Result<Vec<SseEvent>, TaskError> {
        let url = &self.out.url;
        let l = self.limits;
        let deadline = tokio::time::Instant::now() + l.duration;
        let mut parser = SseParser::new(l.event_bytes);
        let mut events = Vec::new();
        let mut total = 0usize;
        let fail = |why: String| TaskError::failed(format!("SseRequest on '{url}': {why}"));
        loop {
            let wait = self.idle.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            let chunk = match tokio::time::timeout(wait, resp.chunk()).await {
                Ok(c) => c.map_err(|e| http::send_error("read the event stream of", url, &e))?,
                Err(_) if tokio::time::Instant::now() >= deadline => {
                    return Err(fail(format!(
                        "the stream was still open after {}s, the longest Baton reads one (set the task's timeout \
                         to stop earlier)",
                        l.duration.as_secs()
                    )));
                }
                Err(_) => {
                    return Err(fail(format!(
                        "no data for {}s (options.timeout.readIdleTimeout)",
                        self.idle.as_secs_f64()
                    )));
                }
            };
            let Some(chunk) = chunk else { break };
            total += chunk.len();
            if total > l.stream_bytes {
                return Err(fail(format!("the stream is larger than {} bytes, the most Baton reads", l.stream_bytes)));
            }
            for e in parser.feed(&chunk).map_err(fail)? {
                if events.len() == l.events {
                    return Err(fail(format!("the stream sent more than {} events, the most Baton keeps", l.events)));
                }
                events.push(e);
            }
        }
        cx.log("DEBUG", &format!("read {} events ({total} bytes) from {url}", events.len()));
        Ok(events)
    }
}

#[async_trait]
impl RunnableTask for SseRequest {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let url = &self.out.url;
        let mut rb = self.out.builder(cx)?;
        if http::find_header(&self.out.headers, "accept").is_none() {
            rb = rb.header(reqwest::header::ACCEPT, "text/event-stream");
        }
        let resp = http::send(rb, &self.out.method, "request", url).await?;
        let status = resp.status();
        if !status.is_success() && !self.allow_failed {
            let body = resp.text().await.unwrap_or_default();
            let mut msg = format!("Failed http request with response code '{}' on '{url}'", status.as_u16());
            let snippet: String = body.chars().take(500).collect();
            if !snippet.trim().is_empty() {
                msg.push_str(&format!(": {}", snippet.trim()));
            }
            return Err(TaskError::failed(msg));
        }
        let events: Vec<Value> = self.read(cx, resp).await?.iter().map(SseEvent::to_json).collect();
        let size = events.len();
        cx.counter("size", size as f64, &[]);

        let mut result = String::new();
        if let Some(expr) = &self.jq {
            for e in &events {
                match extract(expr, e) {
                    Ok(Some(s)) => result.push_str(&s),
                    Ok(None) => {}
                    Err(why) => {
                        let msg = format!("Failed to resolve JQ expression '{expr}' and value '{e}': {why}");
                        if self.failed_on_missing_jq {
                            return Err(TaskError::failed(msg));
                        }
                        cx.log("DEBUG", &format!("{msg}. Skipping this event."));
                    }
                }
            }
        }
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(url.to_string()));
        out.insert("size".into(), Value::from(size));
        if result.is_empty() {
            out.insert("events".into(), Value::Array(events));
        } else {
            out.insert("result".into(), Value::String(result));
        }
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests;
