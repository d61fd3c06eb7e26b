//! A worker job's template context, in the form that costs least where it
//! is: the executor builds a context as a JSON tree (an ordered map per
//! object: several kilobytes for even a small one) and keeps it as JSON
//! text from then on, so a step that dispatches a ForEach's 10,000
//! iterations holds 10,000 short strings until they are published, not
//! 10,000 trees; a job read from a queue holds the tree, which the worker
//! renders against. Both serialize to the same JSON, so the wire format is
//! unchanged.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// The context a task renders against (`inputs`, `outputs`, `taskrun`…).
#[derive(Debug, Clone)]
pub enum JobContext {
    /// Parsed: what a worker receives.
    Tree(Value),
    /// Serialized: what the executor holds between a step and its publish.
    Text(Box<RawValue>),
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

    /// The context as a tree, parsed if it is held as text.
    pub fn value(&self) -> Cow<'_, Value> {
        match self {
            JobContext::Tree(v) => Cow::Borrowed(v),
            JobContext::Text(raw) => Cow::Owned(serde_json::from_str(raw.get()).unwrap_or(Value::Null)),
        }
    }

    /// The context as an owned tree.
    pub fn into_value(self) -> Value {
        match self {
            JobContext::Tree(v) => v,
            JobContext::Text(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
        }
    }
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
}
