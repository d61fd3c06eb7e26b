//! Kestra's Redis tasks (`io.kestra.plugin.redis.*`) against a real
//! `redis-server` (Debian's, `scripts/setup/redis.sh`) started per test on
//! a free loopback port with a password, checked with `redis-cli`: SET's
//! options (TTL, NX/XX, GET) and JSON serde, GET of a missing key, DEL's
//! count and failedOnMissing, INCR/INCRBYFLOAT with an expiration, TTL,
//! LPUSH of a list and of an Ion file in batches, LPOP into an Ion file
//! bounded by maxRecords, PUBLISH seen by a subscriber, and the errors a
//! wrong password, a `rediss://` URL and a JSON task cause.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use shared::model::{Execution, StateType};

use crate::support::{Harness, harness, runs};

pub(crate) const PASSWORD: &str = "s3cret-redis";

/// A `redis-server` on a free port, killed when dropped.
pub(crate) struct Redis {
    pub(crate) port: u16,
    child: Child,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Redis {
    pub(crate) fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--requirepass", PASSWORD])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/setup/redis.sh installs it)");
        let r = Redis { port, child };
        for _ in 0..100 {
            if r.cli(&["PING"]).trim() == "PONG" {
                return r;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not answer on port {port}");
    }

    /// Kestra's URL form, with the password.
    pub(crate) fn url(&self) -> String {
        format!("redis://:{PASSWORD}@127.0.0.1:{}/0", self.port)
    }

    /// `redis-cli ARGS` on this server: its raw answer.
    pub(crate) fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "-a", PASSWORD, "--no-auth-warning", "--raw"])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// `baton validate` on a flow: what it prints.
pub(crate) fn validate(yaml: &str) -> String {
    let dir = std::env::temp_dir().join(format!("baton-redis-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = crate::support::TempHome(dir);
    let file = dir.0.join("flow.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new(crate::support::baton_bin()).arg("validate").arg(&file).output().expect("baton");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

async fn run(h: &Harness, r: &Redis, tasks: &str) -> Execution {
    let yaml = format!("id: redis\nnamespace: company.team\ntasks:\n{}", tasks.replace("URL", &r.url()));
    h.run(&yaml, json!({})).await
}

fn outputs(e: &Execution, id: &str) -> Value {
    Value::Object(runs(e, id)[0].outputs.as_deref().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strings_set_get_delete_increment_and_ttl() {
    let r = Redis::start();
    let h = harness();
    let e = run(
        &h,
        &r,
        r#"
  - id: set
    type: io.kestra.plugin.redis.string.Set
    url: URL
    key: greeting
    value: hello
    options:
      expirationDuration: PT1H
  - id: replace
    type: io.kestra.plugin.redis.string.Set
    url: URL
    key: greeting
    value: bonjour
    get: true
    options:
      mustExist: true
      keepTtl: true
  - id: not_created
    type: io.kestra.plugin.redis.string.Set
    url: URL
    key: absent
    value: x
    options:
      mustExist: true
  - id: json
    type: io.kestra.plugin.redis.string.Set
    url: URL
    key: "doc_{{ execution.id }}"
    value: |
      {{ {"flow": flow.id, "n": 3} | toJson }}
    serdeType: JSON
  - id: get
    type: io.kestra.plugin.redis.string.Get
    url: URL
    key: greeting
  - id: get_json
    type: io.kestra.plugin.redis.string.Get
    url: URL
    key: "doc_{{ execution.id }}"
    serdeType: JSON
  - id: get_missing
    type: io.kestra.plugin.redis.string.Get
    url: URL
    key: nothing
  - id: incr
    type: io.kestra.plugin.redis.string.Increment
    url: URL
    key: visits
  - id: incr_float
    type: io.kestra.plugin.redis.string.Increment
    url: URL
    key: visits
    amount: 1.5
    options:
      expirationDuration: PT10M
  - id: ttl
    type: io.kestra.plugin.redis.string.Ttl
    url: URL
    key: visits
  - id: delete
    type: io.kestra.plugin.redis.string.Delete
    url: URL
    keys: [greeting, nothing]
"#,
    )
    .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(outputs(&e, "set"), json!({}));
    assert_eq!(outputs(&e, "replace")["oldValue"], "hello");
    assert_eq!(r.cli(&["EXISTS", "absent"]).trim(), "0", "XX did not create the key");
    assert_eq!(outputs(&e, "get"), json!({"data": "bonjour", "key": "greeting"}));
    assert_eq!(outputs(&e, "get_json")["data"], json!({"flow": "redis", "n": 3}));
    assert_eq!(outputs(&e, "get_missing"), json!({"data": null, "key": "nothing"}));
    assert_eq!(outputs(&e, "incr")["value"], 1);
    assert_eq!(outputs(&e, "incr_float")["value"], 2.5);
    let ttl = outputs(&e, "ttl")["ttl"].as_i64().unwrap();
    assert!((590..=600).contains(&ttl), "ttl {ttl}");
    assert_eq!(outputs(&e, "delete")["count"], 1);
    assert_eq!(r.cli(&["EXISTS", "greeting"]).trim(), "0");
    let stored = r.cli(&["GET", &format!("doc_{}", e.id)]);
    assert_eq!(serde_json::from_str::<Value>(stored.trim()).unwrap(), json!({"flow": "redis", "n": 3}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_name_the_key_the_password_and_the_url() {
    let r = Redis::start();
    let h = harness();
    let e = run(
        &h,
        &r,
        "  - id: get\n    type: io.kestra.plugin.redis.string.Get\n    url: URL\n    key: nothing\n    failedOnMissing: true\n",
    )
    .await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(h.logs(&e.id).await.iter().any(|l| l.contains("Missing key 'nothing'")));

    let e = run(
        &h,
        &r,
        "  - id: del\n    type: io.kestra.plugin.redis.string.Delete\n    url: URL\n    keys: [a, b]\n    failedOnMissing: true\n",
    )
    .await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(h.logs(&e.id).await.iter().any(|l| l.contains("only 0 of the 2 keys")));

    let wrong = format!("redis://:wrong@127.0.0.1:{}/0", r.port);
    let e = h
        .run(
            &format!("id: w\nnamespace: company.team\ntasks:\n  - id: get\n    type: io.kestra.plugin.redis.string.Get\n    url: {wrong}\n    key: k\n"),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("cannot connect to Redis") || logs.contains("WRONGPASS"), "{logs}");
    assert!(!logs.contains(PASSWORD));

    // validation names what this build does not do
    let out = validate(
        "id: v\nnamespace: company.team\ntasks:\n  - id: a\n    type: io.kestra.plugin.redis.string.Get\n    url: rediss://h:6380\n    key: k\n  - id: b\n    type: io.kestra.plugin.redis.json.Get\n    url: redis://h\n    key: k\n",
    );
    assert!(out.contains("TLS connections (rediss://)"), "{out}");
    assert!(out.contains("RedisJSON"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_push_and_pop_and_publish() {
    let r = Redis::start();
    let h = harness();
    // a subscriber, to see what PUBLISH sends
    let port = r.port.to_string();
    let mut sub = Command::new("redis-cli")
        .args(["-p", &port, "-a", PASSWORD, "--no-auth-warning", "--raw", "SUBSCRIBE", "news"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli subscribe");
    for _ in 0..100 {
        if r.cli(&["PUBSUB", "NUMSUB", "news"]).lines().nth(1) == Some("1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let e = run(
        &h,
        &r,
        r#"
  - id: push
    type: io.kestra.plugin.redis.list.ListPush
    url: URL
    key: queue
    from: ["a", "b", "c"]
    batchSize: 2
  - id: file
    type: io.kestra.plugin.core.storage.Write
    content: |
      {"id":1,"name":"one"}
      {"id":2,"name":"two"}
    extension: .ion
  - id: push_file
    type: io.kestra.plugin.redis.list.ListPush
    url: URL
    key: docs
    from: "{{ outputs.file.uri }}"
    serdeType: JSON
  - id: pop
    type: io.kestra.plugin.redis.list.ListPop
    url: URL
    key: queue
    maxRecords: 2
    count: 2
  - id: pop_docs
    type: io.kestra.plugin.redis.list.ListPop
    url: URL
    key: docs
    serdeType: JSON
    maxDuration: PT5S
  - id: publish
    type: io.kestra.plugin.redis.pubsub.Publish
    url: URL
    channel: news
    from: '["first", "second"]'
"#,
    )
    .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(outputs(&e, "push")["count"], 3);
    assert_eq!(outputs(&e, "push_file")["count"], 2);
    // LPUSH puts the last value first: c b a
    let pop = outputs(&e, "pop");
    assert_eq!(pop["count"], 2);
    let popped = String::from_utf8(h.read_storage(pop["uri"].as_str().unwrap()).await).unwrap();
    assert_eq!(popped, "\"c\"\n\"b\"\n");
    assert_eq!(r.cli(&["LRANGE", "queue", "0", "-1"]).trim(), "a");
    let docs = outputs(&e, "pop_docs");
    assert_eq!(docs["count"], 2);
    let lines = String::from_utf8(h.read_storage(docs["uri"].as_str().unwrap()).await).unwrap();
    let values: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(values, vec![json!({"id": 2, "name": "two"}), json!({"id": 1, "name": "one"})]);
    assert_eq!(outputs(&e, "publish")["count"], 2);
    let _ = sub.kill();
    let out = sub.wait_with_output().unwrap();
    let got = String::from_utf8_lossy(&out.stdout);
    assert!(got.contains("first") && got.contains("second"), "{got}");

    // Kestra's bound: ListPop without maxRecords or maxDuration never ends
    let e =
        run(&h, &r, "  - id: pop\n    type: io.kestra.plugin.redis.list.ListPop\n    url: URL\n    key: queue\n").await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(h.logs(&e.id).await.iter().any(|l| l.contains("maxRecords or maxDuration")));
}
