//! Airbyte (`io.kestra.plugin.airbyte.*`, plugin-airbyte): a connection's
//! sync on a self-managed Airbyte ([`connections`]: `connections.Sync`,
//! `connections.CheckStatus`, Airbyte's configuration API v1) and on
//! Airbyte Cloud ([`cloud`]: `cloud.jobs.Sync`, `cloud.jobs.Reset`,
//! Airbyte's public API v1).
//!
//! What both share is here: a call retried as Kestra's Airbyte client
//! retries it — on 408, 425, 429 and 5xx but 501, a timeout or a failed
//! connection, waiting 1 s, doubled each time up to 15 s, for at most five
//! minutes — with each answer read up to [`MAX_ANSWER`]; and a job
//! followed every `pollFrequency` until it ends, at most `maxDuration`
//! (past it the task fails naming that bound).

pub mod cloud;
pub mod connections;

use std::time::{Duration, Instant};

use reqwest::{RequestBuilder, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;

use crate::core::http;
use crate::{Declare, TaskError, de};

/// The most bytes of one answer read.
pub const MAX_ANSWER: u64 = 16 * 1024 * 1024;
/// The first wait before a retry; doubled each time, at most [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(15);
/// How long a call is retried in all.
const RETRY_FOR: Duration = Duration::from_secs(300);
/// The shortest `pollFrequency` (a shorter one would hammer the API).
pub const MIN_POLL: Duration = Duration::from_millis(100);

/// Registers this family's plugins.
pub fn register(r: &mut crate::Registry) {
    r.register(*connections::SYNC);
    r.register(*connections::CHECK_STATUS);
    r.register(*cloud::SYNC);
    r.register(*cloud::RESET);
}

/// An answer that is worth another try (Kestra's `isRetryableException`).
fn transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 425 | 429) || (status.is_server_error() && status.as_u16() != 501)
}

/// Sends the request `request` builds, retried on transient failures; the
/// last answer (its status and body, whatever the status) or the last
/// failure to send.
pub async fn send(
    url: &Url,
    what: &str,
    request: impl Fn() -> Result<RequestBuilder, TaskError>,
) -> Result<(StatusCode, String), TaskError> {
    let started = Instant::now();
    let mut delay = FIRST_DELAY;
    loop {
        let failed = match request()?.send().await {
            Ok(mut resp) => {
                let status = resp.status();
                let (bytes, over) = http::read_limited(&mut resp, url, MAX_ANSWER).await?;
                if over {
                    return Err(TaskError::failed(format!("Airbyte's answer to {what} is over {MAX_ANSWER} bytes")));
                }
                let body = String::from_utf8_lossy(&bytes).into_owned();
                if !transient(status) || started.elapsed() + delay > RETRY_FOR {
                    return Ok((status, body));
                }
                format!("{}: {}", status.as_u16(), body.chars().take(200).collect::<String>())
            }
            Err(e) if (e.is_timeout() || e.is_connect()) && started.elapsed() + delay <= RETRY_FOR => e.to_string(),
            Err(e) => return Err(http::send_error(what, url, &e)),
        };
        tracing::debug!(what, error = %failed, "airbyte: retrying in {delay:?}");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}

/// A successful answer's JSON; otherwise an error with its status and body.
pub fn json_of(what: &str, (status, body): (StatusCode, String)) -> Result<Value, TaskError> {
    if !status.is_success() {
        let quoted: String = body.chars().take(500).collect();
        return Err(TaskError::failed(format!(
            "Failed request {what} with status {} and body {}",
            status.as_u16(),
            quoted.trim()
        )));
    }
    serde_json::from_str(&body).map_err(|e| TaskError::failed(format!("the answer to {what} is not JSON: {e}")))
}

/// A property's value when it is set to something other than blanks.
pub fn set(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// The body Airbyte's token endpoints take for an application's client
/// credentials.
pub fn credentials(id: &str, secret: &str) -> Value {
    serde_json::json!({"client_id": id, "client_secret": secret, "grant-type": "client_credentials"})
}

/// The `access_token` of a token endpoint's answer to `what`; its absence
/// is blamed on the credentials property `property`.
pub fn access_token(what: &str, answer: (StatusCode, String), property: &str) -> Result<String, TaskError> {
    json_of(what, answer)?["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| TaskError::property(property, "Airbyte gave no access_token for these credentials"))
}

/// How a job is followed: what every Airbyte task that waits takes.
#[derive(Debug, Default, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct WaitProps {
    /// The longest wait for the job to end.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration", default = "\"PT60M\"")]
    max_duration: Option<chrono::TimeDelta>,
    /// The pause between two looks at the job.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration", default = "\"PT1S\"")]
    poll_frequency: Option<chrono::TimeDelta>,
}

impl WaitProps {
    /// `(pollFrequency, maxDuration)`, checked.
    pub fn polling(&self) -> Result<(Duration, Duration), TaskError> {
        let poll = match self.poll_frequency {
            None => Duration::from_secs(1),
            Some(d) => d.to_std().map_err(|_| TaskError::property("pollFrequency", "must not be negative"))?,
        };
        if poll < MIN_POLL {
            return Err(TaskError::property("pollFrequency", format!("must be at least {MIN_POLL:?}")));
        }
        let max = match self.max_duration {
            None => Duration::from_secs(3600),
            Some(d) => d.to_std().map_err(|_| TaskError::property("maxDuration", "must not be negative"))?,
        };
        Ok((poll, max))
    }
}

/// The wait between two looks at a job, bounded by `maxDuration`.
pub struct Poller {
    poll: Duration,
    max: Duration,
    deadline: Instant,
}

impl Poller {
    /// A poller of `(pollFrequency, maxDuration)`, from now.
    pub fn new((poll, max): (Duration, Duration)) -> Poller {
        Poller { poll, max, deadline: Instant::now() + max }
    }

    /// Waits `pollFrequency`; an error naming `what` and `maxDuration` when
    /// the next look would come past it.
    pub async fn wait(&self, what: &str) -> Result<(), TaskError> {
        if Instant::now() + self.poll > self.deadline {
            return Err(TaskError::failed(format!("{what} did not end within maxDuration ({}s)", self.max.as_secs())));
        }
        tokio::time::sleep(self.poll).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kestra_s_transient_answers_are_retried() {
        for code in [408, 425, 429, 500, 502, 503] {
            assert!(transient(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [400, 401, 404, 409, 501] {
            assert!(!transient(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }

    #[test]
    fn polling_is_checked() {
        assert_eq!(WaitProps::default().polling().unwrap(), (Duration::from_secs(1), Duration::from_secs(3600)));
        let fast = WaitProps { poll_frequency: Some(chrono::TimeDelta::milliseconds(10)), ..WaitProps::default() };
        assert!(fast.polling().unwrap_err().to_string().contains("pollFrequency"));
    }
}
