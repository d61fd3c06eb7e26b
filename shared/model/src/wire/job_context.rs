//! A worker job's template context, in the form that costs least where it
//! is: the executor builds a context as a JSON tree (an ordered map per
//! object: several kilobytes for even a small one) and keeps it as JSON
//! text from then on, so a step that dispatches a ForEach's 10,000
//! iterations holds 10,000 short strings until they are published, not
//! 10,000 trees; a job read from a queue holds the tree, which the worker
//! renders against. Both serialize to the same JSON, so the wire format is
//! unchanged.
//!
//! The jobs of one step share the entries of their context that come from
//! the execution alone (`flow`, `execution`, `inputs`, `vars`, `labels`,
//! `trigger`: [`SHARED_KEYS`]): a job past the first trees holds them as
//! one map shared by all ([`JobContext::Parts`]) and only its own entries
//! (`taskrun`, `task`, `outputs`, `parents`…) as text. A ForEach's
//! iteration then costs neither building, writing nor parsing the shared
//! entries again, and its job holds a few hundred bytes.

use std::borrow::Cow;
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The entries of a job's context that come from the execution alone, in
/// the order a context is built with them first (`context::build`).
pub const SHARED_KEYS: [&str; 6] = ["flow", "execution", "inputs", "vars", "labels", "trigger"];

/// The [`SHARED_KEYS`] entries the jobs of one step share.
pub type Shared = Arc<Map<String, Value>>;

/// The context a task renders against (`inputs`, `outputs`, `taskrun`…).
#[derive(Debug, Clone)]
pub enum JobContext {
    /// Parsed: what a worker receives.
    Tree(Value),
    /// Serialized: what the executor holds between a step and its publish.
    Text(Box<RawValue>),
    /// The [`SHARED_KEYS`] entries shared with the step's other jobs, then
    /// this job's own entries as a JSON object's text.
    Parts { shared: Arc<Map<String, Value>>, own: Box<RawValue> },
}

impl JobContext {
    /// Keeps `tree` as JSON text (falls back to the tree if it cannot be
    /// serialized, which a `Value` always can).
    pub fn compact(tree: Value) -> JobContext {
        match serde_json::value::to_raw_value(&tree) {
            Ok(raw) => JobContext::Text(raw),
            Err(_) => JobContext::Tree(tree),
        }
    }

    /// `tree` without its [`SHARED_KEYS`] entries, kept as text, beside
    /// `shared` (which holds them: the caller builds it from the same
    /// execution). Falls back to [`JobContext::compact`] if `tree` is not a
    /// map.
    pub fn parts(tree: Value, shared: &Arc<Map<String, Value>>) -> JobContext {
        let Value::Object(mut own) = tree else { return JobContext::compact(tree) };
        for key in SHARED_KEYS {
            own.shift_remove(key);
        }
        // `parent` is `parents[0]` (the innermost flowable): written once
        if own.get("parent").is_some_and(|p| own.get("parents").and_then(|ps| ps.get(0)) == Some(p)) {
            own.shift_remove("parent");
        }
        match serde_json::value::to_raw_value(&own) {
            Ok(raw) => JobContext::Parts { shared: Arc::clone(shared), own: raw },
            Err(_) => JobContext::Tree(Value::Object(own)),
        }
    }

    /// The context as a tree, parsed if it is held as text.
    pub fn value(&self) -> Cow<'_, Value> {
        match self {
            JobContext::Tree(v) => Cow::Borrowed(v),
            JobContext::Text(raw) => Cow::Owned(serde_json::from_str(raw.get()).unwrap_or(Value::Null)),
            JobContext::Parts { shared, own } => Cow::Owned(merged(shared, own)),
        }
    }

    /// The context unmerged: the entries shared with the step's other jobs
    /// (only [`JobContext::Parts`] has them) and this job's own, each a map
    /// (a context that is not one has no entries). What the merged tree
    /// holds, without copying the shared entries into it.
    pub fn split(&self) -> (Option<Shared>, Map<String, Value>) {
        match self {
            JobContext::Tree(Value::Object(m)) => (None, m.clone()),
            JobContext::Tree(_) => (None, Map::new()),
            JobContext::Text(raw) => (None, serde_json::from_str(raw.get()).unwrap_or_default()),
            JobContext::Parts { shared, own } => (Some(Arc::clone(shared)), own_entries(own)),
        }
    }

    /// The context as an owned tree.
    pub fn into_value(self) -> Value {
        match self {
            JobContext::Tree(v) => v,
            JobContext::Text(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
            JobContext::Parts { shared, own } => merged(&shared, &own),
        }
    }
}

/// The shared entries, then the job's own.
fn merged(shared: &Map<String, Value>, own: &RawValue) -> Value {
    let own = own_entries(own);
    let mut all = Map::with_capacity(shared.len() + own.len());
    all.extend(shared.iter().map(|(k, v)| (k.clone(), v.clone())));
    all.extend(own);
    Value::Object(all)
}

/// A job's own entries read back, `parent` again before `parents` (a
/// context has `parent` exactly when its `parents` is not empty).
fn own_entries(own: &RawValue) -> Map<String, Value> {
    let own: Map<String, Value> = serde_json::from_str(own.get()).unwrap_or_default();
    let parent = match own.get("parents").and_then(|ps| ps.get(0)) {
        Some(first) if !own.contains_key("parent") => first.clone(),
        _ => return own,
    };
    let mut out = Map::with_capacity(own.len() + 1);
    for (k, v) in own {
        if k == "parents" {
            out.insert("parent".into(), parent.clone());
        }
        out.insert(k, v);
    }
    out
}

impl Default for JobContext {
    fn default() -> Self {
        JobContext::Tree(Value::Object(Default::default()))
    }
}

impl From<Value> for JobContext {
    fn from(v: Value) -> Self {
        JobContext::Tree(v)
    }
}

impl PartialEq for JobContext {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

impl Serialize for JobContext {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            JobContext::Tree(v) => v.serialize(s),
            JobContext::Text(raw) => raw.serialize(s),
            JobContext::Parts { shared, own } => {
                let own = own_entries(own);
                let mut map = s.serialize_map(Some(shared.len() + own.len()))?;
                for (k, v) in shared.iter() {
                    map.serialize_entry(k, v)?;
                }
                for (k, v) in &own {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for JobContext {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(JobContext::Tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_and_tree_serialize_to_the_same_json_and_read_back_as_a_tree() {
        let tree = json!({"taskrun": {"value": "a", "id": "x"}, "inputs": {"n": 1}, "outputs": {}});
        let text = JobContext::compact(tree.clone());
        assert!(matches!(text, JobContext::Text(_)));
        let a = serde_json::to_string(&text).expect("text serializes");
        let b = serde_json::to_string(&JobContext::Tree(tree.clone())).expect("tree serializes");
        assert_eq!(a, b);
        let back: JobContext = serde_json::from_str(&a).expect("reads back");
        assert!(matches!(back, JobContext::Tree(_)));
        assert_eq!(back, text);
        assert_eq!(back.into_value(), tree);
        assert_eq!(text.value()["taskrun"]["value"], "a");
    }

    #[test]
    fn parts_read_and_serialize_as_the_whole_context_in_its_order() {
        let tree = json!({
            "flow": {"id": "f"}, "execution": {"id": "e"}, "inputs": {"n": 1}, "vars": {}, "labels": {"a": "b"},
            "trigger": {}, "outputs": {"t": {"value": 2}}, "taskrun": {"value": "a", "id": "x"},
            "parent": {"taskrun": {"id": "p"}}, "parents": [{"taskrun": {"id": "p"}}], "task": {"id": "t"}
        });
        let shared: Map<String, Value> = SHARED_KEYS.iter().map(|k| (k.to_string(), tree[*k].clone())).collect();
        let shared = Arc::new(shared);
        let parts = JobContext::parts(tree.clone(), &shared);
        let JobContext::Parts { own, .. } = &parts else { panic!("parts") };
        assert_eq!(
            own.get(),
            r#"{"outputs":{"t":{"value":2}},"taskrun":{"value":"a","id":"x"},"parents":[{"taskrun":{"id":"p"}}],"task":{"id":"t"}}"#
        );
        assert_eq!(serde_json::to_string(&parts).unwrap(), serde_json::to_string(&tree).unwrap());
        assert_eq!(*parts.value(), tree);
        assert_eq!(parts.clone().into_value(), tree);
        assert_eq!(parts, JobContext::Tree(tree.clone()));
        // split: the same entries, the shared ones not copied
        let (split_shared, split_own) = parts.split();
        assert!(split_shared.as_ref().is_some_and(|s| Arc::ptr_eq(s, &shared)));
        let mut merged = (*shared).clone();
        merged.extend(split_own);
        assert_eq!(Value::Object(merged), tree);
        let (none, whole) = JobContext::Tree(tree.clone()).split();
        assert!(none.is_none());
        assert_eq!(Value::Object(whole), tree);
        // no parents: nothing to write once
        let mut top = tree.clone();
        top.as_object_mut().unwrap().shift_remove("parent");
        top["parents"] = json!([]);
        assert_eq!(*JobContext::parts(top.clone(), &shared).value(), top);
        // not a map: kept whole
        assert!(matches!(JobContext::parts(json!([1]), &shared), JobContext::Text(_)));
    }
}
