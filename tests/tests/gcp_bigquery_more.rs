//! The BigQuery tasks beyond the first set. On bqemulator
//! (`e2e::emulators`): Copy, TableMetadata (ERROR / SKIP), UpdateTable, a
//! CSV ExtractToGcs landing in the bucket's folder, and UpdateDataset (its
//! settings read back from bqemulator; ACL checked at validation). Against a local fake
//! of BigQuery's REST API: ExtractToGcs' `jobs.insert` request with every
//! option, in the field names of Google's BigQuery v2 discovery document
//! (`JobConfigurationExtract`), and its `fileCounts` from the job's
//! statistics — what bqemulator ignores.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::post;
use e2e::emulators::emulators;
use serde_json::{Value, json};
use shared::model::{Execution, StateType};
use shared::plugins::PluginConfig;
use shared::plugins::gcp::GcpConfig;

use crate::support::{Harness, harness_with_plugins, runs};

fn harness_on(storage: Option<&str>, bigquery: &str) -> Harness {
    harness_with_plugins(PluginConfig { gcp: GcpConfig::emulators(storage, Some(bigquery)), ..PluginConfig::default() })
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

fn output(e: &Execution, task: &str) -> Value {
    let r = runs(e, task);
    assert!(!r.is_empty(), "task {task} did not run: {:?}", e.error);
    Value::Object(r[0].outputs.as_deref().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_metadata_update_and_extract_on_bqemulator() {
    let emu = emulators();
    let h = harness_on(Some(&emu.storage_host), &emu.bigquery_host);
    let (ds, bucket) = (unique("ds_"), unique("ex-"));
    let yaml = format!(
        r#"
id: bq_more
namespace: test.gcp
tasks:
  - id: dataset
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    name: {ds}
  - id: src
    type: io.kestra.plugin.gcp.bigquery.Query
    sql: CREATE TABLE {ds}.src AS SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y'
  - id: copy
    type: io.kestra.plugin.gcp.bigquery.Copy
    sourceTables:
      - {ds}.src
    destinationTable: test-proj.{ds}.dst
    writeDisposition: WRITE_TRUNCATE
    operationType: COPY
  - id: count
    type: io.kestra.plugin.gcp.bigquery.Query
    fetchOne: true
    sql: SELECT COUNT(*) AS n, SUM(a) AS s FROM {ds}.dst
  - id: meta
    type: io.kestra.plugin.gcp.bigquery.TableMetadata
    dataset: {ds}
    table: dst
  - id: missing
    type: io.kestra.plugin.gcp.bigquery.TableMetadata
    dataset: {ds}
    table: nope
    ifNotExists: SKIP
  - id: update
    type: io.kestra.plugin.gcp.bigquery.UpdateTable
    dataset: {ds}
    table: dst
    friendlyName: Destination
    labels:
      team: data
  - id: bucket
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    name: {bucket}
  - id: extract
    type: io.kestra.plugin.gcp.bigquery.ExtractToGcs
    sourceTable: {ds}.dst
    destinationUris:
      - gs://{bucket}/dst.csv
    format: CSV
    printHeader: true
  - id: missing_error
    type: io.kestra.plugin.gcp.bigquery.TableMetadata
    dataset: {ds}
    table: nope
    allowFailure: true
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      projectId: test-proj
"#
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Warning, "{:?}", e.error);
    assert!(output(&e, "copy")["jobId"].as_str().is_some_and(|j| !j.is_empty()));
    assert_eq!(output(&e, "count")["row"], json!({"n": 2, "s": 3}));
    let meta = output(&e, "meta");
    assert_eq!((meta["datasetId"].clone(), meta["table"].clone()), (json!(ds), json!("dst")));
    assert_eq!(meta["numRows"], json!(2));
    assert_eq!(meta["definition"]["schema"]["fields"][1]["name"], json!("b"));
    assert_eq!(output(&e, "missing"), json!({}));
    let up = output(&e, "update");
    assert_eq!((up["friendlyName"].clone(), up["labels"].clone()), (json!("Destination"), json!({"team": "data"})));
    let ex = output(&e, "extract");
    assert_eq!(ex["sourceTable"], json!("dst"));
    assert_eq!(ex["destinationUris"], json!([format!("gs://{bucket}/dst.csv")]));
    let csv = std::fs::read_to_string(emu.gcs_root.join(&bucket).join("dst.csv")).expect("the extracted file");
    let mut lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.remove(0), "a,b");
    lines.sort();
    assert_eq!(lines, ["1,x", "2,y"]);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains(&format!("Unable to find table 'test-proj:{ds}.nope'")), "{logs}");
}

/// UpdateDataset patches what it is given onto an existing dataset (the
/// task's `description` is the dataset's, as in Kestra), read back from
/// bqemulator; a missing dataset fails naming it; a bad `acl` entry or
/// `defaultEncryptionConfiguration` is a validation error naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_dataset_patches_its_settings_on_bqemulator() {
    let emu = emulators();
    let h = harness_on(None, &emu.bigquery_host);
    let ds = unique("ds_");
    let yaml = format!(
        r#"
id: bq_update_dataset
namespace: test.gcp
tasks:
  - id: create
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    name: {ds}
    location: EU
    friendlyName: First name
  - id: update
    type: io.kestra.plugin.gcp.bigquery.UpdateDataset
    description: Taxi trips, by month
    name: {ds}
    friendlyName: "{{{{ flow.id }}}} data"
    labels:
      team: data
    defaultTableLifetime: 7200000
    acl:
      - entity:
          type: USER
          value: ana@example.com
        role: READER
      - entity:
          type: IAM_MEMBER
          value: serviceAccount:etl@test-proj.iam.gserviceaccount.com
        role: WRITER
  - id: missing
    type: io.kestra.plugin.gcp.bigquery.UpdateDataset
    name: {ds}_nope
    friendlyName: nobody
    allowFailure: true
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      projectId: test-proj
"#
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Warning, "{:?}", e.error);
    assert_eq!(
        output(&e, "update"),
        json!({"dataset": ds, "project": "test-proj", "friendlyName": "bq_update_dataset data",
               "description": "Taxi trips, by month", "location": "EU"})
    );
    let url = format!("http://{}/bigquery/v2/projects/test-proj/datasets/{ds}", emu.bigquery_host);
    let got: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(got["labels"], json!({"team": "data"}));
    assert_eq!(got["defaultTableExpirationMs"], json!("7200000"));
    let access = got["access"].as_array().expect("the access list");
    assert!(access.iter().any(|a| a["userByEmail"] == "ana@example.com" && a["role"] == "READER"), "{access:?}");
    assert!(
        access
            .iter()
            .any(|a| a["iamMember"] == "serviceAccount:etl@test-proj.iam.gserviceaccount.com" && a["role"] == "WRITER"),
        "{access:?}"
    );
    assert_eq!(runs(&e, "missing")[0].state.current, StateType::Warning, "allowFailure: the failed task ends WARNING");
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains(&format!("{ds}_nope")), "{logs}");

    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    for (extra, named) in [
        ("acl:\n      - entity: {type: USER, value: a@b.c}\n        role: ADMIN\n", "acl[0].role 'ADMIN'"),
        ("acl:\n      - entity: {type: ROBOT, value: a}\n        role: READER\n", "acl[0].entity.type 'ROBOT'"),
        ("defaultEncryptionConfiguration:\n      keyName: k\n", "defaultEncryptionConfiguration"),
    ] {
        let flow = format!(
            "id: v\nnamespace: test.gcp\ntasks:\n  - id: u\n    type: io.kestra.plugin.gcp.bigquery.UpdateDataset\n    name: d\n    {extra}"
        );
        let r = shared::validate::validate_source_with(
            "v.yaml",
            &flow,
            &registry,
            &renderer,
            shared::dialect::Policy::AUTO,
        );
        let shown: Vec<String> = r.diagnostics.iter().map(|d| d.to_string()).collect();
        assert!(shown.iter().any(|d| d.contains(named)), "{named}: {shown:#?}");
    }
}

/// A fake of BigQuery's `jobs.insert` keeping each request; every job is
/// DONE at once, with extract statistics.
async fn fake_bigquery() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    async fn insert(
        State(seen): State<Arc<Mutex<Vec<Value>>>>,
        Path(project): Path<String>,
        Json(job): Json<Value>,
    ) -> Json<Value> {
        seen.lock().unwrap().push(job.clone());
        let mut reference = job["jobReference"].clone();
        reference["projectId"] = json!(project);
        reference["location"] = json!("EU");
        Json(json!({
            "kind": "bigquery#job",
            "id": format!("{project}:EU.{}", reference["jobId"].as_str().unwrap_or_default()),
            "jobReference": reference,
            "configuration": job["configuration"],
            "status": {"state": "DONE"},
            "statistics": {"creationTime": "1000", "startTime": "1000", "endTime": "1250",
                           "extract": {"destinationUriFileCounts": ["3", "1"]}},
        }))
    }
    let app = axum::Router::new().route("/bigquery/v2/projects/{project}/jobs", post(insert)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr.to_string(), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_sends_google_s_job_shape_and_reports_file_counts() {
    let (host, seen) = fake_bigquery().await;
    let h = harness_on(None, &host);
    let yaml = r#"
id: extract
namespace: test.gcp
tasks:
  - id: extract
    type: io.kestra.plugin.gcp.bigquery.ExtractToGcs
    projectId: proj-a
    location: EU
    sourceTable: other-proj.sales.orders$20240101
    destinationUris:
      - gs://exports/orders-*.csv.gz
      - gs://exports/copy/orders.csv.gz
    format: csv
    fieldDelimiter: ";"
    printHeader: false
    compression: GZIP
    useAvroLogicalTypes: true
    jobTimeoutMs: 60000
    labels:
      team: sales
"#;
    let e = h.run(yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = output(&e, "extract");
    assert_eq!(out["fileCounts"], json!([3, 1]));
    assert_eq!(out["sourceTable"], json!("orders$20240101"));
    assert!(out["jobId"].as_str().unwrap().starts_with("baton_extract_"));
    let jobs = seen.lock().unwrap().clone();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job["jobReference"]["projectId"], json!("proj-a"));
    assert_eq!(job["jobReference"]["location"], json!("EU"));
    let c = &job["configuration"];
    assert_eq!(
        c["extract"],
        json!({
            "sourceTable": {"projectId": "other-proj", "datasetId": "sales", "tableId": "orders$20240101"},
            "destinationUris": ["gs://exports/orders-*.csv.gz", "gs://exports/copy/orders.csv.gz"],
            "destinationFormat": "CSV",
            "compression": "GZIP",
            "fieldDelimiter": ";",
            "printHeader": false,
            "useAvroLogicalTypes": true,
        })
    );
    assert_eq!(c["jobTimeoutMs"], json!("60000"));
    assert_eq!(c["labels"]["team"], json!("sales"));
    assert_eq!(c["labels"]["kestra_flow_id"], json!("extract"));
}
