//! `io.kestra.plugin.git.Clone`: clones a branch (shallow, `depth` 1 by
//! default) into the working directory — the shared one inside a
//! `WorkingDirectory` — or into `directory` under it. Output `directory`.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::fetch::redact;
use crate::scripts::files::safe_relative;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Clone a git repository.
///
/// Clones a repository into the working directory (inside a WorkingDirectory, for the next tasks).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.git.Clone",
    group = "core",
    example = "id: clone\ntype: io.kestra.plugin.git.Clone\nurl: https://github.com/kestra-io/examples\nbranch: main\n",
    outputs(directory(String, "Where it was cloned."))
)]
pub(super) struct Props {
    #[serde(flatten)]
    git: super::Connection,
    /// The branch; the repository's default branch when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    branch: Option<String>,
    /// The folder to clone into.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    directory: Option<String>,
    /// A shallow clone of this depth.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "1")]
    depth: Option<u64>,
}

struct Clone {
    p: Props,
}

pub(super) fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(Clone { p: parse_props(props)? }))
}

#[async_trait]
impl RunnableTask for Clone {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let base = cx.working_dir()?;
        let target = match self.p.directory.as_deref().filter(|d| !d.trim().is_empty()) {
            Some(d) => base.join(safe_relative("directory", d)?),
            None => base,
        };
        let remote = self.p.git.remote();
        let depth = u32::try_from(self.p.depth.unwrap_or(1)).unwrap_or(u32::MAX);
        let branch = self.p.branch.clone();
        cx.info(&format!(
            "Cloning {} (branch {}) into {}",
            redact(&self.p.git.url),
            branch.as_deref().unwrap_or("(default)"),
            target.display()
        ));
        let commit = super::clone_blocking(remote, branch, Some(depth), target.clone()).await?;
        cx.info(&format!("Checked out commit {commit}"));
        Ok(TaskOutput::with(Map::from_iter([("directory".to_string(), json!(target.display().to_string()))])))
    }
}
