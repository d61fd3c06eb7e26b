//! GCS and Pub/Sub events becoming executions, the same way on both
//! runtimes: [`gcs`] (objects → one execution with `trigger.blobs`, then
//! the trigger's `action`) and [`pubsub`] (messages → executions with
//! Kestra's trigger variables). `baton server local` polls
//! ([`poller`]); the scheduler function is pushed each event
//! (`functions::events`). [`http`], [`fs_local`] (a local folder's new
//! files → one execution with `trigger.files`), `s3` (an S3 bucket's new objects →
//! one execution with `trigger.objects`), `redis` (a Redis list's
//! elements → one execution with `trigger.uri`), `sqs` (an SQS queue's
//! messages), `kinesis` (a Kinesis stream's new records), `dataflow` (the Dataflow job
//! that reached a state → one execution with `trigger.jobId`), `mqtt` (MQTT topics' messages) and `nats` (a NATS JetStream
//! subject's messages) — each batch one execution with `trigger.uri` — are
//! polled on both runtimes.
//!
//! Exactly once: every execution id derives from what it is for (object
//! generations, message ids — `triggers::gcs::execution_id`,
//! `triggers::pubsub::execution_id`) and the launcher creates an id only
//! once, so a duplicate event or a repeated poll creates nothing; what a
//! poll has already handled is kept in the state store's records.

#[cfg(feature = "amqp")]
pub mod amqp;
pub(crate) mod batched;
#[cfg(feature = "gcp")]
pub mod dataflow;
pub mod fs_local;
#[cfg(feature = "gcp")]
pub mod gcs;
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "aws")]
pub mod kinesis;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "nats")]
pub mod nats;
pub mod poller;
#[cfg(feature = "gcp")]
pub mod pubsub;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "aws")]
pub mod s3;
pub mod socket;
#[cfg(feature = "aws")]
pub mod sqs;

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::engine::Engine;
use super::launcher::{self, LaunchError, LaunchRequest};
use crate::backend::BackendError;
#[cfg(feature = "gcp")]
use crate::gcp::gcs::{GcsClient, GcsError};
#[cfg(feature = "gcp")]
use crate::gcp::{AuthSpec, ServiceAccountKey};
use crate::model::{Flow, TriggerContext};
#[cfg(feature = "gcp")]
use crate::triggers::gcs::AuthProps;

/// Why an event could not become an execution.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("trigger '{trigger}' of {flow}: {message}")]
    Config { flow: String, trigger: String, message: String },
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[cfg(feature = "gcp")]
    #[error(transparent)]
    Gcs(#[from] GcsError),
    #[error("Pub/Sub: {0}")]
    PubSub(String),
    #[error("trigger '{trigger}' of {flow}: {source}")]
    Launch {
        flow: String,
        trigger: String,
        #[source]
        source: LaunchError,
    },
    #[error("trigger state {key}: too many concurrent changes; try again")]
    Contention { key: String },
}

impl EventError {
    /// Whether trying again later may work (a backend or a service is unavailable).
    pub fn is_transient(&self) -> bool {
        match self {
            EventError::Backend(_) | EventError::PubSub(_) | EventError::Contention { .. } => true,
            #[cfg(feature = "gcp")]
            EventError::Gcs(e) => !matches!(e.status(), Some(400..=499)),
            EventError::Launch { source: LaunchError::Backend(_), .. } => true,
            EventError::Config { .. } | EventError::Launch { .. } => false,
        }
    }

    pub(crate) fn config(flow: &Flow, trigger: &str, message: impl Into<String>) -> EventError {
        EventError::Config {
            flow: format!("{}.{}", flow.namespace, flow.id),
            trigger: trigger.to_string(),
            message: message.into(),
        }
    }

    /// A task-side error of trigger `trigger` of `flow` (a property, the
    /// connection, the service's answer) as a configuration error naming them.
    #[cfg(any(feature = "aws", feature = "mqtt", feature = "nats", feature = "amqp", feature = "kafka"))]
    pub(crate) fn of_task<'a>(
        flow: &'a Flow,
        trigger: &'a str,
    ) -> impl Fn(crate::plugins::TaskError) -> EventError + 'a {
        move |e| EventError::config(flow, trigger, e.to_string())
    }
}

/// The variables a trigger's properties are rendered with, as Kestra's
/// trigger run context (`RunContextFactory.of(flow, trigger)`, its
/// `RunVariables`): the flow (`id`, `namespace`, `revision`), its `vars`
/// (as written: `render()` renders one), `envs`, and the trigger (`id`,
/// `type`). `secret()` and `kv()` are functions, not variables.
pub fn trigger_vars(engine: &Engine, flow: &Flow, trigger_id: &str) -> Value {
    let type_ = flow.triggers.iter().find(|t| t.id == trigger_id).map_or("", |t| t.type_.as_str());
    json!({
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        "vars": flow.variables,
        "envs": engine.envs,
        "trigger": {"id": trigger_id, "type": type_},
    })
}

/// Where an evaluation of trigger `trigger_id` of `flow` keeps a file
/// (`name`) of the execution `execution_id` it starts.
pub(crate) fn trigger_file(flow: &Flow, trigger_id: &str, execution_id: &str, name: &str) -> String {
    format!(
        "{}/trigger/{}/{name}",
        crate::plugins::context::execution_prefix(&flow.namespace, &flow.id, execution_id),
        crate::model::ids::slugify(trigger_id)
    )
}

/// A trigger's properties `props` rendered with [`trigger_vars`]; a
/// template that cannot be rendered is an error naming the trigger.
pub fn render_props(
    engine: &Engine,
    flow: &Flow,
    trigger_id: &str,
    props: Map<String, Value>,
) -> Result<Map<String, Value>, EventError> {
    let ctx = trigger_vars(engine, flow, trigger_id);
    match engine.renderer.render_value(&Value::Object(props), &ctx, engine.host.as_ref()) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Ok(Map::new()),
        Err(e) => Err(EventError::config(flow, trigger_id, format!("cannot render its properties: {e}"))),
    }
}

#[cfg(feature = "gcp")]
/// The trigger's credentials, rendered (they may use `secret()`).
pub(crate) fn auth_spec(engine: &Engine, flow: &Flow, trigger: &str, auth: &AuthProps) -> Result<AuthSpec, EventError> {
    let ctx = trigger_vars(engine, flow, trigger);
    let render = |what: &str, s: &str| {
        engine
            .renderer
            .render_str(s, &ctx, engine.host.as_ref())
            .map_err(|e| EventError::config(flow, trigger, format!("cannot render '{what}': {e}")))
    };
    let key = match &auth.service_account {
        None => None,
        Some(Value::String(s)) => {
            let text = render("serviceAccount", s)?;
            if text.trim().is_empty() {
                None
            } else {
                let v = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
                Some(
                    ServiceAccountKey::from_value(v)
                        .map_err(|e| EventError::config(flow, trigger, format!("serviceAccount: {e}")))?,
                )
            }
        }
        Some(v) => Some(
            ServiceAccountKey::from_value(v.clone())
                .map_err(|e| EventError::config(flow, trigger, format!("serviceAccount: {e}")))?,
        ),
    };
    let impersonate = match &auth.impersonated_service_account {
        Some(s) => Some(render("impersonatedServiceAccount", s)?),
        None => None,
    };
    Ok(AuthSpec { key, scopes: auth.scopes.clone(), impersonate })
}

/// The GCS client for a trigger's credentials (the engine's endpoints: an emulator in tests).
#[cfg(feature = "gcp")]
pub fn gcs_client(engine: &Engine, flow: &Flow, trigger: &str, auth: &AuthProps) -> Result<Arc<GcsClient>, EventError> {
    let spec = auth_spec(engine, flow, trigger, auth)?;
    let cfg = &engine.plugins.gcp;
    cfg.cache
        .gcs(&spec, &cfg.endpoints, &engine.http)
        .map_err(|e| EventError::config(flow, trigger, format!("credentials: {e}")))
}

/// Creates the execution `id` of `flow` for an event of trigger
/// `trigger_id`; `Ok(false)` when it already exists (a duplicate) or the
/// trigger's `when` is false for this event (no execution).
pub async fn launch_event(
    engine: &Arc<Engine>,
    flow: &Flow,
    trigger_id: &str,
    trigger_type: &str,
    id: &str,
    variables: Map<String, Value>,
) -> Result<bool, EventError> {
    if !when_holds(engine, flow, trigger_id, trigger_type, &variables)? {
        tracing::info!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, "trigger `when` is false: no execution");
        return Ok(false);
    }
    let req = LaunchRequest {
        trigger: Some(TriggerContext { id: trigger_id.to_string(), type_: trigger_type.to_string(), variables }),
        execution_id: Some(id.to_string()),
        ..LaunchRequest::default()
    };
    match launcher::launch(engine, flow, req).await {
        Ok(_) => Ok(true),
        Err(LaunchError::Exists(_)) => Ok(false),
        Err(source) => Err(EventError::Launch {
            flow: format!("{}.{}", flow.namespace, flow.id),
            trigger: trigger_id.to_string(),
            source,
        }),
    }
}

/// The trigger's `when` (Kestra 2.0) rendered against the event's
/// `trigger` variables and the flow's ([`trigger_vars`]); true when it has none.
fn when_holds(
    engine: &Engine,
    flow: &Flow,
    trigger_id: &str,
    trigger_type: &str,
    variables: &Map<String, Value>,
) -> Result<bool, EventError> {
    let Some(when) = flow.triggers.iter().find(|t| t.id == trigger_id).and_then(crate::triggers::when_condition) else {
        return Ok(true);
    };
    let mut trigger = variables.clone();
    trigger.insert("id".into(), Value::String(trigger_id.to_string()));
    trigger.insert("type".into(), Value::String(trigger_type.to_string()));
    let mut vars = trigger_vars(engine, flow, trigger_id);
    vars["trigger"] = Value::Object(trigger);
    first_false(engine, flow, std::slice::from_ref(&when), &vars, chrono::Utc::now())
        .map(|c| c.is_none())
        .map_err(|e| EventError::config(flow, trigger_id, format!("when: {e}")))
}

/// The first of `conditions` that is false, tested with `vars` and no execution.
fn first_false<'c>(
    engine: &Engine,
    flow: &Flow,
    conditions: &'c [crate::conditions::Condition],
    vars: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<&'c crate::conditions::Condition>, crate::conditions::ConditionError> {
    let cx = crate::conditions::ConditionContext {
        namespace: &flow.namespace,
        flow_id: &flow.id,
        execution: None,
        variables: vars,
        renderer: engine.renderer.as_ref(),
        host: engine.host.as_ref(),
        now,
    };
    crate::conditions::first_false(conditions, &cx)
}

/// Why trigger `trigger_id` of `flow` is not evaluated now, `None` when it
/// is: it is stopped (disabled through the API or a `Toggle` task, or by
/// its `stopAfter`: `stop_after::is_stopped`), or — with `conditions` —
/// one of its conditions is false ([`condition_false`]).
pub async fn held_back(
    engine: &Engine,
    flow: &Flow,
    trigger_id: &str,
    conditions: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<String>, EventError> {
    let Some(trigger) = flow.triggers.iter().find(|t| t.id == trigger_id) else { return Ok(None) };
    if crate::runtime::stop_after::is_stopped(engine, flow, trigger).await? {
        return Ok(Some("the trigger is disabled".into()));
    }
    if !conditions {
        return Ok(None);
    }
    Ok(condition_false(engine, flow, trigger_id, now)?.map(|c| format!("condition {c} is false")))
}

/// The first of the trigger's `conditions` that is false now (its short
/// type name), `None` when all hold or it has none. Kestra's scheduler
/// tests a polling trigger's conditions before it sends the trigger to a
/// worker: while one is false nothing is polled (no request, no listing,
/// no pull) and no execution starts. They are tested as a Schedule's, with
/// `flow`, `vars`, `envs` and `trigger.id`/`type`/`date` (the evaluation
/// time, in UTC: what `date` defaults to in `DayWeek`, `TimeBetween`…).
pub fn condition_false(
    engine: &Engine,
    flow: &Flow,
    trigger_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<&'static str>, EventError> {
    let Some(trigger) = flow.triggers.iter().find(|t| t.id == trigger_id) else { return Ok(None) };
    let Some(raw) = crate::triggers::prop(trigger, "conditions") else { return Ok(None) };
    let conditions = crate::conditions::parse_list(raw).map_err(|problems| {
        let text = problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect::<Vec<_>>().join("; ");
        EventError::config(flow, trigger_id, format!("conditions: {text}"))
    })?;
    let date = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut vars = trigger_vars(engine, flow, trigger_id);
    vars["trigger"]["date"] = Value::String(date);
    let first = first_false(engine, flow, &conditions, &vars, now)
        .map_err(|e| EventError::config(flow, trigger_id, format!("conditions: {e}")))?;
    let name = first.map(|c| c.short_name());
    if let Some(name) = name {
        tracing::debug!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, condition = name,
            "trigger condition false: not evaluated");
    }
    Ok(name)
}

/// Objects or files one polled trigger's state (GCS's, S3's, a local
/// folder's) remembers at most (the
/// oldest seen are forgotten beyond it).
pub const MAX_SEEN: usize = 5000;

/// When a polled trigger (GCS's, S3's, a local folder's) last saw an object or
/// file, and in which version.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Seen {
    pub version: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Keeps at most [`MAX_SEEN`] entries of a `trigger_type`'s state `key`,
/// forgetting the oldest seen (with a warning: they may fire again).
pub(crate) fn bound_seen(seen: &mut std::collections::BTreeMap<String, Seen>, key: &str, trigger_type: &str) {
    if seen.len() <= MAX_SEEN {
        return;
    }
    let mut by_age: Vec<(chrono::DateTime<chrono::Utc>, String)> =
        seen.iter().map(|(k, s)| (s.at, k.clone())).collect();
    by_age.sort();
    let excess = seen.len() - MAX_SEEN;
    for (_, k) in by_age.into_iter().take(excess) {
        seen.remove(&k);
    }
    tracing::warn!(
        state_key = key,
        trigger_type,
        bound = MAX_SEEN,
        forgotten = excess,
        "the trigger's state holds more entries than its bound (MAX_SEEN): the oldest were forgotten and may fire again"
    );
}

/// A polling trigger's state record `kind`/`key` and its version (0 and
/// the default state when there is none yet).
async fn load_state<T: serde::de::DeserializeOwned + Default>(
    engine: &Engine,
    kind: &str,
    key: &str,
) -> Result<(u64, T), EventError> {
    Ok(match engine.state.load_record(kind, key).await? {
        None => (0, T::default()),
        Some((v, json)) => (v, serde_json::from_value(json).unwrap_or_default()),
    })
}

/// Saves a polling trigger's state if its record is still at `version`;
/// false on a lost race (another poll saved first).
async fn save_state<T: serde::Serialize>(
    engine: &Engine,
    kind: &str,
    key: &str,
    version: u64,
    state: &T,
) -> Result<bool, EventError> {
    let json = serde_json::to_value(state).unwrap_or_default();
    match engine.state.save_record(kind, key, version, &json).await {
        Ok(_) => Ok(true),
        Err(BackendError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
