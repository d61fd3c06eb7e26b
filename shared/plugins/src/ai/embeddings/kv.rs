//! `io.kestra.plugin.ai.embeddings.KestraKVStore`: segments and vectors in
//! memory while the task runs, saved at the end as one KV entry of the
//! flow's namespace (`kvName`, default `{flow.id}-embedding-store`) holding
//! the JSON langchain4j's `InMemoryEmbeddingStore` writes
//! (`{"entries":[{"id","embedding":{"vector"},"embedded":{"text","metadata":{"metadata"}}}]}`),
//! so a store written by Kestra reads here and the other way round. As in
//! Kestra it is for prototypes: the whole store is one value (and Firestore
//! caps a document at 1 MiB, so on GCP it holds a few hundred small vectors).

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::{EmbeddingStore, Match, Segment, relevance};
use crate::ai::AiError;
use crate::ai::props::str_of;
use crate::ai::providers::vector;
use crate::{RunContext, TaskError};
use baton_backend::{KvLookup, KvType, KvValue};

/// The store, loaded.
pub struct KvEmbeddings {
    namespace: String,
    key: String,
    entries: Vec<Segment>,
    dirty: bool,
}

/// Reads the serialized store.
pub fn from_json(text: &str) -> Result<Vec<Segment>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut out = Vec::new();
    for e in v.get("entries").and_then(Value::as_array).into_iter().flatten() {
        out.push(Segment {
            id: str_of(e.get("id")).unwrap_or_default(),
            text: e.pointer("/embedded/text").and_then(Value::as_str).unwrap_or_default().to_string(),
            metadata: e.pointer("/embedded/metadata/metadata").and_then(Value::as_object).cloned().unwrap_or_default(),
            vector: vector(e.pointer("/embedding/vector")).ok_or("an entry has no embedding.vector")?,
        });
    }
    Ok(out)
}

/// Writes the store as langchain4j's `InMemoryEmbeddingStore.serializeToJson()` does.
pub fn to_json(entries: &[Segment]) -> String {
    let e: Vec<Value> = entries
        .iter()
        .map(|s| {
            json!({"id": s.id, "embedding": {"vector": s.vector},
                   "embedded": {"text": s.text, "metadata": {"metadata": s.metadata}}})
        })
        .collect();
    json!({"entries": e}).to_string()
}

impl KvEmbeddings {
    pub async fn open(cx: &RunContext, spec: &Map<String, Value>, drop: bool) -> Result<KvEmbeddings, TaskError> {
        let key = str_of(spec.get("kvName")).unwrap_or_else(|| format!("{}-embedding-store", cx.flow_id));
        crate::core::kv::validate_key(&key)
            .map_err(|_| TaskError::property("embeddings.kvName", format!("'{key}' is not a valid KV key")))?;
        let namespace = cx.namespace.clone();
        let mut entries = Vec::new();
        if !drop {
            let found = cx
                .services
                .kv
                .get(&namespace, &key, Utc::now())
                .await
                .map_err(|e| TaskError::failed(format!("cannot read KV '{key}' of namespace {namespace}: {e}")))?;
            if let KvLookup::Found(v) = found {
                let text = match &v.value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                entries = from_json(&text).map_err(|e| {
                    TaskError::failed(format!("KV '{key}' of namespace {namespace} is not an embedding store: {e}"))
                })?;
            }
        }
        Ok(KvEmbeddings { namespace, key, entries, dirty: drop })
    }
}

#[async_trait]
impl EmbeddingStore for KvEmbeddings {
    async fn add(&mut self, segments: Vec<Segment>) -> Result<(), AiError> {
        self.entries.extend(segments);
        self.dirty = true;
        Ok(())
    }

    async fn search(&self, vector: &[f32], max: usize, min_score: f64) -> Result<Vec<Match>, AiError> {
        let mut scored: Vec<(f64, &Segment)> =
            self.entries.iter().map(|s| (relevance(vector, &s.vector), s)).filter(|(sc, _)| *sc >= min_score).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(scored
            .into_iter()
            .take(max)
            .map(|(score, s)| Match { score, text: s.text.clone(), metadata: s.metadata.clone() })
            .collect())
    }

    async fn finish(&mut self, cx: &RunContext) -> Result<Option<Map<String, Value>>, AiError> {
        if self.dirty {
            let value = KvValue { kind: KvType::String, value: Value::String(to_json(&self.entries)) };
            cx.services.kv.set(&self.namespace, &self.key, &value, None, true, Utc::now()).await.map_err(|e| {
                AiError::Store(format!(
                    "cannot save the embedding store to KV '{}' of namespace {}: {e}",
                    self.key, self.namespace
                ))
            })?;
            self.dirty = false;
        }
        let mut out = Map::new();
        out.insert("kvName".into(), Value::String(self.key.clone()));
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serialized_store_round_trips_in_langchain4j_shape() {
        let s = vec![Segment {
            id: "1".into(),
            text: "hello".into(),
            metadata: serde_json::from_value(json!({"url": "u"})).unwrap(),
            vector: vec![0.5, -1.0],
        }];
        let j = to_json(&s);
        let v: Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["entries"][0]["embedded"]["metadata"]["metadata"]["url"], "u");
        assert_eq!(from_json(&j).unwrap(), s);
    }
}
