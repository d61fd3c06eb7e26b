//! Unit tests of `namespace.UploadFiles` on the in-memory backends.

use serde_json::json;
use tokio::io::AsyncReadExt;

use super::*;
use crate::core::test_support::Env;
use baton_backend::nsfiles::{NamespaceFiles, StoredNamespaceFiles};
use baton_executor::context::WORKING_DIRECTORY_ID;

const IN: &str = "/company/team/my-flow/executions/exec1/in.txt";

async fn content(files: &StoredNamespaceFiles, ns: &str, path: &str) -> String {
    let mut s = String::new();
    files.get(ns, path).await.unwrap().read_to_string(&mut s).await.unwrap();
    s
}

async fn paths(files: &StoredNamespaceFiles, ns: &str) -> Vec<String> {
    files.list(ns, "").await.unwrap().into_iter().map(|f| f.path).collect()
}

fn env_with_input() -> (Env, StoredNamespaceFiles) {
    let env = Env::new();
    env.storage.insert(IN, "new").unwrap();
    let files = StoredNamespaceFiles::new(env.storage.clone());
    (env, files)
}

#[tokio::test]
async fn uploads_a_files_map_under_the_destination() {
    let (env, files) = env_with_input();
    let uri = format!("kestra://{IN}");
    let out = env
        .run(
            &DEF,
            json!({"namespace": "dev", "filesMap": {"main.py": uri, "/lib/x.py": uri}, "destination": "/scripts"}),
        )
        .await
        .unwrap();
    assert!(out.outputs.is_empty());
    assert_eq!(paths(&files, "dev").await, ["scripts/lib/x.py", "scripts/main.py"]);
    assert_eq!(content(&files, "dev", "scripts/main.py").await, "new");
    // a JSON map, as `{{ outputs.unzip.files }}` renders; a missing file is skipped
    let map = json!({"a.txt": uri, "gone.txt": "kestra:///company/team/my-flow/executions/exec1/none"}).to_string();
    env.run(&DEF, json!({"namespace": "dev", "filesMap": map})).await.unwrap();
    assert_eq!(paths(&files, "dev").await, ["a.txt", "scripts/lib/x.py", "scripts/main.py"]);
    assert!(env.logs.text().iter().any(|l| l.starts_with("WARN filesMap: 'gone.txt' not uploaded")));
}

#[tokio::test]
async fn conflicts_overwrite_skip_or_fail_before_writing() {
    let (env, files) = env_with_input();
    files.put("dev", "a.txt", Box::pin(&b"old"[..])).await.unwrap();
    let uri = format!("kestra://{IN}");
    let props =
        |conflict: &str| json!({"namespace": "dev", "filesMap": {"a.txt": uri, "b.txt": uri}, "conflict": conflict});
    let e = env.run(&DEF, props("ERROR")).await.unwrap_err().to_string();
    assert!(e.contains("'/a.txt' already exists") && e.contains("ERROR"), "{e}");
    assert_eq!(paths(&files, "dev").await, ["a.txt"], "nothing written");
    env.run(&DEF, props("SKIP")).await.unwrap();
    assert_eq!(content(&files, "dev", "a.txt").await, "old");
    assert_eq!(content(&files, "dev", "b.txt").await, "new");
    assert!(env.logs.text().iter().any(|l| l.ends_with("1 skipped (already there)")), "{:?}", env.logs.text());
    env.run(&DEF, props("OVERWRITE")).await.unwrap();
    assert_eq!(content(&files, "dev", "a.txt").await, "new");
    assert_eq!(files.revisions("dev", "a.txt").await.unwrap(), [1, 2], "the old content is a revision");
}

#[tokio::test]
async fn uploads_working_directory_files_matching_the_patterns() {
    let (mut env, files) = env_with_input();
    env.context[WORKING_DIRECTORY_ID] = json!(format!("nsup-{}", uuid::Uuid::new_v4()));
    let dir = env.cx(&json!({})).working_dir().unwrap();
    for (p, c) in [("repo/dbt/models/a.sql", "a"), ("repo/dbt/b.sql", "b"), ("repo/x.txt", "x"), ("top.txt", "t")] {
        std::fs::create_dir_all(dir.join(p).parent().unwrap()).unwrap();
        std::fs::write(dir.join(p), c).unwrap();
    }
    env.run(&DEF, json!({"namespace": "dev", "files": ["glob:**/dbt/**", "*.txt"]})).await.unwrap();
    assert_eq!(paths(&files, "dev").await, ["repo/dbt/b.sql", "repo/dbt/models/a.sql", "top.txt"]);
    env.run(&DEF, json!({"namespace": "dev", "files": "[\"repo/x.txt\"]", "destination": "up"})).await.unwrap();
    assert_eq!(content(&files, "dev", "up/repo/x.txt").await, "x");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn refusals_name_the_property() {
    let (env, _) = env_with_input();
    let run = |p: serde_json::Value| {
        let env = &env;
        async move { env.run(&DEF, p).await.unwrap_err().to_string() }
    };
    let e = run(json!({"namespace": "dev"})).await;
    assert!(e.contains("files or filesMap is required"), "{e}");
    let e = run(json!({"namespace": "dev", "filesMap": {"a.txt": "hello world"}})).await;
    assert!(e.contains("'filesMap'") && e.contains("'a.txt'"), "{e}");
    let e = run(json!({"namespace": "dev", "filesMap": ["x"]})).await;
    assert!(e.contains("'filesMap'"), "{e}");
    let e = run(json!({"namespace": "dev", "filesMap": {"a": format!("kestra://{IN}")}, "conflict": "MERGE"})).await;
    assert!(e.contains("'conflict'") && e.contains("MERGE"), "{e}");
    let e = run(json!({"namespace": "dev", "filesMap": {"../a": format!("kestra://{IN}")}})).await;
    assert!(e.contains("'filesMap'") && e.contains(".."), "{e}");
    let e = run(json!({"namespace": "dev", "filesMap": {"a": "kestra:///other/ns/f/executions/e/x"}})).await;
    assert!(e.contains("'filesMap'"), "{e}");
    assert_eq!(Conflict::parse("skip").unwrap(), Conflict::Skip);
}
