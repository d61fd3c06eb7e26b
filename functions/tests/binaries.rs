//! The function binaries as deployed: configured by environment only,
//! `/healthz`, Cloud Logging JSON on stdout, exit on SIGTERM — and three of
//! them (api, executor, worker) as separate processes on one local home,
//! relaying push requests to each other, running a flow.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn temp_home() -> PathBuf {
    let p = std::env::temp_dir().join(format!("baton-fn-bin-{}", std::process::id()));
    let p = p.join(format!("{:?}", Instant::now()).replace([' ', '{', '}', ':', ','], ""));
    std::fs::create_dir_all(&p).expect("home");
    p
}

/// What a deployed container also has: `PATH` — and no `LD_LIBRARY_PATH`:
/// built with the `duckdb` feature, the binaries find libduckdb by their
/// rpath (functions/build.rs), or they do not start and this test fails.
fn inherited() -> Vec<(&'static str, String)> {
    ["PATH"].into_iter().filter_map(|k| std::env::var(k).ok().map(|v| (k, v))).collect()
}

struct Proc {
    child: Child,
    port: u16,
}

impl Proc {
    fn start(bin: &str, port: u16, env: &[(&str, String)]) -> Proc {
        let mut cmd = Command::new(bin);
        cmd.env_clear().envs(inherited()).env("PORT", port.to_string()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Proc { child: cmd.spawn().expect("start the function binary"), port }
    }

    async fn healthy(&self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("http://127.0.0.1:{}/healthz", self.port)).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "function on port {} never became healthy", self.port);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then the exit status and stdout lines.
    fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        assert!(sent.success());
        let status = self.child.wait().expect("wait");
        let out = self.child.stdout.take().map(|s| BufReader::new(s).lines().map_while(Result::ok).collect());
        (status, out.unwrap_or_default())
    }
}

fn base_env(home: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("BATON_BACKEND", "local".into()),
        ("BATON_HOME", home.join("state").display().to_string()),
        ("BATON_PUSH_AUTH", "off".into()),
        ("BATON_WORK_DIR", home.join("work").display().to_string()),
        ("RUST_LOG", "info".into()),
    ]
}

#[tokio::test]
async fn a_function_serves_health_acks_malformed_pushes_and_stops_on_sigterm() {
    let home = temp_home();
    let http = reqwest::Client::new();
    let port = free_port();
    let p = Proc::start(env!("CARGO_BIN_EXE_executor"), port, &base_env(&home));
    p.healthy(&http).await;
    let r = http.post(format!("http://127.0.0.1:{port}/")).body("garbage").send().await.expect("push");
    assert_eq!(r.status(), 204, "malformed push acked");
    let (status, lines) = p.terminate();
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");
    let logs: Vec<serde_json::Value> = lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert_eq!(logs.len(), lines.len(), "every stdout line is a JSON object: {lines:?}");
    assert!(logs.iter().any(|l| l["message"] == "listening" && l["severity"] == "INFO"), "{lines:?}");
    assert!(logs.iter().any(|l| l["severity"] == "WARNING" && l["function"] == "executor"), "{lines:?}");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn push_verification_must_be_configured_or_switched_off() {
    let out = Command::new(env!("CARGO_BIN_EXE_worker"))
        .env_clear()
        .envs(inherited())
        .env("BATON_BACKEND", "local")
        .output()
        .expect("run worker");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BATON_PUSH_AUDIENCE") && err.contains("BATON_PUSH_AUTH=off"), "{err}");
}

#[tokio::test]
async fn api_executor_and_worker_processes_run_a_flow_together() {
    let home = temp_home();
    let flows = home.join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    std::fs::write(
        flows.join("hello.yaml"),
        "id: hello\nnamespace: fn.bin\ninputs:\n  - id: name\n    type: STRING\ntasks:\n  - id: greet\n    type: io.kestra.plugin.core.log.Log\n    message: \"hello {{ inputs.name }}\"\n  - id: answer\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.name | upper }}\"\n",
    )
    .expect("flow");
    let (api_port, exec_port, worker_port) = (free_port(), free_port(), free_port());
    let mut env = base_env(&home);
    env.push(("BATON_FLOWS", flows.display().to_string()));
    env.push((
        "BATON_RELAY",
        format!("baton-executions=http://127.0.0.1:{exec_port}/,baton-tasks-core=http://127.0.0.1:{worker_port}/"),
    ));
    let http = reqwest::Client::new();
    let procs = [
        Proc::start(env!("CARGO_BIN_EXE_executor"), exec_port, &env),
        Proc::start(env!("CARGO_BIN_EXE_worker"), worker_port, &env),
        Proc::start(env!("CARGO_BIN_EXE_api"), api_port, &env),
    ];
    for p in &procs {
        p.healthy(&http).await;
    }
    let api = format!("http://127.0.0.1:{api_port}/api/v1");
    let started: serde_json::Value = http
        .post(format!("{api}/executions/fn.bin/hello"))
        .json(&serde_json::json!({"name": "baton"}))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let id = started["id"].as_str().expect("execution id").to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let e: serde_json::Value =
            http.get(format!("{api}/executions/{id}")).send().await.expect("get").json().await.expect("json");
        if e["state"]["current"] == "SUCCESS" || e["state"]["current"] == "FAILED" {
            break e;
        }
        assert!(Instant::now() < deadline, "execution did not end: {e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done["state"]["current"], "SUCCESS", "{done}");
    let runs = done["taskRunList"].as_array().expect("task runs");
    let answer = runs.iter().find(|t| t["taskId"] == "answer").expect("answer ran");
    assert_eq!(answer["outputs"]["value"], "BATON");
    let logs: serde_json::Value =
        http.get(format!("{api}/logs/{id}?taskId=greet")).send().await.expect("logs").json().await.expect("json");
    assert_eq!(logs[0]["message"], "hello baton", "{logs}");
    let mut stdout = Vec::new();
    for p in procs {
        let (status, lines) = p.terminate();
        assert!(status.success(), "{status:?}");
        stdout.extend(lines);
    }
    // the task's line is one Cloud Logging entry on stdout, labelled for `gcloud logging read`
    let greet: Vec<serde_json::Value> = stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["message"] == "hello baton")
        .collect();
    assert_eq!(greet.len(), 1, "the task's log line once on stdout: {stdout:?}");
    assert_eq!(greet[0]["severity"], "INFO");
    let labels = &greet[0]["logging.googleapis.com/labels"];
    assert_eq!(
        [&labels["executionId"], &labels["namespace"], &labels["taskId"], &labels["attemptNumber"]],
        [&serde_json::json!(id), &serde_json::json!("fn.bin"), &serde_json::json!("greet"), &serde_json::json!("1")]
    );
    let _ = std::fs::remove_dir_all(&home);
}
