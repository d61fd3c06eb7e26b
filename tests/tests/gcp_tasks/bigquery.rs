//! BigQuery tasks against bqemulator: Load + Query with every fetch type,
//! SQL errors shown at their location, bad service-account keys (said,
//! never printed), and pluginDefaults on `io.kestra.plugin.gcp` applying on
//! package boundaries only.

use serde_json::json;
use shared::model::StateType;

use super::{DEFAULTS, assert_success, harness, output, served, unique};

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
