//! The trigger types Baton runs, described once: each type's declaration
//! (`#[derive(Declare)]` on a struct of its properties: Kestra name,
//! aliases, properties with their kinds, defaults, values and docs) and its
//! own semantic checks. Validation (`validate::triggers`), the docs, the
//! JSON Schema and the runtime's dispatch read it, so a property is either
//! known here — and has its effect — or a validation error naming it.
//!
//! Each trigger type owns a module: [`schedule`], [`flow`], [`webhook`],
//! [`gcs`] and [`pubsub`] (GCS and Pub/Sub events), [`http`], [`jdbc`],
//! `bigquery`, `dataflow`, `s3`, `redis`, `sqs`, `kinesis`, `mqtt`, `nats` and
//! [`fs_local`] (polled: an HTTP endpoint, a database or BigQuery query,
//! Dataflow jobs, an S3 bucket, a Redis list, an SQS queue, a Kinesis stream, MQTT topics, a
//! NATS subject, a local folder;
//! Redis, SQS, MQTT, NATS and AMQP also listen),
//! [`socket`] (TCP and UDP listeners).

#[cfg(feature = "amqp")]
pub mod amqp;
#[cfg(feature = "gcp")]
pub mod bigquery;
#[cfg(feature = "gcp")]
pub mod dataflow;
pub mod flow;
pub mod fs_local;
#[cfg(feature = "gcp")]
pub mod gcs;
pub mod http;
pub mod jdbc;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "aws")]
pub mod kinesis;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "gcp")]
pub mod pubsub;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "aws")]
pub mod s3;
pub mod schedule;
pub mod socket;
#[cfg(feature = "aws")]
pub mod sqs;
pub mod stateful;
pub mod webhook;

use std::sync::LazyLock;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::conditions::ConditionUse;
use crate::model::{Flow, Trigger};
use crate::plugins::{Declare, Declared, PropKind, PropSpec, TypeDecl};
use crate::template::is_template;

pub use baton_model::problem::TriggerProblem;
pub use stateful::{DEFAULT_MAX_FILES, MAX_FILES_BOUND, Stateful, StatefulDecl, StatefulProps};

/// The semantic checks of one trigger type (beyond property names and kinds).
pub type CheckFn = fn(&Trigger, &Flow) -> Vec<TriggerProblem>;

/// One trigger type: its declaration and its checks. The fields before
/// `check` are views of `decl`, kept for the validator's lookups.
pub struct TriggerDef {
    /// Kestra's current type name.
    pub type_name: &'static str,
    /// Older names Kestra still accepts for it.
    pub aliases: &'static [&'static str],
    /// What it does (the declaration's description).
    pub description: &'static str,
    /// The type's own properties (besides [`COMMON`]).
    pub props: &'static [PropSpec],
    pub check: CheckFn,
    /// Which conditions the type may carry in `conditions`.
    pub condition_use: ConditionUse,
    /// Everything about the type: names, words, each property's kind,
    /// default, values and docs.
    pub decl: &'static TypeDecl,
}

impl TriggerDef {
    /// The trigger type declared by `D`, checked by `check`. Call it once
    /// per process (a `LazyLock` static): the declaration is kept for the
    /// life of the process.
    pub fn declare<D: Declared>(check: CheckFn, condition_use: ConditionUse) -> TriggerDef {
        let (decl, props) = crate::model::decl::leak_declaration::<D>();
        TriggerDef {
            type_name: decl.type_name,
            aliases: decl.aliases,
            description: decl.description,
            props,
            check,
            condition_use,
            decl,
        }
    }
}

/// Which object changes fire a bucket trigger (Kestra's `on`, the GCS
/// and S3 triggers alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Create,
    Update,
    CreateOrUpdate,
}

impl On {
    /// The values `on` takes.
    pub const VALUES: &'static [&'static str] = &["CREATE", "UPDATE", "CREATE_OR_UPDATE"];

    /// `on` as written (one of [`On::VALUES`], checked by the caller); absent: both.
    pub fn parse(on: Option<&str>) -> On {
        match on {
            Some("CREATE") => On::Create,
            Some("UPDATE") => On::Update,
            _ => On::CreateOrUpdate,
        }
    }

    /// Whether a change of this kind fires (`is_new`: never seen before).
    pub fn fires(self, is_new: bool) -> bool {
        match self {
            On::Create => is_new,
            On::Update => !is_new,
            On::CreateOrUpdate => true,
        }
    }
}

/// A rendered-property error of trigger `id` as a validation problem,
/// located at the property it names.
pub fn problem_of(id: &str, e: crate::plugins::TaskError) -> TriggerProblem {
    let (path, message) = match e {
        crate::plugins::TaskError::Property { property, message } => (property, message),
        other => (String::new(), other.to_string()),
    };
    TriggerProblem::at(path, format!("trigger '{id}': {message}"))
}

/// `inputs`, which the triggers that start executions with inputs take.
#[derive(Deserialize, Declare)]
#[allow(dead_code)]
pub struct InputsProp {
    /// Inputs of the executions it starts.
    #[prop(kind = "Map", dynamic)]
    inputs: Option<Value>,
}

/// `when` (Kestra 2.0): see [`when_condition`].
#[derive(Deserialize, Declare)]
#[allow(dead_code)]
pub struct WhenProp {
    /// Kestra 2.0: a template; the trigger fires only when it renders true.
    #[prop(kind = "String", dynamic)]
    when: Option<Value>,
}

/// `stopAfter`, which the polling and scheduled triggers take.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct StopAfterProp {
    /// Disable the trigger after an execution it started ends in one of these states.
    #[prop(kind = "List")]
    stop_after: Option<Value>,
}

/// The properties every trigger has (Kestra's `AbstractTrigger`) that Baton honours.
pub const COMMON: &[PropSpec] = &[
    PropSpec::required("id", PropKind::String),
    PropSpec::required("type", PropKind::String),
    PropSpec::optional("description", PropKind::String),
    PropSpec::optional("disabled", PropKind::Boolean),
    // a list, or Kestra's older map of id -> condition: checked by [`check_conditions`]
    PropSpec::optional("conditions", PropKind::Any),
    // copied onto every execution the trigger starts, values rendered with
    // the trigger's variables ([`labels_of`]); a mapping or a list of {key, value}
    PropSpec::optional("labels", PropKind::Any),
    // a polling trigger evaluates again while the execution it started last
    // still runs (`http.Trigger`; Baton's other triggers never wait for one)
    PropSpec::optional("allowConcurrent", PropKind::Boolean),
];

/// The trigger's `labels` (unrendered), or the problems with their shape.
pub fn labels_of(trig: &Trigger) -> Result<Vec<crate::model::Label>, Vec<TriggerProblem>> {
    let mut problems = Vec::new();
    let labels = crate::model::flowkeys::labels(prop(trig, "labels"), "", &mut problems);
    if problems.is_empty() {
        Ok(labels)
    } else {
        Err(problems.into_iter().map(|p| TriggerProblem { path: p.path, message: p.message }).collect())
    }
}

/// Whether the trigger has `allowConcurrent: true`.
pub fn allows_concurrent(trig: &Trigger) -> bool {
    flag(trig, "allowConcurrent")
}

/// Whether the boolean property `name` is true (`true` or `"true"`).
pub fn flag(trig: &Trigger, name: &str) -> bool {
    match prop(trig, name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim() == "true",
        _ => false,
    }
}

/// Checks the properties every trigger has beyond `conditions` (`labels`).
pub fn check_common(trig: &Trigger) -> Vec<TriggerProblem> {
    labels_of(trig).err().unwrap_or_default()
}

/// Checks `stopAfter`'s states, for the triggers that keep it without
/// parsing it themselves (`Flow`, `Webhook`; the Schedule and
/// `http.Trigger` report theirs where they read it).
pub fn check_stop_after(trig: &Trigger) -> Vec<TriggerProblem> {
    let Some(Value::Array(items)) = prop(trig, "stopAfter") else { return Vec::new() };
    let bad = |(i, v): (usize, &Value)| {
        v.as_str().and_then(crate::model::StateType::parse).is_none().then(|| {
            TriggerProblem::at(
                format!("stopAfter[{i}]"),
                format!("trigger '{}': stopAfter: {v} is not an execution state", trig.id),
            )
        })
    };
    items.iter().enumerate().filter_map(bad).collect()
}

/// Checks a trigger's `conditions` (types, properties, and which ones
/// `def` may carry); paths are relative to the trigger (`conditions[1].dayOfWeek`).
pub fn check_conditions(trig: &Trigger, def: &TriggerDef) -> Vec<TriggerProblem> {
    let Some(v) = prop(trig, "conditions") else { return Vec::new() };
    let problems = match crate::conditions::parse_list(v) {
        Ok(list) => crate::conditions::check_use(&list, def.condition_use),
        Err(problems) => problems,
    };
    problems
        .into_iter()
        .map(|p| TriggerProblem { path: crate::conditions::join("conditions", &p.path), message: p.message })
        .collect()
}

/// The trigger's `when` (Kestra 2.0, every trigger type that declares it:
/// [`WhenProp`]) as the condition it is evaluated as, if it has one: a
/// template the trigger renders where it decides to fire; blank or `false`
/// means no execution. It is evaluated as the `Expression` condition it
/// replaces, after the trigger's other conditions.
pub fn when_condition(t: &Trigger) -> Option<crate::conditions::Condition> {
    let expression = match prop(t, "when")? {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    Some(crate::conditions::Condition::Expression { expression })
}

/// The query task a polled query trigger (JDBC, BigQuery) runs and its
/// properties, unrendered; `None` for another type.
pub fn polled_query(t: &Trigger) -> Option<(&'static str, serde_json::Map<String, Value>)> {
    #[cfg(feature = "gcp")]
    if let Some(q) = bigquery::query(t) {
        return Some(q);
    }
    jdbc::query(t)
}

/// A polled trigger's `interval`: a literal ISO-8601 duration (Terraform
/// reads it), `default` when absent, at least `min`.
pub fn poll_interval(t: &Trigger, default: Duration, min: Duration) -> Result<Duration, TriggerProblem> {
    let v = match prop(t, "interval") {
        None => return Ok(default),
        Some(Value::String(s)) if !is_template(s) => s.trim().to_string(),
        Some(other) => {
            return Err(TriggerProblem::at(
                "interval",
                format!("trigger '{}': 'interval' must be an ISO-8601 duration written out, got {other}", t.id),
            ));
        }
    };
    let d = crate::model::duration::parse_iso(&v)
        .map_err(|e| TriggerProblem::at("interval", format!("trigger '{}': 'interval': {e}", t.id)))?;
    d.to_std()
        .ok()
        .filter(|d| !d.is_zero())
        .map(|d| d.max(min))
        .ok_or_else(|| TriggerProblem::at("interval", format!("trigger '{}': 'interval' must be positive", t.id)))
}

/// Whether `v` holds a template anywhere.
pub fn templated(v: &Value) -> bool {
    match v {
        Value::String(s) => is_template(s),
        Value::Array(a) => a.iter().any(templated),
        Value::Object(m) => m.values().any(templated),
        _ => false,
    }
}

/// Every trigger type Baton runs.
pub fn defs() -> &'static [&'static TriggerDef] {
    static DEFS: LazyLock<Vec<&'static TriggerDef>> = LazyLock::new(|| {
        #[allow(unused_mut)]
        let mut defs: Vec<&'static TriggerDef> =
            vec![&*schedule::DEF, &*schedule::ON_DATES_DEF, &*flow::DEF, &*webhook::DEF, &*http::DEF];
        defs.extend([&*jdbc::POSTGRES_DEF, &*jdbc::MYSQL_DEF, &*jdbc::DUCKDB_DEF, &*jdbc::SQLITE_DEF]);
        defs.extend([&*socket::TCP_DEF, &*socket::UDP_DEF, &*fs_local::DEF]);
        // without the Google Cloud family its triggers are unknown types,
        // with a validation error saying how to get them (`plugins::left_out`)
        #[cfg(feature = "gcp")]
        defs.extend([&*gcs::DEF, &*pubsub::DEF, &*pubsub::REALTIME_DEF, &*bigquery::DEF, &*dataflow::DEF]);
        #[cfg(feature = "aws")]
        defs.extend([&*s3::DEF, &*sqs::DEF, &*sqs::REALTIME_DEF, &*kinesis::DEF]);
        #[cfg(feature = "redis")]
        defs.extend([&*redis::DEF, &*redis::REALTIME_DEF]);
        #[cfg(feature = "mqtt")]
        defs.extend([&*mqtt::DEF, &*mqtt::REALTIME_DEF]);
        #[cfg(feature = "nats")]
        defs.extend([&*nats::DEF, &*nats::REALTIME_DEF]);
        #[cfg(feature = "amqp")]
        defs.extend([&*amqp::DEF, &*amqp::REALTIME_DEF]);
        #[cfg(feature = "kafka")]
        defs.extend([&*kafka::DEF, &*kafka::REALTIME_DEF]);
        defs
    });
    &DEFS
}

/// The trigger type named `type_name` (current name or alias).
pub fn find(type_name: &str) -> Option<&'static TriggerDef> {
    defs().iter().copied().find(|d| d.type_name == type_name || d.aliases.contains(&type_name))
}

/// The spec of property `key` of `def` (its own, else a common one).
pub fn prop_spec(def: &TriggerDef, key: &str) -> Option<&'static PropSpec> {
    let own: &'static [PropSpec] = def.props;
    own.iter().chain(COMMON.iter()).find(|s| s.name == key)
}

/// A trigger's properties `picked` as written, for a check that reads them
/// as an evaluation will: a templated value is left out (it is read when
/// rendered), except a credential of `credentials`, which stands for one
/// (so that a user name and its password are checked as a pair).
#[cfg(any(feature = "mqtt", feature = "nats", feature = "amqp"))]
pub(crate) fn as_written(
    picked: serde_json::Map<String, Value>,
    credentials: &[&str],
) -> serde_json::Map<String, Value> {
    picked
        .into_iter()
        .filter_map(|(k, v)| {
            let templated = v.as_str().is_some_and(is_template)
                || v.as_array().is_some_and(|a| a.iter().any(|i| i.as_str().is_some_and(is_template)));
            match (templated, credentials.contains(&k.as_str())) {
                (false, _) => Some((k, v)),
                (true, true) => Some((k, Value::String("templated".into()))),
                (true, false) => None,
            }
        })
        .collect()
}

/// The problem a check's reading of `written` (see [`as_written`]) found,
/// at the property it names; `None` when it read, or when the property at
/// fault is not written out (a template, read when rendered).
#[cfg(any(feature = "aws", feature = "mqtt", feature = "nats", feature = "amqp", feature = "gcp"))]
pub(crate) fn read_problem(
    trig: &Trigger,
    written: &serde_json::Map<String, Value>,
    read: Result<(), crate::plugins::TaskError>,
) -> Option<TriggerProblem> {
    let e = read.err()?;
    let path = match &e {
        crate::plugins::TaskError::Property { property, .. } => property.clone(),
        _ => String::new(),
    };
    (path.is_empty() || written.contains_key(&path))
        .then(|| TriggerProblem::at(path, format!("trigger '{}': {e}", trig.id)))
}

/// Whether `t` is of type `def` (its current name or an alias).
pub(crate) fn is_of(def: &TriggerDef, t: &Trigger) -> bool {
    t.type_ == def.type_name || def.aliases.contains(&t.type_.as_str())
}

/// The properties of `t` named in `names`, unrendered, nulls left out.
#[cfg(any(
    feature = "amqp",
    feature = "aws",
    feature = "gcp",
    feature = "kafka",
    feature = "mqtt",
    feature = "nats",
    feature = "redis"
))]
pub(crate) fn picked(t: &Trigger, names: &[&str]) -> serde_json::Map<String, Value> {
    t.props
        .iter()
        .filter(|(k, v)| names.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A trigger property as written, `None` when absent or null.
pub fn prop<'t>(t: &'t Trigger, key: &str) -> Option<&'t Value> {
    t.props.get(key).filter(|v| !v.is_null())
}

#[cfg(test)]
pub(crate) mod tests {
    /// A one-task flow for the trigger types' checks.
    pub(crate) fn flow() -> crate::model::Flow {
        let src = "id: f\nnamespace: ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
        let (v, _) = crate::yaml::parse(src).expect("yaml");
        crate::model::Flow::from_value(&v, src).0.expect("flow")
    }

    /// A trigger of `type_` with these properties, as the trigger types' checks see one.
    pub(crate) fn trigger_of(id: &str, type_: &str, props: serde_json::Value) -> crate::model::Trigger {
        crate::model::Trigger {
            id: id.into(),
            type_: type_.into(),
            disabled: false,
            props: props.as_object().cloned().unwrap_or_default(),
            path: "triggers[0]".into(),
        }
    }
}
