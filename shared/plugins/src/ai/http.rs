//! One JSON call to an AI service, shared by every provider, retriever and
//! web-search tool: the request is sent, a 429 or 5xx is retried with
//! backoff (the service's `Retry-After` when it gives one), and a failure
//! becomes an [`AiError`] naming the service, the model and the service's
//! own message — with every secret (API keys) replaced by `******`. A
//! response is read up to [`MAX_RESPONSE`] bytes (or a task's own bound).

use std::time::Duration;

use serde_json::Value;

use super::AiError;
use super::config::AiConfig;
use crate::RunContext;

/// The most bytes of a response read by [`call_json`]: a longer one fails
/// the task, naming the bound.
pub const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// The most bytes of an error response read (for its message).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Who is called, for messages: e.g. `GoogleGemini model 'gemini-2.5-flash'`.
#[derive(Debug, Clone)]
pub struct Callee {
    pub what: String,
    /// Values never to show (API keys, tokens).
    pub secrets: Vec<String>,
}

impl Callee {
    pub fn new(what: impl Into<String>) -> Callee {
        Callee { what: what.into(), secrets: vec![] }
    }

    pub fn secret(mut self, s: Option<&str>) -> Callee {
        if let Some(s) = s.filter(|s| !s.is_empty()) {
            self.secrets.push(s.to_string());
        }
        self
    }

    /// `msg` with the secrets masked.
    pub fn scrub(&self, msg: &str) -> String {
        let mut m = msg.to_string();
        for s in &self.secrets {
            m = m.replace(s.as_str(), "******");
        }
        m
    }

    pub fn error(&self, cause: impl AsRef<str>) -> AiError {
        AiError::Call { callee: self.what.clone(), cause: self.scrub(cause.as_ref()) }
    }
}

/// The service's error message in a JSON error body (`{"error":{"message":…}}`,
/// Google's and OpenAI's shape), or the start of the body.
fn service_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let m = v.pointer("/error/message").or_else(|| v.get("detail")).or_else(|| v.get("message"));
        if let Some(Value::String(s)) = m {
            return s.clone();
        }
        if let Some(Value::String(s)) = v.get("error") {
            return s.clone();
        }
    }
    body.chars().take(300).collect::<String>().trim().to_string()
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The body of `resp`, or `None` when it is longer than `limit` bytes.
async fn read_capped(mut resp: reqwest::Response, limit: usize) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// Sends `build()` (a fresh request per attempt) and returns the JSON body,
/// read up to [`MAX_RESPONSE`] bytes.
pub async fn call_json(
    cx: &RunContext,
    cfg: &AiConfig,
    callee: &Callee,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Value, AiError> {
    call_json_limited(cx, cfg, callee, MAX_RESPONSE, "MAX_RESPONSE", build).await
}

/// [`call_json`] with the response bounded by `limit` bytes (`bound` names
/// the bound in the error).
pub async fn call_json_limited(
    cx: &RunContext,
    cfg: &AiConfig,
    callee: &Callee,
    limit: usize,
    bound: &str,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Value, AiError> {
    let mut delay = cfg.backoff;
    let mut attempt = 0u32;
    loop {
        let resp = build()
            .send()
            .await
            .map_err(|e| callee.error(format!("cannot reach the service: {}", baton_backend::causes(&e))))?;
        let status = resp.status();
        if status.is_success() {
            let body = read_capped(resp, limit)
                .await
                .map_err(|e| callee.error(format!("cannot read the response: {e}")))?
                .ok_or_else(|| callee.error(format!("the response is larger than {limit} bytes ({bound})")))?;
            return serde_json::from_slice(&body).map_err(|e| callee.error(format!("the response is not JSON: {e}")));
        }
        let wait = retry_after(&resp);
        let body = match read_capped(resp, MAX_ERROR_BODY).await {
            Ok(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
            Ok(None) => format!("(an error body longer than {MAX_ERROR_BODY} bytes)"),
            Err(_) => String::new(),
        };
        let msg = service_message(&body);
        let retryable = status.as_u16() == 429 || matches!(status.as_u16(), 500 | 502 | 503 | 504);
        if retryable && attempt < cfg.max_retries {
            attempt += 1;
            let d = wait.unwrap_or(delay);
            cx.warn(&callee.scrub(&format!(
                "{}: HTTP {} ({msg}); retry {attempt}/{} in {} ms",
                callee.what,
                status.as_u16(),
                cfg.max_retries,
                d.as_millis()
            )));
            tokio::time::sleep(d).await;
            delay *= 2;
            continue;
        }
        let hint = match status.as_u16() {
            400 if msg.to_ascii_lowercase().contains("api key") => " (check apiKey)",
            401 | 403 => " (check apiKey / credentials)",
            404 => " (check modelName and baseUrl)",
            429 => " (rate limited; retries exhausted)",
            _ => "",
        };
        let retried = if attempt > 0 { format!(" after {attempt} retries") } else { String::new() };
        return Err(callee.error(format!("HTTP {}{retried}: {msg}{hint}", status.as_u16())));
    }
}

/// `base` without a trailing slash.
pub fn trim_base(base: &str) -> &str {
    base.trim_end_matches('/')
}
