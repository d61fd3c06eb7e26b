//! Git tasks (`io.kestra.plugin.git.*`), run in the `core` worker group:
//! `Clone` (a branch into the working directory) and `SyncNamespaceFiles`
//! (a repository folder into a namespace's files, staged then switched).
//! Cloning goes through libgit2 (`git2`, smart HTTP(S)); see `fetch`.

mod clone;
pub mod fetch;
mod sync_ns;

use super::Registry;
use super::registry::{PluginDef, PropKind, PropSpec};

/// Connection properties every Git task accepts.
macro_rules! git_props {
    ($($extra:expr),* $(,)?) => {
        &[
            PropSpec::required("url", PropKind::String),
            PropSpec::optional("username", PropKind::String),
            PropSpec::optional("password", PropKind::String),
            PropSpec::optional("branch", PropKind::String),
            $($extra,)*
        ]
    };
}

pub const CLONE: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.git.Clone",
    aliases: &[],
    group: "core",
    props: git_props!(
        PropSpec::optional("directory", PropKind::String),
        PropSpec::optional("depth", PropKind::Integer)
    ),
    build: clone::build,
};

pub const SYNC_NAMESPACE_FILES: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.git.SyncNamespaceFiles",
    aliases: &[],
    group: "core",
    props: git_props!(
        PropSpec::optional("namespace", PropKind::String),
        PropSpec::optional("gitDirectory", PropKind::String),
        PropSpec::optional("delete", PropKind::Boolean),
        PropSpec::optional("dryRun", PropKind::Boolean),
    ),
    build: sync_ns::build,
};

pub fn register(r: &mut Registry) {
    r.register(CLONE);
    r.register(SYNC_NAMESPACE_FILES);
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
