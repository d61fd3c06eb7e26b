//! `io.kestra.plugin.core.kv.PurgeKV`: deletes KV keys across namespaces
//! → output `size`, the number of keys deleted.
//!
//! Which namespaces, as Kestra's `PurgeTask`: `namespacePattern` (a
//! wildcard, `*` and `?`) filters the known namespaces; else `namespaces`
//! — each with, when `includeChildNamespaces` (default true), every known
//! namespace starting with it (a plain prefix, as Kestra) — plus the named
//! ones themselves; else every known namespace. Both at once are an error.
//! Kestra knows the namespaces of its flows; Baton knows those of its KV
//! store ([`baton_backend::KvStore::namespaces`]), where `baton run` has
//! no flow repository — a namespace holding keys but no flow is purged
//! here and not in Kestra.
//!
//! Which keys: `keyPattern` (a wildcard on the key), and `behavior`
//! `{type: key, expiredOnly}` (default expired only) or the deprecated
//! `expiredOnly`, which overrides it. An expired key is deleted through a
//! read at the purge's instant ([`baton_backend::KvStore::get`] deletes
//! only a still-expired value, so a key set again meanwhile survives);
//! with `expiredOnly: false` every matching key is deleted. Kestra's
//! `behavior: {type: version}` purges old versions of a key: Baton's KV
//! keeps one value a key, so it is refused (see [`check_behavior`]).

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::KvLookup;

pub const TYPE: &str = "io.kestra.plugin.core.kv.PurgeKV";

/// Apache commons' `FilenameUtils.wildcardMatch` (case-sensitive): `*`
/// any run of characters, `?` exactly one.
pub fn wildcard_match(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Checks a `behavior` as written: `{type: key, expiredOnly}`; `version`
/// is refused naming why. Templates fit.
pub fn check_behavior(v: &Value) -> Result<(), String> {
    match v {
        Value::String(_) | Value::Null => Ok(()),
        Value::Object(m) => {
            for k in m.keys() {
                if !matches!(k.as_str(), "type" | "expiredOnly") {
                    return Err(format!("unknown behavior property '{k}' (known: type, expiredOnly)"));
                }
            }
            match m.get("type").and_then(Value::as_str).map(str::trim) {
                None => Err("behavior needs a 'type' (key)".to_string()),
                Some("key") => Ok(()),
                Some("version") => Err("behavior type 'version' purges old versions of each key, and Baton's KV \
                                        store keeps no versions: use type: key"
                    .to_string()),
                Some(t) if baton_template::is_template(t) => Ok(()),
                Some(other) => Err(format!("unknown behavior type '{other}' (expected key)")),
            }
        }
        _ => Err("behavior must be a mapping like {type: key, expiredOnly: true}".to_string()),
    }
}

/// Delete keys of the KV store across namespaces.
///
/// Deletes the expired keys (or every key with expiredOnly false) of the chosen namespaces, optionally only keys matching `keyPattern`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = TYPE,
    group = "core",
    example = "id: purge_kv\ntype: io.kestra.plugin.core.kv.PurgeKV\nnamespaces:\n  - company\nincludeChildNamespaces: true\nexpiredOnly: true\n",
    outputs(
        size(Integer, "The number of keys deleted.")
    ),
)]
struct Props {
    /// The namespaces to purge (every namespace holding keys when absent); not with namespacePattern.
    #[serde(default, deserialize_with = "namespaces_list")]
    namespaces: Vec<String>,
    /// A wildcard (`*`, `?`) on the namespaces to purge; not with namespaces.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    namespace_pattern: Option<String>,
    /// A wildcard (`*`, `?`) on the keys to delete.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    key_pattern: Option<String>,
    /// Also purge the namespaces starting with one of `namespaces`.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    include_child_namespaces: Option<bool>,
    /// Delete only expired keys (deprecated: overrides behavior).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    expired_only: Option<bool>,
    /// How keys are purged: {type: key, expiredOnly: true|false} (type version is refused: Baton keeps no versions).
    #[serde(default)]
    #[prop(kind = "Map", default = "{type: key, expiredOnly: true}", check = check_behavior)]
    behavior: Option<Value>,
}

/// A list of namespaces, or a rendered template holding a JSON list.
pub fn namespaces_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    let v = match v {
        Value::String(s) if s.trim_start().starts_with('[') => {
            serde_json::from_str(&s).map_err(|e| serde::de::Error::custom(format!("not a JSON list: {e}")))?
        }
        other => other,
    };
    de::string_or_list(v).map_err(serde::de::Error::custom)
}

/// `kv.PurgeKV`.
#[derive(Debug)]
pub struct PurgeKv {
    namespaces: Vec<String>,
    namespace_pattern: Option<String>,
    key_pattern: Option<String>,
    include_children: bool,
    expired_only: bool,
}

fn non_blank(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let namespace_pattern = non_blank(p.namespace_pattern);
    let namespaces: Vec<String> = p.namespaces.into_iter().map(|n| n.trim().to_string()).collect();
    if !namespaces.is_empty() && namespace_pattern.is_some() {
        return Err(TaskError::property(
            "namespaces",
            "Properties `namespaces` and `namespacePattern` can't be used at the same time — use one or the other.",
        ));
    }
    let expired_only = match (p.expired_only, &p.behavior) {
        (Some(e), _) => e,
        (None, None | Some(Value::Null)) => true,
        (None, Some(b)) => {
            check_behavior(b).map_err(|e| TaskError::property("behavior", e))?;
            match b.get("expiredOnly") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(e)) => *e,
                Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
                Some(other) => {
                    return Err(TaskError::property("behavior", format!("expiredOnly must be a boolean, got {other}")));
                }
            }
        }
    };
    Ok(Box::new(PurgeKv {
        namespaces,
        namespace_pattern,
        key_pattern: non_blank(p.key_pattern),
        include_children: p.include_child_namespaces.unwrap_or(true),
        expired_only,
    }))
}

impl PurgeKv {
    /// The namespaces to purge, from the ones the KV store holds.
    fn select(&self, known: Vec<String>) -> Vec<String> {
        if let Some(pattern) = &self.namespace_pattern {
            return known.into_iter().filter(|ns| wildcard_match(ns, pattern)).collect();
        }
        if self.namespaces.is_empty() {
            return known;
        }
        let mut out: Vec<String> = known
            .into_iter()
            .filter(|ns| {
                self.namespaces.iter().any(|n| if self.include_children { ns.starts_with(n.as_str()) } else { ns == n })
            })
            .collect();
        for n in &self.namespaces {
            if !out.contains(n) {
                out.push(n.clone());
            }
        }
        out
    }
}

#[async_trait]
impl RunnableTask for PurgeKv {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let kv = &cx.services.kv;
        let known = kv.namespaces().await.map_err(|e| TaskError::failed(format!("cannot list KV namespaces: {e}")))?;
        let namespaces = self.select(known);
        cx.info(&format!("purging {} namespaces: [{}]", namespaces.len(), namespaces.join(", ")));
        let now = Utc::now();
        let mut size = 0u64;
        for ns in &namespaces {
            let entries = kv
                .list_all(ns)
                .await
                .map_err(|e| TaskError::failed(format!("cannot list the keys of namespace '{ns}': {e}")))?;
            for e in entries {
                if self.key_pattern.as_deref().is_some_and(|p| !wildcard_match(&e.key, p)) {
                    continue;
                }
                let fail = |err: baton_backend::BackendError| {
                    TaskError::failed(format!("cannot purge key '{}' of namespace '{ns}': {err}", e.key))
                };
                let purged = if self.expired_only {
                    // only an expired key, deleted by the read only if still expired
                    e.expiration_date.is_some_and(|d| d < now)
                        && matches!(kv.get(ns, &e.key, now).await.map_err(fail)?, KvLookup::Expired)
                } else {
                    kv.delete(ns, &e.key).await.map_err(fail)?
                };
                size += u64::from(purged);
            }
        }
        cx.info(&format!("purged {size} keys"));
        let mut out = Map::new();
        out.insert("size".into(), size.into());
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;
    use baton_backend::{KvStore, KvType, KvValue};

    /// Namespaces and keys: `(namespace, key, expired)`.
    async fn seeded() -> Env {
        let env = Env::new();
        let now = Utc::now();
        let v = KvValue { kind: KvType::String, value: json!("v") };
        for (ns, key, expired) in [
            ("company", "a", true),
            ("company", "AI_x", true),
            ("company", "live", false),
            ("company.team", "b", true),
            ("company.team", "AI_y", false),
            ("companyx", "c", true),
            ("other", "d", true),
        ] {
            let exp = if expired { Some(now - Duration::seconds(5)) } else { Some(now + Duration::hours(1)) };
            env.kv.set(ns, key, &v, exp, true, now - Duration::minutes(1)).await.unwrap();
        }
        env
    }

    async fn keys(env: &Env, ns: &str) -> Vec<String> {
        env.kv.list_all(ns).await.unwrap().into_iter().map(|e| e.key).collect()
    }

    async fn size(env: &Env, props: Value) -> u64 {
        env.run(&DEF, props).await.unwrap().outputs["size"].as_u64().unwrap()
    }

    #[tokio::test]
    async fn purges_expired_keys_of_a_namespace_and_its_children() {
        let env = seeded().await;
        // Kestra's example; a plain prefix, so `companyx` is a child too
        assert_eq!(size(&env, json!({"namespaces": ["company"], "expiredOnly": true})).await, 4);
        assert_eq!(keys(&env, "company").await, ["live"]);
        assert_eq!(keys(&env, "company.team").await, ["AI_y"]);
        assert!(keys(&env, "companyx").await.is_empty());
        assert_eq!(keys(&env, "other").await, ["d"], "other namespaces untouched");
        assert!(env.logs.text().iter().any(|l| l == "INFO purged 4 keys"), "{:?}", env.logs.text());
    }

    #[tokio::test]
    async fn children_pattern_keys_and_behavior() {
        let env = seeded().await;
        let p = json!({"namespaces": "[\"company\"]", "includeChildNamespaces": false});
        assert_eq!(size(&env, p).await, 2, "a rendered JSON list; only `company`");
        let env = seeded().await;
        assert_eq!(size(&env, json!({"namespacePattern": "company.*"})).await, 1);
        assert_eq!(keys(&env, "company.team").await, ["AI_y"]);
        let env = seeded().await;
        let p = json!({"keyPattern": "AI_*", "behavior": {"type": "key", "expiredOnly": false}});
        assert_eq!(size(&env, p).await, 2, "every namespace, live keys too");
        assert_eq!(keys(&env, "company").await, ["a", "live"]);
        let env = seeded().await;
        assert_eq!(size(&env, json!({})).await, 5, "default: expired keys of every namespace");
        let env = seeded().await;
        let p =
            json!({"expiredOnly": false, "behavior": {"type": "key", "expiredOnly": true}, "namespaces": ["other"]});
        assert_eq!(size(&env, p).await, 1, "expiredOnly overrides behavior");
        assert_eq!(size(&env, json!({"namespaces": ["nowhere"]})).await, 0);
    }

    #[tokio::test]
    async fn refusals_name_the_property() {
        let env = Env::new();
        let e = env.run(&DEF, json!({"namespaces": ["a"], "namespacePattern": "b*"})).await.unwrap_err();
        assert!(e.to_string().contains("can't be used at the same time"), "{e}");
        let e = env.run(&DEF, json!({"behavior": {"type": "version", "keepAmount": 1}})).await.unwrap_err();
        assert!(e.to_string().contains("behavior"), "{e}");
        assert!(check_behavior(&json!({"type": "version"})).unwrap_err().contains("keeps no versions"));
        assert!(check_behavior(&json!({"type": "key", "expiredOnly": false})).is_ok());
        assert!(check_behavior(&json!({"expiredOnly": false})).is_err());
    }

    #[test]
    fn wildcards_match_as_commons_io() {
        for (t, p, m) in [
            ("AI_key", "AI_*", true),
            ("AI_key", "ai_*", false),
            ("abc", "a?c", true),
            ("abc", "a*b*c", true),
            ("abc", "*", true),
            ("", "*", true),
            ("abcd", "a*c", false),
            ("company.team", "company.*", true),
        ] {
            assert_eq!(wildcard_match(t, p), m, "{t} ~ {p}");
        }
    }
}
