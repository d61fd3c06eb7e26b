//! Issue 53, item 4: `kill -9` of `baton server local` in the middle of
//! 200 executions, three rounds. After a last start every execution is
//! ended SUCCESS, none is lost, each has its task runs once (at-least-once
//! may re-run an attempt, never make a second task run), and SQLite's
//! `PRAGMA integrity_check` says ok.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use shared::backend::StateStore;
use shared::backend::local::SqliteStore;
use shared::model::StateType;

use crate::local_server::{LocalServer, test_dir};

const ROUNDS: usize = 3;
const PER_ROUND: usize = 67;
const FLOW: &str = "id: crash\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    \
                    message: a\n  - id: b\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      \
                    type: io.kestra.plugin.core.runner.Process\n    commands:\n      - sleep 0.2\n  - id: c\n    \
                    type: io.kestra.plugin.core.log.Log\n    message: c\n";

/// How many executions have ended, as the API lists them.
async fn ended(client: &reqwest::Client, port: u16) -> usize {
    let url = format!("http://127.0.0.1:{port}/api/v1/executions/search?size=1000");
    let v: Value = client.get(url).send().await.expect("search").json().await.expect("JSON");
    let results = v["results"].as_array().cloned().unwrap_or_default();
    results.iter().filter(|e| e["state"]["current"] == "SUCCESS" || e["state"]["current"] == "FAILED").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_server_in_the_middle_of_200_executions_loses_none() {
    let dir = test_dir("baton-crash");
    std::fs::write(dir.join("flows/crash.yaml"), FLOW).expect("flow");
    let client = reqwest::Client::new();
    let mut ids = BTreeSet::new();
    let mut unfinished = 0;
    for round in 0..ROUNDS {
        let server = LocalServer::start(&dir, 4, &[]).await;
        let port = server.port;
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
        server.kill_9();
    }
    assert_eq!(ids.len(), ROUNDS * PER_ROUND);
    assert!(unfinished > 0, "every execution had ended before its kill -9: the test proves nothing");
    // a last start goes on with every execution to its end
    let server = LocalServer::start(&dir, 4, &[]).await;
    let port = server.port;
    let deadline = Instant::now() + Duration::from_secs(240);
    while ended(&client, port).await < ids.len() {
        assert!(Instant::now() < deadline, "not every execution ended within 240 s after the last start");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    server.kill_9();
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
