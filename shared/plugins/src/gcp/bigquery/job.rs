//! Running a BigQuery job as Kestra does: the properties every BigQuery
//! task shares (`location`, `retryReasons`, `retryMessages` on top of the
//! GCP ones), job ids and Kestra's job labels, start → poll to DONE with
//! backoff, automatic retries for transient reasons (exponential from 5 s,
//! at most 10 attempts and 15 minutes), and failure messages that carry
//! BigQuery's message and point at the `[line:column]` in the SQL.

use std::time::{Duration, Instant};

use gcp_bigquery_client::model::error_proto::ErrorProto;
use gcp_bigquery_client::model::job::Job;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::common::{GcpProps, Resolved, bq_error};
use crate::{Declare, RunContext, TaskError, de};
use baton_gcp::bigquery::{BigQueryClient, BqError};

const RETRY_REASONS: &[&str] =
    &["rateLimitExceeded", "jobBackendError", "backendError", "internalError", "jobInternalError"];
const RETRY_MESSAGES: &[&str] =
    &["due to concurrent update", "Retrying the job may solve the problem", "Retrying may solve the problem"];
const MAX_ATTEMPTS: u32 = 10;
const MAX_RETRY_TIME: Duration = Duration::from_secs(15 * 60);

/// What every BigQuery task has, `#[serde(flatten)]`ed into its properties.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct BqProps {
    #[serde(flatten)]
    pub gcp: GcpProps,
    /// The BigQuery location (EU, US, europe-west1…).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub location: Option<String>,
    /// BigQuery error reasons that retry the job.
    #[serde(default, deserialize_with = "opt_list")]
    pub retry_reasons: Option<Vec<String>>,
    /// BigQuery error messages that retry the job.
    #[serde(default, deserialize_with = "opt_list")]
    pub retry_messages: Option<Vec<String>>,
}

fn opt_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    de::string_or_list(d).map(Some)
}

impl BqProps {
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref().map(str::trim).filter(|l| !l.is_empty())
    }
}

/// Why a job ended badly: BigQuery's errors, first the job's `errorResult`.
fn job_errors(job: &Job) -> Vec<ErrorProto> {
    let Some(status) = &job.status else { return Vec::new() };
    let mut all: Vec<ErrorProto> = status.error_result.iter().cloned().collect();
    for e in status.errors.iter().flatten() {
        if !all.iter().any(|x| x.message == e.message && x.reason == e.reason) {
            all.push(e.clone());
        }
    }
    all
}

/// Removes terminal colour codes some engines put in messages.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `[line:col]` (BigQuery) or `Line L, Col: C` in a message.
fn sql_position(message: &str) -> Option<(usize, usize)> {
    let re = regex::Regex::new(r"\[(\d+):(\d+)\]|Line (\d+), Col: (\d+)").ok()?;
    let c = re.captures(message)?;
    let line = c.get(1).or_else(|| c.get(3))?.as_str().parse().ok()?;
    let col = c.get(2).or_else(|| c.get(4))?.as_str().parse().ok()?;
    Some((line, col))
}

/// The SQL line at `(line, col)` with a caret under the column.
pub fn sql_excerpt(sql: &str, (line, col): (usize, usize)) -> Option<String> {
    let text = sql.lines().nth(line.checked_sub(1)?)?;
    let num = line.to_string();
    let pad = " ".repeat(num.len());
    let caret = " ".repeat(text.chars().take(col.saturating_sub(1)).count());
    Some(format!("at line {line}, column {col} of the SQL:\n  {num} | {text}\n  {pad} | {caret}^"))
}

/// The message of a failed job, with the SQL excerpt when BigQuery gives a position.
pub fn failure_message(job_id: &str, errors: &[ErrorProto], sql: Option<&str>) -> String {
    let describe = |e: &ErrorProto| {
        let msg = strip_ansi(e.message.as_deref().unwrap_or("unknown error"));
        match e.reason.as_deref() {
            Some(r) => format!("{msg} ({r})"),
            None => msg,
        }
    };
    let mut text = match errors.first() {
        Some(e) => format!("BigQuery job '{job_id}' failed: {}", describe(e)),
        None => format!("BigQuery job '{job_id}' failed"),
    };
    for e in errors.iter().skip(1) {
        text.push_str(&format!("\n - {}", describe(e)));
    }
    if let Some(sql) = sql
        && let Some(excerpt) = errors
            .iter()
            .find_map(|e| e.message.as_deref().and_then(sql_position))
            .and_then(|pos| sql_excerpt(sql, pos))
    {
        text.push('\n');
        text.push_str(&excerpt);
    }
    text
}

/// Kestra's job labels (`kestra_namespace`, `kestra_flow_id`, …) with the task's own.
pub fn job_labels(cx: &RunContext, own: &[(String, String)]) -> Map<String, Value> {
    let clean = |s: &str| {
        let v: String = s
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' { c } else { '_' })
            .collect();
        v.chars().take(63).collect::<String>()
    };
    let mut m = Map::new();
    m.insert("kestra_namespace".into(), Value::String(clean(&cx.namespace)));
    m.insert("kestra_flow_id".into(), Value::String(clean(&cx.flow_id)));
    m.insert("kestra_execution_id".into(), Value::String(clean(&cx.execution_id)));
    m.insert("kestra_task_id".into(), Value::String(clean(&cx.task_id)));
    for (k, v) in own {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    m
}

/// A fresh job id: the task id and a random suffix.
pub fn new_job_id(cx: &RunContext) -> String {
    let task: String = cx
        .task_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .take(200)
        .collect();
    format!("baton_{task}_{}", uuid::Uuid::new_v4().simple())
}

/// Runs jobs for one task.
pub struct Jobs<'a> {
    pub cx: &'a RunContext,
    pub bq: &'a BigQueryClient,
    pub project: String,
    pub location: Option<String>,
    reasons: Vec<String>,
    messages: Vec<String>,
}

impl<'a> Jobs<'a> {
    pub fn new(cx: &'a RunContext, bq: &'a BigQueryClient, r: &Resolved, p: &BqProps) -> Result<Jobs<'a>, TaskError> {
        Ok(Jobs {
            cx,
            bq,
            project: r.project()?.to_string(),
            location: p.location().map(str::to_string),
            reasons: p.retry_reasons.clone().unwrap_or_else(|| RETRY_REASONS.iter().map(|s| s.to_string()).collect()),
            messages: p
                .retry_messages
                .clone()
                .unwrap_or_else(|| RETRY_MESSAGES.iter().map(|s| s.to_string()).collect()),
        })
    }

    /// `jobReference` for a new job.
    pub fn reference(&self, job_id: &str) -> Value {
        let mut r = serde_json::json!({"projectId": self.project, "jobId": job_id});
        if let Some(l) = &self.location {
            r["location"] = Value::String(l.clone());
        }
        r
    }

    fn retryable(&self, reason: Option<&str>, message: &str) -> bool {
        reason.is_some_and(|r| self.reasons.iter().any(|x| x == r))
            || self.messages.iter().any(|m| message.to_lowercase().contains(&m.to_lowercase()))
    }

    /// Starts a job with `start(job_id)`, waits for it (unless `dry_run`)
    /// and retries transient failures. A failed job is an error naming
    /// BigQuery's message and, for a query, where in `sql` it is.
    pub async fn run<F, Fut>(&self, start: F, sql: Option<&str>, dry_run: bool) -> Result<Job, TaskError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<Job, BqError>>,
    {
        let began = Instant::now();
        let mut delay = Duration::from_secs(5);
        let mut attempt = 1;
        loop {
            let job_id = new_job_id(self.cx);
            let span = baton_backend::io_span!(
                "bigquery.job",
                otel.kind = "client",
                db.system = "bigquery",
                gcp.bigquery.job_id = %job_id,
                gcp.project_id = %self.project,
                db.statement = %sql.map(|q| self.cx.mask_text(&q.chars().take(2000).collect::<String>())).unwrap_or_default(),
            );
            let outcome = tracing::Instrument::instrument(
                async {
                    match start(job_id.clone()).await {
                        Ok(job) if dry_run => Ok(job),
                        Ok(job) => self.bq.wait_job(&self.project, job).await,
                        Err(e) => Err(e),
                    }
                },
                span,
            )
            .await;
            let (retry, err) = match outcome {
                Ok(job) => {
                    let errors = job_errors(&job);
                    if errors.is_empty() {
                        return Ok(job);
                    }
                    let id = job.job_reference.as_ref().and_then(|r| r.job_id.clone()).unwrap_or(job_id);
                    let retry = errors
                        .iter()
                        .any(|e| self.retryable(e.reason.as_deref(), e.message.as_deref().unwrap_or_default()));
                    (retry, TaskError::failed(failure_message(&id, &errors, sql)))
                }
                Err(BqError::Api { op, status, reason, message }) => {
                    let retry = self.retryable(reason.as_deref(), &message) || status == 429 || status >= 500;
                    let mut text = BqError::Api { op, status, reason, message: strip_ansi(&message) }.to_string();
                    if let Some(excerpt) = sql.zip(sql_position(&message)).and_then(|(s, p)| sql_excerpt(s, p)) {
                        text.push('\n');
                        text.push_str(&excerpt);
                    }
                    (retry, TaskError::failed(text))
                }
                Err(e) => (false, bq_error(e)),
            };
            if !retry || attempt >= MAX_ATTEMPTS || began.elapsed() + delay > MAX_RETRY_TIME {
                return Err(err);
            }
            self.cx.warn(&format!("{err}\nRetrying, attempt {attempt}, in {} s", delay.as_secs()));
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(60));
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(reason: &str, message: &str) -> ErrorProto {
        serde_json::from_value(serde_json::json!({"reason": reason, "message": message, "location": "query"})).unwrap()
    }

    #[test]
    fn failures_point_into_the_sql() {
        let sql = "SELECT 1;\nSELEC x FROM t";
        let m = failure_message(
            "j1",
            &[err("invalidQuery", "Syntax error: Unexpected identifier \"SELEC\" at [2:1]")],
            Some(sql),
        );
        assert_eq!(
            m,
            "BigQuery job 'j1' failed: Syntax error: Unexpected identifier \"SELEC\" at [2:1] (invalidQuery)\n\
             at line 2, column 1 of the SQL:\n  2 | SELEC x FROM t\n    | ^"
        );
        let m = failure_message(
            "j2",
            &[err("invalidQuery", "Expected table name. Line 1, Col: 8.\n  SELECT \u{1b}[4mFROM\u{1b}[0m")],
            Some("SELECT FROM"),
        );
        assert!(m.contains("SELECT FROM (invalidQuery)") && !m.contains('\u{1b}'), "{m}");
        assert!(m.ends_with("  1 | SELECT FROM\n    |        ^"), "{m}");
        let m = failure_message("j3", &[err("notFound", "Not found: Dataset p:nope"), err("x", "second")], None);
        assert_eq!(m, "BigQuery job 'j3' failed: Not found: Dataset p:nope (notFound)\n - second (x)");
    }
}
