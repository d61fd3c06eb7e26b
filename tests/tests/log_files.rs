//! An attempt's log file (issue 24): Kestra's `logToFile: true` keeps all
//! of a task's lines in a text file in internal storage (the attempt's
//! `logFile`, none in the execution's logs), and the logs download of the
//! local server serves the stored lines followed by each log file.

use serde_json::Value;
use shared::server::{LocalServer, ServerOptions};

use crate::sched_support::temp_dir;

const CORPUS: &str = "/work/shared/reference/kestra-corpus/valids";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_to_file_keeps_the_tasks_lines_in_a_file_the_download_serves() {
    let home = temp_dir("baton-logfile");
    let flows = home.join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    // Kestra's own test flow, unchanged, beside a task that logs as usual
    std::fs::copy(format!("{CORPUS}/log-to-file.yaml"), flows.join("log-to-file.yaml")).expect("corpus flow");
    std::fs::write(
        flows.join("mixed.yaml"),
        "id: mixed\nnamespace: io.kestra.tests\ntasks:\n  - id: quiet\n    type: io.kestra.plugin.core.log.Log\n    \
         message: in the file\n    logToFile: true\n  - id: loud\n    type: io.kestra.plugin.core.log.Log\n    \
         message: in the store\n",
    )
    .expect("flow");
    let mut opts = ServerOptions::new(home.join("home"));
    opts.flows_dir = flows;
    opts.port = 0;
    opts.workers = 2;
    let server = LocalServer::start(opts).await.expect("server starts");
    let http = reqwest::Client::new();
    let base = server.url();
    let run = |flow: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let r = http
                .post(format!("{base}/api/v1/executions/io.kestra.tests/{flow}?wait=true"))
                .send()
                .await
                .expect("execute");
            assert!(r.status().is_success(), "{r:?}");
            r.json::<Value>().await.expect("json")
        }
    };

    // as Kestra's LogToFileTest: SUCCESS, one attempt with a logFile of one
    // line holding the level and the message
    let e = run("log-to-file").await;
    assert_eq!(e["state"]["current"], "SUCCESS", "{e}");
    let id = e["id"].as_str().expect("id").to_string();
    let attempts = e["taskRunList"][0]["attempts"].as_array().expect("attempts").clone();
    assert_eq!(attempts.len(), 1);
    let uri = attempts[0]["logFile"].as_str().expect("logFile").to_string();
    assert!(uri.starts_with(&format!("kestra:///io/kestra/tests/log-to-file/executions/{id}/tasks/hello/")), "{uri}");
    let file = http
        .get(format!("{base}/api/v1/executions/{id}/file"))
        .query(&[("path", &uri)])
        .send()
        .await
        .expect("file")
        .text()
        .await
        .expect("text");
    let lines: Vec<&str> = file.lines().collect();
    assert_eq!(lines.len(), 1, "{file}");
    assert!(lines[0].contains("INFO") && lines[0].contains("Hello World!"), "{file}");
    let stored: Value =
        http.get(format!("{base}/api/v1/logs/{id}")).send().await.expect("logs").json().await.expect("json");
    assert!(
        !stored.as_array().expect("list").iter().any(|l| l["message"].as_str().is_some_and(|m| m.contains("Hello"))),
        "the line is in the file only: {stored}"
    );

    // the download: stored lines, then each log file under a header
    let e = run("mixed").await;
    assert_eq!(e["state"]["current"], "SUCCESS", "{e}");
    let id = e["id"].as_str().expect("id");
    let download = |q: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.get(format!("{base}/api/v1/logs/{id}/download{q}"))
                .send()
                .await
                .expect("download")
                .text()
                .await
                .expect("text")
        }
    };
    let all = download("").await;
    let (store_part, file_part) = all.split_once("--- [quiet] attempt 1: kestra:///").expect("a file header");
    assert!(store_part.contains("[loud] in the store") && !store_part.contains("in the file"), "{all}");
    assert!(file_part.contains("INFO [quiet] in the file"), "{all}");
    let loud_only = download("?taskId=loud").await;
    assert!(loud_only.contains("in the store") && !loud_only.contains("in the file"), "{loud_only}");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&home);
}
