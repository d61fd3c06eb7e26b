//! The namespace-files contract suite: drives a [`NamespaceFiles`] only
//! through its trait and panics with a precise message when it misbehaves.
//! Run by the local folder, memory and GCS (fake-gcs-server) backends.
//! Every namespace it touches is fresh, and it deletes what it wrote.

use std::path::PathBuf;

use tokio::io::AsyncReadExt;

use super::{ChangeSet, NamespaceFile, NamespaceFiles, directory_entries};
use crate::{BackendError, ByteStream};

fn bytes(data: &[u8]) -> ByteStream {
    Box::pin(std::io::Cursor::new(data.to_vec()))
}

async fn read(files: &dyn NamespaceFiles, ns: &str, path: &str) -> String {
    let mut r = files.get(ns, path).await.unwrap_or_else(|e| panic!("get {ns}:{path}: {e}"));
    let mut s = String::new();
    r.read_to_string(&mut s).await.expect("read namespace file");
    s
}

async fn read_revision(files: &dyn NamespaceFiles, ns: &str, path: &str, revision: u32) -> String {
    let mut r =
        files.get_revision(ns, path, revision).await.unwrap_or_else(|e| panic!("get {ns}:{path}@{revision}: {e}"));
    let mut s = String::new();
    r.read_to_string(&mut s).await.expect("read namespace file revision");
    s
}

async fn paths(files: &dyn NamespaceFiles, ns: &str, dir: &str) -> Vec<String> {
    files.list(ns, dir).await.expect("list").into_iter().map(|f| f.path).collect()
}

/// A local file with `content` for change sets.
fn local(dir: &std::path::Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write local file");
    p
}

/// Writers racing on one file: each write is its own revision (none shared,
/// none lost), and the file ends as its last revision.
async fn concurrent_writers(files: &dyn NamespaceFiles, ns: &str) {
    const WRITERS: usize = 6;
    let writes = (0..WRITERS).map(|i| files.put(ns, "race.sql", bytes(format!("writer {i}").as_bytes())));
    for r in futures::future::join_all(writes).await {
        r.expect("a concurrent write");
    }
    let kept = files.revisions(ns, "race.sql").await.expect("revisions");
    assert_eq!(kept, (1..=WRITERS as u32).collect::<Vec<_>>(), "one revision per write, none shared or lost");
    let mut contents = Vec::new();
    for r in &kept {
        contents.push(read_revision(files, ns, "race.sql", *r).await);
    }
    assert_eq!(read(files, ns, "race.sql").await, contents[WRITERS - 1], "the file is its last revision");
    contents.sort();
    assert_eq!(contents, (0..WRITERS).map(|i| format!("writer {i}")).collect::<Vec<_>>(), "each write kept once");
    assert_eq!(files.delete(ns, "race.sql").await.expect("delete"), ["race.sql"]);
}

/// put/get/list/delete, Kestra paths, isolation between namespaces, and
/// change sets applied whole or not at all.
///
/// # Panics
/// When the store breaks the contract.
pub async fn namespace_files_contract(files: &dyn NamespaceFiles) {
    let run = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let ns = format!("contract.n{run}");
    let child = format!("{ns}.child");

    // put / get / list, with Kestra's leading-slash paths accepted
    assert_eq!(files.put(&ns, "/models/a.sql", bytes(b"select 1")).await.expect("put"), 8);
    files.put(&ns, "models/sub/b.sql", bytes(b"select 2")).await.expect("put");
    files.put(&ns, "README.md", bytes(b"# p")).await.expect("put");
    files.put(&ns, "models_extra.sql", bytes(b"x")).await.expect("put");
    files.put(&child, "c.sql", bytes(b"child")).await.expect("put child");
    assert_eq!(read(files, &ns, "models/a.sql").await, "select 1");
    assert_eq!(read(files, &ns, "/models/sub/b.sql").await, "select 2");
    assert_eq!(
        files.list(&ns, "").await.expect("list"),
        vec![
            NamespaceFile { path: "README.md".into(), size: 3 },
            NamespaceFile { path: "models/a.sql".into(), size: 8 },
            NamespaceFile { path: "models/sub/b.sql".into(), size: 8 },
            NamespaceFile { path: "models_extra.sql".into(), size: 1 },
        ],
        "a listing is recursive, sorted, relative to the namespace, and never shows a child namespace's files"
    );
    assert_eq!(paths(files, &ns, "/models").await, ["models/a.sql", "models/sub/b.sql"], "a folder, not a prefix");
    assert_eq!(
        directory_entries(&files.list(&ns, "/").await.expect("list"), &[], "/"),
        vec![
            ("README.md".to_string(), Some(3)),
            ("models".to_string(), None),
            ("models_extra.sql".to_string(), Some(1))
        ]
    );
    assert_eq!(paths(files, &child, "").await, ["c.sql"]);
    files.put(&ns, "models/a.sql", bytes(b"select 10")).await.expect("overwrite");
    assert_eq!(read(files, &ns, "models/a.sql").await, "select 10", "put replaces");

    // revisions: each write keeps one, read back by number
    assert_eq!(files.revisions(&ns, "models/a.sql").await.expect("revisions"), [1, 2], "a revision per write");
    assert_eq!(read_revision(files, &ns, "/models/a.sql", 1).await, "select 1");
    assert_eq!(read_revision(files, &ns, "models/a.sql", 2).await, "select 10");
    match files.get_revision(&ns, "models/a.sql", 3).await {
        Err(BackendError::NotFound { what }) => assert!(what.contains("revision 3"), "{what}"),
        Err(e) => panic!("a revision never written must be NotFound, got {e}"),
        Ok(_) => panic!("a revision never written must be NotFound"),
    }
    assert_eq!(paths(files, &ns, "/models").await, ["models/a.sql", "models/sub/b.sql"], "revisions are not listed");

    // revision history, and deleting one old revision (never the last)
    files.put(&ns, "models/a.sql", bytes(b"select 100")).await.expect("third write");
    let history = files.revision_history(&ns, "models/a.sql").await.expect("history");
    assert_eq!(history.iter().map(|r| r.revision).collect::<Vec<_>>(), [1, 2, 3], "history is ascending");
    assert!(history.iter().all(|r| r.updated.is_some()), "each revision is dated: {history:?}");
    assert!(history[0].updated <= history[2].updated, "older revisions are not newer: {history:?}");
    assert!(files.delete_revision(&ns, "models/a.sql", 1).await.expect("delete revision 1"));
    assert!(!files.delete_revision(&ns, "models/a.sql", 1).await.expect("delete it again"), "gone once");
    assert!(
        matches!(files.delete_revision(&ns, "models/a.sql", 3).await, Err(BackendError::Invalid(_))),
        "the last revision is the file: deleting it alone is refused"
    );
    assert_eq!(files.revisions(&ns, "models/a.sql").await.expect("revisions"), [2, 3]);
    assert_eq!(read(files, &ns, "models/a.sql").await, "select 100", "the file is untouched");
    assert_eq!(read_revision(files, &ns, "models/a.sql", 2).await, "select 10");
    files.put(&ns, "models/a.sql", bytes(b"select 10")).await.expect("back to 10");

    concurrent_writers(files, &ns).await;

    // the namespaces holding files: all, or one with its children
    let all = files.namespaces(None).await.expect("namespaces");
    assert!(all.contains(&ns) && all.contains(&child), "{all:?}");
    assert_eq!(files.namespaces(Some(&ns)).await.expect("namespaces under"), [ns.clone(), child.clone()]);
    assert_eq!(files.namespaces(Some(&child)).await.expect("namespaces under child"), vec![child.clone()]);

    // errors
    match files.get(&ns, "missing.sql").await {
        Err(BackendError::NotFound { what }) => assert!(what.contains("missing.sql"), "{what}"),
        Err(e) => panic!("a missing file must be NotFound, got {e}"),
        Ok(_) => panic!("a missing file must be NotFound"),
    }
    assert!(files.put(&ns, "../escape.sql", bytes(b"x")).await.is_err(), "'..' is refused");
    assert!(files.put("bad/ns", "a.sql", bytes(b"x")).await.is_err(), "a namespace with '/' is refused");
    assert!(files.list("", "").await.is_err(), "an empty namespace is refused");

    // kept empty folders: listed apart from files, shown by a folder view,
    // dropped with the folder enclosing them
    files.keep_folder(&ns, "/models/empty").await.expect("keep folder");
    files.keep_folder(&ns, "models/empty").await.expect("keep it again");
    assert_eq!(files.folders(&ns, "").await.expect("folders"), ["models/empty"]);
    assert_eq!(files.folders(&ns, "models").await.expect("folders under"), ["models/empty"]);
    assert!(files.folders(&child, "").await.expect("child folders").is_empty(), "namespaces apart");
    assert_eq!(paths(files, &ns, "/models").await, ["models/a.sql", "models/sub/b.sql"], "a folder is no file");
    let kept = files.folders(&ns, "").await.expect("folders");
    let entries = directory_entries(&files.list(&ns, "").await.expect("list"), &kept, "models");
    assert!(entries.contains(&("empty".to_string(), None)), "{entries:?}");
    files.keep_folder(&ns, "gone/soon").await.expect("keep folder");
    assert!(files.forget_folder(&ns, "gone/soon").await.expect("forget"), "a kept folder is forgotten");
    assert!(!files.forget_folder(&ns, "gone/soon").await.expect("forget again"));

    // delete: a file, then a folder
    assert_eq!(files.delete(&ns, "README.md").await.expect("delete"), ["README.md"]);
    assert!(files.delete(&ns, "README.md").await.expect("delete again").is_empty());
    let mut gone = files.delete(&ns, "/models").await.expect("delete folder");
    gone.sort();
    assert_eq!(gone, ["models/a.sql", "models/sub/b.sql"]);
    assert!(files.revisions(&ns, "models/a.sql").await.expect("revisions").is_empty(), "a delete drops revisions");
    assert!(files.folders(&ns, "").await.expect("folders").is_empty(), "a folder delete drops its kept folders");
    assert_eq!(paths(files, &ns, "").await, ["models_extra.sql"], "a folder delete leaves a sibling name alone");

    // change sets
    let tmp = std::env::temp_dir().join(format!("baton-nsfiles-contract-{run}"));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let changes = ChangeSet {
        writes: vec![
            ("a.sql".into(), local(&tmp, "1", "A")),
            ("dir/b.sql".into(), local(&tmp, "2", "B")),
            ("models_extra.sql".into(), local(&tmp, "3", "X2")),
        ],
        deletes: vec![],
    };
    files.apply(&ns, &changes).await.expect("apply");
    assert_eq!(paths(files, &ns, "").await, ["a.sql", "dir/b.sql", "models_extra.sql"]);
    assert_eq!(read(files, &ns, "models_extra.sql").await, "X2");
    assert_eq!(
        files.revisions(&ns, "models_extra.sql").await.expect("revisions"),
        [1, 2],
        "a change set keeps revisions"
    );
    assert_eq!(read_revision(files, &ns, "models_extra.sql", 1).await, "x");
    let changes =
        ChangeSet { writes: vec![("dir/c.sql".into(), local(&tmp, "4", "C"))], deletes: vec!["a.sql".into()] };
    files.apply(&ns, &changes).await.expect("apply with delete");
    assert_eq!(paths(files, &ns, "").await, ["dir/b.sql", "dir/c.sql", "models_extra.sql"]);

    // a change set that cannot be applied changes nothing
    let broken = ChangeSet {
        writes: vec![("dir/b.sql".into(), local(&tmp, "5", "NEW")), ("z.sql".into(), tmp.join("does-not-exist"))],
        deletes: vec!["models_extra.sql".into()],
    };
    assert!(files.apply(&ns, &broken).await.is_err(), "a write from a missing local file must fail");
    assert_eq!(paths(files, &ns, "").await, ["dir/b.sql", "dir/c.sql", "models_extra.sql"], "nothing half applied");
    assert_eq!(read(files, &ns, "dir/b.sql").await, "B", "nothing half applied");

    // clean up
    files.delete(&ns, "/").await.expect("delete all");
    files.delete(&child, "/").await.expect("delete child");
    assert!(paths(files, &ns, "").await.is_empty());
    let _ = std::fs::remove_dir_all(&tmp);
}
