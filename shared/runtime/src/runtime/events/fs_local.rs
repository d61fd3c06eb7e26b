//! `fs.local.Trigger` evaluations: `baton server local`'s poller calls
//! [`poll`] every `interval`.
//!
//! A poll renders the trigger's properties, lists the folder (off the async
//! threads) and compares each file's version (modification time and URI,
//! as Kestra's stateful trigger) with the ones remembered in the state store
//! record `local-trigger/{stateKey}`, keyed by the file's identity (device
//! and inode): what is new or changed per `on` (at most `maxFiles`) is
//! recorded as a pending batch with its execution id — compare-and-swap on
//! the record, so of two polls at once one chooses the batch — then fired:
//! each file is streamed into the execution's files, the execution is
//! created under that id (the launcher creates an id once), and the
//! `action` is done. A process killed mid-way fires the same batch, under
//! the same id, at the next poll; a file the batch already moved or
//! deleted is passed over. A file already seen does not fire again while
//! it is unchanged and still there, so with action NONE each file starts
//! one execution.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{EventError, Seen, bound_seen, launch_event};

use crate::model::Flow;
use crate::model::ids::slugify;
use crate::plugins::TaskError;
use crate::plugins::context::execution_prefix;
use crate::plugins::fs_local::watch::Found;
use crate::runtime::engine::Engine;
use crate::triggers::fs_local::{LocalTrigger, TYPE, renderable};

/// The state store record kind of the polling state.
pub const RECORD_KIND: &str = "local-trigger";
/// Compare-and-swap attempts on the state before giving up (retried at the next poll).
const CAS_ATTEMPTS: usize = 8;

/// One file of a batch: where it was, and Kestra's `File` model of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detected {
    path: PathBuf,
    version: String,
    file: Value,
    is_new: bool,
}

/// A batch chosen, not yet fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pending {
    execution_id: String,
    files: Vec<Detected>,
}

/// The polling state of one trigger: the files seen, by identity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct PollState {
    #[serde(default)]
    seen: BTreeMap<String, Seen>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending: Option<Pending>,
}

/// What a poll did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub execution_id: String,
    /// False when the execution already existed (a duplicate).
    pub created: bool,
}

fn config(flow: &Flow, trigger: &str) -> impl Fn(TaskError) -> EventError {
    let (flow, trigger) = (flow.clone(), trigger.to_string());
    move |e| EventError::config(&flow, &trigger, e.to_string())
}

/// The trigger `trigger_id` of `flow`, its properties rendered and checked.
pub fn read(engine: &Engine, flow: &Flow, trigger_id: &str) -> Result<LocalTrigger, EventError> {
    let t = flow
        .triggers
        .iter()
        .find(|t| t.id == trigger_id)
        .ok_or_else(|| EventError::config(flow, trigger_id, "no such trigger"))?;
    let props = super::render_props(engine, flow, trigger_id, renderable(t))?;
    LocalTrigger::from_rendered(trigger_id, &props).map_err(config(flow, trigger_id))
}

/// Runs blocking disk work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TaskError> + Send + 'static,
) -> Result<T, TaskError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| TaskError::failed(format!("the local filesystem work stopped: {e}")))?
}

/// One evaluation of the trigger `trigger_id` of `flow` (see the module
/// documentation); `None` when nothing new was found.
pub async fn poll(engine: &Arc<Engine>, flow: &Flow, trigger_id: &str) -> Result<Option<Fired>, EventError> {
    let trig = read(engine, flow, trigger_id)?;
    if super::held_back(engine, flow, trigger_id, true, Utc::now()).await?.is_some() {
        return Ok(None);
    }
    let key = trig.stateful.state_key(flow, &trig.id);
    let allowed = engine.plugins.local_allowed_paths.clone();
    // what this poll fired, kept when another poll saved the state first
    let mut fired: Option<Fired> = None;
    for _ in 0..CAS_ATTEMPTS {
        let (ver, mut state): (u64, PollState) = super::load_state(engine, RECORD_KIND, &key).await?;
        if let Some(batch) = state.pending.take() {
            let f = fire(engine, flow, &trig, &allowed, &batch).await?;
            if fired.as_ref().is_none_or(|p| !p.created) {
                fired = Some(f);
            }
            if super::save_state(engine, RECORD_KIND, &key, ver, &state).await? {
                return Ok(fired);
            }
            continue;
        }
        let (watch, dirs) = (trig.watch.clone(), allowed.clone());
        let listed: Vec<Found> = blocking(move || watch.scan(&dirs)).await.map_err(config(flow, trigger_id))?;
        let now = Utc::now();
        let before = state.clone();
        // files gone from the folder are forgotten (moved, deleted)
        let present: HashSet<&str> = listed.iter().map(|f| f.key.as_str()).collect();
        state.seen.retain(|k, _| present.contains(k.as_str()));
        if let Some(ttl) = trig.stateful.state_ttl.and_then(|t| chrono::Duration::from_std(t).ok()) {
            state.seen.retain(|_, s| now - s.at <= ttl);
        }
        let mut batch = Vec::new();
        for f in listed {
            let prev = state.seen.get(&f.key).map(|s| s.version.clone());
            if prev.as_deref() == Some(f.version.as_str()) {
                continue;
            }
            let is_new = prev.is_none();
            if trig.stateful.on.fires(is_new) {
                if batch.len() == trig.stateful.max_files {
                    // the next poll takes it
                    continue;
                }
                batch.push(Detected { path: f.path, version: f.version.clone(), file: f.file, is_new });
            }
            state.seen.insert(f.key, Seen { version: f.version, at: now });
        }
        bound_seen(&mut state.seen, &key, TYPE);
        if batch.is_empty() {
            if state != before && !super::save_state(engine, RECORD_KIND, &key, ver, &state).await? {
                continue;
            }
            return Ok(fired);
        }
        let execution_id = execution_id(flow, &trig.id, &key, ver, &batch);
        state.pending = Some(Pending { execution_id, files: batch });
        // the next round fires the batch just recorded
        let _ = super::save_state(engine, RECORD_KIND, &key, ver, &state).await?;
    }
    Err(EventError::Contention { key })
}

/// The id of a batch's execution: the trigger, its state's version when the
/// batch was chosen (each batch is chosen at another) and the files.
fn execution_id(flow: &Flow, trigger_id: &str, state_key: &str, version: u64, batch: &[Detected]) -> String {
    let mut seed = format!("fs.local.Trigger\n{}\n{}\n{trigger_id}\n{state_key}\n{version}", flow.namespace, flow.id);
    for d in batch {
        seed.push_str(&format!("\n{}#{}", d.path.display(), d.version));
    }
    crate::model::ids::derived_id(&seed)
}

/// Creates the batch's execution (each file stored first) unless it
/// exists, then does the action.
async fn fire(
    engine: &Arc<Engine>,
    flow: &Flow,
    trig: &LocalTrigger,
    allowed: &[PathBuf],
    batch: &Pending,
) -> Result<Fired, EventError> {
    let id = &batch.execution_id;
    let created = if engine.state.load_execution(id).await?.is_some() {
        false
    } else {
        let mut files = Vec::with_capacity(batch.files.len());
        let mut used = HashSet::new();
        for d in &batch.files {
            let uri = stage(engine, flow, trig, id, &d.path, &mut used).await?;
            let mut f = d.file.clone();
            if let Value::Object(m) = &mut f {
                m.insert("uri".into(), json!(uri));
                m.insert("changeType".into(), json!(if d.is_new { "CREATE" } else { "UPDATE" }));
            }
            files.push(f);
        }
        let mut vars = Map::new();
        vars.insert("files".into(), Value::Array(files));
        launch_event(engine, flow, &trig.id, TYPE, id, vars).await?
    };
    let (watch, dirs) = (trig.watch.clone(), allowed.to_vec());
    let paths: Vec<PathBuf> = batch.files.iter().map(|d| d.path.clone()).collect();
    let journal = blocking(move || watch.finish(&dirs, &paths)).await.map_err(config(flow, &trig.id))?;
    for (_, line) in journal.lines() {
        tracing::debug!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %trig.id, "{line}");
    }
    Ok(Fired { execution_id: id.clone(), created })
}

/// Streams the file into internal storage under the execution's
/// `trigger/{trigger}/` folder, by its name (made unique among `used`);
/// returns its `kestra:///…` URI.
async fn stage(
    engine: &Engine,
    flow: &Flow,
    trig: &LocalTrigger,
    execution_id: &str,
    file: &Path,
    used: &mut HashSet<String>,
) -> Result<String, EventError> {
    let base = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    let name = (1..).map(|n| if n == 1 { base.clone() } else { format!("{n}-{base}") }).find(|c| !used.contains(c));
    let name = name.unwrap_or(base);
    used.insert(name.clone());
    let path =
        format!("{}/trigger/{}/{name}", execution_prefix(&flow.namespace, &flow.id, execution_id), slugify(&trig.id));
    // not through a symbolic link put in the file's place since it was listed
    let f = tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(file)
        .await
        .map_err(|e| EventError::config(flow, &trig.id, format!("cannot read '{}': {e}", file.display())))?;
    engine.storage.put(&path, Box::pin(f)).await?;
    Ok(format!("kestra://{path}"))
}
