//! Floods of short log lines (issue 53): a shell task printing millions of
//! one-byte lines through `baton run`, measured as a process — its peak
//! RSS, the growth of its SQLite file, the lines the store keeps, the WARN
//! naming the bound and the log file holding the rest —, the log files of
//! a ForEach of floods held to the execution's bound, and a script
//! printing many small `::{"outputs":…}::` lines.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use shared::backend::StateStore;
use shared::model::StateType;

use crate::support::{baton_bin, harness, runs};

/// Peak RSS of `baton` for a flood, bytes: about 70 MB measured (debug
/// build); 1.1 GB before the line bounds.
const MAX_RSS: u64 = 150 * 1024 * 1024;
/// Growth of the SQLite files for one flooding task: about 31 MB measured
/// (100,000 stored lines of about 300 bytes each) plus a write-ahead log
/// of up to 32 MiB (29 MB after `timeout 60 yes`); 850 MB before.
const MAX_DB: u64 = 96 * 1024 * 1024;

struct Flood {
    success: bool,
    stderr: String,
    peak_rss: u64,
    db_bytes: u64,
    took: Duration,
}

/// `VmHWM` (peak resident set) of `pid`, bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn db_bytes(home: &Path) -> u64 {
    ["baton.db", "baton.db-wal", "baton.db-shm"]
        .iter()
        .filter_map(|f| std::fs::metadata(home.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// Runs `commands` in a shell task with `baton run -q`, sampling the
/// process's peak RSS until it exits (killed past `limit`).
fn flood(home: &Path, id: &str, command: &str, limit: Duration) -> Flood {
    let yaml = format!(
        "id: {id}\nnamespace: company.team\ntasks:\n  - id: flood\n    \
         type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      \
         type: io.kestra.plugin.core.runner.Process\n    commands:\n      - {command}\n"
    );
    run_flow(home, id, &yaml, &[], limit)
}

/// Runs `yaml` with `baton run -q` and the settings `env`, sampling the
/// process's peak RSS until it exits (killed past `limit`).
fn run_flow(home: &Path, id: &str, yaml: &str, env: &[(&str, &str)], limit: Duration) -> Flood {
    let flow = home.join(format!("{id}.yaml"));
    std::fs::create_dir_all(home).expect("home");
    std::fs::write(&flow, yaml).expect("flow");
    let started = Instant::now();
    let mut child = Command::new(baton_bin())
        .arg("run")
        .arg("-q")
        .arg(&flow)
        .env("BATON_HOME", home)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn baton");
    let pid = child.id();
    let err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut { err }, &mut s);
        s
    });
    let mut peak = 0;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        peak = peak.max(peak_rss(pid).unwrap_or(0));
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("baton still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Flood {
        success: status.success(),
        stderr: reader.join().unwrap_or_default(),
        peak_rss: peak,
        db_bytes: db_bytes(home),
        took: started.elapsed(),
    }
}

/// The stored log messages of the home's only execution, read with the
/// CLI's store.
async fn stored_logs(home: &Path) -> Vec<String> {
    let store = shared::backend::local::SqliteStore::open(&home.join("baton.db")).expect("store");
    let execs = store.list_executions(&Default::default()).await.expect("executions");
    assert_eq!(execs.len(), 1, "{execs:?}");
    store.logs(&execs[0].id).await.expect("logs").into_iter().map(|l| l.message).collect()
}

fn check_bounds(f: &Flood, what: &str) {
    assert!(f.peak_rss > 0 && f.peak_rss < MAX_RSS, "{what}: peak RSS {} MB", f.peak_rss >> 20);
    assert!(f.db_bytes < MAX_DB, "{what}: the store grew to {} MB", f.db_bytes >> 20);
    eprintln!("{what}: peak RSS {} MB, store {} MB, {:?}", f.peak_rss >> 20, f.db_bytes >> 20, f.took);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_million_short_lines_keep_memory_and_the_store_bounded() {
    let home = std::env::temp_dir().join(format!("baton-flood-{}", uuid::Uuid::new_v4().simple()));
    let f = flood(&home, "flood", "yes | head -n 3000000", Duration::from_secs(240));
    assert!(f.success, "{}", f.stderr);
    check_bounds(&f, "yes | head -n 3000000");
    let logs = stored_logs(&home).await;
    assert!(logs.len() <= 100_003, "{} lines stored", logs.len());
    let warn = logs.iter().find(|l| l.contains("MAX_TASK_LOG_LINES, 100000 lines")).expect("a WARN naming the bound");
    let end = logs.iter().rev().find(|l| l.contains("lines (") && l.contains("past the task's log line bound"));
    let end = end.expect("the closing WARN with the counts");
    assert!(end.contains("2900001 lines (2900001 bytes)"), "{end}");
    // the rest is in the attempt's log file, named by both
    let uri = warn.split_whitespace().find(|w| w.starts_with("kestra://")).expect("the file's URI");
    assert!(end.contains(uri), "{end}");
    let path = shared::backend::storage_path(uri).expect("path");
    let file = home.join("storage").join(path.trim_start_matches('/'));
    let text = std::fs::read_to_string(&file).expect("the log file");
    assert_eq!(text.lines().count(), 2_900_001);
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yes_for_ten_seconds_ends_failed_with_the_bound_named() {
    let home = std::env::temp_dir().join(format!("baton-flood-{}", uuid::Uuid::new_v4().simple()));
    let f = flood(&home, "yes", "timeout 10 yes", Duration::from_secs(120));
    // `timeout` exits 124: the task and the execution fail, as in Kestra
    assert!(!f.success && f.stderr.contains("exit code 124"), "{}", f.stderr);
    check_bounds(&f, "timeout 10 yes");
    let logs = stored_logs(&home).await;
    assert!(logs.len() <= 100_003, "{} lines stored", logs.len());
    assert!(logs.iter().any(|l| l.contains("MAX_TASK_LOG_LINES")), "no WARN naming the bound");
    let _ = std::fs::remove_dir_all(&home);
}

/// The bytes of the attempts' log files (`log-xxxxx.txt`) under `dir`.
fn log_file_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => log_file_bytes(&e.path()),
            _ if e.file_name().to_string_lossy().starts_with("log-") => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// Four flooding task runs of one ForEach: each attempt's log file stays
/// under its own bound, the four together stop at the execution's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executions_log_files_stop_together_at_their_bound() {
    let home = std::env::temp_dir().join(format!("baton-flood-{}", uuid::Uuid::new_v4().simple()));
    let yaml = "id: files\nnamespace: company.team\ntasks:\n  - id: each\n    \
                type: io.kestra.plugin.core.flow.ForEach\n    values: [1, 2, 3, 4]\n    tasks:\n      \
                - id: flood\n        type: io.kestra.plugin.scripts.shell.Commands\n        \
                taskRunner:\n          type: io.kestra.plugin.core.runner.Process\n        \
                commands:\n          - yes | head -n 100000\n";
    // a file line is about 50 bytes: 5 MB a task run, 20 MB for the four
    let bound: u64 = 8 * 1024 * 1024;
    let env = [("BATON_MAX_TASK_LOG_LINES", "100"), ("BATON_MAX_EXECUTION_LOG_FILE_BYTES", "8388608")];
    let f = run_flow(&home, "files", yaml, &env, Duration::from_secs(120));
    assert!(f.success, "{}", f.stderr);
    let files = log_file_bytes(&home.join("storage"));
    assert!(files <= bound && files > bound - 100_000, "the log files hold {files} bytes");
    let logs = stored_logs(&home).await;
    let named = "the execution's log files bound (MAX_EXECUTION_LOG_FILE_BYTES, 8 MiB; \
                 BATON_MAX_EXECUTION_LOG_FILE_BYTES)";
    // (the 100 stored lines include the task's "Starting command" line)
    // the first task run's file holds all its 99,901 lines past the line
    // bound; the second's file stops at the execution's bound…
    assert!(logs.iter().any(|l| l.contains(&format!("reached {named}: the task's next lines are dropped"))));
    let cut: Vec<&String> = logs.iter().filter(|l| l.contains("more lines (") && l.contains(named)).collect();
    assert_eq!(cut.len(), 1, "{cut:?}");
    // …and the last two write none, saying so
    let none = format!(
        "99901 lines (99901 bytes) past the task's log line bound \
                        (MAX_TASK_LOG_LINES, 100 lines; BATON_MAX_TASK_LOG_LINES) were dropped, none written: {named}"
    );
    let warns: Vec<&String> = logs.iter().filter(|l| l.len() > 1 && !l.starts_with("Starting")).collect();
    assert_eq!(logs.iter().filter(|l| l.contains(&none)).count(), 2, "{warns:#?}");
    assert!(logs.len() < 420, "{} lines stored", logs.len());
    eprintln!("four flooding task runs: {files} bytes of log files, peak RSS {} MB", f.peak_rss >> 20);
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_small_protocol_outputs_fail_the_task_naming_their_bound() {
    let h = harness();
    let yaml = r#"id: outs
namespace: n
tasks:
  - id: outs
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - seq 1 300000 | sed 's/.*/::{"outputs":{"k&":"xxxxxxxxxxxxxxxxxxxx"}}::/'
"#;
    let e = h.run(yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "outs")[0].error.clone().unwrap_or_default();
    assert!(err.contains("MAX_SCRIPT_OUTPUTS_BYTES") && err.contains("4 MiB"), "{err}");
    // one key written again and again stays within it
    let yaml = yaml.replace("k&", "k").replace("id: outs", "id: same");
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", runs(&e, "same")[0].error);
    assert_eq!(
        runs(&e, "same")[0].outputs.as_ref().map(|o| o["vars"]["k"].clone()),
        Some(json!("xxxxxxxxxxxxxxxxxxxx"))
    );
}
