//! A `dataflow.Trigger`'s poll, the same on both runtimes: an evaluation of
//! the trigger (`super::http::evaluate`, one per slot of `interval`, on
//! `baton server local`'s poller or a Cloud Scheduler tick) calls
//! [`poll`], then starts the slot's execution with its outputs (`jobId`,
//! `jobName`, `state`) when a job fired.
//!
//! The trigger's state (Kestra's `StatefulTriggerService` entries, see
//! `plugins::gcp::dataflow::watch`) is the state store's record
//! `dataflow-trigger/{stateKey}` (`stateKey` defaults to Kestra's
//! `{namespace}_{flow}_{trigger}`); Kestra keeps it in the namespace's KV
//! store instead, where flows can read it. The entries a poll recorded
//! are saved ([`Taken::settle`]) once the execution is stored (or none was
//! to start, or `when` rejected it); a launch error or a process killed
//! before leaves the state as it was, and the next poll sees the same jobs
//! again while they are within `lookback`: at least once, where Kestra
//! saves before it starts the execution. Saves are compare-and-set; a lost
//! race is merged entry by entry.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Map, Value};

use super::{EventError, load_state, render_props, save_state};
use crate::model::Flow;
use crate::plugins::gcp::dataflow::watch::{Entry, State, Watch, decide, entries_of, output, read_state};
use crate::runtime::engine::Engine;
use crate::triggers::dataflow::TYPE;

/// The state store's kind of the trigger's records.
pub const RECORD_KIND: &str = "dataflow-trigger";

/// How many times a lost compare-and-set is merged and tried again.
const SAVE_ATTEMPTS: usize = 5;

/// The entries a poll recorded, saved once its execution is settled.
pub struct Taken {
    engine: Arc<Engine>,
    key: String,
    ttl: Option<Duration>,
    state: State,
}

impl Taken {
    /// Saves the entries when `kept` (the execution is stored, or there was
    /// none to start); else leaves the state, so the next poll sees the
    /// same jobs again. A failure is logged with what follows from it.
    pub async fn settle(self, flow: &Flow, trigger_id: &str, kept: bool) {
        if !kept {
            tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id,
                "dataflow.Trigger: no execution stored for the job that fired: the next poll sees it again");
            return;
        }
        for _ in 0..SAVE_ATTEMPTS {
            let (version, stored) = match load_state::<Vec<Entry>>(&self.engine, RECORD_KIND, &self.key).await {
                Ok(v) => v,
                Err(e) => return self.failed(flow, trigger_id, &e),
            };
            let mut merged = read_state(stored, self.ttl, Utc::now());
            merged.extend(self.state.iter().map(|(k, e)| (k.clone(), e.clone())));
            match save_state(&self.engine, RECORD_KIND, &self.key, version, &entries_of(&merged)).await {
                Ok(true) => return,
                Ok(false) => continue,
                Err(e) => return self.failed(flow, trigger_id, &e),
            }
        }
        tracing::error!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id,
            "dataflow.Trigger: its state could not be saved ({SAVE_ATTEMPTS} concurrent changes): \
             the jobs of this poll may fire again");
    }

    fn failed(&self, flow: &Flow, trigger_id: &str, e: &EventError) {
        tracing::error!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, error = %e,
            "dataflow.Trigger: its state could not be saved: the jobs of this poll may fire again");
    }
}

/// Lists the jobs of `dataflow.Trigger` `trigger_id` of `flow` for the
/// execution `execution_id`; its outputs, whether a job fired, and the
/// entries to save (`None` when no job was a candidate).
pub async fn poll(
    engine: &Arc<Engine>,
    flow: &Flow,
    trigger_id: &str,
    execution_id: &str,
    props: &Map<String, Value>,
    interval: Duration,
) -> Result<(Map<String, Value>, bool, Option<Taken>), EventError> {
    let rendered = render_props(engine, flow, trigger_id, props.clone())?;
    let fail = |e: crate::plugins::TaskError| EventError::config(flow, trigger_id, e.to_string());
    let watch = Watch::read(&rendered, interval).map_err(fail)?;
    let key = watch.state_key.clone().unwrap_or_else(|| format!("{}_{}_{trigger_id}", flow.namespace, flow.id));
    let cx = super::http::trigger_context(engine, flow, trigger_id, TYPE, execution_id, rendered);
    let (_, stored) = load_state::<Vec<Entry>>(engine, RECORD_KIND, &key).await?;
    let now = Utc::now();
    let mut state = read_state(stored, watch.state_ttl, now);
    let jobs = watch.list(&cx).await.map_err(fail)?;
    let d = decide(&watch, &mut state, &jobs, now);
    let taken = d.updated.then(|| Taken { engine: engine.clone(), key, ttl: watch.state_ttl, state });
    match d.fired {
        Some(job) => {
            Ok((cx.mask_value(Value::Object(output(&job))).as_object().cloned().unwrap_or_default(), true, taken))
        }
        None => Ok((Map::new(), false, taken)),
    }
}
