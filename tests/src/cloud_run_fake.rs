//! A local stand-in of the Cloud Run Admin API v2 Jobs API (there is no
//! emulator): `jobs.get/create/patch/run`, `executions.get/cancel` and
//! `operations.get`, on loopback. Every request's method and path must
//! match a method of Google's discovery document `run.v2.json`
//! (`$BATON_DISCOVERY_DIR`, fetched by scripts/setup/gcp.sh), and every
//! body — the requests it receives and the resources it answers — must fit
//! the document's schemas (`GoogleCloudRunV2Job`, `…RunJobRequest`,
//! `…Execution`, `GoogleLongrunningOperation`); a mismatch answers 400 and
//! is kept in [`FakeCloudRun::violations`].
//!
//! An execution really runs: the Job's `command` plus the run's `args` as a
//! host process, with the Job's and the overrides' `env`. The Job's GCS
//! volume is mapped to `bucket_root` (the local internal storage folder
//! the test mounts at the same path, as Cloud Run's GCS volume mounts the
//! bucket), so files written in the container land in internal storage.
//! `executions.cancel` kills the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::ai_schema::{check_schema_of, load_discovery};
use crate::functions::{Served, serve};

#[derive(Default)]
struct Inner {
    jobs: HashMap<String, Value>,
    executions: HashMap<String, Value>,
    cancels: HashMap<String, Arc<Notify>>,
    requests: Vec<(String, String)>,
    violations: Vec<String>,
    seq: u64,
    /// The host folder the Jobs' GCS volume stands for.
    bucket_root: Option<String>,
    /// A container CLI (podman) to run executions in their image.
    engine: Option<String>,
    /// The container of each execution run by `engine`.
    containers: HashMap<String, String>,
    /// Answers to give once instead of serving: (path suffix, status, message).
    failures: Vec<(String, u16, String)>,
}

type Shared = Arc<(Mutex<Inner>, Value)>;

/// The fake, served until dropped.
pub struct FakeCloudRun {
    pub served: Served,
    state: Shared,
}

impl FakeCloudRun {
    pub async fn start() -> FakeCloudRun {
        let state: Shared = Arc::new((Mutex::new(Inner::default()), load_discovery("run.v2.json")));
        let router = axum::Router::new()
            .route("/v2/projects/{p}/locations/{l}/jobs", get(unsupported).post(create_job))
            .route("/v2/projects/{p}/locations/{l}/jobs/{job}", get(get_job).patch(patch_job).post(run_job))
            .route("/v2/projects/{p}/locations/{l}/jobs/{job}/executions/{ex}", get(get_execution).post(cancel))
            .route("/v2/projects/{p}/locations/{l}/operations/{op}", get(get_operation))
            .with_state(state.clone());
        FakeCloudRun { served: serve(router).await, state }
    }

    /// The endpoint to give `BATON_CLOUD_RUN_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        self.served.url.trim_end_matches('/').to_string()
    }

    /// `(method, path)` of every request, in order.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.state.0.lock().unwrap().requests.clone()
    }

    /// Requests or answers that do not fit the discovery document.
    pub fn violations(&self) -> Vec<String> {
        self.state.0.lock().unwrap().violations.clone()
    }

    /// Maps the Jobs' GCS volume to `root` (the local internal storage):
    /// paths under the volume's `mountPath` become paths under `root`.
    pub fn set_bucket_root(&self, root: &std::path::Path) {
        self.state.0.lock().unwrap().bucket_root = Some(root.display().to_string());
    }

    /// Runs executions in their image with this container CLI (podman),
    /// the bucket folder mounted at the Job's `mountPath`, instead of on
    /// the host.
    pub fn use_engine(&self, bin: &str) {
        self.state.0.lock().unwrap().engine = Some(bin.to_string());
    }

    /// The engine's container name of execution `name` (with `use_engine`).
    pub fn container_of(&self, name: &str) -> Option<String> {
        self.state.0.lock().unwrap().containers.get(name).cloned()
    }

    /// Makes the next request whose path ends with `suffix` fail with
    /// `status` and Google's error shape (e.g. `:run`, 429, a quota error).
    pub fn fail_next(&self, suffix: &str, status: u16, message: &str) {
        self.state.0.lock().unwrap().failures.push((suffix.to_string(), status, message.to_string()));
    }

    /// How many `jobs.run` calls were made.
    pub fn runs(&self) -> usize {
        self.requests().iter().filter(|(m, p)| m == "POST" && p.ends_with(":run")).count()
    }

    /// The executions, by name.
    pub fn executions(&self) -> HashMap<String, Value> {
        self.state.0.lock().unwrap().executions.clone()
    }
}

/// The discovery method whose HTTP method and `flatPath` match.
fn method_of(doc: &Value, method: &str, path: &str) -> Option<String> {
    fn walk(r: &Value, method: &str, segs: &[&str], out: &mut Option<String>) {
        for m in r["methods"].as_object().into_iter().flat_map(|m| m.values()) {
            let flat = m["flatPath"].as_str().unwrap_or("");
            let pat: Vec<&str> = flat.split('/').collect();
            let fits = m["httpMethod"] == method
                && pat.len() == segs.len()
                && pat.iter().zip(segs).all(|(p, s)| match p.find('{') {
                    None => p == s,
                    Some(i) => {
                        let suffix = &p[p.find('}').map_or(p.len(), |j| j + 1)..];
                        s.len() > i + suffix.len() && s.starts_with(&p[..i]) && s.ends_with(suffix) && {
                            let var = &s[i..s.len() - suffix.len()];
                            !var.contains(':')
                        }
                    }
                });
            if fits {
                *out = m["id"].as_str().map(str::to_string);
            }
        }
        for sub in r["resources"].as_object().into_iter().flat_map(|m| m.values()) {
            walk(sub, method, segs, out);
        }
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut out = None;
    walk(doc, method, &segs, &mut out);
    out
}

/// The 400 answer to a request that does not fit run.v2.
fn bad(problem: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": {"code": 400, "message": problem}}))).into_response()
}

/// Records the request and checks it: its path, or what does not fit.
fn admit(st: &Shared, method: &Method, uri: &str, body: Option<(&Value, &str)>) -> Result<String, String> {
    let path = uri.split('?').next().unwrap_or(uri).to_string();
    let mut inner = st.0.lock().unwrap();
    inner.requests.push((method.to_string(), path.clone()));
    let mut problem = match method_of(&st.1, method.as_str(), &path) {
        None => Some(format!("{method} {path} is no method of run.v2")),
        Some(_) => None,
    };
    if problem.is_none()
        && let Some((b, schema)) = body
    {
        problem = check_schema_of(&st.1, b, schema).err().map(|e| format!("{method} {path}: {schema}: {e}"));
    }
    match problem {
        Some(p) => {
            inner.violations.push(p.clone());
            Err(p)
        }
        None => Ok(path),
    }
}

/// An injected failure for `path`, if one is due (see `fail_next`).
fn injected(st: &Shared, path: &str) -> Option<Response> {
    let mut inner = st.0.lock().unwrap();
    let i = inner.failures.iter().position(|(suffix, _, _)| path.ends_with(suffix.as_str()))?;
    let (_, status, message) = inner.failures.remove(i);
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Some((code, Json(json!({"error": {"code": status, "message": message}}))).into_response())
}

/// Answers `v` after checking it against `schema`.
fn answer(st: &Shared, v: Value, schema: &str) -> Response {
    if let Err(e) = check_schema_of(&st.1, &v, schema) {
        st.0.lock().unwrap().violations.push(format!("answer {schema}: {e}"));
    }
    Json(v).into_response()
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": {"code": 404, "message": format!("{what} not found")}})))
        .into_response()
}

fn done_operation(st: &Shared, parent: &str, metadata: Value) -> Response {
    let n = {
        let mut i = st.0.lock().unwrap();
        i.seq += 1;
        i.seq
    };
    let op = json!({"name": format!("{parent}/operations/op-{n}"), "done": true, "metadata": metadata});
    answer(st, op, "GoogleLongrunningOperation")
}

async fn unsupported(State(st): State<Shared>, OriginalUri(uri): OriginalUri) -> Response {
    match admit(&st, &Method::GET, &uri.to_string(), None) {
        Err(p) => bad(p),
        Ok(_) => (StatusCode::NOT_IMPLEMENTED, "jobs.list is not faked").into_response(),
    }
}

async fn create_job(
    State(st): State<Shared>,
    Path((p, l)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    Json(body): Json<Value>,
) -> Response {
    match admit(&st, &Method::POST, &uri.to_string(), Some((&body, "GoogleCloudRunV2Job"))) {
        Err(p) => return bad(p),
        Ok(path) => {
            if let Some(r) = injected(&st, &path) {
                return r;
            }
        }
    }
    let Some(id) = uri.query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("jobId="))) else {
        return (StatusCode::BAD_REQUEST, "jobId is required").into_response();
    };
    let parent = format!("projects/{p}/locations/{l}");
    let name = format!("{parent}/jobs/{id}");
    // Cloud Run resolves the image when it creates the Job
    let image = body["template"]["template"]["containers"][0]["image"].as_str().unwrap_or("").to_string();
    if image.contains("missing") {
        let op = json!({"name": format!("{parent}/operations/missing"), "done": true,
            "error": {"code": 5, "message": format!("Image '{image}' not found.")}});
        return answer(&st, op, "GoogleLongrunningOperation");
    }
    let mut job = body;
    job["name"] = Value::String(name.clone());
    {
        let mut i = st.0.lock().unwrap();
        if i.jobs.contains_key(&name) {
            return (StatusCode::CONFLICT, Json(json!({"error": {"code": 409, "message": "exists"}}))).into_response();
        }
        i.jobs.insert(name, job.clone());
    }
    done_operation(&st, &parent, job)
}

async fn get_job(State(st): State<Shared>, OriginalUri(uri): OriginalUri) -> Response {
    let path = match admit(&st, &Method::GET, &uri.to_string(), None) {
        Ok(p) => p,
        Err(p) => return bad(p),
    };
    let name = path.trim_start_matches("/v2/").to_string();
    let job = st.0.lock().unwrap().jobs.get(&name).cloned();
    match job {
        Some(j) => answer(&st, j, "GoogleCloudRunV2Job"),
        None => not_found(&name),
    }
}

async fn patch_job(
    State(st): State<Shared>,
    Path((p, l, _)): Path<(String, String, String)>,
    OriginalUri(uri): OriginalUri,
    Json(body): Json<Value>,
) -> Response {
    let path = match admit(&st, &Method::PATCH, &uri.to_string(), Some((&body, "GoogleCloudRunV2Job"))) {
        Ok(p) => p,
        Err(p) => return bad(p),
    };
    let name = path.trim_start_matches("/v2/").to_string();
    let mut job = body;
    job["name"] = Value::String(name.clone());
    if st.0.lock().unwrap().jobs.insert(name.clone(), job.clone()).is_none() {
        return not_found(&name);
    }
    done_operation(&st, &format!("projects/{p}/locations/{l}"), job)
}

async fn run_job(
    State(st): State<Shared>,
    Path((p, l, job)): Path<(String, String, String)>,
    OriginalUri(uri): OriginalUri,
    Json(body): Json<Value>,
) -> Response {
    match admit(&st, &Method::POST, &uri.to_string(), Some((&body, "GoogleCloudRunV2RunJobRequest"))) {
        Err(p) => return bad(p),
        Ok(path) => {
            if let Some(r) = injected(&st, &path) {
                return r;
            }
        }
    }
    let Some(id) = job.strip_suffix(":run") else { return not_found(&job) };
    let name = format!("projects/{p}/locations/{l}/jobs/{id}");
    let Some(def) = st.0.lock().unwrap().jobs.get(&name).cloned() else { return not_found(&name) };
    let container = &def["template"]["template"]["containers"][0];
    let over = &body["overrides"]["containerOverrides"][0];
    let mut argv: Vec<String> =
        container["command"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect();
    argv.extend(over["args"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)));
    let env: Vec<(String, String)> = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(over["env"].as_array().into_iter().flatten())
        .filter_map(|e| Some((e["name"].as_str()?.to_string(), e["value"].as_str().unwrap_or("").to_string())))
        .collect();
    let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap_or("/nonexistent").to_string();
    let (root, engine) = {
        let i = st.0.lock().unwrap();
        (i.bucket_root.clone(), i.engine.clone())
    };
    let (argv, env, container_name) = match (&engine, &root) {
        // in the image, the bucket folder mounted where the GCS volume is
        (Some(bin), Some(r)) => {
            let cname = format!("baton-fake-run-{}", uuid::Uuid::new_v4().simple());
            let mut run = vec![bin.clone(), "run".into(), "--rm".into(), "--name".into(), cname.clone()];
            run.extend(["-v".to_string(), format!("{r}:{mount}")]);
            for (k, v) in &env {
                run.extend(["-e".to_string(), format!("{k}={v}")]);
            }
            run.push(container["image"].as_str().unwrap_or("").to_string());
            run.extend(argv);
            (run, Vec::new(), Some((bin.clone(), cname)))
        }
        // on the host, paths under the mount mapped to the bucket folder
        _ => {
            let map = |s: String| match &root {
                Some(r) => s.replace(&format!("{mount}/"), &format!("{}/", r.trim_end_matches('/'))),
                None => s,
            };
            let argv: Vec<String> = argv.into_iter().map(map).collect();
            let env: Vec<(String, String)> = env.into_iter().map(|(k, v)| (k, map(v))).collect();
            (argv, env, None)
        }
    };
    let (exec_name, cancel) = {
        let mut i = st.0.lock().unwrap();
        i.seq += 1;
        let exec_name = format!("{name}/executions/{id}-x{}", i.seq);
        let exec = json!({
            "name": exec_name, "job": id, "taskCount": 1, "parallelism": 1,
            "runningCount": 1, "createTime": chrono::Utc::now().to_rfc3339(),
        });
        i.executions.insert(exec_name.clone(), exec);
        let cancel = Arc::new(Notify::new());
        i.cancels.insert(exec_name.clone(), cancel.clone());
        if let Some((_, cname)) = &container_name {
            i.containers.insert(exec_name.clone(), cname.clone());
        }
        (exec_name, cancel)
    };
    tokio::spawn(execute(st.clone(), exec_name.clone(), argv, env, cancel, container_name));
    let meta = st.0.lock().unwrap().executions[&exec_name].clone();
    done_operation(&st, &format!("projects/{p}/locations/{l}"), meta)
}

/// Runs one execution on the host and records how it ended.
async fn execute(
    st: Shared,
    name: String,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    cancel: Arc<Notify>,
    container: Option<(String, String)>,
) {
    let ended = |counts: Value, condition: Value| {
        let mut i = st.0.lock().unwrap();
        if let Some(e) = i.executions.get_mut(&name) {
            e["runningCount"] = json!(0);
            for (k, v) in counts.as_object().into_iter().flatten() {
                e[k] = v.clone();
            }
            e["conditions"] = json!([condition]);
            e["completionTime"] = json!(chrono::Utc::now().to_rfc3339());
        }
    };
    let Some((program, args)) = argv.split_first() else {
        ended(
            json!({"failedCount": 1}),
            json!({"type": "Completed", "state": "CONDITION_FAILED", "message": "no command"}),
        );
        return;
    };
    let child = tokio::process::Command::new(program).args(args).envs(env).kill_on_drop(true).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            let c = json!({"type": "Completed", "state": "CONDITION_FAILED", "message": format!("cannot start: {e}")});
            ended(json!({"failedCount": 1}), c);
            return;
        }
    };
    tokio::select! {
        status = child.wait() => {
            let code = status.ok().and_then(|s| s.code()).unwrap_or(-1);
            if code == 0 {
                ended(json!({"succeededCount": 1}), json!({"type": "Completed", "state": "CONDITION_SUCCEEDED"}));
            } else {
                let msg = format!("Task {name}-task0 failed with message: The container exited with an error (exit code {code})");
                ended(json!({"failedCount": 1}), json!({"type": "Completed", "state": "CONDITION_FAILED", "message": msg}));
            }
        }
        _ = cancel.notified() => {
            let _ = child.kill().await;
            if let Some((bin, cname)) = &container {
                let _ = tokio::process::Command::new(bin).args(["rm", "-f", "-t", "0", cname]).output().await;
            }
            ended(json!({"cancelledCount": 1}), json!({"type": "Completed", "state": "CONDITION_FAILED", "message": "cancelled"}));
        }
    }
}

async fn get_execution(State(st): State<Shared>, OriginalUri(uri): OriginalUri) -> Response {
    let path = match admit(&st, &Method::GET, &uri.to_string(), None) {
        Ok(p) => p,
        Err(p) => return bad(p),
    };
    let name = path.trim_start_matches("/v2/").to_string();
    let e = st.0.lock().unwrap().executions.get(&name).cloned();
    match e {
        Some(e) => answer(&st, e, "GoogleCloudRunV2Execution"),
        None => not_found(&name),
    }
}

async fn cancel(State(st): State<Shared>, OriginalUri(uri): OriginalUri, Json(body): Json<Value>) -> Response {
    let path =
        match admit(&st, &Method::POST, &uri.to_string(), Some((&body, "GoogleCloudRunV2CancelExecutionRequest"))) {
            Ok(p) => p,
            Err(p) => return bad(p),
        };
    let Some(name) = path.trim_start_matches("/v2/").strip_suffix(":cancel").map(str::to_string) else {
        return not_found(&path);
    };
    let (exec, notify) = {
        let i = st.0.lock().unwrap();
        (i.executions.get(&name).cloned(), i.cancels.get(&name).cloned())
    };
    let Some(exec) = exec else { return not_found(&name) };
    if let Some(n) = notify {
        n.notify_one();
    }
    done_operation(&st, name.split("/jobs/").next().unwrap_or(""), exec)
}

async fn get_operation(State(st): State<Shared>, OriginalUri(uri): OriginalUri) -> Response {
    let path = match admit(&st, &Method::GET, &uri.to_string(), None) {
        Ok(p) => p,
        Err(p) => return bad(p),
    };
    answer(&st, json!({"name": path.trim_start_matches("/v2/"), "done": true}), "GoogleLongrunningOperation")
}
