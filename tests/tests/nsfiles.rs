//! Namespace files on the internal GCS bucket (fake-gcs-server) pass the
//! same contract suite as the local folder; `baton nsfiles` round-trips
//! files through the local store.

use e2e::gcp_emulators::gcp_backends;
use shared::backend::nsfiles::contract;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_namespace_files_pass_the_contract() {
    let b = gcp_backends("nsfiles").await;
    contract::namespace_files_contract(b.namespace_files().as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_returns_a_namespace_file_and_names_a_missing_one() {
    let h = crate::support::harness();
    let files = shared::backend::nsfiles::namespace_files(h.embedded.engine.storage.clone());
    files.put("team.dbt", "/queries/q.sql", Box::pin(&b"select 42"[..])).await.expect("put");
    let e = h
        .run(
            r#"
id: reader
namespace: team.dbt
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "sql={{ read('queries/q.sql') }}"
  - id: missing
    type: io.kestra.plugin.core.log.Log
    message: "{{ read('queries/none.sql') }}"
"#,
            serde_json::json!({}),
        )
        .await;
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "sql=select 42"), "{logs:?}");
    assert_eq!(e.state.current, shared::model::StateType::Failed);
    let all = format!("{logs:?} {:?}", e.error);
    assert!(all.contains("queries/none.sql") && all.contains("team.dbt"), "{all}");
}
