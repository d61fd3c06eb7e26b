//! `io.kestra.plugin.core.kv.Put`: updates a key of the namespace KV store
//! (created when absent, unless `errorOnMissing`), keeping its expiry:
//! - a map is deep-merged into a stored JSON map (nested keys kept);
//! - a list of `{key, value}` entries patches JSON fields (`a.b` dotted
//!   paths build nested maps), `[{value}]` alone replaces the whole value;
//!   mixing the two, other fields, or keyed updates of a value that is not
//!   a JSON map fail with Kestra's messages;
//! - anything else replaces the value (typed as `kv.Set` infers it).
//!
//! The read and the write are two store calls, as in Kestra: two Puts of
//! one key racing may lose one's change. No outputs.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::kv::to_kv_value;
use crate::Declare;
use crate::de::{bool_lenient, opt_string_lenient, string_lenient};
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, parse_props};
use baton_backend::KvLookup;
use baton_model::variables::deep_merge;

/// Update a value of the KV store.
///
/// Updates `key` (created when absent unless `errorOnMissing`), keeping its expiry: a map is deep-merged into a stored JSON map, a list of `{key, value}` entries patches JSON fields (dotted paths), `[{value}]` replaces the value, anything else replaces it.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.kv.Put",
    group = "core",
    example = "id: update_my_json\ntype: io.kestra.plugin.core.kv.Put\nkey: my-json-key\nvalue:\n  - key: json-key-1\n    value: my new value\n  - key: nested.field\n    value: 123\n"
)]
struct Props {
    /// The key.
    #[serde(deserialize_with = "string_lenient")]
    key: String,
    /// The new value, a map to merge, or {key, value} entries.
    value: Value,
    /// The namespace; the flow's own when absent.
    #[serde(default, deserialize_with = "opt_string_lenient")]
    namespace: Option<String>,
    /// Fail when the key does not exist.
    #[serde(default, deserialize_with = "bool_lenient")]
    #[prop(default = "false")]
    error_on_missing: bool,
}

struct Put {
    key: String,
    value: Value,
    namespace: Option<String>,
    error_on_missing: bool,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    if p.key.trim().is_empty() {
        return Err(TaskError::property("key", "must not be empty"));
    }
    Ok(Box::new(Put {
        key: p.key.trim().to_string(),
        value: p.value,
        namespace: p.namespace,
        error_on_missing: p.error_on_missing,
    }))
}

/// Whether `v` is a list of `{key?, value}` entries (Kestra's test).
fn is_entry_list(v: &Value) -> bool {
    v.as_array().is_some_and(|items| {
        !items.is_empty()
            && items.iter().all(|i| {
                i.as_object().is_some_and(|m| m.contains_key("value") && m.keys().all(|k| k == "key" || k == "value"))
            })
    })
}

/// `{"a.b": 1}` as `{"a": {"b": 1}}`.
fn nested(updates: Vec<(String, Value)>) -> Map<String, Value> {
    let mut out = Map::new();
    for (path, value) in updates {
        let parts: Vec<&str> = path.split('.').collect();
        let mut m = Map::new();
        m.insert(parts[parts.len() - 1].to_string(), value);
        let mut v = Value::Object(m);
        for p in parts[..parts.len() - 1].iter().rev() {
            let mut outer = Map::new();
            outer.insert((*p).to_string(), v);
            v = Value::Object(outer);
        }
        if let Value::Object(m) = v {
            deep_merge(&mut out, &m);
        }
    }
    out
}

/// The value after the update (Kestra's `mergeValues`).
pub fn merged(existing: Option<&Value>, new: Value) -> Result<Value, String> {
    if is_entry_list(&new) {
        let items = new.as_array().cloned().unwrap_or_default();
        let mut updates = Vec::new();
        let mut replace = None;
        for item in &items {
            let m = item.as_object().cloned().unwrap_or_default();
            match m.get("key") {
                None | Some(Value::Null) => {
                    if replace.is_some() || !updates.is_empty() || items.len() > 1 {
                        return Err(
                            "`value` entries without `key` can only be used as a single replacement item.".into()
                        );
                    }
                    replace = Some(m.get("value").cloned().unwrap_or(Value::Null));
                }
                Some(Value::String(k)) if !k.trim().is_empty() => updates.push((k.clone(), m["value"].clone())),
                Some(_) => return Err("Each keyed `value` entry must have a non-empty string `key`.".into()),
            }
        }
        if let Some(r) = replace {
            return Ok(r);
        }
        let patch = nested(updates);
        return match existing {
            None => Ok(Value::Object(patch)),
            Some(Value::Object(m)) => {
                let mut m = m.clone();
                deep_merge(&mut m, &patch);
                Ok(Value::Object(m))
            }
            Some(_) => Err("Cannot apply keyed `value` updates to a non-JSON existing KV value.".into()),
        };
    }
    match (existing, new) {
        (Some(Value::Object(old)), Value::Object(patch)) => {
            let mut m = old.clone();
            deep_merge(&mut m, &patch);
            Ok(Value::Object(m))
        }
        (_, new) => Ok(new),
    }
}

#[async_trait]
impl RunnableTask for Put {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let ns = match self.namespace.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => cx.namespace.clone(),
        };
        // a string renders to what it holds (a number, a map…), as Kestra's renderTyped
        let value = match (&self.value, cx.raw_props.get("value")) {
            (Value::String(_), Some(raw)) => cx.render_typed(raw)?,
            (v, _) => v.clone(),
        };
        let kv = &cx.services.kv;
        let now = Utc::now();
        let read_err = |e: baton_backend::BackendError| {
            TaskError::failed(format!("cannot read key '{}' in namespace '{ns}': {e}", self.key))
        };
        let current = match kv.get(&ns, &self.key, now).await.map_err(read_err)? {
            KvLookup::Found(v) => Some(v.value),
            _ => None,
        };
        if current.is_none() && self.error_on_missing {
            return Err(TaskError::failed(format!(
                "No value found for key '{}' in namespace '{ns}' and `errorOnMissing` is set to true",
                self.key
            )));
        }
        let expires = if current.is_some() {
            kv.list(&ns, now)
                .await
                .map_err(read_err)?
                .into_iter()
                .find(|e| e.key == self.key)
                .and_then(|e| e.expiration_date)
        } else {
            None
        };
        // a secret never lands in clear in the store (masked as in outputs)
        let value = merged(current.as_ref(), cx.mask_value(value)).map_err(|e| TaskError::property("value", e))?;
        let stored = to_kv_value(value, None).map_err(|e| TaskError::property("value", e))?;
        kv.set(&ns, &self.key, &stored, expires, true, now)
            .await
            .map_err(|e| TaskError::failed(format!("cannot put key '{}' in namespace '{ns}': {e}", self.key)))?;
        Ok(TaskOutput::empty())
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;
    use baton_backend::{KvStore, KvType, KvValue};

    #[test]
    fn merges_as_kestra() {
        let old = json!({"json-key-1": "a", "nested": {"field": 1, "other": 2}});
        let patch = json!([{"key": "json-key-1", "value": "my new value"}, {"key": "nested.field", "value": 123}]);
        assert_eq!(
            merged(Some(&old), patch).expect("patched"),
            json!({"json-key-1": "my new value", "nested": {"field": 123, "other": 2}})
        );
        assert_eq!(merged(None, json!([{"key": "a.b", "value": 1}])).expect("new"), json!({"a": {"b": 1}}));
        assert_eq!(merged(Some(&old), json!([{"value": "whole"}])).expect("replaced"), json!("whole"));
        assert_eq!(
            merged(Some(&old), json!({"nested": {"x": 0}})).expect("deep merge")["nested"],
            json!({"field": 1, "other": 2, "x": 0})
        );
        assert_eq!(merged(Some(&json!("s")), json!("t")).expect("string"), json!("t"));
        assert_eq!(merged(Some(&old), json!([1, 2])).expect("a plain list replaces"), json!([1, 2]));
        for (existing, new, want) in [
            (Some(json!("s")), json!([{"key": "a", "value": 1}]), "non-JSON existing"),
            (None, json!([{"value": 1}, {"value": 2}]), "single replacement"),
            (None, json!([{"key": "a", "value": 1}, {"value": 2}]), "single replacement"),
            (None, json!([{"key": "", "value": 1}]), "non-empty string `key`"),
        ] {
            let e = merged(existing.as_ref(), new).expect_err("refused");
            assert!(e.contains(want), "{e}");
        }
    }

    #[tokio::test]
    async fn puts_create_patch_and_keep_the_type() {
        let env = Env::new();
        env.run(&DEF, json!({"key": "k", "value": [{"key": "a.b", "value": 1}]})).await.expect("created");
        env.run(&DEF, json!({"key": "k", "value": {"a": {"c": "{{ inputs.name }}"}}})).await.expect("merged");
        let got = env.kv.get("company.team", "k", Utc::now()).await.expect("get");
        assert_eq!(got, KvLookup::Found(KvValue { kind: KvType::Json, value: json!({"a": {"b": 1, "c": "world"}}) }));
        env.run(&DEF, json!({"key": "n", "value": "{{ inputs.n }}"})).await.expect("number");
        let got = env.kv.get("company.team", "n", Utc::now()).await.expect("get");
        assert_eq!(got, KvLookup::Found(KvValue { kind: KvType::Number, value: json!(42) }));
        let e = env.run(&DEF, json!({"key": "gone", "value": 1, "errorOnMissing": true})).await.expect_err("missing");
        assert!(e.to_string().contains("`errorOnMissing` is set to true"), "{e}");
        let e = env.run(&DEF, json!({"key": "n", "value": [{"key": "x", "value": 1}]})).await.expect_err("not json");
        assert!(e.to_string().contains("non-JSON"), "{e}");
    }
}
