//! The [`KvStore`] half of [`SqliteStore`]: Kestra's namespaced, typed KV
//! with TTL in the `kv` table (value as JSON, dates as microseconds).
//! An expired key is deleted when read and reported as
//! [`KvLookup::Expired`]; listings skip expired keys. `revision` is 1 when a
//! key is created and one more per overwrite of a live key (Kestra 2.0's
//! `KvDetail`); a database from before it gains the column, every key at 1.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::sqlite::{SqliteStore, db, from_micros, json, micros};
use baton_backend::{BackendError, KvDetail, KvEntry, KvLookup, KvStore, KvType, KvValue, Result};

/// Adds the `revision` column to a `kv` table made before it existed
/// (backward compatible: an older Baton never names it).
pub(super) fn add_revision_column(conn: &rusqlite::Connection) -> Result<()> {
    let has: bool = conn
        .prepare("SELECT 1 FROM pragma_table_info('kv') WHERE name = 'revision'")
        .and_then(|mut s| s.exists([]))
        .map_err(db("kv (read columns)"))?;
    if !has {
        conn.execute_batch("ALTER TABLE kv ADD COLUMN revision INTEGER NOT NULL DEFAULT 1")
            .map_err(db("kv (add revision column)"))?;
    }
    Ok(())
}

/// The error Kestra raises for `overwrite: false` on an existing key.
pub(crate) const KEY_EXISTS: &str = "Key already exists and `overwrite` is set to `false`.";

fn type_name(kind: KvType) -> &'static str {
    match kind {
        KvType::String => "STRING",
        KvType::Number => "NUMBER",
        KvType::Boolean => "BOOLEAN",
        KvType::Datetime => "DATETIME",
        KvType::Date => "DATE",
        KvType::Duration => "DURATION",
        KvType::Json => "JSON",
    }
}

fn parse_type(name: &str) -> Result<KvType> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| BackendError::Database {
        what: "kv (decode type)".into(),
        message: format!("unknown KV type '{name}'"),
    })
}

fn is_live(expires: Option<i64>, now: i64) -> bool {
    expires.is_none_or(|e| e > now)
}

impl SqliteStore {
    fn kv_get(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<KvLookup> {
        let conn = self.lock();
        let row: Option<(String, String, Option<i64>)> = conn
            .prepare_cached("SELECT type, value, expires FROM kv WHERE namespace = ?1 AND key = ?2")
            .and_then(|mut s| s.query_row([namespace, key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
            .map_err(db("kv get"))?;
        let Some((kind, value, expires)) = row else { return Ok(KvLookup::Missing) };
        if !is_live(expires, micros(now)) {
            conn.prepare_cached("DELETE FROM kv WHERE namespace = ?1 AND key = ?2 AND expires <= ?3")
                .and_then(|mut s| s.execute(params![namespace, key, micros(now)]))
                .map_err(db("kv get (delete expired)"))?;
            return Ok(KvLookup::Expired);
        }
        Ok(KvLookup::Found(KvValue {
            kind: parse_type(&kind)?,
            value: serde_json::from_str(&value).map_err(json("kv get (decode value)"))?,
        }))
    }

    fn kv_set(
        &self,
        namespace: &str,
        key: &str,
        value: &KvValue,
        expires: Option<DateTime<Utc>>,
        overwrite: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let encoded = serde_json::to_string(&value.value).map_err(json("kv set (encode value)"))?;
        let now = micros(now);
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db("kv set (begin)"))?;
        {
            let existing: Option<(i64, Option<i64>, i64)> = tx
                .prepare_cached("SELECT created, expires, revision FROM kv WHERE namespace = ?1 AND key = ?2")
                .and_then(|mut s| s.query_row([namespace, key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
                .map_err(db("kv set (read)"))?;
            let (created, revision) = match existing {
                Some((_, exp, _)) if is_live(exp, now) && !overwrite => {
                    return Err(BackendError::Invalid(KEY_EXISTS.to_string()));
                }
                Some((created, exp, rev)) if is_live(exp, now) => (created, rev + 1),
                _ => (now, 1),
            };
            tx.prepare_cached(
                "INSERT INTO kv (namespace, key, type, value, created, updated, expires, revision)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (namespace, key) DO UPDATE SET type = excluded.type, value = excluded.value,
                 created = excluded.created, updated = excluded.updated, expires = excluded.expires,
                 revision = excluded.revision",
            )
            .and_then(|mut s| {
                let kind = type_name(value.kind);
                s.execute(params![namespace, key, kind, encoded, created, now, expires.map(micros), revision])
            })
            .map_err(db("kv set (write)"))?;
        }
        tx.commit().map_err(db("kv set (commit)"))
    }

    fn kv_detail(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<Option<KvDetail>> {
        let row: Option<(i64, i64)> = self
            .lock()
            .prepare_cached("SELECT revision, updated FROM kv WHERE namespace = ?1 AND key = ?2")
            .and_then(|mut s| s.query_row([namespace, key], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(db("kv detail"))?;
        let Some((revision, updated)) = row else { return Ok(None) };
        // the value, and the expiry (deleting an expired key), as `get` reads them
        match self.kv_get(namespace, key, now)? {
            KvLookup::Found(v) => Ok(Some(KvDetail {
                kind: v.kind,
                value: v.value,
                revision: u64::try_from(revision).unwrap_or(1),
                updated: from_micros(updated)?,
            })),
            KvLookup::Missing | KvLookup::Expired => Ok(None),
        }
    }

    fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool> {
        let conn = self.lock();
        let n = conn
            .prepare_cached("DELETE FROM kv WHERE namespace = ?1 AND key = ?2")
            .and_then(|mut s| s.execute([namespace, key]))
            .map_err(db("kv delete"))?;
        Ok(n > 0)
    }

    /// The keys of `namespace`, only those live at `now` when given.
    fn kv_list(&self, namespace: &str, now: Option<DateTime<Utc>>) -> Result<Vec<KvEntry>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT key, type, created, updated, expires FROM kv
                 WHERE namespace = ?1 AND (?2 IS NULL OR expires IS NULL OR expires > ?2) ORDER BY key",
            )
            .map_err(db("kv list"))?;
        let rows = stmt
            .query_map(params![namespace, now.map(micros)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })
            .map_err(db("kv list"))?;
        let mut out = Vec::new();
        for row in rows {
            let (key, kind, created, updated, expires) = row.map_err(db("kv list"))?;
            out.push(KvEntry {
                key,
                kind: parse_type(&kind)?,
                creation_date: from_micros(created)?,
                update_date: from_micros(updated)?,
                expiration_date: expires.map(from_micros).transpose()?,
            });
        }
        Ok(out)
    }

    fn kv_namespaces(&self) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT DISTINCT namespace FROM kv ORDER BY namespace").map_err(db("kv namespaces"))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db("kv namespaces"))?;
        rows.collect::<std::result::Result<Vec<_>, _>>().map_err(db("kv namespaces"))
    }
}

#[async_trait]
impl KvStore for SqliteStore {
    async fn get(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<KvLookup> {
        self.kv_get(namespace, key, now)
    }
    async fn set(
        &self,
        namespace: &str,
        key: &str,
        value: &KvValue,
        expires: Option<DateTime<Utc>>,
        overwrite: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.kv_set(namespace, key, value, expires, overwrite, now)
    }
    async fn delete(&self, namespace: &str, key: &str) -> Result<bool> {
        self.kv_delete(namespace, key)
    }
    async fn list(&self, namespace: &str, now: DateTime<Utc>) -> Result<Vec<KvEntry>> {
        self.kv_list(namespace, Some(now))
    }
    async fn list_all(&self, namespace: &str) -> Result<Vec<KvEntry>> {
        self.kv_list(namespace, None)
    }
    async fn namespaces(&self) -> Result<Vec<String>> {
        self.kv_namespaces()
    }
    async fn detail(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<Option<KvDetail>> {
        self.kv_detail(namespace, key, now)
    }
}
