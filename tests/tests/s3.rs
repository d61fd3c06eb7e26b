//! The AWS S3 tasks and trigger (`io.kestra.plugin.aws.s3.*`) in flows,
//! against a local S3 server (moto's, `crate::moto`), one per test.
//! - CreateBucket, Upload (one file, several, a multipart one), List,
//!   Download (one, several), Copy, Delete and DeleteList, their outputs and
//!   the bytes that come back, with the connection from `pluginDefaults`;
//! - Downloads with MOVE;
//! - the S3 Trigger: one execution per new object with action NONE, also
//!   when polls race or a Cloud Scheduler tick comes twice; an update fires
//!   again (changeType UPDATE); the local poller with MOVE; and the Cloud
//!   Scheduler job Terraform derives for it;
//! - ECR's GetAuthToken: the registry password in `token`, never logged;
//! - validation: unknown properties, other AWS services refused by name.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use shared::functions::scheduler::{Schedules, TickRequest};
use shared::functions::schedules::ScheduleEngine;
use shared::model::StateType;
use shared::plugins::aws::S3Client;
use shared::plugins::aws::aws_sdk_s3::primitives::ByteStream;

use crate::moto::{Moto, moto};
use crate::sched_support::{executions_of, wait_ended};
use crate::support::{Harness, harness, runs};

async fn put(c: &S3Client, bucket: &str, key: &str, body: &str) {
    c.put_object().bucket(bucket).key(key).body(ByteStream::from(body.as_bytes().to_vec())).send().await.expect("put");
}

async fn keys(c: &S3Client, bucket: &str) -> Vec<String> {
    let r = c.list_objects_v2().bucket(bucket).send().await.expect("list");
    r.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
}

fn out<'a>(e: &'a shared::model::Execution, task: &str) -> &'a serde_json::Map<String, Value> {
    runs(e, task).first().and_then(|t| t.outputs.as_ref()).unwrap_or_else(|| panic!("no outputs of {task}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_tasks_upload_list_download_copy_and_delete_objects() {
    let s3 = moto().await;
    let h = harness();
    let flow = format!(
        r#"
id: s3_roundtrip
namespace: company.team
tasks:
  - id: bucket
    type: io.kestra.plugin.aws.s3.CreateBucket
    bucket: roundtrip
  - id: data
    type: io.kestra.plugin.core.storage.Write
    content: "id,name\n1,baton\n"
    extension: .csv
  - id: big
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: [big.bin]
    commands:
      - head -c 9437190 /dev/urandom > big.bin
  - id: upload
    type: io.kestra.plugin.aws.s3.Upload
    from: "{{{{ outputs.data.uri }}}}"
    bucket: roundtrip
    key: in/people.csv
    contentType: text/csv
    metadata:
      team: data
  - id: upload_many
    type: io.kestra.plugin.aws.s3.Upload
    from:
      first.csv: "{{{{ outputs.data.uri }}}}"
      sub/second.csv: "{{{{ outputs.data.uri }}}}"
    bucket: roundtrip
    key: many/
  - id: upload_big
    type: io.kestra.plugin.aws.s3.Upload
    from: ["{{{{ outputs.big.outputFiles['big.bin'] }}}}"]
    bucket: roundtrip
    key: big/big.bin
  - id: list
    type: io.kestra.plugin.aws.s3.List
    bucket: roundtrip
    prefix: many/
    filter: FILES
  - id: list_csv
    type: io.kestra.plugin.aws.s3.List
    bucket: roundtrip
    regexp: ".*\\.csv"
    maxFiles: 2
  - id: download
    type: io.kestra.plugin.aws.s3.Download
    bucket: roundtrip
    key: in/people.csv
  - id: download_big
    type: io.kestra.plugin.aws.s3.Download
    bucket: roundtrip
    key: big/big.bin
  - id: download_many
    type: io.kestra.plugin.aws.s3.Download
    bucket: roundtrip
    prefix: many/
  - id: copy
    type: io.kestra.plugin.aws.s3.Copy
    from:
      bucket: roundtrip
      key: in/people.csv
    to:
      key: archive/people.csv
    delete: true
  - id: delete
    type: io.kestra.plugin.aws.s3.Delete
    bucket: roundtrip
    key: big/big.bin
  - id: delete_list
    type: io.kestra.plugin.aws.s3.DeleteList
    bucket: roundtrip
    prefix: many/
    concurrent: 2
{}"#,
        s3.defaults()
    );
    let e = h.run(&flow, json!({})).await;
    let logs = h.logs(&e.id).await;
    assert_eq!(e.state.current, StateType::Success, "{logs:#?}");
    assert_eq!(out(&e, "bucket")["bucket"], json!("roundtrip"));
    let up = out(&e, "upload");
    assert_eq!((up["bucket"].as_str(), up["key"].as_str()), (Some("roundtrip"), Some("in/people.csv")));
    assert!(up["eTag"].as_str().is_some_and(|t| !t.is_empty()), "{up:?}");
    let files = out(&e, "upload_many")["files"].as_object().expect("files").clone();
    assert_eq!(files.keys().collect::<Vec<_>>(), ["first.csv", "sub/second.csv"]);
    assert_eq!(files["first.csv"]["contentLength"], json!(16));
    // List: the keys under many/, their Kestra S3Object fields
    let listed = out(&e, "list")["objects"].as_array().expect("objects").clone();
    let names: Vec<&str> = listed.iter().filter_map(|o| o["key"].as_str()).collect();
    assert_eq!(names, ["many/first.csv", "many/sub/second.csv"]);
    assert_eq!(listed[0]["size"], json!(16));
    assert!(listed[0]["etag"].is_string() && listed[0]["lastModified"].is_string(), "{:?}", listed[0]);
    assert_eq!(out(&e, "list_csv")["objects"].as_array().map(Vec::len), Some(2), "maxFiles");
    // Download: the bytes, contentType and metadata of the upload
    let d = out(&e, "download");
    assert_eq!(h.read_storage(d["uri"].as_str().expect("uri")).await, b"id,name\n1,baton\n");
    assert_eq!((d["contentType"].as_str(), d["metadata"]["team"].as_str()), (Some("text/csv"), Some("data")));
    assert_eq!(d["contentLength"], json!(16));
    // the multipart upload comes back whole
    let source = h.read_storage(out(&e, "big")["outputFiles"]["big.bin"].as_str().expect("big")).await;
    let back = h.read_storage(out(&e, "download_big")["uri"].as_str().expect("uri")).await;
    assert_eq!(source.len(), 9_437_190);
    assert!(source == back, "the multipart upload's bytes differ");
    let many = out(&e, "download_many")["files"].as_object().expect("files").clone();
    assert_eq!(many.len(), 2);
    let second = many["many/sub/second.csv"]["uri"].as_str().expect("uri");
    assert_eq!(h.read_storage(second).await, b"id,name\n1,baton\n");
    // Copy with delete moved in/people.csv; Delete and DeleteList removed the rest
    assert_eq!(out(&e, "copy")["key"], json!("archive/people.csv"));
    assert_eq!(out(&e, "delete_list")["count"], json!(2));
    assert_eq!(out(&e, "delete_list")["size"], json!(32));
    assert_eq!(keys(&s3.client().await, "roundtrip").await, ["archive/people.csv"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn downloads_moves_what_it_downloaded_and_failures_name_s3_s_error() {
    let s3 = moto().await;
    let c = s3.client().await;
    c.create_bucket().bucket("drop").send().await.expect("bucket");
    put(&c, "drop", "in/a.csv", "a").await;
    put(&c, "drop", "in/b.json", "bb").await;
    put(&c, "drop", "other/c.csv", "c").await;
    let h = harness();
    let flow = format!(
        "id: s3_downloads\nnamespace: company.team\ntasks:\n  - id: take\n    type: io.kestra.plugin.aws.s3.Downloads\n    \
         bucket: drop\n    prefix: in/\n    action: MOVE\n    moveTo:\n      bucket: drop\n      key: done\n{}",
        s3.defaults()
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:#?}", h.logs(&e.id).await);
    let o = out(&e, "take");
    let objects = o["objects"].as_array().expect("objects");
    assert_eq!(objects.len(), 2);
    let uri = o["outputFiles"]["in/b.json"].as_str().expect("uri");
    assert_eq!(h.read_storage(uri).await, b"bb");
    let mut left = keys(&c, "drop").await;
    left.sort();
    assert_eq!(left, ["done/a.csv", "done/b.json", "other/c.csv"]);
    // a missing object: the task fails with S3's word for it
    let flow = format!(
        "id: s3_missing\nnamespace: company.team\ntasks:\n  - id: get\n    type: io.kestra.plugin.aws.s3.Download\n    \
         bucket: drop\n    key: nope.csv\n{}",
        s3.defaults()
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("s3://drop/nope.csv") && logs.contains("NoSuchKey"), "{logs}");
}

fn trigger_flow(s3: &Moto, extra: &str) -> String {
    format!(
        "id: s3_watch\nnamespace: company.team\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.log.Log\n    \
         message: \"{{{{ trigger.objects | length }}}} {{{{ trigger.objects[0].key }}}} {{{{ trigger.objects[0].changeType }}}} \
         {{{{ read(trigger.objects[0].uri) }}}}\"\ntriggers:\n  - id: watch\n    type: io.kestra.plugin.aws.s3.Trigger\n    \
         bucket: inbox\n    prefix: in/\n    interval: PT0.2S\n{extra}{}",
        s3.defaults()
    )
}

async fn poll(h: &Harness, flow: &shared::model::Flow) -> Option<String> {
    let fired = shared::runtime::events::s3::poll(&h.embedded.engine, flow, "watch").await.expect("poll");
    fired.filter(|f| f.created).map(|f| f.execution_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_s3_trigger_starts_one_execution_per_new_object() {
    let s3 = moto().await;
    let c = s3.client().await;
    c.create_bucket().bucket("inbox").send().await.expect("bucket");
    put(&c, "inbox", "in/a.csv", "first").await;
    let h = harness();
    let flow = h.flow(&trigger_flow(&s3, "    action: NONE\n"));
    let engine = h.embedded.engine.clone();
    let first = poll(&h, &flow).await.expect("a new object starts an execution");
    assert_eq!(poll(&h, &flow).await, None, "an object seen does not fire again");
    let done = wait_ended(&engine, &first).await;
    assert_eq!(done.state.current, StateType::Success);
    let objects = &done.trigger.as_ref().expect("trigger").variables["objects"];
    assert_eq!((objects[0]["key"].as_str(), objects[0]["changeType"].as_str()), (Some("in/a.csv"), Some("CREATE")));
    assert_eq!(objects[0]["size"], json!(5));
    let logs = h.logs(&first).await.join("\n");
    assert!(logs.contains("1 in/a.csv CREATE first"), "{logs}");
    // two polls race over a new object: one execution
    put(&c, "inbox", "in/b.csv", "second").await;
    let (a, b) = tokio::join!(poll(&h, &flow), poll(&h, &flow));
    assert_eq!(a.iter().chain(b.iter()).count(), 1, "{a:?} {b:?}");
    assert_eq!(executions_of(&engine, "company.team", "s3_watch").await.len(), 2);
    // the Cloud Scheduler path: a tick, delivered twice
    put(&c, "inbox", "in/c.csv", "third").await;
    let store = engine.trigger_store.as_ref().expect("trigger store").clone();
    let schedules = ScheduleEngine::new(engine.clone(), store, Duration::from_secs(5));
    let tick = TickRequest {
        namespace: "company.team".into(),
        flow_id: "s3_watch".into(),
        trigger_id: "watch".into(),
        date: None,
    };
    let now = chrono::Utc::now();
    assert_eq!(schedules.tick(&tick, now).await.expect("tick").len(), 1);
    assert!(schedules.tick(&tick, now).await.expect("duplicate tick").is_empty());
    // a changed object fires again, as an UPDATE
    put(&c, "inbox", "in/a.csv", "changed").await;
    let update = poll(&h, &flow).await.expect("an update fires");
    let done = wait_ended(&engine, &update).await;
    let objects = &done.trigger.as_ref().expect("trigger").variables["objects"];
    assert_eq!((objects[0]["key"].as_str(), objects[0]["changeType"].as_str()), (Some("in/a.csv"), Some("UPDATE")));
    assert_eq!(poll(&h, &flow).await, None);
    assert_eq!(executions_of(&engine, "company.team", "s3_watch").await.len(), 4);
    // nothing was moved or deleted (action NONE)
    assert_eq!(keys(&c, "inbox").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_local_poller_moves_what_the_s3_trigger_took() {
    let s3 = moto().await;
    let c = s3.client().await;
    c.create_bucket().bucket("inbox").send().await.expect("bucket");
    put(&c, "inbox", "in/a.csv", "alpha").await;
    put(&c, "inbox", "in/b.csv", "beta").await;
    let h = harness();
    h.flow(&trigger_flow(&s3, "    action: MOVE\n    moveTo:\n      bucket: inbox\n      key: archive\n"));
    let engine = h.embedded.engine.clone();
    let poller = Arc::new(shared::runtime::events::poller::EventPoller::new(engine.clone()));
    let mut moved = false;
    for _ in 0..100 {
        poller.pass();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut k = keys(&c, "inbox").await;
        k.sort();
        if k == ["archive/a.csv", "archive/b.csv"] {
            moved = true;
            break;
        }
    }
    assert!(moved, "{:?}", keys(&c, "inbox").await);
    for _ in 0..5 {
        poller.pass();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    poller.abort_all();
    let execs = executions_of(&engine, "company.team", "s3_watch").await;
    assert_eq!(execs.len(), 1, "both objects in one execution, once");
    let done = wait_ended(&engine, &execs[0].id).await;
    assert_eq!(done.state.current, StateType::Success);
    assert_eq!(done.trigger.as_ref().expect("trigger").variables["objects"].as_array().map(Vec::len), Some(2));
}

#[test]
fn s3_types_are_validated_by_their_declaration() {
    let check = |yaml: &str| -> Vec<String> {
        let (_, diags) = shared::validate::validate_source(
            "f.yaml",
            yaml,
            &shared::plugins::Registry::builtin(),
            &shared::template::Renderer::new(),
        );
        diags.into_iter().map(|d| d.message).collect()
    };
    let task = |body: &str| format!("id: f\nnamespace: ns\ntasks:\n  - id: t\n{body}");
    assert!(check(&task("    type: io.kestra.plugin.aws.s3.List\n    bucket: b\n")).is_empty());
    let d = check(&task("    type: io.kestra.plugin.aws.s3.List\n    bucket: b\n    prefx: in/\n"));
    assert!(d.iter().any(|m| m.contains("prefx")), "{d:?}");
    let d = check(&task("    type: io.kestra.plugin.aws.lambda.Invoke\n    functionArn: x\n"));
    assert!(d.iter().any(|m| m.contains("only the AWS S3")), "{d:?}");
    let trig = |body: &str| {
        format!(
            "id: f\nnamespace: ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n\
             triggers:\n  - id: w\n    type: io.kestra.plugin.aws.s3.Trigger\n{body}"
        )
    };
    assert!(check(&trig("    bucket: b\n    action: NONE\n")).is_empty());
    let d = check(&trig("    bucket: b\n    action: MOVE\n"));
    assert!(d.iter().any(|m| m.contains("moveTo")), "{d:?}");
    let d = check(&trig("    bucket: b\n    action: NONE\n    interval: \"{{ vars.every }}\"\n"));
    assert!(d.iter().any(|m| m.contains("interval")), "{d:?}");
}

#[test]
fn terraform_gives_an_s3_trigger_a_scheduler_job() {
    let dir = crate::sched_support::temp_dir("s3-tf");
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    std::fs::write(
        flows.join("watch.yml"),
        "id: watch\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n\
         triggers:\n  - id: s3\n    type: io.kestra.plugin.aws.s3.Trigger\n    bucket: b\n    action: NONE\n    interval: PT5M\n",
    )
    .expect("flow");
    let derived = crate::terraform::evaluate_schedules(&[("s3", flows.clone())]);
    let job = &derived["s3"]["jobs"]["company.team/watch/s3"];
    assert_eq!(job["schedule"], json!("*/5 * * * *"), "{:#}", derived["s3"]);
    let tick: Value = serde_json::from_str(job["payload"].as_str().expect("payload")).expect("json");
    assert_eq!(tick, json!({"type": "tick", "namespace": "company.team", "flowId": "watch", "triggerId": "s3"}));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ecr_get_auth_token_outputs_the_registry_password() {
    let aws = moto().await;
    let h = harness();
    let flow = format!(
        r#"
id: ecr_token
namespace: company.team
tasks:
  - id: ecr
    type: io.kestra.plugin.aws.ecr.GetAuthToken
  - id: use
    type: io.kestra.plugin.core.log.Log
    message: "length {{{{ outputs.ecr.token | length }}}}"
{}"#,
        aws.defaults()
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.state);
    // moto's answer: base64 of "AWS:123456789012-auth-token"; the user name is dropped
    assert_eq!(out(&e, "ecr")["token"], json!("123456789012-auth-token"));
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "length 23"), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains("auth-token")), "the token is never logged: {logs:?}");
    // no server answers: the task fails saying what it asked for
    let dead = format!(
        "http://127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    );
    let e = h.run(&flow.replace(&aws.url, &dead), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("cannot get an ECR authorization token")), "{logs:?}");
}
