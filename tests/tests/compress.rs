//! Compression tasks end to end: `FileDecompress` (gzip, bzip2, zstd, xz)
//! and `FileCompress` against the system tools' formats, `ArchiveDecompress`
//! on ZIP and TAR.GZ made by Python's archivers, `ArchiveCompress`, and the
//! refusal of entries that would escape the archive's folder.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;
use shared::model::StateType;

use crate::support::{Harness, harness, runs};

/// Pipes `input` through a command and returns its stdout.
fn pipe(cmd: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", cmd[0]));
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{cmd:?} failed");
    out.stdout
}

/// Runs a Python snippet that writes an archive to stdout.
fn python_archive(script: &str) -> Vec<u8> {
    let out = Command::new("python3").args(["-c", script]).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Stores a file as an upstream execution of namespace `test` would have
/// (an execution reads only its namespace's files).
async fn put(h: &Harness, path: &str, data: Vec<u8>) -> String {
    let path = format!("/test/upstream/executions/e0{path}");
    h.embedded.engine.storage.put(&path, Box::pin(std::io::Cursor::new(data))).await.unwrap();
    format!("kestra://{path}")
}

fn csv() -> Vec<u8> {
    let mut s = String::from("VendorID,tpep_pickup_datetime,total_amount\n");
    for i in 0..20_000 {
        s.push_str(&format!("{},2019-01-01 00:{:02}:00,{}.5\n", i % 3, i % 60, i));
    }
    s.into_bytes()
}

fn uri_of<'a>(e: &'a shared::model::Execution, task: &str) -> &'a str {
    runs(e, task)[0].outputs.as_ref().expect("outputs")["uri"].as_str().expect("uri")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_decompress_reads_gzip_bzip2_zstd_and_xz() {
    let h = harness();
    let data = csv();
    let gz = put(&h, "/in/data.csv.gz", pipe(&["gzip", "-c"], &data)).await;
    let bz = put(&h, "/in/data.csv.bz2", pipe(&["bzip2", "-c"], &data)).await;
    let zst = put(&h, "/in/data.csv.zst", pipe(&["zstd", "-q", "-c"], &data)).await;
    let xz = put(&h, "/in/data.csv.xz", pipe(&["xz", "-c"], &data)).await;
    let e = h
        .run(
            r#"
id: decompress
namespace: test
inputs:
  - {id: gz, type: STRING}
  - {id: bz, type: STRING}
  - {id: zst, type: STRING}
  - {id: xz, type: STRING}
tasks:
  - id: gunzip
    type: io.kestra.plugin.compress.FileDecompress
    from: "{{ inputs.gz }}"
    compression: GZIP
  - id: bunzip
    type: io.kestra.plugin.compress.FileDecompress
    from: "{{ inputs.bz }}"
    compression: BZIP2
  - id: unzstd
    type: io.kestra.plugin.compress.FileDecompress
    from: "{{ inputs.zst }}"
    compression: ZSTD
  - id: unxz
    type: io.kestra.plugin.compress.FileDecompress
    from: "{{ inputs.xz }}"
    compression: XZ
"#,
            json!({"gz": gz, "bz": bz, "zst": zst, "xz": xz}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    for task in ["gunzip", "bunzip", "unzstd", "unxz"] {
        let uri = uri_of(&e, task);
        assert!(uri.ends_with("/data.csv"), "{task}: {uri}");
        assert!(h.read_storage(uri).await == data, "{task}: content differs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_compress_writes_what_gzip_reads_and_corrupt_input_fails() {
    let h = harness();
    let data = csv();
    let src = put(&h, "/in/plain.csv", data.clone()).await;
    let bad = put(&h, "/in/bad.csv.gz", b"this is not gzip".to_vec()).await;
    let e = h
        .run(
            r#"
id: compress
namespace: test
inputs:
  - {id: src, type: STRING}
tasks:
  - id: gzip
    type: io.kestra.plugin.compress.FileCompress
    from: "{{ inputs.src }}"
    compression: GZIP
  - id: zstd
    type: io.kestra.plugin.compress.FileCompress
    from: "{{ inputs.src }}"
    compression: ZSTD
"#,
            json!({"src": src}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let gz = uri_of(&e, "gzip");
    assert!(gz.ends_with("/plain.csv.gz"), "{gz}");
    let compressed = h.read_storage(gz).await;
    assert!(compressed.len() < data.len() / 2);
    assert!(pipe(&["gzip", "-dc"], &compressed) == data, "gzip -d reads it back");
    let zst = h.read_storage(uri_of(&e, "zstd")).await;
    assert!(pipe(&["zstd", "-q", "-dc"], &zst) == data, "zstd -d reads it back");

    let e = h
        .run(
            r#"
id: corrupt
namespace: test
inputs:
  - {id: src, type: STRING}
tasks:
  - id: gunzip
    type: io.kestra.plugin.compress.FileDecompress
    from: "{{ inputs.src }}"
    compression: GZIP
"#,
            json!({"src": bad}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains(&format!("cannot decompress {bad} as GZIP"))), "{logs:?}");
}

const ARCHIVE_FILES: &str = r#"
files = {"a.csv": b"id\n1\n2\n", "dir/b.txt": b"hello " * 50000}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_decompress_extracts_zip_and_tar_gz() {
    let h = harness();
    let zip = python_archive(&format!(
        r#"{ARCHIVE_FILES}
import io, sys, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("dir/", b"")
    for name, data in files.items():
        z.writestr(name, data)
sys.stdout.buffer.write(buf.getvalue())
"#
    ));
    let tgz = python_archive(&format!(
        r#"{ARCHIVE_FILES}
import io, sys, tarfile
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    d = tarfile.TarInfo("dir"); d.type = tarfile.DIRTYPE; t.addfile(d)
    for name, data in files.items():
        info = tarfile.TarInfo("./" + name); info.size = len(data)
        t.addfile(info, io.BytesIO(data))
sys.stdout.buffer.write(buf.getvalue())
"#
    ));
    let zip = put(&h, "/in/files.zip", zip).await;
    let tgz = put(&h, "/in/files.tar.gz", tgz).await;
    let e = h
        .run(
            r#"
id: archives
namespace: test
inputs:
  - {id: zip, type: STRING}
  - {id: tgz, type: STRING}
tasks:
  - id: unzip
    type: io.kestra.plugin.compress.ArchiveDecompress
    from: "{{ inputs.zip }}"
    algorithm: ZIP
  - id: untar
    type: io.kestra.plugin.compress.ArchiveDecompress
    from: "{{ inputs.tgz }}"
    algorithm: TAR
    compression: GZIP
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ read(outputs.untar.files['a.csv']) | trim }}"
"#,
            json!({"zip": zip, "tgz": tgz}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    for task in ["unzip", "untar"] {
        let files = runs(&e, task)[0].outputs.as_ref().unwrap()["files"].as_object().unwrap().clone();
        let mut keys: Vec<&String> = files.keys().collect();
        keys.sort();
        assert_eq!(keys, vec!["a.csv", "dir/b.txt"], "{task}");
        assert_eq!(h.read_storage(files["a.csv"].as_str().unwrap()).await, b"id\n1\n2\n", "{task}");
        let b = h.read_storage(files["dir/b.txt"].as_str().unwrap()).await;
        assert!(b.len() == 300_000 && b.starts_with(b"hello hello"), "{task}: {} bytes", b.len());
    }
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "id\n1\n2"), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_entries_escaping_the_folder_fail_the_task() {
    let h = harness();
    let tar = python_archive(
        r#"
import io, sys, tarfile
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    for name in ["ok.txt", "../evil.txt"]:
        info = tarfile.TarInfo(name); info.size = 3
        t.addfile(info, io.BytesIO(b"bad"))
sys.stdout.buffer.write(buf.getvalue())
"#,
    );
    let zip = python_archive(
        r#"
import io, sys, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("../../evil.txt", b"bad")
sys.stdout.buffer.write(buf.getvalue())
"#,
    );
    let tar = put(&h, "/in/evil.tar", tar).await;
    let zip = put(&h, "/in/evil.zip", zip).await;
    for (uri, algorithm) in [(tar, "TAR"), (zip, "ZIP")] {
        let e = h
            .run(
                &format!(
                    r#"
id: evil
namespace: test
tasks:
  - id: extract
    type: io.kestra.plugin.compress.ArchiveDecompress
    from: "{uri}"
    algorithm: {algorithm}
"#
                ),
                json!({}),
            )
            .await;
        assert_eq!(e.state.current, StateType::Failed, "{algorithm}");
        let logs = h.logs(&e.id).await;
        assert!(logs.iter().any(|l| l.contains("evil.txt' points outside the archive's folder")), "{logs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_compress_builds_zip_and_tar_gz_that_read_back() {
    let h = harness();
    let a = put(&h, "/in/a.csv", b"id\n1\n".to_vec()).await;
    let b = put(&h, "/in/b.json", br#"{"x": 1}"#.to_vec()).await;
    let e = h
        .run(
            r#"
id: archive
namespace: test
inputs:
  - {id: a, type: STRING}
  - {id: b, type: STRING}
tasks:
  - id: zip
    type: io.kestra.plugin.compress.ArchiveCompress
    from:
      data/a.csv: "{{ inputs.a }}"
      b.json: "{{ inputs.b }}"
    algorithm: ZIP
  - id: tgz
    type: io.kestra.plugin.compress.ArchiveCompress
    from:
      data/a.csv: "{{ inputs.a }}"
      b.json: "{{ inputs.b }}"
    algorithm: TAR
    compression: GZIP
  - id: unzip
    type: io.kestra.plugin.compress.ArchiveDecompress
    from: "{{ outputs.zip.uri }}"
    algorithm: ZIP
"#,
            json!({"a": a, "b": b}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let files = runs(&e, "unzip")[0].outputs.as_ref().unwrap()["files"].as_object().unwrap().clone();
    assert_eq!(h.read_storage(files["data/a.csv"].as_str().unwrap()).await, b"id\n1\n");
    assert_eq!(h.read_storage(files["b.json"].as_str().unwrap()).await, br#"{"x": 1}"#);
    let tgz_uri = uri_of(&e, "tgz");
    assert!(tgz_uri.ends_with("/archive.tar.gz"), "{tgz_uri}");
    let listing = pipe(&["tar", "-tz"], &h.read_storage(tgz_uri).await);
    let mut names: Vec<&str> = std::str::from_utf8(&listing).unwrap().lines().collect();
    names.sort();
    assert_eq!(names, vec!["b.json", "data/a.csv"]);
}
