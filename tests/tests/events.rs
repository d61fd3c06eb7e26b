//! GCS and Pub/Sub triggers end to end, against fake-gcs-server
//! (`e2e::emulators`):
//! - on Google Cloud's shape, the functions harness (`e2e::functions`):
//!   the exact notification GCS sends, pushed twice to the scheduler
//!   function, starts one execution with Kestra's `trigger.blobs`, and the
//!   MOVE is done once; a `RealtimeTrigger` message pushed twice is one
//!   execution with `trigger.data`. The time from the push to the first
//!   task starting is printed (the README's benchmark).
//! - on `baton server local`, the poller: two objects become one
//!   execution, DELETE removes them, MOVE puts them under `moveDirectory`
//!   once, and nothing starts again — also after a restart on the same home.
//! - a Pub/Sub trigger whose `subscription` and `serdeType` come from
//!   `pluginDefaults` is found and honoured by a push.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::emulators::emulators;
use e2e::functions::{Cluster, ClusterOptions, wait_for};
use serde_json::{Value, json};
use shared::backend::{ExecutionFilter, StateStore};
use shared::functions::envelope::PushEnvelope;
use shared::gcp::GcpCredentials;
use shared::gcp::gcs::{GcsClient, UploadOptions};
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::plugins::gcp::GcpConfig;

fn gcs() -> GcsClient {
    let emu = emulators();
    GcsClient::new(&format!("http://{}", emu.storage_host), GcpCredentials::anonymous(), reqwest::Client::new())
}

fn plugins() -> PluginConfig {
    PluginConfig { gcp: GcpConfig::emulators(Some(&emulators().storage_host), None), ..PluginConfig::default() }
}

async fn bucket(gcs: &GcsClient, prefix: &str) -> String {
    let name = format!("{prefix}-{}", uuid::Uuid::new_v4().simple()).chars().take(40).collect::<String>();
    gcs.insert_bucket("p", &json!({"name": name})).await.expect("create bucket");
    name
}

async fn put(gcs: &GcsClient, bucket: &str, name: &str, text: &str) -> Value {
    let data = std::io::Cursor::new(text.as_bytes().to_vec());
    gcs.upload(bucket, name, Box::pin(data), Some(text.len() as u64), &UploadOptions::default()).await.expect("upload");
    gcs.get_object(bucket, name).await.expect("get").expect("object exists")
}

async fn executions(state: &dyn StateStore, ns: &str, flow: &str) -> Vec<String> {
    let filter = ExecutionFilter { namespace: Some(ns.into()), flow_id: Some(flow.into()), ..Default::default() };
    state.list_executions(&filter).await.expect("list").into_iter().map(|e| e.id).collect()
}

fn gcs_flow(bucket: &str, extra: &str) -> String {
    format!(
        "id: watch_files\nnamespace: company.team\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.log.Log\n    \
         message: \"{{{{ trigger.blobs | length }}}} {{{{ trigger.blobs[0].name }}}} {{{{ trigger.blobs[0].changeType }}}} \
         {{{{ trigger.blobs[0].uri }}}}\"\ntriggers:\n  - id: watch\n    type: io.kestra.plugin.gcp.gcs.Trigger\n    \
         from: gs://{bucket}/in/\n{extra}"
    )
}

/// The push GCS makes for an OBJECT_FINALIZE notification (JSON_API_V1).
fn notification(object: &Value, subscription: &str) -> Vec<u8> {
    let attrs: BTreeMap<String, String> = [
        ("bucketId", object["bucket"].as_str().unwrap_or_default().to_string()),
        ("objectId", object["name"].as_str().unwrap_or_default().to_string()),
        ("objectGeneration", object["generation"].as_str().unwrap_or_default().to_string()),
        ("eventType", "OBJECT_FINALIZE".to_string()),
        ("eventTime", "2026-11-23T10:00:00.000000Z".to_string()),
        ("notificationConfig", "projects/_/buckets/b/notificationConfigs/1".to_string()),
        ("payloadFormat", "JSON_API_V1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let data = serde_json::to_vec(object).expect("json");
    let env = PushEnvelope::wrap(&data, attrs, "9876543210", chrono::Utc::now(), subscription, None);
    serde_json::to_vec(&env).expect("envelope")
}

async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>) -> u16 {
    http.post(url).header("content-type", "application/json").body(body).send().await.expect("push").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gcs_notification_pushed_twice_starts_one_execution_and_moves_once() {
    let gcs = gcs();
    let b = bucket(&gcs, "ev-push").await;
    let flow = gcs_flow(&b, &format!("    action: MOVE\n    moveDirectory: gs://{b}/archive/\n"));
    let cluster = Cluster::start(ClusterOptions {
        flows: vec![("f.yml".into(), flow)],
        plugins: plugins(),
        ..Default::default()
    })
    .await;
    let object = put(&gcs, &b, "in/a.csv", "x,y\n1,2\n").await;
    let sub = "projects/p/subscriptions/baton-gcs~company.team~watch_files~watch";
    let body = notification(&object, sub);
    let pushed = Instant::now();
    assert_eq!(post(&cluster.http, &cluster.scheduler.url, body.clone()).await, 204);
    let state = cluster.backends.state.clone();
    let ids = executions(state.as_ref(), "company.team", "watch_files").await;
    assert_eq!(ids.len(), 1, "one execution: {ids:?}");
    let started = wait_for(Duration::from_secs(20), "the first task starts", || {
        let state = state.clone();
        let id = ids[0].clone();
        async move {
            let e = state.load_execution(&id).await.ok()??;
            e.task_run_list.first().filter(|t| t.state.current != StateType::Created).map(|_| Instant::now())
        }
    })
    .await;
    eprintln!("BENCH gcs push -> first task running: {:?}", started - pushed);
    assert_eq!(post(&cluster.http, &cluster.scheduler.url, body).await, 204, "the duplicate is acked");
    let exec = cluster.wait(&ids[0]).await;
    assert_eq!(exec.state.current, StateType::Success);
    assert_eq!(executions(state.as_ref(), "company.team", "watch_files").await, ids, "no second execution");
    let blobs = &exec.trigger.as_ref().expect("trigger").variables["blobs"];
    assert_eq!((blobs[0]["name"].as_str(), blobs[0]["changeType"].as_str()), (Some("in/a.csv"), Some("CREATE")));
    assert_eq!(blobs[0]["bucket"].as_str(), Some(b.as_str()));
    let uri = blobs[0]["uri"].as_str().expect("uri");
    assert!(uri.starts_with("kestra:///company/team/watch_files/executions/"), "{uri}");
    let logs = cluster.logs(&ids[0]).await.join("\n");
    assert!(logs.contains("1 in/a.csv CREATE kestra:///"), "{logs}");
    assert!(gcs.get_object(&b, "in/a.csv").await.expect("get").is_none(), "moved away");
    assert!(gcs.get_object(&b, "archive/a.csv").await.expect("get").is_some(), "moved to moveDirectory");
    // a new object under the same name is a new generation: a new execution, not touched by the old one's action
    let again = put(&gcs, &b, "in/a.csv", "x,y\n3,4\n").await;
    assert_ne!(again["generation"], object["generation"]);
    assert_eq!(post(&cluster.http, &cluster.scheduler.url, notification(&object, sub)).await, 204);
    assert!(gcs.get_object(&b, "in/a.csv").await.expect("get").is_some(), "a late duplicate leaves the new generation");
    assert_eq!(executions(state.as_ref(), "company.team", "watch_files").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pubsub_message_pushed_twice_starts_one_realtime_execution() {
    let flow = "id: on_message\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    \
                message: \"Received: {{ trigger.data | base64decode }} {{ trigger.attributes.k }} {{ trigger.messageId }}\"\n\
                triggers:\n  - id: trigger\n    type: io.kestra.plugin.gcp.pubsub.RealtimeTrigger\n    projectId: test-project-id\n    \
                topic: test-topic\n    subscription: test-subscription\n";
    let cluster =
        Cluster::start(ClusterOptions { flows: vec![("f.yml".into(), flow.into())], ..Default::default() }).await;
    let attrs: BTreeMap<String, String> = [("k".to_string(), "v".to_string())].into();
    let env = PushEnvelope::wrap(
        b"hello",
        attrs,
        "m-1",
        chrono::Utc::now(),
        "projects/test-project-id/subscriptions/test-subscription",
        None,
    );
    let body = serde_json::to_vec(&env).expect("json");
    assert_eq!(post(&cluster.http, &cluster.scheduler.url, body.clone()).await, 204);
    assert_eq!(post(&cluster.http, &cluster.scheduler.url, body).await, 204);
    let ids = executions(cluster.backends.state.as_ref(), "company.team", "on_message").await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    let exec = cluster.wait(&ids[0]).await;
    assert_eq!(exec.state.current, StateType::Success);
    let logs = cluster.logs(&ids[0]).await.join("\n");
    assert!(logs.contains("Received: hello v m-1"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pushed_message_reaches_a_trigger_configured_by_plugin_defaults() {
    // subscription and serdeType only in pluginDefaults (with a key only tasks have)
    let flow = "id: on_order\nnamespace: company.team\npluginDefaults:\n  - type: io.kestra.plugin.gcp.pubsub\n    \
                values:\n      projectId: test-project-id\n      subscription: orders-from-defaults\n      \
                serdeType: JSON\n      location: EU\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    \
                message: \"order {{ trigger.data.order }}\"\ntriggers:\n  - id: trigger\n    \
                type: io.kestra.plugin.gcp.pubsub.RealtimeTrigger\n    topic: orders\n";
    let cluster =
        Cluster::start(ClusterOptions { flows: vec![("f.yml".into(), flow.into())], ..Default::default() }).await;
    let env = PushEnvelope::wrap(
        br#"{"order": 7}"#,
        BTreeMap::new(),
        "m-7",
        chrono::Utc::now(),
        "projects/test-project-id/subscriptions/orders-from-defaults",
        None,
    );
    assert_eq!(post(&cluster.http, &cluster.scheduler.url, serde_json::to_vec(&env).expect("json")).await, 204);
    let ids = executions(cluster.backends.state.as_ref(), "company.team", "on_order").await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    let exec = cluster.wait(&ids[0]).await;
    assert_eq!(exec.state.current, StateType::Success);
    assert_eq!(
        exec.trigger.as_ref().expect("trigger").variables["data"]["order"],
        7,
        "serdeType JSON from the defaults"
    );
    let logs = cluster.logs(&ids[0]).await.join("\n");
    assert!(logs.contains("order 7"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_local_server_moves_polled_objects_once() {
    let gcs = Arc::new(gcs());
    let b = bucket(&gcs, "ev-move").await;
    let dir = std::env::temp_dir().join(format!("baton-events-{}", uuid::Uuid::new_v4()));
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    let extra = format!("    interval: PT0.3S\n    action: MOVE\n    moveDirectory: gs://{b}/archive/\n");
    std::fs::write(flows.join("f.yml"), gcs_flow(&b, &extra)).expect("flow");
    let first = put(&gcs, &b, "in/a.csv", "first").await;
    let server = start_local(&dir.join("home"), &flows).await;
    let state: Arc<dyn StateStore> = server.engine.state.clone();
    let moved = |name: &'static str| {
        let (gcs, b) = (gcs.clone(), b.clone());
        async move {
            let gone = gcs.get_object(&b, &format!("in/{name}")).await.ok()?.is_none();
            let there = gcs.get_object(&b, &format!("archive/{name}")).await.ok()?;
            there.filter(|_| gone)
        }
    };
    let archived = wait_for(Duration::from_secs(20), "in/a.csv moved to archive/", || moved("a.csv")).await;
    assert_eq!(archived["size"], first["size"]);
    let ids = executions(state.as_ref(), "company.team", "watch_files").await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    let exec = wait_for(Duration::from_secs(20), "success", || {
        let (state, id) = (state.clone(), ids[0].clone());
        async move { state.load_execution(&id).await.ok()?.filter(|e| e.state.current.is_terminal()) }
    })
    .await;
    assert_eq!(exec.state.current, StateType::Success);
    let blobs = &exec.trigger.as_ref().expect("trigger").variables["blobs"];
    assert_eq!((blobs[0]["name"].as_str(), blobs[0]["changeType"].as_str()), (Some("in/a.csv"), Some("CREATE")));
    let logs: Vec<String> = state.logs(&ids[0]).await.expect("logs").into_iter().map(|l| l.message).collect();
    assert!(logs.iter().any(|l| l.starts_with("1 in/a.csv CREATE kestra:///")), "{logs:?}");
    // the archive is not watched, a restart starts nothing; the same name again is a new object
    server.shutdown().await;
    let server = start_local(&dir.join("home"), &flows).await;
    let state: Arc<dyn StateStore> = server.engine.state.clone();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(executions(state.as_ref(), "company.team", "watch_files").await, ids);
    put(&gcs, &b, "in/a.csv", "second!").await;
    wait_for(Duration::from_secs(20), "a second execution", || {
        let state = state.clone();
        async move { (executions(state.as_ref(), "company.team", "watch_files").await.len() == 2).then_some(()) }
    })
    .await;
    let archived = wait_for(Duration::from_secs(20), "the new in/a.csv moved too", || {
        let (gcs, b) = (gcs.clone(), b.clone());
        async move {
            let o = gcs.get_object(&b, "archive/a.csv").await.ok()??;
            (o["size"] == "7" && gcs.get_object(&b, "in/a.csv").await.ok()?.is_none()).then_some(o)
        }
    })
    .await;
    assert_eq!(archived["name"], "archive/a.csv");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn start_local(home: &std::path::Path, flows: &std::path::Path) -> shared::server::LocalServer {
    let mut opts = shared::server::ServerOptions::new(home.to_path_buf());
    opts.flows_dir = flows.to_path_buf();
    opts.port = 0;
    opts.workers = 2;
    opts.tick = Duration::from_millis(200);
    opts.plugins = plugins();
    shared::server::LocalServer::start(opts).await.expect("server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_local_server_polls_a_bucket_once_per_object() {
    let gcs = Arc::new(gcs());
    let b = bucket(&gcs, "ev-poll").await;
    let dir = std::env::temp_dir().join(format!("baton-events-{}", uuid::Uuid::new_v4()));
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    std::fs::write(flows.join("f.yml"), gcs_flow(&b, "    interval: PT0.3S\n    action: DELETE\n")).expect("flow");
    put(&gcs, &b, "in/a.csv", "a").await;
    put(&gcs, &b, "in/b.csv", "b").await;
    put(&gcs, &b, "in/sub/c.csv", "c").await;
    let server = start_local(&dir.join("home"), &flows).await;
    let state: Arc<dyn StateStore> = server.engine.state.clone();
    let ids = wait_for(Duration::from_secs(20), "one execution", || {
        let state = state.clone();
        async move {
            let ids = executions(state.as_ref(), "company.team", "watch_files").await;
            (!ids.is_empty()).then_some(ids)
        }
    })
    .await;
    wait_for(Duration::from_secs(20), "objects deleted", || {
        let gcs = gcs.clone();
        let b = b.clone();
        async move { gcs.get_object(&b, "in/b.csv").await.ok()?.is_none().then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(executions(state.as_ref(), "company.team", "watch_files").await, ids, "one execution for both");
    let exec = wait_for(Duration::from_secs(20), "success", || {
        let state = state.clone();
        let id = ids[0].clone();
        async move { state.load_execution(&id).await.ok()?.filter(|e| e.state.current.is_terminal()) }
    })
    .await;
    assert_eq!(exec.state.current, StateType::Success);
    let blobs = exec.trigger.as_ref().expect("trigger").variables["blobs"].as_array().cloned().expect("blobs");
    let mut names: Vec<&str> = blobs.iter().filter_map(|b| b["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["in/a.csv", "in/b.csv"], "DIRECTORY listing: in/sub/c.csv is not under it");
    assert!(gcs.get_object(&b, "in/sub/c.csv").await.expect("get").is_some(), "not selected, not deleted");
    server.shutdown().await;
    // a restart on the same home starts nothing again; a new object starts one more
    let server = start_local(&dir.join("home"), &flows).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(executions(state.as_ref(), "company.team", "watch_files").await.len(), 1);
    put(&gcs, &b, "in/d.csv", "d").await;
    let state2: Arc<dyn StateStore> = server.engine.state.clone();
    wait_for(Duration::from_secs(20), "a second execution", || {
        let state = state2.clone();
        async move { (executions(state.as_ref(), "company.team", "watch_files").await.len() == 2).then_some(()) }
    })
    .await;
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
