//! Google Cloud Dataproc (plugin-gcp `dataproc/`): Serverless batches
//! ([`batches`]: `PySparkSubmit`, `SparkSubmit`, `SparkSqlSubmit`,
//! `RSparkSubmit`) and clusters ([`clusters`]: `Create`, `Delete`), over
//! Dataproc's REST API at the region's endpoint
//! (`{region}-dataproc.googleapis.com`, [`super::rest`]) with the task's
//! credentials.
//!
//! What they share is here: the regional host, Kestra's batch ID (the
//! `name` and the execution ID, slugified, cut to 63 characters) and the
//! wait for a cluster operation, read again as Kestra's Java client reads
//! it (after 1 s, the delay doubling up to 10 s) for at most the 15 minutes
//! that client waits.

pub mod batches;
pub mod clusters;
mod environment;

use std::time::{Duration, Instant};

use serde_json::Value;

use super::rest::Api;
use crate::registry::Registry;
use crate::{RunContext, TaskError};

/// The longest wait for a cluster operation: Kestra's client (the Java
/// `ClusterControllerClient`) gives up after 15 minutes.
pub const CLUSTER_OPERATION_MAX: Duration = Duration::from_secs(15 * 60);

/// Registers the Dataproc tasks.
pub fn register(r: &mut Registry) {
    r.register(*batches::PYSPARK);
    r.register(*batches::SPARK);
    r.register(*batches::SPARK_SQL);
    r.register(*batches::SPARK_R);
    r.register(*clusters::CREATE);
    r.register(*clusters::DELETE);
}

/// The regional endpoint of Dataproc in `region`.
pub fn host(region: &str) -> String {
    format!("{region}-dataproc.googleapis.com")
}

/// A region as Dataproc names them (`europe-west1`): also a host name
/// part, so nothing else is let through.
pub fn region_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if baton_model::expr::is_template(s) => Ok(()),
        Some(s) => check_region(s),
        None => Err(format!("expected a region name, found {v}")),
    }
}

/// [`region_ok`] of a rendered region.
pub fn check_region(s: &str) -> Result<(), String> {
    let s = s.trim();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        Ok(())
    } else {
        Err(format!("'{s}' is not a Dataproc region (e.g. europe-west1)"))
    }
}

/// One path segment of a REST path, percent-encoded.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.trim().bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Kestra's batch ID: `rendered` (the name, `-` and the execution ID)
/// slugified as Kestra's `Slugify.of` does — whitespace to `-`, accents
/// folded, anything but letters, digits, `_` and `-` dropped, runs of `-`
/// made one, one `-` trimmed at each end, lower-cased — and cut to 63
/// characters.
pub fn batch_id(rendered: &str) -> String {
    let mut slug = String::with_capacity(rendered.len());
    for c in rendered.chars() {
        let c = if c.is_whitespace() { '-' } else { fold(c) };
        if (c.is_ascii_alphanumeric() || c == '_' || c == '-') && !(c == '-' && slug.ends_with('-')) {
            slug.push(c.to_ascii_lowercase());
        }
    }
    let slug = slug.strip_prefix('-').unwrap_or(&slug);
    let slug = slug.strip_suffix('-').unwrap_or(slug);
    slug.chars().take(63).collect()
}

/// The base letter of a Latin accented letter (what Unicode's canonical
/// decomposition keeps before Kestra drops the marks).
fn fold(c: char) -> char {
    const FROM: &str = "àáâãäåèéêëìíîïòóôõöùúûüýÿñçÀÁÂÃÄÅÈÉÊËÌÍÎÏÒÓÔÕÖÙÚÛÜÝÑÇ";
    const TO: &str = "aaaaaaeeeeiiiiooooouuuuyyncAAAAAAEEEEIIIIOOOOOUUUUYNC";
    FROM.chars().position(|f| f == c).and_then(|i| TO.chars().nth(i)).unwrap_or(c)
}

/// Reads the cluster operation `op` (an answer holding its `name`) again
/// until it is `done`, for at most `max`: the finished operation, or its
/// `error` as the task's failure.
pub async fn wait_operation(
    cx: &RunContext,
    api: &Api,
    op: Value,
    what: &str,
    max: Duration,
) -> Result<Value, TaskError> {
    let started = Instant::now();
    let mut delay = Duration::from_secs(1);
    let mut op = op;
    loop {
        if op["done"].as_bool() == Some(true) {
            if let Some(m) = op["error"]["message"].as_str() {
                return Err(TaskError::failed(format!("Dataproc: {what} failed: {m}")));
            }
            return Ok(op);
        }
        let name = op["name"].as_str().unwrap_or_default().to_string();
        if name.is_empty() {
            return Err(TaskError::failed(format!("Dataproc answered {what} with an operation without a name")));
        }
        if started.elapsed() + delay > max {
            return Err(TaskError::failed(format!(
                "Dataproc: {what} (operation {name}) was not done after {} s, the longest Kestra's client waits",
                max.as_secs()
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
        op = api.get(cx, &format!("/v1/{name}")).await?;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn batch_ids_are_kestra_s_slugs_cut_to_63() {
        assert_eq!(batch_id("test-pyspark-4wjLnsHgJh7ZKrZ6s3VsEl"), "test-pyspark-4wjlnshgjh7zkrz6s3vsel");
        assert_eq!(batch_id("My Job  (daily)-Abc"), "my-job-daily-abc");
        assert_eq!(batch_id("--Été_x--y-"), "ete_x-y");
        let long = batch_id(&format!("{}-5Xyz", "a".repeat(70)));
        assert_eq!(long.len(), 63);
        assert!(long.chars().all(|c| c == 'a'));
    }

    #[test]
    fn regions_and_segments() {
        assert!(region_ok(&json!("europe-west1")).is_ok());
        assert!(region_ok(&json!("{{ secret('GCP_REGION') }}")).is_ok());
        assert!(region_ok(&json!("evil.com/x")).unwrap_err().contains("not a Dataproc region"));
        assert!(check_region("").is_err());
        assert_eq!(seg("my proj/x"), "my%20proj%2Fx");
        assert_eq!(seg("example.com:proj"), "example.com:proj");
        assert_eq!(host("us-east1"), "us-east1-dataproc.googleapis.com");
    }
}
