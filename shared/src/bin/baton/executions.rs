//! `baton executions list|show|kill|resume` and `baton logs`: read the
//! embedded store; `kill` opens the engine to end an execution whose
//! process died (`resume`, in `resume.rs`, drives it on instead).

use std::path::Path;

use anyhow::Context;
use shared::backend::local::SqliteStore;
use shared::backend::{ExecutionFilter, ExecutionSummary, StateStore};
use shared::model::StateType;

use shared::runtime::embedded::{Embedded, LocalOptions};

use super::args::ExecutionsCommand;

fn open(home: &Path) -> anyhow::Result<SqliteStore> {
    let db = home.join("baton.db");
    anyhow::ensure!(db.exists(), "no Baton state in {} (run a flow first, or set --home / BATON_HOME)", home.display());
    // read only: listings work while the disk is full, and beside a server
    SqliteStore::open_read_only(&db).with_context(|| format!("cannot open {}", db.display()))
}

pub async fn executions(home: &Path, cmd: ExecutionsCommand) -> anyhow::Result<i32> {
    let store = open(home)?;
    match cmd {
        ExecutionsCommand::List { flow, namespace, state, limit, json } => {
            let state = match state.as_deref().map(|s| (s, StateType::parse(s))) {
                None => None,
                Some((_, Some(s))) => Some(s),
                Some((s, None)) => anyhow::bail!(
                    "--state '{s}' is not a state (CREATED, RUNNING, PAUSED, SUCCESS, WARNING, FAILED, KILLED, …)"
                ),
            };
            let list = list(&store, flow.as_deref(), namespace, state, limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|e| {
                        vec![
                            e.id.clone(),
                            format!("{}.{}", e.namespace, e.flow_id),
                            e.state.as_str().to_string(),
                            e.start_date.map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default(),
                            duration(e.start_date, e.end_date),
                        ]
                    })
                    .collect();
                let width = super::table::terminal_width();
                for line in super::table::render(&["ID", "FLOW", "STATE", "START (UTC)", "DURATION"], &rows, 1, width) {
                    println!("{line}");
                }
            }
        }
        ExecutionsCommand::Kill { id } => return kill(home, &store, &id).await,
        ExecutionsCommand::Resume { id, inputs } => return super::resume::resume(home, &store, &id, &inputs).await,
        ExecutionsCommand::Show { id, json } => {
            let e = store.load_execution(&id).await?.with_context(|| format!("execution {id} not found"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&shared::api::executions::execution_json(&e))?);
            } else {
                println!("execution {} of {}.{}: {}", e.id, e.namespace, e.flow_id, e.state.current);
                if let Some(err) = &e.error {
                    println!("  error: {err}");
                }
                for l in &e.labels {
                    println!("  label {}={}", l.key, l.value);
                }
                for tr in &e.task_run_list {
                    let v = tr.value.as_deref().map(|v| format!(" [{v}]")).unwrap_or_default();
                    println!(
                        "  {}{v} {} attempts={} {}",
                        tr.task_id,
                        tr.state.current,
                        tr.attempts.len(),
                        tr.state.duration().unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(0)
}

/// The executions `--flow` (`namespace.id`, as the list prints it, or a
/// bare id), `--namespace` and `--state` select, newest first.
async fn list(
    store: &SqliteStore,
    flow: Option<&str>,
    namespace: Option<String>,
    state: Option<StateType>,
    limit: usize,
) -> anyhow::Result<Vec<ExecutionSummary>> {
    let filter = |namespace: Option<String>, flow_id: Option<String>| ExecutionFilter {
        namespace,
        flow_id,
        state,
        limit: Some(limit),
        ..ExecutionFilter::default()
    };
    // `ns.id` is read as a namespace and an id first; a flow id may hold
    // dots too, so it is then tried whole
    if let (Some(f), None) = (flow, &namespace)
        && let Some((ns, id)) = f.rsplit_once('.')
    {
        let found = store.list_executions(&filter(Some(ns.to_string()), Some(id.to_string()))).await?;
        if !found.is_empty() {
            return Ok(found);
        }
    }
    Ok(store.list_executions(&filter(namespace, flow.map(str::to_string))).await?)
}

/// `850ms`, `4.2s`, `1m 05s`, `2h 03m`; `-` while it has no end.
fn duration(start: Option<chrono::DateTime<chrono::Utc>>, end: Option<chrono::DateTime<chrono::Utc>>) -> String {
    let (Some(s), Some(e)) = (start, end) else { return "-".into() };
    let ms = (e - s).num_milliseconds().max(0);
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m {:02}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h {:02}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// Kills an execution whose process is gone: the engine is opened on the
/// home, the kill goes through the executor as from the API, and the
/// command waits for the execution to end.
async fn kill(home: &Path, store: &SqliteStore, id: &str) -> anyhow::Result<i32> {
    let e = store.load_execution(id).await?.with_context(|| format!("execution {id} not found"))?;
    if e.state.is_terminal() {
        eprintln!("execution {id} already ended {}", e.state.current);
        return Ok(1);
    }
    let embedded = Embedded::open_local(LocalOptions {
        home: home.to_path_buf(),
        workers: 1,
        echo_logs: false,
        secrets: Default::default(),
        envs: Default::default(),
        progress: None,
        plugins: shared::plugins::PluginConfig::from_env(),
        sweep_in_background: false,
    })?;
    let updates = embedded.notable_updates();
    embedded.kill(id).await?;
    let done = tokio::time::timeout(std::time::Duration::from_secs(30), embedded.wait(id, updates, |_| {}))
        .await
        .with_context(|| format!("execution {id} did not end within 30 s of the kill"))??;
    eprintln!("execution {id} {}", done.state.current);
    embedded.shutdown();
    Ok(0)
}

pub async fn logs(home: &Path, id: &str, json: bool) -> anyhow::Result<i32> {
    let store = open(home)?;
    let logs = store.logs(id).await?;
    if logs.is_empty() && store.load_execution(id).await?.is_none() {
        anyhow::bail!("execution {id} not found");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&logs)?);
    } else {
        for l in logs {
            println!(
                "{} {:<5} [{}] {}",
                l.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                l.level,
                l.task_id.as_deref().unwrap_or("-"),
                l.message
            );
        }
    }
    Ok(0)
}
