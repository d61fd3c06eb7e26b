//! Git tasks (`io.kestra.plugin.git.*`), run in the `core` worker group:
//! `Clone` (a branch into the working directory), `SyncNamespaceFiles`
//! (a repository folder into a namespace's files, staged then switched) and
//! `SyncFlows` (a repository folder into the flow store), and the other
//! way `PushFlows` and `PushNamespaceFiles` (commit and push, `push`).
//! Cloning goes through libgit2 (`git2`, smart HTTP(S)); see `fetch`.

mod clone;
pub mod fetch;
mod push;
mod push_flows;
mod push_ns;
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

pub static PUSH_FLOWS: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare::<push_flows::Props>(push_flows::build));

pub static PUSH_NAMESPACE_FILES: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare::<push_ns::Props>(push_ns::build));

pub fn register(r: &mut Registry) {
    r.register(*PUSH_FLOWS);
    r.register(*PUSH_NAMESPACE_FILES);
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
pub(crate) use crate::context::RemoveOnDrop;

/// Runs a push on the blocking pool, stores its diff file and answers
/// Kestra's outputs: `commitId`, `commitURL` and the diff file under `key`.
async fn push_output(
    cx: &super::RunContext,
    url: &str,
    key: &str,
    job: push::Job,
    work: std::path::PathBuf,
) -> Result<super::TaskOutput, super::TaskError> {
    let shown = fetch::redact(url);
    let (dry_run, branch) = (job.dry_run, job.branch.clone());
    let pushed = tokio::task::spawn_blocking(move || push::run(&job, &work))
        .await
        .map_err(|e| super::TaskError::failed(format!("the push stopped: {e}")))?
        .map_err(|e| super::TaskError::failed(e.to_string()))?;
    if pushed.created_branch {
        cx.info(&format!("Branch {branch} does not exist in {shown}: created"));
    }
    let mut out = serde_json::Map::new();
    match (&pushed.commit_id, dry_run) {
        (_, true) => cx.info(&format!(
            "Dry run: {} file(s) would change; nothing is pushed to {shown} until dryRun is false",
            pushed.changed
        )),
        (None, false) => cx.info("No changes to commit. Skipping push."),
        (Some(id), false) => {
            let link = push::commit_url(url, id);
            cx.info(&format!("Pushed {} changed file(s) to {shown} on branch {branch}: {link}", pushed.changed));
            out.insert("commitId".to_string(), serde_json::json!(id));
            out.insert("commitURL".to_string(), serde_json::json!(link));
        }
    }
    let (uri, _) = cx.put_file(&format!("{key}.ion"), Box::pin(std::io::Cursor::new(pushed.diff.into_bytes()))).await?;
    out.insert(key.to_string(), serde_json::json!(uri));
    Ok(super::TaskOutput::with(out))
}
