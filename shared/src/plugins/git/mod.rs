//! Git tasks (`io.kestra.plugin.git.*`), run in the `core` worker group:
//! `Clone` (a branch into the working directory), `SyncNamespaceFiles`
//! (a repository folder into a namespace's files, staged then switched) and
//! `SyncFlows` (a repository folder into the flow store).
//! Cloning goes through libgit2 (`git2`, smart HTTP(S)); see `fetch`.

mod clone;
pub mod fetch;
mod sync_flows;
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

/// The connection properties every Git task has (`url`, `username`,
/// `password`, `branch`), flattened into each task's properties.
#[derive(Debug, serde::Deserialize)]
struct Connection {
    #[serde(deserialize_with = "super::de::string_lenient")]
    url: String,
    #[serde(default, deserialize_with = "super::de::opt_string_lenient")]
    username: Option<String>,
    #[serde(default, deserialize_with = "super::de::opt_string_lenient")]
    password: Option<String>,
    #[serde(default, deserialize_with = "super::de::opt_string_lenient")]
    branch: Option<String>,
}

impl Connection {
    fn remote(&self) -> fetch::Remote {
        fetch::Remote { url: self.url.clone(), username: self.username.clone(), password: self.password.clone() }
    }

    /// Keeps the password out of the task's logs.
    fn mask(&self, cx: &super::RunContext) {
        if let Some(p) = &self.password {
            cx.mask(p);
        }
    }
}

pub const SYNC_FLOWS: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.git.SyncFlows",
    aliases: &[],
    group: "core",
    props: git_props!(
        PropSpec::required("targetNamespace", PropKind::String),
        PropSpec::optional("gitDirectory", PropKind::String),
        PropSpec::optional("includeChildNamespaces", PropKind::Boolean),
        PropSpec::optional("delete", PropKind::Boolean),
        PropSpec::optional("dryRun", PropKind::Boolean),
        PropSpec::optional("ignoreInvalidFlows", PropKind::Boolean),
    ),
    build: sync_flows::build,
};

pub fn register(r: &mut Registry) {
    r.register(CLONE);
    r.register(SYNC_NAMESPACE_FILES);
    r.register(SYNC_FLOWS);
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
