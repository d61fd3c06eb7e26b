//! `baton executions resume ID`: drives on an execution whose process died
//! (a `baton run` killed with `kill -9`, a machine that went down). The
//! flow is the revision the execution was created with, read from the
//! store; the attempts the dead process held are closed as lost and run
//! again (at least once, as after any worker loss); the execution then goes
//! on here, with `baton run`'s console, to its end.

use std::path::Path;

use anyhow::Context;
use shared::backend::StateStore;
use shared::backend::local::SqliteStore;
use shared::executor::StepOptions;
use shared::runtime::embedded::{Embedded, LocalOptions};
use shared::runtime::messages::ExecutionEvent;
use shared::runtime::secrets::{Secrets, envs_map};

use super::progress::Console;

pub async fn resume(home: &Path, store: &SqliteStore, id: &str) -> anyhow::Result<i32> {
    let e = store.load_execution(id).await?.with_context(|| format!("execution {id} not found"))?;
    if e.state.is_terminal() {
        eprintln!("execution {id} already ended {}", e.state.current);
        return Ok(1);
    }
    let (ns, flow_id, revision) = (e.namespace.clone(), e.flow_id.clone(), e.flow_revision);
    let (_, source) = store
        .load_flow(&ns, &flow_id, Some(revision))
        .await?
        .with_context(|| format!("revision {revision} of flow {ns}.{flow_id} is not stored in {}", home.display()))?;
    let embedded = Embedded::open_local(LocalOptions {
        home: home.to_path_buf(),
        workers: 4,
        echo_logs: true,
        secrets: Secrets::from_vars(std::env::vars()),
        envs: envs_map(std::env::vars()),
        progress: None,
        plugins: shared::plugins::PluginConfig::from_env(),
    })
    .with_context(|| format!("cannot open Baton home {}", home.display()))?;
    let engine = embedded.engine.clone();
    let flow = shared::runtime::flows::parse_flow(
        &format!("{ns}.{flow_id} (revision {revision})"),
        &source,
        &engine.registry,
        &engine.renderer,
    )
    .map_err(|d| {
        anyhow::anyhow!(
            "the stored flow no longer validates:\n{}",
            d.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("\n")
        )
    })?;
    engine.flows.insert(flow);
    let lost = shared::runtime::recovery::recover_execution(&engine, id).await?;
    eprintln!("▶ execution {id} of {ns}.{flow_id} resumed ({lost} attempt(s) its process left unfinished run again)");

    let console = Console::install();
    let updates = embedded.updates();
    let wake = ExecutionEvent::Wake { execution_id: id.to_string(), redispatch: true };
    embedded.executor.handle(&wake, StepOptions { redispatch_pending: true }).await?;
    let done = embedded.wait(id, updates, |u| Console::feed(&console, u)).await?;
    engine.logs.flush().await;
    Console::print_end(&console, &done);
    embedded.shutdown();
    Ok(if done.state.current.is_failed() { 1 } else { 0 })
}
