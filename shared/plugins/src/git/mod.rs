//! Git tasks (`io.kestra.plugin.git.*`), run in the `core` worker group:
//! `Clone` (a branch into the working directory), `SyncNamespaceFiles`
//! (a repository folder into a namespace's files, staged then switched) and
//! `SyncFlows` (a repository folder into the flow store).
//! Cloning goes through libgit2 (`git2`, smart HTTP(S)); see `fetch`.

mod clone;
pub mod fetch;
mod sync_flows;
mod sync_ns;

use std::sync::LazyLock;

use super::Registry;
use super::registry::PluginDef;
use crate::Declare;

pub static CLONE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<clone::Props>(clone::build));

pub static SYNC_NAMESPACE_FILES: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare::<sync_ns::Props>(sync_ns::build));

pub static SYNC_FLOWS: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare::<sync_flows::Props>(sync_flows::build));

/// The connection properties every Git task has (`url`, `username`,
/// `password`), flattened into each task's properties. `branch` is each
/// task's own: its default differs (the remote's default branch for
/// `Clone`, `main` for the sync tasks).
#[derive(Debug, serde::Deserialize, Declare)]
struct Connection {
    /// The repository's URL (https).
    #[serde(deserialize_with = "super::de::string_lenient")]
    url: String,
    /// The user for https authentication.
    #[serde(default, deserialize_with = "super::de::opt_string_lenient")]
    username: Option<String>,
    /// The password or token (use a secret).
    #[serde(default, deserialize_with = "super::de::opt_string_lenient")]
    password: Option<String>,
}

impl Connection {
    fn remote(&self) -> fetch::Remote {
        fetch::Remote { url: self.url.clone(), username: self.username.clone(), password: self.password.clone() }
    }
}

pub fn register(r: &mut Registry) {
    r.register(*CLONE);
    r.register(*SYNC_NAMESPACE_FILES);
    r.register(*SYNC_FLOWS);
}

/// Runs a blocking clone on the blocking pool.
async fn clone_blocking(
    remote: fetch::Remote,
    branch: Option<String>,
    depth: Option<u32>,
    into: std::path::PathBuf,
) -> Result<String, super::TaskError> {
    tokio::task::spawn_blocking(move || fetch::clone_branch(&remote, branch.as_deref(), depth, &into))
        .await
        .map_err(|e| super::TaskError::failed(format!("the clone stopped: {e}")))?
        .map_err(|e| super::TaskError::failed(e.to_string()))
}

/// Removes a clone when the task ends, however it ends.
pub(crate) struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
