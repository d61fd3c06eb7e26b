//! The KV store tasks: `io.kestra.plugin.core.kv.Set`, `…kv.Get` and
//! `…kv.Delete`. Keys must match `[a-zA-Z0-9][a-zA-Z0-9._-]*`; the
//! namespace defaults to the flow's. `Set` renders `value` typed and, with
//! `kvType`, converts a string value as Kestra does (NUMBER: JSON number,
//! BOOLEAN: `parseBoolean`, DATETIME/DATE: ISO instant, DURATION: ISO
//! duration, JSON: parsed). An expired key reads as missing.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::{KvLookup, KvType, KvValue};
use baton_model::duration::{format_iso, parse_iso};

/// The KV type names, as written in flows.
const KV_TYPES: &str = "STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION, JSON";

/// Checks a key against Kestra's pattern `[a-zA-Z0-9][a-zA-Z0-9._-]*`.
pub fn validate_key(key: &str) -> Result<(), TaskError> {
    let mut chars = key.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        Ok(())
    } else {
        Err(TaskError::property(
            "key",
            format!(
                "key '{key}' is invalid: it must start with a letter or digit and contain only letters, digits, \
                 dots (.), underscores (_) and hyphens (-)"
            ),
        ))
    }
}

fn parse_kv_type(s: &str) -> Result<KvType, TaskError> {
    serde_json::from_value(Value::String(s.trim().to_ascii_uppercase()))
        .map_err(|_| TaskError::property("kvType", format!("unknown KV type '{s}' (expected one of {KV_TYPES})")))
}

fn type_name(t: KvType) -> &'static str {
    match t {
        KvType::String => "STRING",
        KvType::Number => "NUMBER",
        KvType::Boolean => "BOOLEAN",
        KvType::Datetime => "DATETIME",
        KvType::Date => "DATE",
        KvType::Duration => "DURATION",
        KvType::Json => "JSON",
    }
}

fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim()).ok().map(|d| d.with_timezone(&Utc))
}

fn instant_string(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Converts a typed-rendered value to what is stored, following `kvType`
/// (or inferring the type from the value without it).
pub fn to_kv_value(value: Value, kv_type: Option<KvType>) -> Result<KvValue, String> {
    let kind = match kv_type {
        Some(k) => k,
        None => match &value {
            Value::Null => return Err("the value is null".to_string()),
            Value::String(_) => KvType::String,
            Value::Number(_) => KvType::Number,
            Value::Bool(_) => KvType::Boolean,
            Value::Array(_) | Value::Object(_) => KvType::Json,
        },
    };
    let cannot = |v: &Value, why: &str| format!("cannot store {v} as {}{why}", type_name(kind));
    let value = match (kind, value) {
        (_, Value::Null) => return Err("the value is null".to_string()),
        (KvType::String, Value::String(s)) => Value::String(s),
        (KvType::String, other) => Value::String(de::value_to_string(&other)),
        (KvType::Number, Value::String(s)) => match serde_json::from_str::<Value>(s.trim()) {
            Ok(n @ Value::Number(_)) => n,
            _ => return Err(cannot(&Value::String(s), ": it is not a number")),
        },
        (KvType::Number, n @ Value::Number(_)) => n,
        (KvType::Boolean, Value::String(s)) => Value::Bool(s.trim().eq_ignore_ascii_case("true")),
        (KvType::Boolean, b @ Value::Bool(_)) => b,
        (KvType::Datetime, Value::String(s)) => match parse_instant(&s) {
            Some(d) => Value::String(instant_string(d)),
            None => return Err(cannot(&Value::String(s), ": expected an ISO-8601 instant like 2024-01-31T10:00:00Z")),
        },
        (KvType::Date, Value::String(s)) => {
            if let Ok(d) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
                Value::String(d.format("%Y-%m-%d").to_string())
            } else if let Some(d) = parse_instant(&s) {
                Value::String(instant_string(d))
            } else {
                return Err(cannot(&Value::String(s), ": expected a date like 2024-01-31 or an ISO-8601 instant"));
            }
        }
        (KvType::Duration, Value::String(s)) => match parse_iso(&s) {
            Ok(d) => Value::String(format_iso(d)),
            Err(e) => return Err(cannot(&Value::String(s.clone()), &format!(": {e}"))),
        },
        (KvType::Json, Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(v) => v,
            Err(e) => return Err(cannot(&Value::String(s.clone()), &format!(": invalid JSON ({e})"))),
        },
        (KvType::Json, v) => v,
        (_, other) => return Err(cannot(&other, "")),
    };
    Ok(KvValue { kind, value })
}

fn namespace_of(cx: &RunContext, ns: &Option<String>) -> String {
    match ns.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => cx.namespace.clone(),
    }
}

fn missing_message(key: &str, ns: &str) -> String {
    format!("No value found for key '{key}' in namespace '{ns}' and `errorOnMissing` is set to true")
}

// ------------------------------------------------------------------ Set ---

/// Store a value in the KV store.
///
/// Writes `value` under `key` in a namespace's KV store, typed by `kvType` (or as written), with an optional time to live.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.kv.Set",
    aliases = ["io.kestra.core.tasks.kv.Set"],
    group = "core",
    example = "id: remember\ntype: io.kestra.plugin.core.kv.Set\nkey: last_run\nvalue: \"{{ execution.startDate }}\"\nkvType: STRING\n",
)]
struct SetProps {
    /// The key.
    #[serde(deserialize_with = "de::string_lenient")]
    key: String,
    /// The value to store.
    #[serde(default)]
    #[prop(required)]
    value: Option<Value>,
    /// The namespace; the flow's own when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    namespace: Option<String>,
    /// Replace an existing value (false: fail when the key exists).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    overwrite: Option<bool>,
    /// Expire the value after this ISO-8601 duration.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration")]
    ttl: Option<Duration>,
    /// The value's type.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"])]
    kv_type: Option<String>,
}

/// `kv.Set`.
#[derive(Debug)]
pub struct Set {
    key: String,
    /// The rendered value, used when the raw one is not in `raw_props`.
    value: Value,
    namespace: Option<String>,
    overwrite: bool,
    ttl: Option<Duration>,
    kv_type: Option<KvType>,
}

fn build_set(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SetProps = parse_props(props)?;
    validate_key(&p.key)?;
    let value = match p.value {
        Some(Value::Null) | None => return Err(TaskError::property("value", "is required")),
        Some(v) => v,
    };
    if let Some(ttl) = p.ttl
        && ttl < Duration::zero()
    {
        return Err(TaskError::property("ttl", format!("must not be negative, got {}", format_iso(ttl))));
    }
    let kv_type = match p.kv_type.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => Some(parse_kv_type(t)?),
        _ => None,
    };
    Ok(Box::new(Set {
        key: p.key,
        value,
        namespace: p.namespace,
        overwrite: p.overwrite.unwrap_or(true),
        ttl: p.ttl,
        kv_type,
    }))
}

#[async_trait]
impl RunnableTask for Set {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let ns = namespace_of(cx, &self.namespace);
        let rendered = match cx.raw_props.get("value") {
            Some(raw) => cx.render_typed(raw)?,
            None => self.value.clone(),
        };
        // a secret never lands in clear in the store (masked as in outputs)
        let rendered = cx.mask_value(rendered);
        let value = to_kv_value(rendered, self.kv_type).map_err(|e| TaskError::property("value", e))?;
        let now = Utc::now();
        let expires = match self.ttl {
            None => None,
            Some(ttl) => Some(
                now.checked_add_signed(ttl)
                    .ok_or_else(|| TaskError::property("ttl", format!("{} is too long", format_iso(ttl))))?,
            ),
        };
        let kv = &cx.services.kv;
        let exists_msg = || {
            format!(
                "Cannot set value for key '{}' in namespace '{ns}'. Key already exists and `overwrite` is set to `false`.",
                self.key
            )
        };
        if !self.overwrite {
            let found = kv
                .get(&ns, &self.key, now)
                .await
                .map_err(|e| TaskError::failed(format!("cannot read key '{}' in namespace '{ns}': {e}", self.key)))?;
            if matches!(found, KvLookup::Found(_)) {
                return Err(TaskError::failed(exists_msg()));
            }
        }
        kv.set(&ns, &self.key, &value, expires, self.overwrite, now).await.map_err(|e| {
            let msg = e.to_string();
            if !self.overwrite && msg.contains("already exists") {
                TaskError::failed(exists_msg())
            } else {
                TaskError::failed(format!("cannot set key '{}' in namespace '{ns}': {msg}", self.key))
            }
        })?;
        Ok(TaskOutput::empty())
    }
}

pub static SET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SetProps>(build_set));

// ------------------------------------------------------------ Get / Delete ---

#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct KeyProps {
    /// The key.
    #[serde(deserialize_with = "de::string_lenient")]
    key: String,
    /// The namespace; the flow's own when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    namespace: Option<String>,
    /// Fail when there is nothing to read or delete.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    error_on_missing: Option<bool>,
}

/// Read a value from the KV store.
///
/// Reads `key` from a namespace's KV store (or a parent namespace's) and exposes it as `value`.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.core.kv.Get",
    aliases = ["io.kestra.core.tasks.kv.Get"],
    group = "core",
    props = KeyProps,
    example = "id: read\ntype: io.kestra.plugin.core.kv.Get\nkey: last_run\nerrorOnMissing: false\n",
    outputs(
        value(Any, "The stored value (absent when missing).")
    ),
)]
pub struct Get {
    key: String,
    namespace: Option<String>,
    error_on_missing: bool,
}

fn build_get(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: KeyProps = parse_props(props)?;
    validate_key(&p.key)?;
    Ok(Box::new(Get { key: p.key, namespace: p.namespace, error_on_missing: p.error_on_missing.unwrap_or(false) }))
}

#[async_trait]
impl RunnableTask for Get {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let ns = namespace_of(cx, &self.namespace);
        let found = cx
            .services
            .kv
            .get(&ns, &self.key, Utc::now())
            .await
            .map_err(|e| TaskError::failed(format!("cannot read key '{}' in namespace '{ns}': {e}", self.key)))?;
        let value = match found {
            KvLookup::Found(v) => v.value,
            KvLookup::Missing if self.error_on_missing => {
                return Err(TaskError::failed(missing_message(&self.key, &ns)));
            }
            KvLookup::Expired if self.error_on_missing => {
                return Err(TaskError::failed(format!(
                    "{} (the key has expired: its TTL passed)",
                    missing_message(&self.key, &ns)
                )));
            }
            KvLookup::Missing | KvLookup::Expired => Value::Null,
        };
        let mut out = Map::new();
        out.insert("value".into(), value);
        Ok(TaskOutput::with(out))
    }
}

pub static GET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<Get>(build_get).parsed_by::<KeyProps>());

/// Delete a key from the KV store.
///
/// Removes `key` from a namespace's KV store; `deleted` says whether it existed.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.core.kv.Delete",
    aliases = ["io.kestra.core.tasks.kv.Delete"],
    group = "core",
    props = KeyProps,
    example = "id: forget\ntype: io.kestra.plugin.core.kv.Delete\nkey: last_run\n",
    outputs(
        deleted(Boolean, "Whether the key existed.")
    ),
)]
pub struct Delete {
    key: String,
    namespace: Option<String>,
    error_on_missing: bool,
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: KeyProps = parse_props(props)?;
    validate_key(&p.key)?;
    Ok(Box::new(Delete { key: p.key, namespace: p.namespace, error_on_missing: p.error_on_missing.unwrap_or(false) }))
}

#[async_trait]
impl RunnableTask for Delete {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let ns = namespace_of(cx, &self.namespace);
        let deleted = cx
            .services
            .kv
            .delete(&ns, &self.key)
            .await
            .map_err(|e| TaskError::failed(format!("cannot delete key '{}' in namespace '{ns}': {e}", self.key)))?;
        if !deleted && self.error_on_missing {
            return Err(TaskError::failed(missing_message(&self.key, &ns)));
        }
        let mut out = Map::new();
        out.insert("deleted".into(), Value::Bool(deleted));
        Ok(TaskOutput::with(out))
    }
}

pub static DELETE: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<Delete>(build_delete).parsed_by::<KeyProps>());

#[cfg(test)]
mod tests {
    use serde_json::json;

    use baton_backend::KvStore;

    use super::*;
    use crate::core::test_support::Env;

    /// The stored value and its expiration, read through the KV contract.
    async fn stored(env: &Env, ns: &str, key: &str) -> Option<(KvValue, Option<DateTime<Utc>>)> {
        let now = Utc::now();
        let KvLookup::Found(v) = env.kv.get(ns, key, now).await.unwrap() else { return None };
        let exp = env.kv.list(ns, now).await.unwrap().into_iter().find(|e| e.key == key)?.expiration_date;
        Some((v, exp))
    }

    #[tokio::test]
    async fn set_with_each_kv_type() {
        let env = Env::new();
        let cases = [
            ("STRING", json!("{{ inputs.name }}"), KvType::String, json!("world")),
            ("STRING", json!(12), KvType::String, json!("12")),
            ("NUMBER", json!("3.5"), KvType::Number, json!(3.5)),
            ("NUMBER", json!("{{ inputs.n }}"), KvType::Number, json!(42)),
            ("BOOLEAN", json!("TRUE"), KvType::Boolean, json!(true)),
            ("BOOLEAN", json!("nope"), KvType::Boolean, json!(false)),
            ("DATETIME", json!("2024-01-31T10:00:00+01:00"), KvType::Datetime, json!("2024-01-31T09:00:00Z")),
            ("DATE", json!("2024-01-31"), KvType::Date, json!("2024-01-31")),
            ("DURATION", json!("PT90M"), KvType::Duration, json!("PT1H30M")),
            ("JSON", json!(r#"{"a": [1, 2]}"#), KvType::Json, json!({"a": [1, 2]})),
            ("json", json!({"b": "{{ inputs.name }}"}), KvType::Json, json!({"b": "world"})),
        ];
        for (t, v, kind, expect) in cases {
            env.run(&SET, json!({"key": "k", "value": v, "kvType": t})).await.unwrap();
            let (got, exp) = stored(&env, "company.team", "k").await.unwrap();
            assert_eq!(got, KvValue { kind, value: expect }, "kvType {t}");
            assert_eq!(exp, None);
        }
        for (t, v) in [("NUMBER", "abc"), ("DATETIME", "yesterday"), ("DURATION", "1h"), ("JSON", "{oops")] {
            let e = env.run(&SET, json!({"key": "k", "value": v, "kvType": t})).await.unwrap_err();
            assert!(e.to_string().contains(t), "{t}: {e}");
        }
        let e = env.run(&SET, json!({"key": "k", "value": "x", "kvType": "BLOB"})).await.unwrap_err();
        assert!(e.to_string().contains("kvType"), "{e}");
    }

    #[tokio::test]
    async fn set_infers_type_and_uses_namespace() {
        let env = Env::new();
        env.run(&SET, json!({"key": "a", "value": 5, "namespace": "other"})).await.unwrap();
        assert_eq!(stored(&env, "other", "a").await.unwrap().0, KvValue { kind: KvType::Number, value: json!(5) });
        env.run(&SET, json!({"key": "b", "value": true})).await.unwrap();
        assert_eq!(stored(&env, "company.team", "b").await.unwrap().0.kind, KvType::Boolean);
        env.run(&SET, json!({"key": "c", "value": [1]})).await.unwrap();
        assert_eq!(stored(&env, "company.team", "c").await.unwrap().0.kind, KvType::Json);
        env.run(&SET, json!({"key": "d", "value": "PT1S"})).await.unwrap();
        assert_eq!(stored(&env, "company.team", "d").await.unwrap().0.kind, KvType::String);
    }

    #[tokio::test]
    async fn set_ttl_overwrite_and_invalid_key() {
        let env = Env::new();
        env.run(&SET, json!({"key": "t", "value": "v", "ttl": "PT1H"})).await.unwrap();
        let exp = stored(&env, "company.team", "t").await.unwrap().1.unwrap();
        let left = exp - Utc::now();
        assert!(left > Duration::minutes(59) && left <= Duration::hours(1), "{left}");

        let e = env.run(&SET, json!({"key": "t", "value": "w", "ttl": "-PT1S"})).await.unwrap_err();
        assert!(e.to_string().contains("ttl"), "{e}");

        let e = env.run(&SET, json!({"key": "t", "value": "w", "overwrite": "false"})).await.unwrap_err();
        assert!(e.to_string().contains("`overwrite` is set to `false`"), "{e}");
        assert_eq!(stored(&env, "company.team", "t").await.unwrap().0.value, json!("v"));
        env.run(&SET, json!({"key": "t", "value": "w"})).await.unwrap();
        assert_eq!(stored(&env, "company.team", "t").await.unwrap().0.value, json!("w"));
        env.run(&SET, json!({"key": "fresh", "value": "w", "overwrite": false})).await.unwrap();

        for bad in ["bad key", "_x", "", "a/b"] {
            let e = env.run(&SET, json!({"key": bad, "value": "v"})).await.unwrap_err();
            assert!(e.to_string().contains(&format!("'{bad}'")), "{e}");
        }
        let e = env.run(&SET, json!({"key": "k"})).await.unwrap_err();
        assert!(e.to_string().contains("value"), "{e}");
    }

    #[tokio::test]
    async fn get_and_delete() {
        let env = Env::new();
        env.run(&SET, json!({"key": "k", "value": {"x": 1}})).await.unwrap();
        let out = env.run(&GET, json!({"key": "k"})).await.unwrap();
        assert_eq!(out.outputs.get("value"), Some(&json!({"x": 1})));

        let out = env.run(&GET, json!({"key": "nope"})).await.unwrap();
        assert_eq!(out.outputs.get("value"), Some(&Value::Null));
        let e = env.run(&GET, json!({"key": "nope", "errorOnMissing": true})).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "No value found for key 'nope' in namespace 'company.team' and `errorOnMissing` is set to true"
        );

        let out = env.run(&DELETE, json!({"key": "k"})).await.unwrap();
        assert_eq!(out.outputs.get("deleted"), Some(&json!(true)));
        let out = env.run(&DELETE, json!({"key": "k"})).await.unwrap();
        assert_eq!(out.outputs.get("deleted"), Some(&json!(false)));
        let e = env.run(&DELETE, json!({"key": "k", "errorOnMissing": "true"})).await.unwrap_err();
        assert!(e.to_string().contains("No value found for key 'k'"), "{e}");
    }

    #[tokio::test]
    async fn expired_keys_read_as_missing() {
        let env = Env::new();
        env.run(&SET, json!({"key": "e", "value": "v", "ttl": "PT0S"})).await.unwrap();
        let out = env.run(&GET, json!({"key": "e"})).await.unwrap();
        assert_eq!(out.outputs.get("value"), Some(&Value::Null));
        env.run(&SET, json!({"key": "e", "value": "v", "ttl": "PT0S"})).await.unwrap();
        let e = env.run(&GET, json!({"key": "e", "errorOnMissing": true})).await.unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
    }
}
