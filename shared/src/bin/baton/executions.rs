//! `baton executions list|show|kill|resume` and `baton logs`: read the
//! embedded store; `kill` opens the engine to end an execution whose
//! process died (`resume`, in `resume.rs`, drives it on instead).

use std::path::Path;

use anyhow::Context;
use shared::backend::local::SqliteStore;
use shared::backend::{ExecutionFilter, StateStore};

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
        ExecutionsCommand::List { flow, namespace, limit, json } => {
            let list = store
                .list_executions(&ExecutionFilter {
                    namespace,
                    flow_id: flow,
                    limit: Some(limit),
                    ..ExecutionFilter::default()
                })
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!("{:<24} {:<30} {:<10} {:<25} END", "ID", "FLOW", "STATE", "START");
                for e in list {
                    println!(
                        "{:<24} {:<30} {:<10} {:<25} {}",
                        e.id,
                        format!("{}.{}", e.namespace, e.flow_id),
                        e.state.as_str(),
                        e.start_date.map(|d| d.to_rfc3339()).unwrap_or_default(),
                        e.end_date.map(|d| d.to_rfc3339()).unwrap_or_default()
                    );
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
                        tr.state.duration.as_deref().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(0)
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
    })?;
    let updates = embedded.updates();
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
