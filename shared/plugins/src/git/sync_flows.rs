//! `io.kestra.plugin.git.SyncFlows`: the flows of `gitDirectory` (default
//! `_flows`) on `branch` (default `main`) become flows of `targetNamespace`
//! — each flow's `namespace:` line rewritten to it, and with
//! `includeChildNamespaces` each subfolder to a child namespace
//! (`_flows/marketing/crm/f.yml` → `target.marketing.crm`). Every flow is
//! validated before anything is written (`ignoreInvalidFlows` skips the
//! invalid ones instead of failing); with `delete`, flows of those
//! namespaces that Git does not have are deleted (never the flow running
//! this task); with `dryRun`, nothing changes. Output `flows`: an ION file,
//! one row per flow (`{gitPath:…,syncState:"ADDED"|"UPDATED"|"UNCHANGED"|
//! "DELETED",flowId:…,namespace:…,revision:…}`), as Kestra writes it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::RemoveOnDrop;
use super::fetch::{redact, tree_files};
use crate::flow_store::{FlowStoreError, StoredFlow};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::nsfiles::normalise_path;

/// Make a namespace's flows those of a git repository.
///
/// Reads the flows of a repository folder and creates, updates (and with delete, removes) the namespace's flows.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.git.SyncFlows",
    group = "core",
    example = "id: sync_flows\ntype: io.kestra.plugin.git.SyncFlows\nurl: https://github.com/kestra-io/flows\ntargetNamespace: company.team\ndryRun: true\n",
    outputs(flows(String, "A file of what changed."))
)]
pub(super) struct Props {
    #[serde(flatten)]
    git: super::Connection,
    /// The branch.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"main\"")]
    branch: Option<String>,
    /// The namespace the flows go to.
    #[serde(deserialize_with = "de::string_lenient")]
    target_namespace: String,
    /// The folder of the repository to read.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"_flows\"")]
    git_directory: Option<String>,
    /// Sync child namespaces from sub-folders.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    include_child_namespaces: Option<bool>,
    /// Delete what is no longer in the repository.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    delete: Option<bool>,
    /// Only log what would change.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    dry_run: Option<bool>,
    /// Skip flows that do not validate.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    ignore_invalid_flows: Option<bool>,
}

struct SyncFlows {
    p: Props,
}

pub(super) fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(SyncFlows { p: parse_props(props)? }))
}

/// `source` with its first top-level `namespace:` line set to `namespace`.
fn with_namespace(source: &str, namespace: &str) -> String {
    let mut done = false;
    let lines: Vec<String> = source
        .lines()
        .map(|l| {
            if !done && l.starts_with("namespace:") {
                done = true;
                format!("namespace: {namespace}")
            } else {
                l.to_string()
            }
        })
        .collect();
    lines.join("\n").trim_end().to_string()
}

/// The namespace a flow file at `rel` (inside the Git folder) goes to.
fn namespace_of(target: &str, rel: &str) -> String {
    match rel.rsplit_once('/') {
        Some((dir, _)) => format!("{target}.{}", dir.replace('/', ".")),
        None => target.to_string(),
    }
}

/// One ION row of the diff file.
fn ion_row(git_path: Option<&str>, state: &str, f: &StoredFlow) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let git = git_path.map(|g| format!("gitPath:{},", q(g))).unwrap_or_default();
    format!(
        "{{{git}syncState:{},flowId:{},namespace:{},revision:{}}}\n",
        q(state),
        q(&f.id),
        q(&f.namespace),
        f.revision
    )
}

#[async_trait]
impl RunnableTask for SyncFlows {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.p;
        let store = cx.services.flows.clone().ok_or_else(|| {
            TaskError::failed(
                "io.kestra.plugin.git.SyncFlows writes flows into the flow store, which only a server has: run it \
                 in `baton server local` or on the GCP runtime (`baton run` runs one flow file and has none)",
            )
        })?;
        let target = p.target_namespace.trim().to_string();
        if target.is_empty() {
            return Err(TaskError::property("targetNamespace", "must not be empty"));
        }
        let branch = p.branch.clone().filter(|b| !b.trim().is_empty()).unwrap_or_else(|| "main".to_string());
        let git_dir = p.git_directory.clone().unwrap_or_else(|| "_flows".to_string());
        let git_dir = normalise_path(&git_dir, true).map_err(|e| TaskError::property("gitDirectory", e.to_string()))?;
        let children = p.include_child_namespaces.unwrap_or(false);
        let (delete, dry_run) = (p.delete.unwrap_or(false), p.dry_run.unwrap_or(false));
        let url = redact(&p.git.url);

        // 1. the branch on local disk, every flow read and validated: nothing written yet
        let work = cx.working_dir()?.join(format!("syncflows-{}", uuid::Uuid::new_v4().simple()));
        let _cleanup = RemoveOnDrop(work.clone());
        cx.info(&format!("Syncing flows of {url} (branch {branch}, folder '{git_dir}') into namespace {target}"));
        let commit = super::clone_blocking(p.git.remote(), Some(branch.clone()), Some(1), work.clone()).await?;
        let folder = if git_dir.is_empty() { work.clone() } else { work.join(&git_dir) };
        if !folder.is_dir() {
            return Err(TaskError::failed(format!(
                "gitDirectory '{git_dir}' is not a folder in the Git repository {url} (branch '{branch}', commit {commit})"
            )));
        }
        let files =
            tree_files(&folder).map_err(|e| TaskError::failed(format!("cannot read the clone of {url}: {e}")))?;
        let mut wanted: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
        let mut invalid = Vec::new();
        for (rel, abs) in files {
            if !(rel.ends_with(".yml") || rel.ends_with(".yaml")) || (!children && rel.contains('/')) {
                continue;
            }
            let git_path = if git_dir.is_empty() { rel.clone() } else { format!("{git_dir}/{rel}") };
            // bounded like every flow file Baton reads (a runaway file in the repository)
            let text = baton_model::yaml::read_file(&abs)
                .map_err(|e| TaskError::failed(format!("cannot read {git_path} from {url}: {e}")))?;
            let source = with_namespace(&text, &namespace_of(&target, &rel));
            match store.check(&git_path, &source).await {
                Ok(key) => {
                    if let Some((other, _)) = wanted.get(&key) {
                        return Err(TaskError::failed(format!(
                            "{git_path} and {other} both define flow {}.{}",
                            key.0, key.1
                        )));
                    }
                    wanted.insert(key, (git_path, source));
                }
                Err(e) => invalid.push(format!("{git_path}: {e}")),
            }
        }
        if !invalid.is_empty() {
            if !p.ignore_invalid_flows.unwrap_or(false) {
                return Err(TaskError::failed(format!(
                    "{} flow(s) of {url} (branch '{branch}', commit {commit}) are not valid, nothing was synced \
                     (set ignoreInvalidFlows to skip them):\n{}",
                    invalid.len(),
                    invalid.join("\n")
                )));
            }
            for i in &invalid {
                cx.warn(&format!("skipped, not valid: {i}"));
            }
        }

        // 2. the diff against the store
        let existing: BTreeMap<(String, String), StoredFlow> = store
            .list(&target, children)
            .await
            .map_err(|e| TaskError::failed(format!("cannot list the flows of namespace '{target}': {e}")))?
            .into_iter()
            .map(|f| ((f.namespace.clone(), f.id.clone()), f))
            .collect();
        let mut diff = String::new();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let failed =
            |what: &str, e: FlowStoreError| TaskError::failed(format!("cannot {what} (commit {commit} of {url}): {e}"));
        if delete {
            for (key, f) in &existing {
                let running_here = key.0 == cx.namespace && key.1 == cx.flow_id;
                if wanted.contains_key(key) || running_here {
                    continue;
                }
                if !dry_run {
                    store
                        .delete(&f.namespace, &f.id)
                        .await
                        .map_err(|e| failed(&format!("delete {}.{}", f.namespace, f.id), e))?;
                }
                diff.push_str(&ion_row(None, "DELETED", f));
                *counts.entry("deleted").or_default() += 1;
            }
        }
        for (key, (git_path, source)) in &wanted {
            let before = existing.get(key);
            let (state, after) = match before {
                Some(b) if b.source.trim_end() == source.as_str() => ("UNCHANGED", b.clone()),
                _ if dry_run => {
                    let revision = before.map_or(1, |b| b.revision + 1);
                    let state = if before.is_some() { "UPDATED" } else { "ADDED" };
                    (
                        state,
                        StoredFlow { namespace: key.0.clone(), id: key.1.clone(), revision, source: source.clone() },
                    )
                }
                _ => {
                    let saved =
                        store.save(git_path, source).await.map_err(|e| failed(&format!("store {git_path}"), e))?;
                    (if before.is_some() { "UPDATED" } else { "ADDED" }, saved)
                }
            };
            diff.push_str(&ion_row(Some(git_path), state, &after));
            *counts.entry(state).or_default() += 1;
        }
        let (uri, _) = cx.put_file("flows.ion", Box::pin(std::io::Cursor::new(diff.into_bytes()))).await?;
        let n = |k: &str| counts.get(k).copied().unwrap_or(0);
        cx.info(&format!(
            "{}{} added, {} updated, {} unchanged, {} deleted in namespace {target}{} from commit {commit}",
            if dry_run { "Dry run: would have " } else { "" },
            n("ADDED"),
            n("UPDATED"),
            n("UNCHANGED"),
            n("deleted"),
            if children { " and its children" } else { "" },
        ));
        Ok(TaskOutput::with(Map::from_iter([("flows".to_string(), json!(uri))])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_line_and_subfolders_follow_the_target() {
        let src = "id: f\nnamespace: dev.marketing\n\ntasks:\n  - id: t\n    type: x\n    namespace: keep\n\n";
        assert_eq!(
            with_namespace(src, "prod.marketing"),
            "id: f\nnamespace: prod.marketing\n\ntasks:\n  - id: t\n    type: x\n    namespace: keep"
        );
        assert_eq!(namespace_of("prod", "f.yml"), "prod");
        assert_eq!(namespace_of("prod", "marketing/crm/f.yml"), "prod.marketing.crm");
        let f = StoredFlow { namespace: "prod".into(), id: "f".into(), revision: 2, source: String::new() };
        assert_eq!(
            ion_row(Some("_flows/f.yml"), "UPDATED", &f),
            "{gitPath:\"_flows/f.yml\",syncState:\"UPDATED\",flowId:\"f\",namespace:\"prod\",revision:2}\n"
        );
        assert_eq!(
            ion_row(None, "DELETED", &f),
            "{syncState:\"DELETED\",flowId:\"f\",namespace:\"prod\",revision:2}\n"
        );
    }
}
