//! The Amazon SQS tasks and triggers (`io.kestra.plugin.aws.sqs.*`) in
//! flows, against moto's server (`crate::moto`), one per test:
//! - Publish (a list of messages with a map as `data`, a JSON string, an
//!   Ion file of messages) and Consume (STRING; JSON, whose unreadable body
//!   fails the task naming it and leaves every message in the queue;
//!   `autoDelete: false`; `maxDuration` receives until it ends);
//! - `sqs.Trigger`: an evaluation receives the batch and starts ONE
//!   execution with `trigger.count` and `trigger.uri`, deleting the messages
//!   once it is stored; an empty queue starts nothing; a batch whose file
//!   cannot be written is made visible again and taken by the next one;
//! - `sqs.RealtimeTrigger` on `baton server local`: one execution per
//!   message with `trigger.data` (a body that is not JSON passed as text);
//! - validation names what a trigger lacks with file:line:column.

use std::time::Duration;

use serde_json::{Value, json};
use shared::model::{Execution, StateType};
use shared::plugins::aws::aws_sdk_sqs::Client;
use shared::runtime::events::http::{Evaluated, evaluate};
use shared::triggers::http::HttpTrigger;

use crate::moto::{Moto, moto};
use crate::redis_tasks::validate;
use crate::redis_triggers::{Local, ended};
use crate::sched_support::{at, executions_of, read_uri, wait_ended};
use crate::support::{harness, runs};

async fn client(m: &Moto) -> Client {
    m.props().sqs(Duration::from_secs(5)).await.expect("client")
}

/// A new queue's URL.
async fn queue(c: &Client, name: &str) -> String {
    let q = c.create_queue().queue_name(name).send().await.expect("create queue");
    q.queue_url().expect("url").to_string()
}

async fn send(c: &Client, url: &str, bodies: &[&str]) {
    for b in bodies {
        c.send_message().queue_url(url).message_body(*b).send().await.expect("send");
    }
}

/// Every body left in the queue (received with no visibility timeout's wait).
async fn left(c: &Client, url: &str) -> Vec<String> {
    let r = c
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .expect("receive");
    let mut bodies: Vec<String> = r.messages().iter().filter_map(|m| m.body().map(str::to_string)).collect();
    bodies.sort();
    bodies
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn out<'a>(e: &'a Execution, task: &str) -> &'a serde_json::Map<String, Value> {
    runs(e, task).first().and_then(|t| t.outputs.as_ref()).unwrap_or_else(|| panic!("no outputs of {task}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqs_publish_and_consume_send_and_read_messages() {
    let aws = moto().await;
    let c = client(&aws).await;
    let url = queue(&c, "orders").await;
    let h = harness();
    let flow = format!(
        r#"
id: sqs_roundtrip
namespace: company.team
tasks:
  - id: list
    type: io.kestra.plugin.aws.sqs.Publish
    queueUrl: {url}
    from:
      - data: "Hello {{{{ flow.id }}}}"
      - data: {{"order": 1}}
        delaySeconds: 0
  - id: json
    type: io.kestra.plugin.aws.sqs.Publish
    queueUrl: {url}
    from: '{{"data": "from a JSON string"}}'
  - id: write
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      {{"data": "line one"}}
      {{data: "line two", deduplicationId: "x"}}
  - id: file
    type: io.kestra.plugin.aws.sqs.Publish
    queueUrl: {url}
    from: "{{{{ outputs.write.uri }}}}"
{}"#,
        aws.defaults()
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    assert_eq!(out(&e, "list")["messagesCount"], 2);
    assert_eq!(out(&e, "json")["messagesCount"], 1);
    assert_eq!(out(&e, "file")["messagesCount"], 2);

    let consume = |extra: &str| {
        format!(
            "id: sqs_consume\nnamespace: company.team\ntasks:\n  - id: consume\n    type: io.kestra.plugin.aws.sqs.Consume\n    \
             queueUrl: {url}\n{extra}{}",
            aws.defaults()
        )
    };
    // JSON: "Hello sqs_roundtrip" is not JSON: the task fails naming it, and nothing is deleted
    let e = h.run(&consume("    maxRecords: 10\n    serdeType: JSON\n"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("the body is not JSON"), "{logs}");
    assert_eq!(left(&c, &url).await.len(), 5, "every message is still in the queue");

    // autoDelete false keeps them; STRING reads each body as text
    let e = h.run(&consume("    maxRecords: 10\n    autoDelete: false\n    visibilityTimeout: 1\n"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    assert_eq!(out(&e, "consume")["count"], 5);
    let text = read_uri(&h.embedded.engine, &out(&e, "consume")["uri"]).await;
    assert_eq!(
        sorted_lines(&text),
        ["\"Hello sqs_roundtrip\"", "\"from a JSON string\"", "\"line one\"", "\"line two\"", "\"{\\\"order\\\":1}\""],
        "{text}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(left(&c, &url).await.len(), 5, "autoDelete: false deletes nothing (visible again after 1 s)");

    // maxDuration: everything is read and deleted; receiving goes on until it ends (as Kestra)
    let started = std::time::Instant::now();
    let e = h.run(&consume("    maxDuration: PT2S\n"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    assert_eq!(out(&e, "consume")["count"], 5);
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(20), "maxDuration ended it: {took:?}");
    assert!(left(&c, &url).await.is_empty(), "deleted");
}

fn flow(id: &str, trigger: &str) -> String {
    format!(
        "id: {id}\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    \
         message: got one\ntriggers:\n{trigger}"
    )
}

fn connection(aws: &Moto) -> String {
    format!(
        "    endpointOverride: {}\n    region: us-east-1\n    accessKeyId: testing\n    secretKeyId: testing\n",
        aws.url
    )
}

fn vars(e: &Execution) -> &serde_json::Map<String, Value> {
    &e.trigger.as_ref().expect("a trigger").variables
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_sqs_trigger_starts_one_execution_per_batch_and_deletes_it_once_stored() {
    let aws = moto().await;
    let c = client(&aws).await;
    let url = queue(&c, "jobs").await;
    send(&c, &url, &["a", "b", "c", "d"]).await;
    let h = harness();
    let trigger = format!(
        "  - id: watch\n    type: io.kestra.plugin.aws.sqs.Trigger\n    queueUrl: {url}\n    maxRecords: 3\n    \
         interval: PT1S\n{}",
        connection(&aws)
    );
    let f = h.flow(&flow("jobs", &trigger));
    let trig = HttpTrigger::of(&f.triggers[0]).expect("a polled trigger").expect("valid");
    let engine = &h.embedded.engine;
    // the flow's executions folder is a file: the batch's file cannot be written
    let blocked = h.home.join("storage/company/team/jobs/executions");
    std::fs::create_dir_all(blocked.parent().expect("parent")).expect("mkdir");
    std::fs::write(&blocked, "in the way").expect("block");
    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:00Z")).await;
    assert!(got.expect_err("the file cannot be written").to_string().contains("executions"));
    assert!(executions_of(engine, "company.team", "jobs").await.is_empty(), "nothing started");
    assert_eq!(left(&c, &url).await.len(), 4, "the batch is visible again at once");
    std::fs::remove_file(&blocked).expect("unblock");

    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:01Z")).await.expect("evaluate");
    let Evaluated::Started(id) = got else { panic!("messages start an execution: {got:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(e.trigger.as_ref().map(|t| t.type_.as_str()), Some("io.kestra.plugin.aws.sqs.Trigger"));
    assert_eq!(vars(&e)["count"], 3, "maxRecords bounds the batch");
    assert_eq!(read_uri(engine, &vars(&e)["uri"]).await.lines().count(), 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(left(&c, &url).await.len(), 1, "the batch is deleted, the rest stays");

    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:02Z")).await.expect("evaluate");
    let Evaluated::Started(next) = got else { panic!("the rest: {got:?}") };
    assert_eq!(vars(&wait_ended(engine, &next).await)["count"], 1);
    let empty = evaluate(engine, &f, &trig, at("2025-01-01T10:00:03Z")).await.expect("evaluate");
    assert_eq!(empty, Evaluated::ConditionFalse, "an empty queue starts nothing");
    assert_eq!(executions_of(engine, "company.team", "jobs").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_sqs_realtime_trigger_starts_one_execution_per_message() {
    let aws = moto().await;
    let c = client(&aws).await;
    let url = queue(&c, "live").await;
    let trigger = format!(
        "  - id: live\n    type: io.kestra.plugin.aws.sqs.RealtimeTrigger\n    queueUrl: {url}\n    serdeType: JSON\n    \
         waitTime: PT1S\n{}",
        connection(&aws)
    );
    let local = Local::new(&flow("live", &trigger));
    let server = local.start().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    send(&c, &url, &[r#"{"n": 1}"#, r#"{"n": 2}"#, "not json"]).await;
    let all = ended(&server, "live", 3).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(executions_of(&server.engine, "company.team", "live").await.len(), 3, "one execution per message");
    let mut data: Vec<String> = all.iter().map(|e| vars(e)["data"].to_string()).collect();
    data.sort();
    assert_eq!(data, ["\"not json\"", "{\"n\":1}", "{\"n\":2}"], "JSON parsed; other text passed as text");
    for e in &all {
        assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
        assert_eq!(e.trigger.as_ref().map(|t| t.type_.as_str()), Some("io.kestra.plugin.aws.sqs.RealtimeTrigger"));
    }
    assert!(left(&c, &url).await.is_empty(), "each message deleted once its execution is stored");
    server.shutdown().await;
}

#[test]
fn validation_names_what_an_sqs_trigger_lacks_with_its_position() {
    let out = validate(
        "id: v\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n\
         triggers:\n  - id: noend\n    type: io.kestra.plugin.aws.sqs.Trigger\n    queueUrl: http://127.0.0.1:1/1/q\n\
         \x20 - id: nourl\n    type: io.kestra.plugin.aws.sqs.RealtimeTrigger\n    region: eu-west-1\n\
         \x20 - id: slow\n    type: io.kestra.plugin.aws.sqs.RealtimeTrigger\n    queueUrl: http://127.0.0.1:1/1/q\n    \
         waitTime: PT1M\n",
    );
    assert!(
        out.contains("flow.yaml:8:5: triggers[0]: trigger 'noend': an sqs.Trigger needs 'maxRecords' or 'maxDuration'"),
        "{out}"
    );
    assert!(
        out.contains("flow.yaml:11:5: triggers[1]: trigger 'nourl': an sqs.RealtimeTrigger needs 'queueUrl'"),
        "{out}"
    );
    assert!(out.contains("triggers[2].waitTime: trigger 'slow'"), "{out}");
}
