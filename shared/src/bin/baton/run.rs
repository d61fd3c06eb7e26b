//! `baton run FLOW`: one execution on the embedded runtime, with live
//! progress on stderr and, with `--json`, the final execution on stdout in
//! the shape of Kestra's `GET /api/v1/executions/{id}`.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};
use shared::model::{Label, StateType};
use shared::plugins::Registry;
use shared::runtime::embedded::{Embedded, LocalOptions};
use shared::runtime::flows::{FlowLoadError, FlowRepository};
use shared::runtime::launcher::{self, LaunchError, LaunchRequest};
use shared::runtime::secrets::{Secrets, envs_map};
use shared::template::Renderer;

use super::args::{RunArgs, key_value};
use super::progress::{Console, TerminalProgress};

/// Exit codes: 0 SUCCESS/WARNING, 1 FAILED/KILLED/CANCELLED, 2 invalid flow or input.
pub async fn run(home: &Path, a: RunArgs) -> i32 {
    let registry = Registry::builtin();
    let renderer = Renderer::new();
    let flow = match FlowRepository::load_file(&a.flow, &registry, &renderer) {
        Ok(f) => f,
        Err(FlowLoadError::Invalid { diagnostics }) => {
            for d in diagnostics {
                eprintln!("{d}");
            }
            eprintln!("error: {} is not a valid flow", a.flow.display());
            return 2;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let mut inputs = Map::new();
    for i in &a.inputs {
        match key_value(i) {
            Ok((k, v)) => {
                inputs.insert(k, Value::String(v));
            }
            Err(e) => {
                eprintln!("error: --input {e}");
                return 2;
            }
        }
    }
    if let Some(unknown) = inputs.keys().find(|k| !flow.inputs.iter().any(|i| &i.id == *k)) {
        let declared: Vec<&str> = flow.inputs.iter().map(|i| i.id.as_str()).collect();
        let declared = if declared.is_empty() { "none".to_string() } else { declared.join(", ") };
        eprintln!("error: --input {unknown}: the flow has no such input (it declares: {declared})");
        return 2;
    }
    let mut labels = Vec::new();
    for l in &a.labels {
        match key_value(l) {
            Ok((key, value)) => labels.push(Label { key, value }),
            Err(e) => {
                eprintln!("error: --label {e}");
                return 2;
            }
        }
    }
    // off unless asked: a run is over before anyone could scrape it
    let metrics = match shared::prometheus::start(false) {
        Ok(on) => on,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let secrets = Secrets::from_vars(std::env::vars());
    for bad in &secrets.invalid {
        eprintln!("warning: {bad} is not valid base64 and is ignored");
    }
    // no room even for the failure reserve: refused before anything is
    // opened or started (a run would stop at its first write, at a point
    // that depends on what else frees or takes space meanwhile)
    if home.is_dir() {
        let guard = shared::runtime::diskfull::DiskGuard::open(home);
        if let Some(why) = guard.short_of_room() {
            eprintln!("error: {why}");
            return 1;
        }
    }
    let progress = TerminalProgress::new();
    let embedded = match Embedded::open_local(LocalOptions {
        home: home.to_path_buf(),
        workers: a.workers,
        echo_logs: !(a.quiet || a.progress),
        secrets,
        envs: envs_map(std::env::vars()),
        progress: progress.clone().map(|p| p as Arc<dyn shared::plugins::context::Progress>),
        plugins: shared::plugins::PluginConfig::from_env(),
        sweep_in_background: true,
    }) {
        Ok(e) => e,
        Err(e) => {
            let e = e.to_string();
            let hint = if shared::runtime::diskfull::looks_full(&e) || e.contains("disk I/O error") {
                " (is the disk holding it full? free space there)"
            } else {
                ""
            };
            eprintln!("error: cannot open Baton home {}: {e}{hint}", home.display());
            return 1;
        }
    };
    for dir in &a.flows {
        for (path, e) in embedded.engine.flows.load_dir(dir, &registry, &renderer) {
            eprintln!("warning: {} not loaded:\n{e}", path.display());
        }
    }
    let flow = embedded.engine.flows.insert(flow);
    // `-q` shows only failures, which the notable updates carry: the waiter
    // is not woken on every task run (`--progress` counts them all)
    let updates = if a.quiet && !a.progress { embedded.notable_updates() } else { embedded.updates() };
    let execution_id = shared::model::ids::new_id();
    if let Err(e) = launcher::store_file_inputs(&embedded.engine, &flow, &execution_id, &mut inputs).await {
        eprintln!("error: {e}");
        return 2;
    }
    let req = LaunchRequest { inputs, labels, execution_id: Some(execution_id), ..LaunchRequest::default() };
    // installed before the launch: a task that fails at once is heard too
    let console = Console::install_held(a.quiet || a.progress, a.progress);
    let exec = match embedded.launch(&flow, req).await {
        Ok(e) => e,
        Err(e @ (LaunchError::Inputs { .. } | LaunchError::Disabled { .. } | LaunchError::Blocked { .. })) => {
            eprintln!("error: {e}");
            return 2;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    Console::start(&console, &format!("▶ execution {} of {}.{} started", exec.id, flow.namespace, flow.id));
    let result = {
        // a Pause without a duration ends the run here: it waits for a resume
        // what is printed after a SUCCESS or WARNING needs no task run (`--json` does)
        let wait = embedded.wait_settled(&exec.id, updates, |u| Console::feed(&console, u), !a.json);
        tokio::pin!(wait);
        // Ctrl-C and SIGTERM both kill the execution (it must not stay
        // RUNNING); baton ends within KILL_GRACE even if the kill cannot be
        // recorded (a full disk), and at once on a second signal
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            r = &mut wait => r,
            _ = interrupted(&mut term) => {
                eprintln!("interrupted: killing execution {}", exec.id);
                let _ = tokio::time::timeout(KILL_GRACE, embedded.kill(&exec.id)).await;
                tokio::select! {
                    r = tokio::time::timeout(KILL_GRACE, &mut wait) => r.unwrap_or_else(|_| Err(
                        shared::backend::BackendError::Invalid(format!(
                            "execution {} did not end within {} s of the kill; it may be left RUNNING \
                             (`baton executions kill {}` ends it)", exec.id, KILL_GRACE.as_secs(), exec.id)))),
                    _ = interrupted(&mut term) => Err(shared::backend::BackendError::Invalid(format!(
                        "interrupted again: execution {} may be left RUNNING (`baton executions kill {}` ends it)",
                        exec.id, exec.id))),
                }
            }
        }
    };
    let done = match result {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    embedded.engine.logs.flush().await;
    Console::print_end(&console, &done);
    if let Some(hint) = trigger_hint(&flow, &done, &a.flow.display().to_string()) {
        eprintln!("hint: {hint}");
    }
    if let Some(how) = super::resume::paused_hint(&flow, &done) {
        eprintln!("{how}");
    }
    if a.json {
        match serde_json::to_string_pretty(&shared::api::executions::execution_json(&done)) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    embedded.shutdown();
    if metrics {
        write_metrics(home);
    }
    match done.state.current {
        StateType::Success | StateType::Warning | StateType::Paused => 0,
        _ => 1,
    }
}

/// With `BATON_METRICS=on`: the run's metrics to `home/metrics.prom`
/// (written aside, then renamed: a textfile collector never reads half).
fn write_metrics(home: &Path) {
    let Some(text) = shared::prometheus::render() else { return };
    let (tmp, path) = (home.join("metrics.prom.tmp"), home.join("metrics.prom"));
    if let Err(e) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path)) {
        eprintln!("warning: cannot write the run's metrics to {}: {e}", path.display());
    }
}

/// How long `baton run` waits for an interrupted execution to end.
const KILL_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The next Ctrl-C or SIGTERM.
async fn interrupted(term: &mut Option<tokio::signal::unix::Signal>) {
    let terminate = async {
        match term {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = terminate => {} }
}

/// Run by hand, a scheduled flow has no `trigger`: when a task failed on an
/// undefined `trigger.*`, say why and what to do instead.
fn trigger_hint(flow: &shared::model::Flow, done: &shared::model::Execution, file: &str) -> Option<String> {
    if !done.state.current.is_failed() || done.trigger.is_some() {
        return None;
    }
    let schedule = flow.triggers.iter().find(|t| t.type_.ends_with(".Schedule"))?;
    let failed_on_trigger =
        done.task_run_list.iter().filter_map(|t| t.error.as_deref()).any(|e| e.contains("'trigger."));
    failed_on_trigger.then(|| {
        format!(
            "{}.{} reads `trigger` variables, which only its Schedule trigger '{}' sets: run by hand there is \
             none. Run it for a date with `baton backfill {} --start DATE --end DATE` (trigger.date is set), or \
             default it in the flow: {{{{ trigger.date ?? execution.startDate }}}}",
            flow.namespace, flow.id, schedule.id, file
        )
    })
}
