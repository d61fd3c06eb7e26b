//! Issue 22's last core tasks through `baton run` (the binary, the embedded
//! runtime, its SQLite KV and folder storage): `storage.DeduplicateItems`
//! and `storage.FilterItems` over an Ion file, their per-item expressions
//! reaching the task unrendered, and `kv.PurgeKV` deleting the expired keys
//! of a namespace and its children while live keys and other namespaces
//! stay (read back with `baton kv get`).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::sched_support::temp_dir;
use crate::support::baton_bin;

fn baton(home: &Path, args: &[&str]) -> Output {
    Command::new(baton_bin()).env("BATON_HOME", home).args(args).output().expect("baton runs")
}

/// Runs `flow` with `baton run --json`: the final execution.
fn run(home: &Path, name: &str, flow: &str) -> Value {
    let file = home.join(format!("{name}.yaml"));
    std::fs::create_dir_all(home).expect("home");
    std::fs::write(&file, flow).expect("write flow");
    let o = baton(home, &["run", file.to_str().expect("path"), "--json"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The outputs of task `id`'s (only) run.
fn outputs<'e>(exec: &'e Value, id: &str) -> &'e Value {
    let runs = exec["taskRunList"].as_array().expect("taskRunList");
    &runs.iter().find(|r| r["taskId"] == id).unwrap_or_else(|| panic!("no run of {id}: {exec}"))["outputs"]
}

const ITEMS: &str = r#"
id: items
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      {"id": 1, "country": "FR", "amount": 50}
      {"id": 2, "country": "US", "amount": 150}
      {id: 3, country: "FR", amount: 250}
      {"id": 4, "country": "DE", "amount": 10}
      {"id": 5, "country": "US", "amount": 300}
  - id: dedup
    type: io.kestra.plugin.core.storage.DeduplicateItems
    from: "{{ outputs.write.uri }}"
    expr: "{{ country }}"
  - id: filter
    type: io.kestra.plugin.core.storage.FilterItems
    from: "{{ outputs.dedup.uri }}"
    filterCondition: "{{ amount > 100 }}"
    filterType: EXCLUDE
  - id: keep
    type: io.kestra.plugin.core.kv.Set
    key: kept
    value: "{{ read(outputs.filter.uri) }}"
"#;

#[test]
fn deduplicate_and_filter_items_through_baton_run() {
    let dir = temp_dir("baton-core-items");
    let home = dir.join("home");
    let exec = run(&home, "items", ITEMS);
    assert_eq!(exec["state"]["current"], "SUCCESS", "{exec}");
    let d = outputs(&exec, "dedup");
    assert_eq!(
        (d["numKeys"].as_u64(), d["processedItemsTotal"].as_u64(), d["droppedItemsTotal"].as_u64()),
        (Some(3), Some(5), Some(2))
    );
    let f = outputs(&exec, "filter");
    assert_eq!((f["processedItemsTotal"].as_u64(), f["droppedItemsTotal"].as_u64()), (Some(3), Some(2)));
    let o = baton(&home, &["kv", "get", "-n", "company.team", "kept"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), r#"{"id": 4, "country": "DE", "amount": 10}"#);

    // an expression failing on an item (a name neither the item nor the context has) fails
    // the task: errorOrNullBehavior is FAIL by default
    let failing = ITEMS.replace("amount > 100", "amount > threshold");
    let file = home.join("failing.yaml");
    std::fs::write(&file, failing).expect("write");
    let o = baton(&home, &["run", file.to_str().expect("path")]);
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("threshold"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

const PURGE: &str = r#"
id: purge
namespace: system
tasks:
  - id: expired_parent
    type: io.kestra.plugin.core.kv.Set
    namespace: company
    key: old
    value: x
    ttl: PT0.001S
  - id: expired_child
    type: io.kestra.plugin.core.kv.Set
    namespace: company.team
    key: AI_old
    value: x
    ttl: PT0.001S
  - id: expired_elsewhere
    type: io.kestra.plugin.core.kv.Set
    namespace: other
    key: old
    value: x
    ttl: PT0.001S
  - id: live
    type: io.kestra.plugin.core.kv.Set
    namespace: company.team
    key: live
    value: stays
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.05S
  - id: purge
    type: io.kestra.plugin.core.kv.PurgeKV
    expiredOnly: true
    namespaces:
      - company
    includeChildNamespaces: true
"#;

#[test]
fn purge_kv_deletes_expired_keys_of_a_namespace_and_its_children() {
    let dir = temp_dir("baton-purge-kv");
    let home = dir.join("home");
    let exec = run(&home, "purge", PURGE);
    assert_eq!(exec["state"]["current"], "SUCCESS", "{exec}");
    assert_eq!(outputs(&exec, "purge")["size"].as_u64(), Some(2), "{exec}");
    let keys = |ns: &str| {
        let o = baton(&home, &["kv", "list", "-n", ns]);
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    assert!(keys("company.team").contains("live"), "{}", keys("company.team"));
    assert!(!keys("company.team").contains("AI_old"));
    // without `namespaces`: every namespace holding keys, `other` too
    let all = PURGE.replace("    namespaces:\n      - company\n", "");
    let exec = run(&home, "purge_all", &all);
    assert_eq!(outputs(&exec, "purge")["size"].as_u64(), Some(3), "{exec}");
    let _ = std::fs::remove_dir_all(dir);
}

fn corpus_flow(name: &str) -> String {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/kestra-corpus/valids");
    std::fs::read_to_string(dir.join(name)).expect("corpus flow")
}

fn read_uri(home: &Path, exec: &Value, uri: &str) -> String {
    // the embedded runtime's storage folder: BATON_HOME/storage/<path>
    let rel = uri.strip_prefix("kestra:///").unwrap_or_else(|| panic!("{uri}: {exec}"));
    let path = std::fs::read_dir(home)
        .expect("home")
        .flatten()
        .map(|e| e.path().join(rel))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{uri} is in no folder of {}", home.display()));
    std::fs::read_to_string(path).expect("stored file")
}

/// Kestra's WorkingDirectoryTest: inputFiles before the first task,
/// outputFiles after the last (as the WorkingDirectory's output), and a
/// cache restored by the next execution.
#[test]
fn working_directory_input_output_files_and_cache_as_kestras_tests() {
    let dir = temp_dir("baton-wd-files");
    let home = dir.join("home");
    let exec = run(&home, "inputs", &corpus_flow("working-directory-inputs.yml"));
    assert_eq!(exec["taskRunList"].as_array().map(Vec::len), Some(2));
    let uri = outputs(&exec, "inputFiles")["uris"]["input.txt"].as_str().expect("uris.input.txt").to_string();
    assert!(uri.ends_with("input.txt"), "{uri}");
    assert_eq!(read_uri(&home, &exec, &uri), "Hello World");

    let exec = run(&home, "outputs", &corpus_flow("working-directory-outputs.yml"));
    let files = outputs(&exec, "workingDir")["outputFiles"].as_object().expect("outputFiles").clone();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(read_uri(&home, &exec, files["output.txt"].as_str().expect("uri")), "Hello World");
    assert!(outputs(&exec, "outputFiles").get(shared::plugins::core::working_dir::OUTPUT_KEY).is_none());

    let flow = corpus_flow("working-directory-cache.yml");
    let exec = run(&home, "cache", &flow);
    assert_eq!(exec["taskRunList"].as_array().map(Vec::len), Some(3));
    assert_eq!(outputs(&exec, "exists")["uris"], serde_json::json!({}), "no cache yet: {exec}");
    let exec = run(&home, "cache", &flow);
    assert!(outputs(&exec, "exists")["uris"].get("hello.txt").is_some(), "the cache was restored: {exec}");
    // an expired cache is not restored (and is deleted)
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let exec = run(&home, "cache", &flow.replace("ttl: PT5m", "ttl: PT1S"));
    assert_eq!(outputs(&exec, "exists")["uris"], serde_json::json!({}), "expired: {exec}");
    let _ = std::fs::remove_dir_all(dir);
}
