//! `fs.local.Trigger` evaluations: `baton server local`'s poller calls
//! [`poll`] every `interval`.
//!
//! A poll renders the trigger's properties, lists the folder (off the async
//! threads) and compares each file's version (modification time and URI,
//! as Kestra's stateful trigger) with the ones remembered in the state store
//! record `local-trigger/{stateKey}`, keyed by the file's identity (device
//! and inode): what is new or changed per `on` (at most `maxFiles`) is
//! recorded as a pending batch with its execution id — compare-and-swap on
//! the record, so of two polls at once one chooses the batch (the loop
//! S3's trigger shares, [`super::batched`]) — then fired:
//! each file is streamed into the execution's files, the execution is
//! created under that id (the launcher creates an id once), and the
//! `action` is done. A process killed mid-way fires the same batch, under
//! the same id, at the next poll; a file the batch already moved or
//! deleted is passed over. A file already seen does not fire again while
//! it is unchanged and still there, so with action NONE each file starts
//! one execution.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use super::batched::Fired;
use super::batched::{self, Listed, Pending, Source};
use super::{EventError, launch_event};

use crate::model::Flow;
use crate::plugins::TaskError;
use crate::plugins::fs_local::watch::Found;
use crate::runtime::engine::Engine;
use crate::triggers::fs_local::{LocalTrigger, TYPE};
use crate::triggers::stateful::renderable;

/// The state store record kind of the polling state.
pub const RECORD_KIND: &str = "local-trigger";

/// What a batch keeps of a file: where it was, its version, and Kestra's
/// `File` model of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    path: PathBuf,
    version: String,
    file: Value,
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

/// The folder a trigger watches, as [`batched::poll`] lists and fires it.
struct Folder<'a> {
    engine: &'a Arc<Engine>,
    flow: &'a Flow,
    trig: &'a LocalTrigger,
    allowed: Vec<PathBuf>,
}

impl Source for Folder<'_> {
    type Item = File;
    const RECORD_KIND: &'static str = RECORD_KIND;
    const TYPE: &'static str = TYPE;

    async fn list(&self) -> Result<Vec<Listed<File>>, EventError> {
        let (watch, dirs) = (self.trig.watch.clone(), self.allowed.clone());
        let found: Vec<Found> = blocking(move || watch.scan(&dirs)).await.map_err(config(self.flow, &self.trig.id))?;
        Ok(found
            .into_iter()
            .map(|f| Listed {
                key: f.key,
                version: f.version.clone(),
                item: File { path: f.path, version: f.version, file: f.file },
            })
            .collect())
    }

    async fn fire(&self, batch: &Pending<File>) -> Result<Fired, EventError> {
        fire(self.engine, self.flow, self.trig, &self.allowed, batch).await
    }

    fn seed(f: &File) -> String {
        format!("{}#{}", f.path.display(), f.version)
    }
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
    let folder = Folder { engine, flow, trig: &trig, allowed };
    batched::poll(engine, flow, trigger_id, &key, &trig.stateful, &folder).await
}

/// Creates the batch's execution (each file stored first) unless it
/// exists, then does the action.
async fn fire(
    engine: &Arc<Engine>,
    flow: &Flow,
    trig: &LocalTrigger,
    allowed: &[PathBuf],
    batch: &Pending<File>,
) -> Result<Fired, EventError> {
    let id = &batch.execution_id;
    let created = if engine.state.load_execution(id).await?.is_some() {
        false
    } else {
        let mut files = Vec::with_capacity(batch.items.len());
        let mut used = HashSet::new();
        for d in &batch.items {
            let uri = stage(engine, flow, trig, id, &d.item.path, &mut used).await?;
            let mut f = d.item.file.clone();
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
    let paths: Vec<PathBuf> = batch.items.iter().map(|d| d.item.path.clone()).collect();
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
    let path = super::trigger_file(flow, &trig.id, execution_id, &name);
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
