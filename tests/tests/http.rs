//! `core.http.Download` and `Request` against a local server, and purging
//! the execution's files.

use serde_json::json;
use shared::backend::storage_path;
use shared::model::StateType;

use crate::support::{harness, runs, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_streams_into_internal_storage_then_purge() {
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let base = serve(body.clone(), 200).await;
    let h = harness();
    let e = h
        .run(
            &format!(
                r#"
id: dl
namespace: zoomcamp
tasks:
  - id: extract
    type: io.kestra.plugin.core.http.Download
    uri: "{base}/yellow_tripdata_2019-01.csv.gz"
  - id: size
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.extract.length }}}} {{{{ outputs.extract.code }}}}"
"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = runs(&e, "extract")[0].outputs.clone().unwrap();
    let uri = out["uri"].as_str().unwrap().to_string();
    assert!(uri.starts_with(&format!("kestra:///zoomcamp/dl/executions/{}/tasks/extract/", e.id)), "{uri}");
    assert!(uri.ends_with("yellow_tripdata_2019-01.csv.gz"), "{uri}");
    assert_eq!(runs(&e, "size")[0].outputs.as_ref().unwrap()["value"], "3000000 200");
    let path = storage_path(&uri).unwrap();
    let size = h.embedded.engine.storage.size(&path).await.unwrap();
    assert_eq!(size, Some(3_000_000));

    let purge = h
        .run(
            r#"
id: purge
namespace: zoomcamp
tasks:
  - id: extract
    type: io.kestra.plugin.core.debug.Return
    format: x
  - id: purge
    type: io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles
"#,
            json!({}),
        )
        .await;
    assert_eq!(purge.state.current, StateType::Success, "{:?}", purge.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_fails_with_the_status() {
    let base = serve(b"missing".to_vec(), 404).await;
    let h = harness();
    let e = h
        .run(
            &format!("id: dl\nnamespace: t\ntasks:\n  - id: get\n    type: io.kestra.plugin.core.http.Download\n    uri: {base}/x.csv\n"),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(runs(&e, "get")[0].error.as_deref().unwrap_or("").contains("404"), "{:?}", runs(&e, "get")[0].error);
}

/// A plain `password` or `token` in `options.auth` is not a secret: Kestra
/// masks only what comes from `secret()`, so an answer that holds the same
/// word is kept as it is in outputs and logs (it was rewritten to `******`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_auth_password_is_not_masked() {
    let base = serve(b"status: tiger ok".to_vec(), 200).await;
    let h = harness();
    let yaml = format!(
        r#"
id: plainauth
namespace: company.team
tasks:
  - id: basic
    type: io.kestra.plugin.core.http.Request
    uri: {base}/a
    options:
      auth:
        type: BASIC
        username: ann
        password: tiger
  - id: bearer
    type: io.kestra.plugin.core.http.Request
    uri: {base}/b
    options:
      auth:
        type: BEARER
        token: ok
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "got {{{{ outputs.basic.body }}}}"
"#
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    for id in ["basic", "bearer"] {
        let out = runs(&e, id)[0].outputs.as_ref().expect("outputs");
        assert_eq!(out["body"], "status: tiger ok", "{id}");
    }
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "got status: tiger ok"), "{logs:?}");
}
