//! `io.kestra.plugin.git.PushFlows`: the saved flows of `sourceNamespace`
//! (default the flow's; with `includeChildNamespaces` its children too, in
//! subfolders) committed under `gitDirectory` (default `_flows`) as
//! `{id}.yml` and pushed to `branch` (default `main`, created when
//! missing). Each flow's `revision:` line is dropped and, with
//! `targetNamespace`, its `namespace:` lines rewritten as Kestra does. The
//! `flows` globs pick flow ids. Output `flows`: the diff file (`push`).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::RemoveOnDrop;
use super::push::{self, PushProps};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::nsfiles::normalise_path;

/// Commit and push a namespace's saved flows to a Git repository.
///
/// Writes the flows of a namespace (and optionally its children) into a repository folder, commits and pushes them.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.git.PushFlows",
    group = "core",
    example = "id: push_flows\ntype: io.kestra.plugin.git.PushFlows\nurl: https://github.com/kestra-io/scripts\nusername: git_username\npassword: \"{{ secret('GITHUB_ACCESS_TOKEN') }}\"\nsourceNamespace: dev\ntargetNamespace: prod\nbranch: main\ndryRun: true\n",
    outputs(
        commitId(String, "The commit pushed (none on a dry run or when nothing changed)."),
        commitURL(String, "A link to the commit."),
        flows(String, "A file of what changed: one row per file.")
    )
)]
pub(super) struct Props {
    #[serde(flatten)]
    git: super::Connection,
    #[serde(flatten)]
    push: PushProps,
    /// The repository folder the flows go to.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"_flows\"")]
    git_directory: Option<String>,
    /// The namespace whose flows are pushed (default the flow's).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    source_namespace: Option<String>,
    /// The namespace written in the pushed flows instead of sourceNamespace.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    target_namespace: Option<String>,
    /// Globs of the flow ids to push (default all).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    flows: Vec<String>,
    /// Push the child namespaces' flows too, in subfolders.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    include_child_namespaces: Option<bool>,
}

struct PushFlows {
    p: Props,
}

pub(super) fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(PushFlows { p: parse_props(props)? }))
}

/// `source` as Kestra writes it to Git: no `revision:` line, and every
/// `namespace:` line naming `from` (or a child of it) naming `to` instead.
fn for_git(source: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.split_inclusive('\n') {
        if line.starts_with("revision:") && line["revision:".len()..].trim().chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let rest = &line[indent..];
        if let Some(value) = rest.strip_prefix("namespace:") {
            let gap = value.len() - value.trim_start().len();
            if value[gap..].starts_with(from) {
                out.push_str(&line[..indent + "namespace:".len() + gap]);
                out.push_str(to);
                out.push_str(&value[gap + from.len()..]);
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

#[async_trait]
impl RunnableTask for PushFlows {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.p;
        let store = cx.services.flows.clone().ok_or_else(|| {
            TaskError::failed(
                "io.kestra.plugin.git.PushFlows reads the saved flows of the flow store, which only a server has: \
                 run it in `baton server local` or on the GCP runtime (`baton run` runs one flow file and has none)",
            )
        })?;
        let source =
            p.source_namespace.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| cx.namespace.clone());
        let target = p.target_namespace.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| source.clone());
        let git_dir = p.git_directory.clone().unwrap_or_else(|| "_flows".to_string());
        let git_dir = normalise_path(&git_dir, true).map_err(|e| TaskError::property("gitDirectory", e.to_string()))?;
        let children = p.include_child_namespaces.unwrap_or(false);
        let globs = push::globs("flows", &p.flows)?;

        let work = cx.working_dir()?.join(format!("pushflows-{}", uuid::Uuid::new_v4().simple()));
        let _cleanup = RemoveOnDrop(work.clone());
        let stage = work.join("stage");
        std::fs::create_dir_all(&stage).map_err(|e| TaskError::failed(format!("cannot stage the flows: {e}")))?;
        let flows = store
            .list(&source, children)
            .await
            .map_err(|e| TaskError::failed(format!("cannot list the flows of namespace '{source}': {e}")))?;
        let mut files = Vec::new();
        for f in flows {
            if globs.as_ref().is_some_and(|g| !g.is_match(&f.id)) {
                continue;
            }
            let sub = f.namespace.strip_prefix(&source).and_then(|r| r.strip_prefix('.'));
            let rel = match sub {
                Some(child) => format!("{}/{}.yml", child.replace('.', "/"), f.id),
                None => format!("{}.yml", f.id),
            };
            let local = stage.join(format!("{}.{}.yml", f.namespace, f.id));
            std::fs::write(&local, for_git(&f.source, &source, &target))
                .map_err(|e| TaskError::failed(format!("cannot stage flow {}.{}: {e}", f.namespace, f.id)))?;
            files.push((rel, local));
        }
        if files.is_empty() {
            cx.info(&format!("No flows to push from namespace {source}: nothing done"));
            return Ok(TaskOutput::with(Map::new()));
        }
        let job = p.push.job(&p.git, git_dir, files, globs, format!("Add flows from {source} namespace"));
        super::push_output(cx, &p.git.url, "flows", job, work.join("repo")).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_lose_their_revision_and_take_the_target_namespace() {
        let src = "id: f\nnamespace: dev.crm\nrevision: 4\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: dev\n    flowId: g\n";
        assert_eq!(
            for_git(src, "dev", "prod"),
            "id: f\nnamespace: prod.crm\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: prod\n    flowId: g\n"
        );
        assert_eq!(for_git("id: f\nnamespace: other\n", "dev", "prod"), "id: f\nnamespace: other\n");
    }
}
