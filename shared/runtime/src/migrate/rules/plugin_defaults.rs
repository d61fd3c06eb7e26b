//! Flow-level `pluginDefaults` (and the older `taskDefaults`), removed at
//! every scope in 2.0, inlined into the tasks and triggers they apply to, as
//! Baton's 1.x loader applies them (`crate::model::flow::apply_defaults`):
//! a default matches a task or trigger whose type equals its `type` or sits
//! under it as a package prefix, and a plugin nested in a task (a task
//! runner, an AI provider…) whose type equals it exactly. A default fills
//! the keys a task lacks (maps merged key by key, the first default listed
//! winning); a `forced` one replaces what the task says. The block is then
//! removed. Namespace- and server-level defaults do not live in the flow
//! file, so there is nothing here to inline (Baton has none).

use std::collections::HashSet;
use std::sync::LazyLock;

use crate::migrate::edit::{after_map, entry_range, entry_text, quote};
use crate::migrate::tree::Node;
use crate::migrate::{Cx, walk};
use crate::model::flow::TASK_COMMON_KEYS;
use crate::model::types::flowable_kind;
use crate::plugins::Registry;
use crate::validate::type_names::normalize;

/// The plugins Baton knows, to tell which keys of a default a task has.
static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::builtin);

/// Whether a default's key `key` is a property of the task or trigger of
/// type `normalized` (`top`: a flow task or trigger, matched by type or
/// package prefix). Kestra's loader, like Baton's, lets a default name a
/// key that some of the types it matches do not have: it is ignored there,
/// so it is not inlined (2.0 would reject it as written). Types Baton does
/// not describe keep every key.
fn accepts(normalized: &str, trigger: bool, key: &str) -> bool {
    if trigger {
        return crate::triggers::find(normalized).is_none_or(|d| crate::triggers::prop_spec(d, key).is_some());
    }
    if flowable_kind(normalized).is_some() {
        return true;
    }
    match REGISTRY.get(normalized) {
        Some(def) => TASK_COMMON_KEYS.contains(&key) || def.props.iter().any(|p| p.name == key),
        None => true,
    }
}

pub fn apply(cx: &mut Cx) {
    let root = cx.root;
    let Some((block_key, block)) = root.entry("pluginDefaults").or_else(|| root.entry("taskDefaults")) else {
        return;
    };
    let defaults: Vec<&Node> = block.items().iter().collect();
    for d in &defaults {
        let known = ["type", "values", "forced"];
        for (k, _) in d.entries() {
            if !known.contains(&k.str().unwrap_or_default()) {
                cx.manual(
                    k.start,
                    format!("pluginDefaults key '{}' is unknown: remove it by hand", k.str().unwrap_or("?")),
                );
                return;
            }
        }
        if d.get_str("type").is_none() || d.get("values").is_some_and(|v| !v.is_map()) {
            cx.manual(d.start, "a pluginDefaults entry without a type or with non-mapping values: inline it by hand");
            return;
        }
    }
    let tasks: HashSet<*const Node> = walk::tasks(root).into_iter().map(|t| t.node as *const Node).collect();
    let triggers: HashSet<*const Node> = walk::triggers(root).iter().map(|t| t as *const Node).collect();
    let mut used = vec![false; defaults.len()];
    for m in walk::typed_maps(root) {
        let written = m.get_str("type").unwrap_or_default();
        let norm = normalize(written);
        let trigger = triggers.contains(&(m as *const Node));
        let top = trigger || tasks.contains(&(m as *const Node));
        let matching: Vec<usize> = defaults
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                let t = d.get_str("type").unwrap_or_default();
                [written, norm].iter().any(|x| *x == t || (top && x.starts_with(t) && x[t.len()..].starts_with('.')))
            })
            .map(|(i, _)| i)
            .collect();
        if matching.is_empty() {
            continue;
        }
        if m.is_flow(cx.src) {
            cx.manual(m.start, "pluginDefaults apply to this flow-style plugin: write it in block style, then migrate");
            continue;
        }
        let mut keys = Vec::new();
        let keep = |k: &str| !top || accepts(norm, trigger, k);
        inline(cx, m, &matching.iter().map(|i| defaults[*i]).collect::<Vec<_>>(), &keep, &mut keys);
        for i in matching {
            used[i] = true;
        }
        if !keys.is_empty() {
            let at = m.get("type").map(|t| t.start).unwrap_or(m.start);
            cx.changed(at, format!("pluginDefaults inlined into {written}: {}", keys.join(", ")));
        }
    }
    for (i, d) in defaults.iter().enumerate() {
        if !used[i] {
            cx.changed(
                d.start,
                format!("pluginDefaults for {} applied to nothing: removed", d.get_str("type").unwrap_or("?")),
            );
        }
    }
    cx.remove_entry(block_key, block);
    cx.changed(block_key.start, "pluginDefaults removed (2.0 rejects them at every scope): inlined where they applied");
}

/// Adds to block mapping `m` what `defaults` (in order) give it.
/// Keys `keep` refuses are left out and reported.
fn inline(cx: &mut Cx, m: &Node, defaults: &[&Node], keep: &dyn Fn(&str) -> bool, keys: &mut Vec<String>) {
    let indent = m.column - 1;
    let mut added: Vec<(String, String)> = Vec::new();
    for d in defaults {
        let forced = d.get_str("forced") == Some("true");
        let Some(values) = d.get("values") else { continue };
        for (k, v) in values.entries() {
            let key = k.str().unwrap_or_default().to_string();
            if !keep(&key) {
                let ty = m.get_str("type").unwrap_or("?");
                cx.changed(k.start, format!("pluginDefault '{key}' not inlined into {ty}: not one of its properties (ignored there in 1.x too)"));
                continue;
            }
            let text = value_entry(cx.src, values, k, v, indent);
            if let Some(pos) = added.iter().position(|(a, _)| *a == key) {
                if forced {
                    added[pos].1 = text;
                }
                continue;
            }
            match m.entry(&key) {
                None => {
                    added.push((key.clone(), text));
                    keys.push(key);
                }
                Some((tk, tv)) if forced => {
                    let (s, e) = entry_range(cx.src, tk, tv);
                    let s = s.max(crate::migrate::tree::line_start(cx.src, tk.start));
                    if s == crate::migrate::tree::line_start(cx.src, tk.start) && cx.edits.push(s, e, text) {
                        keys.push(format!("{key} (forced)"));
                    } else {
                        cx.manual(
                            tk.start,
                            format!("forced pluginDefault for '{key}' overrides this value: replace it by hand"),
                        );
                    }
                }
                Some((_, tv)) => merge_missing(cx, tv, v, &key, keys),
            }
        }
    }
    if !added.is_empty() {
        let at = after_map(cx.src, m);
        let mut text: String = added.into_iter().map(|(_, t)| t).collect();
        if at == cx.src.len() && !cx.src.ends_with('\n') {
            text.insert(0, '\n');
        }
        cx.edits.push(at, at, text);
    }
}

/// A default's value under a task whose own value is a mapping: the
/// missing keys are added, recursively.
fn merge_missing(cx: &mut Cx, target: &Node, default: &Node, path: &str, keys: &mut Vec<String>) {
    if !target.is_map() || !default.is_map() {
        return;
    }
    if target.is_flow(cx.src) {
        cx.manual(
            target.start,
            format!("pluginDefaults add keys to '{path}', written in flow style: merge them by hand"),
        );
        return;
    }
    let indent = target.column - 1;
    let mut text = String::new();
    for (k, v) in default.entries() {
        let key = k.str().unwrap_or_default();
        match target.entry(key) {
            None => {
                text.push_str(&value_entry(cx.src, default, k, v, indent));
                keys.push(format!("{path}.{key}"));
            }
            Some((_, tv)) => merge_missing(cx, tv, v, &format!("{path}.{key}"), keys),
        }
    }
    if !text.is_empty() {
        let at = after_map(cx.src, target);
        cx.edits.push(at, at, text);
    }
}

/// One entry of a default's `values`, as lines at `indent`.
fn value_entry(src: &str, parent: &Node, k: &Node, v: &Node, indent: usize) -> String {
    if parent.is_flow(src) {
        let key = &src[k.start..k.end];
        let val = if v.end > v.start { src[v.start..v.end].to_string() } else { quote("") };
        format!("{}{key}: {val}\n", " ".repeat(indent))
    } else {
        entry_text(src, k, v, indent)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, found};

    #[test]
    fn defaults_are_inlined_by_type_and_prefix_and_removed() {
        let src = "\
id: f
namespace: n
tasks:
  - id: q # first
    type: io.kestra.plugin.jdbc.postgresql.Queries
    sql: select 1
  - id: c
    type: io.kestra.plugin.jdbc.postgresql.CopyIn
    url: jdbc:postgresql://other/db
    table: t
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
    level: INFO

pluginDefaults:
  # connection for every postgres task
  - type: io.kestra.plugin.jdbc.postgresql
    values:
      url: jdbc:postgresql://localhost:5432/db
      username: kestra
      password: |
        k3str4
  - type: io.kestra.plugin.core.log.Log
    forced: true
    values: {level: WARN}
";
        let out = "\
id: f
namespace: n
tasks:
  - id: q # first
    type: io.kestra.plugin.jdbc.postgresql.Queries
    sql: select 1
    url: jdbc:postgresql://localhost:5432/db
    username: kestra
    password: |
      k3str4
  - id: c
    type: io.kestra.plugin.jdbc.postgresql.CopyIn
    url: jdbc:postgresql://other/db
    table: t
    username: kestra
    password: |
      k3str4
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
    level: WARN

";
        let m = check(src, out);
        assert_eq!(found(&m), ["plugin-defaults:5", "plugin-defaults:8", "plugin-defaults:12", "plugin-defaults:16"]);
    }

    #[test]
    fn nested_plugins_take_exact_defaults_and_maps_merge() {
        let src = "\
id: f
namespace: n
tasks:
  - id: s
    type: io.kestra.plugin.scripts.python.Script
    script: print(1)
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    env:
      A: a
pluginDefaults:
  - type: io.kestra.plugin.core.runner.Process
    values:
      version: 2
  - type: io.kestra.plugin.scripts
    values:
      env:
        B: b
        A: z
";
        let out = "\
id: f
namespace: n
tasks:
  - id: s
    type: io.kestra.plugin.scripts.python.Script
    script: print(1)
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
      version: 2
    env:
      A: a
      B: b
";
        check(src, out);
    }
}
