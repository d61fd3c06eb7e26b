//! Baton as deployed on Google Cloud, played on the emulators: the four
//! function binaries (`executor`, `scheduler`, `worker` of the core group,
//! `api`) as separate processes configured by environment as Terraform
//! configures them (`BATON_BACKEND=gcp`, the internal bucket, the sweep
//! job), on the Firestore and Pub/Sub emulators and fake-gcs-server; topics
//! and push subscriptions shaped like `terraform/pubsub.tf` (retry policy,
//! dead-letter policy), two per topic so every message is delivered twice;
//! the sweep's Cloud Scheduler job on [`FakeCloudScheduler`].
//!
//! Each function sits behind a counting proxy on a fixed local port (the
//! service's URL): the process behind it can be killed (`SIGKILL`, as a
//! Cloud Run instance dies) and started again on another port, and while
//! it is down the proxy answers 503, as Cloud Run does, so Pub/Sub retries.
//! It can also lose messages of one kind ([`Function::lose`]): acked
//! without reaching the instance, as a message dies with an instance that
//! fell between two writes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use shared::backend::gcp::GcpBackends;

use crate::cloud_scheduler::{FakeCloudScheduler, FakeJob};
use crate::emulators::emulators;
use crate::functions::{Served, serve};
use crate::gcp_emulators::gcp_emulators;

/// The functions, by their Terraform name.
pub const FUNCTIONS: [&str; 4] = ["executor", "scheduler", "worker-core", "api"];

/// Where the function binaries are: `BATON_FUNCTION_BINS`, or next to this
/// test binary's `deps/` folder (`cargo test --workspace` builds them).
pub fn bin_dir() -> PathBuf {
    if let Ok(d) = std::env::var("BATON_FUNCTION_BINS") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(|d| d.parent()).expect("target dir").to_path_buf()
}

fn binary(function: &str) -> PathBuf {
    let name = if function.starts_with("worker") { "worker" } else { function };
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "the function binary {} is missing: build it with `cargo build -p functions` (cargo test --workspace does)",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// One function: a process behind a proxy.
pub struct Function {
    pub name: &'static str,
    /// The service URL (the proxy).
    pub url: String,
    env: Vec<(String, String)>,
    port: Arc<AtomicU16>,
    child: Mutex<Option<Child>>,
    requests: Arc<AtomicU64>,
    log: PathBuf,
    starts: AtomicU64,
    cpu: Arc<Cpu>,
    lost: Arc<Losing>,
    _proxy: Served,
}

#[derive(Clone)]
struct ProxyState {
    port: Arc<AtomicU16>,
    requests: Arc<AtomicU64>,
    http: reqwest::Client,
    cpu: Arc<Cpu>,
    lost: Arc<Losing>,
}

/// The push messages a proxy acks without passing them on: those whose
/// data is JSON with this `type` (an `ExecutionEvent`'s), counted.
#[derive(Default)]
struct Losing {
    kind: Mutex<Option<String>>,
    count: AtomicU64,
}

impl Losing {
    /// True (and counted) if `body`, a push envelope, is to be lost.
    fn loses(&self, body: &[u8]) -> bool {
        let Some(kind) = self.kind.lock().expect("losing").clone() else { return false };
        let data = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|e| e["message"]["data"].as_str().map(str::to_string))
            .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
            .and_then(|d| serde_json::from_slice::<Value>(&d).ok());
        let hit = data.is_some_and(|d| d["type"].as_str() == Some(kind.as_str()));
        if hit {
            self.count.fetch_add(1, Ordering::SeqCst);
        }
        hit
    }
}

/// Cloud Run's `cpu_idle`: an instance has CPU only while it serves a
/// request. When on, the instance's process is stopped (`SIGSTOP`) once
/// its last request in flight is answered and continued (`SIGCONT`) when
/// the next one arrives, so work spawned after an answer waits for the
/// next request — as it may on Cloud Run, for minutes or for ever.
#[derive(Default)]
struct Cpu {
    freeze: std::sync::atomic::AtomicBool,
    pid: std::sync::atomic::AtomicI32,
    in_flight: Mutex<u32>,
}

impl Cpu {
    fn signal(&self, sig: rustix::process::Signal) {
        let pid = self.pid.load(Ordering::SeqCst);
        if let Some(pid) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(pid, sig);
        }
    }

    /// A request arrives: the instance gets CPU.
    fn enter(&self) {
        let mut n = self.in_flight.lock().expect("in flight");
        if *n == 0 && self.freeze.load(Ordering::SeqCst) {
            self.signal(rustix::process::Signal::CONT);
        }
        *n += 1;
    }

    /// A request is answered: with none left, the instance is frozen.
    fn leave(&self) {
        let mut n = self.in_flight.lock().expect("in flight");
        *n = n.saturating_sub(1);
        if *n == 0 && self.freeze.load(Ordering::SeqCst) {
            self.signal(rustix::process::Signal::STOP);
        }
    }

    /// Turns freezing on or off (off continues a frozen instance).
    fn set(&self, on: bool) {
        let n = self.in_flight.lock().expect("in flight");
        self.freeze.store(on, Ordering::SeqCst);
        if !on || *n > 0 {
            self.signal(rustix::process::Signal::CONT);
        } else {
            self.signal(rustix::process::Signal::STOP);
        }
    }
}

/// Holds the instance awake for one request.
struct Awake<'a>(&'a Cpu);

impl<'a> Awake<'a> {
    fn enter(cpu: &'a Cpu) -> Awake<'a> {
        cpu.enter();
        Awake(cpu)
    }
}

impl Drop for Awake<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

async fn proxy(
    State(s): State<ProxyState>,
    uri: Uri,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.requests.fetch_add(1, Ordering::SeqCst);
    if s.lost.loses(&body) {
        return StatusCode::NO_CONTENT.into_response();
    }
    let port = s.port.load(Ordering::SeqCst);
    if port == 0 {
        return (StatusCode::SERVICE_UNAVAILABLE, "no instance").into_response();
    }
    let _awake = Awake::enter(&s.cpu);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = s.http.request(method, format!("http://127.0.0.1:{port}{path}")).body(body);
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status();
            let ct = r.headers().get("content-type").cloned();
            let bytes = r.bytes().await.unwrap_or_default();
            let mut resp = (status, bytes).into_response();
            if let Some(ct) = ct {
                resp.headers_mut().insert("content-type", ct);
            }
            resp
        }
        // the instance died mid-request, or is not listening yet
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "instance unavailable").into_response(),
    }
}

impl Function {
    async fn new(name: &'static str, env: Vec<(String, String)>, home: &std::path::Path) -> Function {
        let port = Arc::new(AtomicU16::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let cpu = Arc::new(Cpu::default());
        let lost = Arc::new(Losing::default());
        // a fresh connection per request: a kept-alive one may be closed by
        // the instance's own idle timers the moment it is thawed
        let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("proxy client");
        let st =
            ProxyState { port: port.clone(), requests: requests.clone(), http, cpu: cpu.clone(), lost: lost.clone() };
        let router = axum::Router::new().fallback(proxy).with_state(st);
        let served = serve(router).await;
        Function {
            name,
            url: served.url.trim_end_matches('/').to_string(),
            env,
            port,
            child: Mutex::new(None),
            requests,
            log: home.join(format!("{name}.log")),
            starts: AtomicU64::new(0),
            cpu,
            lost,
            _proxy: served,
        }
    }

    /// Starts a new instance (after [`Function::kill`], or the first).
    ///
    /// The port is picked free, but another test may take it before the
    /// instance binds it: an instance that exits at start is started again
    /// on another port, and an instance counts as up only when its own log
    /// says it listens on that port (a foreign server could answer /healthz).
    pub async fn start(&self) {
        // Cloud Run gives a starting instance CPU: held awake until it
        // listens, so a request to the killed instance answered meanwhile
        // (its `leave` would stop the new pid) cannot freeze it at start.
        let _awake = Awake::enter(&self.cpu);
        for _ in 0..5 {
            if let Some(port) = self.try_start().await {
                self.port.store(port, Ordering::SeqCst);
                return;
            }
        }
        panic!("the {} function never started:\n{}", self.name, std::fs::read_to_string(&self.log).unwrap_or_default());
    }

    async fn try_start(&self) -> Option<u16> {
        let port = free_port();
        let n = self.starts.fetch_add(1, Ordering::SeqCst);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("function log");
        let mut cmd = Command::new(binary(self.name));
        cmd.env_clear()
            .envs(["PATH", "LD_LIBRARY_PATH", "HOME"].into_iter().filter_map(|k| std::env::var(k).ok().map(|v| (k, v))))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("PORT", port.to_string())
            .env("K_REVISION", format!("{}-{n}", self.name))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start the {} function: {e}", self.name));
        self.cpu.pid.store(child.id() as i32, Ordering::SeqCst);
        *self.child.lock().expect("child") = Some(child);
        let listening = format!("\"port\":{port},\"message\":\"listening\"");
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let exited =
                self.child.lock().expect("child").as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited {
                self.child.lock().expect("child").take();
                return None;
            }
            if std::fs::read_to_string(&self.log).unwrap_or_default().contains(&listening)
                && let Ok(r) = http.get(format!("http://127.0.0.1:{port}/healthz")).send().await
                && r.status() == 200
            {
                return Some(port);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the {} function never became healthy:\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the instance at once (`SIGKILL`): requests in flight are dropped.
    pub fn kill(&self) {
        self.port.store(0, Ordering::SeqCst);
        self.cpu.pid.store(0, Ordering::SeqCst);
        if let Some(mut c) = self.child.lock().expect("child").take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Cloud Run's `cpu_idle = true`: from now on the instance has CPU only
    /// while it serves a request (see [`Cpu`]); `false` gives it back.
    pub fn throttle_cpu_when_idle(&self, on: bool) {
        self.cpu.set(on);
    }

    /// From now on, push messages whose data has this `type` (an
    /// `ExecutionEvent`'s, e.g. `subflowEnded`) are acked by the proxy and
    /// never reach the instance; `None` stops losing them.
    pub fn lose(&self, kind: Option<&str>) {
        *self.lost.kind.lock().expect("losing") = kind.map(str::to_string);
    }

    /// Push messages lost so far (see [`Function::lose`]).
    pub fn lost(&self) -> u64 {
        self.lost.count.load(Ordering::SeqCst)
    }

    /// Requests the service received (through its URL), however answered.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// What its instances wrote on stdout and stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A deployment on the emulators.
pub struct Deployment {
    pub project: String,
    pub bucket: String,
    /// The backends, for the test to look (and seed trigger state).
    pub backends: GcpBackends,
    pub functions: HashMap<&'static str, Function>,
    pub cloud_scheduler: FakeCloudScheduler,
    /// The sweep job's full name.
    pub sweep_job: String,
    pub http: reqwest::Client,
    pub pubsub_host: String,
    pub home: PathBuf,
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for f in self.functions.values() {
            f.kill();
        }
        // a failed test keeps the functions' whole logs (the failure message
        // holds only their last lines): target/deployed-logs/<project>/
        if std::thread::panicking() {
            let keep = bin_dir().join("deployed-logs").join(&self.project);
            if std::fs::create_dir_all(&keep).is_ok() {
                for (name, f) in &self.functions {
                    let _ = std::fs::copy(&f.log, keep.join(format!("{name}.log")));
                }
                eprintln!("the functions' logs are kept in {}", keep.display());
            }
        }
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// What `terraform/pubsub.tf` gives each push subscription.
#[derive(Debug, Clone)]
pub struct PushShape {
    pub ack_deadline_seconds: u64,
    pub minimum_backoff: String,
    pub maximum_backoff: String,
    pub max_delivery_attempts: u64,
}

impl Deployment {
    /// Deploys: bucket, topics, subscriptions (`copies` per topic), the
    /// sweep job (paused, as Terraform creates it, ticking every
    /// `sweep_every` while enabled), the functions started.
    pub async fn start(shape: &PushShape, copies: usize, sweep_every: Duration) -> Deployment {
        Deployment::start_with(shape, copies, sweep_every, &[]).await
    }

    /// [`Deployment::start`] with `extra` variables given to every function
    /// (e.g. the `OTEL_*` of a trace receiver).
    pub async fn start_with(
        shape: &PushShape,
        copies: usize,
        sweep_every: Duration,
        extra: &[(&str, &str)],
    ) -> Deployment {
        let gcp = gcp_emulators();
        let backends = crate::gcp_emulators::gcp_backends("dep").await;
        let (project, bucket) = (backends.config.project.clone(), backends.config.bucket.clone());
        let home = std::env::temp_dir().join(format!("baton-deployed-{project}"));
        std::fs::create_dir_all(&home).expect("home");
        let http = reqwest::Client::new();
        let sweep_job = format!("projects/{project}/locations/europe-west1/jobs/baton-sweep");
        let scheduler_topic = format!("projects/{project}/topics/baton-scheduler");
        let cloud_scheduler = FakeCloudScheduler::start(
            FakeJob {
                name: sweep_job.clone(),
                state: "PAUSED",
                topic: scheduler_topic,
                data: br#"{"type":"sweep"}"#.to_vec(),
                attributes: json!({"type": "sweep"}),
                schedule: "* * * * *".into(),
                time_zone: "Etc/UTC".into(),
                description: "Baton: lost task attempts and due retry timers (paused while idle)".into(),
            },
            &gcp.pubsub_host,
            sweep_every,
        )
        .await;
        let common = vec![
            ("GOOGLE_CLOUD_PROJECT".to_string(), project.clone()),
            ("BATON_INTERNAL_BUCKET".to_string(), bucket.clone()),
            ("FIRESTORE_EMULATOR_HOST".to_string(), gcp.firestore_host.clone()),
            ("PUBSUB_EMULATOR_HOST".to_string(), gcp.pubsub_host.clone()),
            ("STORAGE_EMULATOR_HOST".to_string(), emulators().storage_host.clone()),
            ("BATON_PUSH_AUTH".to_string(), "off".to_string()),
            ("BATON_WORK_DIR".to_string(), home.join("work").display().to_string()),
            // and the executor's decisions on part of an execution, one line each
            ("RUST_LOG".to_string(), "info,baton_runtime::runtime::executor::partly=debug".to_string()),
        ];
        let mut functions = HashMap::new();
        for name in FUNCTIONS {
            let mut env = common.clone();
            env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            if name == "worker-core" {
                env.push(("BATON_WORKER_GROUP".into(), "core".into()));
            }
            if name == "executor" || name == "scheduler" {
                env.push(("BATON_SWEEP_JOB".into(), sweep_job.clone()));
                env.push(("BATON_CLOUD_SCHEDULER_ENDPOINT".into(), cloud_scheduler.endpoint.clone()));
            }
            functions.insert(name, Function::new(name, env, &home).await);
        }
        let d = Deployment {
            project,
            bucket,
            backends,
            functions,
            cloud_scheduler,
            sweep_job,
            http,
            pubsub_host: gcp.pubsub_host.clone(),
            home,
        };
        d.topic("baton-dead-letter").await;
        for (topic, function) in
            [("baton-executions", "executor"), ("baton-tasks-core", "worker-core"), ("baton-scheduler", "scheduler")]
        {
            d.topic(topic).await;
            let url = d.functions[function].url.clone();
            for n in 0..copies {
                d.push_subscription(&format!("baton-{function}-{n}"), topic, &url, shape).await;
            }
        }
        for f in d.functions.values() {
            f.start().await;
        }
        d
    }

    async fn topic(&self, topic: &str) {
        let url = format!("http://{}/v1/projects/{}/topics/{topic}", self.pubsub_host, self.project);
        let r = self.http.put(url).send().await.expect("create topic");
        assert!(r.status().is_success() || r.status() == 409, "topic {topic}: {}", r.status());
    }

    async fn push_subscription(&self, name: &str, topic: &str, endpoint: &str, shape: &PushShape) {
        let p = &self.project;
        let sub = json!({
            "topic": format!("projects/{p}/topics/{topic}"),
            "pushConfig": {"pushEndpoint": endpoint},
            "ackDeadlineSeconds": shape.ack_deadline_seconds,
            "retryPolicy": {"minimumBackoff": shape.minimum_backoff, "maximumBackoff": shape.maximum_backoff},
            "deadLetterPolicy": {
                "deadLetterTopic": format!("projects/{p}/topics/baton-dead-letter"),
                "maxDeliveryAttempts": shape.max_delivery_attempts,
            },
        });
        let url = format!("http://{}/v1/projects/{p}/subscriptions/{name}", self.pubsub_host);
        let r = self.http.put(url).json(&sub).send().await.expect("subscribe");
        assert!(r.status().is_success(), "push subscription {name}: {}", r.text().await.unwrap_or_default());
    }

    /// Publishes `data` with `attributes` on `topic` (as Cloud Scheduler or
    /// `gcloud pubsub topics publish` does).
    pub async fn publish(&self, topic: &str, data: &[u8], attributes: Value) {
        let msg = json!({"messages": [{"data": base64::engine::general_purpose::STANDARD.encode(data), "attributes": attributes}]});
        let url = format!("http://{}/v1/projects/{}/topics/{topic}:publish", self.pubsub_host, self.project);
        let r = self.http.post(url).json(&msg).send().await.expect("publish");
        assert!(r.status().is_success(), "publish on {topic}: {}", r.text().await.unwrap_or_default());
    }

    /// Uploads a flow where Terraform puts it (`object`, from the schedules module).
    pub async fn upload_flow(&self, object: &str, yaml: &str) {
        let data: shared::backend::ByteStream = Box::pin(std::io::Cursor::new(yaml.as_bytes().to_vec()));
        shared::backend::Storage::put(self.backends.storage.as_ref(), &format!("/{object}"), data)
            .await
            .expect("upload flow");
    }

    /// [`Function::throttle_cpu_when_idle`] for every function.
    pub fn throttle_cpu_when_idle(&self, on: bool) {
        for f in self.functions.values() {
            f.throttle_cpu_when_idle(on);
        }
    }

    pub fn function(&self, name: &str) -> &Function {
        &self.functions[name]
    }

    /// Requests received by every function.
    pub fn requests(&self) -> u64 {
        self.functions.values().map(Function::requests).sum()
    }

    /// Every function's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for name in FUNCTIONS {
            let log = self.functions[name].log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            out.push_str(&format!("--- {name} (last lines)\n"));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}
