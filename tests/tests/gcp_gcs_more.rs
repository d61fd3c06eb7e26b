//! The GCS tasks beyond the first set, on fake-gcs-server
//! (`e2e::emulators`): Compose (listing order, `allowEmpty`, GCS's 32-source
//! limit), Downloads (checksums validated, MOVE then DELETE), UpdateBucket,
//! CreateBucket's Kestra output, DeleteBucket `force`; and what validation
//! refuses (a CreateBucketIamPolicy member of no IAM type, unknown keys of
//! `list`).

use e2e::emulators::{Emulators, emulators};
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
    Value::Object(r[0].outputs.as_deref().cloned().unwrap_or_default())
}

/// Writes `gs://bucket/name` through fake-gcs-server's upload API.
async fn put(emu: &Emulators, bucket: &str, name: &str, body: &str) {
    let url = format!("http://{}/upload/storage/v1/b/{bucket}/o", emu.storage_host);
    let r = reqwest::Client::new()
        .post(url)
        .query(&[("uploadType", "media"), ("name", name)])
        .body(body.to_string())
        .send()
        .await
        .expect("upload");
    assert!(r.status().is_success(), "{}", r.status());
}

async fn names(emu: &Emulators, bucket: &str, prefix: &str) -> Vec<String> {
    let url = format!("http://{}/storage/v1/b/{bucket}/o", emu.storage_host);
    let v: Value =
        reqwest::Client::new().get(url).query(&[("prefix", prefix)]).send().await.unwrap().json().await.unwrap();
    v["items"].as_array().into_iter().flatten().map(|o| o["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_downloads_and_buckets_on_fake_gcs() {
    let (h, emu) = harness();
    let bucket = unique("c-");
    let yaml = format!(
        r#"
id: gcs_more
namespace: test.gcp
tasks:
  - id: create
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    name: {bucket}
  - id: parts
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    tasks:
      - id: write
        type: io.kestra.plugin.core.storage.Write
        content: "part {{{{ taskrun.value }}}}\n"
      - id: up
        type: io.kestra.plugin.gcp.gcs.Upload
        from: "{{{{ outputs.write[taskrun.value].uri }}}}"
        to: "gs://{bucket}/parts/{{{{ taskrun.value }}}}.txt"
  - id: compose
    type: io.kestra.plugin.gcp.gcs.Compose
    list:
      from: gs://{bucket}/parts/
      filter: BOTH
    to: gs://{bucket}/whole.txt
  - id: whole
    type: io.kestra.plugin.gcp.gcs.Download
    from: gs://{bucket}/whole.txt
  - id: compose_empty
    type: io.kestra.plugin.gcp.gcs.Compose
    list:
      from: gs://{bucket}/nothing/
    to: gs://{bucket}/empty.txt
    allowEmpty: true
  - id: downloads
    type: io.kestra.plugin.gcp.gcs.Downloads
    from: gs://{bucket}/parts/
    action: MOVE
    moveDirectory: gs://{bucket}/archive
    validateChecksum: true
  - id: delete_archive
    type: io.kestra.plugin.gcp.gcs.Downloads
    from: gs://{bucket}/archive/
    regExp: ".*/[ab]\\.txt"
    action: DELETE
  - id: update
    type: io.kestra.plugin.gcp.gcs.UpdateBucket
    name: {bucket}
    labels:
      team: data
  - id: delete_bucket
    type: io.kestra.plugin.gcp.gcs.DeleteBucket
    name: {bucket}
    force: true
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      projectId: test-proj
"#
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);

    let created = output(&e, "create");
    assert_eq!(created["bucket"]["name"], json!(bucket));
    assert_eq!(created["bucket"]["uri"], json!(format!("gs://{bucket}")));
    assert_eq!((created["created"].clone(), created["updated"].clone()), (json!(true), json!(false)));

    assert_eq!(output(&e, "compose")["uri"], json!(format!("gs://{bucket}/whole.txt")));
    let whole = output(&e, "whole");
    assert_eq!(h.read_storage(whole["uri"].as_str().unwrap()).await, b"part a\npart b\npart c\n");
    assert_eq!(output(&e, "compose_empty")["uri"], json!(format!("gs://{bucket}/empty.txt")));

    let dl = output(&e, "downloads");
    let blobs = dl["blobs"].as_array().unwrap();
    assert_eq!(blobs.len(), 3);
    for (b, n) in blobs.iter().zip(["a", "b", "c"]) {
        assert_eq!(b["name"], json!(format!("parts/{n}.txt")));
        let uri = b["uri"].as_str().unwrap();
        assert!(uri.starts_with("kestra://") && uri.ends_with(&format!("/{n}.txt")), "{uri}");
        assert_eq!(h.read_storage(uri).await, format!("part {n}\n").as_bytes());
        assert_eq!(dl["outputFiles"][format!("parts/{n}.txt")], json!(uri));
    }
    let deleted = output(&e, "delete_archive")["blobs"].as_array().unwrap().len();
    assert_eq!(deleted, 2);

    let updated = output(&e, "update");
    assert_eq!((updated["created"].clone(), updated["updated"].clone()), (json!(false), json!(true)));
    assert_eq!(updated["bucket"]["name"], json!(bucket));
    assert_eq!(output(&e, "delete_bucket")["bucketUri"], json!(format!("gs://{bucket}")));
    assert!(!emu.gcs_root.join(&bucket).exists(), "force emptied then deleted the bucket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_refuses_more_than_gcs_composes_and_nothing_without_allow_empty() {
    let (h, emu) = harness();
    let bucket = unique("m-");
    let create = format!(
        "id: mk\nnamespace: test.gcp\ntasks:\n  - id: mk\n    type: io.kestra.plugin.gcp.gcs.CreateBucket\n    \
         projectId: test-proj\n    name: {bucket}\n"
    );
    assert_eq!(h.run(&create, json!({})).await.state.current, StateType::Success);
    for i in 0..33 {
        put(emu, &bucket, &format!("many/{i:02}.txt"), "x").await;
    }
    let compose = |from: &str| {
        format!(
            "id: c\nnamespace: test.gcp\ntasks:\n  - id: c\n    type: io.kestra.plugin.gcp.gcs.Compose\n    \
             projectId: test-proj\n    list:\n      from: gs://{bucket}/{from}\n    to: gs://{bucket}/out.txt\n"
        )
    };
    let e = h.run(&compose("many/"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("33 files found") && logs.contains("GCS composes at most 32 objects"), "{logs}");
    let e = h.run(&compose("none/"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(h.logs(&e.id).await.join("\n").contains("No files founds"));
    assert!(names(emu, &bucket, "out").await.is_empty(), "nothing composed");
}

#[test]
fn validation_refuses_what_baton_does_not_have() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let flow = r#"
id: bad
namespace: test.gcp
tasks:
  - id: iam
    type: io.kestra.plugin.gcp.gcs.CreateBucketIamPolicy
    name: b
    member: "robot:a@example.com"
    role: roles/storage.admin
  - id: compose
    type: io.kestra.plugin.gcp.gcs.Compose
    list:
      from: gs://b/p/
      maxFiles: 3
    to: gs://b/o
  - id: cors
    type: io.kestra.plugin.gcp.gcs.UpdateBucket
    name: b
    cors: []
"#;
    let (_, diags) = shared::validate::validate_source("f.yaml", flow, &registry, &renderer);
    let all = diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
    assert!(all.contains("member") && all.contains("is not an IAM member"), "{all}");
    assert!(all.contains("unknown property 'maxFiles' of list"), "{all}");
    assert!(all.contains("unknown property 'cors' for io.kestra.plugin.gcp.gcs.UpdateBucket"), "{all}");
}
