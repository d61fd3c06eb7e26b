//! Kestra's Redis list triggers against a real `redis-server` (started per
//! test, as `redis_tasks` does):
//! - `redis.list.Trigger`: an evaluation pops the list and starts ONE
//!   execution with `trigger.count` and `trigger.uri` (one Ion line per
//!   element, decoded per `serdeType`), bounded by `maxRecords`; an empty
//!   list starts nothing; `baton server local`'s poller evaluates it every
//!   `interval` (the alias `redis.TriggerList` included);
//! - `redis.list.RealtimeTrigger` (by Kestra's example name
//!   `redis.RealtimeTrigger`): one execution per element pushed after the
//!   server started, with `trigger.value`;
//! - a batch whose execution cannot be stored is pushed back onto the head
//!   of its list, byte for byte;
//! - validation names a missing `key`/`url` and a bad `serdeType` with
//!   file:line:column.

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::functions::wait_for;
use serde_json::Value;
use shared::model::{Execution, StateType};
use shared::runtime::events::http::{Evaluated, evaluate};
use shared::triggers::http::HttpTrigger;

use crate::redis_tasks::{Redis, validate};
use crate::sched_support::{at, executions_of, read_uri, wait_ended};
use crate::support::harness;

fn flow(id: &str, trigger: &str) -> String {
    format!(
        "id: {id}\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    \
         message: got one\ntriggers:\n{trigger}"
    )
}

fn batch_trigger(r: &Redis, key: &str, extra: &str) -> String {
    format!(
        "  - id: watch\n    type: io.kestra.plugin.redis.list.Trigger\n    url: {}\n    key: {key}\n    \
         interval: PT1S\n{extra}",
        r.url()
    )
}

fn vars(e: &Execution) -> &serde_json::Map<String, Value> {
    &e.trigger.as_ref().expect("a trigger").variables
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_trigger_starts_one_execution_per_batch_and_none_for_an_empty_list() {
    let r = Redis::start();
    r.cli(&["RPUSH", "jobs", "a", "b c", "d", "e", "f"]);
    let h = harness();
    let f = h.flow(&flow("jobs", &batch_trigger(&r, "jobs", "    count: 2\n    maxRecords: 3\n")));
    let trig = HttpTrigger::of(&f.triggers[0]).expect("a polled trigger").expect("valid");
    let engine = &h.embedded.engine;

    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:00Z")).await.expect("evaluate");
    let Evaluated::Started(id) = got else { panic!("elements start an execution: {got:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(e.trigger.as_ref().map(|t| t.type_.as_str()), Some("io.kestra.plugin.redis.list.Trigger"));
    assert_eq!(vars(&e)["count"], 3, "maxRecords bounds the batch");
    assert_eq!(
        read_uri(engine, &vars(&e)["uri"]).await,
        "\"a\"\n\"b c\"\n\"d\"\n",
        "one Ion line per element, in order"
    );
    assert_eq!(r.cli(&["LRANGE", "jobs", "0", "-1"]), "e\nf\n", "the rest stays for the next interval");

    // the next slot takes the rest; then the list is empty: nothing starts
    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:01Z")).await.expect("evaluate");
    let Evaluated::Started(next) = got else { panic!("the rest: {got:?}") };
    assert_eq!(vars(&wait_ended(engine, &next).await)["count"], 2);
    let empty = evaluate(engine, &f, &trig, at("2025-01-01T10:00:02Z")).await.expect("evaluate");
    assert_eq!(empty, Evaluated::ConditionFalse, "an empty list starts nothing");
    assert_eq!(executions_of(engine, "company.team", "jobs").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_trigger_with_serde_json_writes_the_values_parsed() {
    let r = Redis::start();
    r.cli(&["RPUSH", "orders", r#"{"id": 1, "sku": "x"}"#, "[2, 3]", "not json"]);
    let h = harness();
    let f = h.flow(&flow("orders", &batch_trigger(&r, "orders", "    serdeType: JSON\n")));
    let trig = HttpTrigger::of(&f.triggers[0]).expect("a polled trigger").expect("valid");
    let engine = &h.embedded.engine;
    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:00Z")).await.expect("evaluate");
    let Evaluated::Started(id) = got else { panic!("elements start an execution: {got:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(vars(&e)["count"], 3);
    let text = read_uri(engine, &vars(&e)["uri"]).await;
    assert_eq!(text, "{\"id\":1,\"sku\":\"x\"}\n[2,3]\n\"not json\"\n", "parsed; text that is not JSON kept as text");
    assert_eq!(r.cli(&["LLEN", "orders"]).trim(), "0");
}

/// `redis-cli` with arguments as bytes (elements that are not UTF-8); its raw output.
fn cli_bytes(r: &Redis, args: &[&[u8]]) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt as _;
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &r.port.to_string(), "-a", crate::redis_tasks::PASSWORD, "--no-auth-warning", "--raw"])
        .args(args.iter().map(|a| std::ffi::OsStr::from_bytes(a)))
        .output()
        .expect("redis-cli");
    out.stdout
}

/// A batch whose execution cannot be stored goes back onto the head of its
/// list, in its order and byte for byte (an element that is not UTF-8
/// included), before the elements pushed meanwhile; the error is reported,
/// and once storage works again the next interval starts one execution
/// with the whole batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_execution_cannot_be_stored_is_given_back_byte_for_byte() {
    let r = Redis::start();
    let binary: &[u8] = b"\xff\xfe bin \x80 end";
    cli_bytes(&r, &[b"RPUSH", b"parcels", b"first", binary, b"third"]);
    let h = harness();
    let f = h.flow(&flow("parcels", &batch_trigger(&r, "parcels", "    count: 2\n    maxRecords: 3\n")));
    let trig = HttpTrigger::of(&f.triggers[0]).expect("a polled trigger").expect("valid");
    let engine = &h.embedded.engine;
    // the flow's executions folder is a file: no file of an execution can be written
    let blocked = h.home.join("storage/company/team/parcels/executions");
    std::fs::create_dir_all(blocked.parent().expect("parent")).expect("mkdir");
    std::fs::write(&blocked, "in the way").expect("block");

    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:00Z")).await;
    let err = got.expect_err("the batch's file cannot be written").to_string();
    assert!(err.contains("executions"), "the error names what failed: {err}");
    assert!(executions_of(engine, "company.team", "parcels").await.is_empty(), "nothing started");
    // pushed meanwhile: after the batch given back
    cli_bytes(&r, &[b"RPUSH", b"parcels", b"later"]);
    let listed = cli_bytes(&r, &[b"LRANGE", b"parcels", b"0", b"-1"]);
    let want = [b"first\n".as_slice(), binary, b"\nthird\nlater\n"].concat();
    assert_eq!(listed, want, "given back at the head, in order, byte for byte");

    std::fs::remove_file(&blocked).expect("unblock");
    let got = evaluate(engine, &f, &trig, at("2025-01-01T10:00:01Z")).await.expect("evaluate");
    let Evaluated::Started(id) = got else { panic!("the batch starts an execution now: {got:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(vars(&e)["count"], 3);
    let text = read_uri(engine, &vars(&e)["uri"]).await;
    assert!(text.starts_with("\"first\"\n") && text.ends_with("\"third\"\n"), "{text}");
    assert_eq!(cli_bytes(&r, &[b"LRANGE", b"parcels", b"0", b"-1"]), b"later\n", "the rest stays");
}

/// `baton server local` on a flows folder holding `yaml`.
pub(crate) struct Local {
    pub(crate) dir: PathBuf,
}

impl Local {
    pub(crate) fn new(yaml: &str) -> Local {
        let dir = std::env::temp_dir().join(format!("baton-redis-trig-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("flows")).expect("flows");
        std::fs::write(dir.join("flows").join("f.yml"), yaml).expect("flow");
        Local { dir }
    }

    pub(crate) async fn start(&self) -> shared::server::LocalServer {
        start_local(&self.dir.join("home"), &self.dir.join("flows")).await
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start_local(home: &Path, flows: &Path) -> shared::server::LocalServer {
    let mut opts = shared::server::ServerOptions::new(home.to_path_buf());
    opts.flows_dir = flows.to_path_buf();
    opts.port = 0;
    opts.workers = 2;
    opts.tick = Duration::from_millis(200);
    shared::server::LocalServer::start(opts).await.expect("server starts")
}

/// Waits for `n` ended executions of `flow_id`, sorted by start.
pub(crate) async fn ended(server: &shared::server::LocalServer, flow_id: &str, n: usize) -> Vec<Execution> {
    let engine = server.engine.clone();
    wait_for(Duration::from_secs(60), &format!("{n} ended executions of {flow_id}"), || {
        let engine = engine.clone();
        async move {
            let mut all = executions_of(&engine, "company.team", flow_id).await;
            all.sort_by_key(|e| e.state.start_date());
            (all.len() >= n && all.iter().all(|e| e.state.current.is_terminal())).then_some(all)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_local_server_polls_the_list_trigger_every_interval() {
    let r = Redis::start();
    r.cli(&["RPUSH", "inbox", "one", "two"]);
    let trigger = batch_trigger(&r, "inbox", "").replace("redis.list.Trigger", "redis.TriggerList");
    let local = Local::new(&flow("inbox", &trigger));
    let server = local.start().await;
    let first = ended(&server, "inbox", 1).await;
    assert_eq!(vars(&first[0])["count"], 2);
    assert_eq!(read_uri(&server.engine, &vars(&first[0])["uri"]).await, "\"one\"\n\"two\"\n");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(executions_of(&server.engine, "company.team", "inbox").await.len(), 1, "an empty list starts nothing");
    r.cli(&["RPUSH", "inbox", "three"]);
    let all = ended(&server, "inbox", 2).await;
    assert_eq!(vars(&all[1])["count"], 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_realtime_trigger_starts_one_execution_per_element_pushed() {
    let r = Redis::start();
    let trigger = format!(
        "  - id: live\n    type: io.kestra.plugin.redis.RealtimeTrigger\n    url: {}\n    key: live\n    serdeType: JSON\n",
        r.url()
    );
    let local = Local::new(&flow("live", &trigger));
    let server = local.start().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    r.cli(&["RPUSH", "live", r#"{"n": 1}"#]);
    r.cli(&["RPUSH", "live", r#"{"n": 2}"#, r#"{"n": 3}"#]);
    let all = ended(&server, "live", 3).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(executions_of(&server.engine, "company.team", "live").await.len(), 3, "one execution per element");
    let mut values: Vec<i64> = all.iter().map(|e| vars(e)["value"]["n"].as_i64().expect("trigger.value.n")).collect();
    values.sort();
    assert_eq!(values, [1, 2, 3]);
    for e in &all {
        assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
        assert_eq!(e.trigger.as_ref().map(|t| t.type_.as_str()), Some("io.kestra.plugin.redis.list.RealtimeTrigger"));
    }
    assert_eq!(r.cli(&["LLEN", "live"]).trim(), "0");
    server.shutdown().await;
}

#[test]
fn validation_names_what_a_redis_trigger_lacks_with_its_position() {
    let out = validate(
        "id: v\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n\
         triggers:\n  - id: nokey\n    type: io.kestra.plugin.redis.list.Trigger\n    url: redis://127.0.0.1:6379/0\n\
         \x20 - id: nourl\n    type: io.kestra.plugin.redis.list.RealtimeTrigger\n    key: k\n\
         \x20 - id: badserde\n    type: io.kestra.plugin.redis.TriggerList\n    url: redis://h\n    key: k\n    \
         serdeType: AVRO\n",
    );
    assert!(out.contains("flow.yaml:8:5: triggers[0]: trigger 'nokey': a redis.list.Trigger needs 'key'"), "{out}");
    assert!(
        out.contains("flow.yaml:11:5: triggers[1]: trigger 'nourl': a redis.list.RealtimeTrigger needs 'url'"),
        "{out}"
    );
    assert!(out.contains("flow.yaml:18:5: triggers[2].serdeType: trigger 'badserde'"), "{out}");
    assert!(out.contains("AVRO"), "{out}");
}
