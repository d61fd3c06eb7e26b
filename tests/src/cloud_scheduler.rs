//! A Cloud Scheduler stand-in for the deployed-system tests (no emulator
//! exists): the three methods Baton calls on the sweep job — `jobs.get`,
//! `jobs.pause`, `jobs.resume` — at the paths and with the `Job` shape of
//! Google's published discovery document (`cloudscheduler.v1.json`, which
//! `scripts/setup/gcp.sh` extracts from google-api-python-client; the
//! tests check every request made and every field answered against it), and
//! the job's ticks: while the job is ENABLED it publishes its body on its
//! topic every `every`, as Cloud Scheduler would every minute.
//!
//! Jobs created later with [`FakeCloudScheduler::create_job`] (those
//! `terraform/modules/schedules` derives from the flows) tick on their own
//! five-field cron in their time zone, in real time, not accelerated: each
//! cron instant publishes the job's body `copies` times, a little after the
//! instant (Cloud Scheduler delivers at least once, seconds late).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::functions::{Served, serve};

/// The stand-in's record of one job.
#[derive(Debug, Clone)]
pub struct FakeJob {
    pub name: String,
    pub state: &'static str,
    pub topic: String,
    pub data: Vec<u8>,
    pub attributes: Value,
    /// Five-field unix-cron (the sweep's is nominal: it ticks every `every`).
    pub schedule: String,
    pub time_zone: String,
    pub description: String,
}

#[derive(Default)]
struct Inner {
    jobs: Vec<FakeJob>,
    requests: Vec<(String, String)>,
    /// Publications of each cron job: (job name, when).
    published: Vec<(String, chrono::DateTime<chrono::Utc>)>,
}

/// The stand-in, served on a local port.
#[derive(Clone)]
pub struct FakeCloudScheduler {
    /// `http://127.0.0.1:PORT` (`BATON_CLOUD_SCHEDULER_ENDPOINT`).
    pub endpoint: String,
    inner: Arc<Mutex<Inner>>,
    ticks: Arc<AtomicU64>,
    pubsub_host: String,
    _server: Arc<Served>,
}

fn job_json(j: &FakeJob) -> Value {
    json!({
        "name": j.name,
        "description": j.description,
        "schedule": j.schedule,
        "timeZone": j.time_zone,
        "state": j.state,
        "pubsubTarget": {
            "topicName": j.topic,
            "data": base64::engine::general_purpose::STANDARD.encode(&j.data),
            "attributes": j.attributes,
        },
        "userUpdateTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

async fn handle(State(inner): State<Arc<Mutex<Inner>>>, method: Method, Path(rest): Path<String>) -> Response {
    let mut g = inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    g.requests.push((method.to_string(), format!("v1/{rest}")));
    let (name, verb) = match rest.rsplit_once(':') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (rest.clone(), None),
    };
    let Some(job) = g.jobs.iter_mut().find(|j| j.name == name) else {
        let body = json!({"error": {"code": 404, "message": format!("Job not found: {name}"), "status": "NOT_FOUND"}});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    match (method, verb.as_deref()) {
        (Method::GET, None) => {}
        (Method::POST, Some("pause")) => job.state = "PAUSED",
        (Method::POST, Some("resume")) => job.state = "ENABLED",
        _ => return StatusCode::NOT_FOUND.into_response(),
    }
    Json(job_json(job)).into_response()
}

impl FakeCloudScheduler {
    /// Starts the stand-in with `job` (as Terraform creates it), ticking
    /// every `every` on the Pub/Sub emulator at `pubsub_host` while enabled.
    pub async fn start(job: FakeJob, pubsub_host: &str, every: Duration) -> FakeCloudScheduler {
        let sweep = job.name.clone();
        let inner = Arc::new(Mutex::new(Inner { jobs: vec![job], ..Inner::default() }));
        let router = axum::Router::new().route("/v1/{*rest}", axum::routing::any(handle)).with_state(inner.clone());
        let served = serve(router).await;
        let ticks = Arc::new(AtomicU64::new(0));
        let (t_inner, t_ticks, host) = (inner.clone(), ticks.clone(), pubsub_host.to_string());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                tokio::time::sleep(every).await;
                let due: Vec<FakeJob> = {
                    let g = t_inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    g.jobs.iter().filter(|j| j.name == sweep && j.state == "ENABLED").cloned().collect()
                };
                for j in due {
                    let msg = json!({"messages": [{
                        "data": base64::engine::general_purpose::STANDARD.encode(&j.data),
                        "attributes": j.attributes,
                    }]});
                    let url = format!("http://{host}/v1/{}:publish", j.topic);
                    if http.post(url).json(&msg).send().await.is_ok_and(|r| r.status().is_success()) {
                        t_ticks.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        });
        FakeCloudScheduler {
            endpoint: served.url.trim_end_matches('/').to_string(),
            inner,
            ticks,
            pubsub_host: pubsub_host.to_string(),
            _server: Arc::new(served),
        }
    }

    /// Creates `job` (as Terraform's `google_cloud_scheduler_job.schedule`)
    /// and ticks it on its cron in real time while ENABLED: each instant
    /// publishes its body `copies` times, 300 ms apart, from 200 ms after
    /// the instant. Panics on a cron Cloud Scheduler would refuse.
    pub fn create_job(&self, job: FakeJob, copies: usize) {
        let cron = shared::schedule::Cron::parse(&job.schedule, false, Some(&job.time_zone))
            .unwrap_or_else(|e| panic!("job {}: schedule '{}': {e}", job.name, job.schedule));
        let name = job.name.clone();
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).jobs.push(job);
        let (inner, host) = (self.inner.clone(), self.pubsub_host.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut after = chrono::Utc::now();
            while let Some(at) = cron.next_after(after) {
                after = at;
                let wait = (at - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(200);
                tokio::time::sleep(wait).await;
                let job = {
                    let g = inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    g.jobs.iter().find(|j| j.name == name && j.state == "ENABLED").cloned()
                };
                let Some(j) = job else { continue };
                for n in 0..copies {
                    if n > 0 {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                    let msg = json!({"messages": [{
                        "data": base64::engine::general_purpose::STANDARD.encode(&j.data),
                        "attributes": j.attributes,
                    }]});
                    let url = format!("http://{host}/v1/{}:publish", j.topic);
                    if http.post(url).json(&msg).send().await.is_ok_and(|r| r.status().is_success()) {
                        let mut g = inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        g.published.push((name.clone(), chrono::Utc::now()));
                    }
                }
            }
        });
    }

    /// Pauses the job `name` (as `jobs.pause`): it publishes nothing more
    /// (a publication under way finishes).
    pub fn pause(&self, name: &str) {
        let mut g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for j in g.jobs.iter_mut().filter(|j| j.name == name) {
            j.state = "PAUSED";
        }
    }

    /// When each publication of the job `name` (created by [`Self::create_job`]) happened.
    pub fn published(&self, name: &str) -> Vec<chrono::DateTime<chrono::Utc>> {
        let g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        g.published.iter().filter(|(n, _)| n == name).map(|(_, t)| *t).collect()
    }

    /// The job's state (`ENABLED` or `PAUSED`).
    pub fn state(&self, name: &str) -> Option<&'static str> {
        let g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        g.jobs.iter().find(|j| j.name == name).map(|j| j.state)
    }

    /// Ticks of the sweep job published so far.
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::SeqCst)
    }

    /// Every request received: `(method, path without the leading slash)`.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).requests.clone()
    }

    /// A job as this stand-in answers it (for the discovery check).
    pub fn job_shape(&self) -> Value {
        let g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        g.jobs.first().map(job_json).unwrap_or(Value::Null)
    }

    /// The job `name` as this stand-in answers it.
    pub fn job(&self, name: &str) -> Option<Value> {
        let g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        g.jobs.iter().find(|j| j.name == name).map(job_json)
    }
}
