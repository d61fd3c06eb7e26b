//! The one Cloud Scheduler job Baton controls itself: the sweep, paused
//! by the last sweep that finds nothing in flight and resumed when work
//! starts (`functions::idle`), so a deployment with nothing due receives
//! no request at all. Google's own client (`google-cloud-scheduler-v1`,
//! HTTP/JSON), with Application Default Credentials on Cloud Run, or an
//! endpoint and no credentials for a local stand-in
//! (`BATON_CLOUD_SCHEDULER_ENDPOINT`).

use async_trait::async_trait;
use google_cloud_scheduler_v1::client::CloudScheduler;

/// Pauses and resumes one job. Both are idempotent.
#[async_trait]
pub trait SweepJob: Send + Sync {
    /// The job's full name (`projects/P/locations/R/jobs/baton-sweep`).
    fn name(&self) -> &str;
    async fn pause(&self) -> Result<(), String>;
    async fn resume(&self) -> Result<(), String>;
}

/// A job on Cloud Scheduler.
pub struct CloudSchedulerJob {
    client: CloudScheduler,
    name: String,
}

impl CloudSchedulerJob {
    /// A client for job `name`; on `endpoint` without credentials when given.
    pub async fn new(name: &str, endpoint: Option<&str>) -> Result<CloudSchedulerJob, String> {
        let valid = name.split('/').count() == 6
            && name.starts_with("projects/")
            && name.split('/').nth(2) == Some("locations")
            && name.split('/').nth(4) == Some("jobs")
            && name.split('/').all(|p| !p.is_empty());
        if !valid {
            return Err(format!("'{name}' is not a job name like projects/P/locations/R/jobs/J"));
        }
        let mut builder = CloudScheduler::builder();
        if let Some(e) = endpoint {
            builder = builder
                .with_endpoint(e)
                .with_credentials(google_cloud_auth::credentials::anonymous::Builder::new().build());
        }
        let client = builder.build().await.map_err(|e| format!("cannot set up the Cloud Scheduler client: {e}"))?;
        Ok(CloudSchedulerJob { client, name: name.to_string() })
    }
}

#[async_trait]
impl SweepJob for CloudSchedulerJob {
    fn name(&self) -> &str {
        &self.name
    }

    async fn pause(&self) -> Result<(), String> {
        self.client
            .pause_job()
            .set_name(&self.name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot pause Cloud Scheduler job {}: {e}", self.name))
    }

    async fn resume(&self) -> Result<(), String> {
        self.client
            .resume_job()
            .set_name(&self.name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot resume Cloud Scheduler job {}: {e}", self.name))
    }
}
