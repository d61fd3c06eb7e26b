//! `io.kestra.plugin.aws.eventbridge.PutEvents` against moto's server
//! (`crate::moto`): twelve events (two requests of EventBridge's ten) from
//! a list and from an Ion file, their results in order; an event to a bus
//! that does not exist fails the task with EventBridge's reason. moto
//! refuses such a request as a whole, where EventBridge answers it with a
//! failed entry: the reading of a failed entry is unit-tested only
//! (`eventbridge::tests::a_failed_entry_is_named`).

use serde_json::{Value, json};
use shared::model::{Execution, StateType};

use crate::moto::moto;
use crate::sched_support::read_uri;
use crate::support::{harness, runs};

fn out<'a>(e: &'a Execution, task: &str) -> &'a serde_json::Map<String, Value> {
    runs(e, task).first().and_then(|t| t.outputs.as_ref()).unwrap_or_else(|| panic!("no outputs of {task}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn put_events_sends_ten_a_request_and_records_each_result() {
    let aws = moto().await;
    let eb = aws.props().eventbridge().await.expect("client");
    eb.create_event_bus().name("events").send().await.expect("bus");
    let h = harness();
    let list: String = (1..=12)
        .map(|i| format!("      - eventBusName: events\n        source: Kestra\n        detailType: n{i}\n        detail:\n          n: {i}\n"))
        .collect();
    let flow = format!(
        r#"
id: events
namespace: company.team
tasks:
  - id: list
    type: io.kestra.plugin.aws.eventbridge.PutEvents
    entries:
{list}  - id: write
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      {{"eventBusName": "events", "source": "{{{{ flow.id }}}}", "detailType": "t", "detail": "{{\"ok\": true}}", "resources": ["arn:aws:iam::123456789012:user/johndoe"]}}
  - id: file
    type: io.kestra.plugin.aws.eventbridge.PutEvents
    entries: "{{{{ outputs.write.uri }}}}"
{}"#,
        aws.defaults()
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    assert_eq!(
        (out(&e, "list")["entryCount"].clone(), out(&e, "list")["failedEntryCount"].clone()),
        (json!(12), json!(0))
    );
    let text = read_uri(&h.embedded.engine, &out(&e, "list")["uri"]).await;
    let results: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(results.len(), 12);
    assert!(results.iter().all(|r| r["eventId"].is_string() && r["errorCode"].is_null()), "{text}");
    assert_eq!(results[11]["entry"]["detailType"], json!("n12"), "in order");
    assert_eq!(out(&e, "file")["entryCount"], 1);

    // a bus that does not exist
    let missing = flow.replace("eventBusName: events", "eventBusName: nowhere");
    let e = h.run(&missing, json!({})).await;
    let logs = h.logs(&e.id).await.join("\n");
    assert_eq!(e.state.current, StateType::Failed, "{logs}");
    // moto refuses the whole request (EventBridge itself reports such an
    // event in its answer, which `failOnUnsuccessfulEvents` reads: not shown here)
    assert!(logs.contains("cannot put the events: Event bus nowhere does not exist"), "{logs}");
}
