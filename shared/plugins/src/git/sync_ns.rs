//! `io.kestra.plugin.git.SyncNamespaceFiles`: the files of `gitDirectory`
//! (default `_files`) on `branch` (default `main`) become the namespace's
//! files (`namespace`, default the flow's). With `delete`, namespace files
//! not in Git are removed; with `dryRun`, nothing changes. Every change is
//! applied as one change set, so a failure leaves the namespace as it was.
//! Output `files`: an ION file with one row per file
//! (`{gitPath:…,syncState:"ADDED"|"OVERWRITTEN"|"DELETED",kestraPath:…}`).

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::RemoveOnDrop;
use super::fetch::{redact, tree_files};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::nsfiles::{ChangeSet, namespace_files, normalise_path};

/// Make a namespace's files those of a git repository.
///
/// Copies a repository folder into the namespace's files.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.git.SyncNamespaceFiles",
    group = "core",
    example = "id: sync_files\ntype: io.kestra.plugin.git.SyncNamespaceFiles\nurl: https://github.com/kestra-io/scripts\nnamespace: company.team\ngitDirectory: scripts\n",
    outputs(files(String, "A file of what changed."))
)]
pub(super) struct Props {
    #[serde(flatten)]
    git: super::Connection,
    /// The branch.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"main\"")]
    branch: Option<String>,
    /// The namespace; the flow's when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    namespace: Option<String>,
    /// The folder of the repository to read.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"_files\"")]
    git_directory: Option<String>,
    /// Delete what is no longer in the repository.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    delete: Option<bool>,
    /// Only log what would change.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    dry_run: Option<bool>,
}

struct SyncNamespaceFiles {
    p: Props,
}

pub(super) fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(SyncNamespaceFiles { p: parse_props(props)? }))
}

/// One ION row of the diff file.
fn ion_row(git_path: Option<&str>, state: &str, kestra_path: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    match git_path {
        Some(g) => format!("{{gitPath:{},syncState:{},kestraPath:{}}}\n", q(g), q(state), q(kestra_path)),
        None => format!("{{syncState:{},kestraPath:{}}}\n", q(state), q(kestra_path)),
    }
}

#[async_trait]
impl RunnableTask for SyncNamespaceFiles {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.p;
        let namespace = p.namespace.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| cx.namespace.clone());
        let branch = p.branch.clone().filter(|b| !b.trim().is_empty()).unwrap_or_else(|| "main".to_string());
        let git_dir = p.git_directory.clone().unwrap_or_else(|| "_files".to_string());
        let git_dir = normalise_path(&git_dir, true).map_err(|e| TaskError::property("gitDirectory", e.to_string()))?;
        let (delete, dry_run) = (p.delete.unwrap_or(false), p.dry_run.unwrap_or(false));
        let url = redact(&p.git.url);

        // 1. the whole branch, on local disk: nothing touches the namespace yet
        let work = cx.working_dir()?.join(format!("sync-{}", uuid::Uuid::new_v4().simple()));
        let _cleanup = RemoveOnDrop(work.clone());
        let remote = p.git.remote();
        cx.info(&format!("Syncing {url} (branch {branch}, folder '{git_dir}') into namespace {namespace}"));
        let commit = super::clone_blocking(remote, Some(branch.clone()), Some(1), work.clone()).await?;
        let source = if git_dir.is_empty() { work.clone() } else { work.join(&git_dir) };
        if !source.is_dir() {
            return Err(TaskError::failed(format!(
                "gitDirectory '{git_dir}' is not a folder in the Git repository {url} (branch '{branch}', commit {commit})"
            )));
        }
        let git_files =
            tree_files(&source).map_err(|e| TaskError::failed(format!("cannot read the clone of {url}: {e}")))?;

        // 2. the diff against the namespace
        let store = namespace_files(cx.services.storage.clone());
        let failed = |e: baton_backend::BackendError| {
            TaskError::failed(format!("cannot sync the files of namespace '{namespace}': {e}"))
        };
        let existing: BTreeSet<String> =
            store.list(&namespace, "").await.map_err(failed)?.into_iter().map(|f| f.path).collect();
        let mut diff = String::new();
        let mut changes = ChangeSet::default();
        let (mut added, mut overwritten) = (0usize, 0usize);
        let in_git: BTreeSet<&str> = git_files.iter().map(|(rel, _)| rel.as_str()).collect();
        let mut deleted: Vec<&String> = Vec::new();
        if delete {
            deleted = existing.iter().filter(|e| !in_git.contains(e.as_str())).collect();
            for d in &deleted {
                diff.push_str(&ion_row(None, "DELETED", &format!("/{d}")));
                changes.deletes.push((*d).clone());
            }
        }
        for (rel, abs) in &git_files {
            let state = if existing.contains(rel) {
                overwritten += 1;
                "OVERWRITTEN"
            } else {
                added += 1;
                "ADDED"
            };
            let git_path = if git_dir.is_empty() { format!("/{rel}") } else { format!("{git_dir}/{rel}") };
            diff.push_str(&ion_row(Some(&git_path), state, &format!("/{rel}")));
            changes.writes.push((rel.clone(), abs.clone()));
        }

        // 3. switch
        if !dry_run {
            store.apply(&namespace, &changes).await.map_err(failed)?;
        }
        let (uri, _) = cx.put_file("files.ion", Box::pin(std::io::Cursor::new(diff.into_bytes()))).await?;
        cx.info(&format!(
            "{}{added} added, {overwritten} overwritten, {} deleted in namespace {namespace} from commit {commit}",
            if dry_run { "Dry run: would have " } else { "" },
            deleted.len()
        ));
        Ok(TaskOutput::with(Map::from_iter([("files".to_string(), json!(uri))])))
    }
}
