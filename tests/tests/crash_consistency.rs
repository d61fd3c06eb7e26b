//! Issue 53, item 4: `kill -9` of `baton server local` in the middle of
//! 200 executions, three rounds. After a last start every execution is
//! ended SUCCESS, none is lost, each has its task runs once (at-least-once
//! may re-run an attempt, never make a second task run), and SQLite's
//! `PRAGMA integrity_check` says ok.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use shared::backend::StateStore;
use shared::backend::local::SqliteStore;
use shared::model::StateType;

use crate::support::baton_bin;

const ROUNDS: usize = 3;
const PER_ROUND: usize = 67;
const FLOW: &str = "id: crash\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    \
                    message: a\n  - id: b\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      \
                    type: io.kestra.plugin.core.runner.Process\n    commands:\n      - sleep 0.2\n  - id: c\n    \
                    type: io.kestra.plugin.core.log.Log\n    message: c\n";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// `baton server local` on `port`, answering `/healthz` (flows in
/// `dir/flows`, its home `dir/home`).
pub(crate) async fn start(dir: &Path, port: u16) -> Child {
    let mut child = Command::new(baton_bin())
        .args(["server", "local", "--port", &port.to_string(), "--workers", "4", "--flows"])
        .arg(dir.join("flows"))
        .arg("--home")
        .arg(dir.join("home"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn baton server local");
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = format!("http://127.0.0.1:{port}/healthz");
    while Instant::now() < deadline {
        if reqwest::get(&url).await.is_ok_and(|r| r.status().is_success()) {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not answer /healthz within 60 s");
}

/// How many executions have ended, as the API lists them.
async fn ended(client: &reqwest::Client, port: u16) -> usize {
    let url = format!("http://127.0.0.1:{port}/api/v1/executions/search?size=1000");
    let v: Value = client.get(url).send().await.expect("search").json().await.expect("JSON");
    let results = v["results"].as_array().cloned().unwrap_or_default();
    results.iter().filter(|e| e["state"]["current"] == "SUCCESS" || e["state"]["current"] == "FAILED").count()
}

fn kill_9(mut child: Child) {
    child.kill().expect("kill -9");
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_server_in_the_middle_of_200_executions_loses_none() {
    let dir = std::env::temp_dir().join(format!("baton-crash-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("flows")).expect("flows");
    std::fs::write(dir.join("flows/crash.yaml"), FLOW).expect("flow");
    let client = reqwest::Client::new();
    let mut ids = BTreeSet::new();
    let mut unfinished = 0;
    for round in 0..ROUNDS {
        let port = free_port();
        let server = start(&dir, port).await;
        for _ in 0..PER_ROUND {
            let r = client
                .post(format!("http://127.0.0.1:{port}/api/v1/executions/company.team/crash"))
                .send()
                .await
                .expect("create an execution");
            assert!(r.status().is_success(), "round {round}: {}", r.status());
            let v: Value = r.json().await.expect("JSON");
            ids.insert(v["id"].as_str().expect("an id").to_string());
        }
        // in the middle of them: some ended, some running, most waiting
        tokio::time::sleep(Duration::from_millis(800 + 300 * round as u64)).await;
        unfinished += ids.len() - ended(&client, port).await;
        kill_9(server);
    }
    assert_eq!(ids.len(), ROUNDS * PER_ROUND);
    assert!(unfinished > 0, "every execution had ended before its kill -9: the test proves nothing");
    // a last start goes on with every execution to its end
    let port = free_port();
    let server = start(&dir, port).await;
    let deadline = Instant::now() + Duration::from_secs(240);
    while ended(&client, port).await < ids.len() {
        assert!(Instant::now() < deadline, "not every execution ended within 240 s after the last start");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    kill_9(server);
    let home = dir.join("home");
    let store = SqliteStore::open(&home.join("baton.db")).expect("store");
    let stored: BTreeSet<String> =
        store.list_executions(&Default::default()).await.expect("list").into_iter().map(|e| e.id).collect();
    assert_eq!(stored, ids, "executions lost or made up");
    for id in &ids {
        let e = store.load_execution(id).await.expect("load").expect("execution");
        assert_eq!(e.state.current, StateType::Success, "{id}: {:?}", e.task_run_list);
        let mut tasks: Vec<&str> = e.task_run_list.iter().map(|t| t.task_id.as_str()).collect();
        tasks.sort_unstable();
        assert_eq!(tasks, ["a", "b", "c"], "{id}: each task run once");
    }
    drop(store);
    let conn = rusqlite::Connection::open(home.join("baton.db")).expect("open");
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
    assert_eq!(check, "ok");
    let _ = std::fs::remove_dir_all(&dir);
}
