//! `s3.Trigger` evaluations, the same on both runtimes: `baton server
//! local`'s poller calls [`poll`] every `interval`; on Google Cloud the
//! trigger's Cloud Scheduler job ticks the scheduler function, which calls
//! it once.
//!
//! A poll renders the trigger's properties (they may use `secret()`),
//! lists the bucket, and compares each object's version (its ETag, as
//! Kestra's stateful trigger) with the ones remembered in the state store
//! record `s3-trigger/{stateKey}`: what is new or changed per `on` (at most
//! `maxFiles`) is recorded as a pending batch with its execution id —
//! compare-and-swap on the record, so of two polls at once (a duplicate
//! tick, two servers) one chooses the batch — then fired: each object is
//! streamed into the execution's files, the execution is created under that
//! id (the launcher creates an id once), and the `action` is done (MOVE only
//! while the object still has the ETag listed). A process killed mid-way
//! fires the same batch, under the same id, at the next poll. An object
//! already seen does not fire again while it is unchanged and still there,
//! so with action NONE each object starts one execution.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{EventError, Seen, bound_seen, launch_event};

use crate::model::Flow;
use crate::model::ids::slugify;
use crate::plugins::TaskError;
use crate::plugins::aws::S3Client;
use crate::plugins::aws::s3::common::{Get, S3Obj, get};
use crate::plugins::context::execution_prefix;
use crate::runtime::engine::Engine;
use crate::triggers::s3::{S3Trigger, TYPE, renderable};

/// The state store record kind of the polling state.
pub const RECORD_KIND: &str = "s3-trigger";
/// Compare-and-swap attempts on the state before giving up (retried at the next poll).
const CAS_ATTEMPTS: usize = 8;

/// One object of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detected {
    key: String,
    etag: Option<String>,
    size: i64,
    last_modified: Option<String>,
    owner: Option<(Option<String>, Option<String>)>,
    is_new: bool,
}

impl Detected {
    fn object(&self) -> S3Obj {
        S3Obj {
            key: self.key.clone(),
            etag: self.etag.clone(),
            size: self.size,
            last_modified: self.last_modified.clone(),
            owner: self.owner.clone(),
        }
    }
}

/// A batch chosen, not yet fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pending {
    execution_id: String,
    objects: Vec<Detected>,
}

/// The polling state of one trigger.
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
pub fn read(engine: &Engine, flow: &Flow, trigger_id: &str) -> Result<S3Trigger, EventError> {
    let t = flow
        .triggers
        .iter()
        .find(|t| t.id == trigger_id)
        .ok_or_else(|| EventError::config(flow, trigger_id, "no such trigger"))?;
    let props = super::render_props(engine, flow, trigger_id, renderable(t))?;
    S3Trigger::from_rendered(trigger_id, &props).map_err(config(flow, trigger_id))
}

async fn load(engine: &Engine, key: &str) -> Result<(u64, PollState), EventError> {
    super::load_state(engine, RECORD_KIND, key).await
}

/// Saves the state if still at `version`; false on a lost race.
async fn save(engine: &Engine, key: &str, version: u64, state: &PollState) -> Result<bool, EventError> {
    super::save_state(engine, RECORD_KIND, key, version, state).await
}

/// One evaluation of the trigger `trigger_id` of `flow` (see the module
/// documentation); `None` when nothing new was found.
pub async fn poll(engine: &Arc<Engine>, flow: &Flow, trigger_id: &str) -> Result<Option<Fired>, EventError> {
    let trig = read(engine, flow, trigger_id)?;
    if super::held_back(engine, flow, trigger_id, true, Utc::now()).await?.is_some() {
        return Ok(None);
    }
    let client = trig.aws.s3().await.map_err(config(flow, trigger_id))?;
    let key = trig.stateful.state_key(flow, &trig.id);
    // what this poll fired, kept when another poll saved the state first
    let mut fired: Option<Fired> = None;
    for _ in 0..CAS_ATTEMPTS {
        let (ver, mut state) = load(engine, &key).await?;
        if let Some(batch) = state.pending.take() {
            let f = fire(engine, flow, &trig, &client, &batch).await?;
            if fired.as_ref().is_none_or(|p| !p.created) {
                fired = Some(f);
            }
            if save(engine, &key, ver, &state).await? {
                return Ok(fired);
            }
            continue;
        }
        let listed = trig.listing.list(&client).await.map_err(config(flow, trigger_id))?;
        let now = Utc::now();
        let before = state.clone();
        // objects gone from the listing are forgotten (moved, deleted)
        let present: HashSet<&str> = listed.iter().map(|o| o.key.as_str()).collect();
        state.seen.retain(|k, _| present.contains(k.as_str()));
        if let Some(ttl) = trig.stateful.state_ttl.and_then(|t| chrono::Duration::from_std(t).ok()) {
            state.seen.retain(|_, s| now - s.at <= ttl);
        }
        let mut batch = Vec::new();
        for o in &listed {
            let v = o.version();
            let prev = state.seen.get(&o.key).map(|s| s.version.clone());
            if prev.as_deref() == Some(v.as_str()) {
                continue;
            }
            let is_new = prev.is_none();
            if trig.stateful.on.fires(is_new) {
                if batch.len() == trig.stateful.max_files {
                    // the next poll takes it
                    continue;
                }
                batch.push(Detected {
                    key: o.key.clone(),
                    etag: o.etag.clone(),
                    size: o.size,
                    last_modified: o.last_modified.clone(),
                    owner: o.owner.clone(),
                    is_new,
                });
            }
            state.seen.insert(o.key.clone(), Seen { version: v, at: now });
        }
        bound_seen(&mut state.seen, &key, TYPE);
        if batch.is_empty() {
            if state != before && !save(engine, &key, ver, &state).await? {
                continue;
            }
            return Ok(fired);
        }
        let execution_id = execution_id(flow, &trig.id, &key, ver, &batch);
        state.pending = Some(Pending { execution_id, objects: batch });
        // the next round fires the batch just recorded
        let _ = save(engine, &key, ver, &state).await?;
    }
    Err(EventError::Contention { key })
}

/// The id of a batch's execution: the trigger, its state's version when the
/// batch was chosen (each batch is chosen at another) and the objects.
fn execution_id(flow: &Flow, trigger_id: &str, state_key: &str, version: u64, batch: &[Detected]) -> String {
    let mut seed = format!("s3.Trigger\n{}\n{}\n{trigger_id}\n{state_key}\n{version}", flow.namespace, flow.id);
    for d in batch {
        seed.push_str(&format!("\n{}#{}", d.key, d.etag.as_deref().unwrap_or_default()));
    }
    crate::model::ids::derived_id(&seed)
}

/// Creates the batch's execution (each object staged first) unless it
/// exists, then does the action.
async fn fire(
    engine: &Arc<Engine>,
    flow: &Flow,
    trig: &S3Trigger,
    client: &S3Client,
    batch: &Pending,
) -> Result<Fired, EventError> {
    let id = &batch.execution_id;
    let created = if engine.state.load_execution(id).await?.is_some() {
        false
    } else {
        let mut objects = Vec::with_capacity(batch.objects.len());
        for d in &batch.objects {
            let uri = stage(engine, flow, trig, client, id, &d.key).await?;
            let mut o = d.object().to_json(Some(&uri));
            if let Value::Object(m) = &mut o {
                m.insert("changeType".into(), json!(if d.is_new { "CREATE" } else { "UPDATE" }));
            }
            objects.push(o);
        }
        let mut vars = Map::new();
        vars.insert("objects".into(), Value::Array(objects));
        launch_event(engine, flow, &trig.id, TYPE, id, vars).await?
    };
    let objects: Vec<S3Obj> = batch.objects.iter().map(Detected::object).collect();
    trig.action.perform(client, &trig.listing.bucket, &objects).await.map_err(config(flow, &trig.id))?;
    Ok(Fired { execution_id: id.clone(), created })
}

/// Streams the object into internal storage under the execution's
/// `trigger/{trigger}/` folder; returns its `kestra:///…` URI.
async fn stage(
    engine: &Engine,
    flow: &Flow,
    trig: &S3Trigger,
    client: &S3Client,
    execution_id: &str,
    key: &str,
) -> Result<String, EventError> {
    let path = format!(
        "{}/trigger/{}/{}",
        execution_prefix(&flow.namespace, &flow.id, execution_id),
        slugify(&trig.id),
        key.trim_start_matches('/')
    );
    let g = Get {
        bucket: trig.listing.bucket.clone(),
        key: key.to_string(),
        request_payer: trig.listing.request_payer.clone(),
        expected_bucket_owner: trig.listing.expected_bucket_owner.clone(),
        ..Get::default()
    };
    let (_, reader) = get(client, &g).await.map_err(config(flow, &trig.id))?;
    engine.storage.put(&path, reader).await?;
    Ok(format!("kestra://{path}"))
}

#[cfg(test)]
mod tests {
    use super::super::MAX_SEEN;
    use super::*;

    #[test]
    fn state_round_trips_and_is_bounded() {
        let d = Detected {
            key: "in/a".into(),
            etag: Some("\"e\"".into()),
            size: 1,
            last_modified: None,
            owner: None,
            is_new: true,
        };
        let s = PollState {
            seen: [("in/a".to_string(), Seen { version: "\"e\"".into(), at: Utc::now() })].into(),
            pending: Some(Pending { execution_id: "x".into(), objects: vec![d] }),
        };
        let back: PollState = serde_json::from_value(serde_json::to_value(&s).expect("json")).expect("state");
        assert_eq!(back, s);
        let mut seen = BTreeMap::new();
        let t0 = Utc::now();
        for i in 0..MAX_SEEN + 2 {
            seen.insert(format!("k{i}"), Seen { version: "v".into(), at: t0 + chrono::Duration::seconds(i as i64) });
        }
        bound_seen(&mut seen, "k", TYPE);
        assert_eq!(seen.len(), MAX_SEEN);
        assert!(!seen.contains_key("k0"));
    }
}
