//! Amazon Kinesis Data Streams (`io.kestra.plugin.aws.kinesis.*`) in flows,
//! against moto's server (`crate::moto`), one per test: records put from a
//! list and from an Ion file (rendered; a field a record lacks ignored
//! with a warning, as Kestra), spread over two shards, read back
//! by `Consume` from TRIM_HORIZON with `maxRecords`; a stream that does not
//! exist fails the put naming it; the triggers Baton lacks are refused by
//! name at validation.

use serde_json::{Value, json};
use shared::model::StateType;

use crate::moto::moto;
use crate::redis_tasks::validate;
use crate::sched_support::read_uri;
use crate::support::{harness, runs};

/// The Ion lines of a stored file, as JSON values.
async fn ion_lines(h: &crate::support::Harness, uri: &Value) -> Vec<Value> {
    let text = read_uri(&h.embedded.engine, uri).await;
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn out(e: &shared::model::Execution, task: &str) -> serde_json::Map<String, Value> {
    runs(e, task).first().and_then(|t| t.outputs.clone()).map(|o| (*o).clone()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_put_from_a_list_and_a_file_are_consumed_from_every_shard() {
    let aws = moto().await;
    let client = aws.props().kinesis().await.expect("client");
    client.create_stream().stream_name("events").shard_count(2).send().await.expect("create stream");
    let h = harness();
    let flow = format!(
        r#"
id: kinesis_round_trip
namespace: company.team
tasks:
  - id: file
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      {{partitionKey:"user3",data:"{{{{ flow.id }}}} from a file",user:"u3"}}
      {{PartitionKey:"user4",Data:42}}
  - id: put_list
    type: io.kestra.plugin.aws.kinesis.PutRecords
    streamName: events
    records:
      - data: user sign-in event
        partitionKey: user1
        explicitHashKey: "1"
      - data: user sign-out event
        partitionKey: user2
        explicitHashKey: "300000000000000000000000000000000000000"
  - id: put_file
    type: io.kestra.plugin.aws.kinesis.PutRecords
    streamName: events
    records: "{{{{ outputs.file.uri }}}}"
  - id: consume
    type: io.kestra.plugin.aws.kinesis.Consume
    streamName: events
    iteratorType: TRIM_HORIZON
    pollDuration: PT0.2S
    maxDuration: PT20S
    maxRecords: 4
{}"#,
        aws.defaults()
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let put = out(&e, "put_list");
    assert_eq!((put["recordCount"].clone(), put["failedRecordsCount"].clone()), (json!(2), json!(0)));
    let lines = ion_lines(&h, &put["uri"]).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0]["sequenceNumber"].as_str().is_some_and(|s| !s.is_empty()), "{lines:?}");
    assert!(lines[0]["shardId"].as_str().is_some_and(|s| s.starts_with("shardId-")), "{lines:?}");
    assert_eq!(
        lines[1]["record"],
        json!({"partitionKey": "user2", "explicitHashKey": "300000000000000000000000000000000000000", "data": "user sign-out event"})
    );
    assert_eq!(out(&e, "put_file")["recordCount"], json!(2));
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("record 1 of records: field 'user' is not a record's"), "{logs}");

    let consumed = out(&e, "consume");
    assert_eq!(consumed["count"], json!(4), "{consumed:?}");
    let records = ion_lines(&h, &consumed["uri"]).await;
    let mut data: Vec<&str> = records.iter().map(|r| r["data"].as_str().expect("data")).collect();
    data.sort();
    assert_eq!(data, ["42", "kinesis_round_trip from a file", "user sign-in event", "user sign-out event"]);
    let shards: std::collections::BTreeSet<&str> = records.iter().map(|r| r["shardId"].as_str().unwrap()).collect();
    assert_eq!(shards.len(), 2, "the explicit hash keys put user1 and user2 on the two shards: {records:?}");
    assert!(records.iter().all(|r| r["approximateArrivalTimestamp"].as_str().is_some_and(|t| t.ends_with('Z'))));
    let last = consumed["lastSequencePerShard"].as_object().expect("map");
    assert_eq!(last.len(), 2, "{last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_stream_fails_the_put_naming_it() {
    let aws = moto().await;
    let h = harness();
    let flow = format!(
        r#"
id: kinesis_missing
namespace: company.team
tasks:
  - id: put
    type: io.kestra.plugin.aws.kinesis.PutRecords
    streamName: nowhere
    records:
      - data: x
        partitionKey: k
{}"#,
        aws.defaults()
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("cannot put records to nowhere"), "{logs}");
}

#[test]
fn the_triggers_baton_lacks_and_bad_properties_are_refused_by_name() {
    let flow = "id: f\nnamespace: n\ntriggers:\n  - id: t\n    type: io.kestra.plugin.aws.kinesis.RealtimeTrigger\n    streamName: s\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let text = validate(flow);
    assert!(text.contains("Baton does not implement the Kinesis realtime trigger"), "{text}");
    let flow = "id: f\nnamespace: n\ntasks:\n  - id: c\n    type: io.kestra.plugin.aws.kinesis.Consume\n    streamName: s\n    iteratorType: AT_TIMESTAMP\n";
    let text = validate(flow);
    assert!(text.contains("flow.yaml:7:5") && text.contains("AT_TIMESTAMP needs a timestamp"), "{text}");
}
