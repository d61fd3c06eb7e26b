//! Amazon Kinesis Data Streams (`io.kestra.plugin.aws.kinesis.*`) in flows,
//! against moto's server (`crate::moto`), one per test: records put from a
//! list and from an Ion file (rendered; a field a record lacks ignored
//! with a warning, as Kestra), spread over two shards, read back
//! by `Consume` from TRIM_HORIZON with `maxRecords`; a stream that does not
//! exist fails the put naming it; the polling trigger reads on from where
//! its last execution ended (LATEST: nothing put before its first poll,
//! nothing skipped between polls), `maxRecords` at a time, and reads a
//! batch whose execution could not be stored again; the realtime trigger
//! Baton lacks is refused by name at validation.

use serde_json::{Value, json};
use shared::model::StateType;

use shared::runtime::events::http::{Evaluated, evaluate};
use shared::triggers::http::HttpTrigger;

use crate::moto::moto;
use crate::redis_tasks::validate;
use crate::sched_support::{at, executions_of, read_uri, wait_ended};
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
fn the_trigger_baton_lacks_and_bad_properties_are_refused_by_name() {
    let flow = "id: f\nnamespace: n\ntriggers:\n  - id: t\n    type: io.kestra.plugin.aws.kinesis.RealtimeTrigger\n    streamName: s\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let text = validate(flow);
    assert!(text.contains("Baton does not implement the Kinesis realtime trigger"), "{text}");
    let flow = "id: f\nnamespace: n\ntasks:\n  - id: c\n    type: io.kestra.plugin.aws.kinesis.Consume\n    streamName: s\n    iteratorType: AT_TIMESTAMP\n";
    let text = validate(flow);
    assert!(text.contains("flow.yaml:7:5") && text.contains("AT_TIMESTAMP needs a timestamp"), "{text}");
    let flow = "id: f\nnamespace: n\ntriggers:\n  - id: t\n    type: io.kestra.plugin.aws.kinesis.Trigger\n    iteratorType: AFTER_SEQUENCE_NUMBER\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let text = validate(flow);
    assert!(text.contains("a kinesis.Trigger needs 'streamName'"), "{text}");
    assert!(text.contains("AFTER_SEQUENCE_NUMBER needs a startingSequenceNumber"), "{text}");
}

/// Puts `data` on the shard whose hash key range holds `hash_key`.
async fn put(client: &shared::plugins::aws::aws_sdk_kinesis::Client, hash_key: &str, data: &str) {
    client
        .put_record()
        .stream_name("clicks")
        .partition_key("k")
        .explicit_hash_key(hash_key)
        .data(data.as_bytes().to_vec().into())
        .send()
        .await
        .expect("put record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_polling_trigger_reads_each_shard_on_from_its_last_execution() {
    let aws = moto().await;
    let client = aws.props().kinesis().await.expect("client");
    client.create_stream().stream_name("clicks").shard_count(2).send().await.expect("create stream");
    // the two shards: hash keys below and above 2^127
    let (a, b) = ("1", "300000000000000000000000000000000000000");
    put(&client, a, "before the first poll").await;
    let h = harness();
    let flow = format!(
        "id: clicks\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    \
         message: \"{{{{ trigger.count }}}}\"\ntriggers:\n  - id: poll\n    type: io.kestra.plugin.aws.kinesis.Trigger\n    \
         streamName: clicks\n    maxRecords: 2\n    maxDuration: PT2S\n    pollDuration: PT0.1S\n    interval: PT1S\n    \
         endpointOverride: {}\n    region: us-east-1\n    accessKeyId: testing\n    secretKeyId: testing\n",
        aws.url
    );
    let f = h.flow(&flow);
    let trig = HttpTrigger::of(&f.triggers[0]).expect("a polled trigger").expect("valid");
    let engine = &h.embedded.engine;
    let eval = |second: u32| evaluate(engine, &f, &trig, at(&format!("2025-01-01T10:00:{second:02}Z")));

    // LATEST: what was put before the first poll is not read
    assert_eq!(eval(0).await.expect("evaluate"), Evaluated::ConditionFalse);
    for (key, data) in [(a, "a1"), (b, "b1"), (a, "a2")] {
        put(&client, key, data).await;
    }
    // what came after it is, maxRecords at a time, each record once
    let mut got = Vec::new();
    for second in 1..=2 {
        let Evaluated::Started(id) = eval(second).await.expect("evaluate") else { panic!("records came") };
        let e = wait_ended(engine, &id).await;
        assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
        let vars = &e.trigger.as_ref().expect("a trigger").variables;
        assert_eq!(e.trigger.as_ref().map(|t| t.type_.as_str()), Some("io.kestra.plugin.aws.kinesis.Trigger"));
        let lines = ion_lines(&h, &vars["uri"]).await;
        assert_eq!(vars["count"], json!(lines.len()), "{vars:?}");
        assert!(vars["lastSequencePerShard"].as_object().is_some_and(|m| !m.is_empty()), "{vars:?}");
        got.extend(lines.iter().map(|l| l["data"].as_str().expect("data").to_string()));
    }
    got.sort();
    assert_eq!(got, ["a1", "a2", "b1"], "every record after the first poll, once");
    assert_eq!(eval(3).await.expect("evaluate"), Evaluated::ConditionFalse, "nothing new");

    // a batch whose file cannot be written is read again by the next poll
    put(&client, b, "b2").await;
    let blocked = h.home.join("storage/company/team/clicks/executions");
    std::fs::create_dir_all(blocked.parent().expect("parent")).expect("mkdir");
    std::fs::rename(&blocked, blocked.with_extension("kept")).expect("move the executions aside");
    std::fs::write(&blocked, "in the way").expect("block");
    assert!(eval(4).await.expect_err("the file cannot be written").to_string().contains("executions"));
    std::fs::remove_file(&blocked).expect("unblock");
    std::fs::rename(blocked.with_extension("kept"), &blocked).expect("put the executions back");
    let Evaluated::Started(id) = eval(5).await.expect("evaluate") else { panic!("b2 again") };
    let e = wait_ended(engine, &id).await;
    let vars = &e.trigger.as_ref().expect("a trigger").variables;
    let lines = ion_lines(&h, &vars["uri"]).await;
    assert_eq!(lines.iter().map(|l| l["data"].clone()).collect::<Vec<_>>(), [json!("b2")]);
    assert_eq!(executions_of(engine, "company.team", "clicks").await.len(), 3);
}
