//! Ended login sessions (`POST /auth/logout`), kept in the state store.
//!
//! A session token carries an id of its own and the user's session
//! generation ([`super::session`]). Logout adds the id, with the token's
//! expiry, to one compare-and-swap record of the state store (kind
//! [`KIND`], keyed by the user: the `records` table of the home's SQLite),
//! so a copied cookie is refused from then on, after a restart too. An id
//! is dropped from the record when its token would have expired anyway;
//! past [`MAX_REVOKED`] live ids the generation moves on instead, which
//! ends every session of the user at once (the bound is never exceeded
//! and no logout is lost).
//!
//! The server keeps the record in memory and checks each request against
//! that copy (one home is served by one process); every change goes to the
//! store first. The Cloud Run functions have no login (Cloud Run IAM
//! guards the API function), so they keep no sessions.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, StateStore};

/// The state store's record kind.
pub const KIND: &str = "sessions";
/// Live revoked sessions kept per user; past it every session of the user ends.
pub const MAX_REVOKED: usize = 1000;
/// Compare-and-swap retries of one logout.
const ATTEMPTS: usize = 5;

/// Why a logout could not be recorded, or the record not read.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("the ended sessions of '{user}' cannot be stored: {source}")]
    Store {
        user: String,
        #[source]
        source: BackendError,
    },
    #[error("the state store's '{}' record of '{user}' is not one Baton wrote: {source}", KIND)]
    Record {
        user: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the ended sessions of '{user}' changed {} times while a logout was recorded", ATTEMPTS)]
    Contended { user: String },
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    /// Tokens of an older generation are refused.
    generation: u64,
    /// Session id → its token's expiry (unix seconds).
    #[serde(default)]
    revoked: BTreeMap<String, i64>,
}

/// What a logout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The session logged out.
    One,
    /// Every session of the user ([`MAX_REVOKED`] was reached).
    Every,
}

/// The ended sessions of one user.
pub struct Revocations {
    user: String,
    store: Option<Arc<dyn StateStore>>,
    current: RwLock<Record>,
    write: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations").field("user", &self.user).field("stored", &self.store.is_some()).finish()
    }
}

impl Revocations {
    /// Kept in memory only (tests; a server without a store).
    pub fn in_memory(user: &str) -> Revocations {
        Revocations {
            user: user.to_string(),
            store: None,
            current: RwLock::new(Record::default()),
            write: tokio::sync::Mutex::new(()),
        }
    }

    /// The user's ended sessions as `store` holds them.
    pub async fn load(store: Arc<dyn StateStore>, user: &str) -> Result<Revocations, RevokeError> {
        let (_, record) = read(&*store, user).await?;
        Ok(Revocations {
            user: user.to_string(),
            store: Some(store),
            current: RwLock::new(record),
            write: tokio::sync::Mutex::new(()),
        })
    }

    /// The generation new tokens carry.
    pub fn generation(&self) -> u64 {
        self.current.read().map_or(0, |r| r.generation)
    }

    /// Whether the session `sid` of `generation` was ended.
    pub fn is_revoked(&self, generation: u64, sid: &str) -> bool {
        self.current.read().map_or(true, |r| r.generation != generation || r.revoked.contains_key(sid))
    }

    /// Ends the session `sid` of `generation`, whose token expires at
    /// `expires` (unix seconds; `now` too).
    pub async fn revoke(&self, generation: u64, sid: &str, expires: i64, now: i64) -> Result<Revoked, RevokeError> {
        let _one_at_a_time = self.write.lock().await;
        for _ in 0..ATTEMPTS {
            let (version, mut record) = match &self.store {
                Some(store) => read(&**store, &self.user).await?,
                None => (0, self.current.read().map(|r| r.clone()).unwrap_or_default()),
            };
            if record.generation != generation {
                // already ended with its whole generation
                return Ok(Revoked::One);
            }
            record.revoked.retain(|_, e| *e > now);
            let outcome = if record.revoked.len() >= MAX_REVOKED {
                tracing::warn!(user = %self.user, bound = "MAX_REVOKED", limit = MAX_REVOKED,
                    "too many ended sessions to keep: every session of the user ends");
                record.generation = record.generation.saturating_add(1);
                record.revoked.clear();
                Revoked::Every
            } else {
                record.revoked.insert(sid.to_string(), expires);
                Revoked::One
            };
            if let Some(store) = &self.store {
                let body = serde_json::to_value(&record)
                    .map_err(|source| RevokeError::Record { user: self.user.clone(), source })?;
                match store.save_record(KIND, &self.user, version, &body).await {
                    Ok(_) => {}
                    Err(BackendError::Conflict { .. }) => continue,
                    Err(source) => return Err(RevokeError::Store { user: self.user.clone(), source }),
                }
            }
            if let Ok(mut current) = self.current.write() {
                *current = record;
            }
            return Ok(outcome);
        }
        Err(RevokeError::Contended { user: self.user.clone() })
    }
}

async fn read(store: &dyn StateStore, user: &str) -> Result<(u64, Record), RevokeError> {
    match store.load_record(KIND, user).await {
        Ok(Some((version, body))) => serde_json::from_value(body)
            .map(|r| (version, r))
            .map_err(|source| RevokeError::Record { user: user.to_string(), source }),
        Ok(None) => Ok((0, Record::default())),
        Err(source) => Err(RevokeError::Store { user: user.to_string(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_revoked_session_stays_revoked_in_the_store_and_the_bound_ends_every_session() {
        let store: Arc<dyn StateStore> =
            Arc::new(crate::backend::local::SqliteStore::open_in_memory().expect("sqlite"));
        let r = Revocations::load(store.clone(), "admin").await.expect("load");
        assert!(!r.is_revoked(0, "a"));
        assert_eq!(r.revoke(0, "a", 100, 10).await.expect("revoke"), Revoked::One);
        assert!(r.is_revoked(0, "a") && !r.is_revoked(0, "b"));
        // another server on the same store (a restart) sees it
        let again = Revocations::load(store.clone(), "admin").await.expect("reload");
        assert!(again.is_revoked(0, "a"));
        // expired ids are dropped; past the bound the generation moves on
        for i in 0..MAX_REVOKED {
            again.revoke(0, &format!("s{i}"), 1_000, 200).await.expect("revoke");
        }
        assert!(!again.is_revoked(0, "a"), "expired at 100: dropped at 200");
        assert_eq!(again.generation(), 0);
        assert_eq!(again.revoke(0, "last", 1_000, 200).await.expect("revoke"), Revoked::Every);
        assert_eq!(again.generation(), 1);
        assert!(again.is_revoked(0, "fresh"), "every session of generation 0 ended");
        assert!(!again.is_revoked(1, "fresh"));
        let (_, body) = store.load_record(KIND, "admin").await.expect("load").expect("record");
        assert_eq!(body["generation"], 1);
        assert_eq!(body["revoked"].as_object().map(|m| m.len()), Some(0));
    }
}
