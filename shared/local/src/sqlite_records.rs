//! Compare-and-swap records on [`SqliteStore`]: the `records` table
//! (`kind`, `key`, `version`, JSON `body`), changed only by a conditional
//! insert (version 0: absent) or update (same version), so of two writers
//! that read one version exactly one commits.

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::sqlite::{SqliteStore, db, json};
use baton_backend::{BackendError, Result};

impl SqliteStore {
    pub(super) async fn load_record_queued(&self, kind: &str, key: &str) -> Result<Option<(u64, Value)>> {
        let (kind, key) = (kind.to_string(), key.to_string());
        let row: Option<(i64, String)> = self
            .group()
            .read("load record", move |conn| {
                conn.prepare_cached("SELECT version, body FROM records WHERE kind = ?1 AND key = ?2")
                    .and_then(|mut s| s.query_row(params![kind, key], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                    .map_err(db("load record"))
            })
            .await?;
        row.map(|(v, body)| Ok((v as u64, serde_json::from_str(&body).map_err(json("load record (decode)"))?)))
            .transpose()
    }

    pub(super) async fn save_record_queued(&self, kind: &str, key: &str, expected: u64, value: &Value) -> Result<u64> {
        let body = serde_json::to_string(value).map_err(json("save record (encode)"))?;
        let (kind, key) = (kind.to_string(), key.to_string());
        self.group()
            .run("save record", move |conn| {
                let n = if expected == 0 {
                    conn.prepare_cached(
                        "INSERT INTO records (kind, key, version, body) VALUES (?1, ?2, 1, ?3) ON CONFLICT DO NOTHING",
                    )
                    .and_then(|mut s| s.execute(params![kind, key, body]))
                } else {
                    conn.prepare_cached(
                        "UPDATE records SET version = version + 1, body = ?4
                         WHERE kind = ?1 AND key = ?2 AND version = ?3",
                    )
                    .and_then(|mut s| s.execute(params![kind, key, expected as i64, body]))
                }
                .map_err(db("save record"))?;
                if n == 1 {
                    return Ok(expected + 1);
                }
                let found: Option<i64> = conn
                    .prepare_cached("SELECT version FROM records WHERE kind = ?1 AND key = ?2")
                    .and_then(|mut s| s.query_row(params![kind, key], |r| r.get(0)).optional())
                    .map_err(db("save record (check)"))?;
                Err(BackendError::Conflict {
                    what: format!("{kind} record {key}"),
                    expected,
                    found: found.unwrap_or(0) as u64,
                })
            })
            .await
    }
}
