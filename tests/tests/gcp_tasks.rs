//! The GCS and BigQuery tasks end to end against the offline emulators
//! (`e2e::emulators`: fake-gcs-server with a filesystem backend and
//! bqemulator reading load sources from the same folder). Here: the
//! harness on the emulators and every GCS task, `ifExists` SKIP/ERROR,
//! missing things failing with Kestra's messages, and a 64 MB streamed
//! upload. `bigquery`: Load + Query with the fetch types, SQL errors with
//! their location, bad service-account keys, pluginDefaults on the
//! `io.kestra.plugin.gcp` prefix. `pipelines`: the zoomcamp's
//! `05_gcp_setup` + `06_gcp_taxi` on generated taxi data, and
//! `examples/baywheels_gcp.yaml` on a generated zipped month.
//!
//! Where the emulators are not BigQuery: bqemulator turns `CREATE EXTERNAL
//! TABLE` into an empty native table, so the taxi and Bay Wheels tests load
//! the month's file into that table with a `LoadFromGcs` task (the flows
//! are otherwise the seed's and the example's); and it formats NUMERIC
//! with DuckDB's scale, so no hash here covers a NUMERIC column (the
//! seed's `unique_row_id` does not).

mod bigquery;
mod pipelines;

use std::path::{Path, PathBuf};

use e2e::emulators::{Emulators, emulators};
use e2e::http;
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
