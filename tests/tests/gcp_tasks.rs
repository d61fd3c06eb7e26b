//! The GCS and BigQuery tasks end to end against the offline emulators
//! (`e2e::emulators`: fake-gcs-server with a filesystem backend and
//! bqemulator reading load sources from the same folder): every GCS task,
//! `ifExists` SKIP/ERROR, a 64 MB streamed upload, Load + Query with the
//! fetch types, SQL errors with their location, bad service-account keys,
//! pluginDefaults on the `io.kestra.plugin.gcp` prefix, and the zoomcamp's
//! `05_gcp_setup` + `06_gcp_taxi` on generated taxi data, and
//! `examples/baywheels_gcp.yaml` on a generated zipped month.
//!
//! Where the emulators are not BigQuery: bqemulator turns `CREATE EXTERNAL
//! TABLE` into an empty native table, so the taxi and Bay Wheels tests load
//! the month's file into that table with a `LoadFromGcs` task (the flows
//! are otherwise the seed's and the example's); and it formats NUMERIC
//! with DuckDB's scale, so no hash here covers a NUMERIC column (the
//! seed's `unique_row_id` does not).

use std::path::{Path, PathBuf};

use e2e::emulators::{Emulators, emulators};
use e2e::taxi::{self, Kind};
use e2e::{http, zoomcamp};
use serde_json::{Value, json};
use shared::model::{Execution, StateType};
use shared::plugins::PluginConfig;
use shared::plugins::gcp::GcpConfig;

use crate::support::{Harness, harness_with_plugins, runs};

fn harness() -> (Harness, &'static Emulators) {
    let emu = emulators();
    let plugins = PluginConfig {
        gcp: GcpConfig::emulators(Some(&emu.storage_host), Some(&emu.bigquery_host)),
        ..PluginConfig::default()
    };
    (harness_with_plugins(plugins), emu)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

fn output(e: &Execution, task: &str) -> Value {
    let r = runs(e, task);
    assert!(!r.is_empty(), "task {task} did not run: {:?}", e.error);
    Value::Object(r[0].outputs.clone().unwrap_or_default())
}

fn assert_success(e: &Execution) {
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
}

/// A folder served over HTTP, for tasks that download their input.
fn served(files: &[(&str, &[u8])]) -> (PathBuf, String) {
    let root = std::env::temp_dir().join(unique("baton-gcp-src-"));
    std::fs::create_dir_all(&root).unwrap();
    for (name, data) in files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let base = http::serve_dir(&root);
    (root, base)
}

const DEFAULTS: &str = r#"
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      projectId: test-proj
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_gcs_task_against_fake_gcs() {
    let (h, emu) = harness();
    let bucket = unique("b-");
    let csv = b"id,name\n1,a\n2,b\n".as_slice();
    let (root, base) = served(&[("a.csv", csv)]);
    let local = root.join("local.csv");
    std::fs::write(&local, b"local file\n").unwrap();
    let yaml = format!(
        r#"
id: gcs_all
namespace: test.gcp
tasks:
  - id: create
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    name: {bucket}
    storageClass: REGIONAL
    labels:
      team: data
  - id: create_again
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    name: {bucket}
    ifExists: SKIP
  - id: fetch
    type: io.kestra.plugin.core.http.Download
    uri: {base}/a.csv
  - id: upload
    type: io.kestra.plugin.gcp.gcs.Upload
    from: "{{{{ outputs.fetch.uri }}}}"
    to: gs://{bucket}/dir/a.csv
    contentType: text/csv
  - id: upload_local
    type: io.kestra.plugin.gcp.gcs.Upload
    from: {local}
    to: gs://{bucket}/dir/sub/
  - id: list
    type: io.kestra.plugin.gcp.gcs.List
    from: gs://{bucket}/dir/
  - id: list_files
    type: io.kestra.plugin.gcp.gcs.List
    from: gs://{bucket}/dir/
    listingType: RECURSIVE
    filter: FILES
    regExp: ".*\\.csv"
  - id: copy
    type: io.kestra.plugin.gcp.gcs.Copy
    from: gs://{bucket}/dir/a.csv
    to: gs://{bucket}/copy/a.csv
  - id: download
    type: io.kestra.plugin.gcp.gcs.Download
    from: gs://{bucket}/copy/a.csv
  - id: delete
    type: io.kestra.plugin.gcp.gcs.Delete
    uri: gs://{bucket}/copy/a.csv
  - id: delete_again
    type: io.kestra.plugin.gcp.gcs.Delete
    uri: gs://{bucket}/copy/a.csv
  - id: delete_list
    type: io.kestra.plugin.gcp.gcs.DeleteList
    from: gs://{bucket}/dir/
    listingType: RECURSIVE
    concurrent: 2
  - id: delete_bucket
    type: io.kestra.plugin.gcp.gcs.DeleteBucket
    name: {bucket}
{DEFAULTS}"#,
        local = local.display()
    );
    let e = h.run(&yaml, json!({})).await;
    assert_success(&e);

    let created = output(&e, "create");
    assert_eq!(created["bucket"]["name"], json!(bucket));
    assert_eq!(created["bucket"]["uri"], json!(format!("gs://{bucket}")));
    assert_eq!((created["created"].clone(), created["updated"].clone()), (json!(true), json!(false)));
    let again = output(&e, "create_again");
    assert_eq!((again["created"].clone(), again["updated"].clone()), (json!(false), json!(false)));

    let up = output(&e, "upload");
    assert_eq!(up["uri"], json!(format!("gs://{bucket}/dir/a.csv")));
    assert!(up["md5"].is_string() && up["crc32c"].is_string(), "{up}");
    assert_eq!(output(&e, "upload_local")["uri"], json!(format!("gs://{bucket}/dir/sub/local.csv")));

    // One level: the file and the "sub/" directory.
    let blobs = output(&e, "list")["blobs"].as_array().unwrap().clone();
    let names: Vec<(&str, bool)> =
        blobs.iter().map(|b| (b["name"].as_str().unwrap(), b["directory"].as_bool().unwrap())).collect();
    assert_eq!(names, [("dir/a.csv", false), ("dir/sub/", true)]);
    assert_eq!(blobs[0]["size"], json!(csv.len()));
    // (fake-gcs-server takes a single-shot upload's content type from the
    // media part, not from the metadata Google reads; the 64 MB test checks
    // it on a resumable upload.)
    assert_eq!(blobs[0]["uri"], json!(format!("gs://{bucket}/dir/a.csv")));
    let files = output(&e, "list_files")["blobs"].as_array().unwrap().clone();
    let names: Vec<&str> = files.iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["dir/a.csv", "dir/sub/local.csv"]);

    assert_eq!(output(&e, "copy")["uri"], json!(format!("gs://{bucket}/copy/a.csv")));
    let dl = output(&e, "download");
    assert_eq!((dl["bucket"].clone(), dl["path"].clone()), (json!(bucket), json!("copy/a.csv")));
    assert_eq!(h.read_storage(dl["uri"].as_str().unwrap()).await, csv);
    assert!(dl["uri"].as_str().unwrap().ends_with("/a.csv"));

    assert_eq!(output(&e, "delete")["deleted"], json!(true));
    assert_eq!(output(&e, "delete_again")["deleted"], json!(false));
    let dl = output(&e, "delete_list");
    assert_eq!((dl["count"].clone(), dl["size"].clone()), (json!(2), json!(csv.len() + 11)));
    assert_eq!(output(&e, "delete_bucket")["bucketUri"], json!(format!("gs://{bucket}")));
    assert!(!emu.gcs_root.join(&bucket).exists(), "the bucket is gone from the emulator's folder");
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_things_fail_with_kestras_messages() {
    let (h, _) = harness();
    let bucket = unique("b-");
    let yaml = format!(
        r#"
id: gcs_errors
namespace: test.gcp
tasks:
  - id: create
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    name: {bucket}
  - id: create_again
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    name: {bucket}
    allowFailure: true
  - id: missing
    type: io.kestra.plugin.gcp.gcs.Delete
    uri: gs://{bucket}/nothing.csv
    errorOnMissing: true
    allowFailure: true
  - id: download_missing
    type: io.kestra.plugin.gcp.gcs.Download
    from: gs://{bucket}/nothing.csv
    allowFailure: true
  - id: empty_list
    type: io.kestra.plugin.gcp.gcs.DeleteList
    from: gs://{bucket}/nothing/
    errorOnEmpty: true
    allowFailure: true
{DEFAULTS}"#
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Warning, "{:?}", e.error);
    let logs = h.logs(&e.id).await.join("\n");
    for expected in [
        format!("Bucket {bucket} already exists and ifExists policy is set to ERROR !"),
        format!("Unable to find file 'gs://{bucket}/nothing.csv'"),
        format!("Unable to find blob on bucket '{bucket}' with path 'nothing.csv'"),
        format!("Unable to find any files to delete on 'gs://{bucket}/nothing/'"),
    ] {
        assert!(logs.contains(&expected), "missing {expected:?} in:\n{logs}");
    }
}

/// A file of `len` deterministic, incompressible-looking bytes.
fn big_file(path: &Path, len: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut left = len;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_le_bytes();
            chunk.copy_from_slice(&b[..chunk.len()]);
        }
        let n = left.min(buf.len());
        f.write_all(&buf[..n]).unwrap();
        left -= n;
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (mut fa, mut fb) = (std::fs::File::open(a).unwrap(), std::fs::File::open(b).unwrap());
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na = fa.read(&mut ba).unwrap();
        let mut nb = 0;
        while nb < na {
            let n = fb.read(&mut bb[nb..na]).unwrap();
            if n == 0 {
                return false;
            }
            nb += n;
        }
        if na == 0 {
            return fb.read(&mut bb).unwrap() == 0;
        }
        if ba[..na] != bb[..na] {
            return false;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mb_upload_is_streamed_intact() {
    let (h, emu) = harness();
    let bucket = unique("big-");
    let (root, base) = served(&[]);
    let src = root.join("big.bin");
    big_file(&src, 64 * 1024 * 1024 + 12345);
    let yaml = format!(
        r#"
id: gcs_big
namespace: test.gcp
tasks:
  - id: create
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    name: {bucket}
  - id: fetch
    type: io.kestra.plugin.core.http.Download
    uri: {base}/big.bin
  - id: upload
    type: io.kestra.plugin.gcp.gcs.Upload
    from: "{{{{ outputs.fetch.uri }}}}"
    to: gs://{bucket}/big/big.bin
    contentType: application/x-baton-test
  - id: list
    type: io.kestra.plugin.gcp.gcs.List
    from: gs://{bucket}/big/
  - id: download
    type: io.kestra.plugin.gcp.gcs.Download
    from: gs://{bucket}/big/big.bin
{DEFAULTS}"#
    );
    let e = h.run(&yaml, json!({})).await;
    assert_success(&e);
    // What the emulator stored, and what came back, are the source's bytes.
    assert!(same_file(&src, &emu.gcs_root.join(&bucket).join("big/big.bin")), "stored object differs");
    let blob = output(&e, "list")["blobs"][0].clone();
    assert_eq!(blob["size"], json!(64 * 1024 * 1024 + 12345));
    // (fake-gcs-server ignores the content type of resumable uploads too:
    // it stores application/octet-stream whatever the client sends.)
    let back = h.read_storage(output(&e, "download")["uri"].as_str().unwrap()).await;
    assert!(back == std::fs::read(&src).unwrap(), "the downloaded object differs");
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_then_query_with_every_fetch_type() {
    let (h, _) = harness();
    let dataset = unique("ds_");
    let bucket = unique("lake-");
    let csv = b"id,name,amount,ts\n1,alpha,1.5,2024-01-02 03:04:05\n2,beta,,2024-02-03 04:05:06\n3,gamma,7,2024-03-04 05:06:07\n";
    let (root, base) = served(&[("trips.csv", csv.as_slice())]);
    let yaml = format!(
        r#"
id: bq_load_query
namespace: test.gcp
tasks:
  - id: dataset
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    name: {dataset}
    location: EU
    friendlyName: Test data
  - id: dataset_again
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    name: {dataset}
    ifExists: SKIP
  - id: fetch
    type: io.kestra.plugin.core.http.Download
    uri: {base}/trips.csv
  - id: load
    type: io.kestra.plugin.gcp.bigquery.Load
    from: "{{{{ outputs.fetch.uri }}}}"
    destinationTable: {dataset}.trips
    format: CSV
    csvOptions:
      skipLeadingRows: 1
    schema:
      fields:
        - name: id
          type: INT64
        - name: name
          type: STRING
        - name: amount
          type: FLOAT64
        - name: ts
          type: TIMESTAMP
  - id: bucket
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    name: {bucket}
  - id: upload
    type: io.kestra.plugin.gcp.gcs.Upload
    from: "{{{{ outputs.fetch.uri }}}}"
    to: gs://{bucket}/in/trips.csv
  - id: load_gcs
    type: io.kestra.plugin.gcp.bigquery.LoadFromGcs
    from:
      - "{{{{ outputs.upload.uri }}}}"
    destinationTable: test-proj.{dataset}.trips
    writeDisposition: WRITE_APPEND
    csvOptions:
      skipLeadingRows: 1
  - id: fetch_all
    type: io.kestra.plugin.gcp.bigquery.Query
    fetchType: FETCH
    sql: SELECT id, name, amount, ts FROM {dataset}.trips ORDER BY id, name LIMIT 3
  - id: fetch_one
    type: io.kestra.plugin.gcp.bigquery.Query
    fetchOne: true
    sql: SELECT COUNT(*) AS n, SUM(id) AS total FROM `test-proj.{dataset}.trips`
  - id: store
    type: io.kestra.plugin.gcp.bigquery.Query
    fetchType: STORE
    sql: SELECT id FROM {dataset}.trips ORDER BY id
  - id: table
    type: io.kestra.plugin.gcp.bigquery.CreateTable
    dataset: {dataset}
    table: events
    friendlyName: Events
    tableDefinition:
      type: TABLE
      schema:
        fields:
          - name: id
            type: INT64
            mode: REQUIRED
          - name: day
            type: DATE
      standardTableDefinition:
        timePartitioning:
          type: DAY
          field: day
  - id: ctas
    type: io.kestra.plugin.gcp.bigquery.Query
    sql: CREATE TABLE {dataset}.copy AS SELECT * FROM {dataset}.trips
  - id: drop
    type: io.kestra.plugin.gcp.bigquery.DeleteTable
    dataset: {dataset}
    table: copy
  - id: cleanup
    type: io.kestra.plugin.gcp.bigquery.DeleteDataset
    name: {dataset}
    deleteContents: true
{DEFAULTS}"#
    );
    let e = h.run(&yaml, json!({})).await;
    assert_success(&e);
    let ds = output(&e, "dataset");
    assert_eq!(ds, json!({"dataset": dataset, "project": "test-proj", "friendlyName": "Test data", "location": "EU"}));
    assert_eq!(output(&e, "dataset_again")["dataset"], json!(dataset));
    let load = output(&e, "load");
    assert_eq!(load["rows"], json!(3));
    assert_eq!(load["destinationTable"], json!(format!("test-proj.{dataset}.trips")));
    // (bqemulator names upload jobs itself; BigQuery keeps Baton's `baton_load_…` id.)
    assert!(!load["jobId"].as_str().unwrap().is_empty());
    // (bqemulator reports the table's row count as an appending job's
    // outputRows; BigQuery reports the rows the job loaded. The COUNT below
    // shows the 3 appended rows.)
    assert!(output(&e, "load_gcs")["rows"].as_i64().unwrap() >= 3);

    let all = output(&e, "fetch_all");
    assert_eq!(all["size"], json!(3));
    assert_eq!(
        all["rows"],
        json!([
            {"id": 1, "name": "alpha", "amount": 1.5, "ts": "2024-01-02T03:04:05Z"},
            {"id": 1, "name": "alpha", "amount": 1.5, "ts": "2024-01-02T03:04:05Z"},
            {"id": 2, "name": "beta", "amount": null, "ts": "2024-02-03T04:05:06Z"}
        ])
    );
    assert!(all["jobId"].is_string());
    let one = output(&e, "fetch_one");
    assert_eq!(one["row"], json!({"n": 6, "total": 12}));
    assert_eq!(one["size"], json!(1));
    let store = output(&e, "store");
    assert_eq!(store["size"], json!(6));
    let ion = String::from_utf8(h.read_storage(store["uri"].as_str().unwrap()).await).unwrap();
    assert_eq!(
        ion.lines().collect::<Vec<_>>(),
        ["{\"id\":1}", "{\"id\":1}", "{\"id\":2}", "{\"id\":2}", "{\"id\":3}", "{\"id\":3}"]
    );
    let table = output(&e, "table");
    assert_eq!((table["projectId"].clone(), table["table"].clone()), (json!("test-proj"), json!("events")));
    assert_eq!(table["friendlyName"], json!("Events"));
    let fields = &table["definition"]["schema"]["fields"];
    assert_eq!((fields[0]["name"].clone(), fields[0]["mode"].clone()), (json!("id"), json!("REQUIRED")));
    assert_eq!(fields[1]["type"], json!("DATE"));
    let ctas = output(&e, "ctas");
    assert!(ctas.get("rows").is_none() && ctas.get("uri").is_none(), "{ctas}");
    assert_eq!(output(&e, "drop")["table"], json!("copy"));
    assert_eq!(output(&e, "cleanup")["dataset"], json!(dataset));
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sql_error_says_where_it_is() {
    let (h, _) = harness();
    let yaml = format!(
        r#"
id: bq_error
namespace: test.gcp
tasks:
  - id: bad
    type: io.kestra.plugin.gcp.bigquery.Query
    sql: |
      SELECT 1 AS a,
        2 AS b
      FORM nowhere
{DEFAULTS}"#
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("BigQuery job 'baton_bad_"), "{logs}");
    assert!(logs.contains("(invalidQuery)"), "{logs}");
    // The position BigQuery gives, shown on the SQL line it names.
    assert!(logs.contains("at line 3, column "), "{logs}");
    assert!(logs.contains("  3 | FORM nowhere\n    | "), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_service_account_key_says_what_is_wrong_and_is_not_printed() {
    let (h, _) = harness();
    let secret = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7secret";
    let cases = [
        (json!({"type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com", "private_key": secret}).to_string(),
         "the service account key's 'private_key' is not a PEM private key"),
        (json!({"type": "authorized_user", "client_email": "x", "private_key": secret}).to_string(),
         "has type 'authorized_user', expected 'service_account'"),
        (json!({"type": "service_account", "private_key": format!("-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n")}).to_string(),
         "has no 'client_email'"),
        (format!("{{\"type\": \"service_account\", \"private_key\": \"{secret}"), "is not valid JSON"),
    ];
    for (key, expected) in cases {
        let yaml = r#"
id: bad_key
namespace: test.gcp
inputs:
  - id: key
    type: STRING
tasks:
  - id: query
    type: io.kestra.plugin.gcp.bigquery.Query
    serviceAccount: "{{ inputs.key }}"
    projectId: test-proj
    sql: SELECT 1
"#;
        let e = h.run(yaml, json!({"key": key})).await;
        assert_eq!(e.state.current, StateType::Failed);
        let error = e.error.clone().unwrap_or_default();
        let logs = h.logs(&e.id).await.join("\n");
        assert!(logs.contains("invalid property 'serviceAccount'") && logs.contains(expected), "{expected}: {logs}");
        assert!(!logs.contains("secret") && !error.contains("secret"), "key material printed: {logs}\n{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_defaults_apply_on_package_boundaries_only() {
    let (h, _) = harness();
    let dataset = unique("pd_");
    // `io.kestra.plugin.gc` is a string prefix of the task type but not a
    // package: its projectId must not be used (it comes first, so a naive
    // prefix match would win).
    let yaml = format!(
        r#"
id: defaults
namespace: test.gcp
tasks:
  - id: dataset
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    name: {dataset}
pluginDefaults:
  - type: io.kestra.plugin.gc
    values:
      projectId: wrong-project
  - type: io.kestra.plugin.gcp
    values:
      projectId: test-proj
      bucket: ignored-by-bigquery-tasks
"#
    );
    let e = h.run(&yaml, json!({})).await;
    assert_success(&e);
    assert_eq!(output(&e, "dataset")["project"], json!("test-proj"));
}

// ------------------------------------------------------------ zoomcamp ---

/// A structurally valid key (the emulators take no credentials, but the
/// tasks still check it, as they would with Google).
fn fake_key() -> String {
    json!({
        "type": "service_account", "project_id": "test-proj", "private_key_id": "k1",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----\n",
        "client_email": "zoomcamp@test-proj.iam.gserviceaccount.com"
    })
    .to_string()
}

/// The seed's `04_gcp_kv` with this test's values.
fn gcp_kv_flow(bucket: &str, dataset: &str) -> String {
    format!(
        r#"
id: 04_gcp_kv
namespace: zoomcamp
inputs:
  - id: creds
    type: STRING
tasks:
  - id: gcp_creds
    type: io.kestra.plugin.core.kv.Set
    key: GCP_CREDS
    kvType: STRING
    value: "{{{{ inputs.creds }}}}"
  - id: gcp_project_id
    type: io.kestra.plugin.core.kv.Set
    key: GCP_PROJECT_ID
    kvType: STRING
    value: test-proj
  - id: gcp_location
    type: io.kestra.plugin.core.kv.Set
    key: GCP_LOCATION
    kvType: STRING
    value: europe-west2
  - id: gcp_bucket_name
    type: io.kestra.plugin.core.kv.Set
    key: GCP_BUCKET_NAME
    kvType: STRING
    value: {bucket}
  - id: gcp_dataset
    type: io.kestra.plugin.core.kv.Set
    key: GCP_DATASET
    kvType: STRING
    value: {dataset}
"#
    )
}

/// The seed's `05_gcp_setup`, verbatim.
const GCP_SETUP: &str = r#"
id: 05_gcp_setup
namespace: zoomcamp

tasks:
  - id: create_gcs_bucket
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    ifExists: SKIP
    storageClass: REGIONAL
    name: "{{kv('GCP_BUCKET_NAME')}}" # make sure it's globally unique!

  - id: create_bq_dataset
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    name: "{{kv('GCP_DATASET')}}"
    ifExists: SKIP

pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      serviceAccount: "{{kv('GCP_CREDS')}}"
      projectId: "{{kv('GCP_PROJECT_ID')}}"
      location: "{{kv('GCP_LOCATION')}}"
      bucket: "{{kv('GCP_BUCKET_NAME')}}"
"#;

/// `examples/gcp_taxi.yaml` (the seed's `06_gcp_taxi`) downloading from
/// `base`, with one task added after each external-table task: a
/// `LoadFromGcs` of the month's file into that table, because bqemulator
/// creates external tables empty. Everything else is the seed's.
fn gcp_taxi_flow(base: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/gcp_taxi.yaml");
    let mut text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(text.matches("https://github.com/").count(), 1);
    text = text.replace("https://github.com/", &format!("{}/", base.trim_end_matches('/')));
    for kind in ["yellow", "green"] {
        let anchor = format!("      - id: bq_{kind}_table_tmp\n");
        assert_eq!(text.matches(&anchor).count(), 1, "{path} should have {anchor:?}");
        let load = format!(
            "      - id: bq_{kind}_table_ext_load\n\
             \x20       type: io.kestra.plugin.gcp.bigquery.LoadFromGcs\n\
             \x20       from:\n\
             \x20         - \"{{{{render(vars.gcs_file)}}}}\"\n\
             \x20       destinationTable: \"{{{{kv('GCP_PROJECT_ID')}}}}.{{{{render(vars.table)}}}}_ext\"\n\
             \x20       writeDisposition: WRITE_TRUNCATE\n\
             \x20       ignoreUnknownValues: true\n\
             \x20       csvOptions:\n\
             \x20         skipLeadingRows: 1\n\n"
        );
        text = text.replace(&anchor, &format!("{load}{anchor}"));
    }
    text
}

async fn count(h: &Harness, sql: &str) -> i64 {
    let yaml = format!(
        r#"
id: count
namespace: zoomcamp
tasks:
  - id: q
    type: io.kestra.plugin.gcp.bigquery.Query
    fetchOne: true
    sql: "{sql}"
{DEFAULTS}"#
    );
    let e = h.run(&yaml, json!({})).await;
    assert_success(&e);
    output(&e, "q")["row"]["n"].as_i64().unwrap_or_else(|| panic!("{sql}: {:?}", output(&e, "q")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zoomcamp_gcp_setup_and_taxi_flows() {
    let (h, emu) = harness();
    let (bucket, dataset) = (unique("zoomcamp-"), unique("zoomcamp_"));
    let root = std::env::temp_dir().join(unique("baton-gcp-taxi-"));
    let rows = 300;
    for kind in [Kind::Yellow, Kind::Green] {
        taxi::write_csv_gz(kind, 2019, 1, rows, &zoomcamp::asset_path(&root, kind, 2019, 1)).unwrap();
    }
    let base = http::serve_dir(&root);

    let e = h.run(&gcp_kv_flow(&bucket, &dataset), json!({"creds": fake_key()})).await;
    assert_success(&e);

    // 05_gcp_setup: created, then skipped the second time.
    let setup = h.flow(GCP_SETUP);
    let first = h.run_flow(&setup, json!({})).await;
    assert_success(&first);
    assert_eq!(output(&first, "create_gcs_bucket")["created"], json!(true));
    assert_eq!(output(&first, "create_bq_dataset")["location"], json!("europe-west2"));
    let second = h.run_flow(&setup, json!({})).await;
    assert_success(&second);
    assert_eq!(output(&second, "create_gcs_bucket")["created"], json!(false));
    assert_eq!(output(&second, "create_bq_dataset")["dataset"], json!(dataset));
    let logs = h.logs(&second.id).await.join("\n");
    assert!(logs.contains(&format!("Bucket '{bucket}' already exists, skipping")), "{logs}");
    assert!(logs.contains("already exists, skipping"), "{logs}");
    assert!(!logs.contains("MIIBVQ"), "the key is masked: {logs}");

    // 06_gcp_taxi on yellow, twice, then green.
    let taxi_flow = h.flow(&gcp_taxi_flow(&base));
    let inputs = json!({"taxi": "yellow", "year": "2019", "month": "01"});
    let run1 = h.run_flow(&taxi_flow, inputs.clone()).await;
    assert_success(&run1);
    assert_eq!(run1.labels_map()["file"], "yellow_tripdata_2019-01.csv");
    let file = "yellow_tripdata_2019-01.csv";
    assert_eq!(output(&run1, "upload_to_gcs")["uri"], json!(format!("gs://{bucket}/{file}")));
    assert!(emu.gcs_root.join(&bucket).join(file).exists(), "the CSV is in the bucket");
    assert_eq!(output(&run1, "bq_yellow_table_ext_load")["rows"], json!(rows));
    let main = format!("`test-proj.{dataset}.yellow_tripdata`");
    let month = format!("`test-proj.{dataset}.yellow_tripdata_2019_01`");
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {main}")).await, rows as i64);
    assert_eq!(count(&h, &format!("SELECT COUNT(DISTINCT unique_row_id) AS n FROM {main}")).await, rows as i64);
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {month} WHERE filename = '{file}'")).await, rows as i64);

    let run2 = h.run_flow(&taxi_flow, inputs).await;
    assert_success(&run2);
    let merge_logs = h.logs(&run2.id).await.join("\n");
    assert!(merge_logs.contains("0 rows affected"), "the second MERGE inserts nothing: {merge_logs}");
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {main}")).await, rows as i64);

    let green = h.run_flow(&taxi_flow, json!({"taxi": "green", "year": "2019", "month": "01"})).await;
    assert_success(&green);
    let green_main = format!("`test-proj.{dataset}.green_tripdata`");
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {green_main}")).await, rows as i64);
    let _ = std::fs::remove_dir_all(root);
}

// ---------------------------------------------------------- bay wheels ---

/// `rows` Bay Wheels rides of May 2019 in the `ride_id` layout, header first.
fn baywheels_csv(rows: usize) -> String {
    let stations = [
        ("Market St at 10th St", "SF-J23", 37.776_619, -122.417_385),
        ("San Francisco Caltrain (Townsend St at 4th St)", "SF-J29", 37.776_598, -122.395_282),
        ("Powell St BART Station (Market St at 4th St)", "SF-F27", 37.786_375, -122.404_904),
        ("Berry St at 4th St", "SF-K28", 37.775_880, -122.393_170),
        ("Grand Ave at Webster St", "OK-L5", 37.811_377, -122.265_192),
    ];
    let mut csv = String::from(
        "ride_id,rideable_type,started_at,ended_at,start_station_name,start_station_id,end_station_name,\
         end_station_id,start_lat,start_lng,end_lat,end_lng,member_casual\n",
    );
    for i in 0..rows {
        let (from, to) = (stations[i % stations.len()], stations[(i * 3 + 1) % stations.len()]);
        let (day, hour, minute) = (1 + i % 28, 6 + i % 15, (i * 7) % 50);
        csv.push_str(&format!(
            "{:016X},{},2019-05-{day:02} {hour:02}:{minute:02}:{:02},2019-05-{day:02} {hour:02}:{:02}:{:02},\
             {},{},{},{},{},{},{},{},{}\n",
            0xB4E1_0000_0000_0000u64 + i as u64 * 7919,
            if i % 4 == 0 { "electric_bike" } else { "classic_bike" },
            i % 60,
            minute + 3 + i % 7,
            (i * 11) % 60,
            from.0,
            from.1,
            to.0,
            to.1,
            from.2,
            from.3,
            to.2,
            to.3,
            if i % 3 == 0 { "casual" } else { "member" },
        ));
    }
    csv
}

/// One file, deflated into a zip archive.
fn zipped(name: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(name, options).unwrap();
    zip.write_all(data).unwrap();
    zip.finish().unwrap().into_inner()
}

/// `examples/baywheels_gcp.yaml` with one task added after the
/// external-table task: a `LoadFromGcs` of the month's CSV into that table,
/// because bqemulator creates external tables empty. Everything else is the
/// example's.
fn baywheels_flow() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/baywheels_gcp.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let anchor = "  - id: bq_baywheels_table_tmp\n";
    assert_eq!(text.matches(anchor).count(), 1, "{path} should have {anchor:?}");
    let load = "  - id: bq_baywheels_table_ext_load\n\
                \x20   type: io.kestra.plugin.gcp.bigquery.LoadFromGcs\n\
                \x20   from:\n\
                \x20     - \"{{render(vars.gcs_file)}}\"\n\
                \x20   destinationTable: \"{{kv('GCP_PROJECT_ID')}}.{{render(vars.table)}}_ext\"\n\
                \x20   writeDisposition: WRITE_TRUNCATE\n\
                \x20   ignoreUnknownValues: true\n\
                \x20   csvOptions:\n\
                \x20     skipLeadingRows: 1\n\n";
    text.replace(anchor, &format!("{load}{anchor}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bay_wheels_zip_to_bigquery_pipeline() {
    let (h, emu) = harness();
    let (bucket, dataset) = (unique("baywheels-"), unique("baywheels_"));
    let rows = 50;
    let file = "201905-baywheels-tripdata.csv";
    let archive = zipped(file, baywheels_csv(rows).as_bytes());
    let (root, base) = served(&[(&format!("{file}.zip"), archive.as_slice())]);

    // 04_gcp_kv and 05_gcp_setup, in the example's namespace (kv() reads
    // the flow's own namespace).
    let kv = gcp_kv_flow(&bucket, &dataset).replace("namespace: zoomcamp", "namespace: bay_wheels");
    let e = h.run(&kv, json!({"creds": fake_key()})).await;
    assert_success(&e);
    let setup = h.run(&GCP_SETUP.replace("namespace: zoomcamp", "namespace: bay_wheels"), json!({})).await;
    assert_success(&setup);
    assert_eq!(output(&setup, "create_gcs_bucket")["created"], json!(true));

    let flow = h.flow(&baywheels_flow());
    let inputs = json!({"year": "2019", "month": "05", "source_base": base.trim_end_matches('/')});
    let run1 = h.run_flow(&flow, inputs.clone()).await;
    assert_success(&run1);
    assert_eq!(run1.labels_map()["file"], file);
    assert_eq!(output(&run1, "unzip")["files"].as_object().unwrap().len(), 1);
    assert_eq!(output(&run1, "upload_to_gcs")["uri"], json!(format!("gs://{bucket}/{file}")));
    let stored = std::fs::read(emu.gcs_root.join(&bucket).join(file)).expect("the CSV is in the bucket");
    assert_eq!(stored, baywheels_csv(rows).as_bytes(), "the bucket holds the unzipped CSV");
    assert_eq!(output(&run1, "bq_baywheels_table_ext_load")["rows"], json!(rows));
    let main = format!("`test-proj.{dataset}.baywheels_tripdata`");
    let month = format!("`test-proj.{dataset}.baywheels_tripdata_2019_05`");
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {main}")).await, rows as i64);
    assert_eq!(count(&h, &format!("SELECT COUNT(DISTINCT unique_row_id) AS n FROM {main}")).await, rows as i64);
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {month} WHERE filename = '{file}'")).await, rows as i64);

    // The same month again: the MERGE inserts nothing.
    let run2 = h.run_flow(&flow, inputs).await;
    assert_success(&run2);
    let logs = h.logs(&run2.id).await.join("\n");
    assert!(logs.contains("0 rows affected"), "the second MERGE inserts nothing: {logs}");
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {main}")).await, rows as i64);
    let _ = std::fs::remove_dir_all(root);
}
