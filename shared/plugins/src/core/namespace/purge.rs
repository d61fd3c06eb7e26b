//! `io.kestra.plugin.core.namespace.PurgeFiles`: deletes old revisions of
//! namespace files across namespaces → output `size`, the number of file
//! revisions purged.
//!
//! Which namespaces, as Kestra's `PurgeTask` (and `kv.PurgeKV`):
//! `namespacePattern` (a wildcard, `*` and `?`) filters the known
//! namespaces; else `namespaces` — each with, when `includeChildNamespaces`
//! (default true), its child namespaces — plus the named ones themselves;
//! else every known namespace. Both at once are an error. Kestra knows the
//! namespaces of its flows; Baton knows those holding namespace files
//! ([`NamespaceFiles::namespaces`]). Kestra's child test is a plain prefix
//! (`company` also takes `company2`); Baton takes `company` and
//! `company.*` only, as its docs describe.
//!
//! Which files: `filePattern`, a wildcard (`*` any run of characters, `/`
//! included; `?` one) on the path without its leading `/`, as Kestra's
//! `FilenameUtils.wildcardMatch` — not the glob of `DeleteFiles`.
//!
//! Which revisions, `behavior: {type: version, keepAmount | before}`
//! (default `keepAmount: 1`; both at once are an error, as in Kestra):
//! `keepAmount: N` keeps the N newest revisions of each file; `before`
//! (an ISO date-time) purges the revisions written at or before it, never
//! the last one; neither purges every revision. When the last revision goes
//! (`keepAmount: 0`, or neither), the file goes with all its revisions.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{failed, store};
use crate::Declare;
use crate::core::purge_kv::wildcard_match;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::nsfiles::{NamespaceFiles, Revision};

pub const TYPE: &str = "io.kestra.plugin.core.namespace.PurgeFiles";

/// A `behavior`, checked: what `version` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Behavior {
    pub before: Option<DateTime<Utc>>,
    pub keep_amount: Option<usize>,
}

impl Default for Behavior {
    fn default() -> Behavior {
        Behavior { before: None, keep_amount: Some(1) }
    }
}

/// Parses a `behavior` mapping; templates fit when only checking
/// (`strict: false`).
fn parse_behavior(v: &Value, strict: bool) -> Result<Option<Behavior>, String> {
    let m = match v {
        Value::Null => return Ok(None),
        Value::String(s) if baton_template::is_template(s) && !strict => return Ok(None),
        Value::String(s) if s.trim_start().starts_with('{') => {
            return match serde_json::from_str::<Value>(s) {
                Ok(inner @ Value::Object(_)) => parse_behavior(&inner, strict),
                _ => Err(format!("behavior '{s}' is not a JSON mapping")),
            };
        }
        Value::Object(m) => m,
        _ => return Err("behavior must be a mapping like {type: version, keepAmount: 1}".to_string()),
    };
    for k in m.keys() {
        if !matches!(k.as_str(), "type" | "before" | "keepAmount") {
            return Err(format!("unknown behavior property '{k}' (known: type, before, keepAmount)"));
        }
    }
    let templated = |v: &Value| !strict && v.as_str().is_some_and(baton_template::is_template);
    match m.get("type").and_then(Value::as_str).map(str::trim) {
        None => return Err("behavior needs a 'type' (version)".to_string()),
        Some("version") => {}
        Some(t) if templated(&Value::String(t.to_string())) => {}
        Some(other) => return Err(format!("unknown behavior type '{other}' (expected version)")),
    }
    let before = match m.get("before") {
        None | Some(Value::Null) => None,
        Some(v) if templated(v) => None,
        Some(Value::String(s)) => Some(
            DateTime::parse_from_rfc3339(s.trim())
                .map_err(|e| format!("behavior.before '{s}' is not an ISO date-time like 2025-01-01T00:00:00Z: {e}"))?
                .with_timezone(&Utc),
        ),
        Some(other) => return Err(format!("behavior.before must be an ISO date-time string, found {other}")),
    };
    let keep_amount = match m.get("keepAmount") {
        None | Some(Value::Null) => None,
        Some(v) if templated(v) => None,
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            match n.map(usize::try_from) {
                Some(Ok(n)) => Some(n),
                _ => return Err(format!("behavior.keepAmount must be a whole number of 0 or more, found {v}")),
            }
        }
    };
    if m.get("before").is_some_and(|v| !v.is_null()) && m.get("keepAmount").is_some_and(|v| !v.is_null()) {
        return Err("Cannot set both 'before' and 'keepAmount' properties".to_string());
    }
    Ok(Some(Behavior { before, keep_amount }))
}

/// Checks a `behavior` as written (templates fit): for the flow validator.
pub fn check_behavior(v: &Value) -> Result<(), String> {
    parse_behavior(v, false).map(|_| ())
}

/// The revisions of one file (ascending, as
/// [`baton_backend::nsfiles::NamespaceFiles::revision_history`]) that
/// `behavior` purges, newest first.
pub fn to_purge(history: &[Revision], behavior: &Behavior) -> Vec<u32> {
    let last = history.last().map(|r| r.revision);
    let mut candidates: Vec<u32> = history
        .iter()
        .filter(|r| match behavior.before {
            // an old revision written at or before the date; never the last
            Some(before) => Some(r.revision) != last && r.updated.is_some_and(|u| u <= before),
            None => true,
        })
        .map(|r| r.revision)
        .collect();
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    candidates.into_iter().skip(behavior.keep_amount.unwrap_or(0)).collect()
}

/// Purge old revisions of namespace files.
///
/// Deletes revisions of the namespace files of the selected namespaces (`namespaces`, with their children unless `includeChildNamespaces` is false, or `namespacePattern`, or every namespace holding files) whose path matches `filePattern`, as `behavior` says: keep the `keepAmount` newest revisions of each file (default 1), or purge the revisions written at or before `before` (never the last one), or, with neither, every revision. A file whose last revision is purged is deleted. Output `size`, the number of revisions purged.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = TYPE,
    group = "core",
    example = "id: purge_files\ntype: io.kestra.plugin.core.namespace.PurgeFiles\nnamespaces:\n  - company\nincludeChildNamespaces: true\nfilePattern: \"**/*.sql\"\nbehavior:\n  type: version\n  keepAmount: 3\n",
    outputs(
        size(Integer, "The number of namespace file revisions purged.")
    ),
)]
struct Props {
    /// The namespaces to purge (not with `namespacePattern`); unset with no pattern: every namespace holding files.
    #[serde(default, deserialize_with = "crate::core::purge_kv::namespaces_list")]
    namespaces: Vec<String>,
    /// A wildcard (`*`, `?`) on the namespace names to purge (not with `namespaces`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    namespace_pattern: Option<String>,
    /// A wildcard on the file paths, without their leading `/` (`*` also crosses `/`, `?` is one character).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    file_pattern: Option<String>,
    /// Also purge the child namespaces of `namespaces` (`company` → `company.team`).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    include_child_namespaces: Option<bool>,
    /// `{type: version, keepAmount: N}` keeps the N newest revisions of each file; `{type: version, before: <ISO date-time>}` purges the older revisions written until then; both at once are refused.
    #[serde(default)]
    #[prop(kind = "Map", default = "{type: version, keepAmount: 1}", check = check_behavior)]
    behavior: Option<Value>,
}

/// `namespace.PurgeFiles`.
#[derive(Debug)]
struct PurgeFiles {
    namespaces: Vec<String>,
    namespace_pattern: Option<String>,
    file_pattern: Option<String>,
    include_children: bool,
    behavior: Behavior,
}

fn non_blank(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let namespace_pattern = non_blank(p.namespace_pattern);
    let namespaces: Vec<String> =
        p.namespaces.into_iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
    if !namespaces.is_empty() && namespace_pattern.is_some() {
        return Err(TaskError::property(
            "namespaces",
            "Properties `namespaces` and `namespacePattern` can't be used at the same time — use one or the other.",
        ));
    }
    for ns in &namespaces {
        baton_backend::nsfiles::check_namespace(ns).map_err(|e| TaskError::property("namespaces", e.to_string()))?;
    }
    let behavior = match &p.behavior {
        None => Behavior::default(),
        Some(v) => parse_behavior(v, true).map_err(|e| TaskError::property("behavior", e))?.unwrap_or_default(),
    };
    Ok(Box::new(PurgeFiles {
        namespaces,
        namespace_pattern,
        file_pattern: non_blank(p.file_pattern),
        include_children: p.include_child_namespaces.unwrap_or(true),
        behavior,
    }))
}

/// The namespaces holding files (under one), as a task failure.
async fn known(store: &dyn NamespaceFiles, under: Option<&str>) -> Result<Vec<String>, TaskError> {
    store.namespaces(under).await.map_err(|e| TaskError::failed(format!("cannot list the namespaces: {e}")))
}

impl PurgeFiles {
    /// The namespaces to purge.
    async fn select(&self, store: &dyn NamespaceFiles) -> Result<Vec<String>, TaskError> {
        if let Some(pattern) = &self.namespace_pattern {
            return Ok(known(store, None).await?.into_iter().filter(|ns| wildcard_match(ns, pattern)).collect());
        }
        if self.namespaces.is_empty() {
            return known(store, None).await;
        }
        let mut out: Vec<String> = Vec::new();
        for n in &self.namespaces {
            let found = if self.include_children { known(store, Some(n)).await? } else { vec![n.clone()] };
            for ns in found.into_iter().chain([n.clone()]) {
                if !out.contains(&ns) {
                    out.push(ns);
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl RunnableTask for PurgeFiles {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let store = store(cx);
        let namespaces = self.select(store.as_ref()).await?;
        cx.info(&format!("purging {} namespaces: [{}]", namespaces.len(), namespaces.join(", ")));
        let mut size = 0u64;
        for ns in &namespaces {
            let files = store.list(ns, "").await.map_err(|e| failed(ns, e))?;
            for f in files {
                if self.file_pattern.as_deref().is_some_and(|p| !wildcard_match(&f.path, p)) {
                    continue;
                }
                let history = store.revision_history(ns, &f.path).await.map_err(|e| failed(ns, e))?;
                let purge = to_purge(&history, &self.behavior);
                if purge.is_empty() {
                    continue;
                }
                if history.last().is_some_and(|l| purge.contains(&l.revision)) {
                    // the current content goes: the file goes, every revision with it
                    store.delete(ns, &f.path).await.map_err(|e| failed(ns, e))?;
                    cx.log("DEBUG", &format!("purged {} with its {} revisions", f.path, history.len()));
                    size += history.len() as u64;
                    continue;
                }
                for r in purge {
                    if store.delete_revision(ns, &f.path, r).await.map_err(|e| failed(ns, e))? {
                        cx.log("DEBUG", &format!("purged revision {r} of {}", f.path));
                        size += 1;
                    }
                }
            }
        }
        cx.info(&format!("purged {size} files"));
        let mut out = Map::new();
        out.insert("size".into(), size.into());
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests;
