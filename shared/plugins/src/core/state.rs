//! Kestra's state store tasks: `io.kestra.plugin.core.state.Set`, `…Get`
//! and `…Delete`. A state is a JSON map kept, as in Kestra 0.20+, in the
//! namespace's KV store under the key
//! `{flow slug}_states_tasks-states_{name}[_{hash of taskrun.value}]`:
//! `namespace: true` drops the flow prefix (shared by the namespace's
//! flows), `taskrunValue: false` drops the per-iteration suffix. `Set`
//! merges `data` into the stored map (outputs `count`, `key`); `Get`
//! outputs `data` and `count` (an empty map when missing, an error with
//! `errorOnMissing`); `Delete` outputs `deleted`. As in Kestra, concurrent
//! executions of the same flow may overwrite each other's state.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::{KvLookup, KvType, KvValue};
use baton_model::ids::slugify;

/// Merge values into a stored state.
///
/// Merges `data` into a named state kept per flow (or namespace), as Kestra's state store does.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.state.Set",
    aliases = ["io.kestra.core.tasks.states.Set"],
    group = "core",
    example = "id: save\ntype: io.kestra.plugin.core.state.Set\nname: cursor\ndata:\n  offset: 100\n",
    outputs(
        count(Integer, "The number of keys stored.")
    ),
)]
struct SetProps {
    /// The state's name; several states may live side by side.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"default\"")]
    name: Option<String>,
    /// Share the state across the namespace rather than the flow.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    namespace: Option<bool>,
    /// Keep one state per loop value (inside a ForEach).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    taskrun_value: Option<bool>,
    /// The values to merge into the state.
    #[serde(default)]
    #[prop(kind = "Map")]
    data: Option<Value>,
}

/// What `state.Get` and `state.Delete` read: which state, and whether a
/// missing one fails.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct KeyProps {
    /// The state's name; several states may live side by side.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"default\"")]
    name: Option<String>,
    /// Share the state across the namespace rather than the flow.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    namespace: Option<bool>,
    /// Keep one state per loop value (inside a ForEach).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    taskrun_value: Option<bool>,
    /// Fail when there is nothing to read or delete.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    error_on_missing: Option<bool>,
}

/// Which state a task addresses (resolved against the run context).
#[derive(Debug)]
struct Address {
    name: String,
    namespace_scoped: bool,
    per_value: bool,
}

impl Address {
    fn of(name: &Option<String>, namespace: Option<bool>, taskrun_value: Option<bool>) -> Result<Address, TaskError> {
        let name = name.clone().unwrap_or_else(|| "default".to_string());
        if name.trim().is_empty() {
            return Err(TaskError::property("name", "must not be blank"));
        }
        Ok(Address { name, namespace_scoped: namespace.unwrap_or(false), per_value: taskrun_value.unwrap_or(true) })
    }

    /// The KV key of this state for the task running in `cx`.
    fn key(&self, cx: &RunContext) -> Result<String, TaskError> {
        let mut key = String::new();
        if !self.namespace_scoped {
            key.push_str(&slugify(&cx.flow_id));
            key.push('_');
        }
        key.push_str("states_tasks-states_");
        key.push_str(&self.name);
        let value = cx.get("taskrun").and_then(|t| t.get("value")).filter(|v| !v.is_null());
        if self.per_value
            && let Some(v) = value
        {
            let text = de::value_to_string(v);
            let digest = Sha256::digest(text.as_bytes());
            key.push('_');
            key.extend(digest.iter().take(8).map(|b| format!("{b:02x}")));
        }
        super::kv::validate_key(&key)
            .map_err(|_| TaskError::property("name", format!("state name '{}' is not a valid key", self.name)))?;
        Ok(key)
    }
}

async fn load(cx: &RunContext, key: &str) -> Result<Option<Map<String, Value>>, TaskError> {
    let found =
        cx.services.kv.get(&cx.namespace, key, Utc::now()).await.map_err(|e| {
            TaskError::failed(format!("cannot read state '{key}' in namespace '{}': {e}", cx.namespace))
        })?;
    match found {
        KvLookup::Found(KvValue { value: Value::Object(m), .. }) => Ok(Some(m)),
        KvLookup::Found(other) => {
            Err(TaskError::failed(format!("state '{key}' does not hold a map (found {} value)", other.value)))
        }
        KvLookup::Missing | KvLookup::Expired => Ok(None),
    }
}

/// Deep merge as Kestra's `MapUtils.merge`: nested maps merge, anything
/// else in `new` replaces.
fn merge(mut base: Map<String, Value>, new: Map<String, Value>) -> Map<String, Value> {
    for (k, v) in new {
        match (base.remove(&k), v) {
            (Some(Value::Object(old)), Value::Object(n)) => {
                base.insert(k, Value::Object(merge(old, n)));
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
    base
}

// ------------------------------------------------------------------ Set ---

/// `state.Set`.
#[derive(Debug)]
pub struct Set {
    at: Address,
    data: Map<String, Value>,
}

fn build_set(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SetProps = parse_props(props)?;
    let data = match &p.data {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => return Err(TaskError::property("data", format!("expected a map, got {other}"))),
    };
    Ok(Box::new(Set { at: Address::of(&p.name, p.namespace, p.taskrun_value)?, data }))
}

#[async_trait]
impl RunnableTask for Set {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let key = self.at.key(cx)?;
        let current = load(cx, &key).await?.unwrap_or_default();
        let merged = merge(current, self.data.clone());
        let count = merged.len();
        // a secret never lands in clear in the store (masked as in outputs)
        let value = KvValue { kind: KvType::Json, value: cx.mask_value(Value::Object(merged)) };
        cx.services.kv.set(&cx.namespace, &key, &value, None, true, Utc::now()).await.map_err(|e| {
            TaskError::failed(format!("cannot write state '{key}' in namespace '{}': {e}", cx.namespace))
        })?;
        let mut out = Map::new();
        out.insert("count".into(), count.into());
        out.insert("key".into(), key.into());
        Ok(TaskOutput::with(out))
    }
}

pub static SET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SetProps>(build_set));

// ------------------------------------------------------------------ Get ---

/// Read a stored state.
///
/// Reads a named state and exposes it as `data`.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.core.state.Get",
    aliases = ["io.kestra.core.tasks.states.Get"],
    group = "core",
    props = KeyProps,
    example = "id: load\ntype: io.kestra.plugin.core.state.Get\nname: cursor\nerrorOnMissing: false\n",
    outputs(
        data(Map, "The state's values.")
    ),
)]
pub struct Get {
    at: Address,
    error_on_missing: bool,
}

fn build_get(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: KeyProps = parse_props(props)?;
    let at = Address::of(&p.name, p.namespace, p.taskrun_value)?;
    Ok(Box::new(Get { at, error_on_missing: p.error_on_missing.unwrap_or(false) }))
}

#[async_trait]
impl RunnableTask for Get {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let key = self.at.key(cx)?;
        let data = match load(cx, &key).await? {
            Some(m) => m,
            None if self.error_on_missing => {
                return Err(TaskError::failed(format!("State {key} not found (errorOnMissing is true)")));
            }
            None => Map::new(),
        };
        let mut out = Map::new();
        out.insert("count".into(), data.len().into());
        out.insert("data".into(), Value::Object(data));
        Ok(TaskOutput::with(out))
    }
}

pub static GET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<Get>(build_get).parsed_by::<KeyProps>());

// --------------------------------------------------------------- Delete ---

/// Delete a stored state.
///
/// Removes a named state.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.core.state.Delete",
    aliases = ["io.kestra.core.tasks.states.Delete"],
    group = "core",
    props = KeyProps,
    example = "id: reset\ntype: io.kestra.plugin.core.state.Delete\nname: cursor\n",
    outputs(
        deleted(Boolean, "Whether the state existed.")
    ),
)]
pub struct Delete {
    at: Address,
    error_on_missing: bool,
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: KeyProps = parse_props(props)?;
    let at = Address::of(&p.name, p.namespace, p.taskrun_value)?;
    Ok(Box::new(Delete { at, error_on_missing: p.error_on_missing.unwrap_or(false) }))
}

#[async_trait]
impl RunnableTask for Delete {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let key = self.at.key(cx)?;
        let deleted = cx.services.kv.delete(&cx.namespace, &key).await.map_err(|e| {
            TaskError::failed(format!("cannot delete state '{key}' in namespace '{}': {e}", cx.namespace))
        })?;
        if self.error_on_missing && !deleted {
            return Err(TaskError::failed(format!("Unable to find the state file '{}'", self.at.name)));
        }
        let mut out = Map::new();
        out.insert("deleted".into(), deleted.into());
        Ok(TaskOutput::with(out))
    }
}

pub static DELETE: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<Delete>(build_delete).parsed_by::<KeyProps>());

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    #[tokio::test]
    async fn set_merges_get_reads_delete_removes() {
        let env = Env::new();
        let out = env.run(&GET, json!({"name": "s"})).await.unwrap();
        assert_eq!(out.outputs["count"], json!(0));
        assert_eq!(out.outputs["data"], json!({}));
        let out = env.run(&SET, json!({"name": "s", "data": {"a": 1, "n": {"x": 1}}})).await.unwrap();
        assert_eq!(out.outputs["count"], json!(2));
        assert_eq!(out.outputs["key"], json!("my-flow_states_tasks-states_s"));
        let out = env.run(&SET, json!({"name": "s", "data": {"b": "{{ inputs.n }}", "n": {"y": 2}}})).await.unwrap();
        assert_eq!(out.outputs["count"], json!(3));
        let out = env.run(&GET, json!({"name": "s"})).await.unwrap();
        assert_eq!(out.outputs["data"], json!({"a": 1, "b": "42", "n": {"x": 1, "y": 2}}));
        let out = env.run(&DELETE, json!({"name": "s"})).await.unwrap();
        assert_eq!(out.outputs["deleted"], json!(true));
        let out = env.run(&DELETE, json!({"name": "s"})).await.unwrap();
        assert_eq!(out.outputs["deleted"], json!(false));
        let e = env.run(&DELETE, json!({"name": "s", "errorOnMissing": true})).await.unwrap_err();
        assert!(e.to_string().contains("'s'"), "{e}");
        let e = env.run(&GET, json!({"name": "s", "errorOnMissing": true})).await.unwrap_err();
        assert!(e.to_string().contains("not found"), "{e}");
    }

    #[tokio::test]
    async fn scoped_by_flow_namespace_and_taskrun_value() {
        let mut env = Env::new();
        env.run(&SET, json!({"data": {"v": 1}, "namespace": true})).await.unwrap();
        let out = env.run(&GET, json!({})).await.unwrap();
        assert_eq!(out.outputs["count"], json!(0), "the flow's default state is not the namespace's");
        let out = env.run(&GET, json!({"namespace": true})).await.unwrap();
        assert_eq!(out.outputs["data"], json!({"v": 1}));

        env.context["taskrun"] = json!({"value": "a"});
        let out = env.run(&SET, json!({"data": {"v": "a"}})).await.unwrap();
        let key_a = out.outputs["key"].as_str().unwrap().to_string();
        assert!(key_a.starts_with("my-flow_states_tasks-states_default_"), "{key_a}");
        env.context["taskrun"] = json!({"value": "b"});
        let out = env.run(&GET, json!({})).await.unwrap();
        assert_eq!(out.outputs["count"], json!(0), "each iteration has its own state");
        env.run(&SET, json!({"data": {"w": 1}, "taskrunValue": false})).await.unwrap();
        env.context["taskrun"] = json!({"value": "a"});
        let out = env.run(&GET, json!({"taskrunValue": false})).await.unwrap();
        assert_eq!(out.outputs["data"], json!({"w": 1}));
        let out = env.run(&GET, json!({})).await.unwrap();
        assert_eq!(out.outputs["data"], json!({"v": "a"}));
    }

    #[tokio::test]
    async fn bad_data_and_names_are_property_errors() {
        let env = Env::new();
        let e = env.run(&SET, json!({"data": [1]})).await.unwrap_err();
        assert!(e.to_string().contains("data"), "{e}");
        let e = env.run(&SET, json!({"name": "a b", "data": {}})).await.unwrap_err();
        assert!(e.to_string().contains("name"), "{e}");
    }
}
