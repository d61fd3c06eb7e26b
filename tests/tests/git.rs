//! Git tasks end to end against a real `git http-backend` served over
//! smart HTTP on loopback: `SyncNamespaceFiles` (add, overwrite, delete,
//! dry run, the diff file), `Clone` inside a `WorkingDirectory` shared
//! with a script task, and the bad inputs (unreachable repository, missing
//! branch, wrong credentials, missing `gitDirectory`), each a clear
//! failure that leaves the namespace as it was.

use std::path::PathBuf;

use e2e::git_http::{commit, make_repo, serve_git};
use serde_json::json;
use shared::backend::nsfiles::namespace_files;
use shared::model::{Execution, StateType};

use crate::support::{Harness, harness, runs};

/// A fresh folder for bare repositories.
fn repos() -> PathBuf {
    let d = std::env::temp_dir().join(format!("baton-git-repos-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).expect("repos folder");
    d
}

fn sync_flow(url: &str, extra: &str) -> String {
    format!(
        r#"
id: sync
namespace: team.dbt
tasks:
  - id: sync
    type: io.kestra.plugin.git.SyncNamespaceFiles
    url: {url}
    namespace: "{{{{ flow.namespace }}}}"
{extra}
"#
    )
}

async fn ns_paths(h: &Harness, ns: &str) -> Vec<String> {
    let files = namespace_files(h.embedded.engine.storage.clone());
    files.list(ns, "").await.expect("list").into_iter().map(|f| f.path).collect()
}

fn error(e: &Execution) -> String {
    format!("{:?}", e.error)
}

async fn failure(h: &Harness, e: &Execution) -> String {
    assert_eq!(e.state.current, StateType::Failed, "the task must fail");
    format!("{} {:?}", error(e), h.logs(&e.id).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_namespace_files_adds_overwrites_deletes_and_dry_runs() {
    let root = repos();
    make_repo(
        &root,
        "proj",
        "main",
        &[("dbt/models/a.sql", "select 1"), ("dbt/dbt_project.yml", "name: p"), ("other/x.txt", "x")],
    );
    let server = serve_git(&root, None);
    let url = format!("{}/proj.git", server.base);
    let h = harness();
    let files = namespace_files(h.embedded.engine.storage.clone());
    files.put("team.dbt", "old.sql", Box::pin(&b"old"[..])).await.expect("put");

    let e = h.run(&sync_flow(&url, "    branch: main\n    gitDirectory: dbt\n    dryRun: false"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{}", error(&e));
    assert_eq!(
        ns_paths(&h, "team.dbt").await,
        ["dbt_project.yml", "models/a.sql", "old.sql"],
        "delete is off by default"
    );
    let uri = runs(&e, "sync")[0].outputs.as_ref().expect("outputs")["files"].as_str().expect("files").to_string();
    let diff = String::from_utf8(h.read_storage(&uri).await).expect("utf8");
    assert!(diff.contains(r#"{gitPath:"dbt/models/a.sql",syncState:"ADDED",kestraPath:"/models/a.sql"}"#), "{diff}");

    // a second commit: one file changed, one removed; a dry run changes nothing
    commit(&root, "proj", "main", &[("dbt/models/a.sql", Some("select 2")), ("dbt/dbt_project.yml", None)]);
    let e = h.run(&sync_flow(&url, "    gitDirectory: dbt\n    delete: true\n    dryRun: true"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{}", error(&e));
    assert_eq!(
        ns_paths(&h, "team.dbt").await,
        ["dbt_project.yml", "models/a.sql", "old.sql"],
        "a dry run writes nothing"
    );
    let uri = runs(&e, "sync")[0].outputs.as_ref().expect("outputs")["files"].as_str().expect("files").to_string();
    let diff = String::from_utf8(h.read_storage(&uri).await).expect("utf8");
    assert!(diff.contains(r#"{syncState:"DELETED",kestraPath:"/old.sql"}"#), "{diff}");
    assert!(diff.contains(r#"syncState:"OVERWRITTEN",kestraPath:"/models/a.sql""#), "{diff}");

    let e = h.run(&sync_flow(&url, "    gitDirectory: dbt\n    delete: true"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{}", error(&e));
    assert_eq!(ns_paths(&h, "team.dbt").await, ["models/a.sql"]);
    let mut body = String::new();
    let mut r = files.get("team.dbt", "models/a.sql").await.expect("get");
    tokio::io::AsyncReadExt::read_to_string(&mut r, &mut body).await.expect("read");
    assert_eq!(body, "select 2");
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_git_inputs_fail_clearly_and_change_nothing() {
    let root = repos();
    make_repo(&root, "private", "main", &[("_files/a.sql", "select 1")]);
    let server = serve_git(&root, Some(("alice", "s3cret-token")));
    let url = format!("{}/private.git", server.base);
    let h = harness();
    let files = namespace_files(h.embedded.engine.storage.clone());
    files.put("team.dbt", "keep.sql", Box::pin(&b"keep"[..])).await.expect("put");

    // wrong credentials (the password never shows)
    let bad =
        h.run(&sync_flow(&url, "    username: alice\n    password: wrong-pass\n    delete: true"), json!({})).await;
    let msg = failure(&h, &bad).await;
    assert!(msg.contains("rejected the credentials") && msg.contains(&url), "{msg}");
    assert!(!msg.contains("wrong-pass"), "{msg}");

    // credentials in the URL are used, and never shown
    let with_creds = url.replace("http://", "http://alice:s3cret-token@");
    let ok = h.run(&sync_flow(&with_creds, "    gitDirectory: _files"), json!({})).await;
    assert_eq!(ok.state.current, StateType::Success, "{}", error(&ok));
    let logs = h.logs(&ok.id).await.join("\n");
    assert!(!logs.contains("s3cret-token"), "{logs}");
    files.delete("team.dbt", "a.sql").await.expect("reset");

    // a branch that does not exist
    let e =
        h.run(&sync_flow(&url, "    username: alice\n    password: s3cret-token\n    branch: nope"), json!({})).await;
    let msg = failure(&h, &e).await;
    assert!(msg.contains("branch 'nope' does not exist") && msg.contains(&url), "{msg}");

    // a gitDirectory that is not in the repository
    let e = h
        .run(
            &sync_flow(
                &url,
                "    username: alice\n    password: s3cret-token\n    gitDirectory: dbt/missing\n    delete: true",
            ),
            json!({}),
        )
        .await;
    let msg = failure(&h, &e).await;
    assert!(msg.contains("gitDirectory 'dbt/missing'") && msg.contains("branch 'main'") && msg.contains(&url), "{msg}");

    // a repository that cannot be reached
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://127.0.0.1:{}/gone.git", listener.local_addr().expect("addr").port());
    drop(listener);
    let e = h.run(&sync_flow(&dead, "    delete: true"), json!({})).await;
    let msg = failure(&h, &e).await;
    assert!(msg.contains("cannot reach the Git repository") && msg.contains(&dead), "{msg}");

    assert_eq!(ns_paths(&h, "team.dbt").await, ["keep.sql"], "no failure touched the namespace");
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_shares_a_working_directory_with_the_next_task() {
    let root = repos();
    make_repo(&root, "spotify", "main", &[("dbt/models/top.sql", "select 'song'"), ("README.md", "hi")]);
    let server = serve_git(&root, None);
    let h = harness();
    let flow = format!(
        r#"
id: clone
namespace: team.music
tasks:
  - id: wdir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: clone
        type: io.kestra.plugin.git.Clone
        url: {}/spotify.git
        branch: main
        directory: repo
      - id: ls
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - cat repo/dbt/models/top.sql
          - echo
          - ls repo
"#,
        server.base
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{}", error(&e));
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "select 'song'"), "{logs:?}");
    let dir = runs(&e, "clone")[0].outputs.as_ref().expect("outputs")["directory"].as_str().expect("dir").to_string();
    assert!(dir.ends_with("/repo"), "{dir}");
    let _ = std::fs::remove_dir_all(&root);
}

/// `SyncFlows` into `baton server local`'s flow store: subfolders become
/// child namespaces, the `namespace:` line follows the target, `delete`
/// removes what Git lacks but never the flow running the sync, a second
/// sync finds everything UNCHANGED, an invalid flow fails the sync before
/// anything is written, and `baton run` (no flow store) says why it cannot.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sync_flows_brings_a_repository_folder_into_the_flow_store() {
    let root = repos();
    let hello =
        "id: hello\nnamespace: dev\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let report = "id: report\nnamespace: dev.marketing.crm\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: crm\n";
    make_repo(
        &root,
        "flows",
        "main",
        &[("_flows/hello.yml", hello), ("_flows/marketing/crm/report.yml", report), ("README.md", "x")],
    );
    let server = serve_git(&root, None);
    let url = format!("{}/flows.git", server.base);

    let sync = format!(
        "id: sync\nnamespace: prod\ntasks:\n  - id: git\n    type: io.kestra.plugin.git.SyncFlows\n    url: {url}\n    branch: main\n    targetNamespace: prod\n    includeChildNamespaces: true\n    delete: true\n"
    );
    let old =
        "id: old\nnamespace: prod\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: old\n";
    let (local, dir) =
        crate::sched_support::api_server("syncflows", &[("sync.yml", &sync), ("old.yml", old)], None).await;
    let flows = dir.join("flows");
    let client = shared::server::client::Client::new(&local.url());
    let names = |list: Vec<serde_json::Value>| -> Vec<String> {
        let mut v: Vec<String> = list
            .iter()
            .map(|f| format!("{}.{}", f["namespace"].as_str().unwrap_or(""), f["id"].as_str().unwrap_or("")))
            .collect();
        v.sort();
        v
    };
    let empty = serde_json::Map::new();

    let e = client.start_execution("prod", "sync", &empty, &[], true).await.expect("sync");
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(names(client.flows().await.expect("flows")), ["prod.hello", "prod.marketing.crm.report", "prod.sync"]);
    let uri = runs(&e, "git")[0].outputs.as_ref().expect("outputs")["flows"].as_str().expect("flows").to_string();
    let storage = local.engine.storage.clone();
    let read = |uri: String| {
        let storage = storage.clone();
        async move {
            let mut s = String::new();
            let path = shared::backend::storage_path(&uri).expect("uri");
            tokio::io::AsyncReadExt::read_to_string(&mut storage.get(&path).await.expect("diff"), &mut s)
                .await
                .expect("read");
            s
        }
    };
    let diff = read(uri).await;
    assert!(
        diff.contains(r#"{gitPath:"_flows/hello.yml",syncState:"ADDED",flowId:"hello",namespace:"prod",revision:1}"#),
        "{diff}"
    );
    assert!(diff.contains(r#"gitPath:"_flows/marketing/crm/report.yml",syncState:"ADDED",flowId:"report",namespace:"prod.marketing.crm""#), "{diff}");
    assert!(diff.contains(r#"{syncState:"DELETED",flowId:"old",namespace:"prod""#), "{diff}");
    assert!(!diff.contains("flowId:\"sync\""), "the running flow is kept: {diff}");
    // the synced flow runs, from the store
    let ran = client.start_execution("prod.marketing.crm", "report", &empty, &[], true).await.expect("report");
    assert_eq!(ran.state.current, StateType::Success, "{:?}", ran.error);

    // again: nothing changed
    let again = client.start_execution("prod", "sync", &empty, &[], true).await.expect("sync");
    assert_eq!(again.state.current, StateType::Success, "{:?}", again.error);
    let uri = runs(&again, "git")[0].outputs.as_ref().expect("outputs")["flows"].as_str().expect("flows").to_string();
    let diff = read(uri).await;
    assert_eq!(diff.matches("UNCHANGED").count(), 2, "{diff}");

    // an invalid flow in Git: the sync fails naming it and writes nothing
    commit(
        &root,
        "flows",
        "main",
        &[
            (
                "_flows/bad.yml",
                Some("id: bad\nnamespace: dev\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Nope\n"),
            ),
            ("_flows/hello.yml", Some(&hello.replace("hi", "hello again"))),
        ],
    );
    let bad = client.start_execution("prod", "sync", &empty, &[], true).await.expect("sync");
    assert_eq!(bad.state.current, StateType::Failed);
    let err = runs(&bad, "git")[0].error.clone().unwrap_or_default();
    assert!(
        err.contains("_flows/bad.yml") && err.contains("nothing was synced") && err.contains("ignoreInvalidFlows"),
        "{err}"
    );
    let source = std::fs::read_to_string(flows.join("prod.hello.yml")).expect("hello stays");
    assert!(source.contains("message: hi"), "{source}");
    local.shutdown().await;

    // without a flow store
    let h = harness();
    let e = h.run(&sync.replace("id: sync", "id: sync_here"), json!({})).await;
    let why = failure(&h, &e).await;
    assert!(why.contains("baton server local") && why.contains("flow store"), "{why}");
}
