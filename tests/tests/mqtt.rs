//! Kestra's MQTT plugin against a real broker (Debian's `mosquitto`,
//! started per test on a free loopback port, with a password and a TLS
//! listener signed by a CA made here with `openssl`):
//! - `mqtt.Publish` and `mqtt.Subscribe` in one flow (a Parallel: the
//!   subscribe listens while the publishes run), MQTT 5 and 3.1.1: JSON and
//!   STRING payloads, QoS 0/1/2, `retain` (read back by `mosquitto_sub`),
//!   MQTT 5's `responseTopic` and `correlationData`, a list of topics;
//! - a payload that is not JSON fails the subscribe naming its topic; a
//!   wrong password fails naming the broker;
//! - `ssl://` with `crt` (a file), the name checked unless
//!   `httpsHostnameVerificationEnabled: false`;
//! - `mqtt.Trigger`: a persistent session, so messages published while no
//!   evaluation is connected start the next one; messages whose execution
//!   cannot be stored come again; one execution per batch with
//!   `trigger.uri` and `trigger.messagesCount`;
//! - `mqtt.RealtimeTrigger` on `baton server local`: Kestra's examples (one
//!   execution per message; the request/reply flow answering on
//!   `trigger.responseTopic`);
//! - validation names what is wrong with file:line:column.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use shared::model::{Execution, StateType};
use shared::runtime::events::http::{Evaluated, evaluate};
use shared::triggers::http::HttpTrigger;

use crate::redis_tasks::validate;
use crate::redis_triggers::{Local, ended};
use crate::sched_support::{at, executions_of, read_uri, wait_ended};
use crate::support::{harness, outputs};

const USER: &str = "baton";
const PASSWORD: &str = "s3cret";

/// A `mosquitto` of its own: a plain listener and a TLS one.
struct Broker {
    port: u16,
    tls_port: u16,
    dir: PathBuf,
    child: Child,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn sh(dir: &std::path::Path, script: &str) {
    let out = Command::new("sh").arg("-c").arg(script).current_dir(dir).output().expect("sh");
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Broker {
    fn start() -> Broker {
        let dir = std::env::temp_dir().join(format!("baton-mqtt-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        sh(
            &dir,
            "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=baton-test-ca 2>/dev/null \
             && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null \
             && printf 'subjectAltName=DNS:localhost\\n' > ext.cnf \
             && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
                -extfile ext.cnf 2>/dev/null",
        );
        sh(&dir, &format!("mosquitto_passwd -b -c passwd {USER} {PASSWORD}"));
        // a broker started as root runs as the `mosquitto` user: it must read them
        sh(&dir, "chmod 755 . && chmod 644 *");
        let (port, tls_port) = (free_port(), free_port());
        let d = dir.display();
        std::fs::write(
            dir.join("mosquitto.conf"),
            format!(
                "allow_anonymous false\npassword_file {d}/passwd\npersistence false\n\
                 listener {port} 127.0.0.1\n\
                 listener {tls_port} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n"
            ),
        )
        .unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (scripts/setup/mosquitto.sh installs it)");
        let b = Broker { port, tls_port, dir, child };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", b.port)).is_ok()
                && std::net::TcpStream::connect(("127.0.0.1", b.tls_port)).is_ok()
            {
                return b;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("mosquitto did not listen on {port}");
    }

    /// The connection block of a task or trigger (indented by `pad`).
    fn conn(&self, pad: &str) -> String {
        format!("{pad}server: tcp://127.0.0.1:{}\n{pad}username: {USER}\n{pad}password: {PASSWORD}\n", self.port)
    }

    fn ca(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }

    /// `mosquitto_pub` (MQTT 5) of each message on `topic` at `qos`.
    fn publish(&self, topic: &str, qos: u8, messages: &[&str]) {
        for m in messages {
            let out = Command::new("mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-u", USER, "-P", PASSWORD, "-V", "mqttv5"])
                .args(["-q", &qos.to_string(), "-t", topic, "-m", m])
                .output()
                .expect("mosquitto_pub");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }

    /// [`Broker::publish`] on a thread of its own, after `delay`.
    fn publish_later(&self, delay: Duration, topic: &str, messages: &[&str]) -> std::thread::JoinHandle<()> {
        let port = self.port;
        let topic = topic.to_string();
        let messages: Vec<String> = messages.iter().map(|m| m.to_string()).collect();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            for m in messages {
                let out = Command::new("mosquitto_pub")
                    .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-u", USER, "-P", PASSWORD, "-q", "1"])
                    .args(["-t", &topic, "-m", &m])
                    .output()
                    .expect("mosquitto_pub");
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            }
        })
    }

    /// `mosquitto_sub`: the first `n` messages of `topic` (retained ones
    /// included) as `topic payload` lines, within `secs`.
    fn subscriber(&self, topic: &str, n: usize, secs: u32) -> Child {
        Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-u", USER, "-P", PASSWORD, "-V", "mqttv5"])
            .args(["-v", "-C", &n.to_string(), "-W", &secs.to_string(), "-t", topic])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub")
    }
}

fn read_child(c: Child) -> String {
    String::from_utf8_lossy(&c.wait_with_output().expect("output").stdout).into_owned()
}

fn records(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

/// The round-trip flow: a subscribe on two topics while three publishes run.
fn round_trip(b: &Broker, version: &str) -> String {
    let c = b.conn("        ");
    let p = b.conn("            ");
    let (reply, corr) = if version == "V5" {
        ("            responseTopic: replies/one\n            correlationData: \"{{ 'req-1' | base64encode }}\"\n", "")
    } else {
        ("", "")
    };
    format!(
        "id: mqtt_{version}\nnamespace: company.team\ntasks:\n  - id: both\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n\
         \x20     - id: subscribe\n        type: io.kestra.plugin.mqtt.Subscribe\n{c}        mqttVersion: {version}\n\
         \x20       topic:\n          - sensors/cpu\n          - sensors/mem/#\n        serdeType: JSON\n        maxRecords: 4\n\
         \x20       maxDuration: PT20S\n\
         \x20     - id: publishes\n        type: io.kestra.plugin.core.flow.Sequential\n        tasks:\n\
         \x20         - id: wait\n            type: io.kestra.plugin.core.flow.Sleep\n            duration: PT1S\n\
         \x20         - id: one\n            type: io.kestra.plugin.mqtt.Publish\n{p}            mqttVersion: {version}\n\
         \x20           topic: sensors/cpu\n            serdeType: JSON\n{reply}{corr}            from:\n              type: sensors\n              value: 1.23\n\
         \x20         - id: list\n            type: io.kestra.plugin.mqtt.Publish\n{p}            mqttVersion: {version}\n\
         \x20           topic: sensors/mem/free\n            serdeType: JSON\n            qos: 2\n\
         \x20           from:\n              - {{\"n\": 1}}\n              - {{\"n\": 2}}\n\
         \x20         - id: plain\n            type: io.kestra.plugin.mqtt.Publish\n{p}            mqttVersion: {version}\n\
         \x20           topic: sensors/cpu\n            serdeType: STRING\n            qos: 0\n            from: \"42\"\n\
         \x20         - id: kept\n            type: io.kestra.plugin.mqtt.Publish\n{p}            mqttVersion: {version}\n\
         \x20           topic: status/{version}\n            serdeType: STRING\n            retain: true\n            from: up and running\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publish_and_subscribe_carry_json_text_retained_and_mqtt5_properties() {
    let b = Broker::start();
    let h = harness();
    for version in ["V5", "V3"] {
        let e = h.run(&round_trip(&b, version), json!({})).await;
        assert_eq!(e.state.current, StateType::Success, "{version}: {:?}", e.error);
        let out = outputs(&e, "subscribe");
        assert_eq!(out["messagesCount"], 4, "{version}: {out:?}");
        let got = records(&read_uri(&h.embedded.engine, &out["uri"]).await);
        let payloads: Vec<&Value> = got.iter().map(|r| &r["payload"]).collect();
        assert_eq!(
            payloads,
            [&json!({"type": "sensors", "value": 1.23}), &json!({"n": 1}), &json!({"n": 2}), &json!(42)]
        );
        let topics: Vec<&str> = got.iter().map(|r| r["topic"].as_str().unwrap_or("")).collect();
        assert_eq!(topics, ["sensors/cpu", "sensors/mem/free", "sensors/mem/free", "sensors/cpu"], "{version}");
        assert_eq!(got[1]["qos"], 1, "the subscription's QoS caps the message's");
        assert_eq!(got[3]["qos"], 0);
        if version == "V5" {
            assert_eq!(got[0]["responseTopic"], "replies/one");
            assert_eq!(got[0]["correlationData"], "cmVxLTE=", "Base64 of req-1, as it was sent");
        } else {
            assert!(got[0].get("responseTopic").is_none() && got[0].get("properties").is_none(), "{:?}", got[0]);
        }
        for task in ["one", "list", "plain", "kept"] {
            assert!(outputs(&e, task)["messagesCount"].as_u64().unwrap_or(0) >= 1, "{task}");
        }
        assert_eq!(outputs(&e, "list")["messagesCount"], 2);
        // the retained message is read by another client, as sent
        let sub = b.subscriber(&format!("status/{version}"), 1, 5);
        assert_eq!(read_child(sub), format!("status/{version} up and running\n"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payload_that_is_not_json_and_a_wrong_password_fail_naming_why() {
    let b = Broker::start();
    let h = harness();
    let c = b.conn("    ");
    let yaml = format!(
        "id: bad\nnamespace: company.team\ntasks:\n  - id: subscribe\n    type: io.kestra.plugin.mqtt.Subscribe\n{c}    \
         topic: raw\n    maxRecords: 1\n    maxDuration: PT10S\n"
    );
    let later = b.publish_later(Duration::from_millis(1500), "raw", &["not json"]);
    let e = h.run(&yaml, json!({})).await;
    later.join().expect("publisher");
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("topic 'raw'") && logs.contains("not JSON"), "{logs}");

    let wrong = c.replace(PASSWORD, "wrong");
    let yaml = format!(
        "id: denied\nnamespace: company.team\ntasks:\n  - id: publish\n    type: io.kestra.plugin.mqtt.Publish\n{wrong}    \
         topic: t\n    serdeType: STRING\n    from: x\n"
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains(&format!("MQTT broker 127.0.0.1:{}", b.port)) && logs.contains("cannot connect"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ssl_uses_the_crt_and_checks_the_name_unless_told_not_to() {
    let b = Broker::start();
    let h = harness();
    let task = |host: &str, extra: &str| {
        format!(
            "id: tls\nnamespace: company.team\ntasks:\n  - id: publish\n    type: io.kestra.plugin.mqtt.Publish\n    \
             server: ssl://{host}:{}\n    username: {USER}\n    password: {PASSWORD}\n    crt: {}\n    topic: secure\n    \
             serdeType: STRING\n    retain: true\n    from: over tls\n{extra}",
            b.tls_port,
            b.ca()
        )
    };
    let e = h.run(&task("localhost", ""), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(read_child(b.subscriber("secure", 1, 5)), "secure over tls\n");

    let e = h.run(&task("127.0.0.1", ""), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed, "the certificate names localhost, not 127.0.0.1");
    let e = h.run(&task("127.0.0.1", "    httpsHostnameVerificationEnabled: false\n"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);

    // a CA that did not sign the broker's certificate is refused
    let other = b.dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    sh(&other, "openssl req -x509 -newkey rsa:2048 -nodes -keyout k -out ca.pem -days 2 -subj /CN=other 2>/dev/null");
    let e =
        h.run(&task("localhost", "").replace(&b.ca(), &other.join("ca.pem").display().to_string()), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
}

fn flow(id: &str, trigger: &str, task_message: &str) -> String {
    format!(
        "id: {id}\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    \
         message: \"{task_message}\"\ntriggers:\n{trigger}"
    )
}

fn vars(e: &Execution) -> &serde_json::Map<String, Value> {
    &e.trigger.as_ref().expect("a trigger").variables
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_polled_trigger_keeps_its_session_so_nothing_published_between_polls_is_lost() {
    let b = Broker::start();
    let h = harness();
    let trigger = format!(
        "  - id: watch\n    type: io.kestra.plugin.mqtt.Trigger\n{}    topic:\n      - kestra/sensors/cpu\n      - kestra/sensors/mem\n    \
         serdeType: JSON\n    maxRecords: 3\n    maxDuration: PT2S\n    interval: PT5S\n",
        b.conn("    ")
    );
    let f = h.flow(&flow("watch", &trigger, "{{ trigger.messagesCount }}"));
    let trig = HttpTrigger::of(&f.triggers[0]).expect("a polled trigger").expect("valid");
    let engine = &h.embedded.engine;
    // the first evaluation opens the session: nothing yet
    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:00Z")).await.expect("evaluate");
    assert_eq!(got, Evaluated::ConditionFalse, "no message, no execution");
    // published while no evaluation is connected: kept by the broker for the session
    b.publish("kestra/sensors/cpu", 1, &[r#"{"cpu": 1}"#, r#"{"cpu": 2}"#]);
    b.publish("kestra/sensors/mem", 1, &[r#"{"mem": 3}"#, r#"{"mem": 4}"#]);
    b.publish("elsewhere", 1, &["{}"]);

    // the batch's file cannot be written: nothing starts; what was received stays in the trigger's spool
    let blocked = h.home.join("storage/company/team/watch/executions");
    std::fs::create_dir_all(blocked.parent().expect("parent")).expect("mkdir");
    std::fs::write(&blocked, "in the way").expect("block");
    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:05Z")).await;
    assert!(got.expect_err("the file cannot be written").to_string().contains("executions"));
    assert!(executions_of(engine, "company.team", "watch").await.is_empty(), "nothing started");
    let spool = h.home.join("storage/company/team/watch/triggers/watch/mqtt-spool");
    assert!(std::fs::read_dir(&spool).expect("a spool").count() > 0, "spooled");
    std::fs::remove_file(&blocked).expect("unblock");

    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:10Z")).await.expect("evaluate");
    let Evaluated::Started(id) = got else { panic!("messages start an execution: {got:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(vars(&e)["messagesCount"], 3, "maxRecords bounds the batch");
    let got = records(&read_uri(engine, &vars(&e)["uri"]).await);
    assert_eq!(got[0]["payload"], json!({"cpu": 1}), "the spooled messages come first, in order: {got:?}");
    assert!(std::fs::read_dir(&spool).map_or(true, |d| d.count() == 0), "the spool is removed once stored");

    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:15Z")).await.expect("evaluate");
    let Evaluated::Started(next) = got else { panic!("the fourth message: {got:?}") };
    let e = wait_ended(engine, &next).await;
    assert_eq!(vars(&e)["messagesCount"], 1);
    assert_eq!(records(&read_uri(engine, &vars(&e)["uri"]).await)[0]["payload"], json!({"mem": 4}));
    // a payload that is not JSON does not stop the trigger: passed as text
    b.publish("kestra/sensors/cpu", 1, &["not json"]);
    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:20Z")).await.expect("evaluate");
    let Evaluated::Started(text) = got else { panic!("the text message: {got:?}") };
    let e = wait_ended(engine, &text).await;
    assert_eq!(records(&read_uri(engine, &vars(&e)["uri"]).await)[0]["payload"], json!("not json"));
    let empty = evaluate(engine, &f, &trig, at("2025-01-01T10:00:25Z")).await.expect("evaluate");
    assert_eq!(empty, Evaluated::ConditionFalse, "acknowledged messages do not come again");
    assert_eq!(executions_of(engine, "company.team", "watch").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestra_s_realtime_examples_start_one_execution_per_message_and_reply() {
    let b = Broker::start();
    // Kestra's RealtimeTrigger example, and its request/reply pair (the reply published on trigger.responseTopic)
    let live = flow(
        "live",
        &format!(
            "  - id: realtime_trigger\n    type: io.kestra.plugin.mqtt.RealtimeTrigger\n{}    clientId: kestraConsumer\n    \
             qos: 1\n    topic:\n      - kestra/sensors/cpu\n      - kestra/sensors/mem\n    serdeType: JSON\n",
            b.conn("    ")
        ),
        "{{ trigger.payload }}",
    );
    let reply = format!(
        "id: mqtt_reply\nnamespace: company.team\ntriggers:\n  - id: request\n    type: io.kestra.plugin.mqtt.RealtimeTrigger\n{}    \
         topic: kestra/requests\n    serdeType: JSON\ntasks:\n  - id: reply\n    type: io.kestra.plugin.mqtt.Publish\n{}    \
         clientId: kestraResponder\n    topic: \"{{{{ trigger.responseTopic }}}}\"\n    correlationData: \"{{{{ trigger.correlationData }}}}\"\n    \
         serdeType: JSON\n    from:\n      answer: \"{{{{ trigger.payload.question }}}}\"\n",
        b.conn("    "),
        b.conn("    ")
    );
    let local = Local::new(&live);
    std::fs::write(local.dir.join("flows").join("reply.yml"), &reply).expect("reply flow");
    let server = local.start().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    b.publish("kestra/sensors/cpu", 1, &[r#"{"n": 1}"#, "not json"]);
    b.publish("kestra/sensors/mem", 1, &[r#"{"n": 2}"#]);
    let all = ended(&server, "live", 3).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(executions_of(&server.engine, "company.team", "live").await.len(), 3, "one execution per message");
    let mut payloads: Vec<String> = all.iter().map(|e| vars(e)["payload"].to_string()).collect();
    payloads.sort();
    assert_eq!(payloads, [r#""not json""#, r#"{"n":1}"#, r#"{"n":2}"#], "a payload that is not JSON is passed as text");
    for e in &all {
        assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
        assert!(vars(e)["topic"].as_str().is_some_and(|t| t.starts_with("kestra/sensors/")));
    }

    let answer = b.subscriber("replies/#", 1, 20);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let request = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &b.port.to_string(), "-u", USER, "-P", PASSWORD, "-V", "mqttv5", "-q", "1"])
        .args(["-t", "kestra/requests", "-m", r#"{"question": "what is the cpu load?"}"#])
        .args(["-D", "publish", "response-topic", "replies/r1", "-D", "publish", "correlation-data", "r1"])
        .status()
        .expect("mosquitto_pub");
    assert!(request.success());
    assert_eq!(read_child(answer), "replies/r1 {\"answer\":\"what is the cpu load?\"}\n");
    let done = ended(&server, "mqtt_reply", 1).await;
    assert_eq!(vars(&done[0])["correlationData"], "cjE=", "Base64 of r1");
    server.shutdown().await;
}

#[test]
fn validation_names_what_an_mqtt_flow_gets_wrong_with_its_position() {
    let out = validate(
        "id: v\nnamespace: company.team\ntasks:\n  - id: publish\n    type: io.kestra.plugin.mqtt.Publish\n    \
         server: tcp://h\n    topic: t\n    from: x\n    qos: 1\n\
         triggers:\n  - id: poll\n    type: io.kestra.plugin.mqtt.Trigger\n    server: ws://h\n    topic: a\n    maxRecords: 1\n\
         \x20 - id: live\n    type: io.kestra.plugin.mqtt.RealtimeTrigger\n    server: tcp://h\n    topic: a\n    qos: 7\n",
    );
    assert!(out.contains(":4:") && out.contains("'serdeType'"), "{out}");
    assert!(out.contains(":13:") && out.contains("WebSocket"), "{out}");
    assert!(out.contains(":20:") && out.contains("must be 0, 1 or 2"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_polled_batch_may_be_larger_than_the_broker_s_in_flight_window() {
    let b = Broker::start();
    let h = harness();
    for version in ["V5", "V3"] {
        let trigger = format!(
            "  - id: many\n    type: io.kestra.plugin.mqtt.Trigger\n{}    mqttVersion: {version}\n    topic: bulk/{version}\n    \
             serdeType: STRING\n    maxRecords: 60\n    maxDuration: PT5S\n    interval: PT10S\n",
            b.conn("    ")
        );
        let f = h.flow(&flow(&format!("many_{version}"), &trigger, "{{ trigger.messagesCount }}"));
        let trig = HttpTrigger::of(&f.triggers[0]).expect("a polled trigger").expect("valid");
        let engine = &h.embedded.engine;
        let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:00Z")).await.expect("evaluate");
        assert_eq!(got, Evaluated::ConditionFalse);
        let messages: Vec<String> = (0..60).map(|i| format!("m{i}")).collect();
        let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
        b.publish(&format!("bulk/{version}"), 1, &refs);
        let started = std::time::Instant::now();
        let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:10Z")).await.expect("evaluate");
        let Evaluated::Started(id) = got else { panic!("{got:?}") };
        let e = wait_ended(engine, &id).await;
        assert_eq!(vars(&e)["messagesCount"], 60, "{version}: all 60 in one batch");
        assert!(started.elapsed() < Duration::from_secs(5), "{version}: not held back by the in-flight window");
    }
}
