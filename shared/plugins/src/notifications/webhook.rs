//! What every webhook notification does (Kestra's `AbstractHttpOptionsTask`):
//! POST a JSON payload to the webhook URL through the engine's shared HTTP
//! client, with Kestra's `options` (headers, connect and read timeouts, the
//! largest answer kept). A status other than 2xx fails the task, naming the
//! status and the start of the answer. The payload and the answer are
//! bounded (`MAX_NOTIFICATION_PAYLOAD`, `MAX_NOTIFICATION_ANSWER`).

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::core::http;
use crate::{Declare, RunContext, TaskError, de};

use crate::config::{MAX_NOTIFICATION_ANSWER, MAX_NOTIFICATION_PAYLOAD};

/// The largest payload a webhook task sends.
const MAX_PAYLOAD: usize = MAX_NOTIFICATION_PAYLOAD as usize;

/// The most bytes of a webhook's answer read.
const MAX_ANSWER: usize = MAX_NOTIFICATION_ANSWER as usize;

/// The characters of a failed answer quoted in the error.
const QUOTED: usize = 500;

/// Kestra's `options` of the notification tasks (`RequestOptions`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Options {
    /// Give up connecting (and getting the answer's headers) after this long.
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub connect_timeout: Option<chrono::Duration>,
    /// Give up the whole exchange after this long.
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub read_timeout: Option<chrono::Duration>,
    /// Give up when the server sends nothing for this long (default 5 minutes).
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub read_idle_timeout: Option<chrono::Duration>,
    /// How long an idle pooled connection is kept: the engine's shared
    /// client pools connections for every task, so a value is accepted as
    /// Kestra accepts it (Kestra does not apply it either).
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub connection_pool_idle_timeout: Option<chrono::Duration>,
    /// The most bytes of the answer read (at most `MAX_NOTIFICATION_ANSWER`).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    pub max_content_length: Option<u64>,
    /// The request's charset: UTF-8 only (JSON is UTF-8).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub default_charset: Option<String>,
    /// Headers added to the request.
    #[serde(default, deserialize_with = "de::multi_map")]
    pub headers: Vec<(String, Vec<String>)>,
}

impl Options {
    /// Checks what Baton cannot honour.
    pub fn check(&self) -> Result<(), TaskError> {
        if let Some(c) = &self.default_charset {
            let c = c.trim().to_ascii_uppercase().replace('_', "-");
            if c != "UTF-8" && c != "UTF8" {
                return Err(TaskError::property(
                    "options.defaultCharset",
                    format!("'{c}' is not supported: the notification payloads are JSON, sent as UTF-8"),
                ));
            }
        }
        std_duration("options.connectionPoolIdleTimeout", self.connection_pool_idle_timeout)?;
        if self.max_content_length == Some(0) {
            return Err(TaskError::property("options.maxContentLength", "must be positive"));
        }
        Ok(())
    }

    fn answer_limit(&self) -> usize {
        let asked = self.max_content_length.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        asked.unwrap_or(MAX_ANSWER).min(MAX_ANSWER)
    }
}

fn std_duration(property: &str, d: Option<chrono::Duration>) -> Result<Option<Duration>, TaskError> {
    d.map(|d| d.to_std().map_err(|_| TaskError::property(property, "must not be negative"))).transpose()
}

/// Where a webhook task posts: `url` and `options`, `#[serde(flatten)]`ed
/// into each webhook task's properties.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// The webhook URL.
    #[serde(deserialize_with = "de::string_lenient")]
    pub url: String,
    /// HTTP options: headers, connectTimeout, readTimeout, readIdleTimeout, maxContentLength.
    #[serde(default)]
    #[prop(kind = "Map")]
    pub options: Option<Options>,
}

impl Target {
    /// POSTs `payload` (JSON text) here; `what` names the service.
    pub async fn post(&self, cx: &RunContext, what: &str, payload: &str) -> Result<(), TaskError> {
        let default = Options::default();
        post(cx, what, &self.url, payload, self.options.as_ref().unwrap_or(&default)).await
    }

    /// [`Target::post`] with `header` added (an API token's `Authorization`).
    pub async fn post_with(
        &self,
        cx: &RunContext,
        what: &str,
        payload: &str,
        header: (&str, &str),
    ) -> Result<(), TaskError> {
        let mut options = self.options.clone().unwrap_or_default();
        options.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(header.0));
        options.headers.push((header.0.to_string(), vec![header.1.to_string()]));
        post(cx, what, &self.url, payload, &options).await
    }
}

/// The payload as text: a string is sent as written, anything else as JSON.
pub fn payload_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// POSTs `payload` (JSON text) to `url` with `options`; `what` names the
/// service in messages ("Slack").
pub async fn post(cx: &RunContext, what: &str, url: &str, payload: &str, options: &Options) -> Result<(), TaskError> {
    send(cx, what, url, (payload, "application/json"), options).await.map(|_| ())
}

/// What a service answered (a 2xx status).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The answer's headers (a repeated one: its last value).
    pub headers: Map<String, Value>,
    pub body: String,
}

/// POSTs `body` (text, and its Content-Type) to `url` with `options`;
/// `what` names the service in messages ("Slack"). A status other than
/// 2xx fails, naming it.
pub async fn send(
    cx: &RunContext,
    what: &str,
    url: &str,
    (payload, content_type): (&str, &str),
    options: &Options,
) -> Result<Answer, TaskError> {
    options.check()?;
    let url = http::parse_uri("url", url)?;
    if payload.len() > MAX_PAYLOAD {
        return Err(TaskError::failed(format!(
            "the {what} payload is {} bytes, more than the {MAX_PAYLOAD} bytes a notification may send (MAX_NOTIFICATION_PAYLOAD)",
            payload.len()
        )));
    }
    let connect = std_duration("options.connectTimeout", options.connect_timeout)?;
    let total = std_duration("options.readTimeout", options.read_timeout)?;
    let idle = std_duration("options.readIdleTimeout", options.read_idle_timeout)?.unwrap_or(Duration::from_secs(300));

    let mut rb = cx.services.http.post(url.clone()).header(reqwest::header::CONTENT_TYPE, content_type);
    rb = http::add_headers(rb, &options.headers, &["content-type"])?;
    if let Some(t) = total {
        rb = rb.timeout(t);
    }
    let rb = rb.body(payload.to_string());
    cx.log("DEBUG", &format!("Send {what} webhook: {payload}"));

    let first = connect.map_or(idle, |c| c + idle);
    let mut resp = match tokio::time::timeout(first, rb.send()).await {
        Ok(r) => r.map_err(|e| http::send_error("post to", &url, &e))?,
        Err(_) => {
            return Err(TaskError::failed(format!(
                "Failed to post to '{url}': no answer within {} s (options.connectTimeout + options.readIdleTimeout)",
                first.as_secs_f64()
            )));
        }
    };
    let status = resp.status();
    let headers: Map<String, Value> = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned())))
        .collect();
    let limit = options.answer_limit();
    let mut body: Vec<u8> = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(idle, resp.chunk()).await {
            Ok(c) => c.map_err(|e| http::send_error("read the answer of", &url, &e))?,
            Err(_) => {
                return Err(TaskError::failed(format!(
                    "Failed to read the answer of '{url}': nothing received for {} s (options.readIdleTimeout)",
                    idle.as_secs_f64()
                )));
            }
        };
        let Some(chunk) = chunk else { break };
        if body.len() + chunk.len() > limit {
            if status.is_success() {
                return Err(TaskError::failed(format!(
                    "the answer of '{url}' is larger than {limit} bytes (options.maxContentLength, at most {MAX_ANSWER}: MAX_NOTIFICATION_ANSWER)"
                )));
            }
            // a failure's start is enough to name it
            body.extend_from_slice(&chunk[..limit.saturating_sub(body.len())]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&body);
    cx.log("DEBUG", &format!("Response: {text}"));
    if !status.is_success() {
        let mut msg = format!("Failed http request with response code '{}' on '{url}'", status.as_u16());
        let quoted: String = text.chars().take(QUOTED).collect();
        if !quoted.trim().is_empty() {
            msg.push_str(&format!(": {}", quoted.trim()));
        }
        return Err(TaskError::failed(msg));
    }
    cx.info(&format!("{what} notification sent ({})", status.as_u16()));
    Ok(Answer { status: status.as_u16(), headers, body: text.into_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_refuse_what_cannot_be_honoured() {
        let o: Options = serde_json::from_value(serde_json::json!({"defaultCharset": "ISO-8859-1"})).unwrap();
        assert!(o.check().unwrap_err().to_string().contains("options.defaultCharset"));
        let o: Options = serde_json::from_value(serde_json::json!({"defaultCharset": "utf-8"})).unwrap();
        assert!(o.check().is_ok());
        assert!(serde_json::from_value::<Options>(serde_json::json!({"followRedirects": true})).is_err());
        let o: Options = serde_json::from_value(serde_json::json!({"maxContentLength": 100})).unwrap();
        assert_eq!(o.answer_limit(), 100);
        let o: Options = serde_json::from_value(serde_json::json!({"maxContentLength": 1_000_000_000u64})).unwrap();
        assert_eq!(o.answer_limit(), MAX_ANSWER);
    }
}
