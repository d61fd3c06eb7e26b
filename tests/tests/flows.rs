//! Kestra semantics end to end: rendering, labels, If/Switch, ForEach
//! outputs, Parallel, retries, errors, allowFailure, KV, secrets, Subflow.

use base64::Engine;
use serde_json::json;
use shared::model::StateType;
use shared::runtime::secrets::Secrets;

use crate::support::{harness, harness_with, runs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_flow_succeeds_with_kestra_outputs() {
    let h = harness();
    let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/hello_world.yaml")).unwrap();
    let e = h.run(&yaml, json!({"name": "Baton"})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let files: Vec<_> = runs(&e, "file_name").iter().map(|t| t.outputs.as_ref().unwrap()["value"].clone()).collect();
    assert_eq!(files.len(), 3);
    assert!(files.contains(&json!("yellow_tripdata_2019-02.csv")));
    assert_eq!(e.labels_map()["taxi"], "yellow");
    assert!(runs(&e, "skipped").is_empty(), "disabled task never runs");
    assert!(runs(&e, "green_only").is_empty());
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "Hello, Baton!"), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("February file: yellow_tripdata_2019-02.csv")), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_counted_and_the_failure_is_explained() {
    let h = harness();
    let e = h
        .run(
            r#"
id: retry
namespace: test
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "nope {{ taskrun.attemptsCount }}"
    retry:
      type: constant
      interval: PT0.05S
      maxAttempt: 3
errors:
  - id: on_error
    type: io.kestra.plugin.core.log.Log
    message: handled
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let fail = runs(&e, "fail")[0];
    assert_eq!(fail.attempts.len(), 3);
    assert!(fail.attempts.iter().all(|a| a.state.current == StateType::Failed));
    assert_eq!(runs(&e, "on_error")[0].state.current, StateType::Success);
    assert!(e.error.as_deref().unwrap_or("").contains("nope"), "{:?}", e.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_failure_ends_in_warning_and_switch_picks_its_case() {
    let h = harness();
    let e = h
        .run(
            r#"
id: warn
namespace: test
inputs:
  - id: kind
    type: STRING
tasks:
  - id: may_fail
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
  - id: switch
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.kind }}"
    cases:
      a:
        - id: case_a
          type: io.kestra.plugin.core.debug.Return
          format: A
    defaults:
      - id: other
        type: io.kestra.plugin.core.debug.Return
        format: other
"#,
            json!({"kind": "a"}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Warning);
    assert_eq!(runs(&e, "case_a")[0].outputs.as_ref().unwrap()["value"], "A");
    assert!(runs(&e, "other").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_types_and_secrets_masked_in_logs() {
    let secret = base64::engine::general_purpose::STANDARD.encode("s3cr3t-value");
    let h = harness_with(Secrets::from_vars([("SECRET_DB_PASSWORD".to_string(), secret)]));
    let e = h
        .run(
            r#"
id: kv
namespace: test.kv
tasks:
  - id: n
    type: io.kestra.plugin.core.kv.Set
    key: answer
    value: "42"
    kvType: NUMBER
  - id: j
    type: io.kestra.plugin.core.kv.Set
    key: creds
    value: '{"project": "p1"}'
    kvType: JSON
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: answer
  - id: use
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('answer') + 1 }} {{ kv('creds').project }} {{ kv('creds') }}"
  - id: leak
    type: io.kestra.plugin.core.log.Log
    message: "password is {{ secret('db_password') }}"
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(runs(&e, "get")[0].outputs.as_ref().unwrap()["value"], json!(42));
    assert_eq!(runs(&e, "use")[0].outputs.as_ref().unwrap()["value"], r#"43 p1 {"project":"p1"}"#);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "password is ******"), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains("s3cr3t-value")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_inputs_and_undefined_variables_are_clear_errors() {
    let h = harness();
    let flow = h.flow(
        r#"
id: needs
namespace: test
inputs:
  - id: year
    type: INT
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.nope }}"
"#,
    );
    let err = h.embedded.launch(&flow, Default::default()).await.unwrap_err().to_string();
    assert!(err.contains("year"), "{err}");
    let e = h.run_flow(&flow, json!({"year": "2019"})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let log = runs(&e, "log")[0];
    assert!(log.error.as_deref().unwrap_or("").contains("nope"), "{:?}", log.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subflow_waits_and_exposes_outputs() {
    let h = harness();
    h.flow(
        r#"
id: child
namespace: test
inputs:
  - id: n
    type: INT
tasks:
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.n * 2 }}"
outputs:
  - id: doubled
    type: STRING
    value: "{{ outputs.ret.value }}"
"#,
    );
    let e = h
        .run(
            r#"
id: parent
namespace: test
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: test
    flowId: child
    inputs:
      n: 21
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.call.outputs.doubled }}"
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(runs(&e, "show")[0].outputs.as_ref().unwrap()["value"], "42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_timeout_fails_the_attempt() {
    let h = harness();
    let e = h
        .run(
            r#"
id: slow
namespace: test
tasks:
  - id: sleep
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT5S
    timeout: PT0.2S
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(runs(&e, "sleep")[0].error.as_deref().unwrap_or("").contains("Timeout"));
}

/// A job of one `Log` task for task run `tr`, attempt 1, of execution "x".
fn log_job(tr: &str, claimed_by: Option<&str>) -> shared::runtime::messages::WorkerJob {
    use shared::runtime::messages::{JobTask, WorkerJob};
    WorkerJob {
        execution_id: "x".into(),
        task_run_id: tr.into(),
        attempt: 1,
        namespace: "test".into(),
        flow_id: "f".into(),
        flow_revision: 1,
        task: JobTask {
            id: "log".into(),
            kind: "io.kestra.plugin.core.log.Log".into(),
            props: serde_json::Map::from_iter([("message".to_string(), json!("once"))]),
            description: None,
            timeout_ms: None,
            log_level: None,
            log_to_file: false,
            task_cache: None,
        },
        context: json!({"flow": {"namespace": "test", "id": "f"}, "inputs": {}, "outputs": {}, "vars": {}}).into(),
        secret_inputs: vec![],
        claimed_by: claimed_by.map(str::to_string),
        new_attempt: false,
        opened: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_job_is_not_run_twice() {
    use shared::runtime::worker::Worker;
    let h = harness();
    let engine = h.embedded.engine.clone();
    let job = log_job("tr1", None);
    let w1 = Worker::new(engine.clone(), "w1".into());
    let w2 = Worker::new(engine.clone(), "w2".into());
    assert!(w1.handle(&job).await.unwrap(), "first delivery runs");
    assert!(!w2.handle(&job).await.unwrap(), "second delivery is acked without running");
    assert!(!w1.handle(&job).await.unwrap(), "even on the same worker once done");
}

/// A job whose claim the dispatching save opened (in process: the job names
/// the holder) runs after a read of that claim; the same attempt sent
/// again without a holder finds the claim held, then done; a claim closed
/// before a worker took its job (a kill) leaves the job unrun. A new
/// attempt's claim, fresh and with no claim closed since, is taken unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_claimed_at_dispatch_runs_once_and_not_after_a_kill() {
    use shared::backend::Claim;
    use shared::runtime::worker::{JobOutcome, Worker};
    let h = harness();
    let engine = h.embedded.engine.clone();
    let holder = "local-core@test";
    let until = chrono::Utc::now() + chrono::Duration::seconds(30);
    // what the dispatching save opens (`StateStore::save_execution_claiming`)
    assert_eq!(engine.state.claim("tr1", 1, holder, until).await.unwrap(), Claim::Acquired);
    let w1 = Worker::new(engine.clone(), "w1".into());
    let w2 = Worker::new(engine.clone(), "w2".into());
    let again = w2.handle_job(&log_job("tr1", None)).await.unwrap();
    assert!(matches!(&again, JobOutcome::HeldElsewhere { worker_id, .. } if worker_id == holder), "{again:?}");
    assert_eq!(w1.handle_job(&log_job("tr1", Some(holder))).await.unwrap(), JobOutcome::Ran);
    assert_eq!(
        w2.handle_job(&log_job("tr1", Some(holder))).await.unwrap(),
        JobOutcome::Duplicate,
        "done once reported"
    );
    assert_eq!(w2.handle_job(&log_job("tr1", None)).await.unwrap(), JobOutcome::Duplicate);

    assert_eq!(engine.state.claim("tr2", 1, holder, until).await.unwrap(), Claim::Acquired);
    engine.state.finish_claim("tr2", 1).await.unwrap();
    assert_eq!(
        w1.handle_job(&log_job("tr2", Some(holder))).await.unwrap(),
        JobOutcome::Duplicate,
        "killed before it ran"
    );

    // a new attempt's claim as the dispatching save stamps it (`opened`):
    // taken unread while fresh and while this process closed no claim
    // since (no claim row exists for tr4: a read would not find it held)
    use std::sync::atomic::Ordering::SeqCst;
    let stamped = |tr: &str, age: std::time::Duration, closed: u64| {
        let mut job = log_job(tr, Some(holder));
        job.opened = Some((std::time::Instant::now().checked_sub(age).expect("an instant that old"), closed));
        job
    };
    let closed = engine.claims_closed.load(SeqCst);
    assert_eq!(w1.handle_job(&stamped("tr4", std::time::Duration::ZERO, closed)).await.unwrap(), JobOutcome::Ran);
    // closed by a kill after the stamp: the count moved, so it is read
    assert_eq!(engine.state.claim("tr3", 1, holder, until).await.unwrap(), Claim::Acquired);
    engine.state.finish_claim("tr3", 1).await.unwrap();
    engine.claims_closed.fetch_add(1, SeqCst);
    assert_eq!(
        w1.handle_job(&stamped("tr3", std::time::Duration::ZERO, closed)).await.unwrap(),
        JobOutcome::Duplicate,
        "a claim closed since the stamp is read, and found done"
    );
    // older than FRESH_CLAIM: read too
    let now = engine.claims_closed.load(SeqCst);
    let old = shared::runtime::worker::FRESH_CLAIM + std::time::Duration::from_millis(100);
    assert_eq!(w1.handle_job(&stamped("tr3", old, now)).await.unwrap(), JobOutcome::Duplicate, "a stale stamp is read");
}

/// `baton run --input f=PATH` for a FILE input: the local file is streamed
/// into the execution's storage under Kestra's `inputs/{id}/{name}` path and
/// the input becomes its `kestra://` URI; an unreadable path is explained.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_file_input_is_stored_under_the_execution() {
    use shared::runtime::launcher::{LaunchRequest, store_file_inputs};
    let h = harness();
    let flow = h.flow(
        r#"
id: file_in
namespace: company.team
inputs:
  - id: data
    type: FILE
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.data) }}"
"#,
    );
    let local = h.home.join("trips.csv");
    std::fs::write(&local, "id,fare\n1,9.5\n").unwrap();
    let id = shared::model::ids::new_id();
    let mut inputs = serde_json::Map::new();
    inputs.insert("data".into(), json!(local.display().to_string()));
    store_file_inputs(&h.embedded.engine, &flow, &id, &mut inputs).await.expect("stored");
    let uri = inputs["data"].as_str().unwrap().to_string();
    assert_eq!(uri, format!("kestra:///company/team/file_in/executions/{id}/inputs/data/trips.csv"));

    let updates = h.embedded.updates();
    let req = LaunchRequest { inputs, execution_id: Some(id.clone()), ..LaunchRequest::default() };
    let exec = h.embedded.launch(&flow, req).await.expect("launch");
    let done = h.embedded.wait(&exec.id, updates, |_| {}).await.expect("wait");
    assert_eq!(done.state.current, StateType::Success, "{:?}", done.error);
    assert_eq!(done.inputs["data"], json!(uri));
    let show = runs(&done, "show");
    assert_eq!(show[0].outputs.as_ref().unwrap()["value"], json!("id,fare\n1,9.5\n"));

    let mut missing = serde_json::Map::new();
    missing.insert("data".into(), json!("/no/such/file.csv"));
    let e = store_file_inputs(&h.embedded.engine, &flow, "x", &mut missing).await.expect_err("missing file");
    assert!(e.to_string().starts_with("input 'data': cannot read /no/such/file.csv:"), "{e}");
}
