//! Kestra's NATS plugin against a real server (Debian's `nats-server` with
//! JetStream, started per test on a free loopback port with a user and a
//! password; the streams made and the replies given here with the same
//! client Baton uses):
//! - `core.Produce` (a message, a list, and the Ion file a `Consume` wrote),
//!   `core.Consume` (a durable consumer resumes where it stopped; records
//!   `{subject, headers, data, timestamp}`), `core.Request` (the reply's
//!   data), the key-value tasks (`CreateBucket`, `Put`, `Get` by key and by
//!   revision, `Delete`);
//! - a wrong password fails naming the server; a subject no stream holds
//!   fails naming it;
//! - `nats.Trigger`: one execution per batch, the messages acknowledged
//!   only once it is stored (a batch whose file cannot be written comes
//!   again);
//! - `nats.RealtimeTrigger` on `baton server local`, Kestra's example: one
//!   execution per message with `trigger.data`;
//! - validation names what is wrong with file:line:column.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use shared::model::{Execution, StateType};
use shared::plugins::nats::async_nats;
use shared::runtime::events::http::{Evaluated, evaluate};
use shared::triggers::http::HttpTrigger;

use crate::redis_tasks::validate;
use crate::redis_triggers::{Local, ended};
use crate::sched_support::{at, executions_of, read_uri, wait_ended};
use crate::support::{harness, outputs};

const USER: &str = "nats_user";
const PASSWORD: &str = "nats_password";

/// A `nats-server -js` of its own.
struct Nats {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Nats {
    fn start() -> Nats {
        let dir = std::env::temp_dir().join(format!("baton-nats-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "--user", USER, "--pass", PASSWORD, "-sd"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server (scripts/setup/nats.sh installs it)");
        let n = Nats { port, dir, child };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return n;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nats-server did not listen on {port}");
    }

    fn url(&self) -> String {
        format!("nats://localhost:{}", self.port)
    }

    /// The connection block of a task or trigger (indented by `pad`).
    fn conn(&self, pad: &str) -> String {
        format!("{pad}url: {}\n{pad}username: {USER}\n{pad}password: {PASSWORD}\n", self.url())
    }

    async fn client(&self) -> async_nats::Client {
        async_nats::ConnectOptions::new()
            .user_and_password(USER.into(), PASSWORD.into())
            .connect(self.url())
            .await
            .expect("connect")
    }

    /// A JetStream stream holding `subjects`.
    async fn stream(&self, name: &str, subjects: &[&str]) {
        let js = async_nats::jetstream::new(self.client().await);
        js.create_stream(async_nats::jetstream::stream::Config {
            name: name.into(),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .await
        .expect("stream");
    }

    /// Publishes each text on `subject`, JetStream-acknowledged.
    async fn publish(&self, subject: &str, messages: &[&str]) {
        let js = async_nats::jetstream::new(self.client().await);
        for m in messages {
            js.publish(subject.to_string(), m.to_string().into()).await.expect("publish").await.expect("stored");
        }
    }
}

fn records(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn produce_consume_request_and_key_value_tasks_run_as_kestra_s() {
    let n = Nats::start();
    n.stream("KESTRA", &["kestra.>"]).await;
    // a replier for the request
    let replier = n.client().await;
    let mut requests = replier.subscribe("greet.bob").await.expect("subscribe");
    let answering = tokio::spawn(async move {
        if let Some(m) = requests.next().await {
            let reply = format!("hello, {}", String::from_utf8_lossy(&m.payload));
            replier.publish(m.reply.expect("a reply subject"), reply.into()).await.expect("reply");
            replier.flush().await.expect("flush");
        }
    });
    let c = n.conn("    ");
    let yaml = format!(
        "id: nats_tasks\nnamespace: company.team\ntasks:\n\
         \x20 - id: one\n    type: io.kestra.plugin.nats.core.Produce\n{c}    subject: kestra.publish\n    from:\n      headers:\n        \
         someHeaderKey: someHeaderValue\n      data: Some message\n\
         \x20 - id: two\n    type: io.kestra.plugin.nats.Produce\n{c}    subject: kestra.other\n    from:\n      - data: Another message\n      \
         - headers:\n          multi: [a, b]\n        data:\n          n: 1\n\
         \x20 - id: consume\n    type: io.kestra.plugin.nats.core.Consume\n{c}    subject: kestra.>\n    durableId: someDurableId\n    pollDuration: PT1S\n\
         \x20 - id: again\n    type: io.kestra.plugin.nats.core.Produce\n{c}    subject: kestra.copy\n    from: \"{{{{ outputs.consume.uri }}}}\"\n\
         \x20 - id: resumed\n    type: io.kestra.plugin.nats.core.Consume\n{c}    subject: kestra.>\n    durableId: someDurableId\n    pollDuration: PT1S\n\
         \x20 - id: request\n    type: io.kestra.plugin.nats.core.Request\n{c}    subject: greet.bob\n    from:\n      data: bob\n    requestTimeout: PT5S\n\
         \x20 - id: bucket\n    type: io.kestra.plugin.nats.kv.CreateBucket\n{c}    name: my_bucket\n    description: my bucket\n    historyPerKey: 2\n\
         \x20 - id: put\n    type: io.kestra.plugin.nats.kv.Put\n{c}    bucketName: my_bucket\n    values:\n      key1: value1\n      key2:\n        subKey1: v\n\
         \x20 - id: put_again\n    type: io.kestra.plugin.nats.kv.Put\n{c}    bucketName: my_bucket\n    values:\n      key1: value2\n\
         \x20 - id: get\n    type: io.kestra.plugin.nats.kv.Get\n{c}    bucketName: my_bucket\n    keys: [key1, key2, nothing]\n\
         \x20 - id: get_first\n    type: io.kestra.plugin.nats.kv.Get\n{c}    bucketName: my_bucket\n    keyRevisions:\n      key1: 1\n\
         \x20 - id: delete\n    type: io.kestra.plugin.nats.kv.Delete\n{c}    bucketName: my_bucket\n    keys: [key1]\n\
         \x20 - id: after\n    type: io.kestra.plugin.nats.kv.Get\n{c}    bucketName: my_bucket\n    keys: [key1, key2]\n"
    );
    let h = harness();
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    answering.await.expect("replier");
    assert_eq!(outputs(&e, "one")["messagesCount"], 1);
    assert_eq!(outputs(&e, "two")["messagesCount"], 2);
    let out = outputs(&e, "consume");
    assert_eq!(out["messagesCount"], 3);
    let got = records(&read_uri(&h.embedded.engine, &out["uri"]).await);
    assert_eq!(got[0]["subject"], "kestra.publish");
    assert_eq!(got[0]["headers"], json!({"someHeaderKey": ["someHeaderValue"]}));
    assert_eq!(got[0]["data"], "Some message");
    assert_eq!(got[2]["data"], r#"{"n":1}"#, "data that is not text is sent as JSON");
    assert_eq!(got[2]["headers"]["multi"], json!(["a", "b"]));
    assert!(got[0]["timestamp"].as_str().is_some_and(|t| t.contains('T')), "{:?}", got[0]);
    // the durable consumer resumes: only the three copies come
    let resumed = records(&read_uri(&h.embedded.engine, &outputs(&e, "resumed")["uri"]).await);
    let subjects: Vec<&str> = resumed.iter().map(|r| r["subject"].as_str().unwrap_or("")).collect();
    assert_eq!(subjects, ["kestra.copy", "kestra.copy", "kestra.copy"]);
    assert_eq!(resumed[0]["data"], "Some message");
    assert_eq!(outputs(&e, "request")["response"], "hello, bob");
    assert_eq!(outputs(&e, "bucket")["bucket"], "my_bucket");
    assert_eq!(outputs(&e, "bucket")["history"], 2);
    assert_eq!(outputs(&e, "put")["revisions"], json!({"key1": 1, "key2": 2}));
    assert_eq!(outputs(&e, "get")["output"], json!({"key1": "value2", "key2": {"subKey1": "v"}}));
    assert_eq!(outputs(&e, "get_first")["output"], json!({"key1": "value1"}));
    assert_eq!(outputs(&e, "delete")["deletedCount"], 1);
    assert_eq!(outputs(&e, "after")["output"], json!({"key2": {"subKey1": "v"}}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_password_and_a_subject_no_stream_holds_fail_naming_why() {
    let n = Nats::start();
    let h = harness();
    let wrong = n.conn("    ").replace(PASSWORD, "wrong");
    let yaml = format!(
        "id: denied\nnamespace: company.team\ntasks:\n  - id: produce\n    type: io.kestra.plugin.nats.core.Produce\n{wrong}    \
         subject: a\n    from:\n      data: x\n"
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains(&format!("cannot connect to NATS at nats://localhost:{}", n.port)), "{logs}");
    let yaml = format!(
        "id: nostream\nnamespace: company.team\ntasks:\n  - id: consume\n    type: io.kestra.plugin.nats.core.Consume\n{}    \
         subject: nowhere.>\n",
        n.conn("    ")
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("no JetStream stream holds subject 'nowhere.>'"), "{logs}");
}

fn flow(id: &str, trigger: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    \
         message: \"{message}\"\ntriggers:\n{trigger}"
    )
}

fn vars(e: &Execution) -> &serde_json::Map<String, Value> {
    &e.trigger.as_ref().expect("a trigger").variables
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_polled_trigger_acknowledges_a_batch_only_once_its_execution_is_stored() {
    let n = Nats::start();
    n.stream("KESTRA", &["kestra.>"]).await;
    n.publish("kestra.trigger", &["a", "b", "c"]).await;
    let h = harness();
    let trigger = format!(
        "  - id: watch\n    type: io.kestra.plugin.nats.Trigger\n{}    subject: kestra.trigger\n    durableId: natsTrigger\n    \
         deliverPolicy: All\n    maxRecords: 2\n    pollDuration: PT0.5S\n    interval: PT1S\n",
        n.conn("    ")
    );
    let f = h.flow(&flow("watch", &trigger, "{{ trigger.messagesCount }} messages"));
    let trig = HttpTrigger::of(&f.triggers[0]).expect("a polled trigger").expect("valid");
    let engine = &h.embedded.engine;
    // the batch's file cannot be written: nothing starts, the messages come again
    let blocked = h.home.join("storage/company/team/watch/executions");
    std::fs::create_dir_all(blocked.parent().expect("parent")).expect("mkdir");
    std::fs::write(&blocked, "in the way").expect("block");
    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:00Z")).await;
    assert!(got.expect_err("the file cannot be written").to_string().contains("executions"));
    assert!(executions_of(engine, "company.team", "watch").await.is_empty(), "nothing started");
    std::fs::remove_file(&blocked).expect("unblock");

    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:01Z")).await.expect("evaluate");
    let Evaluated::Started(id) = got else { panic!("messages start an execution: {got:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(e.trigger.as_ref().map(|t| t.type_.as_str()), Some("io.kestra.plugin.nats.core.Trigger"));
    assert_eq!(vars(&e)["messagesCount"], 2, "maxRecords bounds the batch");
    let got = records(&read_uri(engine, &vars(&e)["uri"]).await);
    assert_eq!((got[0]["data"].as_str(), got[1]["data"].as_str()), (Some("a"), Some("b")), "redelivered, in order");

    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:02Z")).await.expect("evaluate");
    let Evaluated::Started(next) = got else { panic!("the third message: {got:?}") };
    assert_eq!(vars(&wait_ended(engine, &next).await)["messagesCount"], 1);
    let empty = evaluate(engine, &f, &trig, at("2025-01-01T10:00:03Z")).await.expect("evaluate");
    assert_eq!(empty, Evaluated::ConditionFalse, "acknowledged messages do not come again");
    assert_eq!(executions_of(engine, "company.team", "watch").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestra_s_realtime_example_starts_one_execution_per_message() {
    let n = Nats::start();
    n.stream("KESTRA", &["kestra.>"]).await;
    n.publish("kestra.trigger", &["before the server"]).await;
    let trigger = format!(
        "  - id: watch\n    type: io.kestra.plugin.nats.RealtimeTrigger\n{}    subject: kestra.trigger\n    durableId: natsTrigger\n    \
         deliverPolicy: All\n",
        n.conn("    ")
    );
    let local = Local::new(&flow("live", &trigger, "{{ trigger.data }}"));
    let server = local.start().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    n.publish("kestra.trigger", &["one", "two"]).await;
    let all = ended(&server, "live", 3).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(executions_of(&server.engine, "company.team", "live").await.len(), 3, "one execution per message");
    let mut data: Vec<&str> = all.iter().map(|e| vars(e)["data"].as_str().unwrap_or("")).collect();
    data.sort();
    assert_eq!(data, ["before the server", "one", "two"], "deliverPolicy All: from the stream's start");
    for e in &all {
        assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
        assert_eq!(vars(e)["subject"], "kestra.trigger");
    }
    server.shutdown().await;
}

#[test]
fn validation_names_what_a_nats_flow_gets_wrong_with_its_position() {
    let out = validate(
        "id: v\nnamespace: company.team\ntasks:\n  - id: produce\n    type: io.kestra.plugin.nats.core.Produce\n    \
         url: nats://h:4222\n    subject: a\n\
         triggers:\n  - id: poll\n    type: io.kestra.plugin.nats.Trigger\n    url: nats://h:4222\n    subject: a\n    \
         deliverPolicy: Sometimes\n\
         \x20 - id: live\n    type: io.kestra.plugin.nats.core.RealtimeTrigger\n    url: nats://h:4222\n    subject: a\n    \
         batchSize: 0\n",
    );
    assert!(out.contains(":4:") && out.contains("'from'"), "{out}");
    assert!(out.contains(":13:") && out.contains("Sometimes"), "{out}");
    assert!(out.contains(":18:") && out.contains("batchSize"), "{out}");
}
