//! `baton backfill FLOW --trigger ID --start T1 [--end T2] …`: one execution
//! per tick of a Schedule trigger, on the embedded runtime (returns when
//! they have ended) or, with `--server URL`, on a running `baton server
//! local`; and `baton backfill list|pause|resume|cancel`.
//!
//! Exit codes: 0 when every execution succeeded (or was skipped because it
//! already had), 1 when one failed or the backfill was paused or cancelled,
//! 2 for a bad flow, trigger, date or argument.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde_json::{Map, Value};
use shared::backend::local::SqliteStore;
use shared::backend::schedule::{Backfill, BackfillState, TriggerStore};
use shared::model::{Flow, Label};
use shared::runtime::backfill::{
    BackfillError, cancel_backfill, create_backfill, find_resumable, pause_backfill, resume_backfill, run_backfill,
};
use shared::runtime::flows::FlowRepository;
use shared::runtime::secrets::{Secrets, envs_map};
use shared::schedule::ScheduleTrigger;
use shared::server::api::{BackfillBody, backfill_request};
use shared::server::client::{Client, NewBackfill};
use shared::server::{LocalEngineOptions, open_local, resume_unfinished};

use super::args::{BackfillArgs, BackfillCommand, BackfillRunArgs, key_value};

pub async fn backfill(home: &Path, a: BackfillArgs) -> i32 {
    let result = match a.command {
        Some(cmd) => command(home, cmd).await,
        None => match a.run.server.clone() {
            Some(url) => remote(&url, a.run).await,
            None => local(home, a.run).await,
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// An argument problem: exit code 2.
fn usage(msg: impl std::fmt::Display) -> anyhow::Result<i32> {
    eprintln!("error: {msg}");
    Ok(2)
}

fn pairs(list: &[String], what: &str) -> Result<Vec<(String, String)>, String> {
    list.iter().map(|s| key_value(s).map_err(|e| format!("--{what} {e}"))).collect()
}

/// Loads `--flows` folders and FLOW (a file, or `namespace.id` of a loaded flow).
fn load_flows(engine: &shared::runtime::engine::Engine, flow: &str, dirs: &[PathBuf]) -> Result<Arc<Flow>, String> {
    for dir in dirs {
        for (path, e) in engine.flows.load_dir(dir, &engine.registry, &engine.renderer) {
            eprintln!("warning: {} not loaded:\n{e}", path.display());
        }
    }
    let path = Path::new(flow);
    if path.is_file() {
        let f = FlowRepository::load_file(path, &engine.registry, &engine.renderer)
            .map_err(|e| format!("{e}\n{flow} is not a valid flow"))?;
        return Ok(engine.flows.insert(f));
    }
    find_by_name(&engine.flows, flow).ok_or_else(|| {
        let names = engine.flows.all().into_iter().map(|f| (f.namespace.clone(), f.id.clone()));
        format!(
            "flow '{flow}' is neither a file nor namespace.id of a flow in --flows {}{}",
            dirs_text(dirs),
            did_you_mean(names, flow)
        )
    })
}

/// FLOW is `namespace.id`: when `given` is a flow's id alone (or the end of
/// one's full name), the full names that fit.
fn did_you_mean(names: impl Iterator<Item = (String, String)>, given: &str) -> String {
    let fits: Vec<String> =
        names.map(|(ns, id)| format!("{ns}.{id}")).filter(|full| full.ends_with(&format!(".{given}"))).collect();
    match fits.as_slice() {
        [] => String::new(),
        [one] => format!("; FLOW is namespace.id: did you mean {one}?"),
        many => format!("; FLOW is namespace.id: did you mean one of {}?", many.join(", ")),
    }
}

fn dirs_text(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        "(none given)".into()
    } else {
        dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
    }
}

/// `namespace.id` (namespaces and ids may both contain dots: every split is tried).
fn find_by_name(repo: &FlowRepository, name: &str) -> Option<Arc<Flow>> {
    name.match_indices('.').find_map(|(i, _)| repo.get(&name[..i], &name[i + 1..]))
}

/// `--trigger`, or the flow's only Schedule trigger.
fn trigger_id(flow: &Flow, given: Option<&str>) -> Result<String, String> {
    if let Some(t) = given {
        return Ok(t.to_string());
    }
    let ids: Vec<String> = ScheduleTrigger::of_flow(flow).into_iter().filter_map(|t| t.ok().map(|t| t.id)).collect();
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!("flow {}.{} has no Schedule trigger to backfill", flow.namespace, flow.id)),
        many => Err(format!(
            "flow {}.{} has several Schedule triggers: choose one with --trigger ({})",
            flow.namespace,
            flow.id,
            many.join(", ")
        )),
    }
}

fn body(a: &BackfillRunArgs, namespace: &str, flow_id: &str, trigger: String) -> Result<BackfillBody, String> {
    let Some(start) = a.start.clone() else { return Err("--start is required".into()) };
    let inputs: Map<String, Value> =
        pairs(&a.inputs, "input")?.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let labels: Vec<Value> = pairs(&a.labels, "label")?
        .into_iter()
        .map(|(key, value)| serde_json::json!({"key": key, "value": value}))
        .collect();
    Ok(BackfillBody {
        namespace: namespace.to_string(),
        flow_id: flow_id.to_string(),
        trigger_id: trigger,
        start,
        end: a.end.clone(),
        inputs,
        labels: Value::Array(labels),
        rerun_successful: a.rerun_successful,
    })
}

/// Prints progress: a bar of ticks handled on a terminal, else a line per
/// handled tick.
struct ProgressLine {
    bar: Option<indicatif::ProgressBar>,
    last: String,
}

impl ProgressLine {
    fn new() -> ProgressLine {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            let style = indicatif::ProgressStyle::with_template(
                "  {bar:40.cyan/blue} {pos}/{len} ticks  {percent:>3}%  {elapsed_precise}  eta {eta}  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style.progress_chars("█▉▊▋▌▍▎▏ "));
            bar
        });
        ProgressLine { bar, last: String::new() }
    }

    fn show(&mut self, b: &Backfill) {
        let p = &b.progress;
        let handled = p.succeeded + p.failed + p.skipped + p.conditions_false;
        if let Some(bar) = &self.bar {
            bar.set_length(p.total);
            bar.set_position(handled);
            bar.set_message(format!(
                "{} · {} running · {} succeeded · {} failed · {} skipped",
                b.state,
                p.launched.saturating_sub(p.succeeded + p.failed),
                p.succeeded,
                p.failed,
                p.skipped + p.conditions_false
            ));
            return;
        }
        let key = format!("{} {handled}", b.state);
        if key == self.last {
            return;
        }
        eprintln!(
            "backfill {} {}: {handled}/{} ticks — {} started, {} succeeded, {} failed, {} skipped (already succeeded), {} skipped (conditions false)",
            b.id, b.state, p.total, p.launched, p.succeeded, p.failed, p.skipped, p.conditions_false
        );
        self.last = key;
    }

    fn done(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn exit_code(b: &Backfill) -> i32 {
    match b.state {
        BackfillState::Success if b.progress.failed == 0 => 0,
        _ => 1,
    }
}

fn summary(b: &Backfill) {
    let p = &b.progress;
    eprintln!(
        "■ backfill {} {}: {} ticks, {} executions started, {} succeeded, {} failed, {} skipped, {} conditions false",
        b.id, b.state, p.total, p.launched, p.succeeded, p.failed, p.skipped, p.conditions_false
    );
    if let Some(e) = &p.error {
        eprintln!("  {e}");
    }
}

async fn open(
    home: &Path,
    workers: usize,
    verbose: bool,
) -> anyhow::Result<(shared::runtime::embedded::Embedded, Arc<dyn TriggerStore>)> {
    let secrets = Secrets::from_vars(std::env::vars());
    for bad in &secrets.invalid {
        eprintln!("warning: {bad} is not valid base64 and is ignored");
    }
    open_local(LocalEngineOptions {
        home: home.to_path_buf(),
        workers,
        echo_logs: verbose,
        secrets,
        envs: envs_map(std::env::vars()),
        plugins: shared::plugins::PluginConfig::from_env(),
        flows_dir: None,
        progress: None,
    })
    .with_context(|| format!("cannot open Baton home {}", home.display()))
}

/// Runs a backfill here until it ends (Ctrl-C leaves it to be resumed).
async fn drive(
    embedded: &shared::runtime::embedded::Embedded,
    store: &Arc<dyn TriggerStore>,
    id: &str,
) -> anyhow::Result<i32> {
    let mut line = ProgressLine::new();
    let engine = embedded.engine.clone();
    let result = {
        let mut show = |b: &Backfill| line.show(b);
        let run = run_backfill(&engine, store.as_ref(), id, &mut show);
        tokio::pin!(run);
        tokio::select! {
            r = &mut run => Some(r),
            _ = tokio::signal::ctrl_c() => None,
        }
    };
    line.done();
    match result {
        None => {
            eprintln!("interrupted: backfill {id} stays RUNNING; run the same command again to resume it");
            Ok(130)
        }
        Some(Ok(b)) => {
            engine.logs.flush().await;
            summary(&b);
            if b.state == BackfillState::Paused {
                eprintln!("backfill {id} is paused: `baton backfill resume {id}` continues it");
            }
            Ok(exit_code(&b))
        }
        Some(Err(e @ (BackfillError::Plan(_) | BackfillError::Schedule(_)))) => usage(e),
        Some(Err(e)) => Err(e.into()),
    }
}

async fn local(home: &Path, a: BackfillRunArgs) -> anyhow::Result<i32> {
    let Some(flow_arg) = a.flow.clone() else {
        return usage("FLOW is required (a file, or namespace.id with --flows DIR)");
    };
    let (embedded, store) = open(home, a.workers, a.verbose).await?;
    let flow = match load_flows(&embedded.engine, &flow_arg, &a.flows) {
        Ok(f) => f,
        Err(e) => return usage(e),
    };
    let trigger = match trigger_id(&flow, a.trigger.as_deref()) {
        Ok(t) => t,
        Err(e) => return usage(e),
    };
    let body = match body(&a, &flow.namespace, &flow.id, trigger) {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    let req = match backfill_request(&embedded.engine, body) {
        Ok(r) => r,
        Err(e) => return usage(e.message),
    };
    let (orphans, resumed) = resume_unfinished(&embedded).await?;
    if orphans + resumed > 0 {
        eprintln!("resumed {resumed} unfinished execution(s) of a previous run");
    }
    let backfill = match find_resumable(store.as_ref(), &req).await? {
        Some(b) => {
            eprintln!("▶ resuming backfill {} of {}.{} trigger {}", b.id, b.namespace, b.flow_id, b.trigger_id);
            b
        }
        None => match create_backfill(&embedded.engine, store.as_ref(), req).await {
            Ok(b) => {
                eprintln!(
                    "▶ backfill {} of {}.{} trigger {}: {} ticks",
                    b.id, b.namespace, b.flow_id, b.trigger_id, b.progress.total
                );
                b
            }
            Err(e @ BackfillError::Backend(_)) => return Err(e.into()),
            Err(e) => return usage(e),
        },
    };
    let code = drive(&embedded, &store, &backfill.id).await?;
    embedded.shutdown();
    Ok(code)
}

/// Without a FLOW: the Schedule triggers the server can backfill, one
/// `namespace.id --trigger ID` line each (exit 2: FLOW is still required).
async fn list_triggers(client: &Client, url: &str) -> anyhow::Result<i32> {
    let mut lines = Vec::new();
    for f in client.flows().await? {
        let (Some(ns), Some(id)) = (f["namespace"].as_str(), f["id"].as_str()) else { continue };
        for t in f["triggers"].as_array().into_iter().flatten() {
            if let (Some(tid), Some(cron)) = (t["id"].as_str(), t["cron"].as_str()) {
                let off = if t["disabled"] == Value::Bool(true) { " (disabled)" } else { "" };
                lines.push(format!("  {ns}.{id} --trigger {tid}    # cron \"{cron}\"{off}"));
            }
        }
    }
    if lines.is_empty() {
        eprintln!("error: FLOW is required, and the server at {url} has no flow with a Schedule trigger to backfill");
    } else {
        eprintln!("error: FLOW is required; the Schedule triggers the server at {url} can backfill:");
        for l in lines {
            println!("{l}");
        }
    }
    Ok(2)
}

async fn remote(url: &str, a: BackfillRunArgs) -> anyhow::Result<i32> {
    let client = Client::new(url);
    let Some(flow_arg) = a.flow.clone() else { return list_triggers(&client, url).await };
    let path = Path::new(&flow_arg);
    let (namespace, flow_id, flow) = if path.is_file() {
        let registry = shared::plugins::Registry::builtin();
        let renderer = shared::template::Renderer::new();
        match FlowRepository::load_file(path, &registry, &renderer) {
            Ok(f) => (f.namespace.clone(), f.id.clone(), Some(f)),
            Err(e) => return usage(format!("{e}\n{flow_arg} is not a valid flow")),
        }
    } else {
        let flows = client.flows().await?;
        let found = flows.iter().find_map(|f| {
            let (ns, id) = (f["namespace"].as_str()?, f["id"].as_str()?);
            (format!("{ns}.{id}") == flow_arg).then(|| (ns.to_string(), id.to_string(), f.clone()))
        });
        match found {
            Some((ns, id, json)) => {
                if a.trigger.is_none() {
                    match server_schedule(&json) {
                        Ok(t) => return remote_with(&client, url, &a, &ns, &id, t).await,
                        Err(e) => return usage(e),
                    }
                }
                (ns, id, None)
            }
            None => {
                let names = flows
                    .iter()
                    .filter_map(|f| Some((f["namespace"].as_str()?.to_string(), f["id"].as_str()?.to_string())));
                return usage(format!(
                    "the server at {url} has no flow '{flow_arg}'{}",
                    did_you_mean(names, &flow_arg)
                ));
            }
        }
    };
    let trigger = match (&a.trigger, &flow) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => match trigger_id(f, None) {
            Ok(t) => t,
            Err(e) => return usage(e),
        },
        (None, None) => return usage("--trigger is required"),
    };
    remote_with(&client, url, &a, &namespace, &flow_id, trigger).await
}

/// The only Schedule trigger of a flow as the server lists it (`cron` set),
/// or an error listing them.
fn server_schedule(flow: &Value) -> Result<String, String> {
    let name = format!("{}.{}", flow["namespace"].as_str().unwrap_or("?"), flow["id"].as_str().unwrap_or("?"));
    let ids: Vec<String> = flow["triggers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t.get("cron").is_some_and(Value::is_string))
        .filter_map(|t| t["id"].as_str().map(|id| format!("{id} (cron \"{}\")", t["cron"].as_str().unwrap_or(""))))
        .collect();
    match ids.as_slice() {
        [one] => Ok(one.split(' ').next().unwrap_or(one).to_string()),
        [] => Err(format!("flow {name} has no Schedule trigger to backfill")),
        many => {
            Err(format!("flow {name} has several Schedule triggers: choose one with --trigger: {}", many.join(", ")))
        }
    }
}

/// Creates the backfill of `namespace.flow_id` trigger `trigger` on the
/// server and follows it.
async fn remote_with(
    client: &Client,
    url: &str,
    a: &BackfillRunArgs,
    namespace: &str,
    flow_id: &str,
    trigger: String,
) -> anyhow::Result<i32> {
    let b = match body(a, namespace, flow_id, trigger) {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    let labels: Vec<Label> = shared::server::api::labels_from_json(&b.labels).unwrap_or_default();
    let new = NewBackfill {
        namespace: b.namespace,
        flow_id: b.flow_id,
        trigger_id: b.trigger_id,
        start: b.start,
        end: b.end,
        inputs: b.inputs,
        labels,
        rerun_successful: b.rerun_successful,
    };
    let created = match client.create_backfill(&new).await {
        Ok(c) => c,
        Err(shared::server::client::ClientError::Http { status, message, .. }) if (400..500).contains(&status) => {
            return usage(message);
        }
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "▶ backfill {} submitted to {url}: {} ticks (Ctrl-C stops watching; the server goes on)",
        created.id, created.progress.total
    );
    let mut line = ProgressLine::new();
    loop {
        let b = client.backfill(&created.id).await?;
        line.show(&b);
        if b.state != BackfillState::Running {
            line.done();
            summary(&b);
            return Ok(exit_code(&b));
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = tokio::signal::ctrl_c() => {
                line.done();
                eprintln!("stopped watching; backfill {} goes on in the server", created.id);
                return Ok(130);
            }
        }
    }
}

fn print_list(list: &[Backfill], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(list)?);
        return Ok(());
    }
    for line in list_lines(list, super::table::terminal_width()) {
        println!("{line}");
    }
    Ok(())
}

/// `backfill list` as a table: every column as wide as its widest cell
/// (the flow's name is cut first on a narrow terminal).
fn list_lines(list: &[Backfill], width: Option<usize>) -> Vec<String> {
    let short = |d: &chrono::DateTime<chrono::Utc>| d.format("%Y-%m-%d %H:%M").to_string();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|b| {
            let p = &b.progress;
            vec![
                b.id.clone(),
                format!("{}.{}", b.namespace, b.flow_id),
                b.trigger_id.clone(),
                b.state.as_str().to_string(),
                format!("{}/{}", p.succeeded + p.failed + p.skipped + p.conditions_false, p.total),
                format!("{} → {}", short(&b.start), short(&b.end)),
                short(&b.created),
            ]
        })
        .collect();
    super::table::render(&["ID", "FLOW", "TRIGGER", "STATE", "PROGRESS", "WINDOW", "CREATED"], &rows, 1, width)
}

fn open_store(home: &Path) -> anyhow::Result<SqliteStore> {
    let db = home.join("baton.db");
    anyhow::ensure!(db.exists(), "no Baton state in {} (set --home / BATON_HOME)", home.display());
    SqliteStore::open(&db).with_context(|| format!("cannot open {}", db.display()))
}

async fn command(home: &Path, cmd: BackfillCommand) -> anyhow::Result<i32> {
    match cmd {
        BackfillCommand::List { server: Some(url), json } => print_list(&Client::new(&url).backfills().await?, json)?,
        BackfillCommand::List { server: None, json } => {
            print_list(&open_store(home)?.list_backfills(None).await?, json)?
        }
        BackfillCommand::Pause { id, server: Some(url) } => {
            summary(&Client::new(&url).backfill_action(&id, "pause").await?)
        }
        BackfillCommand::Cancel { id, server: Some(url) } => {
            summary(&Client::new(&url).backfill_action(&id, "cancel").await?)
        }
        BackfillCommand::Pause { id, server: None } => {
            let b = pause_backfill(&open_store(home)?, &id).await?;
            summary(&b);
        }
        BackfillCommand::Cancel { id, server: None } => {
            let b = cancel_backfill(&open_store(home)?, &id).await?;
            summary(&b);
        }
        BackfillCommand::Resume { id, server: Some(url), .. } => {
            let b = Client::new(&url).backfill_action(&id, "resume").await?;
            summary(&b);
        }
        BackfillCommand::Resume { id, server: None, flows, workers, verbose } => {
            let (embedded, store) = open(home, workers, verbose).await?;
            let b = store.load_backfill(&id).await?.with_context(|| format!("backfill {id} not found"))?;
            for dir in &flows {
                for (path, e) in
                    embedded.engine.flows.load_dir(dir, &embedded.engine.registry, &embedded.engine.renderer)
                {
                    eprintln!("warning: {} not loaded:\n{e}", path.display());
                }
            }
            if embedded.engine.flows.get(&b.namespace, &b.flow_id).is_none() {
                return usage(format!(
                    "flow {}.{} is not loaded: give its folder with --flows DIR",
                    b.namespace, b.flow_id
                ));
            }
            resume_backfill(store.as_ref(), &id).await?;
            resume_unfinished(&embedded).await?;
            let code = drive(&embedded, &store, &id).await?;
            embedded.shutdown();
            return Ok(code);
        }
    }
    Ok(0)
}
