//! Kestra's plugin-fs local tasks end to end (`io.kestra.plugin.fs.local.*`):
//! Copy, Move, Delete, List, Download(s) and Upload(s) inside the folders
//! `BATON_LOCAL_ALLOWED_PATHS` allows, and their refusals — a path outside,
//! no folder allowed, a symbolic link leading out, a missing property.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;

use crate::support::{Harness, harness_with_plugins, runs};

/// A fresh folder with `allowed/` (the only allowed folder) and `outside/`.
struct Dirs {
    root: PathBuf,
    allowed: PathBuf,
    outside: PathBuf,
}

impl Dirs {
    fn new() -> Dirs {
        let root = std::env::temp_dir().join(format!("baton-fs-local-{}", uuid::Uuid::new_v4()));
        let (allowed, outside) = (root.join("allowed"), root.join("outside"));
        std::fs::create_dir_all(&allowed).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let root = std::fs::canonicalize(root).unwrap();
        Dirs { allowed: root.join("allowed"), outside: root.join("outside"), root }
    }

    fn harness(&self) -> Harness {
        harness_with_plugins(PluginConfig {
            local_allowed_paths: vec![self.allowed.clone()],
            ..PluginConfig::default()
        })
    }

    /// Writes `text` at `rel` under `allowed/`.
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.allowed.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn flow(tasks: &str) -> String {
    format!("id: local\nnamespace: test\ntasks:\n{tasks}")
}

fn outputs<'a>(e: &'a shared::model::Execution, task: &str) -> &'a serde_json::Map<String, Value> {
    runs(e, task)[0].outputs.as_ref().expect("outputs")
}

async fn failed_with(h: &Harness, yaml: &str, inputs: Value, needle: &str) {
    let e = h.run(yaml, inputs).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains(needle)), "no '{needle}' in {logs:?}");
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_move_list_and_delete_inside_the_allowed_folder() {
    let d = Dirs::new();
    let h = d.harness();
    let a = d.allowed.display().to_string();
    d.write("in/a.csv", "a");
    d.write("in/b.txt", "b");
    d.write("in/sub/c.csv", "c");
    d.write("backup/a.csv", "old");
    // overwrite false: an existing target fails the task
    let copy = |overwrite: bool| {
        flow(&format!(
            "  - id: copy\n    type: io.kestra.plugin.fs.local.Copy\n    from: {a}/in/a.csv\n    to: {a}/backup/a.csv\n    overwrite: {overwrite}\n"
        ))
    };
    failed_with(&h, &copy(false), json!({}), "Target file already exists").await;
    assert_eq!(read(&d.allowed.join("backup/a.csv")), "old");
    let e = h.run(&copy(true), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(read(&d.allowed.join("backup/a.csv")), "a");

    let yaml = flow(&format!(
        "  - id: copy_dir\n    type: io.kestra.plugin.fs.local.Copy\n    from: {a}/in\n    to: {a}/copy\n\
         \x20 - id: list\n    type: io.kestra.plugin.fs.local.List\n    from: {a}/copy\n    regExp: \".*\\\\.csv$\"\n    recursive: true\n    sort: NAME_DESC\n\
         \x20 - id: flat\n    type: io.kestra.plugin.fs.local.List\n    from: {a}/copy\n\
         \x20 - id: move\n    type: io.kestra.plugin.fs.local.Move\n    from: {a}/copy/b.txt\n    to: {a}/moved\n\
         \x20 - id: move_dir\n    type: io.kestra.plugin.fs.local.Move\n    from: {a}/copy/sub\n    to: {a}/subdir\n\
         \x20 - id: delete_re\n    type: io.kestra.plugin.fs.local.Delete\n    from: {a}/in\n    regExp: \".*\\\\.csv$\"\n    recursive: true\n\
         \x20 - id: delete_missing\n    type: io.kestra.plugin.fs.local.Delete\n    from: {a}/nothing\n\
         \x20 - id: delete_tree\n    type: io.kestra.plugin.fs.local.Delete\n    from: {a}/copy\n    recursive: true\n"
    ));
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let list = outputs(&e, "list");
    assert_eq!(list["count"], json!(2));
    let names: Vec<&str> = list["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["c.csv", "a.csv"]);
    let first = &list["files"][0];
    assert_eq!(first["localPath"], json!(format!("file://{a}/copy/sub/c.csv")));
    assert_eq!(first["uri"], first["localPath"]);
    assert_eq!(first["parent"], json!(format!("{a}/copy/sub")));
    assert_eq!(first["size"], json!(1));
    assert_eq!(first["directory"], json!(false));
    assert!(first["modifiedDate"].as_str().unwrap().ends_with('Z'), "{first}");
    // not recursive: the folder's own files only
    assert_eq!(outputs(&e, "flat")["count"], json!(2));
    // moved: a file into an existing folder? `moved` did not exist, so it is the file
    assert_eq!(read(&d.allowed.join("moved")), "b");
    assert_eq!(read(&d.allowed.join("subdir/c.csv")), "c");
    let del = outputs(&e, "delete_re");
    assert_eq!(del["deleted"], json!(true));
    assert_eq!(del["uri"], json!(format!("file://{a}/in/")));
    let mut uris: Vec<&str> = del["uris"].as_array().unwrap().iter().map(|u| u.as_str().unwrap()).collect();
    uris.sort();
    assert_eq!(uris, [format!("file://{a}/in/a.csv"), format!("file://{a}/in/sub/c.csv")]);
    assert!(d.allowed.join("in/b.txt").exists());
    assert_eq!(outputs(&e, "delete_missing")["deleted"], json!(false));
    assert_eq!(outputs(&e, "delete_tree")["deleted"], json!(true));
    assert!(!d.allowed.join("copy").exists());

    // a folder is not deleted without recursive; errorOnMissing fails
    let yaml = flow(&format!("  - id: del\n    type: io.kestra.plugin.fs.local.Delete\n    from: {a}/in\n"));
    failed_with(&h, &yaml, json!({}), "cannot delete").await;
    let yaml = flow(&format!(
        "  - id: del\n    type: io.kestra.plugin.fs.local.Delete\n    from: {a}/none\n    errorOnMissing: true\n"
    ));
    failed_with(&h, &yaml, json!({}), &format!("File does not exist '{a}/none'")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_download_round_trip_through_internal_storage() {
    let d = Dirs::new();
    let h = d.harness();
    let a = d.allowed.display().to_string();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let path = "/test/upstream/executions/e0/in/data.bin";
    h.embedded.engine.storage.put(path, Box::pin(std::io::Cursor::new(data.clone()))).await.unwrap();
    let stored = format!("kestra://{path}");
    let sum = |tool: &str| {
        let local = d.root.join("sum.bin");
        std::fs::write(&local, &data).unwrap();
        let out = std::process::Command::new(tool).arg(&local).output().expect(tool);
        String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
    };
    let (sha, md5) = (sum("sha256sum"), sum("md5sum"));
    let yaml = format!(
        "id: local\nnamespace: test\ninputs:\n  - {{id: file, type: STRING}}\ntasks:\n\
         \x20 - id: upload\n    type: io.kestra.plugin.fs.local.Upload\n    from: \"{{{{ inputs.file }}}}\"\n    to: {a}/up/data.bin\n\
         \x20 - id: into_dir\n    type: io.kestra.plugin.fs.local.Upload\n    from: \"{{{{ inputs.file }}}}\"\n    to: {a}/up\n\
         \x20 - id: download\n    type: io.kestra.plugin.fs.local.Download\n    from: {a}/up/data.bin\n    validateChecksum: true\n    checksumExpected: {}\n\
         \x20 - id: md5\n    type: io.kestra.plugin.fs.local.Download\n    from: {a}/up/data.bin\n    checksumAlgorithm: MD5\n\
         \x20 - id: uploads\n    type: io.kestra.plugin.fs.local.Uploads\n    from:\n      one.bin: \"{{{{ outputs.download.uri }}}}\"\n      two.bin: \"{{{{ inputs.file }}}}\"\n    to: {a}/many\n\
         \x20 - id: uploads_list\n    type: io.kestra.plugin.fs.local.Uploads\n    from:\n      - \"{{{{ inputs.file }}}}\"\n    regExp: \".*\\\\.bin$\"\n    to: {a}/list\n\
         \x20 - id: downloads\n    type: io.kestra.plugin.fs.local.Downloads\n    from: {a}/many\n    action: MOVE\n    moveDirectory: {a}/archive\n",
        sha.to_uppercase()
    );
    let e = h.run(&yaml, json!({"file": stored})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let up = outputs(&e, "upload");
    assert_eq!(up["uri"], json!(format!("file://{a}/up/data.bin")));
    assert_eq!(up["size"], json!(data.len()));
    assert!(std::fs::read(d.allowed.join("up/data.bin")).unwrap() == data);
    assert_eq!(outputs(&e, "into_dir")["uri"], json!(format!("file://{a}/up/data.bin")));
    let down = outputs(&e, "download");
    assert_eq!(down["checksum"], json!(sha));
    assert_eq!(down["size"], json!(data.len()));
    assert!(h.read_storage(down["uri"].as_str().unwrap()).await == data, "download differs");
    assert_eq!(outputs(&e, "md5")["checksum"], json!(md5));
    let files = outputs(&e, "uploads")["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), 2);
    assert_eq!(outputs(&e, "uploads_list")["files"], json!([format!("file://{a}/list/data.bin")]));
    let downloads = outputs(&e, "downloads");
    assert_eq!(downloads["files"].as_array().unwrap().len(), 2);
    for name in ["one.bin", "two.bin"] {
        let uri = downloads["outputFiles"][format!("{a}/many/{name}")].as_str().expect(name);
        assert!(h.read_storage(uri).await == data, "{name} differs");
        assert!(!d.allowed.join("many").join(name).exists(), "{name} not moved");
        assert!(std::fs::read(d.allowed.join("archive").join(name)).unwrap() == data);
    }
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("'MD5' is deprecated")), "{logs:?}");

    // a wrong checksum stores nothing and fails; overwrite false refuses
    let yaml = flow(&format!(
        "  - id: d\n    type: io.kestra.plugin.fs.local.Download\n    from: {a}/up/data.bin\n    validateChecksum: true\n    checksumExpected: abc\n"
    ));
    failed_with(&h, &yaml, json!({}), "Checksum mismatch for file").await;
    let yaml = format!(
        "id: local\nnamespace: test\ninputs:\n  - {{id: file, type: STRING}}\ntasks:\n\
         \x20 - id: upload\n    type: io.kestra.plugin.fs.local.Upload\n    from: \"{{{{ inputs.file }}}}\"\n    to: {a}/up/data.bin\n    overwrite: false\n"
    );
    failed_with(&h, &yaml, json!({"file": format!("kestra://{path}")}), "Target file already exists").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_outside_the_allowed_folders_are_refused() {
    let d = Dirs::new();
    let h = d.harness();
    let (a, o) = (d.allowed.display().to_string(), d.outside.display().to_string());
    std::fs::write(d.outside.join("secret.txt"), "secret").unwrap();
    let copy = |from: &str, to: &str| {
        flow(&format!("  - id: copy\n    type: io.kestra.plugin.fs.local.Copy\n    from: {from}\n    to: {to}\n"))
    };
    let denied = format!("Access to path '{o}/secret.txt' is denied");
    failed_with(&h, &copy(&format!("{o}/secret.txt"), &format!("{a}/x")), json!({}), &denied).await;
    failed_with(
        &h,
        &copy(&format!("{o}/secret.txt"), &format!("{a}/x")),
        json!({}),
        &format!("'allowed-paths': '{a}'"),
    )
    .await;
    // climbing out with ".." is judged after normalizing
    failed_with(&h, &copy(&format!("{a}/../outside/secret.txt"), &format!("{a}/x")), json!({}), &denied).await;
    // a link inside the allowed folder leading outside is judged by its real path
    std::os::unix::fs::symlink(&d.outside, d.allowed.join("link")).unwrap();
    failed_with(&h, &copy(&format!("{a}/link/secret.txt"), &format!("{a}/x")), json!({}), &denied).await;
    let list = flow(&format!("  - id: list\n    type: io.kestra.plugin.fs.local.List\n    from: {a}/link\n"));
    failed_with(&h, &list, json!({}), &format!("Access to path '{o}' is denied")).await;
    let write =
        flow(&format!("  - id: copy\n    type: io.kestra.plugin.fs.local.Delete\n    from: {a}/link/new/file\n"));
    failed_with(&h, &write, json!({}), &format!("Access to path '{o}/new/file' is denied")).await;
    assert!(d.outside.join("secret.txt").exists());

    // no folder allowed: every task refuses
    let none = harness_with_plugins(PluginConfig::default());
    let yaml = flow(&format!("  - id: list\n    type: io.kestra.plugin.fs.local.List\n    from: {a}\n"));
    failed_with(&none, &yaml, json!({}), "The 'allowed-paths' configuration is required").await;
    failed_with(&none, &yaml, json!({}), "BATON_LOCAL_ALLOWED_PATHS").await;
}

#[test]
fn a_missing_required_property_is_named_with_its_place() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let yaml =
        "id: local\nnamespace: test\ntasks:\n  - id: copy\n    type: io.kestra.plugin.fs.local.Copy\n    from: /a\n";
    let (_, diags) = shared::validate::validate_source("f.yaml", yaml, &registry, &renderer);
    let text = format!("{diags:?}");
    assert!(text.contains("to") && text.contains("required"), "{text}");
    let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert!(shown.iter().any(|d| d.contains("f.yaml:4:") && d.contains("'to'")), "{shown:?}");
    // the Trigger is known (fs_local_trigger.rs runs it); without `from` it is refused
    let yaml = "id: local\nnamespace: test\ntasks:\n  - {id: l, type: io.kestra.plugin.core.log.Log, message: x}\ntriggers:\n  - id: t\n    type: io.kestra.plugin.fs.local.Trigger\n    interval: PT1M\n";
    let (_, diags) = shared::validate::validate_source("f.yaml", yaml, &registry, &renderer);
    let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert!(shown.iter().any(|d| d.contains("missing required property 'from'")), "{shown:?}");
    let (_, diags) = shared::validate::validate_source(
        "f.yaml",
        &yaml.replace("interval", "from: /a\n    interval"),
        &registry,
        &renderer,
    );
    assert!(diags.is_empty(), "{diags:?}");
}
