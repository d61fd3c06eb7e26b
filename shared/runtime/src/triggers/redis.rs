//! The Redis list triggers (plugin-redis `list/Trigger.java`,
//! `list/RealtimeTrigger.java`).
//!
//! `io.kestra.plugin.redis.list.Trigger` (alias
//! `io.kestra.plugin.redis.TriggerList`): every `interval` (PT60S by
//! default) it pops up to `count` elements at a time from the head of list
//! `key` at `url`, until the list is empty, `maxRecords` were popped or
//! `maxDuration` passed (plugin-redis `list/Trigger.java`, which runs
//! `ListPop`), and when it popped at least one starts ONE execution with
//! `trigger.uri` (a kestra:// file of the elements, one Ion/JSON line each,
//! decoded per `serdeType`, as `ListPop` writes) and `trigger.count`.
//!
//! Polled as an `http.Trigger` (`super::http`: one evaluation per slot of
//! `interval`, claimed in the trigger store; `stopAfter`, `allowConcurrent`,
//! `failOnTriggerError`, `conditions`, `when`), by `baton server local`'s
//! poller and on Google Cloud by a Cloud Scheduler job (whole minutes);
//! `runtime::events::redis` pops. Without `maxRecords` a batch ends with the
//! list, at most [`MAX_RECORDS_BOUND`] elements (the rest wait for the next
//! interval).
//!
//! `io.kestra.plugin.redis.list.RealtimeTrigger` (alias
//! `io.kestra.plugin.redis.RealtimeTrigger`, the name of Kestra's own
//! example): one execution per element, popped as it arrives (BLPOP), with
//! `trigger.value` decoded per `serdeType`. It listens on `baton server
//! local` only (`runtime::events::redis::listen`); Google Cloud's
//! functions hold no listener, so a deployment refuses a flow that has one
//! (Terraform's `unsupported` check, naming the trigger).
//!
//! This module is the pure part: the declaration, the checks of what is
//! written out, and [`ListSpec`], the trigger once its properties are
//! rendered (`url` may use `secret()`).

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{StopAfterProp, TriggerDef, TriggerProblem, WhenProp, picked, prop};
use crate::model::{Flow, Trigger};
use crate::plugins::Declare;
use crate::plugins::redis::batch::{PopSpec, Serde, check_url};
use crate::template::is_template;

pub const TYPE: &str = "io.kestra.plugin.redis.list.Trigger";
pub const REALTIME_TYPE: &str = "io.kestra.plugin.redis.list.RealtimeTrigger";
/// Kestra's default `count`.
pub const DEFAULT_COUNT: u64 = 100;
/// The most elements one LPOP takes (`count`).
pub const MAX_COUNT: u64 = 10_000;
/// The most elements one execution gets, whatever `maxRecords` says.
pub const MAX_RECORDS_BOUND: u64 = 10_000;
/// The most bytes one batch holds (popping stops there; the rest waits).
pub const MAX_BATCH_BYTES: u64 = 256 * 1024 * 1024;

/// The properties the pop reads (rendered at each evaluation).
const POP_PROPS: &[&str] = &["url", "key", "count", "serdeType", "maxRecords", "maxDuration"];
/// The properties a `RealtimeTrigger`'s listener reads.
const REALTIME_PROPS: &[&str] = &["url", "key", "serdeType"];

/// Start an execution for the elements of a Redis list.
///
/// Pops up to `count` elements at a time from the head of a Redis list every `interval` (until the list is empty, `maxRecords` or `maxDuration`) and starts one execution for them (trigger.uri: one Ion line per element; trigger.count). Polled by `baton server local`, and on Google Cloud by a Cloud Scheduler job (whole minutes). An element popped is pushed back onto the head of the list when its execution cannot be stored.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    aliases = ["io.kestra.plugin.redis.TriggerList"],
    example = "id: watch\ntype: io.kestra.plugin.redis.list.Trigger\nurl: redis://localhost:6379/0\nkey: mytriggerkey\nmaxRecords: 2\ninterval: PT30S\n",
)]
struct ListTriggerProps {
    /// The connection string: redis://[[user]:password@]host[:port][/database].
    #[prop(dynamic, kind = "String", required)]
    url: Option<Value>,
    /// The list's key.
    #[prop(dynamic, kind = "String", required)]
    key: Option<Value>,
    /// How many elements one LPOP takes.
    #[prop(dynamic, kind = "Integer", default = "100")]
    count: Option<Value>,
    /// How elements were stored: STRING or JSON.
    #[prop(dynamic, kind = "String", values = ["STRING", "JSON"], default = "\"STRING\"")]
    serde_type: Option<Value>,
    /// Stop popping once this many elements were popped (at most 10000 per execution).
    #[prop(dynamic, kind = "Integer")]
    max_records: Option<Value>,
    /// Stop popping once this long has passed.
    #[prop(dynamic, kind = "Duration")]
    max_duration: Option<Value>,
    /// How often the list is polled (whole minutes on Google Cloud).
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    /// A pop that fails becomes a FAILED execution (else it is logged and retried at the next interval).
    #[prop(kind = "Boolean", default = "false")]
    fail_on_trigger_error: Option<Value>,
    #[serde(flatten)]
    stop_after: StopAfterProp,
    #[serde(flatten)]
    when: WhenProp,
}

/// Start an execution for each element pushed onto a Redis list.
///
/// Pops each element of a Redis list as it arrives (BLPOP) and starts one execution for it (trigger.value, decoded per `serdeType`). Listens on `baton server local` only: a Google Cloud deployment refuses it (its functions hold no listener). An element whose execution cannot be stored is pushed back onto the head of the list.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = REALTIME_TYPE,
    aliases = ["io.kestra.plugin.redis.RealtimeTrigger"],
    example = "id: watch\ntype: io.kestra.plugin.redis.list.RealtimeTrigger\nurl: redis://localhost:6379/0\nkey: mytriggerkey\n",
)]
struct RealtimeTriggerProps {
    /// The connection string: redis://[[user]:password@]host[:port][/database].
    #[prop(dynamic, kind = "String", required)]
    url: Option<Value>,
    /// The list's key.
    #[prop(dynamic, kind = "String", required)]
    key: Option<Value>,
    /// How elements were stored: STRING or JSON.
    #[prop(dynamic, kind = "String", values = ["STRING", "JSON"], default = "\"STRING\"")]
    serde_type: Option<Value>,
    #[serde(flatten)]
    when: WhenProp,
}

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<ListTriggerProps>(check, crate::conditions::ConditionUse::Polling));

pub static REALTIME_DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<RealtimeTriggerProps>(check, crate::conditions::ConditionUse::None));

/// Whether `t` is a `redis.list.Trigger` (by its name or alias).
pub fn is(t: &Trigger) -> bool {
    super::is_of(&DEF, t)
}

/// Whether `t` is a `redis.list.RealtimeTrigger` (by its name or alias).
pub fn is_realtime(t: &Trigger) -> bool {
    super::is_of(&REALTIME_DEF, t)
}

/// The properties the pop reads, unrendered; `None` for another type.
pub fn pop_props(t: &Trigger) -> Option<Map<String, Value>> {
    is(t).then(|| picked(t, POP_PROPS))
}

/// The properties a `RealtimeTrigger` listens with, unrendered; `None`
/// for another type or a disabled trigger.
pub fn realtime_props(t: &Trigger) -> Option<Map<String, Value>> {
    (is_realtime(t) && !t.disabled).then(|| picked(t, REALTIME_PROPS))
}

/// A rendered trigger: what to pop and how to read it.
#[derive(Debug, Clone)]
pub struct ListSpec {
    pub pop: PopSpec,
    pub serde: Serde,
}

/// An integer property between 1 and `max`.
fn positive(name: &str, v: &Value, max: u64) -> Result<u64, String> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("'{name}' must be a whole number between 1 and {max}, got {v}")),
    }
}

/// Property `name`'s value (already rendered, or written out) checked.
fn field(name: &str, v: &Value) -> Result<(), String> {
    let text = || v.as_str().map(str::trim).ok_or_else(|| format!("'{name}' must be a string, got {v}"));
    match name {
        "url" => check_url(text()?).map_err(|e| format!("'url': {e}")),
        "key" if text()?.is_empty() => Err("'key' must not be empty".into()),
        "count" => positive(name, v, MAX_COUNT).map(|_| ()),
        // a larger maxRecords is bounded, not refused
        "maxRecords" => positive(name, v, u64::MAX).map(|_| ()),
        "maxDuration" => {
            crate::model::duration::parse_iso(text()?).map(|_| ()).map_err(|e| format!("'maxDuration': {e}"))
        }
        "serdeType" => Serde::parse(Some(text()?)).map(|_| ()).map_err(|e| format!("'serdeType': {e}")),
        _ => Ok(()),
    }
}

impl ListSpec {
    /// The trigger's pop properties, rendered.
    pub fn from_rendered(props: &Map<String, Value>) -> Result<ListSpec, String> {
        for name in ["url", "key"] {
            if props.get(name).is_none_or(Value::is_null) {
                return Err(format!("it needs '{name}'"));
            }
        }
        let get = |name: &str| props.get(name).filter(|v| !v.is_null());
        // count and maxRecords are checked as they are read below
        for name in ["url", "key", "maxDuration", "serdeType"] {
            if let Some(v) = get(name) {
                field(name, v)?;
            }
        }
        let text = |name: &str| get(name).and_then(Value::as_str).map(|s| s.trim().to_string());
        let max_duration = match text("maxDuration") {
            Some(d) => crate::model::duration::parse_iso(&d).ok().map(|d| d.to_std().unwrap_or_default()),
            None => None,
        };
        let count = get("count").map_or(Ok(DEFAULT_COUNT), |v| positive("count", v, MAX_COUNT))?;
        let max_records = get("maxRecords")
            .map_or(Ok(MAX_RECORDS_BOUND), |v| positive("maxRecords", v, u64::MAX))?
            .min(MAX_RECORDS_BOUND);
        Ok(ListSpec {
            pop: PopSpec {
                url: text("url").unwrap_or_default(),
                key: text("key").unwrap_or_default(),
                count,
                max_records,
                max_duration,
                max_bytes: MAX_BATCH_BYTES,
            },
            serde: Serde::parse(text("serdeType").as_deref())?,
        })
    }
}

fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    let (what, names) = if is_realtime(trig) { ("RealtimeTrigger", REALTIME_PROPS) } else { ("Trigger", POP_PROPS) };
    for needed in ["url", "key"] {
        if prop(trig, needed).is_none() {
            out.push(TriggerProblem::at("", format!("trigger '{}': a redis.list.{what} needs '{needed}'", trig.id)));
        }
    }
    for name in names {
        let Some(v) = prop(trig, name) else { continue };
        if v.as_str().is_some_and(is_template) {
            continue;
        }
        if let Err(e) = field(name, v) {
            out.push(TriggerProblem::at(*name, format!("trigger '{}': {e}", trig.id)));
        }
    }
    if !trig.disabled && !is_realtime(trig) {
        out.extend(super::http::poll_problem(trig));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::flow;
    use super::*;

    fn trigger(props: Value) -> Trigger {
        super::super::tests::trigger_of("watch", TYPE, props)
    }

    #[test]
    fn reads_kestra_s_example_with_its_defaults() {
        let props = json!({"url": "redis://localhost:6379/0", "key": "mytriggerkey", "maxRecords": 2});
        let s = ListSpec::from_rendered(props.as_object().expect("map")).expect("valid");
        assert_eq!((s.pop.count, s.pop.max_records, s.serde), (DEFAULT_COUNT, 2, Serde::String));
        let unbounded = json!({"url": "redis://h", "key": "k", "maxRecords": "99999", "serdeType": "JSON"});
        let s = ListSpec::from_rendered(unbounded.as_object().expect("map")).expect("valid");
        assert_eq!((s.pop.max_records, s.serde), (MAX_RECORDS_BOUND, Serde::Json));
        assert!(check(&trigger(props), &flow()).is_empty());
    }

    #[test]
    fn checks_name_the_property() {
        let paths = |p: Value| -> Vec<String> { check(&trigger(p), &flow()).into_iter().map(|p| p.path).collect() };
        assert_eq!(paths(json!({"url": "redis://h"})), [""], "key");
        assert_eq!(paths(json!({"url": "redis://h", "key": "k", "serdeType": "ION"})), ["serdeType"]);
        assert_eq!(paths(json!({"url": "http://h", "key": "k"})), ["url"]);
        assert_eq!(paths(json!({"url": "redis://h", "key": "k", "count": 0})), ["count"]);
        assert_eq!(paths(json!({"url": "{{ secret('R') }}", "key": "k", "interval": "PT0.1S"})), ["interval"]);
    }
}
