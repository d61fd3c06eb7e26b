//! The contract every [`FlowFiles`] passes (the folder and the bucket).

use crate::flow_files::FlowFiles;

fn flow(namespace: &str, id: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: {namespace}\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )
}

/// Writes, reads, lists, rewrites and removes flows; panics naming the
/// broken promise.
pub async fn flow_files_contract(files: &dyn FlowFiles) {
    assert!(files.list().await.expect("list").is_empty(), "a new store lists no flow file");
    assert!(files.files_of("team", "a").await.expect("files_of").is_empty(), "no file declares an unknown flow");
    assert!(files.remove("team", "a").await.expect("remove").is_empty(), "removing an unknown flow removes nothing");

    let first = flow("team", "a", "one");
    let path = files.write("team", "a", &first).await.expect("write a new flow");
    assert_eq!(files.list().await.expect("list"), vec![path.clone()], "the written file is listed");
    assert_eq!(files.read(&path).await.expect("read").as_deref(), Some(first.as_str()), "read gives the text written");
    let of = files.files_of("team", "a").await.expect("files_of");
    assert_eq!(of.len(), 1, "one file declares the flow: {of:?}");
    assert_eq!((of[0].path.as_str(), of[0].source.as_str()), (path.as_str(), first.as_str()));

    // a new version goes over the file that declares the flow
    let second = flow("team", "a", "two");
    let again = files.write("team", "a", &second).await.expect("write a new version");
    assert_eq!(again, path, "a new version replaces the flow's file");
    assert_eq!(files.list().await.expect("list").len(), 1, "still one file");
    assert_eq!(files.read(&path).await.expect("read").as_deref(), Some(second.as_str()));

    // another flow, and one in another namespace with the same id
    let b = files.write("team", "b", &flow("team", "b", "b")).await.expect("write b");
    let other = files.write("other", "a", &flow("other", "a", "x")).await.expect("write other.a");
    let mut listed = files.list().await.expect("list");
    let mut expected = vec![path.clone(), b.clone(), other.clone()];
    expected.sort();
    listed.sort();
    assert_eq!(listed, expected, "three flows, three files");
    let of = files.files_of("team", "a").await.expect("files_of");
    assert_eq!(of.len(), 1, "the same id in another namespace is another flow: {of:?}");

    assert_eq!(files.remove("team", "a").await.expect("remove"), vec![path.clone()], "remove names the file");
    assert_eq!(files.read(&path).await.expect("read"), None, "a removed file reads as gone");
    assert!(files.files_of("team", "a").await.expect("files_of").is_empty());
    assert!(files.files_of("other", "a").await.expect("files_of").len() == 1, "other.a stays");
    assert!(files.remove("team", "a").await.expect("remove").is_empty(), "a second remove removes nothing");
    let mut left = files.list().await.expect("list");
    left.sort();
    let mut expected = vec![b, other];
    expected.sort();
    assert_eq!(left, expected);
}
