//! The GCP tasks over Google's REST APIs without an emulator, against the
//! fake that checks each call against Google's discovery documents
//! (`e2e::google_apis_fake`): Vertex AI `CustomJob` (Kestra's spec
//! mapping, the wait, the job's error, the deletion after), BigQuery
//! `RunTransferConfig` (start, wait, a failed run, re-attaching) and GCS
//! `CreateBucketIamPolicy` (a binding added; one already there skipped or
//! refused as `ifExists` says).

use e2e::google_apis_fake::FakeGoogleApis;
use serde_json::{Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::plugins::gcp::GcpConfig;

use crate::ai::service_account_key;
use crate::support::{Harness, harness_with_plugins, runs};

const DOCS: [&str; 3] = ["aiplatform.v1.json", "bigquerydatatransfer.v1.json", "storage.v1.json"];

struct Setup {
    fake: FakeGoogleApis,
    h: Harness,
    key: String,
    dir: std::path::PathBuf,
}

async fn setup() -> Setup {
    let fake = FakeGoogleApis::start(&DOCS).await;
    let gcp = GcpConfig { apis_url: Some(fake.url()), ..GcpConfig::default() };
    let h = harness_with_plugins(PluginConfig { gcp, ..PluginConfig::default() });
    let dir = std::env::temp_dir().join(format!("baton-gcp-rest-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = std::fs::read_to_string(service_account_key(&dir)).expect("key");
    Setup { fake, h, key, dir }
}

impl Setup {
    /// Runs `tasks` (YAML, indented under `tasks:`) with the key as every GCP task's credentials.
    async fn run(&self, tasks: &str) -> shared::model::Execution {
        let flow = format!(
            "id: rest\nnamespace: test.gcp\ninputs:\n  - id: key\n    type: STRING\ntasks:\n{tasks}\npluginDefaults:\n  - type: io.kestra.plugin.gcp\n    values:\n      projectId: p1\n      serviceAccount: \"{{{{ inputs.key }}}}\"\n"
        );
        self.h.run(&flow, json!({"key": self.key})).await
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn out(e: &shared::model::Execution, task: &str) -> Value {
    Value::Object(runs(e, task)[0].outputs.as_deref().cloned().unwrap_or_default())
}

const JOB: &str = "projects/p1/locations/europe-west1/customJobs/42";

fn job(state: &str, ended: bool) -> Value {
    let mut j = json!({"name": JOB, "displayName": "train", "state": state,
                       "createTime": "2024-05-01T10:00:00Z", "updateTime": "2024-05-01T10:00:01Z"});
    if ended {
        j["endTime"] = json!("2024-05-01T10:05:00Z");
    }
    j
}

const CUSTOM_JOB: &str = r#"  - id: job
    type: io.kestra.plugin.gcp.vertexai.CustomJob
    region: europe-west1
    displayName: train
    spec:
      serviceAccount: runner@p1.iam.gserviceaccount.com
      scheduling:
        timeOut: PT2H
        restartJobOnWorkerRestart: true
      workerPoolSpecs:
        - containerSpec:
            imageUri: gcr.io/p1/trainer:1
            commands: [python, train.py]
            args: ["--epochs", "{{ 1 + 2 }}"]
            env:
              MODE: fast
          machineSpec:
            machineType: n1-standard-4
            acceleratorType: NVIDIA_TESLA_T4
            acceleratorCount: 1
          discSpec:
            bootDiskSizeGb: 200
          replicaCount: 2
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_ai_custom_job_runs_waits_and_is_deleted() {
    let s = setup().await;
    s.fake.on("aiplatform.projects.locations.customJobs.create", |_| (200, job("JOB_STATE_PENDING", false)));
    s.fake.on("aiplatform.projects.locations.customJobs.get", |_| (200, job("JOB_STATE_SUCCEEDED", true)));
    s.fake.on("aiplatform.projects.locations.customJobs.delete", |_| {
        (200, json!({"name": "projects/p1/locations/europe-west1/operations/7", "done": true}))
    });
    let e = s.run(CUSTOM_JOB).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(
        s.fake.ids(),
        [
            "aiplatform.projects.locations.customJobs.create",
            "aiplatform.projects.locations.customJobs.get",
            "aiplatform.projects.locations.customJobs.delete"
        ]
    );
    let calls = s.fake.calls();
    assert_eq!(calls[0].path, "/v1/projects/p1/locations/europe-west1/customJobs");
    assert_eq!(
        calls[0].body,
        json!({"displayName": "train", "jobSpec": {
            "workerPoolSpecs": [{
                "containerSpec": {"imageUri": "gcr.io/p1/trainer:1", "command": ["python", "train.py"],
                                  "args": ["--epochs", "3"], "env": [{"name": "MODE", "value": "fast"}]},
                "machineSpec": {"machineType": "n1-standard-4", "acceleratorType": "NVIDIA_TESLA_T4", "acceleratorCount": 1},
                "diskSpec": {"bootDiskType": "pd-ssd", "bootDiskSizeGb": 200},
                "replicaCount": "2"
            }],
            "serviceAccount": "runner@p1.iam.gserviceaccount.com",
            "scheduling": {"timeout": "7200s", "restartJobOnWorkerRestart": true}
        }})
    );
    assert!(calls.iter().all(|c| c.authorization.as_deref().is_some_and(|a| a.starts_with("Bearer "))));
    assert_eq!(calls[2].path, format!("/v1/{JOB}"));
    assert_eq!(
        out(&e, "job"),
        json!({"name": JOB, "createDate": "2024-05-01T10:00:00Z", "updateDate": "2024-05-01T10:00:01Z",
               "endDate": "2024-05-01T10:05:00Z", "state": "JOB_STATE_SUCCEEDED"})
    );
    assert!(s.fake.violations().is_empty(), "{:#?}", s.fake.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_ai_custom_job_s_error_fails_the_task_after_deleting_it() {
    let s = setup().await;
    s.fake.on("aiplatform.projects.locations.customJobs.create", |_| (200, job("JOB_STATE_QUEUED", false)));
    s.fake.on("aiplatform.projects.locations.customJobs.get", |_| {
        let mut j = job("JOB_STATE_FAILED", true);
        j["error"] = json!({"code": 3, "message": "The replica workerpool0-0 exited with a non-zero status of 1"});
        (200, j)
    });
    s.fake.on("aiplatform.projects.locations.customJobs.delete", |_| {
        (200, json!({"name": "projects/p1/locations/europe-west1/operations/8", "done": true}))
    });
    let e = s.run(CUSTOM_JOB).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert_eq!(s.fake.ids().last().map(String::as_str), Some("aiplatform.projects.locations.customJobs.delete"));
    let logs = s.h.logs(&e.id).await.join("\n");
    assert!(logs.contains("JOB_STATE_FAILED") && logs.contains("exited with a non-zero status"), "{logs}");
    assert!(s.fake.violations().is_empty(), "{:#?}", s.fake.violations());
}

const CONFIG: &str = "projects/p1/locations/us/transferConfigs/615";

fn transfer(reattach: bool) -> String {
    format!(
        "  - id: transfer\n    type: io.kestra.plugin.gcp.bigquery.RunTransferConfig\n    transferConfigName: {CONFIG}\n    reattach: {reattach}\n    pollInterval: PT1S\n    maxDuration: PT30S\n"
    )
}

fn run_answer(state: &str) -> Value {
    json!({"name": format!("{CONFIG}/runs/r1"), "state": state, "scheduleTime": "2024-05-01T10:00:00Z"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigquery_transfer_run_is_started_and_awaited() {
    let s = setup().await;
    s.fake.on("bigquerydatatransfer.projects.locations.transferConfigs.runs.list", |_| {
        (200, json!({"transferRuns": []}))
    });
    s.fake.on("bigquerydatatransfer.projects.locations.transferConfigs.startManualRuns", |_| {
        (200, json!({"runs": [run_answer("PENDING")]}))
    });
    s.fake.on("bigquerydatatransfer.projects.locations.transferConfigs.get", |_| {
        (200, json!({"name": CONFIG, "destinationDatasetId": "analytics"}))
    });
    let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let p = polls.clone();
    s.fake.on("bigquerydatatransfer.projects.locations.transferConfigs.runs.get", move |_| {
        let n = p.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        (200, run_answer(if n == 0 { "RUNNING" } else { "SUCCEEDED" }))
    });
    let e = s.run(&transfer(true)).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let calls = s.fake.calls();
    assert_eq!(calls[0].query.get("states").map(String::as_str), Some("RUNNING"), "in-flight runs looked for");
    let start = calls.iter().find(|c| c.id.ends_with("startManualRuns")).expect("started");
    assert!(start.body["requestedRunTime"].as_str().is_some_and(|t| t.ends_with('Z')), "{}", start.body);
    assert_eq!(polls.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(
        out(&e, "transfer"),
        json!({"runName": format!("{CONFIG}/runs/r1"), "state": "SUCCEEDED", "reattached": false,
               "destinationDatasetId": "analytics", "projectId": "p1", "location": "us"})
    );
    assert!(s.fake.violations().is_empty(), "{:#?}", s.fake.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigquery_transfer_run_failed_fails_the_task_and_in_flight_runs_are_adopted() {
    let s = setup().await;
    s.fake.on("bigquerydatatransfer.projects.locations.transferConfigs.runs.list", |_| {
        (200, json!({"transferRuns": [run_answer("RUNNING")]}))
    });
    s.fake.on("bigquerydatatransfer.projects.locations.transferConfigs.get", |_| (200, json!({"name": CONFIG})));
    s.fake.on("bigquerydatatransfer.projects.locations.transferConfigs.runs.get", |_| {
        let mut r = run_answer("FAILED");
        r["errorStatus"] = json!({"code": 5, "message": "Table analytics.daily was not found"});
        (200, r)
    });
    let e = s.run(&transfer(true)).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(!s.fake.ids().iter().any(|i| i.ends_with("startManualRuns")), "the run in flight is adopted");
    let logs = s.h.logs(&e.id).await.join("\n");
    assert!(logs.contains("ended in state FAILED: Table analytics.daily was not found"), "{logs}");
    assert!(s.fake.violations().is_empty(), "{:#?}", s.fake.violations());
}

fn iam(if_exists: &str) -> String {
    format!(
        "  - id: grant\n    type: io.kestra.plugin.gcp.gcs.CreateBucketIamPolicy\n    name: my-bucket\n    member: serviceAccount:sa@p1.iam.gserviceaccount.com\n    role: storage.objectViewer\n    ifExists: {if_exists}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_bucket_iam_binding_is_added_or_kept_as_if_exists_says() {
    let s = setup().await;
    let policy = std::sync::Arc::new(std::sync::Mutex::new(json!({
        "kind": "storage#policy", "resourceId": "projects/_/buckets/my-bucket", "version": 1, "etag": "CAE=",
        "bindings": [{"role": "roles/storage.legacyBucketOwner", "members": ["projectOwner:p1"]}]
    })));
    let p = policy.clone();
    s.fake.on("storage.buckets.getIamPolicy", move |_| (200, p.lock().expect("policy").clone()));
    let p = policy.clone();
    s.fake.on("storage.buckets.setIamPolicy", move |c| {
        *p.lock().expect("policy") = c.body.clone();
        (200, c.body.clone())
    });
    let e = s.run(&iam("SKIP")).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(s.fake.ids(), ["storage.buckets.getIamPolicy", "storage.buckets.setIamPolicy"]);
    let set = &s.fake.calls()[1];
    assert_eq!(set.path, "/storage/v1/b/my-bucket/iam");
    assert_eq!(
        set.body,
        json!({"etag": "CAE=", "version": 1, "bindings": [
            {"role": "roles/storage.legacyBucketOwner", "members": ["projectOwner:p1"]},
            {"role": "roles/storage.objectViewer", "members": ["serviceAccount:sa@p1.iam.gserviceaccount.com"]}
        ]})
    );
    assert_eq!(
        out(&e, "grant"),
        json!({"bucket": "my-bucket", "member": "sa@p1.iam.gserviceaccount.com", "role": "roles/storage.objectViewer", "created": true})
    );

    let again = s.run(&iam("SKIP")).await;
    assert_eq!(again.state.current, StateType::Success, "{:?}", again.error);
    assert_eq!(out(&again, "grant")["created"], json!(false));
    assert_eq!(s.fake.ids().len(), 3, "the binding there: read, not written");

    let refused = s.run(&iam("ERROR")).await;
    assert_eq!(refused.state.current, StateType::Failed);
    let logs = s.h.logs(&refused.id).await.join("\n");
    assert!(
        logs.contains("Binding roles/storage.objectViewer for member") && logs.contains("already exists"),
        "{logs}"
    );
    assert!(s.fake.violations().is_empty(), "{:#?}", s.fake.violations());
}
