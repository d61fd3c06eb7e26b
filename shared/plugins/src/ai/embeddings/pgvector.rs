//! `io.kestra.plugin.ai.embeddings.PGVector`: segments in a PostgreSQL
//! table with the pgvector extension, in the layout langchain4j's
//! `PgVectorEmbeddingStore` uses (`embedding_id uuid`, `embedding
//! vector(n)`, `text`, `metadata jsonb`), so Kestra and Baton share a table.
//! `drop` recreates the table; `useIndex` adds an IVFFlat cosine index.
//! Vectors travel as pgvector's text form (`[0.1,0.2]`), so no extra crate
//! is needed; a batch of segments is one `INSERT … SELECT unnest(…)`.

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio_postgres::{Client, NoTls};

use super::{EmbeddingStore, Match, Segment};
use crate::ai::AiError;
use crate::ai::props::{bool_of, i64_of, str_of};
use crate::{RunContext, TaskError};

/// The store: a connection and a table.
pub struct PgVector {
    client: Client,
    table: String,
    /// Created on the first add (its vector size is known then).
    ready: bool,
    use_index: bool,
    drop: bool,
    target: String,
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `[x,y,…]`, pgvector's text form.
pub fn vector_literal(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", parts.join(","))
}

impl PgVector {
    pub async fn open(field: &str, m: &Map<String, Value>, drop: bool) -> Result<PgVector, TaskError> {
        let need = |k: &str| {
            str_of(m.get(k)).ok_or_else(|| TaskError::property(&format!("{field}.{k}"), "required by PGVector"))
        };
        let host = need("host")?;
        let port = i64_of(&format!("{field}.port"), m.get("port"))?
            .ok_or_else(|| TaskError::property(&format!("{field}.port"), "required by PGVector"))?;
        let user = need("user")?;
        let password = need("password")?;
        let database = need("database")?;
        let table = need("table")?;
        let use_index = bool_of(&format!("{field}.useIndex"), m.get("useIndex"))?.unwrap_or(false);
        let target = format!("PGVector {host}:{port}/{database} table {table}");
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&host).port(port as u16).user(&user).password(&password).dbname(&database);
        cfg.connect_timeout(std::time::Duration::from_secs(10));
        let (client, conn) = cfg.connect(NoTls).await.map_err(|e| {
            TaskError::failed(format!(
                "{target}: cannot connect: {}",
                baton_backend::causes(&e).replace(&password, "******")
            ))
        })?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client.batch_execute("CREATE EXTENSION IF NOT EXISTS vector").await.map_err(|e| {
            TaskError::failed(format!("{target}: the pgvector extension is not available: {}", db_msg(&e)))
        })?;
        Ok(PgVector { client, table, ready: false, use_index, drop, target })
    }

    async fn ensure_table(&mut self, dim: usize) -> Result<(), AiError> {
        if self.ready {
            return Ok(());
        }
        let t = quote_ident(&self.table);
        let mut sql = String::new();
        if self.drop {
            sql.push_str(&format!("DROP TABLE IF EXISTS {t};"));
        }
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (embedding_id UUID PRIMARY KEY, embedding vector({dim}), text TEXT NULL, metadata JSONB NULL);"
        ));
        if self.use_index {
            let idx = quote_ident(&format!("{}_ivfflat_index", self.table));
            sql.push_str(&format!(
                "CREATE INDEX IF NOT EXISTS {idx} ON {t} USING ivfflat (embedding vector_cosine_ops) WITH (lists = 1);"
            ));
        }
        self.client.batch_execute(&sql).await.map_err(|e| self.err(&e))?;
        self.ready = true;
        Ok(())
    }

    fn err(&self, e: &tokio_postgres::Error) -> AiError {
        AiError::Store(format!("{}: {}", self.target, db_msg(e)))
    }
}

fn db_msg(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => d.message().to_string(),
        None => baton_backend::causes(e),
    }
}

#[async_trait]
impl EmbeddingStore for PgVector {
    async fn add(&mut self, segments: Vec<Segment>) -> Result<(), AiError> {
        let Some(first) = segments.first() else { return Ok(()) };
        self.ensure_table(first.vector.len()).await?;
        let ids: Vec<String> = segments.iter().map(|s| s.id.clone()).collect();
        let vecs: Vec<String> = segments.iter().map(|s| vector_literal(&s.vector)).collect();
        let texts: Vec<String> = segments.iter().map(|s| s.text.clone()).collect();
        let metas: Vec<String> = segments.iter().map(|s| Value::Object(s.metadata.clone()).to_string()).collect();
        let sql = format!(
            "INSERT INTO {} (embedding_id, embedding, text, metadata) \
             SELECT i::uuid, e::vector, t, m::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(i, e, t, m) \
             ON CONFLICT (embedding_id) DO UPDATE SET embedding = EXCLUDED.embedding, text = EXCLUDED.text, metadata = EXCLUDED.metadata",
            quote_ident(&self.table)
        );
        self.client.execute(&sql, &[&ids, &vecs, &texts, &metas]).await.map_err(|e| self.err(&e))?;
        Ok(())
    }

    async fn search(&self, vector: &[f32], max: usize, min_score: f64) -> Result<Vec<Match>, AiError> {
        let sql = format!(
            "SELECT text, metadata::text, ((2 - (embedding <=> $1::text::vector)) / 2)::float8 AS score FROM {} \
             ORDER BY embedding <=> $1::text::vector LIMIT $2",
            quote_ident(&self.table)
        );
        let rows =
            self.client.query(&sql, &[&vector_literal(vector), &(max as i64)]).await.map_err(|e| self.err(&e))?;
        let mut out = Vec::new();
        for r in rows {
            let score: f64 = r.get(2);
            if score < min_score {
                continue;
            }
            let meta: Option<String> = r.get(1);
            let metadata = meta.and_then(|m| serde_json::from_str::<Map<String, Value>>(&m).ok()).unwrap_or_default();
            out.push(Match { score, text: r.get::<_, Option<String>>(0).unwrap_or_default(), metadata });
        }
        Ok(out)
    }

    async fn finish(&mut self, _cx: &RunContext) -> Result<Option<Map<String, Value>>, AiError> {
        Ok(None)
    }
}
