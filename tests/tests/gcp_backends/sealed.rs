//! Issue 53 on Google Cloud: no SECRET input in clear. A flow with a
//! `SECRET` input (logged, checked by a template and by a script, written
//! to an output file) runs on Firestore, GCS and
//! Pub/Sub (`engine::start`); then every Firestore document of the project
//! (walked through the emulator's REST API, compressed chunks inflated),
//! every object of the bucket and every message published on the topics (a
//! tap subscription on each) is read, and the clear value is in none of
//! them — while the tasks got it (the checks pass) and a plain value
//! written beside it is found (the sweep reads what it should). Without
//! `BATON_SEAL_KEY` such an execution is refused, naming the setting.
//! A rotation (`BATON_SEAL_KEY_PREVIOUS`) keeps what was sealed before it
//! readable, and only with the previous key.

use std::io::Read;

use base64::Engine as _;
use serde_json::{Value, json};
use shared::backend::gcp::{self, GcpBackends};
use shared::backend::{StateStore, Storage};
use shared::model::StateType;
use shared::runtime::launcher::{self, LaunchRequest};
use tokio::io::AsyncReadExt;

use super::engine::{flow, start};
use e2e::gcp_emulators::{gcp_config, gcp_emulators, gcp_engine};

const SECRET: &str = "Tr0ub4dor-gcp-9x7q";
/// Written beside the secret: stays in clear.
const PLAIN: &str = "plain-gcp-visible";

/// The flows never hold the value itself: their checks build it from two halves.
const PARENT: &str = r#"
id: sealed_parent
namespace: test.gcp
inputs:
  - id: pw
    type: SECRET
  - id: plain
    type: STRING
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "pw={{ inputs.pw }} plain={{ inputs.plain }}"
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.pw != ('Tr0ub4dor' ~ '-gcp-9x7q') }}"
    errorMessage: "the task did not get the SECRET input's value"
  - id: size
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.pw | length }}"
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles:
      - out.txt
    commands:
      - echo "file={{ inputs.pw }} {{ inputs.plain }}" > out.txt
      - echo "stdout={{ inputs.pw }}"
      - test "{{ inputs.pw }}" = "Tr0ub4dor-gcp""-9x7q"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_secret_input_is_in_clear_in_no_firestore_document_gcs_object_or_pubsub_message() {
    let rt = start("sealed").await;
    let http = reqwest::Client::new();
    let project = rt.backends.config.project.clone();
    let taps = tap_every_topic(&http, &project).await;
    let parent = rt.run(PARENT, json!({"pw": SECRET, "plain": PLAIN})).await;

    // the tasks got the value: the checks passed, the length is its length
    assert_eq!(parent.state.current, StateType::Success, "{:?} {:?}", parent.error, parent.task_run_list);
    let size = parent.task_run_list.iter().find(|t| t.task_id == "size").and_then(|t| t.outputs.clone());
    assert_eq!(size.map(|o| o["value"].clone()), Some(json!(SECRET.len().to_string())));
    // the store opens it for the engine
    assert_eq!(parent.inputs["pw"], json!(SECRET));
    let logs: Vec<String> =
        rt.backends.state.logs(&parent.id).await.expect("logs").into_iter().map(|l| l.message).collect();
    assert!(logs.iter().any(|m| m == &format!("pw=****** plain={PLAIN}")), "{logs:?}");

    // every Firestore document
    let docs = firestore_documents(&http, &project).await;
    let holding = |needle: &str| -> Vec<&String> {
        docs.iter().filter(|(_, text)| text.contains(needle)).map(|(name, _)| name).collect()
    };
    assert!(docs.len() >= 10, "the walk reads the project's documents: {:?}", docs.keys());
    assert_eq!(holding(SECRET), Vec::<&String>::new(), "the SECRET input in clear in Firestore");
    assert!(!holding(PLAIN).is_empty(), "the plain value beside it is stored");
    let sealed = holding("$sealed");
    let id = &parent.id;
    assert!(sealed.iter().any(|n| n.ends_with(&format!("executions/{id}"))), "{id} holds it sealed: {sealed:?}");

    // every object of the bucket
    let mut objects = 0;
    let mut plain_files = 0;
    for path in rt.backends.storage.list("/").await.expect("list the bucket") {
        let mut body = Vec::new();
        let mut r = rt.backends.storage.get(&path).await.expect("get");
        r.read_to_end(&mut body).await.expect("read");
        objects += 1;
        assert!(!contains(&body, SECRET.as_bytes()), "the SECRET input in clear in gs://…{path}");
        plain_files += usize::from(contains(&body, PLAIN.as_bytes()));
    }
    assert!(plain_files >= 1, "out.txt holds the plain value ({objects} objects read)");

    // every message published
    let messages = drain(&http, &project, &taps).await;
    let sealed_jobs = messages.iter().filter(|m| contains(m, b"$sealed")).count();
    assert!(messages.len() >= 10 && sealed_jobs >= 4, "{} messages, {sealed_jobs} with a sealed input", messages.len());
    for m in &messages {
        assert!(
            !contains(m, SECRET.as_bytes()),
            "the SECRET input in clear on Pub/Sub: {}",
            String::from_utf8_lossy(m)
        );
    }
    eprintln!(
        "sealed on GCP: {} Firestore documents, {objects} objects, {} messages ({sealed_jobs} jobs with a sealed input) read; none holds the value",
        docs.len(),
        messages.len()
    );
}

/// Without `BATON_SEAL_KEY`: a SECRET input is refused at launch, naming
/// the setting, and nothing is stored; a flow without one still runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_seal_key_an_execution_with_a_secret_input_is_refused_naming_the_setting() {
    let mut config = gcp_config("nokey");
    config.seal_key = None;
    let b = GcpBackends::from_config(config).await.expect("backends");
    b.storage.ensure_bucket(&b.config.project).await.expect("bucket");
    let engine = gcp_engine(&b);
    let parent = flow(&engine, PARENT);
    let req = LaunchRequest {
        inputs: json!({"pw": SECRET, "plain": PLAIN}).as_object().cloned().unwrap_or_default(),
        ..LaunchRequest::default()
    };
    let err = launcher::launch(&engine, &parent, req).await.expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("BATON_SEAL_KEY is not set") && text.contains("'pw'"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    let docs = firestore_documents(&reqwest::Client::new(), &b.config.project).await;
    assert!(docs.values().all(|d| !d.contains(SECRET)), "{docs:?}");
    // a flow without a SECRET input needs no key
    let admin = gcp::PubSubAdmin::connect(b.config.pubsub_target()).await.expect("Pub/Sub admin");
    admin.ensure_topic(&shared::backend::Topic::Executions).await.expect("topic");
    let plain = flow(
        &engine,
        "id: plain\nnamespace: test.gcp\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    );
    launcher::launch(&engine, &plain, LaunchRequest::default()).await.expect("launched without a key");
}

/// Seal-key rotation on the Firestore emulator: an execution whose SECRET
/// input was sealed under key A is read in clear by a store opened with
/// `BATON_SEAL_KEY`=B and `BATON_SEAL_KEY_PREVIOUS`=A, which seals a new
/// one under B only; a store with B alone reads the old value as `******`,
/// and the job path (`open_inputs`, what a worker does before running a
/// task) fails naming the settings, never printing a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_sealed_before_a_rotation_opens_with_the_previous_key_and_not_without_it() {
    use shared::backend::seal::SealKey;
    let key = |byte: u8| {
        let text = base64::engine::general_purpose::STANDARD.encode([byte; 32]);
        (SealKey::parse(&text).expect("key"), text)
    };
    let ((a, a_text), (b, b_text)) = (key(0xA1), key(0xB2));
    let inputs = json!({"pw": SECRET, "plain": PLAIN}).as_object().cloned().unwrap_or_default();
    let base = gcp_config("rotate");
    let open = |current: &SealKey, previous: &[&SealKey]| {
        let mut c = base.clone();
        c.seal_key = Some(current.clone());
        c.previous_seal_keys = previous.iter().map(|k| (*k).clone()).collect();
        GcpBackends::from_config(c)
    };

    // before the rotation: sealed under A
    let before = open(&a, &[]).await.expect("backends under A");
    before.storage.ensure_bucket(&before.config.project).await.expect("bucket");
    let admin = gcp::PubSubAdmin::connect(before.config.pubsub_target()).await.expect("Pub/Sub admin");
    admin.ensure_topic(&shared::backend::Topic::Executions).await.expect("topic");
    let engine = gcp_engine(&before);
    let old = launcher::launch(
        &engine,
        &flow(&engine, PARENT),
        LaunchRequest { inputs: inputs.clone(), ..Default::default() },
    )
    .await
    .expect("launched under A");
    let sealer_a = before.state.sealer().expect("a sealer");
    let mut job_inputs = inputs.clone();
    sealer_a.seal_inputs(&old.id, &["pw".to_string()], &mut job_inputs).expect("a job sealed under A");
    drop(engine);

    // rotated: B seals, A still opens
    let rotated = open(&b, &[&a]).await.expect("backends under B, A previous");
    let read = rotated.state.load_execution(&old.id).await.expect("load").expect("the old execution");
    assert_eq!(read.inputs["pw"], json!(SECRET), "the value sealed under A opens with A as the previous key");
    let mut opened = job_inputs.clone();
    rotated.state.sealer().expect("a sealer").open_inputs(&old.id, &mut opened).expect("a job sealed under A opens");
    assert_eq!(opened["pw"], json!(SECRET));
    let engine = gcp_engine(&rotated);
    let new = launcher::launch(
        &engine,
        &flow(&engine, PARENT),
        LaunchRequest { inputs: inputs.clone(), ..Default::default() },
    )
    .await
    .expect("launched under B");
    drop(engine);

    // B alone: the new value opens, the old one does not, and says why
    let only_b = open(&b, &[]).await.expect("backends under B alone");
    let read = only_b.state.load_execution(&new.id).await.expect("load").expect("the new execution");
    assert_eq!(read.inputs["pw"], json!(SECRET), "a new value is sealed under B");
    let read = only_b.state.load_execution(&old.id).await.expect("load").expect("the old execution");
    assert_eq!(read.inputs["pw"], json!("******"), "under none of the keys it reads masked");
    let mut stuck = job_inputs.clone();
    let err = only_b.state.sealer().expect("a sealer").open_inputs(&old.id, &mut stuck).expect_err("no key opens it");
    let text = err.to_string();
    assert!(text.contains("BATON_SEAL_KEY") && text.contains("'pw'"), "the error names the setting: {text}");
    for secret in [SECRET, a_text.as_str(), b_text.as_str()] {
        assert!(!text.contains(secret), "the error prints a value or a key: {text}");
    }
    // A alone (the rotation undone): what B sealed is not readable
    let only_a = open(&a, &[]).await.expect("backends under A alone");
    let read = only_a.state.load_execution(&new.id).await.expect("load").expect("the new execution");
    assert_eq!(read.inputs["pw"], json!("******"), "the new value is sealed under B, not A");
    let docs = firestore_documents(&reqwest::Client::new(), &base.project).await;
    assert!(docs.values().all(|d| !d.contains(SECRET)), "the value in clear in Firestore");
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A document path for a URL: each segment percent-encoded (ids hold `:`).
fn url_path(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            seg.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn firestore_base(project: &str) -> String {
    format!("http://{}/v1/projects/{project}/databases/(default)/documents", gcp_emulators().firestore_host)
}

/// Every document of the project's database, by name: its REST JSON, and
/// the inflated text of each zlib-compressed bytes field (task-run chunks).
async fn firestore_documents(http: &reqwest::Client, project: &str) -> std::collections::BTreeMap<String, String> {
    let base = firestore_base(project);
    let mut out = std::collections::BTreeMap::new();
    // parents whose collections are still to list ("" is the root)
    let mut parents = vec![String::new()];
    let mut groups: std::collections::BTreeSet<String> = [
        gcp::EXECUTIONS,
        gcp::TASK_RUNS,
        gcp::CHUNKS,
        gcp::CLAIMS,
        gcp::FLOWS,
        gcp::LOGS,
        gcp::REVISIONS,
        gcp::KV,
        gcp::KEYS,
        gcp::METRICS,
        gcp::TICKS,
        gcp::TRIGGERS,
        gcp::BACKFILLS,
    ]
    .into_iter()
    .chain(gcp::RECORD_KINDS.iter().copied())
    .map(String::from)
    .collect();
    while let Some(parent) = parents.pop() {
        assert!(out.len() < 20_000, "the walk is bounded");
        let at = if parent.is_empty() { base.clone() } else { format!("{base}/{}", url_path(&parent)) };
        // the emulator refuses this for a document id holding `:` (flows):
        // the collection-group queries below read those collections
        let r = http
            .post(format!("{at}:listCollectionIds"))
            .bearer_auth("owner")
            .json(&json!({"pageSize": 1000}))
            .send()
            .await
            .expect("list collections");
        let ids: Value = if r.status().is_success() { r.json().await.expect("JSON") } else { Value::Null };
        for id in ids["collectionIds"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            groups.insert(id.to_string());
            let collection = if parent.is_empty() { id.to_string() } else { format!("{parent}/{id}") };
            let mut token = String::new();
            loop {
                let url = format!("{base}/{}?pageSize=300&showMissing=true&pageToken={token}", url_path(&collection));
                let page: Value = http
                    .get(url)
                    .bearer_auth("owner")
                    .send()
                    .await
                    .expect("list documents")
                    .json()
                    .await
                    .expect("JSON");
                for d in page["documents"].as_array().into_iter().flatten() {
                    let name = d["name"].as_str().unwrap_or_default().to_string();
                    let path = name.split("/documents/").nth(1).unwrap_or_default().to_string();
                    let mut text = d.to_string();
                    inflate_bytes(&d["fields"], &mut text);
                    parents.push(path.clone());
                    out.insert(path, text);
                }
                match page["nextPageToken"].as_str() {
                    Some(t) if !t.is_empty() => token = t.to_string(),
                    _ => break,
                }
            }
        }
    }
    // every collection, wherever it is (a collection-group query each)
    for group in groups {
        let query = json!({"structuredQuery": {"from": [{"collectionId": group, "allDescendants": true}]}});
        let found = post(http, &format!("{base}:runQuery"), query).await;
        for d in found.as_array().into_iter().flatten().filter_map(|r| r.get("document")) {
            let name = d["name"].as_str().unwrap_or_default();
            let path = name.split("/documents/").nth(1).unwrap_or_default().to_string();
            let mut text = d.to_string();
            inflate_bytes(&d["fields"], &mut text);
            out.insert(path, text);
        }
    }
    out
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let r = http.post(url).bearer_auth("owner").json(&body).send().await.expect("POST");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.expect("JSON")
}

/// Appends to `text` the inflated content of each `bytesValue` below `v`.
fn inflate_bytes(v: &Value, text: &mut String) {
    match v {
        Value::Object(m) => {
            if let Some(b) = m.get("bytesValue").and_then(Value::as_str)
                && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b)
            {
                let mut inflated = Vec::new();
                if flate2::read::ZlibDecoder::new(raw.as_slice()).read_to_end(&mut inflated).is_ok() {
                    text.push_str(&String::from_utf8_lossy(&inflated));
                }
                text.push_str(&String::from_utf8_lossy(&raw));
            }
            m.values().for_each(|x| inflate_bytes(x, text));
        }
        Value::Array(a) => a.iter().for_each(|x| inflate_bytes(x, text)),
        _ => {}
    }
}

fn pubsub_base(project: &str) -> String {
    format!("http://{}/v1/projects/{project}", gcp_emulators().pubsub_host)
}

/// A pull subscription on every topic of the project: what is published
/// from now on is kept there.
async fn tap_every_topic(http: &reqwest::Client, project: &str) -> Vec<String> {
    let base = pubsub_base(project);
    let topics: Value = http.get(format!("{base}/topics")).send().await.expect("topics").json().await.expect("JSON");
    let mut taps = Vec::new();
    for t in topics["topics"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()) {
        let name = format!("tap-{}", t.rsplit('/').next().unwrap_or_default());
        let r = http
            .put(format!("{base}/subscriptions/{name}"))
            .json(&json!({"topic": t, "ackDeadlineSeconds": 600}))
            .send()
            .await
            .expect("subscribe");
        assert!(r.status().is_success(), "tap on {t}: {}", r.status());
        taps.push(name);
    }
    assert!(taps.len() >= 2, "the executions and tasks topics: {topics}");
    taps
}

/// Every message waiting on the taps, decoded.
async fn drain(http: &reqwest::Client, project: &str, taps: &[String]) -> Vec<Vec<u8>> {
    let base = pubsub_base(project);
    let mut out = Vec::new();
    for tap in taps {
        loop {
            let url = format!("{base}/subscriptions/{tap}:pull");
            let got = post(http, &url, json!({"maxMessages": 1000, "returnImmediately": true})).await;
            let received = got["receivedMessages"].as_array().cloned().unwrap_or_default();
            if received.is_empty() {
                break;
            }
            let mut acks = Vec::new();
            for m in &received {
                let data = m["message"]["data"].as_str().unwrap_or_default();
                out.push(base64::engine::general_purpose::STANDARD.decode(data).expect("base64 data"));
                acks.push(m["ackId"].clone());
            }
            post(http, &format!("{base}/subscriptions/{tap}:acknowledge"), json!({"ackIds": acks})).await;
            assert!(out.len() < 100_000, "the drain is bounded");
        }
    }
    out
}
