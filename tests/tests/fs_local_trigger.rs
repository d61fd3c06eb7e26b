//! `io.kestra.plugin.fs.local.Trigger` end to end: one execution per new
//! file with action NONE, also when two polls race; a changed file fires
//! again as an UPDATE; `maxFiles` leaves the rest to the next poll; the
//! local poller with MOVE (one execution, files stored and readable, moved
//! into the archive folder); and the refusals — no allowed folder, a folder
//! outside them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use shared::model::StateType;
use shared::plugins::PluginConfig;

use crate::sched_support::{executions_of, wait_ended};
use crate::support::{Harness, harness_with_plugins};

/// A fresh folder holding `in/` (watched) and `archive/`, allowed.
struct Dirs {
    root: PathBuf,
}

impl Dirs {
    fn new() -> Dirs {
        let root = std::env::temp_dir().join(format!("baton-local-trigger-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(root.join("in")).unwrap();
        std::fs::create_dir_all(root.join("archive")).unwrap();
        Dirs { root: std::fs::canonicalize(root).unwrap() }
    }

    fn harness(&self, allowed: Vec<PathBuf>) -> Harness {
        harness_with_plugins(PluginConfig { local_allowed_paths: allowed, ..PluginConfig::default() })
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.root.join(rel), text).unwrap();
    }

    fn names(&self, dir: &str) -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(self.root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }

    fn flow(&self, extra: &str) -> String {
        format!(
            "id: folder\nnamespace: company.team\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.log.Log\n    \
             message: \"{{{{ trigger.files | length }}}} {{{{ trigger.files[0].name }}}} {{{{ trigger.files[0].changeType }}}} \
             {{{{ read(trigger.files[0].uri) }}}}\"\ntriggers:\n  - id: watch\n    type: io.kestra.plugin.fs.local.Trigger\n    \
             from: {}/in\n    interval: PT0.2S\n{extra}",
            self.root.display()
        )
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

async fn poll(h: &Harness, flow: &shared::model::Flow) -> Option<String> {
    let fired = shared::runtime::events::fs_local::poll(&h.embedded.engine, flow, "watch").await.expect("poll");
    fired.filter(|f| f.created).map(|f| f.execution_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_trigger_starts_one_execution_per_new_or_changed_file() {
    let d = Dirs::new();
    d.write("in/a.csv", "first");
    let h = d.harness(vec![d.root.clone()]);
    let flow = h.flow(&d.flow("    maxFiles: 2\n"));
    let engine = h.embedded.engine.clone();
    let first = poll(&h, &flow).await.expect("a new file starts an execution");
    assert_eq!(poll(&h, &flow).await, None, "a file seen does not fire again");
    let done = wait_ended(&engine, &first).await;
    assert_eq!(done.state.current, StateType::Success);
    let files = &done.trigger.as_ref().expect("trigger").variables["files"];
    assert_eq!((files[0]["name"].as_str(), files[0]["changeType"].as_str()), (Some("a.csv"), Some("CREATE")));
    assert_eq!(files[0]["size"], json!(5));
    assert!(files[0]["uri"].as_str().is_some_and(|u| u.starts_with("kestra:///")), "{files}");
    assert!(files[0]["localPath"].as_str().is_some_and(|u| u.ends_with("/in/a.csv")), "{files}");
    let logs = h.logs(&first).await.join("\n");
    assert!(logs.contains("1 a.csv CREATE first"), "{logs}");
    // two polls race over a new file: one execution
    d.write("in/b.csv", "second");
    let (a, b) = tokio::join!(poll(&h, &flow), poll(&h, &flow));
    assert_eq!(a.iter().chain(b.iter()).count(), 1, "{a:?} {b:?}");
    assert_eq!(executions_of(&engine, "company.team", "folder").await.len(), 2);
    // a changed file fires again, as an UPDATE (its modification time moves)
    tokio::time::sleep(Duration::from_millis(20)).await;
    d.write("in/a.csv", "changed");
    let update = poll(&h, &flow).await.expect("an update fires");
    let done = wait_ended(&engine, &update).await;
    let files = &done.trigger.as_ref().expect("trigger").variables["files"];
    assert_eq!((files[0]["name"].as_str(), files[0]["changeType"].as_str()), (Some("a.csv"), Some("UPDATE")));
    assert!(h.logs(&update).await.join("\n").contains("UPDATE changed"));
    // maxFiles 2: three new files start two executions, two then one
    for n in ["c", "d", "e"] {
        d.write(&format!("in/{n}.csv"), n);
    }
    let two = poll(&h, &flow).await.expect("two files");
    let one = poll(&h, &flow).await.expect("the third");
    assert_eq!(poll(&h, &flow).await, None);
    let count = |e: &shared::model::Execution| e.trigger.as_ref().unwrap().variables["files"].as_array().map(Vec::len);
    assert_eq!(count(&wait_ended(&engine, &two).await), Some(2));
    assert_eq!(count(&wait_ended(&engine, &one).await), Some(1));
    // nothing was moved or deleted (action NONE)
    assert_eq!(d.names("in"), ["a.csv", "b.csv", "c.csv", "d.csv", "e.csv"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_poller_moves_what_the_trigger_took() {
    let d = Dirs::new();
    d.write("in/a.csv", "alpha");
    d.write("in/b.csv", "beta");
    let h = d.harness(vec![d.root.clone()]);
    h.flow(&d.flow(&format!("    action: MOVE\n    moveDirectory: {}/archive\n", d.root.display())));
    let engine = h.embedded.engine.clone();
    let poller = Arc::new(shared::runtime::events::poller::EventPoller::new(engine.clone()));
    let mut moved = false;
    for _ in 0..100 {
        poller.pass();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if d.names("archive") == ["a.csv", "b.csv"] {
            moved = true;
            break;
        }
    }
    assert!(moved, "{:?} {:?}", d.names("in"), d.names("archive"));
    for _ in 0..5 {
        poller.pass();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    poller.abort_all();
    assert!(d.names("in").is_empty());
    let execs = executions_of(&engine, "company.team", "folder").await;
    assert_eq!(execs.len(), 1, "both files in one execution, once");
    let done = wait_ended(&engine, &execs[0].id).await;
    assert_eq!(done.state.current, StateType::Success);
    assert!(h.logs(&done.id).await.join("\n").contains("2 a.csv CREATE alpha"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_trigger_refuses_folders_it_may_not_read() {
    let d = Dirs::new();
    d.write("in/a.csv", "alpha");
    // the harness (and its home) lives until the poll has answered
    async fn run(d: &Dirs, allowed: Vec<PathBuf>) -> Result<(), shared::runtime::events::EventError> {
        let h = d.harness(allowed);
        let flow = h.flow(&d.flow(""));
        shared::runtime::events::fs_local::poll(&h.embedded.engine, &flow, "watch").await.map(|_| ())
    }
    let none = run(&d, Vec::new()).await.expect_err("no allowed folder");
    assert!(none.to_string().contains("BATON_LOCAL_ALLOWED_PATHS"), "{none}");
    let outside = run(&d, vec![d.root.join("archive")]).await.expect_err("outside");
    assert!(
        outside.to_string().contains("Access to path") && outside.to_string().contains("trigger 'watch'"),
        "{outside}"
    );
}

#[test]
fn a_move_into_the_watched_folder_is_a_validation_error() {
    let src = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n\
               triggers:\n  - id: w\n    type: io.kestra.plugin.fs.local.Trigger\n    from: /data/in\n    \
               recursive: true\n    action: MOVE\n    moveDirectory: /data/in/done\n";
    let (_, diags) = shared::validate::validate_source(
        "f.yaml",
        src,
        &shared::plugins::Registry::builtin(),
        &shared::template::Renderer::new(),
    );
    let text = diags.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(text.contains("f.yaml:13:5: triggers[0].moveDirectory") && text.contains("trigger again"), "{text}");
}
