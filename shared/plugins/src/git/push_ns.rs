//! `io.kestra.plugin.git.PushNamespaceFiles`: the files of `namespace`
//! (default the flow's) that the `files` globs match (default all)
//! committed under `gitDirectory` (default `_files`) with their paths and
//! pushed to `branch` (default `main`, created when missing);
//! `errorOnMissing` fails when no file matches. Each file is copied to
//! local disk as a stream. Output `files`: the diff file (`push`).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::RemoveOnDrop;
use super::push::{self, PushProps};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::nsfiles::{namespace_files, normalise_path};

/// Commit and push a namespace's files to a Git repository.
///
/// Writes the namespace's files (all, or those the globs match) into a repository folder, commits and pushes them.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.git.PushNamespaceFiles",
    group = "core",
    example = "id: push_files\ntype: io.kestra.plugin.git.PushNamespaceFiles\nurl: https://github.com/kestra-io/scripts\nusername: git_username\npassword: \"{{ secret('GITHUB_ACCESS_TOKEN') }}\"\nnamespace: company.team\nfiles: \"*.py\"\ngitDirectory: _files\n",
    outputs(
        commitId(String, "The commit pushed (none on a dry run or when nothing changed)."),
        commitURL(String, "A link to the commit."),
        files(String, "A file of what changed: one row per file.")
    )
)]
pub(super) struct Props {
    #[serde(flatten)]
    git: super::Connection,
    #[serde(flatten)]
    push: PushProps,
    /// The namespace whose files are pushed (default the flow's).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    namespace: Option<String>,
    /// The repository folder the files go to.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"_files\"")]
    git_directory: Option<String>,
    /// Globs of the namespace paths to push (default all).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    files: Vec<String>,
    /// Fail when no namespace file matches.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    error_on_missing: Option<bool>,
}

struct PushNamespaceFiles {
    p: Props,
}

pub(super) fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(PushNamespaceFiles { p: parse_props(props)? }))
}

#[async_trait]
impl RunnableTask for PushNamespaceFiles {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.p;
        let namespace = p.namespace.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| cx.namespace.clone());
        let git_dir = p.git_directory.clone().unwrap_or_else(|| "_files".to_string());
        let git_dir = normalise_path(&git_dir, true).map_err(|e| TaskError::property("gitDirectory", e.to_string()))?;
        let globs = push::globs("files", &p.files)?;

        let work = cx.working_dir()?.join(format!("pushfiles-{}", uuid::Uuid::new_v4().simple()));
        let _cleanup = RemoveOnDrop(work.clone());
        let stage = work.join("stage");
        let store = namespace_files(cx.services.storage.clone());
        let failed = |e: baton_backend::BackendError| {
            TaskError::failed(format!("cannot read the files of namespace '{namespace}': {e}"))
        };
        let mut files = Vec::new();
        for f in store.list(&namespace, "").await.map_err(failed)? {
            let name = f.path.rsplit('/').next().unwrap_or(&f.path);
            if globs.as_ref().is_some_and(|g| !g.is_match(&f.path) && !g.is_match(name)) {
                continue;
            }
            let local = stage.join(&f.path);
            if let Some(parent) = local.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| TaskError::failed(format!("cannot stage {}: {e}", f.path)))?;
            }
            let mut from = store.get(&namespace, &f.path).await.map_err(failed)?;
            let mut to = tokio::fs::File::create(&local)
                .await
                .map_err(|e| TaskError::failed(format!("cannot stage {}: {e}", f.path)))?;
            tokio::io::copy(&mut from, &mut to)
                .await
                .map_err(|e| TaskError::failed(format!("cannot copy namespace file {}: {e}", f.path)))?;
            files.push((f.path.clone(), local));
        }
        if files.is_empty() {
            if p.error_on_missing.unwrap_or(false) {
                return Err(TaskError::failed(format!(
                    "no file of namespace '{namespace}' matches `files`, and errorOnMissing is set"
                )));
            }
            cx.info(&format!("No files to push from namespace {namespace}: nothing done"));
            return Ok(TaskOutput::with(Map::new()));
        }
        let job = p.push.job(&p.git, git_dir, files, globs, format!("Add files from {namespace} namespace"));
        super::push_output(cx, &p.git.url, "files", job, work.join("repo")).await
    }
}
