//! Cloud Run Jobs for Docker-runner tasks on Google Cloud (issue 13, item
//! 2): the request bodies of the Cloud Run Admin API v2 (`run.v2`) and the
//! reading of an execution's outcome. Pure: no client, no I/O (the client
//! is `gcp::cloud_run`, the runner `cloudrun_runner`, the result
//! `cloudrun_finish`, the sweep's part `functions::cloud_run_jobs`).
//!
//! The design: one Job per container shape (image, CPU, memory, timeout,
//! service account, bucket), named from a hash of that shape, created once
//! (`jobs.create`, or `jobs.patch` when its shape drifted) and run once per
//! task attempt with `jobs.run` overrides (the command as `args`, the
//! task's `env`), so a task costs one API call to start. The task's working
//! directory is a folder of the internal bucket mounted into the container
//! at the same path through Cloud Run's GCS volume (input and namespace
//! files written there before the run, output files read back after), so
//! any image works without a wrapper. Completion comes back as a message,
//! not a held request; the execution's `succeededCount`/`failedCount`/
//! `cancelledCount` say how it ended. Field names follow Google's discovery
//! document (`GoogleCloudRunV2Job`, `…ExecutionTemplate`, `…TaskTemplate`,
//! `…Container`, `…ResourceRequirements`, `…RunJobRequest`, `…Overrides`,
//! `…ContainerOverride`, `…Execution`).

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Cloud Run's longest task timeout (168 hours).
#[cfg_attr(not(feature = "gcp"), allow(dead_code))]
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(168 * 3600);

/// The container shape a Job is made for.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "gcp"), allow(dead_code))]
pub(crate) struct JobShape {
    pub image: String,
    /// The container's `command`: the task's interpreter (`/bin/sh -c`);
    /// overrides can change `args` only, so it belongs to the shape.
    pub command: Vec<String>,
    /// Kubernetes-style CPU (`"1"`, `"2"`), from `cpu.cpus` rounded up:
    /// Cloud Run Jobs take whole CPUs (or fractions below one only with
    /// little memory); `None`: Cloud Run's default.
    pub cpu: Option<String>,
    /// Memory in MiB, from `memory.memory`.
    pub memory_mib: Option<u64>,
    pub timeout: Duration,
    pub service_account: Option<String>,
    /// The internal bucket, mounted at `mount_path`.
    pub bucket: String,
    pub mount_path: String,
}

#[cfg_attr(not(feature = "gcp"), allow(dead_code))]
impl JobShape {
    /// The Job's id: `baton-` and a hash of the shape (lowercase letters
    /// and digits, under Cloud Run's 63 characters).
    pub fn job_id(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.image.as_str(),
            &self.command.join("\u{1f}"),
            self.cpu.as_deref().unwrap_or(""),
            &self.memory_mib.map(|m| m.to_string()).unwrap_or_default(),
            &self.timeout.as_secs().to_string(),
            self.service_account.as_deref().unwrap_or(""),
            self.bucket.as_str(),
            self.mount_path.as_str(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        let hex: String = h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect();
        format!("baton-{hex}")
    }

    /// The `GoogleCloudRunV2Job` body of `jobs.create` / `jobs.patch`.
    pub fn job_body(&self) -> Value {
        let mut limits = serde_json::Map::new();
        if let Some(c) = &self.cpu {
            limits.insert("cpu".into(), Value::String(c.clone()));
        }
        if let Some(m) = self.memory_mib {
            limits.insert("memory".into(), Value::String(format!("{m}Mi")));
        }
        let mut task = json!({
            "containers": [{
                "name": "task",
                "image": self.image,
                "command": self.command,
                "resources": { "limits": limits },
                "volumeMounts": [{ "name": "work", "mountPath": self.mount_path }],
            }],
            "volumes": [{ "name": "work", "gcs": { "bucket": self.bucket } }],
            "maxRetries": 0,
            "timeout": format!("{}s", self.timeout.min(MAX_TIMEOUT).as_secs().max(1)),
            "executionEnvironment": "EXECUTION_ENVIRONMENT_GEN2",
        });
        if let Some(sa) = &self.service_account {
            task["serviceAccount"] = Value::String(sa.clone());
        }
        json!({
            "labels": { "managed-by": "baton" },
            "template": { "taskCount": 1, "parallelism": 1, "template": task },
        })
    }
}

/// `cpu.cpus` as Cloud Run wants it: whole CPUs, at least one.
#[cfg_attr(not(feature = "gcp"), allow(dead_code))]
pub(crate) fn cloud_run_cpu(cpus: &str) -> Option<String> {
    let n: f64 = cpus.trim().parse().ok()?;
    (n.is_finite() && n > 0.0).then(|| format!("{}", n.ceil().max(1.0) as u64))
}

/// The `GoogleCloudRunV2RunJobRequest` of one task attempt: the script
/// text as the container's `args` (after the Job's `command`, the
/// interpreter), `env` as plain values, the attempt's timeout.
#[cfg_attr(not(feature = "gcp"), allow(dead_code))]
pub(crate) fn run_request(args: &[String], env: &[(String, String)], timeout: Duration) -> Value {
    let env: Vec<Value> = env.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect();
    json!({
        "overrides": {
            "containerOverrides": [{ "name": "task", "args": args, "env": env }],
            "taskCount": 1,
            "timeout": format!("{}s", timeout.min(MAX_TIMEOUT).as_secs().max(1)),
        }
    })
}

/// How a Cloud Run execution stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Running,
    Succeeded,
    Failed(String),
    Cancelled,
}

/// Reads a `GoogleCloudRunV2Execution`: its counts, then the `Completed`
/// condition's message for the reason of a failure.
pub fn outcome(execution: &Value) -> Outcome {
    let count = |k: &str| execution.get(k).and_then(Value::as_i64).unwrap_or(0);
    if count("cancelledCount") > 0 {
        return Outcome::Cancelled;
    }
    if count("failedCount") > 0 {
        let reason = execution
            .get("conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| c.get("type").and_then(Value::as_str) == Some("Completed"))
            .and_then(|c| c.get("message").and_then(Value::as_str))
            .unwrap_or("the task failed")
            .to_string();
        return Outcome::Failed(reason);
    }
    if count("succeededCount") >= execution.get("taskCount").and_then(Value::as_i64).unwrap_or(1).max(1) {
        return Outcome::Succeeded;
    }
    Outcome::Running
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> JobShape {
        JobShape {
            image: "ghcr.io/kestra-io/dbt-bigquery:latest".into(),
            command: vec!["/bin/sh".into(), "-c".into()],
            cpu: cloud_run_cpu("1.5"),
            memory_mib: Some(512),
            timeout: Duration::from_secs(3 * 3600),
            service_account: Some("tasks@p.iam.gserviceaccount.com".into()),
            bucket: "p-baton-internal".into(),
            mount_path: "/work".into(),
        }
    }

    #[test]
    fn a_job_per_shape() {
        let a = shape();
        let id = a.job_id();
        assert!(id.starts_with("baton-") && id.len() <= 63, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        assert_eq!(id, shape().job_id());
        assert_ne!(id, JobShape { memory_mib: Some(1024), ..shape() }.job_id());
        let b = a.job_body();
        let t = &b["template"]["template"];
        assert_eq!(t["containers"][0]["resources"]["limits"], json!({"cpu": "2", "memory": "512Mi"}));
        assert_eq!(t["containers"][0]["command"], json!(["/bin/sh", "-c"]));
        assert_eq!(t["timeout"], "10800s");
        assert_eq!(t["maxRetries"], 0);
        assert_eq!(t["volumes"][0]["gcs"]["bucket"], "p-baton-internal");
        assert_eq!(t["serviceAccount"], "tasks@p.iam.gserviceaccount.com");
        let long = JobShape { timeout: Duration::from_secs(400 * 3600), ..shape() }.job_body();
        assert_eq!(long["template"]["template"]["timeout"], "604800s");
    }

    #[test]
    fn a_run_overrides_command_and_env() {
        let r = run_request(&["echo hi".into()], &[("A".into(), "1".into())], Duration::from_secs(60));
        assert_eq!(r["overrides"]["containerOverrides"][0]["args"], json!(["echo hi"]));
        assert_eq!(r["overrides"]["containerOverrides"][0]["env"], json!([{"name": "A", "value": "1"}]));
        assert_eq!(r["overrides"]["timeout"], "60s");
    }

    #[test]
    fn outcomes() {
        assert_eq!(outcome(&json!({"taskCount": 1, "runningCount": 1})), Outcome::Running);
        assert_eq!(outcome(&json!({"taskCount": 1, "succeededCount": 1})), Outcome::Succeeded);
        assert_eq!(outcome(&json!({"taskCount": 1, "cancelledCount": 1})), Outcome::Cancelled);
        let failed = json!({"taskCount": 1, "failedCount": 1,
            "conditions": [{"type": "Completed", "state": "CONDITION_FAILED", "message": "Task exited with code 3"}]});
        assert_eq!(outcome(&failed), Outcome::Failed("Task exited with code 3".into()));
        assert_eq!(cloud_run_cpu("0.25").as_deref(), Some("1"));
        assert_eq!(cloud_run_cpu("x"), None);
    }
}
