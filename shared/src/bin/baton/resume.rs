//! `baton executions resume ID [--input k=v]…`:
//!
//! - a **PAUSED** execution (a Pause task; `baton run` stops there and says
//!   so) is resumed with its Pause's `onResume` inputs (validated as the
//!   API does: required ones, types; a FILE input takes a local path,
//!   uploaded to the execution's storage, or a kestra:// URI), then driven
//!   on here to its end (or to its next pause);
//! - any other execution not ended is one whose process died (a `baton
//!   run` killed with `kill -9`, a machine that went down). The
//!   flow is the revision the execution was created with, read from the
//!   store; the attempts the dead process held are closed as lost and run
//!   again (at least once, as after any worker loss); the execution then goes
//!   on here, with `baton run`'s console, to its end.

use std::path::Path;

use anyhow::Context;
use serde_json::{Map, Value};
use shared::backend::StateStore;
use shared::backend::local::SqliteStore;
use shared::executor::StepOptions;
use shared::model::{Execution, Flow, StateType};
use shared::runtime::embedded::{Embedded, LocalOptions};
use shared::runtime::launcher;
use shared::runtime::messages::ExecutionEvent;
use shared::runtime::secrets::{Secrets, envs_map};

use super::args::key_value;
use super::progress::Console;

pub async fn resume(home: &Path, store: &SqliteStore, id: &str, given: &[String]) -> anyhow::Result<i32> {
    let e = store.load_execution(id).await?.with_context(|| format!("execution {id} not found"))?;
    if e.state.is_terminal() {
        eprintln!("execution {id} already ended {}", e.state.current);
        return Ok(1);
    }
    let paused = e.state.current == StateType::Paused;
    if !paused && !given.is_empty() {
        eprintln!(
            "error: execution {id} is {}, not PAUSED: --input is for a paused execution's onResume inputs",
            e.state.current
        );
        return Ok(2);
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
        sweep_in_background: false,
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
    let flow = engine.flows.insert(flow);
    let console = Console::install();
    let updates = embedded.updates();
    if paused {
        let mut inputs = Map::new();
        for i in given {
            let (k, v) = key_value(i).map_err(|e| anyhow::anyhow!("--input {e}"))?;
            inputs.insert(k, Value::String(v));
        }
        let (_, task) = shared::executor::paused_task(&flow, &e)?;
        let defs =
            shared::executor::on_resume(task).map_err(|m| anyhow::anyhow!("task '{}': onResume: {m}", task.id))?;
        if let Some(unknown) = inputs.keys().find(|k| !defs.iter().any(|d| &d.id == *k)) {
            let declared: Vec<&str> = defs.iter().map(|d| d.id.as_str()).collect();
            let declared = if declared.is_empty() { "none".to_string() } else { declared.join(", ") };
            eprintln!(
                "error: --input {unknown}: task '{}' has no such onResume input (it declares: {declared})",
                task.id
            );
            return Ok(2);
        }
        // FILE inputs given as local paths go to the execution's storage
        let mut as_flow = (*flow).clone();
        as_flow.inputs = defs;
        launcher::store_file_inputs(&engine, &as_flow, id, &mut inputs).await?;
        match shared::runtime::resume::resume(&engine, id, &inputs, None).await {
            Ok(_) => {}
            Err(e @ shared::runtime::resume::ResumeFailure::Refused(_)) => {
                eprintln!("error: {e}");
                return Ok(2);
            }
            Err(e) => return Err(e.into()),
        }
        eprintln!("▶ execution {id} of {ns}.{flow_id} resumed (task '{}')", task.id);
    } else {
        let lost = shared::runtime::recovery::recover_execution(&engine, id).await?;
        eprintln!(
            "▶ execution {id} of {ns}.{flow_id} resumed ({lost} attempt(s) its process left unfinished run again)"
        );
        let wake = ExecutionEvent::Wake { execution_id: id.to_string(), redispatch: true };
        embedded.executor.handle(&wake, StepOptions { redispatch_pending: true }).await?;
    }
    let done = embedded.wait_settled(id, updates, |u| Console::feed(&console, u), true).await?;
    engine.logs.flush().await;
    Console::print_end(&console, &done);
    if let Some(how) = paused_hint(&flow, &done) {
        eprintln!("{how}");
    }
    embedded.shutdown();
    Ok(if done.state.current.is_failed() { 1 } else { 0 })
}

/// For an execution left PAUSED by a Pause without a duration: which task,
/// the onResume inputs it takes, and how to resume it.
pub fn paused_hint(flow: &Flow, done: &Execution) -> Option<String> {
    let (_, task) = shared::executor::paused_task(flow, done).ok()?;
    let defs = shared::executor::on_resume(task).unwrap_or_default();
    let mut args = String::new();
    let mut lines = Vec::new();
    for d in &defs {
        let ty = shared::inputs::type_name(d.type_);
        let req = if d.is_required() && d.defaults.is_none() { "required" } else { "optional" };
        lines.push(format!("    {} ({ty}, {req})", d.id));
        if req == "required" {
            args.push_str(&format!(" --input {}=…", d.id));
        }
    }
    let mut out = format!(
        "⏸ execution {} is PAUSED at task '{}' until resumed: baton executions resume {}{args}\n  \
         (or the UI's Resume button / POST /api/v1/executions/{}/resume on `baton server local`)",
        done.id, task.id, done.id, done.id
    );
    if !lines.is_empty() {
        out.push_str(&format!("\n  onResume inputs:\n{}", lines.join("\n")));
    }
    Some(out)
}
