//! Kestra's namespace-file tasks on the embedded runtime:
//! `namespace.UploadFiles` (from a `kestra://` file through `filesMap`, and
//! from a WorkingDirectory's inline `inputFiles` through `files`; each
//! `conflict`), `namespace.DownloadFiles` (a glob → `outputs.files`) and
//! `namespace.DeleteFiles` (a glob), and the validator refusing a property
//! the tasks do not have.

use serde_json::{Value, json};
use shared::backend::nsfiles::{NamespaceFiles, namespace_files};
use shared::model::StateType;
use tokio::io::AsyncReadExt;

use crate::support::{Harness, harness, runs};

fn files(h: &Harness) -> std::sync::Arc<dyn NamespaceFiles> {
    namespace_files(h.embedded.engine.storage.clone())
}

async fn content(h: &Harness, ns: &str, path: &str) -> String {
    let mut s = String::new();
    files(h).get(ns, path).await.expect("namespace file").read_to_string(&mut s).await.expect("read");
    s
}

async fn paths(h: &Harness, ns: &str) -> Vec<String> {
    files(h).list(ns, "").await.expect("list").into_iter().map(|f| f.path).collect()
}

fn output(e: &shared::model::Execution, task: &str, key: &str) -> Value {
    runs(e, task)[0].outputs.as_ref().and_then(|o| o.get(key)).cloned().unwrap_or(Value::Null)
}

/// Writes `content` with `storage.Write`, then uploads it to `main.py`
/// under `/scripts` of namespace `team.dev` with `conflict`.
fn upload_flow(conflict: &str) -> String {
    format!(
        r#"
id: upload
namespace: team.dev
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "print('{{{{ inputs.v }}}}')"
  - id: upload
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: "{{{{ flow.namespace }}}}"
    destination: /scripts
    conflict: {conflict}
    filesMap:
      main.py: "{{{{ outputs.write.uri }}}}"
inputs:
  - id: v
    type: STRING
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_from_a_kestra_file_with_each_conflict() {
    let h = harness();
    let e = h.run(&upload_flow("OVERWRITE"), json!({"v": "one"})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(content(&h, "team.dev", "scripts/main.py").await, "print('one')");
    let e = h.run(&upload_flow("SKIP"), json!({"v": "two"})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(content(&h, "team.dev", "scripts/main.py").await, "print('one')", "skipped");
    let e = h.run(&upload_flow("ERROR"), json!({"v": "three"})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let said = format!("{:?} {:?}", h.logs(&e.id).await, e.error);
    assert!(said.contains("'/scripts/main.py' already exists in namespace 'team.dev'"), "{said}");
    assert_eq!(content(&h, "team.dev", "scripts/main.py").await, "print('one')");
    let e = h.run(&upload_flow("OVERWRITE"), json!({"v": "four"})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(content(&h, "team.dev", "scripts/main.py").await, "print('four')");
    assert_eq!(files(&h).revisions("team.dev", "scripts/main.py").await.expect("revisions"), [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_inline_content_from_a_working_directory_then_download_and_delete() {
    let h = harness();
    let e = h
        .run(
            r#"
id: roundtrip
namespace: team.dev
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      queries/a.sql: "select {{ inputs.n }}"
      queries/b.sql: "select 2"
      notes.txt: "not uploaded"
    tasks:
      - id: upload
        type: io.kestra.plugin.core.namespace.UploadFiles
        namespace: tutorial
        files:
          - "queries/*.sql"
  - id: download
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: tutorial
    files:
      - "**.sql"
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "a={{ read(outputs.download.files['/queries/a.sql']) }}"
  - id: delete
    type: io.kestra.plugin.core.namespace.DeleteFiles
    namespace: tutorial
    files: "b.sql"
inputs:
  - id: n
    type: INT
"#,
            json!({"n": 7}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let got = output(&e, "download", "files");
    let got = got.as_object().expect("files map");
    assert_eq!(got.keys().collect::<Vec<_>>(), ["/queries/a.sql", "/queries/b.sql"]);
    assert_eq!(h.read_storage(got["/queries/b.sql"].as_str().expect("uri")).await, b"select 2");
    assert!(h.logs(&e.id).await.iter().any(|l| l == "a=select 7"));
    assert_eq!(paths(&h, "tutorial").await, ["queries/a.sql"], "b.sql deleted, notes.txt never uploaded");
}

#[test]
fn an_unknown_property_is_refused_naming_it() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let src = r#"
id: bad
namespace: team.dev
tasks:
  - id: upload
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: team.dev
    filesMap: {}
    overwrite: true
  - id: delete
    type: io.kestra.plugin.core.namespace.DeleteFiles
    namespace: team.dev
"#;
    let (_, d) = shared::validate::validate_source("bad.yaml", src, &registry, &renderer);
    let said: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
    assert!(
        said.iter().any(|m| m.contains("unknown property 'overwrite'")
            && m.contains("io.kestra.plugin.core.namespace.UploadFiles")
            && m.contains("conflict")),
        "{said:?}"
    );
    assert!(said.iter().any(|m| m.contains("missing required property 'files'")), "{said:?}");
}
