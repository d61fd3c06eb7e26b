//! dbt Cloud's API v2 as Kestra's `AbstractDbtCloud` reaches it: the
//! properties every dbt Cloud task has (`baseUrl`, `accountId`, `token`,
//! `maxRetries`, `initialDelayMs`; `options`, Kestra's HTTP client
//! configuration, refused by name), requests with `Authorization: Bearer`
//! retried on transient errors (502, 503, 504, a connection or read
//! failure) with Kestra's backoff (`initialDelayMs`, doubled each time, at
//! most 30 s apart, `maxRetries` attempts in all), and answers read whole,
//! each bounded by [`MAX_DBT_ARTIFACT_BYTES`].

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;

use crate::config::MAX_DBT_ARTIFACT_BYTES;
use crate::{Declare, RunContext, TaskError, de};

/// dbt Cloud's multi-tenant URL, when `baseUrl` is not set.
const DEFAULT_BASE_URL: &str = "https://cloud.getdbt.com";
/// The longest wait between two attempts (Kestra's `maxInterval`).
const MAX_RETRY_INTERVAL: Duration = Duration::from_secs(30);
/// The characters of a failed answer quoted in the error.
const QUOTED: usize = 500;

fn options_refused(v: &Value) -> Result<(), String> {
    if v.is_null() {
        return Ok(());
    }
    Err("Kestra's HTTP client configuration is not carried out by Baton, which refuses it rather than ignore \
         it: remove `options` (Baton's HTTP client applies)"
        .into())
}

/// The connection properties of every dbt Cloud task (Kestra's
/// `AbstractDbtCloud`), `#[serde(flatten)]`ed into each task's.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The base URL of the dbt Cloud tenant.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"https://cloud.getdbt.com\"")]
    base_url: Option<String>,
    /// The numeric ID of the dbt Cloud account.
    #[serde(deserialize_with = "de::string_lenient")]
    account_id: String,
    /// The API key, sent as `Authorization: Bearer …`.
    #[serde(deserialize_with = "de::string_lenient")]
    token: String,
    /// Attempts in all for one request, on transient errors (502, 503, 504, connection or read failures).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "3")]
    max_retries: Option<u64>,
    /// The wait before the first retry, in milliseconds; doubled at each retry, at most 30 s.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "1000")]
    initial_delay_ms: Option<u64>,
    /// Refused: Kestra's HTTP client configuration (timeouts, proxy…), which Baton does not carry out.
    #[serde(default)]
    #[prop(kind = "Map", check = options_refused)]
    options: Value,
}

/// A client of one account, for one task run.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    account: String,
    token: String,
    attempts: u64,
    initial_delay: Duration,
}

/// An answer: its status and body (read whole, bounded).
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Api {
    /// The client `c` describes; a bad `baseUrl` or `options` is an error
    /// naming it.
    pub fn new(c: &Connection) -> Result<Api, TaskError> {
        options_refused(&c.options).map_err(|e| TaskError::property("options", e))?;
        let base = c.base_url.as_deref().map(str::trim).filter(|b| !b.is_empty()).unwrap_or(DEFAULT_BASE_URL);
        crate::core::http::parse_uri("baseUrl", base)?;
        let account = c.account_id.trim();
        if account.is_empty() || account.contains(['/', '?', '#']) {
            return Err(TaskError::property("accountId", format!("'{account}' is not a dbt Cloud account ID")));
        }
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            account: account.to_string(),
            token: c.token.trim().to_string(),
            attempts: c.max_retries.unwrap_or(3).max(1),
            initial_delay: Duration::from_millis(c.initial_delay_ms.unwrap_or(1000)),
        })
    }

    /// The URL of `path` under the account (`/runs/7/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v2/accounts/{}{path}", self.base, self.account)
    }

    /// Sends one request, retried on transient errors; the answer whatever
    /// its status (the caller decides what a 404 means).
    pub async fn send(
        &self,
        cx: &RunContext,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Answer, TaskError> {
        let parsed = Url::parse(url).map_err(|e| TaskError::failed(format!("'{url}' is not a URL: {e}")))?;
        let what = format!("{method} {}", parsed.path());
        let mut delay = self.initial_delay;
        let mut attempt = 1;
        loop {
            let mut rb = cx
                .services
                .http
                .request(method.clone(), parsed.clone())
                .header(reqwest::header::AUTHORIZATION, format!("Bearer {}", self.token))
                .header(reqwest::header::CONTENT_TYPE, "application/json");
            if let Some(b) = body {
                rb = rb.body(b.to_string());
            }
            // the answer, or the transient error to retry
            let e = match rb.send().await {
                Ok(mut resp) => {
                    let status = resp.status();
                    match crate::core::http::read_limited(&mut resp, &parsed, MAX_DBT_ARTIFACT_BYTES).await {
                        Ok((_, true)) => {
                            return Err(TaskError::failed(format!(
                                "dbt Cloud's answer to {what} is larger than {} MiB, the most Baton reads \
                                 (MAX_DBT_ARTIFACT_BYTES)",
                                MAX_DBT_ARTIFACT_BYTES >> 20
                            )));
                        }
                        Ok((body, false)) if matches!(status.as_u16(), 502..=504) => {
                            TaskError::failed(answer_error(&what, status, &body))
                        }
                        Ok((body, false)) => return Ok(Answer { status, body }),
                        Err(e) => e,
                    }
                }
                Err(e) => crate::core::http::send_error("call dbt Cloud at", &parsed, &e),
            };
            if attempt >= self.attempts {
                return Err(if self.attempts > 1 {
                    TaskError::failed(format!("{e} (after {attempt} attempts, maxRetries)"))
                } else {
                    e
                });
            }
            cx.warn(&format!("{e}; retrying in {} ms (attempt {attempt} of {})", delay.as_millis(), self.attempts));
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_RETRY_INTERVAL);
            attempt += 1;
        }
    }

    /// A request whose answer must be a 2xx JSON document.
    pub async fn json(
        &self,
        cx: &RunContext,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value, TaskError> {
        let what = format!("{method} {}", Url::parse(url).map(|u| u.path().to_string()).unwrap_or_default());
        let a = self.send(cx, method, url, body).await?;
        if !a.status.is_success() {
            return Err(TaskError::failed(answer_error(&what, a.status, &a.body)));
        }
        serde_json::from_slice(&a.body)
            .map_err(|e| TaskError::failed(format!("dbt Cloud's answer to {what} is not JSON: {e}")))
    }
}

/// The error of a non-2xx answer, quoting its start.
pub fn answer_error(what: &str, status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let quoted: String = text.chars().take(QUOTED).collect();
    format!("dbt Cloud answered {} to {what}: {}", status.as_u16(), quoted.trim())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn api(v: Value) -> Result<Api, TaskError> {
        let c: Connection = serde_json::from_value(v).unwrap();
        Api::new(&c)
    }

    #[test]
    fn urls_retries_and_refusals_follow_kestra() {
        let a = api(json!({"accountId": 12, "token": "t"})).unwrap();
        assert_eq!(a.url("/jobs/3/run/"), "https://cloud.getdbt.com/api/v2/accounts/12/jobs/3/run/");
        assert_eq!((a.attempts, a.initial_delay), (3, Duration::from_secs(1)));
        let a =
            api(json!({"accountId": "12", "token": "t", "baseUrl": "http://127.0.0.1:9/", "maxRetries": 0})).unwrap();
        assert_eq!(a.url("/runs/5/"), "http://127.0.0.1:9/api/v2/accounts/12/runs/5/");
        assert_eq!(a.attempts, 1, "one attempt at least");
        let e = api(json!({"accountId": "1", "token": "t", "options": {"readTimeout": "PT1M"}})).err().unwrap();
        assert!(e.to_string().contains("options"), "{e}");
        assert!(api(json!({"accountId": "1", "token": "t", "baseUrl": "ftp://x"})).is_err());
        assert!(api(json!({"accountId": "1/../2", "token": "t"})).is_err());
    }
}
