//! Issue 53, item 4: ten `baton run` processes on one home at once, twice.
//! Every one ends its execution SUCCESS, none says "database is locked",
//! and the store holds each execution once, ended, its task runs all there.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shared::backend::StateStore;
use shared::backend::local::SqliteStore;
use shared::model::StateType;

use crate::support::baton_bin;

const RUNS: usize = 10;
const TASKS: usize = 6;

fn flow(dir: &Path, i: usize) -> std::path::PathBuf {
    let mut yaml = format!("id: busy{i}\nnamespace: company.team\ntasks:\n");
    for t in 0..TASKS {
        if t % 2 == 0 {
            yaml.push_str(&format!(
                "  - id: log{t}\n    type: io.kestra.plugin.core.log.Log\n    message: \"run {i} task {t}\"\n"
            ));
        } else {
            yaml.push_str(&format!(
                "  - id: sh{t}\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      \
                 type: io.kestra.plugin.core.runner.Process\n    commands:\n      - seq 1 200\n      \
                 - echo '::{{\"outputs\":{{\"n\":{t}}}}}::'\n"
            ));
        }
    }
    let path = dir.join(format!("busy{i}.yaml"));
    std::fs::write(&path, yaml).expect("flow");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_baton_runs_on_one_home_never_see_a_locked_database() {
    let dir = std::env::temp_dir().join(format!("baton-clis-{}", uuid::Uuid::new_v4().simple()));
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let flows: Vec<_> = (0..RUNS).map(|i| flow(&dir, i)).collect();
    for round in 0..2 {
        let started = Instant::now();
        let children: Vec<_> = flows
            .iter()
            .map(|f| {
                Command::new(baton_bin())
                    .arg("run")
                    .arg("-q")
                    .arg(f)
                    .env("BATON_HOME", &home)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn baton run")
            })
            .collect();
        for (i, child) in children.into_iter().enumerate() {
            let out = child.wait_with_output().expect("wait");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.to_lowercase().contains("database is locked"), "round {round}, run {i}: {err}");
            assert!(out.status.success(), "round {round}, run {i}: {err}");
        }
        assert!(started.elapsed() < Duration::from_secs(120), "round {round} took {:?}", started.elapsed());
    }
    let store = SqliteStore::open(&home.join("baton.db")).expect("store");
    let execs = store.list_executions(&Default::default()).await.expect("executions");
    assert_eq!(execs.len(), 2 * RUNS, "{execs:?}");
    for summary in &execs {
        let e = store.load_execution(&summary.id).await.expect("load").expect("execution");
        assert_eq!(e.state.current, StateType::Success, "{}", e.id);
        assert_eq!(e.task_run_list.len(), TASKS, "{}", e.id);
        assert!(e.task_run_list.iter().all(|t| t.state.current == StateType::Success), "{}", e.id);
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
