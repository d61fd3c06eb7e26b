//! Issue 52, item 3: `baton server local` pushes back instead of piling up
//! work. With `BATON_MAX_BACKLOG=3` and one worker busy on a slow task,
//! requests that start executions are answered 429 with `Retry-After`
//! and a message naming the bound once three messages wait; every
//! execution accepted still ends SUCCESS, and once the backlog drained the
//! server accepts again (the count went back to zero).

use std::time::Duration;

use serde_json::Value;

use crate::local_server::{LocalServer, test_dir};

const FLOW: &str = "id: slow\nnamespace: test.pressure\ntasks:\n  - id: wait\n    \
     type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      \
     type: io.kestra.plugin.core.runner.Process\n    commands:\n      - sleep 0.5\n";

async fn state(http: &reqwest::Client, server: &LocalServer, id: &str) -> String {
    let v: Value =
        http.get(server.api(&format!("/executions/{id}"))).send().await.expect("get").json().await.expect("json");
    v["state"]["current"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_429_with_retry_after_at_its_backlog_bound_and_ends_what_it_accepted() {
    let dir = test_dir("baton-pressure");
    std::fs::write(dir.join("flows/slow.yml"), FLOW).expect("flow");
    let server = LocalServer::start(&dir, 1, &[("BATON_MAX_BACKLOG", "3")]).await;
    let http = reqwest::Client::new();
    let post = server.api("/executions/test.pressure/slow");

    let (mut accepted, mut refusal) = (Vec::new(), None);
    for _ in 0..20 {
        let r = http.post(&post).send().await.expect("post");
        if r.status().as_u16() == 429 {
            let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            let body: Value = r.json().await.expect("json");
            refusal = Some((retry, body["message"].as_str().unwrap_or_default().to_string()));
            break;
        }
        assert!(r.status().is_success(), "POST answered {}", r.status());
        let v: Value = r.json().await.expect("json");
        accepted.push(v["id"].as_str().expect("id").to_string());
    }
    let (retry, message) = refusal.expect("a POST answered 429 once the backlog reached 3");
    assert_eq!(retry.as_deref(), Some("1"), "429 carries Retry-After: 1");
    assert!(
        message.contains("MAX_BACKLOG") && message.contains("BATON_MAX_BACKLOG") && message.contains("(3,"),
        "the refusal names the bound: {message}"
    );
    // one running on the worker, three waiting (the creation of the last
    // may still count): never more than the bound and the job being run
    assert!((3..=5).contains(&accepted.len()), "accepted {} before the first 429", accepted.len());

    // everything accepted ends; nothing is left RUNNING
    for id in &accepted {
        let mut last = String::new();
        for _ in 0..200 {
            last = state(&http, &server, id).await;
            if last == "SUCCESS" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(last, "SUCCESS", "accepted execution {id}");
    }

    // the backlog is back at zero: a new execution is accepted at once
    let r = http.post(&post).send().await.expect("post");
    assert!(r.status().is_success(), "a POST after the drain answered {}", r.status());
    server.kill_9();
    let _ = std::fs::remove_dir_all(&dir);
}
