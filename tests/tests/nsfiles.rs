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

/// `baton nsfiles put` of a folder holding links to folders (one a loop
/// back to the folder itself) and a dangling link: it uploads every file
/// it reaches, once, and does not stop halfway.
#[test]
fn put_follows_folder_links_once_and_skips_loops_and_dangling_links() {
    use std::os::unix::fs::symlink;
    use std::process::Command;
    let dir = std::env::temp_dir().join(format!("baton-nslinks-{}", uuid::Uuid::new_v4()));
    let (src, other) = (dir.join("src"), dir.join("other"));
    std::fs::create_dir_all(src.join("a")).expect("dirs");
    std::fs::create_dir_all(&other).expect("dirs");
    std::fs::write(src.join("a/one.sql"), "select 1").expect("file");
    std::fs::write(src.join("z.sql"), "select 26").expect("file");
    std::fs::write(other.join("two.sql"), "select 2").expect("file");
    symlink(&other, src.join("linked")).expect("link");
    symlink(&src, src.join("a/loop")).expect("loop");
    symlink(dir.join("nothing"), src.join("dangling")).expect("dangling");
    let baton = |args: &[&str]| {
        Command::new(crate::support::baton_bin())
            .args(args)
            .env("BATON_HOME", dir.join("home"))
            .output()
            .expect("baton")
    };
    let put = baton(&["nsfiles", "put", "-n", "team", "/q", src.to_str().expect("path")]);
    let said = String::from_utf8_lossy(&put.stderr).to_string();
    assert!(put.status.success(), "{said}");
    assert!(said.contains("put 3 files under team:/q"), "{said}");
    assert!(said.contains("link loop") && said.contains("link to nothing"), "{said}");
    let list = baton(&["nsfiles", "list", "-n", "team"]);
    let listed = String::from_utf8_lossy(&list.stdout).to_string();
    for f in ["q/a/one.sql", "q/linked/two.sql", "q/z.sql"] {
        assert!(listed.contains(f), "{f} missing from {listed}");
    }
    let got = baton(&["nsfiles", "get", "-n", "team", "/q/linked/two.sql"]);
    assert_eq!(String::from_utf8_lossy(&got.stdout), "select 2");
    let _ = std::fs::remove_dir_all(&dir);
}
