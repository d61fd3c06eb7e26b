//! `gcs.Trigger` events: objects → one execution with `trigger.blobs`
//! (each object copied into internal storage first, as Kestra does), then
//! the trigger's `action` on exactly those generations.
//!
//! - [`fire`] is the one way objects become an execution, for a pushed
//!   notification (one object) and for a poll (up to `maxFiles`): the id
//!   derives from the (bucket, name, generation) set, an existing execution
//!   is not staged or created again, and the action runs after the
//!   execution exists, generation-guarded (a newer generation written
//!   meanwhile is neither moved nor deleted), so a duplicate or a retry
//!   after a crash does it at most once.
//! - [`poll`] is Kestra's polling evaluation for `baton server local`: it
//!   lists `from`, keeps per object the version last seen
//!   (`generation:{g}_metageneration:{m}`, as Kestra's stateful triggers)
//!   in the state store record `gcs-trigger/{stateKey}`, fires what is new
//!   or changed per `on`, and records the batch as pending before creating
//!   its execution, so a process killed mid-way redoes the same batch (same
//!   id) at the next start instead of a different one.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EventError, Seen, bound_seen, gcs_client, launch_event};
use crate::backend::ByteStream;
use crate::gcp::gcs::GcsClient;
use crate::model::Flow;
use crate::model::ids::slugify;
use crate::plugins::context::execution_prefix;
use crate::runtime::engine::Engine;
use crate::triggers::gcs::{Action, GcsTrigger, ObjectRef, TYPE, blob_variable, execution_id, variables, version};

/// The state store record kind of the polling state.
pub const RECORD_KIND: &str = "gcs-trigger";
/// Compare-and-swap attempts on the polling state before giving up (retried at the next poll).
const CAS_ATTEMPTS: usize = 8;

/// One object to fire for: its JSON API resource, and whether it was never seen before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Detected {
    pub object: Value,
    pub is_new: bool,
}

/// What firing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub execution_id: String,
    /// False when the execution already existed (a duplicate event).
    pub created: bool,
}

/// Turns `objects` into one execution of `flow` and does the action (see the module documentation).
pub async fn fire(
    engine: &Arc<Engine>,
    flow: &Flow,
    trig: &GcsTrigger,
    gcs: &GcsClient,
    objects: &[Detected],
) -> Result<Fired, EventError> {
    let refs: Vec<ObjectRef> = objects.iter().map(|d| ObjectRef::of(&d.object)).collect();
    let id = execution_id(flow, &trig.id, &refs);
    let created = if engine.state.load_execution(&id).await?.is_some() {
        false
    } else {
        let mut blobs = Vec::with_capacity(objects.len());
        for (d, r) in objects.iter().zip(&refs) {
            let uri = stage(engine, gcs, flow, &trig.id, &id, r).await?;
            blobs.push(blob_variable(&d.object, &uri, d.is_new));
        }
        launch_event(engine, flow, &trig.id, TYPE, &id, variables(blobs)).await?
    };
    act(gcs, trig, &refs).await?;
    Ok(Fired { execution_id: id, created })
}

/// Streams the object into internal storage under the execution's
/// `trigger/{trigger}/` folder; returns its `kestra:///…` URI.
async fn stage(
    engine: &Engine,
    gcs: &GcsClient,
    flow: &Flow,
    trigger_id: &str,
    execution_id: &str,
    r: &ObjectRef,
) -> Result<String, EventError> {
    let path = format!(
        "{}/trigger/{}/{}",
        execution_prefix(&flow.namespace, &flow.id, execution_id),
        slugify(trigger_id),
        r.name
    );
    let stream = gcs.download(&r.bucket, &r.name).await?;
    let reader: ByteStream = Box::pin(tokio_util::io::StreamReader::new(stream.map_err(std::io::Error::other)));
    engine.storage.put(&path, reader).await?;
    Ok(format!("kestra://{path}"))
}

/// The trigger's action on exactly these generations.
async fn act(gcs: &GcsClient, trig: &GcsTrigger, refs: &[ObjectRef]) -> Result<(), EventError> {
    for r in refs {
        match &trig.action {
            Action::None => {}
            Action::Delete => {
                gcs.delete_generation(&r.bucket, &r.name, &r.generation).await?;
            }
            Action::Move { .. } => {
                let Some((bucket, name)) = trig.move_target(&r.name) else { continue };
                match gcs.copy_generation((&r.bucket, &r.name), Some(&r.generation), (&bucket, &name)).await {
                    Ok(_) => {}
                    // moved already (a duplicate event, a retry after a crash)
                    Err(e) if e.status() == Some(404) => continue,
                    Err(e) => return Err(e.into()),
                }
                gcs.delete_generation(&r.bucket, &r.name, &r.generation).await?;
            }
        }
    }
    Ok(())
}

/// The polling state of one trigger.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct PollState {
    #[serde(default)]
    seen: BTreeMap<String, Seen>,
    /// A batch chosen but not yet fired (its execution and action).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending: Option<Vec<Detected>>,
}

async fn load(engine: &Engine, key: &str) -> Result<(u64, PollState), EventError> {
    super::load_state(engine, RECORD_KIND, key).await
}

/// Saves the state if still at `version`; false on a lost race.
async fn save(engine: &Engine, key: &str, version: u64, state: &PollState) -> Result<bool, EventError> {
    super::save_state(engine, RECORD_KIND, key, version, state).await
}

/// One polling evaluation of `trig` (see the module documentation);
/// `None` when nothing new was found.
pub async fn poll(engine: &Arc<Engine>, flow: &Flow, trig: &GcsTrigger) -> Result<Option<Fired>, EventError> {
    let gcs = gcs_client(engine, flow, &trig.id, &trig.auth)?;
    let key = trig.state_key(flow);
    for _ in 0..CAS_ATTEMPTS {
        let (ver, mut state) = load(engine, &key).await?;
        if let Some(batch) = state.pending.take() {
            let fired = fire(engine, flow, trig, &gcs, &batch).await?;
            if save(engine, &key, ver, &state).await? {
                return Ok(Some(fired));
            }
            continue;
        }
        let delimiter = (!trig.recursive).then_some("/");
        let listing = gcs.list_all(&trig.bucket, &trig.prefix, delimiter, false).await?;
        let now = Utc::now();
        let before = state.clone();
        let live: Vec<&Value> = listing
            .items
            .iter()
            .filter(|o| trig.selects(o["bucket"].as_str().unwrap_or_default(), o["name"].as_str().unwrap_or_default()))
            .take(trig.max_files)
            .collect();
        // objects gone from `from` are forgotten (moved, deleted)
        let present: HashSet<String> = listing.items.iter().map(object_uri).collect();
        state.seen.retain(|uri, _| present.contains(uri));
        if let Some(ttl) = trig.state_ttl.and_then(|t| chrono::Duration::from_std(t).ok()) {
            state.seen.retain(|_, s| now - s.at <= ttl);
        }
        let mut batch = Vec::new();
        for o in live {
            let uri = object_uri(o);
            let v = version(o);
            let prev = state.seen.get(&uri).map(|s| s.version.clone());
            let is_new = prev.is_none();
            if prev.as_deref() != Some(v.as_str()) {
                if trig.on.fires(is_new) {
                    batch.push(Detected { object: o.clone(), is_new });
                }
                state.seen.insert(uri, Seen { version: v, at: now });
            }
        }
        bound_seen(&mut state.seen, &key, TYPE);
        if batch.is_empty() {
            if state != before && !save(engine, &key, ver, &state).await? {
                continue;
            }
            return Ok(None);
        }
        state.pending = Some(batch);
        // the next round fires the batch just recorded
        let _ = save(engine, &key, ver, &state).await?;
    }
    Err(EventError::Contention { key })
}

fn object_uri(o: &Value) -> String {
    format!("gs://{}/{}", o["bucket"].as_str().unwrap_or_default(), o["name"].as_str().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::super::MAX_SEEN;
    use super::*;

    #[test]
    fn the_seen_set_is_bounded() {
        let mut seen = BTreeMap::new();
        let t0 = Utc::now();
        for i in 0..MAX_SEEN + 3 {
            seen.insert(
                format!("gs://b/{i}"),
                Seen { version: "v".into(), at: t0 + chrono::Duration::seconds(i as i64) },
            );
        }
        bound_seen(&mut seen, "k", TYPE);
        assert_eq!(seen.len(), MAX_SEEN);
        assert!(!seen.contains_key("gs://b/0") && seen.contains_key(&format!("gs://b/{}", MAX_SEEN + 2)));
    }

    #[test]
    fn state_round_trips() {
        let s = PollState {
            seen: [("gs://b/a".to_string(), Seen { version: "generation:1_metageneration:1".into(), at: Utc::now() })]
                .into(),
            pending: Some(vec![Detected { object: serde_json::json!({"name":"a"}), is_new: true }]),
        };
        let back: PollState = serde_json::from_value(serde_json::to_value(&s).expect("json")).expect("state");
        assert_eq!(back, s);
    }
}
