//! The scheduler function: schedule ticks and backfills reach the schedule
//! engine (a recording one), stay on their topic without an engine, and
//! run once each end to end through the scheduler function.

use std::sync::Arc;

use e2e::functions::{Cluster, ClusterOptions, Effects, push};
use serde_json::json;
use shared::functions::scheduler::{BackfillRequest, ScheduleFailure, Schedules, TickRequest};
use shared::functions::{FunctionOptions, Handler};
use shared::model::{Execution, StateType};

use super::NS;

/// A schedule engine that records what it was asked.
#[derive(Default)]
struct RecordingSchedules {
    ticks: std::sync::Mutex<Vec<(TickRequest, chrono::DateTime<chrono::Utc>)>>,
    backfills: std::sync::Mutex<Vec<BackfillRequest>>,
}

#[async_trait::async_trait]
impl Schedules for RecordingSchedules {
    async fn tick(&self, t: &TickRequest, at: chrono::DateTime<chrono::Utc>) -> Result<Vec<String>, ScheduleFailure> {
        if t.flow_id == "down" {
            return Err(ScheduleFailure::Transient("store unavailable".into()));
        }
        if t.flow_id == "unknown" {
            return Err(ScheduleFailure::Invalid("no such flow".into()));
        }
        self.ticks.lock().expect("lock").push((t.clone(), at));
        Ok(vec!["e1".into()])
    }
    async fn backfill(&self, b: &BackfillRequest) -> Result<String, ScheduleFailure> {
        self.backfills.lock().expect("lock").push(b.clone());
        Ok("b1".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_messages_reach_the_schedule_engine() {
    let schedules = Arc::new(RecordingSchedules::default());
    let cluster = Cluster::start(ClusterOptions {
        schedules: Some(schedules.clone() as Arc<dyn Schedules>),
        ..ClusterOptions::default()
    })
    .await;
    let http = &cluster.http;
    let url = &cluster.scheduler.url;
    // Cloud Scheduler's payload: the tick's date comes from the publish time
    let tick = br#"{"type":"tick","namespace":"zoomcamp","flowId":"taxi","triggerId":"monthly"}"#;
    assert_eq!(push(http, url, tick, None).await, 204);
    assert_eq!(push(http, url, br#"{"type":"tick","namespace":"n","flowId":"down","triggerId":"t"}"#, None).await, 503);
    assert_eq!(
        push(http, url, br#"{"type":"tick","namespace":"n","flowId":"unknown","triggerId":"t"}"#, None).await,
        204
    );
    let backfill = json!({"type": "backfill", "namespace": "zoomcamp", "flowId": "taxi", "triggerId": "monthly",
        "start": "2019-01-01T00:00:00Z", "end": "2019-12-31T00:00:00Z", "inputs": {"taxi": "green"},
        "labels": [{"key": "backfill", "value": "true"}]});
    assert_eq!(push(http, url, backfill.to_string().as_bytes(), None).await, 204);
    // the API starts backfills through the same engine, also with Kestra's body
    let resp = http.post(format!("{}api/v1/backfills", cluster.api.url)).json(&backfill).send().await.expect("post");
    assert_eq!(resp.status(), 202);
    let kestra = json!({"namespace": "zoomcamp", "flowId": "taxi", "triggerId": "monthly",
        "backfill": {"start": "2019-01-01T00:00:00Z", "end": null, "inputs": {}, "labels": []}});
    let resp = http.put(format!("{}api/v1/main/triggers", cluster.api.url)).json(&kestra).send().await.expect("put");
    assert_eq!(resp.status(), 202);

    let ticks = schedules.ticks.lock().expect("lock").clone();
    assert_eq!(ticks.len(), 1);
    assert_eq!(
        (ticks[0].0.flow_id.as_str(), ticks[0].0.trigger_id.as_str(), ticks[0].0.date),
        ("taxi", "monthly", None)
    );
    let backfills = schedules.backfills.lock().expect("lock").clone();
    assert_eq!(backfills.len(), 3);
    assert_eq!(backfills[0].inputs["taxi"], "green");
    assert_eq!(backfills[0].labels[0].key, "backfill");
    assert_eq!(backfills[2].end, None);
    assert!(backfills[2].rerun_successful, "Kestra's backfill re-runs every tick");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_schedule_engine_ticks_stay_on_the_topic() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    // a scheduler deployed without a trigger store
    let router =
        shared::functions::router(Handler::Scheduler, cluster.backends.engine(), &FunctionOptions::unauthenticated())
            .await;
    let scheduler = e2e::functions::serve(router).await;
    let tick = br#"{"type":"tick","namespace":"n","flowId":"f","triggerId":"t"}"#;
    assert_eq!(push(&cluster.http, &scheduler.url, tick, None).await, 503, "redelivered, then dead-lettered");
    assert_eq!(push(&cluster.http, &scheduler.url, br#"{"type":"sweep"}"#, None).await, 204);
}

fn scheduled_flow(server: &str) -> String {
    format!(
        r#"
id: scheduled
namespace: test.functions
inputs:
  - id: server
    type: STRING
  - id: kind
    type: STRING
    defaults: tick
triggers:
  - id: monthly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 1 * *"
    inputs:
      server: "{server}"
tasks:
  - id: hit
    type: io.kestra.plugin.core.http.Request
    uri: "{{{{ inputs.server }}}}/hit/{{{{ inputs.kind }}}}/{{{{ trigger.date | date('yyyy-MM') }}}}"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ticks_and_backfills_run_once_each_through_the_scheduler_function() {
    let effects = Effects::start().await;
    let cluster = Cluster::start(ClusterOptions {
        flows: vec![("scheduled.yaml".into(), scheduled_flow(&effects.url))],
        ..ClusterOptions::default()
    })
    .await;
    let (http, url) = (&cluster.http, &cluster.scheduler.url);
    let state = cluster.backends.state.clone();
    let executions = || {
        let state = state.clone();
        async move {
            let filter = shared::backend::ExecutionFilter { flow_id: Some("scheduled".into()), ..Default::default() };
            shared::backend::StateStore::list_executions(state.as_ref(), &filter).await.expect("list")
        }
    };

    // a tick with its date, delivered twice: one execution
    let tick = br#"{"type":"tick","namespace":"test.functions","flowId":"scheduled","triggerId":"monthly","date":"2024-05-01T09:00:00Z"}"#;
    assert_eq!(push(http, url, tick, None).await, 204);
    assert_eq!(push(http, url, tick, None).await, 204);
    let ticked = executions().await;
    assert_eq!(ticked.len(), 1, "a duplicate tick creates nothing");
    let exec = cluster.wait(&ticked[0].id).await;
    assert_eq!(exec.state.current, StateType::Success);
    assert_eq!(exec.trigger.as_ref().map(|t| t.id.as_str()), Some("monthly"));
    assert_eq!(effects.count("hit/tick/2024-05"), 1);

    // Cloud Scheduler's tick carries no date: the trigger is evaluated at the publish time
    let published = chrono::DateTime::parse_from_rfc3339("2024-06-01T09:00:00.250Z").expect("date").to_utc();
    let bare = br#"{"type":"tick","namespace":"test.functions","flowId":"scheduled","triggerId":"monthly"}"#;
    assert_eq!(e2e::functions::push_at(http, url, bare, None, published).await, 204);
    assert_eq!(e2e::functions::push_at(http, url, bare, None, published).await, 204);
    let after = executions().await;
    let june: Vec<_> = after.iter().filter(|e| !ticked.iter().any(|t| t.id == e.id)).collect();
    assert!(june.len() <= 1, "at most the June tick: {after:?}");
    for e in &june {
        let e = cluster.wait(&e.id).await;
        assert_eq!(e.schedule_date.map(|d| d.to_rfc3339()), Some("2024-06-01T09:00:00+00:00".to_string()));
    }

    // a backfill over three months, its message delivered twice
    let backfill = json!({"type": "backfill", "namespace": NS, "flowId": "scheduled", "triggerId": "monthly",
        "start": "2019-01-01", "end": "2019-03-31", "inputs": {"kind": "backfill"},
        "labels": [{"key": "backfill", "value": "true"}]});
    assert_eq!(push(http, url, backfill.to_string().as_bytes(), None).await, 204);
    assert_eq!(push(http, url, backfill.to_string().as_bytes(), None).await, 204);
    for month in ["2019-01", "2019-02", "2019-03"] {
        effects.wait_count(&format!("hit/backfill/{month}"), 1).await;
    }
    let all = executions().await;
    let backfilled: Vec<Execution> = {
        let mut v = Vec::new();
        for e in &all {
            let e = cluster.wait(&e.id).await;
            if e.labels.iter().any(|l| l.key == "backfill") {
                v.push(e);
            }
        }
        v
    };
    assert_eq!(backfilled.len(), 3, "one execution per tick, whatever the duplicates");
    assert!(backfilled.iter().all(|e| e.state.current == StateType::Success));
    for month in ["2019-01", "2019-02", "2019-03"] {
        assert_eq!(effects.count(&format!("hit/backfill/{month}")), 1, "{month} ran once");
    }
    // the sweep finds nothing left to do
    assert_eq!(push(http, url, br#"{"type":"sweep"}"#, None).await, 204);
    assert_eq!(executions().await.len(), all.len());
    // unknown flows and triggers are acked, not retried
    let unknown = br#"{"type":"tick","namespace":"test.functions","flowId":"scheduled","triggerId":"nope"}"#;
    assert_eq!(push(http, url, unknown, None).await, 204);
    let unknown = br#"{"type":"tick","namespace":"test.functions","flowId":"nope","triggerId":"monthly"}"#;
    assert_eq!(push(http, url, unknown, None).await, 204);
}
