//! The embedded runtime's backends: state and KV in SQLite ([`SqliteStore`]),
//! internal storage in a folder ([`FsStorage`]), topics on in-process tokio
//! channels ([`LocalQueue`]), bundled by [`LocalBackends`] under one home
//! folder chosen by the caller (the CLI uses `BATON_HOME` or `~/.baton`).

mod flow_folder;
mod fs;
mod queue;
mod sqlite;
mod sqlite_checkpoint;
mod sqlite_claims;
mod sqlite_exec;
mod sqlite_group;
mod sqlite_kv;
mod sqlite_labels;
mod sqlite_metrics;
mod sqlite_partial;
mod sqlite_purge;
mod sqlite_records;
mod sqlite_rows;
mod sqlite_triggers;
mod sqlite_upgrade;
#[cfg(test)]
mod test_dir;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use flow_folder::{FolderFlows, flow_file_paths};
pub use fs::FsStorage;
pub use queue::{LocalMessage, LocalQueue, SharedReceiver};
pub use sqlite::SqliteStore;

use baton_backend::{BackendError, Result};

/// The embedded backends under one home folder: `home/baton.db` (state and
/// KV) and `home/storage/` (internal storage).
#[derive(Debug, Clone)]
pub struct LocalBackends {
    /// Executions, task runs, logs, claims, flows — and the KV store.
    pub state: Arc<SqliteStore>,
    /// Internal storage (`kestra:///…` files).
    pub storage: Arc<FsStorage>,
    /// In-process topics.
    pub queue: Arc<LocalQueue>,
    /// The home folder.
    pub home: PathBuf,
}

impl LocalBackends {
    /// Namespace files, in the storage folder (`storage/{ns}/_files/…`).
    pub fn namespace_files(&self) -> Arc<dyn baton_backend::nsfiles::NamespaceFiles> {
        baton_backend::nsfiles::namespace_files(self.storage.clone())
    }

    /// Opens (creating if needed) the backends under `home`.
    pub fn open(home: &Path) -> Result<Self> {
        // SQLite's B-trees take time-ordered keys on few pages (model::ids)
        baton_model::ids::order_ids_by_time();
        std::fs::create_dir_all(home)
            .map_err(|source| BackendError::Io { what: format!("create Baton home {}", home.display()), source })?;
        Ok(LocalBackends {
            state: Arc::new(SqliteStore::open(&home.join("baton.db"))?),
            storage: Arc::new(FsStorage::new(&home.join("storage"))?),
            queue: Arc::new(LocalQueue::new()),
            home: home.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_backend::{KvStore, KvValue, Queue, StateStore, Storage, Topic};

    #[tokio::test]
    async fn open_creates_the_home_layout() {
        let home = std::env::temp_dir().join(format!("baton-home-{}", uuid::Uuid::new_v4()));
        let b = LocalBackends::open(&home).expect("open");
        assert!(home.join("baton.db").is_file());
        assert!(home.join("storage").is_dir());
        let state: Arc<dyn StateStore> = b.state.clone();
        let kv: Arc<dyn KvStore> = b.state.clone();
        let storage: Arc<dyn Storage> = b.storage.clone();
        let queue: Arc<dyn Queue> = b.queue.clone();
        assert_eq!(state.save_flow("ns", "f", "id: f").await.expect("flow"), 1);
        let v = KvValue { kind: baton_backend::KvType::Number, value: 3.into() };
        kv.set("ns", "k", &v, None, true, chrono::Utc::now()).await.expect("kv");
        assert_eq!(storage.list("/").await.expect("list"), Vec::<String>::new());
        queue.publish(&Topic::Executions, vec![1]).await.expect("publish");
        let got = b.queue.subscribe(&Topic::Executions).recv().await.and_then(super::queue::LocalMessage::bytes);
        assert_eq!(got, Some(vec![1]));
        drop((b, state, kv, storage, queue));
        std::fs::remove_dir_all(&home).expect("cleanup");
    }
}

#[cfg(test)]
mod nsfiles_contract_tests {
    use std::sync::Arc;

    use baton_backend::nsfiles::{StoredNamespaceFiles, contract};

    use crate::FsStorage;

    #[tokio::test]
    async fn local_folder_passes_the_namespace_files_contract() {
        let dir = std::env::temp_dir().join(format!("baton-nsfiles-{}", uuid::Uuid::new_v4()));
        let files = StoredNamespaceFiles::new(Arc::new(FsStorage::new(&dir).expect("storage")));
        contract::namespace_files_contract(&files).await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
