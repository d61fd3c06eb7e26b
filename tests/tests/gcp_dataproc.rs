//! `io.kestra.plugin.gcp.dataproc.*` against the Google APIs fake
//! (`e2e::google_apis_fake`, which checks every call and answer against
//! Dataproc's discovery document): the batches are created at
//! `…/locations/{region}/batches?batchId={name}-{execution id}` with
//! Kestra's mapping of the properties, read until they end, the final
//! state as output and a failed batch's `stateMessage` as the task's
//! error; clusters are created and deleted, their operations waited for.
//! Kestra's blueprints using these types validate (their `extend:` block
//! stripped: tests/fixtures/kestra-blueprints/).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use e2e::google_apis_fake::FakeGoogleApis;
use serde_json::{Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::plugins::gcp::GcpConfig;

use crate::ai::service_account_key;
use crate::support::{Harness, harness_with_plugins, runs};

struct Setup {
    fake: FakeGoogleApis,
    h: Harness,
    key: String,
    dir: std::path::PathBuf,
}

async fn setup() -> Setup {
    let fake = FakeGoogleApis::start(&["dataproc.v1.json"]).await;
    let h = harness_with_plugins(PluginConfig {
        gcp: GcpConfig { apis_url: Some(fake.url()), ..GcpConfig::default() },
        ..PluginConfig::default()
    });
    let dir = std::env::temp_dir().join(format!("baton-dataproc-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = std::fs::read_to_string(service_account_key(&dir)).expect("key");
    Setup { fake, h, key, dir }
}

/// Answers batches.create with a pending operation and batches.get with
/// `states` in turn (the last one repeated).
fn batches(fake: &FakeGoogleApis, states: Vec<Value>) {
    fake.on("dataproc.projects.locations.batches.create", |c| {
        let parent = format!("projects/{}/locations/{}", c.params[0], c.params[1]);
        let batch = format!("{parent}/batches/{}", c.query.get("batchId").cloned().unwrap_or_default());
        (200, json!({"name": format!("{parent}/operations/op-1"), "done": false,
            "metadata": {"@type": "type.googleapis.com/google.cloud.dataproc.v1.BatchOperationMetadata", "batch": batch}}))
    });
    let n = Arc::new(AtomicUsize::new(0));
    fake.on("dataproc.projects.locations.batches.get", move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst).min(states.len() - 1);
        (200, states[i].clone())
    });
}

fn expected_id(name: &str, execution_id: &str) -> String {
    format!("{name}-{execution_id}").to_lowercase().chars().take(63).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pyspark_batch_is_created_waited_for_and_its_state_is_the_output() {
    let s = setup().await;
    batches(&s.fake, vec![json!({"state": "RUNNING"}), json!({"state": "SUCCEEDED", "stateMessage": ""})]);
    let flow = format!(
        r#"
id: dataproc
namespace: test.gcp
tasks:
  - id: submit
    type: io.kestra.plugin.gcp.dataproc.batches.PySparkSubmit
    projectId: dp-proj
    serviceAccount: '{key}'
    region: europe-west3
    name: test-pyspark
    mainPythonFileUri: gs://spark-jobs/pi.py
    args: [1000, "--out={{{{ flow.namespace }}}}"]
    fileUris: [gs://spark-jobs/data.csv]
    execution:
      serviceAccountEmail: runner@dp-proj.iam.gserviceaccount.com
      subnetworkUri: projects/dp-proj/regions/europe-west3/subnetworks/default
    runtime:
      version: "2.2"
      properties:
        spark.executor.instances: 2
"#,
        key = s.key
    );
    let e = s.h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = runs(&e, "submit")[0].outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!(out["state"], json!("SUCCEEDED"));
    let calls = s.fake.calls();
    let ids: Vec<&str> = calls.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "dataproc.projects.locations.batches.create",
            "dataproc.projects.locations.batches.get",
            "dataproc.projects.locations.batches.get"
        ]
    );
    let create = &calls[0];
    assert_eq!(create.path, "/v1/projects/dp-proj/locations/europe-west3/batches");
    let id = expected_id("test-pyspark", &e.id);
    assert_eq!(create.query.get("batchId"), Some(&id));
    assert_eq!(
        create.body,
        json!({
            "pysparkBatch": {"mainPythonFileUri": "gs://spark-jobs/pi.py", "fileUris": ["gs://spark-jobs/data.csv"],
                             "args": ["1000", "--out=test.gcp"]},
            "environmentConfig": {"executionConfig": {
                "serviceAccount": "runner@dp-proj.iam.gserviceaccount.com",
                "subnetworkUri": "projects/dp-proj/regions/europe-west3/subnetworks/default"}},
            "runtimeConfig": {"version": "2.2", "properties": {"spark.executor.instances": "2"}}
        })
    );
    assert_eq!(calls[1].path, format!("/v1/projects/dp-proj/locations/europe-west3/batches/{id}"));
    assert!(create.authorization.as_deref().unwrap_or_default().starts_with("Bearer "), "the task's credentials");
    assert!(s.fake.violations().is_empty(), "{:?}", s.fake.violations());
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_fails_the_task_with_its_state_message() {
    let s = setup().await;
    batches(
        &s.fake,
        vec![json!({"state": "PENDING"}), json!({"state": "FAILED", "stateMessage": "Job failed with exit code 1"})],
    );
    let flow = format!(
        "id: dataproc_fail\nnamespace: test.gcp\ntasks:\n  - id: submit\n    type: io.kestra.plugin.gcp.dataproc.batches.PySparkSubmit\n    projectId: dp-proj\n    serviceAccount: '{}'\n    region: us-central1\n    name: failing\n    mainPythonFileUri: gs://b/boom.py\n",
        s.key
    );
    let e = s.h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = format!("{:?}", e.error);
    assert!(err.contains("ended FAILED: Job failed with exit code 1"), "{err}");
    assert!(s.fake.violations().is_empty(), "{:?}", s.fake.violations());
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spark_spark_sql_and_spark_r_batches_carry_kestra_s_workloads() {
    let s = setup().await;
    batches(&s.fake, vec![json!({"state": "SUCCEEDED"})]);
    let flow = format!(
        r#"
id: dataproc_kinds
namespace: test.gcp
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      projectId: dp-proj
      serviceAccount: '{key}'
tasks:
  - id: spark
    type: io.kestra.plugin.gcp.dataproc.batches.SparkSubmit
    region: europe-west3
    name: test-spark
    mainClass: org.apache.spark.examples.SparkPi
    jarFileUris: [file:///usr/lib/spark/examples/jars/spark-examples.jar]
    args: [1000]
    peripherals:
      sparkHistoryServer:
        dataprocCluster: projects/dp-proj/regions/europe-west3/clusters/history
  - id: sql
    type: io.kestra.plugin.gcp.dataproc.batches.SparkSqlSubmit
    region: europe-west3
    name: test-sparksql
    queryFileUri: gs://b/foobar.sql
    jarFileUris: [gs://b/udf.jar]
  - id: r
    type: io.kestra.plugin.gcp.dataproc.batches.RSparkSubmit
    region: europe-west3
    name: test-rspark
    mainRFileUri: gs://b/dataframe.r
    archiveUris: [gs://b/libs.tgz]
"#,
        key = s.key
    );
    let e = s.h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let bodies: Vec<Value> = s
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.id == "dataproc.projects.locations.batches.create")
        .map(|c| c.body)
        .collect();
    let env = json!({"executionConfig": {}});
    assert_eq!(
        bodies,
        [
            json!({"sparkBatch": {"mainClass": "org.apache.spark.examples.SparkPi",
                    "jarFileUris": ["file:///usr/lib/spark/examples/jars/spark-examples.jar"], "args": ["1000"]},
                   "environmentConfig": {"executionConfig": {}, "peripheralsConfig": {"sparkHistoryServerConfig":
                       {"dataprocCluster": "projects/dp-proj/regions/europe-west3/clusters/history"}}}}),
            json!({"sparkSqlBatch": {"queryFileUri": "gs://b/foobar.sql", "jarFileUris": ["gs://b/udf.jar"]}, "environmentConfig": env}),
            json!({"sparkRBatch": {"mainRFileUri": "gs://b/dataframe.r", "archiveUris": ["gs://b/libs.tgz"]}, "environmentConfig": env}),
        ]
    );
    assert!(s.fake.violations().is_empty(), "{:?}", s.fake.violations());
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_is_created_then_deleted_each_operation_waited_for() {
    let s = setup().await;
    let op = |c: &e2e::google_apis_fake::Call, done: bool, kind: &str| {
        json!({"name": format!("projects/{}/regions/{}/operations/{kind}", c.params[0], c.params[1]), "done": done,
               "metadata": {"@type": "type.googleapis.com/google.cloud.dataproc.v1.ClusterOperationMetadata",
                            "clusterName": "analytics", "operationType": kind.to_uppercase(),
                            "status": {"state": if done { "DONE" } else { "RUNNING" }, "innerState": if done { "DONE" } else { "RUNNING" }}}})
    };
    s.fake.on("dataproc.projects.regions.clusters.create", move |c| (200, op(c, false, "create")));
    s.fake.on("dataproc.projects.regions.clusters.delete", move |c| (200, op(c, false, "delete")));
    s.fake.on("dataproc.projects.regions.operations.get", move |c| (200, op(c, true, &c.params[2])));
    let flow = format!(
        r#"
id: dataproc_cluster
namespace: test.gcp
tasks:
  - id: create
    type: io.kestra.plugin.gcp.dataproc.clusters.Create
    projectId: dp-proj
    serviceAccount: '{key}'
    clusterName: analytics
    region: europe-west3
    zone: europe-west3-a
    masterMachineType: n1-standard-2
    masterDiskSizeGB: 500
    workerMachineType: n1-standard-2
    workerDiskSizeGB: 200
    workers: 2
    bucket: staging-bucket
  - id: delete
    type: io.kestra.plugin.gcp.dataproc.clusters.Delete
    projectId: dp-proj
    serviceAccount: '{key}'
    clusterName: "{{{{ outputs.create.clusterName }}}}"
    region: europe-west3
"#,
        key = s.key
    );
    let e = s.h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = |t: &str| Value::Object(runs(&e, t)[0].outputs.as_deref().cloned().unwrap_or_default());
    assert_eq!(out("create"), json!({"clusterName": "analytics", "created": true}));
    assert_eq!(out("delete"), json!({"clusterName": "analytics", "deleted": true}));
    let calls = s.fake.calls();
    let ids: Vec<&str> = calls.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "dataproc.projects.regions.clusters.create",
            "dataproc.projects.regions.operations.get",
            "dataproc.projects.regions.clusters.delete",
            "dataproc.projects.regions.operations.get"
        ]
    );
    assert_eq!(calls[0].path, "/v1/projects/dp-proj/regions/europe-west3/clusters");
    assert_eq!(
        calls[0].body,
        json!({"clusterName": "analytics", "config": {
            "masterConfig": {"machineTypeUri": "n1-standard-2", "diskConfig": {"bootDiskSizeGb": 500}},
            "workerConfig": {"machineTypeUri": "n1-standard-2", "diskConfig": {"bootDiskSizeGb": 200}, "numInstances": 2},
            "gceClusterConfig": {"zoneUri": "europe-west3-a"},
            "configBucket": "staging-bucket"}})
    );
    assert_eq!(calls[2].path, "/v1/projects/dp-proj/regions/europe-west3/clusters/analytics");
    assert!(s.fake.violations().is_empty(), "{:?}", s.fake.violations());
    let _ = std::fs::remove_dir_all(&s.dir);
}

/// Kestra's blueprints that use the Dataproc tasks validate, and what
/// Kestra declares but never sends is refused by name.
#[test]
fn kestra_s_dataproc_blueprints_validate_and_unsent_lists_are_refused() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let validate = |file: &str, src: &str| -> Vec<String> {
        let r = shared::validate::validate_source_with(file, src, &registry, &renderer, shared::dialect::Policy::AUTO);
        r.diagnostics.iter().map(|d| d.to_string()).collect()
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kestra-blueprints");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("the blueprints") {
        let path = entry.expect("entry").path();
        let src = std::fs::read_to_string(&path).expect("read");
        if !src.contains("io.kestra.plugin.gcp.dataproc.") {
            continue;
        }
        seen += 1;
        let file = path.display().to_string();
        assert!(validate(&file, &src).is_empty(), "{file}: {:#?}", validate(&file, &src));
    }
    assert!(seen >= 3, "the Dataproc blueprints: {seen}");
    let sql = "id: v\nnamespace: test.gcp\ntasks:\n  - id: sql\n    type: io.kestra.plugin.gcp.dataproc.batches.SparkSqlSubmit\n    region: europe-west3\n    name: q\n    queryFileUri: gs://b/q.sql\n    args: [x]\n";
    let shown = validate("v.yaml", sql);
    assert!(shown.iter().any(|d| d.contains("args") && d.contains("Spark SQL")), "{shown:#?}");
    let region = sql.replace("europe-west3", "Europe West").replace("    args: [x]\n", "");
    let shown = validate("v.yaml", &region);
    assert!(shown.iter().any(|d| d.contains("region") && d.contains("not a Dataproc region")), "{shown:#?}");
}
