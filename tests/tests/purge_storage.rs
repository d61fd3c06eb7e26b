//! Kestra 2.0's `PurgeStorage` on the embedded runtime (files in a local
//! folder, their times from the folder): a dry run counts, a real one
//! deletes the execution files in the window, and another namespace's and
//! later files stay.

use serde_json::json;
use shared::model::StateType;

use crate::support::{harness, runs};

const WRITER: &str = r#"
id: writer
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    extension: .txt
    content: hello
"#;

const OTHER: &str = r#"
id: other
namespace: elsewhere
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    extension: .txt
    content: keep me
"#;

const PURGE: &str = r#"
id: purge
namespace: system
tasks:
  - id: purge
    type: io.kestra.plugin.core.storage.PurgeStorage
    namespace: company
    endDate: "{{ inputs.end }}"
    dryRun: DRY
inputs:
  - id: end
    type: STRING
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_storage_deletes_the_files_in_its_window() {
    let h = harness();
    let w = h.run(WRITER, json!({})).await;
    let o = h.run(OTHER, json!({})).await;
    assert_eq!((w.state.current, o.state.current), (StateType::Success, StateType::Success));
    let uri = |e: &shared::model::Execution| {
        runs(e, "write")[0].outputs.as_ref().and_then(|o| o.get("uri")).and_then(|v| v.as_str()).unwrap().to_string()
    };
    let storage = h.embedded.engine.storage.clone();
    let exists = |u: String| {
        let storage = storage.clone();
        async move { storage.size(&shared::backend::storage_path(&u).unwrap()).await.unwrap().is_some() }
    };
    let counts = |e: &shared::model::Execution| {
        let out = runs(e, "purge")[0].outputs.as_deref().cloned().unwrap_or_default();
        (out["scannedCount"].clone(), out["purgedCount"].clone(), out["deletedFilesCount"].clone())
    };
    // a window that ended before the files were written: nothing
    let e = h.run(&PURGE.replace("DRY", "false"), json!({"end": "2020-01-01T00:00:00Z"})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(counts(&e), (json!(1), json!(0), json!(0)));
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let e = h.run(&PURGE.replace("DRY", "true"), json!({"end": later})).await;
    assert_eq!(counts(&e), (json!(1), json!(1), json!(0)), "a dry run counts");
    assert!(exists(uri(&w)).await);
    let e = h.run(&PURGE.replace("DRY", "false"), json!({"end": later})).await;
    assert_eq!(counts(&e), (json!(1), json!(1), json!(1)));
    assert!(!exists(uri(&w)).await, "the writer's file is gone");
    assert!(exists(uri(&o)).await, "another namespace's file stays");
}
