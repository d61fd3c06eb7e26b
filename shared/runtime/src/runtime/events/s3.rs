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
//! tick, two servers) one chooses the batch (the loop the local folder's
//! trigger shares, [`super::batched`]) — then fired: each object is
//! streamed into the execution's files, the execution is created under that
//! id (the launcher creates an id once), and the `action` is done (MOVE only
//! while the object still has the ETag listed). A process killed mid-way
//! fires the same batch, under the same id, at the next poll. An object
//! already seen does not fire again while it is unchanged and still there,
//! so with action NONE each object starts one execution.

use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use super::batched::Fired;
use super::batched::{self, Listed, Pending, Source};
use super::{EventError, launch_event};

use crate::model::Flow;
use crate::model::ids::slugify;
use crate::plugins::TaskError;
use crate::plugins::aws::S3Client;
use crate::plugins::aws::s3::common::{Get, S3Obj, get};
use crate::plugins::context::execution_prefix;
use crate::runtime::engine::Engine;
use crate::triggers::s3::{S3Trigger, TYPE};
use crate::triggers::stateful::renderable;

/// The state store record kind of the polling state.
pub const RECORD_KIND: &str = "s3-trigger";

/// What a batch keeps of an object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Object {
    key: String,
    etag: Option<String>,
    size: i64,
    last_modified: Option<String>,
    owner: Option<(Option<String>, Option<String>)>,
}

impl Object {
    fn of(o: &S3Obj) -> Object {
        Object {
            key: o.key.clone(),
            etag: o.etag.clone(),
            size: o.size,
            last_modified: o.last_modified.clone(),
            owner: o.owner.clone(),
        }
    }

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

/// The bucket a trigger watches, as [`batched::poll`] lists and fires it.
struct Bucket<'a> {
    engine: &'a Arc<Engine>,
    flow: &'a Flow,
    trig: &'a S3Trigger,
    client: S3Client,
}

impl Source for Bucket<'_> {
    type Item = Object;
    const RECORD_KIND: &'static str = RECORD_KIND;
    const TYPE: &'static str = TYPE;

    async fn list(&self) -> Result<Vec<Listed<Object>>, EventError> {
        let listed = self.trig.listing.list(&self.client).await.map_err(config(self.flow, &self.trig.id))?;
        Ok(listed.iter().map(|o| Listed { key: o.key.clone(), version: o.version(), item: Object::of(o) }).collect())
    }

    async fn fire(&self, batch: &Pending<Object>) -> Result<Fired, EventError> {
        fire(self.engine, self.flow, self.trig, &self.client, batch).await
    }

    fn seed(o: &Object) -> String {
        format!("{}#{}", o.key, o.etag.as_deref().unwrap_or_default())
    }
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
    let bucket = Bucket { engine, flow, trig: &trig, client };
    batched::poll(engine, flow, trigger_id, &key, &trig.stateful, &bucket).await
}

/// Creates the batch's execution (each object staged first) unless it
/// exists, then does the action.
async fn fire(
    engine: &Arc<Engine>,
    flow: &Flow,
    trig: &S3Trigger,
    client: &S3Client,
    batch: &Pending<Object>,
) -> Result<Fired, EventError> {
    let id = &batch.execution_id;
    let created = if engine.state.load_execution(id).await?.is_some() {
        false
    } else {
        let mut objects = Vec::with_capacity(batch.items.len());
        for d in &batch.items {
            let uri = stage(engine, flow, trig, client, id, &d.item.key).await?;
            let mut o = d.item.object().to_json(Some(&uri));
            if let Value::Object(m) = &mut o {
                m.insert("changeType".into(), json!(if d.is_new { "CREATE" } else { "UPDATE" }));
            }
            objects.push(o);
        }
        let mut vars = Map::new();
        vars.insert("objects".into(), Value::Array(objects));
        launch_event(engine, flow, &trig.id, TYPE, id, vars).await?
    };
    let objects: Vec<S3Obj> = batch.items.iter().map(|d| d.item.object()).collect();
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
