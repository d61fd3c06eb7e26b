//! `baton server local` in-process on a temp home and a free port: health,
//! flows, executions (JSON, multipart form, labels, wait), the Kestra
//! paths, flows reloaded on change with invalid files reported, a live
//! schedule, a backfill finished by a second server after the first died
//! mid-way, and concurrency over a burst from every source.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};
use shared::backend::schedule::BackfillState;
use shared::model::{Label, StateType};
use shared::runtime::launcher::LaunchRequest;
use shared::server::client::{Client, ClientError, NewBackfill};
use shared::server::{LocalServer, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::sched_support::{OverlapProbe, executions_of, temp_dir, trigger_date, wait_ended};

async fn start(home: &Path, flows: &Path) -> LocalServer {
    let mut opts = ServerOptions::new(home.to_path_buf());
    opts.flows_dir = flows.to_path_buf();
    opts.port = 0;
    opts.workers = 4;
    opts.tick = Duration::from_millis(200);
    LocalServer::start(opts).await.expect("server starts")
}

/// Polls `check` (a failure guard of a minute, not a timing assertion).
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(what: &str, mut check: impl FnMut() -> F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A raw HTTP/1.1 request (for bodies the client does not send).
async fn raw(addr: std::net::SocketAddr, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await.expect("write");
    sock.write_all(body).await.expect("write");
    let mut out = Vec::new();
    sock.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write flow");
}

fn taxi() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/taxi_scheduled.yaml")).expect("example")
}

const UPLOAD: &str = r#"
id: upload
namespace: test.api
inputs:
  - id: name
    type: STRING
  - id: data
    type: FILE
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name }}: {{ read(inputs.data) }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_health_flows_and_executions() {
    let (home, flows) = (temp_dir("baton-srv-home"), temp_dir("baton-srv-flows"));
    write(&flows, "taxi.yaml", &taxi());
    write(&flows, "upload.yml", UPLOAD);
    write(
        &flows,
        "broken.yaml",
        "id: broken\nnamespace: test.api\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Nope\n",
    );
    let server = start(&home, &flows).await;
    let client = Client::new(&server.url());
    assert_eq!(client.health().await.expect("health"), json!({"status": "UP"}));

    let listed = client.flows().await.expect("flows");
    let names: Vec<String> =
        listed.iter().map(|f| format!("{}.{}", f["namespace"].as_str().unwrap(), f["id"].as_str().unwrap())).collect();
    assert_eq!(names, ["test.api.upload", "zoomcamp.taxi_scheduled"], "the invalid flow is not loaded");
    let taxi = &listed[1];
    assert_eq!(taxi["triggers"][0]["cron"], "0 9 1 * *");
    assert!(taxi["triggers"][0]["nextExecutionDate"].is_string(), "{taxi}");
    let problems = server.watcher.problems();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].1.contains("broken.yaml:5:"), "reported with file:line: {}", problems[0].1);

    let labels = [Label { key: "team".into(), value: "data".into() }];
    let inputs = Map::from_iter([("taxi".to_string(), json!("yellow"))]);
    let e = client.start_execution("zoomcamp", "taxi_scheduled", &inputs, &labels, true).await.expect("start");
    assert_eq!(e.state.current, StateType::Success);
    assert!(e.labels.contains(&labels[0]));
    assert!(e.trigger.is_none(), "a run by hand has no trigger");
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    assert_eq!(
        e.outputs.as_ref().expect("outputs")["file"],
        json!(format!("yellow_tripdata_{month}.csv")),
        "trigger.date ?? execution.startDate"
    );
    let shown = client.execution(&e.id).await.expect("get").expect("exists");
    assert_eq!(shown.id, e.id);
    assert_eq!(shown.task_run_list.len(), 4);
    assert!(client.execution("missing").await.expect("get").is_none());

    let bad = Map::from_iter([("taxi".to_string(), json!("purple"))]);
    match client.start_execution("zoomcamp", "taxi_scheduled", &bad, &[], false).await {
        Err(ClientError::Http { status: 422, message, .. }) => assert!(message.contains("taxi"), "{message}"),
        other => panic!("invalid input: {other:?}"),
    }
    match client.start_execution("zoomcamp", "nope", &Map::new(), &[], false).await {
        Err(ClientError::Http { status: 404, .. }) => {}
        other => panic!("unknown flow: {other:?}"),
    }

    // multipart form, as Kestra's API takes it, with a file input; tenant path
    let boundary = "XbatonX";
    let body = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"name\"\r\n\r\nBaton\r\n\
         --{boundary}\r\ncontent-disposition: form-data; name=\"data\"; filename=\"hello.txt\"\r\ncontent-type: text/plain\r\n\r\nhello file\r\n\
         --{boundary}--\r\n"
    );
    let (status, text) = raw(
        server.addr(),
        "POST",
        "/api/v1/main/executions/test.api/upload?wait=true&labels=from:form",
        &format!("multipart/form-data; boundary={boundary}"),
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["state"]["current"], "SUCCESS", "{v}");
    assert_eq!(v["taskRunList"][0]["outputs"]["value"], "Baton: hello file");
    assert!(v["labels"].as_array().expect("labels").contains(&json!({"key": "from", "value": "form"})));
    assert!(v.get("version").is_none(), "Kestra's shape");

    let (status, text) =
        raw(server.addr(), "POST", "/api/v1/executions/zoomcamp/taxi_scheduled", "application/json", b"[1]").await;
    assert_eq!(status, 422, "{text}");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&flows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_reload_on_change_and_a_broken_edit_keeps_the_last_good_version() {
    let (home, flows) = (temp_dir("baton-srv-home"), temp_dir("baton-srv-flows"));
    let v1 = "id: reload\nnamespace: test.api\ndescription: one\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    write(&flows, "reload.yaml", v1);
    let server = start(&home, &flows).await;
    let client = Client::new(&server.url());
    let description = |c: Client| async move {
        c.flows().await.expect("flows").iter().find(|f| f["id"] == "reload").map(|f| f["description"].clone())
    };
    assert_eq!(description(client.clone()).await, Some(json!("one")));
    write(&flows, "reload.yaml", &v1.replace("description: one", "description: two, a longer one"));
    eventually("the edit is loaded", || {
        let c = client.clone();
        async move { (description(c).await == Some(json!("two, a longer one"))).then_some(()) }
    })
    .await;
    write(&flows, "reload.yaml", "id: reload\nnamespace: test.api\ntasks: [ broken");
    eventually("the broken edit is reported", || async { (!server.watcher.problems().is_empty()).then_some(()) }).await;
    assert_eq!(description(client.clone()).await, Some(json!("two, a longer one")), "last good version kept");
    write(&flows, "other.yaml", &v1.replace("id: reload", "id: other"));
    eventually("a new file is loaded", || {
        let c = client.clone();
        async move { c.flows().await.expect("flows").iter().any(|f| f["id"] == "other").then_some(()) }
    })
    .await;
    std::fs::remove_file(flows.join("other.yaml")).expect("remove");
    eventually("a removed file's flow is gone", || {
        let c = client.clone();
        async move { (!c.flows().await.expect("flows").iter().any(|f| f["id"] == "other")).then_some(()) }
    })
    .await;
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&flows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_schedule_fires_each_tick_once() {
    let (home, flows) = (temp_dir("baton-srv-home"), temp_dir("baton-srv-flows"));
    write(
        &flows,
        "tick.yaml",
        r#"
id: ticking
namespace: test.api
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date }}"
triggers:
  - id: every_second
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * * *"
    withSeconds: true
"#,
    );
    let server = start(&home, &flows).await;
    let engine = server.engine.clone();
    let execs = eventually("three scheduled executions", || {
        let engine = engine.clone();
        async move {
            let e = executions_of(&engine, "test.api", "ticking").await;
            (e.len() >= 3).then_some(e)
        }
    })
    .await;
    server.shutdown().await;
    let dates: BTreeSet<String> = execs.iter().map(trigger_date).collect();
    assert_eq!(dates.len(), execs.len(), "one execution per tick: {dates:?}");
    let times: Vec<chrono::DateTime<chrono::Utc>> =
        dates.iter().map(|d| chrono::DateTime::parse_from_rfc3339(d).expect("date").to_utc()).collect();
    for w in times.windows(2) {
        assert_eq!(w[1] - w[0], chrono::TimeDelta::seconds(1), "no tick skipped: {dates:?}");
    }
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&flows);
}

const SLOW_TAXI: &str = r#"
id: slow_taxi
namespace: zoomcamp
concurrency:
  limit: 1
inputs:
  - id: taxi
    type: STRING
    defaults: green
variables:
  file: "{{ inputs.taxi }}_tripdata_{{ trigger.date | date('yyyy-MM') }}.csv"
tasks:
  - id: set_label
    type: io.kestra.plugin.core.execution.Labels
    labels:
      file: "{{ render(vars.file) }}"
  - id: extract
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.1S
  - id: file_name
    type: io.kestra.plugin.core.debug.Return
    format: "{{ render(vars.file) }}"
triggers:
  - id: green_schedule
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 1 * *"
    inputs:
      taxi: green
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_mid_backfill_finishes_it_without_gaps_or_duplicates() {
    let (home, flows) = (temp_dir("baton-srv-home"), temp_dir("baton-srv-flows"));
    write(&flows, "slow_taxi.yaml", SLOW_TAXI);
    let first = start(&home, &flows).await;
    let client = Client::new(&first.url());
    let b = client
        .create_backfill(&NewBackfill {
            namespace: "zoomcamp".into(),
            flow_id: "slow_taxi".into(),
            trigger_id: "green_schedule".into(),
            start: "2019-01-01".into(),
            end: Some("2019-12-31".into()),
            labels: vec![Label { key: "backfill".into(), value: "true".into() }],
            ..NewBackfill::default()
        })
        .await
        .expect("submit");
    assert_eq!(b.progress.total, 12);
    eventually("the backfill is under way", || {
        let c = client.clone();
        let id = b.id.clone();
        async move { (c.backfill(&id).await.expect("get").progress.launched >= 4).then_some(()) }
    })
    .await;
    first.abort(); // as a crash: no shutdown, work in flight is lost
    // A dead process writes nothing more; the aborted tasks stop at their next
    // await, so let them, as the OS would have stopped them all at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = start(&home, &flows).await;
    let client = Client::new(&second.url());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let done = loop {
        let now = client.backfill(&b.id).await.expect("get");
        if now.state != BackfillState::Running {
            break now;
        }
        if tokio::time::Instant::now() > deadline {
            // what is stuck, for whoever reads the failure
            let mut dump = Vec::new();
            for e in executions_of(&second.engine, "zoomcamp", "slow_taxi").await {
                let runs: Vec<String> = e
                    .task_run_list
                    .iter()
                    .map(|t| {
                        let attempts: Vec<String> =
                            t.attempts.iter().map(|a| format!("{}@{:?}", a.state.current, a.worker_id)).collect();
                        format!("{}={} [{}]", t.task_id, t.state.current, attempts.join(","))
                    })
                    .collect();
                dump.push(format!("{} {} {}: {}", e.id, trigger_date(&e), e.state.current, runs.join("; ")));
            }
            panic!("the second server never finished the backfill: {:?}\n{}", now.progress, dump.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done.state, BackfillState::Success);
    let engine = second.engine.clone();
    let execs = executions_of(&engine, "zoomcamp", "slow_taxi").await;
    let mut ended = Vec::new();
    for e in &execs {
        ended.push(wait_ended(&engine, &e.id).await);
    }
    second.shutdown().await;
    assert_eq!(ended.len(), 12, "no duplicate: {:?}", ended.iter().map(trigger_date).collect::<Vec<_>>());
    let months: BTreeSet<String> = ended.iter().map(trigger_date).collect();
    assert_eq!(months.len(), 12, "no gap");
    for e in &ended {
        assert_eq!(e.state.current, StateType::Success, "{} {:?}", e.id, e.error);
        let file = e.labels.iter().find(|l| l.key == "file").map(|l| l.value.clone()).unwrap_or_default();
        assert_eq!(file, format!("green_tripdata_{}.csv", &trigger_date(e)[..7]));
    }
    assert_eq!((done.progress.failed, done.progress.succeeded + done.progress.skipped), (0, 12));
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&flows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_from_every_source_never_exceeds_the_limit_and_every_queued_one_finishes() {
    let (home, flows) = (temp_dir("baton-srv-home"), temp_dir("baton-srv-flows"));
    write(
        &flows,
        "limited.yaml",
        r#"
id: limited
namespace: test.api
concurrency:
  limit: 2
tasks:
  - id: work
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.05S
triggers:
  - id: monthly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "@monthly"
"#,
    );
    let server = start(&home, &flows).await;
    let engine = server.engine.clone();
    let (stop, probe) = OverlapProbe::spawn(engine.updates.subscribe());
    let client = Client::new(&server.url());
    let flow = engine.flows.get("test.api", "limited").expect("loaded");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.start_execution("test.api", "limited", &Map::new(), &[], false).await.expect("api").id
        }));
        let (engine, flow) = (engine.clone(), flow.clone());
        tasks.push(tokio::spawn(async move {
            let req = LaunchRequest {
                labels: vec![Label { key: "n".into(), value: i.to_string() }],
                ..LaunchRequest::default()
            };
            shared::runtime::launcher::launch(&engine, &flow, req).await.expect("direct").id
        }));
    }
    let b = client
        .create_backfill(&NewBackfill {
            namespace: "test.api".into(),
            flow_id: "limited".into(),
            trigger_id: "monthly".into(),
            start: "2020-01-01".into(),
            end: Some("2020-08-31".into()),
            ..NewBackfill::default()
        })
        .await
        .expect("backfill");
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.expect("launch"));
    }
    eventually("the backfill ends", || {
        let c = client.clone();
        let id = b.id.clone();
        async move { (c.backfill(&id).await.expect("get").state == BackfillState::Success).then_some(()) }
    })
    .await;
    let all = executions_of(&engine, "test.api", "limited").await;
    assert_eq!(all.len(), 24, "16 launched by hand and 8 by the backfill");
    for e in &all {
        assert_eq!(wait_ended(&engine, &e.id).await.state.current, StateType::Success, "every queued one finishes");
    }
    stop.send(()).expect("stop");
    let max = probe.await.expect("probe");
    assert!(max <= 2, "at most the limit overlap, saw {max}");
    assert_eq!(max, 2, "the limit is used");
    let queued = {
        let mut n = 0;
        for e in &all {
            if e.state.histories.iter().any(|h| h.state == StateType::Queued) {
                n += 1;
            }
        }
        n
    };
    assert!(queued > 0, "a burst queues some");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&flows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_running_when_the_process_died_runs_again_at_the_next_start() {
    use shared::server::{LocalEngineOptions, open_local, resume_unfinished};
    let home = temp_dir("baton-srv-home");
    let opts = || LocalEngineOptions {
        home: home.clone(),
        workers: 2,
        echo_logs: false,
        secrets: Default::default(),
        envs: Default::default(),
        plugins: Default::default(),
        progress: None,
        flows_dir: None,
    };
    let yaml = r#"
id: long_task
namespace: test.api
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.5S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: done
"#;
    let (first, _) = open_local(opts()).expect("open");
    let flow = first.engine.flows.insert(crate::sched_support::parse_flow(yaml));
    let e = first.launch(&flow, LaunchRequest::default()).await.expect("launch");
    let engine = first.engine.clone();
    eventually("the task runs", || {
        let engine = engine.clone();
        let id = e.id.clone();
        async move {
            let x = engine.state.load_execution(&id).await.expect("load").expect("exists");
            x.task_run_list.iter().any(|t| t.task_id == "wait" && t.state.current == StateType::Running).then_some(())
        }
    })
    .await;
    first.shutdown(); // the process dies with the worker holding the attempt
    let (second, _) = open_local(opts()).expect("reopen");
    second.engine.flows.insert(crate::sched_support::parse_flow(yaml));
    let (rerun, resumed) = resume_unfinished(&second).await.expect("resume");
    assert_eq!((rerun, resumed), (1, 1));
    let done = wait_ended(&second.engine, &e.id).await;
    assert_eq!(done.state.current, StateType::Success, "{:?}", done.error);
    let wait = done.task_run_list.iter().find(|t| t.task_id == "wait").expect("wait");
    let states: Vec<StateType> = wait.attempts.iter().map(|a| a.state.current).collect();
    assert_eq!(states, [StateType::Killed, StateType::Success], "attempt 1 lost with its worker, attempt 2 ran");
    let logs = second.engine.state.logs(&e.id).await.expect("logs");
    assert!(logs.iter().any(|l| l.message.contains("its worker is lost")), "{logs:?}");
    second.shutdown();
    let _ = std::fs::remove_dir_all(&home);
}

/// Kestra's restart in place: a FAILED execution restarted through the API
/// runs its failed task again as attempt 2 — inside a ForEach too — keeps
/// what had succeeded, and goes on to the end; a SUCCESS one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_execution_restarts_in_place_from_its_failed_tasks() {
    let (home, flows) = (temp_dir("baton-restart-home"), temp_dir("baton-restart-flows"));
    write(
        &flows,
        "restart.yaml",
        "id: restartable\nnamespace: test.restart\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: once\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [a, b]\n    tasks:\n      - id: gate\n        type: io.kestra.plugin.core.execution.Fail\n        condition: \"{{ taskrun.value == 'b' and kv('go', errorOnMissing=false) == null }}\"\n        errorMessage: not yet\n  - id: last\n    type: io.kestra.plugin.core.log.Log\n    message: done\n",
    );
    let server = start(&home, &flows).await;
    let client = Client::new(&server.url());
    let http = reqwest::Client::new();
    let e = client.start_execution("test.restart", "restartable", &Map::new(), &[], true).await.expect("start");
    assert_eq!(e.state.current, StateType::Failed);
    let runs = |e: &shared::model::Execution, id: &str| -> Vec<shared::model::TaskRun> {
        e.task_run_list.iter().filter(|t| t.task_id == id).cloned().collect()
    };
    assert!(runs(&e, "last").is_empty());

    let kv = http
        .put(format!("{}/api/v1/namespaces/test.restart/kv/go", server.url()))
        .header("content-type", "application/json")
        .body("\"yes\"")
        .send()
        .await
        .expect("kv");
    assert!(kv.status().is_success(), "{kv:?}");
    let restart =
        http.post(format!("{}/api/v1/executions/{}/restart", server.url(), e.id)).send().await.expect("restart");
    assert_eq!(restart.status(), 200);
    let body: Value = restart.json().await.expect("json");
    assert_eq!(body["state"]["current"], "RESTARTED", "{body}");

    let done = eventually("the restarted execution ends", || async {
        client.execution(&e.id).await.ok().flatten().filter(|x| x.state.is_terminal())
    })
    .await;
    assert_eq!(done.state.current, StateType::Success, "{:?}", done.error);
    let states: Vec<StateType> = done.state.histories.iter().map(|h| h.state).collect();
    assert!(states.contains(&StateType::Failed) && states.contains(&StateType::Restarted), "{states:?}");
    assert_eq!(runs(&done, "first")[0].attempts.len(), 1, "what succeeded is kept");
    let gates = runs(&done, "gate");
    assert_eq!(gates.len(), 2);
    let attempts: Vec<usize> = gates.iter().map(|g| g.attempts.len()).collect();
    assert_eq!(attempts, [1, 2], "only the failed iteration ran again: {attempts:?}");
    assert_eq!(runs(&done, "each")[0].state.current, StateType::Success);
    assert_eq!(runs(&done, "last").len(), 1);

    let again = http.post(format!("{}/api/v1/executions/{}/restart", server.url(), e.id)).send().await.expect("again");
    assert_eq!(again.status(), 409);
    let text = again.text().await.unwrap_or_default();
    assert!(text.contains("only a FAILED or KILLED execution can be restarted"), "{text}");
}
