//! Flow triggers through the GCP functions: the flows are objects in the
//! bucket (fake-gcs-server, `FlowSource::Storage`), state and precondition
//! windows are in the Firestore emulator, and the Pub/Sub emulator pushes
//! every message to the executor and worker functions twice. An upstream
//! end starts its listener once (inputs from `outputs.<task>`), a
//! two-upstream `preconditions` listener fires once after both, and a
//! redelivered end (as an event, and handled again directly) starts nothing
//! more; a listener on RUNNING, PAUSED and SUCCESS gets one execution per
//! state change of a paused and resumed upstream, the SUCCESS one before
//! the upstream's `afterExecution` tasks end.

use std::time::Duration;

use e2e::functions::{Served, serve};
use e2e::gcp_emulators::{function_router, gcp_backends, gcp_engine_with, push_subscriptions};
use serde_json::{Value, json};
use shared::backend::gcp::GcpBackends;
use shared::backend::{ExecutionFilter, StateStore, Storage, Topic};
use shared::functions::Handler;
use shared::functions::flows::FlowSource;
use shared::model::{Execution, StateType};
use shared::runtime::flow_triggers;
use shared::runtime::launcher::publish_event;
use shared::runtime::messages::ExecutionEvent;

const NS: &str = "gcp.flowtrig";

const UPSTREAM: &str = r#"
id: extract
namespace: gcp.flowtrig
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: "v-{{ execution.id }}"
"#;

const LISTENER: &str = r#"
id: transform
namespace: gcp.flowtrig
inputs:
  - id: value
    type: STRING
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.executionId }}|{{ inputs.value }}"
triggers:
  - id: after_extract
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      value: "{{ outputs.only.value }}"
    preconditions:
      id: flows
      flows:
        - namespace: gcp.flowtrig
          flowId: extract
          states: [SUCCESS]
"#;

fn simple(id: &str) -> String {
    format!(
        "id: {id}\nnamespace: {NS}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n    format: {id}\n"
    )
}

const BOTH: &str = r#"
id: both
namespace: gcp.flowtrig
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.executionId }}"
triggers:
  - id: on_both
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: pair
      flows:
        - namespace: gcp.flowtrig
          flowId: a
          states: [SUCCESS]
        - namespace: gcp.flowtrig
          flowId: b
          states: [SUCCESS]
"#;

/// Writes flow `name` to the bucket, where `terraform apply` puts it.
async fn upload(backends: &GcpBackends, name: &str, yaml: &str) {
    let data: shared::backend::ByteStream = Box::pin(std::io::Cursor::new(yaml.as_bytes().to_vec()));
    backends.storage.put(&format!("/flows/{NS}/{name}.yml"), data).await.expect("upload the flow");
}

struct Fns {
    backends: GcpBackends,
    api: Served,
    _executor: Served,
    _worker: Served,
    http: reqwest::Client,
}

async fn start(flows: &[(&str, String)]) -> Fns {
    let backends = gcp_backends("ftrig").await;
    for (name, yaml) in flows {
        upload(&backends, name, yaml).await;
    }
    let flows = FlowSource::Storage("/flows".into());
    let executor = serve(function_router(&backends, Handler::Executor, &flows).await).await;
    let worker = serve(function_router(&backends, Handler::Worker, &flows).await).await;
    let api = serve(function_router(&backends, Handler::Api, &flows).await).await;
    let http = reqwest::Client::new();
    let project = backends.config.project.clone();
    push_subscriptions(&http, &project, &Topic::Executions.name(), &executor.url, 2).await;
    push_subscriptions(&http, &project, &Topic::Tasks("core".into()).name(), &worker.url, 2).await;
    Fns { backends, api, _executor: executor, _worker: worker, http }
}

impl Fns {
    async fn launch(&self, flow: &str) -> String {
        let url = format!("{}api/v1/executions/{NS}/{flow}", self.api.url);
        let resp = self.http.post(url).json(&json!({})).send().await.expect("start");
        let status = resp.status();
        let body: Value = resp.json().await.expect("json");
        assert_eq!(status, 200, "{body}");
        body["id"].as_str().expect("id").to_string()
    }

    async fn wait(&self, id: &str) -> Execution {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(e) = self.backends.state.load_execution(id).await.expect("load")
                && e.state.is_terminal()
            {
                return e;
            }
            assert!(tokio::time::Instant::now() < deadline, "execution {id} did not end");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The executions of `flow_id`.
    async fn executions(&self, flow_id: &str) -> Vec<Execution> {
        let filter =
            ExecutionFilter { namespace: Some(NS.into()), flow_id: Some(flow_id.into()), ..ExecutionFilter::default() };
        let mut out = Vec::new();
        for s in self.backends.state.list_executions(&filter).await.expect("list") {
            out.push(self.backends.state.load_execution(&s.id).await.expect("load").expect("stored"));
        }
        out
    }

    /// Waits until `flow_id` has `n` ended executions, then 2 s more (every
    /// push delivered twice, with redelivery backoff) so an extra one would show.
    async fn ended(&self, flow_id: &str, n: usize) -> Vec<Execution> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let all = self.executions(flow_id).await;
            if all.len() >= n && all.iter().all(|e| e.state.is_terminal()) {
                tokio::time::sleep(Duration::from_secs(2)).await;
                return self.executions(flow_id).await;
            }
            assert!(tokio::time::Instant::now() < deadline, "{flow_id}: {} executions, want {n} ended", all.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The same end handled again: as a redelivered event through Pub/Sub,
    /// and directly by a cold instance reading the flows from the bucket.
    async fn redeliver(&self, exec: &Execution) {
        let engine = gcp_engine_with(&self.backends, Some(FlowSource::Storage("/flows".into())));
        publish_event(&engine, &ExecutionEvent::Wake { execution_id: exec.id.clone(), redispatch: false })
            .await
            .expect("publish");
        flow_triggers::on_state_change(&engine, exec).await.expect("the end handled again");
    }
}

fn shown(e: &Execution) -> String {
    e.task_run_list[0].outputs.as_ref().expect("outputs")["value"].as_str().expect("string").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flow_triggers_fire_once_through_the_gcp_functions() {
    let fns = start(&[("extract", UPSTREAM.into()), ("a", simple("a")), ("b", simple("b"))]).await;
    // the listeners arrive in the bucket after the functions started: only
    // reading the bucket as it is now (not an instance's copy) finds them
    upload(&fns.backends, "transform", LISTENER).await;
    upload(&fns.backends, "both", BOTH).await;

    // one upstream, one listener with inputs from outputs.<task>
    let up = fns.launch("extract").await;
    let up = fns.wait(&up).await;
    assert_eq!(up.state.current, StateType::Success, "{:?}", up.error);
    let down = fns.ended("transform", 1).await;
    assert_eq!(down.len(), 1, "one downstream execution although every push came twice");
    let d = &down[0];
    assert_eq!(d.state.current, StateType::Success, "{:?}", d.error);
    assert_eq!(d.trigger.as_ref().expect("trigger").variables["executionId"], json!(up.id));
    assert_eq!(d.inputs.get("value"), Some(&json!(format!("v-{}", up.id))), "inputs from outputs.only.value");
    assert_eq!(shown(d), format!("{0}|v-{0}", up.id));

    // two upstreams: nothing after a alone, one execution after both
    let a = fns.launch("a").await;
    assert_eq!(fns.wait(&a).await.state.current, StateType::Success);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(fns.executions("both").await.is_empty(), "a alone is not enough");
    let b = fns.launch("b").await;
    let b = fns.wait(&b).await;
    assert_eq!(b.state.current, StateType::Success);
    let both = fns.ended("both", 1).await;
    assert_eq!(both.len(), 1, "one execution after both upstreams");
    assert_eq!(both[0].state.current, StateType::Success, "{:?}", both[0].error);
    assert_eq!(both[0].trigger.as_ref().expect("trigger").variables["executionId"], json!(b.id), "the last upstream");
    assert_eq!(shown(&both[0]), b.id);
    let key = format!("{NS}|both|pair");
    let (version, window) =
        fns.backends.state.load_record(flow_triggers::KIND, &key).await.expect("load").expect("window in Firestore");
    assert!(version >= 2, "a's and b's ends each compare-and-swapped the window: version {version}");
    assert_eq!(window["round"], json!(1), "fired once: {window}");

    // redelivered ends: nothing more
    fns.redeliver(&up).await;
    fns.redeliver(&b).await;
    assert_eq!(fns.ended("transform", 1).await.len(), 1, "a redelivered end starts no second listener");
    assert_eq!(fns.ended("both", 1).await.len(), 1, "a redelivered end of b does not fire the window again");
    for flow in ["a", "b", "extract"] {
        assert_eq!(fns.executions(flow).await.len(), 1, "{flow} ran once");
    }
}

const PAUSED_UP: &str = r#"
id: paused
namespace: gcp.flowtrig
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hello
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
  - id: again
    type: io.kestra.plugin.core.log.Log
    message: again
afterExecution:
  - id: slow
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1S
"#;

/// Kestra's `trigger-flow-listener-with-pause`, in this namespace.
const PAUSE_LISTENER: &str = r#"
id: states
namespace: gcp.flowtrig
outputs:
  - id: status
    type: STRING
    value: "{{ trigger.state }}"
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.executionId }} is {{ trigger.state }}"
triggers:
  - id: listen
    type: io.kestra.plugin.core.trigger.Flow
    states: [RUNNING, PAUSED, SUCCESS, WARNING, FAILED]
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: gcp.flowtrig
        flowId: paused
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flow_triggers_fire_once_per_state_change_through_the_gcp_functions() {
    let fns = start(&[("paused", PAUSED_UP.into()), ("states", PAUSE_LISTENER.into())]).await;
    let id = fns.launch("paused").await;
    // paused: RUNNING then PAUSED announced
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let e = fns.backends.state.load_execution(&id).await.expect("load").expect("stored");
        if e.state.current == StateType::Paused {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never paused: {:?}", e.state.current);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = format!("{}api/v1/executions/{id}/resume", fns.api.url);
    let resp = fns.http.post(url).send().await.expect("resume");
    assert!(resp.status().is_success(), "resume: {}", resp.status());
    let up = fns.wait(&id).await;
    assert_eq!(up.state.current, StateType::Success, "{:?}", up.error);
    let down = fns.ended("states", 4).await;
    let mut statuses: Vec<String> = down
        .iter()
        .map(|e| e.outputs.as_ref().and_then(|o| o.get("status")).and_then(Value::as_str).unwrap_or("?").to_string())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["PAUSED", "RUNNING", "RUNNING", "SUCCESS"], "once per state change, every push twice");
    // the SUCCESS listener was created before the upstream's afterExecution ended
    let success = down.iter().find(|e| e.trigger.as_ref().expect("trigger").variables["state"] == json!("SUCCESS"));
    let created = success.expect("SUCCESS listener").state.histories[0].date;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let after = loop {
        let e = fns.backends.state.load_execution(&id).await.expect("load").expect("stored");
        if e.is_done() {
            break e;
        }
        assert!(tokio::time::Instant::now() < deadline, "afterExecution did not end");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let slow_end = after.task_run_list.iter().find(|t| t.task_id == "slow").and_then(|t| t.state.end_date());
    assert!(created < slow_end.expect("slow ended"), "Flow triggers fire at the state change");
    // redelivered: nothing more
    fns.redeliver(&up).await;
    assert_eq!(fns.ended("states", 4).await.len(), 4);
}
