//! Kestra's AMQP plugin against a real broker (Debian's `rabbitmq-server`,
//! one node per test on a free loopback port with its own node name, data
//! folder and Erlang cookie; `scripts/setup/rabbitmq.sh` installs it and
//! exports `BATON_RABBITMQ_SERVER`; the queues filled here with the same
//! client Baton uses):
//! - `DeclareExchange`, `CreateQueue`, `QueueBind`, `Publish` (a list of
//!   Kestra's message maps, a JSON body, the Ion file a `Consume` wrote)
//!   and `Consume` (records `{data, headers, appId, timestamp…}`, counts,
//!   an empty queue) in one flow; a wrong password fails naming the broker;
//! - `amqp.Trigger`: one execution per batch (`maxRecords`), the messages
//!   acknowledged only once it is stored (a batch whose file cannot be
//!   written comes again);
//! - `amqp.RealtimeTrigger` on `baton server local`: one execution per
//!   message with `trigger.data`;
//! - validation names what Baton refuses with file:line:column.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use shared::model::{Execution, StateType};
use shared::plugins::amqp::conn::AmqpProps;
use shared::plugins::amqp::lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use shared::plugins::amqp::lapin::types::FieldTable;
use shared::plugins::amqp::lapin::{BasicProperties, Channel, Connection};
use shared::runtime::events::http::{Evaluated, evaluate};
use shared::triggers::http::HttpTrigger;

use crate::redis_tasks::validate;
use crate::redis_triggers::{Local, ended};
use crate::sched_support::{at, executions_of, read_uri, wait_ended};
use crate::support::{harness, outputs};

/// A RabbitMQ node of its own (its default user: guest, from loopback).
struct Rabbit {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        // the start script does not exec Erlang: its whole process group goes
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Rabbit {
    fn start() -> Rabbit {
        let server =
            std::env::var("BATON_RABBITMQ_SERVER").unwrap_or_else(|_| "/usr/lib/rabbitmq/bin/rabbitmq-server".into());
        assert!(
            std::path::Path::new(&server).exists(),
            "no RabbitMQ broker at {server}: `source scripts/setup/rabbitmq.sh` installs rabbitmq-server"
        );
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("baton-amqp-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (port, dist) = (free_port(), free_port());
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        std::fs::write(dir.join("rabbitmq.conf"), format!("listeners.tcp.1 = 127.0.0.1:{port}\n")).unwrap();
        let d = |p: &str| dir.join(p).display().to_string();
        let child = Command::new(&server)
            .env("HOME", &dir)
            .env("RABBITMQ_NODENAME", format!("baton{}@localhost", &id[..12]))
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", port.to_string())
            .env("RABBITMQ_DIST_PORT", dist.to_string())
            .env("RABBITMQ_MNESIA_BASE", d("mnesia"))
            .env("RABBITMQ_LOG_BASE", d("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", d("rabbitmq"))
            .env("RABBITMQ_PID_FILE", d("pid"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rabbitmq-server");
        let r = Rabbit { port, dir, child };
        // a node boots in seconds, more on a busy machine
        for _ in 0..1200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return r;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("rabbitmq-server did not listen on {port} within 120 s");
    }

    /// The connection block of a task or trigger (indented by `pad`).
    fn conn(&self, pad: &str) -> String {
        format!("{pad}host: 127.0.0.1\n{pad}port: {}\n{pad}username: guest\n{pad}password: guest\n", self.port)
    }

    async fn channel(&self) -> (Connection, Channel) {
        let props =
            AmqpProps { host: Some("127.0.0.1".into()), port: Some(self.port.to_string()), ..Default::default() };
        let c = props.connect().await.expect("connect");
        let ch = c.create_channel().await.expect("channel");
        (c, ch)
    }

    /// A durable queue.
    async fn queue(&self, name: &str) {
        let (_c, ch) = self.channel().await;
        let options = QueueDeclareOptions { durable: true, ..Default::default() };
        ch.queue_declare(name, options, FieldTable::default()).await.expect("queue");
    }

    /// Publishes each text to `queue` (the default exchange), confirmed.
    async fn publish(&self, queue: &str, messages: &[&str]) {
        let (_c, ch) = self.channel().await;
        ch.confirm_select(ConfirmSelectOptions::default()).await.expect("confirm");
        for m in messages {
            let confirm = ch
                .basic_publish("", queue, BasicPublishOptions::default(), m.as_bytes(), BasicProperties::default())
                .await
                .expect("publish");
            assert!(confirm.await.expect("confirmed").is_ack());
        }
    }
}

fn records(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn declare_publish_and_consume_round_trip_as_kestra_s() {
    let r = Rabbit::start();
    let c = r.conn("    ");
    let yaml = format!(
        "id: amqp_tasks\nnamespace: company.team\ntasks:\n\
         \x20 - id: exchange\n    type: io.kestra.plugin.amqp.DeclareExchange\n{c}    name: kestramqp.exchange\n\
         \x20 - id: queue\n    type: io.kestra.plugin.amqp.CreateQueue\n{c}    name: kestramqp.queue\n    args:\n      x-max-length: 100\n\
         \x20 - id: bind\n    type: io.kestra.plugin.amqp.QueueBind\n{c}    exchange: kestramqp.exchange\n    queue: kestramqp.queue\n\
         \x20 - id: publish\n    type: io.kestra.plugin.amqp.Publish\n{c}    exchange: kestramqp.exchange\n    from:\n      \
         - data: value-1\n        headers:\n          testHeader: KestraTest\n        timestamp: '2023-01-09T08:46:33.103130753Z'\n      \
         - data: value-2\n        timestamp: '2023-01-09T08:46:33.115456977Z'\n        appId: unit-kestra\n\
         \x20 - id: json\n    type: io.kestra.plugin.amqp.Publish\n{c}    exchange: kestramqp.exchange\n    serdeType: JSON\n    \
         from:\n      data:\n        n: 1\n\
         \x20 - id: consume\n    type: io.kestra.plugin.amqp.Consume\n{c}    queue: kestramqp.queue\n    maxRecords: 3\n\
         \x20 - id: empty\n    type: io.kestra.plugin.amqp.Consume\n{c}    queue: kestramqp.queue\n    maxDuration: PT1S\n\
         \x20 - id: again\n    type: io.kestra.plugin.amqp.Publish\n{c}    exchange: kestramqp.exchange\n    \
         from: \"{{{{ outputs.consume.uri }}}}\"\n\
         \x20 - id: copies\n    type: io.kestra.plugin.amqp.Consume\n{c}    queue: kestramqp.queue\n    maxRecords: 10\n    \
         maxDuration: PT3S\n"
    );
    let h = harness();
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    assert_eq!(outputs(&e, "exchange")["exchange"], "kestramqp.exchange");
    assert_eq!(outputs(&e, "queue")["queue"], "kestramqp.queue");
    assert_eq!(
        (&outputs(&e, "bind")["queue"], &outputs(&e, "bind")["exchange"]),
        (&json!("kestramqp.queue"), &json!("kestramqp.exchange"))
    );
    assert_eq!(outputs(&e, "publish")["messagesCount"], 2);
    assert_eq!(outputs(&e, "json")["messagesCount"], 1);
    let out = outputs(&e, "consume");
    assert_eq!(out["count"], 3);
    let got = records(&read_uri(&h.embedded.engine, &out["uri"]).await);
    assert_eq!(got.len(), 3, "one record per message");
    assert_eq!(got[0]["data"], "value-1");
    assert_eq!(got[0]["headers"], json!({"testHeader": "KestraTest"}));
    assert_eq!(got[0]["timestamp"], "2023-01-09T08:46:33Z", "AMQP timestamps are seconds");
    assert_eq!((&got[1]["data"], &got[1]["appId"]), (&json!("value-2"), &json!("unit-kestra")));
    assert_eq!(got[2]["data"], r#"{"n":1}"#, "a JSON body read as STRING");
    assert_eq!(outputs(&e, "empty")["count"], 0, "acknowledged messages do not come again");
    assert_eq!(outputs(&e, "again")["messagesCount"], 3, "a Consume's file published again");
    let copies = outputs(&e, "copies");
    assert_eq!(copies["count"], 3);
    let copied = records(&read_uri(&h.embedded.engine, &copies["uri"]).await);
    assert_eq!(copied[1]["appId"], "unit-kestra", "the record's properties are published with it");

    let wrong = c.replace("password: guest", "password: wrong");
    let yaml = format!(
        "id: denied\nnamespace: company.team\ntasks:\n  - id: publish\n    type: io.kestra.plugin.amqp.Publish\n{wrong}    \
         exchange: kestramqp.exchange\n    from:\n      data: x\n"
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains(&format!("cannot connect to AMQP at amqp://127.0.0.1:{}/", r.port)), "{logs}");
    assert!(!logs.contains("wrong"), "the password is not shown: {logs}");
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
async fn a_polled_trigger_starts_one_execution_per_batch_acknowledged_once_stored() {
    let r = Rabbit::start();
    r.queue("amqpTrigger.queue").await;
    r.publish("amqpTrigger.queue", &["a", "b", "c"]).await;
    let h = harness();
    let trigger = format!(
        "  - id: watch\n    type: io.kestra.plugin.amqp.Trigger\n{}    queue: amqpTrigger.queue\n    maxRecords: 2\n    \
         maxDuration: PT2S\n    interval: PT5S\n",
        r.conn("    ")
    );
    let f = h.flow(&flow("watch", &trigger, "{{ trigger.count }} messages"));
    let trig = HttpTrigger::of(&f.triggers[0]).expect("a polled trigger").expect("valid");
    let engine = &h.embedded.engine;
    // the batch's file cannot be written: nothing starts, the messages go back
    let blocked = h.home.join("storage/company/team/watch/executions");
    std::fs::create_dir_all(blocked.parent().expect("parent")).expect("mkdir");
    std::fs::write(&blocked, "in the way").expect("block");
    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:00Z")).await;
    assert!(got.expect_err("the file cannot be written").to_string().contains("executions"));
    assert!(executions_of(engine, "company.team", "watch").await.is_empty(), "nothing started");
    std::fs::remove_file(&blocked).expect("unblock");

    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:05Z")).await.expect("evaluate");
    let Evaluated::Started(id) = got else { panic!("messages start an execution: {got:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(e.trigger.as_ref().map(|t| t.type_.as_str()), Some("io.kestra.plugin.amqp.Trigger"));
    assert_eq!(vars(&e)["count"], 2, "maxRecords bounds the batch");
    let got = records(&read_uri(engine, &vars(&e)["uri"]).await);
    assert_eq!((got[0]["data"].as_str(), got[1]["data"].as_str()), (Some("a"), Some("b")), "given back, in order");

    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:10Z")).await.expect("evaluate");
    let Evaluated::Started(next) = got else { panic!("the third message: {got:?}") };
    let e = wait_ended(engine, &next).await;
    assert_eq!(vars(&e)["count"], 1);
    assert_eq!(records(&read_uri(engine, &vars(&e)["uri"]).await)[0]["data"], "c");
    let empty = evaluate(engine, &f, &trig, at("2025-01-01T10:00:15Z")).await.expect("evaluate");
    assert_eq!(empty, Evaluated::ConditionFalse, "acknowledged messages do not come again");
    assert_eq!(executions_of(engine, "company.team", "watch").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestra_s_realtime_example_starts_one_execution_per_message() {
    let r = Rabbit::start();
    r.queue("amqpTrigger.queue").await;
    r.publish("amqpTrigger.queue", &["before the server"]).await;
    let trigger = format!(
        "  - id: realtime_trigger\n    type: io.kestra.plugin.amqp.RealtimeTrigger\n{}    queue: amqpTrigger.queue\n",
        r.conn("    ")
    );
    let local = Local::new(&flow("live", &trigger, "{{ trigger.data }}"));
    let server = local.start().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    r.publish("amqpTrigger.queue", &["one", "two"]).await;
    let all = ended(&server, "live", 3).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(executions_of(&server.engine, "company.team", "live").await.len(), 3, "one execution per message");
    let mut data: Vec<&str> = all.iter().map(|e| vars(e)["data"].as_str().unwrap_or("")).collect();
    data.sort();
    assert_eq!(data, ["before the server", "one", "two"]);
    for e in &all {
        assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
        assert_eq!(e.trigger.as_ref().map(|t| t.type_.as_str()), Some("io.kestra.plugin.amqp.RealtimeTrigger"));
    }
    server.shutdown().await;
}

#[test]
fn validation_names_what_an_amqp_flow_gets_wrong_with_its_position() {
    let out = validate(
        "id: v\nnamespace: company.team\ntasks:\n  - id: consume\n    type: io.kestra.plugin.amqp.Consume\n    \
         host: localhost\n    queue: q\n    maxRecords: 10\n    serdeType: AVRO\n\
         triggers:\n  - id: poll\n    type: io.kestra.plugin.amqp.Trigger\n    url: amqps://guest:guest@h:5671\n    \
         queue: q\n    maxRecords: 1\n\
         \x20 - id: live\n    type: io.kestra.plugin.amqp.RealtimeTrigger\n    host: h\n    queue: q\n    \
         maxRecords: 5\n",
    );
    assert!(out.contains(":9:") && out.contains("AVRO"), "{out}");
    assert!(out.contains(":13:") && out.contains("amqps://"), "{out}");
    assert!(out.contains(":20:") && out.contains("maxRecords"), "{out}");
}
