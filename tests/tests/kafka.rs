//! Kestra's Kafka plugin against a Kafka-protocol broker (Tansu, a broker
//! written in Rust that speaks Kafka's wire protocol — transactions and
//! consumer groups included — installed from crates.io by
//! `scripts/setup/tansu.sh` and started per test on a free loopback port,
//! in memory); the topics are made and read here with the same client
//! Baton uses (librdkafka):
//! - `Produce` (Kestra's example: key, value, timestamp, headers; a list;
//!   JSON values; a transaction by default) and `Consume` (exactly
//!   `maxRecords`; a group resumes where it committed; without a group all
//!   partitions from the start; `headerFilters`; the records
//!   `{key, value, topic, headers, partition, timestamp, offset}`, which a
//!   `Produce` sends again as they are);
//! - a value that is not JSON fails the consume naming the record, is
//!   skipped (`onSerdeError: SKIPPED`) or sent to a dead-letter topic
//!   (`DLQ`); a topic that does not exist fails naming it; an empty topic
//!   read with a group ends one `pollDuration` after the group assigned it;
//! - `kafka.Trigger`: one execution per batch, the offsets committed only
//!   once it is stored (a batch whose file cannot be written is read
//!   again);
//! - `kafka.RealtimeTrigger` on `baton server local`: one execution per
//!   record with `trigger.value`;
//! - validation names what is wrong with file:line:column.
//!
//! Not shown here, because Tansu does not do it: a transaction committed
//! (Tansu has no EndTxn: Kestra's default, `transactional: true`, is shown
//! to fail saying so) and `since` (Tansu answers a lookup of offsets by
//! time with the partition's start).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use shared::model::{Execution, StateType};
use shared::plugins::kafka::rdkafka;
use shared::runtime::events::http::{Evaluated, evaluate};
use shared::triggers::http::HttpTrigger;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::redis_tasks::validate;
use crate::redis_triggers::{Local, ended};
use crate::sched_support::{at, executions_of, read_uri, wait_ended};
use crate::support::{harness, outputs};

/// A Tansu broker of its own, in memory.
struct Kafka {
    port: u16,
    child: Child,
}

impl Drop for Kafka {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Kafka {
    fn start() -> Kafka {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let bin = std::env::var("BATON_TANSU").ok().filter(|b| !b.is_empty()).unwrap_or_else(|| {
            panic!("BATON_TANSU is not set: source scripts/setup/tansu.sh (it installs the Tansu broker)")
        });
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin} (scripts/setup/tansu.sh installs it): {e}"));
        let k = Kafka { port, child };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return k;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("tansu did not listen on {port}");
    }

    fn servers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The `properties` block of a task or trigger (indented by `pad`).
    fn props(&self, pad: &str) -> String {
        format!("{pad}properties:\n{pad}  bootstrap.servers: {}\n{pad}  auto.offset.reset: earliest\n", self.servers())
    }

    async fn topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> =
            rdkafka::ClientConfig::new().set("bootstrap.servers", self.servers()).create().expect("admin");
        let made = admin
            .create_topics(&[NewTopic::new(name, partitions, TopicReplication::Fixed(1))], &AdminOptions::new())
            .await
            .expect("create topics");
        for r in made {
            r.unwrap_or_else(|(t, e)| panic!("topic {t}: {e}"));
        }
    }

    /// Sends each (key, value) to `topic`, acknowledged.
    async fn send(&self, topic: &str, records: &[(&str, &str)]) {
        let p: FutureProducer =
            rdkafka::ClientConfig::new().set("bootstrap.servers", self.servers()).create().expect("producer");
        for (k, v) in records {
            p.send(FutureRecord::to(topic).key(*k).payload(*v), Duration::from_secs(10)).await.expect("sent");
        }
    }
}

fn records(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

fn values(rs: &[Value]) -> Vec<Value> {
    rs.iter().map(|r| r["value"].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn produce_and_consume_run_as_kestra_s() {
    let k = Kafka::start();
    for t in ["example_topic", "json_topic"] {
        k.topic(t, 1).await;
    }
    let p = k.props("    ");
    // one record a batch: Tansu answers a fetch from inside a batch with nothing (Kafka returns the
    // batch and the client skips the records before the offset), which a group resuming at offset 2
    // of a three-record batch would meet
    let pp = format!("{p}      batch.num.messages: 1\n");
    let yaml = format!(
        "id: kafka_tasks\nnamespace: company.team\ntasks:\n\
         \x20 - id: one\n    type: io.kestra.plugin.kafka.Produce\n{pp}    topic: example_topic\n    from:\n      key: \"{{{{ execution.id }}}}\"\n      \
         value: Hello, World!\n      timestamp: \"2025-01-02T03:04:05Z\"\n      headers:\n        x-header: some value\n    \
         keySerializer: STRING\n    valueSerializer: STRING\n    transactional: false\n\
         \x20 - id: many\n    type: io.kestra.plugin.kafka.Produce\n{pp}    topic: example_topic\n    transactional: false\n    from:\n      \
         - value: two\n        headers:\n          match: \"yes\"\n      - value: three\n        headers:\n          match: \"no\"\n      \
         - value: four\n        headers:\n          match: \"yes\"\n\
         \x20 - id: json\n    type: io.kestra.plugin.kafka.Produce\n{pp}    from:\n      topic: json_topic\n      key: 1\n      value:\n        \
         n: 1\n        tags: [a, b]\n    keySerializer: INTEGER\n    valueSerializer: JSON\n    transactional: false\n\
         \x20 - id: first_two\n    type: io.kestra.plugin.kafka.Consume\n{p}    topic: example_topic\n    groupId: g1\n    pollDuration: PT2S\n    maxRecords: 2\n\
         \x20 - id: the_rest\n    type: io.kestra.plugin.kafka.Consume\n{p}    topic: example_topic\n    groupId: g1\n    pollDuration: PT2S\n\
         \x20 - id: all\n    type: io.kestra.plugin.kafka.Consume\n{p}    topic: example_topic\n    pollDuration: PT1S\n\
         \x20 - id: filtered\n    type: io.kestra.plugin.kafka.Consume\n{p}    topic: example_topic\n    groupId: g2\n    pollDuration: PT2S\n    \
         headerFilters:\n      match: \"yes\"\n\
         \x20 - id: typed\n    type: io.kestra.plugin.kafka.Consume\n{p}    topic: json_topic\n    pollDuration: PT1S\n    keyDeserializer: INTEGER\n    \
         valueDeserializer: JSON\n\
         \x20 - id: again\n    type: io.kestra.plugin.kafka.Produce\n{pp}    topic: copy_topic\n    transactional: false\n    from: \"{{{{ outputs.all.uri }}}}\"\n\
         \x20 - id: copies\n    type: io.kestra.plugin.kafka.Consume\n{p}    topic: example_topic\n    groupId: g1\n    pollDuration: PT2S\n"
    );
    let h = harness();
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{}", e.error, h.logs(&e.id).await.join("\n"));
    assert_eq!(outputs(&e, "one")["messagesCount"], 1);
    assert_eq!(outputs(&e, "many")["messagesCount"], 3);
    let read = |task: &str| {
        let uri = outputs(&e, task)["uri"].clone();
        let engine = h.embedded.engine.clone();
        async move { records(&read_uri(&engine, &uri).await) }
    };
    let first = read("first_two").await;
    assert_eq!(outputs(&e, "first_two")["messagesCount"], 2, "exactly maxRecords");
    assert_eq!(values(&first), [json!("Hello, World!"), json!("two")]);
    assert_eq!(first[0]["key"], json!(e.id), "the key, rendered");
    assert_eq!(first[0]["headers"], json!([{"x-header": "some value"}]));
    assert_eq!(first[0]["timestamp"], "2025-01-02T03:04:05.000Z");
    assert_eq!(
        (first[0]["topic"].as_str(), &first[0]["partition"], &first[0]["offset"]),
        (Some("example_topic"), &json!(0), &json!(0))
    );
    // the group committed two: the next consume of the group reads the rest
    assert_eq!(values(&read("the_rest").await), [json!("three"), json!("four")],);
    // without a group: every partition from the start
    assert_eq!(read("all").await.len(), 4);
    assert_eq!(values(&read("filtered").await), [json!("two"), json!("four")]);
    let typed = read("typed").await;
    assert_eq!((&typed[0]["key"], &typed[0]["value"]), (&json!(1), &json!({"n": 1, "tags": ["a", "b"]})));
    // a consume's records are sent again as they are: each names its topic, which wins over the task's (as in Kestra)
    assert_eq!(outputs(&e, "again")["messagesCount"], 4);
    let copies = read("copies").await;
    assert_eq!(values(&copies), [json!("Hello, World!"), json!("two"), json!("three"), json!("four")]);
    assert_eq!((&copies[0]["key"], &copies[0]["headers"]), (&json!(e.id), &json!([{"x-header": "some value"}])));
    assert_eq!(copies[0]["timestamp"], "2025-01-02T03:04:05.000Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_value_that_is_not_json_fails_is_skipped_or_goes_to_a_dead_letter_topic() {
    let k = Kafka::start();
    for t in ["events", "dead"] {
        k.topic(t, 1).await;
    }
    k.send("events", &[("a", r#"{"ok": 1}"#), ("b", "not json"), ("c", r#"{"ok": 3}"#)]).await;
    let p = k.props("    ");
    let consume = |id: &str, group: &str, extra: &str| {
        format!(
            "  - id: {id}\n    type: io.kestra.plugin.kafka.Consume\n{p}    topic: events\n    groupId: {group}\n    pollDuration: PT2S\n    \
             valueDeserializer: JSON\n{extra}"
        )
    };
    let h = harness();
    let failing = format!("id: strict\nnamespace: company.team\ntasks:\n{}", consume("strict", "s", ""));
    let e = h.run(&failing, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("record 1 of partition 0 of 'events': value: not JSON"), "{logs}");
    let yaml = format!(
        "id: lenient\nnamespace: company.team\ntasks:\n{}{}\
         \x20 - id: dead\n    type: io.kestra.plugin.kafka.Consume\n{p}    topic: dead\n    pollDuration: PT2S\n",
        consume("skip", "k", "    onSerdeError:\n      type: SKIPPED\n"),
        consume("dlq", "d", "    onSerdeError:\n      type: DLQ\n      topic: dead\n"),
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(outputs(&e, "skip")["messagesCount"], 2);
    assert_eq!(outputs(&e, "dlq")["messagesCount"], 2);
    let dead = records(&read_uri(&h.embedded.engine, &outputs(&e, "dead")["uri"]).await);
    assert_eq!((dead.len(), &dead[0]["key"], &dead[0]["value"]), (1, &json!("b"), &json!("not json")), "{dead:?}");
    // Kestra's default sends in a transaction, which Tansu cannot commit (it has no EndTxn): the task
    // fails saying so, and a read_committed consumer sees nothing of it
    let yaml = format!(
        "id: txn\nnamespace: company.team\ntasks:\n  - id: produce\n    type: io.kestra.plugin.kafka.Produce\n{p}    \
         topic: dead\n    from:\n      value: in a transaction\n"
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("cannot commit the Kafka transaction"), "{logs}");
    // a topic that does not exist
    let yaml = format!(
        "id: nowhere\nnamespace: company.team\ntasks:\n  - id: produce\n    type: io.kestra.plugin.kafka.Produce\n{p}    \
         topic: no_such_topic\n    transactional: false\n    from:\n      value: x\n"
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("topic 'no_such_topic'"), "{logs}");
    // an empty topic read with a group ends one pollDuration after the group assigned its partitions
    k.topic("quiet", 1).await;
    let yaml = format!(
        "id: quiet\nnamespace: company.team\ntasks:\n  - id: quiet\n    type: io.kestra.plugin.kafka.Consume\n{p}    \
         topic: quiet\n    groupId: q\n    pollDuration: PT1S\n"
    );
    let started = std::time::Instant::now();
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(outputs(&e, "quiet")["messagesCount"], 0);
    assert!(started.elapsed() < Duration::from_secs(15), "an empty consume took {:?}", started.elapsed());
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
async fn a_polled_trigger_commits_a_batch_only_once_its_execution_is_stored() {
    let k = Kafka::start();
    k.topic("tu_trigger", 1).await;
    k.send("tu_trigger", &[("1", "a"), ("2", "b"), ("3", "c")]).await;
    let h = harness();
    let trigger = format!(
        "  - id: watch\n    type: io.kestra.plugin.kafka.Trigger\n    interval: PT1S\n    topic: tu_trigger\n    groupId: trigger-group\n{}    \
         keyDeserializer: STRING\n    valueDeserializer: STRING\n    maxRecords: 2\n    pollDuration: PT1S\n",
        k.props("    ")
    );
    let f = h.flow(&flow("watch", &trigger, "{{ trigger.messagesCount }} records"));
    let trig = HttpTrigger::of(&f.triggers[0]).expect("a polled trigger").expect("valid");
    let engine = &h.embedded.engine;
    // the batch's file cannot be written: nothing starts, nothing is committed
    let blocked = h.home.join("storage/company/team/watch/executions");
    std::fs::create_dir_all(blocked.parent().expect("parent")).expect("mkdir");
    std::fs::write(&blocked, "in the way").expect("block");
    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:00Z")).await;
    assert!(got.expect_err("the file cannot be written").to_string().contains("executions"));
    assert!(executions_of(engine, "company.team", "watch").await.is_empty(), "nothing started");
    std::fs::remove_file(&blocked).expect("unblock");

    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:01Z")).await.expect("evaluate");
    let Evaluated::Started(id) = got else { panic!("records start an execution: {got:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(e.trigger.as_ref().map(|t| t.type_.as_str()), Some("io.kestra.plugin.kafka.Trigger"));
    assert_eq!(vars(&e)["messagesCount"], 2, "maxRecords bounds the batch");
    let got = records(&read_uri(engine, &vars(&e)["uri"]).await);
    assert_eq!(values(&got), [json!("a"), json!("b")], "read again, in order");

    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:02Z")).await.expect("evaluate");
    let Evaluated::Started(next) = got else { panic!("the third record: {got:?}") };
    assert_eq!(vars(&wait_ended(engine, &next).await)["messagesCount"], 1);
    let empty = evaluate(engine, &f, &trig, at("2025-01-01T10:00:03Z")).await.expect("evaluate");
    assert_eq!(empty, Evaluated::ConditionFalse, "committed records are not read again");
    assert_eq!(executions_of(engine, "company.team", "watch").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestra_s_realtime_example_starts_one_execution_per_record() {
    let k = Kafka::start();
    k.topic("tu_stream", 1).await;
    k.send("tu_stream", &[("k0", "before the server")]).await;
    let trigger = format!(
        "  - id: watch\n    type: io.kestra.plugin.kafka.RealtimeTrigger\n    topic: tu_stream\n    groupId: stream-group\n{}    \
         serdeProperties:\n      schema.registry.url: http://localhost:8085\n    keyDeserializer: STRING\n    valueDeserializer: STRING\n",
        k.props("    ")
    );
    let local = Local::new(&flow("live", &trigger, "{{ trigger.value }}"));
    let server = local.start().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    k.send("tu_stream", &[("k1", "one"), ("k2", "two")]).await;
    let all = ended(&server, "live", 3).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(executions_of(&server.engine, "company.team", "live").await.len(), 3, "one execution per record");
    let mut got: Vec<(&str, &str)> =
        all.iter().map(|e| (vars(e)["key"].as_str().unwrap_or(""), vars(e)["value"].as_str().unwrap_or(""))).collect();
    got.sort();
    assert_eq!(got, [("k0", "before the server"), ("k1", "one"), ("k2", "two")], "auto.offset.reset earliest");
    for e in &all {
        assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
        assert_eq!(vars(e)["topic"], "tu_stream");
    }
    server.shutdown().await;
}

#[test]
fn validation_names_what_a_kafka_flow_gets_wrong_with_its_position() {
    let out = validate(
        "id: v\nnamespace: company.team\ntasks:\n  - id: produce\n    type: io.kestra.plugin.kafka.Produce\n    \
         properties:\n      bootstrap.servers: h:9092\n      linger.mss: 5\n    topic: a\n    from:\n      value: x\n\
         triggers:\n  - id: poll\n    type: io.kestra.plugin.kafka.Trigger\n    properties:\n      bootstrap.servers: h:9092\n    \
         topic: a\n    groupId: g\n    valueDeserializer: AVRO\n\
         \x20 - id: live\n    type: io.kestra.plugin.kafka.RealtimeTrigger\n    properties:\n      bootstrap.servers: h:9092\n    \
         topic: a\n",
    );
    assert!(out.contains(":6:") && out.contains("'linger.mss'"), "{out}");
    assert!(out.contains(":19:") && out.contains("AVRO"), "{out}");
    assert!(out.contains(":20:") && out.contains("groupId"), "{out}");
}
