//! Embedding stores (`embeddings: {type: io.kestra.plugin.ai.embeddings.…}`):
//! where `IngestDocument` puts text segments with their vectors and where
//! RAG retrieval searches them by cosine similarity (scores in [0, 1], as
//! langchain4j's `(cos + 1) / 2`). `KestraKVStore` keeps them in Baton's
//! KV store (both runtimes); `PGVector` in PostgreSQL with pgvector.

pub mod kv;
pub mod pgvector;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::AiError;
use super::props::str_of;
use crate::{RunContext, TaskError};

/// A text segment with its vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub id: String,
    pub text: String,
    pub metadata: Map<String, Value>,
    pub vector: Vec<f32>,
}

/// A search hit.
#[derive(Debug, Clone)]
pub struct Match {
    pub score: f64,
    pub text: String,
    pub metadata: Map<String, Value>,
}

/// A store opened for one task.
#[async_trait]
pub trait EmbeddingStore: Send + Sync {
    /// Adds segments.
    async fn add(&mut self, segments: Vec<Segment>) -> Result<(), AiError>;
    /// The `max` segments most similar to `vector` with a score ≥ `min_score`, best first.
    async fn search(&self, vector: &[f32], max: usize, min_score: f64) -> Result<Vec<Match>, AiError>;
    /// Persists what was added; returns the store's outputs (`embeddingStoreOutputs`).
    async fn finish(&mut self, cx: &RunContext) -> Result<Option<Map<String, Value>>, AiError>;
}

/// The store type names Baton accepts.
pub const TYPES: &[&str] = &["io.kestra.plugin.ai.embeddings.KestraKVStore", "io.kestra.plugin.ai.embeddings.PGVector"];

/// Opens the store described by the rendered property `field`; `drop` empties it first.
pub async fn open(
    cx: &RunContext,
    field: &str,
    spec: &Value,
    drop: bool,
) -> Result<Box<dyn EmbeddingStore>, TaskError> {
    let Value::Object(m) = spec else {
        return Err(TaskError::property(field, "expected an embedding store object with a `type`"));
    };
    let t = str_of(m.get("type")).unwrap_or_default();
    let short = t
        .strip_prefix("io.kestra.plugin.ai.embeddings.")
        .or_else(|| t.strip_prefix("io.kestra.plugin.langchain4j.embeddings."))
        .unwrap_or("");
    match short {
        "KestraKVStore" => Ok(Box::new(kv::KvEmbeddings::open(cx, m, drop).await?)),
        "PGVector" => Ok(Box::new(pgvector::PgVector::open(field, m, drop).await?)),
        _ => Err(TaskError::property(
            &format!("{field}.type"),
            format!("embedding store '{t}' is not supported by Baton (supported: {})", TYPES.join(", ")),
        )),
    }
}

/// langchain4j's relevance score of a cosine similarity.
pub fn relevance(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (dot / (na.sqrt() * nb.sqrt()) + 1.0) / 2.0
}
