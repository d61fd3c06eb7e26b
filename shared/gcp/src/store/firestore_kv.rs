//! The [`KvStore`] half of [`FirestoreStore`]: Kestra's namespaced, typed
//! KV with TTL in `kv/{namespace}/keys/{key}` (`key`, `type`, `value` as
//! JSON text, `created`, `updated`, `expires`, `revision`: 1 when created,
//! one more per overwrite of a live key; a key written before revisions
//! were kept reads as revision 1). Every change is conditional
//! (exists=false to create, the read update time to replace or to delete an
//! expired key). An expired key reads as [`KvLookup::Expired`] and is
//! deleted then; listings skip expired keys. A Firestore TTL policy on
//! `keys.expires` (Terraform) may also delete them in the background.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use firestore::gcloud_sdk::google::firestore::v1::Document;
use firestore::gcloud_sdk::google::firestore::v1::precondition::ConditionType;
use firestore::gcloud_sdk::google::firestore::v1::structured_query;

use super::firestore::FirestoreStore;
use super::fs_client::{
    CommitOutcome, create, delete, delete_if, doc_id, document, get_int, get_json, get_str, get_time, int, replace_if,
    select, string, time, to_json, with_precondition,
};
use baton_backend::{BackendError, KvDetail, KvEntry, KvLookup, KvStore, KvType, KvValue, Result};

/// The error Kestra raises for `overwrite: false` on an existing key.
const KEY_EXISTS: &str = "Key already exists and `overwrite` is set to `false`.";
/// Root collection of the KV namespaces.
pub const KV: &str = "kv";
/// Sub-collection of a namespace's keys.
pub const KEYS: &str = "keys";
/// Attempts of a read-then-conditional-write loop.
const CAS_ATTEMPTS: usize = 16;

fn namespace_path(namespace: &str) -> String {
    format!("{KV}/{}", doc_id(namespace))
}

fn key_path(namespace: &str, key: &str) -> String {
    format!("{}/{KEYS}/{}", namespace_path(namespace), doc_id(key))
}

fn type_name(kind: KvType) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn parse_type(doc: &Document) -> Result<KvType> {
    let name = get_str(doc, "type", "kv")?;
    serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| BackendError::Database {
        what: "Firestore kv".into(),
        message: format!("unknown KV type '{name}' in {}", doc.name),
    })
}

fn is_live(expires: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expires.is_none_or(|e| e > now)
}

fn contended(key: &str) -> BackendError {
    BackendError::Database {
        what: "Firestore kv set".into(),
        message: format!("key {key}: still contended after {CAS_ATTEMPTS} attempts"),
    }
}

/// A key's stored revision (1 for a key written before revisions were kept).
fn stored_revision(doc: &Document) -> i64 {
    get_int(doc, "revision", "kv").unwrap_or(1).max(1)
}

impl FirestoreStore {
    async fn kv_detail(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<Option<KvDetail>> {
        let path = key_path(namespace, key);
        let Some(doc) = self.fs.get("kv detail", &path).await? else { return Ok(None) };
        if !is_live(get_time(&doc, "expires", "kv detail")?, now) {
            if let Some(t) = doc.update_time {
                self.fs.commit("kv detail (delete expired)", vec![delete_if(doc.name.clone(), t)]).await?;
            }
            return Ok(None);
        }
        Ok(Some(KvDetail {
            kind: parse_type(&doc)?,
            value: get_json(&doc, "value", "kv detail")?,
            revision: u64::try_from(stored_revision(&doc)).unwrap_or(1),
            updated: get_time(&doc, "updated", "kv detail")?.unwrap_or(now),
        }))
    }

    async fn kv_get(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<KvLookup> {
        let path = key_path(namespace, key);
        let Some(doc) = self.fs.get("kv get", &path).await? else { return Ok(KvLookup::Missing) };
        if !is_live(get_time(&doc, "expires", "kv get")?, now) {
            if let Some(t) = doc.update_time {
                // only this expired value: a concurrent set wins
                self.fs.commit("kv get (delete expired)", vec![delete_if(doc.name.clone(), t)]).await?;
            }
            return Ok(KvLookup::Expired);
        }
        Ok(KvLookup::Found(KvValue { kind: parse_type(&doc)?, value: get_json(&doc, "value", "kv get")? }))
    }

    async fn kv_set(
        &self,
        namespace: &str,
        key: &str,
        value: &KvValue,
        expires: Option<DateTime<Utc>>,
        overwrite: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let path = key_path(namespace, key);
        let encoded = to_json(&value.value, "kv set")?;
        for _ in 0..CAS_ATTEMPTS {
            let existing = self.fs.get("kv set", &path).await?;
            let mut created = now;
            let mut revision = 1;
            let mut previous = None;
            if let Some(doc) = &existing {
                if is_live(get_time(doc, "expires", "kv set")?, now) {
                    if !overwrite {
                        return Err(BackendError::Invalid(KEY_EXISTS.to_string()));
                    }
                    created = get_time(doc, "created", "kv set")?.unwrap_or(now);
                    revision = stored_revision(doc) + 1;
                }
                previous = Some(doc.update_time.ok_or_else(|| contended(key))?);
            }
            let doc = document(
                self.fs.name(&path),
                vec![
                    ("key", string(key)),
                    ("type", string(type_name(value.kind))),
                    ("value", string(encoded.clone())),
                    ("created", time(Some(created))),
                    ("updated", time(Some(now))),
                    ("expires", time(expires)),
                    ("revision", int(revision)),
                ],
            );
            let write = match previous {
                Some(t) => replace_if(doc, t),
                None => create(doc),
            };
            if let CommitOutcome::Done(_) = self.fs.commit("kv set", vec![write]).await? {
                return Ok(());
            }
        }
        Err(contended(key))
    }

    async fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool> {
        let name = self.fs.name(&key_path(namespace, key));
        let write = with_precondition(delete(name), ConditionType::Exists(true));
        Ok(matches!(self.fs.commit("kv delete", vec![write]).await?, CommitOutcome::Done(_)))
    }

    /// The keys of `namespace`, only those live at `now` when given.
    async fn kv_list(&self, namespace: &str, now: Option<DateTime<Utc>>) -> Result<Vec<KvEntry>> {
        let docs = self.fs.query("kv list", &namespace_path(namespace), select(KEYS, None, vec![], None), &[]).await?;
        let mut out = Vec::with_capacity(docs.len());
        for doc in &docs {
            let expires = get_time(doc, "expires", "kv list")?;
            if now.is_some_and(|now| !is_live(expires, now)) {
                continue;
            }
            let date = |field: &str| {
                get_time(doc, field, "kv list")?.ok_or_else(|| BackendError::Database {
                    what: "Firestore kv list".into(),
                    message: format!("{} has no '{field}' date", doc.name),
                })
            };
            out.push(KvEntry {
                key: get_str(doc, "key", "kv list")?.to_string(),
                kind: parse_type(doc)?,
                creation_date: date("created")?,
                update_date: date("updated")?,
                expiration_date: expires,
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The namespaces of every key document (a collection-group query on
    /// `keys`, names only), at most [`MAX_SCANNED_KEYS`] keys.
    async fn kv_namespaces(&self) -> Result<Vec<String>> {
        let mut query = select(KEYS, None, vec![], Some(MAX_SCANNED_KEYS + 1));
        for from in &mut query.from {
            from.all_descendants = true;
        }
        query.select = Some(structured_query::Projection {
            fields: vec![structured_query::FieldReference { field_path: "__name__".into() }],
        });
        let docs = self.fs.query("kv namespaces", "", query, &[]).await?;
        if docs.len() > MAX_SCANNED_KEYS {
            return Err(BackendError::Invalid(format!(
                "the KV store holds more than {MAX_SCANNED_KEYS} keys, the most listing its namespaces scans"
            )));
        }
        let root = format!("{}/", self.fs.name(KV));
        let mut out: Vec<String> = docs
            .iter()
            .filter_map(|d| d.name.strip_prefix(&root)?.split_once(&format!("/{KEYS}/")).map(|(ns, _)| ns))
            .map(namespace_of_doc_id)
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// The most keys [`FirestoreStore::kv_namespaces`] scans.
pub const MAX_SCANNED_KEYS: usize = 1_000_000;

/// The namespace a `kv/{id}` document id stands for (the inverse of
/// [`doc_id`]).
fn namespace_of_doc_id(id: &str) -> String {
    let id = match id.strip_prefix('%') {
        Some(rest) if !rest.starts_with("2F") && !rest.starts_with("25") => rest,
        _ => id,
    };
    id.replace("%2F", "/").replace("%25", "%")
}

#[async_trait]
impl KvStore for FirestoreStore {
    async fn get(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<KvLookup> {
        self.kv_get(namespace, key, now).await
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
        self.kv_set(namespace, key, value, expires, overwrite, now).await
    }
    async fn delete(&self, namespace: &str, key: &str) -> Result<bool> {
        self.kv_delete(namespace, key).await
    }
    async fn list(&self, namespace: &str, now: DateTime<Utc>) -> Result<Vec<KvEntry>> {
        self.kv_list(namespace, Some(now)).await
    }
    async fn list_all(&self, namespace: &str) -> Result<Vec<KvEntry>> {
        self.kv_list(namespace, None).await
    }
    async fn namespaces(&self) -> Result<Vec<String>> {
        self.kv_namespaces().await
    }
    async fn detail(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<Option<KvDetail>> {
        self.kv_detail(namespace, key, now).await
    }
}
