//! `PushFlows` and `PushNamespaceFiles` end to end against a real `git
//! http-backend` on loopback, read back with the `git` CLI: a dry run
//! changes nothing and says what would change; a push commits the saved
//! flows (children in subfolders, `revision:` dropped, the namespace
//! rewritten to `targetNamespace`) and removes what the instance no longer
//! has; a second push with nothing new makes no commit; a missing branch is
//! created from the default one; namespace files keep their paths, globs
//! pick them, an empty repository gets its first commit; rejected
//! credentials fail the task naming the repository, never the password.

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::git_http::{make_repo, serve_git};
use shared::model::{Execution, StateType};

use crate::support::runs;

fn repos() -> PathBuf {
    let d = std::env::temp_dir().join(format!("baton-git-push-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).expect("repos folder");
    d
}

/// `git` on the bare repository `bare`: its output.
fn git(bare: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("--git-dir").arg(bare).args(args).output().expect("git");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn outputs(e: &Execution, task: &str) -> serde_json::Value {
    serde_json::Value::Object(runs(e, task)[0].outputs.as_deref().cloned().unwrap_or_default())
}

async fn read(local: &shared::server::LocalServer, uri: &str) -> String {
    let mut s = String::new();
    let path = shared::backend::storage_path(uri).expect("uri");
    let mut r = local.engine.storage.get(&path).await.expect("diff file");
    tokio::io::AsyncReadExt::read_to_string(&mut r, &mut s).await.expect("read");
    s
}

fn push_flow(id: &str, url: &str, target: &str, extra: &str) -> String {
    format!(
        "id: {id}\nnamespace: ops\ntasks:\n  - id: push\n    type: io.kestra.plugin.git.PushFlows\n    url: {url}\n    \
         sourceNamespace: dev\n    targetNamespace: {target}\n    includeChildNamespaces: true\n    \
         authorName: Ada\n    authorEmail: ada@example.com\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn push_flows_commits_the_saved_flows_and_removes_what_is_gone() {
    let root = repos();
    let bare = make_repo(&root, "flows", "main", &[("_flows/stale.yml", "id: stale\n"), ("README.md", "keep\n")]);
    let server = serve_git(&root, None);
    let url = format!("{}/flows.git", server.base);
    let hello =
        "id: hello\nnamespace: dev\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let report = "id: report\nnamespace: dev.crm\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: dev\n    flowId: hello\n";
    let dry = push_flow("dry", &url, "prod", "    dryRun: true\n");
    let real = push_flow("real", &url, "prod", "    commitMessage: release {{ flow.id }}\n");
    let feature = push_flow("feature", &url, "staging", "    branch: feature\n    flows: hello\n");
    let (local, _dir) = crate::sched_support::api_server(
        "pushflows",
        &[
            ("hello.yml", hello),
            ("report.yml", report),
            ("dry.yml", &dry),
            ("real.yml", &real),
            ("feature.yml", &feature),
        ],
        None,
    )
    .await;
    let client = shared::server::client::Client::new(&local.url());
    let empty = serde_json::Map::new();
    let before = git(&bare, &["rev-parse", "main"]);

    // a dry run: the diff, and nothing pushed
    let e = client.start_execution("ops", "dry", &empty, &[], true).await.expect("dry");
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = outputs(&e, "push");
    assert!(out.get("commitId").is_none(), "{out}");
    let diff = read(&local, out["flows"].as_str().expect("flows")).await;
    assert!(diff.contains(r#"{changes:"0",file:"_flows/hello.yml",deletions:"-0",additions:"+6"}"#), "{diff}");
    assert!(diff.contains(r#"file:"_flows/crm/report.yml""#), "{diff}");
    assert!(diff.contains(r#"{changes:"0",file:"_flows/stale.yml",deletions:"-1",additions:"+0"}"#), "{diff}");
    assert_eq!(git(&bare, &["rev-parse", "main"]), before, "a dry run pushes nothing");

    // the push
    let e = client.start_execution("ops", "real", &empty, &[], true).await.expect("push");
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = outputs(&e, "push");
    let id = out["commitId"].as_str().expect("a commit").to_string();
    assert_eq!(git(&bare, &["rev-parse", "main"]).trim(), id);
    assert_eq!(out["commitURL"], format!("{}/flows/commit/{id}", server.base));
    let files = git(&bare, &["ls-tree", "-r", "--name-only", "main"]);
    assert_eq!(files, "README.md\n_flows/crm/report.yml\n_flows/hello.yml\n", "stale.yml is gone");
    let pushed = git(&bare, &["show", "main:_flows/crm/report.yml"]);
    assert!(pushed.contains("namespace: prod.crm\n") && pushed.contains("    namespace: prod\n"), "{pushed}");
    assert!(!pushed.contains("revision:"), "{pushed}");
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%an <%ae> %s", "main"]).trim(),
        "Ada <ada@example.com> release real"
    );

    // nothing new: no commit
    let e = client.start_execution("ops", "real", &empty, &[], true).await.expect("again");
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert!(outputs(&e, "push").get("commitId").is_none());
    assert_eq!(git(&bare, &["rev-parse", "main"]).trim(), id);

    // a branch the remote lacks: made from main; the glob picks hello only,
    // and delete spares what the glob does not match
    let e = client.start_execution("ops", "feature", &empty, &[], true).await.expect("feature");
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(git(&bare, &["rev-parse", "feature~1"]).trim(), id, "feature starts from main");
    let files = git(&bare, &["ls-tree", "-r", "--name-only", "feature"]);
    assert_eq!(files, "README.md\n_flows/crm/report.yml\n_flows/hello.yml\n");
    assert!(git(&bare, &["show", "feature:_flows/hello.yml"]).contains("namespace: staging\n"));
    local.shutdown().await;
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn push_namespace_files_keeps_paths_and_fills_an_empty_repository() {
    let root = repos();
    let bare = root.join("files.git");
    let init = Command::new("git").args(["init", "-q", "--bare", "-b", "main"]).arg(&bare).status().expect("git init");
    assert!(init.success());
    let server = serve_git(&root, Some(("bob", "s3cret")));
    let url = format!("{}/files.git", server.base);
    let flow = |id: &str, extra: &str| {
        format!(
            "id: {id}\nnamespace: team\ntasks:\n  - id: push\n    type: io.kestra.plugin.git.PushNamespaceFiles\n    \
             url: {url}\n    username: bob\n    gitDirectory: scripts\n{extra}"
        )
    };
    let ok = flow("ok", "    password: s3cret\n    files: \"**.py\"\n");
    let wrong = flow("wrong", "    password: nope-nope\n");
    let none = flow("none", "    password: s3cret\n    files: \"*.sql\"\n    errorOnMissing: true\n");
    let (local, _dir) = crate::sched_support::api_server(
        "pushns",
        &[("ok.yml", &ok), ("wrong.yml", &wrong), ("none.yml", &none)],
        None,
    )
    .await;
    let ns = shared::backend::nsfiles::namespace_files(local.engine.storage.clone());
    for (path, body) in [("main.py", "print(1)\n"), ("lib/util.py", "X = 2\n"), ("notes.txt", "n\n")] {
        ns.put("team", path, Box::pin(std::io::Cursor::new(body.as_bytes().to_vec()))).await.expect("put");
    }
    let client = shared::server::client::Client::new(&local.url());
    let empty = serde_json::Map::new();

    let e = client.start_execution("team", "ok", &empty, &[], true).await.expect("push");
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let id = outputs(&e, "push")["commitId"].as_str().expect("a commit").to_string();
    assert_eq!(git(&bare, &["rev-parse", "main"]).trim(), id, "the first commit of an empty repository");
    assert_eq!(git(&bare, &["ls-tree", "-r", "--name-only", "main"]), "scripts/lib/util.py\nscripts/main.py\n");
    assert_eq!(git(&bare, &["show", "main:scripts/lib/util.py"]), "X = 2\n");

    let e = client.start_execution("team", "wrong", &empty, &[], true).await.expect("wrong");
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "push")[0].error.clone().unwrap_or_default();
    assert!(
        err.contains("rejected the credentials") && err.contains("files.git") && !err.contains("nope-nope"),
        "{err}"
    );

    let e = client.start_execution("team", "none", &empty, &[], true).await.expect("none");
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "push")[0].error.clone().unwrap_or_default();
    assert!(err.contains("errorOnMissing"), "{err}");
    local.shutdown().await;
    let _ = std::fs::remove_dir_all(&root);
}
