//! A render context kept as the JSON maps it arrives in ([`Scope`]): the
//! entries the jobs of one step share (`flow`, `execution`, `inputs`…)
//! and the job's own (`taskrun`, `outputs`, `parents`…). A template reads
//! it through [`Root`], which turns a top-level entry into a template value
//! the first time a template names it: a task whose only template is
//! `{{ taskrun.value }}` converts `taskrun` and nothing else. Merging the two
//! maps into one tree and converting the whole tree for every task run was
//! a sixth of the instructions of a ForEach iteration of a `Return` task.
//!
//! Also here: how a JSON tree becomes a template value (`template_value`,
//! `context_value`), which a [`Root`] does entry by entry.
//!
//! What a template sees is what it would see of the merged tree
//! ([`Scope::to_value`]): a key of the job's own map hides the shared one,
//! the entries enumerate in the merged tree's order, and `labels` gains its
//! nested `system` map as the eager conversion gives it (`lib.rs`).

use std::sync::{Arc, Mutex, PoisonError};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value as MjValue};
use serde_json::{Map, Value};

use super::Session;

/// A render context: shared entries (held by every job of a step) and
/// this one's own; an own entry hides a shared one of the same key.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    shared: Option<Arc<Map<String, Value>>>,
    own: Arc<Map<String, Value>>,
}

impl Scope {
    /// A context of `shared` entries and `own` ones.
    pub fn new(shared: Option<Arc<Map<String, Value>>>, own: Map<String, Value>) -> Scope {
        Scope { shared, own: Arc::new(own) }
    }

    /// The top-level entry `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.own.get(key).or_else(|| self.shared.as_ref()?.get(key))
    }

    /// Sets `key` (in the job's own entries, hiding a shared one).
    pub fn insert(&mut self, key: &str, value: Value) {
        Arc::make_mut(&mut self.own).insert(key.to_string(), value);
    }

    /// Sets `key` to what `value` makes unless the context has it.
    pub fn insert_absent(&mut self, key: &str, value: impl FnOnce() -> Value) {
        if self.get(key).is_none() {
            self.insert(key, value());
        }
    }

    /// The context as one tree: the shared entries, then the own ones (an
    /// own entry of a shared key takes that key's place).
    pub fn to_value(&self) -> Value {
        let shared = self.shared.as_deref().map_or(0, Map::len);
        let mut all = Map::with_capacity(shared + self.own.len());
        if let Some(shared) = &self.shared {
            all.extend(shared.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        all.extend(self.own.iter().map(|(k, v)| (k.clone(), v.clone())));
        Value::Object(all)
    }

    /// The keys in the merged tree's order.
    fn keys(&self) -> impl Iterator<Item = &String> {
        let shared = self.shared.iter().flat_map(|m| m.keys());
        let own_only = self.own.keys().filter(|k| !self.shared.as_ref().is_some_and(|s| s.contains_key(*k)));
        shared.chain(own_only)
    }

    /// The template value that reads this context ([`Root`]).
    pub(crate) fn template_value(&self) -> MjValue {
        MjValue::from_object(Root { scope: self.clone(), converted: Mutex::default() })
    }
}

impl From<Value> for Scope {
    /// A context that is all own entries (a map; anything else is empty).
    fn from(v: Value) -> Scope {
        match v {
            Value::Object(own) => Scope::new(None, own),
            _ => Scope::default(),
        }
    }
}

/// A [`Scope`] as a template map whose entries are converted when first read.
#[derive(Debug)]
struct Root {
    scope: Scope,
    /// The entries converted so far (a handful: a linear search).
    converted: Mutex<Vec<(String, MjValue)>>,
}

impl Object for Root {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let key = key.as_str()?;
        let mut converted = self.converted.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, v)) = converted.iter().find(|(k, _)| k == key) {
            return Some(v.clone());
        }
        let json = self.scope.get(key)?;
        let v = match (key, nest_system_labels(json)) {
            ("labels", Some(nested)) => template_value(&nested),
            _ => template_value(json),
        };
        converted.push((key.to_string(), v.clone()));
        Some(v)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.scope.keys().map(|k| MjValue::from(k.as_str())).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.scope.keys().count())
    }
}

/// What a render reads: a JSON tree (converted whole, once per render) or
/// a [`Scope`] (converted entry by entry as templates read them).
#[derive(Clone, Copy)]
pub(crate) enum Ctx<'a> {
    Tree(&'a Value),
    Scope(&'a Scope),
}

impl Ctx<'_> {
    pub(crate) fn session(self) -> Session {
        match self {
            Ctx::Tree(v) => Session::new(v),
            Ctx::Scope(s) => Session::of(s.template_value()),
        }
    }
}

/// The context as a template reads it, converted once per session; with
/// Kestra's `labels.system.correlationId`: the reserved `system.*` labels
/// are also reachable nested under `labels.system` (the flat keys stay).
/// Only the labels are copied to add them (every execution has
/// `system.correlationId`, and the rest of a context can be large).
pub(crate) fn context_value(ctx: &Value) -> MjValue {
    let (Some(map), Some(labels)) = (ctx.as_object(), ctx.get("labels").and_then(nest_system_labels)) else {
        return template_value(ctx);
    };
    map.iter()
        .map(|(k, v)| {
            let v = if k == "labels" { template_value(&labels) } else { template_value(v) };
            (MjValue::from(k.as_str()), v)
        })
        .collect()
}

/// A JSON value as a template reads it: what `MjValue::from_serialize`
/// makes of it (a whole number as u64, else i64, else f64; maps keep
/// their order), built directly — serde's walk cost a third more on the
/// context every task renders against.
pub(crate) fn template_value(v: &Value) -> MjValue {
    match v {
        Value::Null => MjValue::from(()),
        Value::Bool(b) => MjValue::from(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => MjValue::from(u),
            (None, Some(i)) => MjValue::from(i),
            (None, None) => MjValue::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => MjValue::from(s.as_str()),
        Value::Array(items) => MjValue::from_object(items.iter().map(template_value).collect::<Vec<_>>()),
        Value::Object(m) => m.iter().map(|(k, v)| (MjValue::from(k.as_str()), template_value(v))).collect(),
    }
}

/// A context's `labels` with the `system.*` ones also nested under
/// `system`; `None` when there is nothing to nest.
fn nest_system_labels(labels: &Value) -> Option<Value> {
    let labels = labels.as_object()?;
    if labels.contains_key("system") || !labels.keys().any(|k| k.starts_with("system.")) {
        return None;
    }
    let system: serde_json::Map<String, Value> = labels
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("system.").map(|rest| (rest.to_string(), v.clone())))
        .collect();
    let mut labels = labels.clone();
    labels.insert("system".into(), Value::Object(system));
    Some(Value::Object(labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("a map"),
        }
    }

    #[test]
    fn an_own_entry_hides_the_shared_one_and_the_tree_keeps_the_merged_order() {
        let shared = Arc::new(map(json!({"flow": {"id": "f"}, "inputs": {"a": 1}, "labels": {}})));
        let mut s = Scope::new(Some(shared), map(json!({"taskrun": {"id": "t"}})));
        s.insert("inputs", json!({"a": 2}));
        s.insert_absent("flow", || json!("not set"));
        s.insert_absent("workingDir", || json!("/w"));
        assert_eq!(s.get("inputs"), Some(&json!({"a": 2})));
        assert_eq!(s.get("flow"), Some(&json!({"id": "f"})));
        let tree = s.to_value();
        let keys: Vec<&String> = tree.as_object().expect("a map").keys().collect();
        assert_eq!(keys, ["flow", "inputs", "labels", "taskrun", "workingDir"]);
        assert_eq!(s.keys().collect::<Vec<_>>(), keys);
        assert_eq!(tree["inputs"], json!({"a": 2}));
    }

    #[test]
    fn the_root_reads_entries_as_the_eager_conversion_does() {
        let shared = Arc::new(map(json!({"labels": {"system.correlationId": "c", "team": "x"}, "vars": {"n": 3}})));
        let s = Scope::new(Some(shared), map(json!({"taskrun": {"value": "v"}})));
        let root = s.template_value();
        let eager = super::context_value(&s.to_value());
        for path in [&["taskrun", "value"][..], &["vars", "n"], &["labels", "system"], &["labels", "team"]] {
            let (mut lazy, mut full) = (root.clone(), eager.clone());
            for p in path {
                lazy = lazy.get_attr(p).expect("lazy");
                full = full.get_attr(p).expect("eager");
            }
            assert_eq!(lazy, full, "{path:?}");
        }
        assert!(root.get_attr("missing").expect("lookup").is_undefined());
        let keys: Vec<String> = root.try_iter().expect("a map").map(|k| k.to_string()).collect();
        assert_eq!(keys, ["labels", "vars", "taskrun"]);
        assert_eq!(root.len(), Some(3));
    }
}
