//! `core.flow.WorkingDirectory`: its runnable children on one worker in one
//! folder. The executor's rule: `baton-executor`'s `blocks` (`children`,
//! `working_directory_outputs`) and `context` (what its children are told).

use baton_derive::Declare;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ChildTasks, lenient};

/// Run tasks in one shared folder.
///
/// Its runnable children run on one worker in the same working directory, so files written by one are there for the next.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = "io.kestra.plugin.core.flow.WorkingDirectory",
    aliases = ["io.kestra.core.tasks.flows.WorkingDirectory"],
    example = "id: wd\ntype: io.kestra.plugin.core.flow.WorkingDirectory\ntasks:\n  - id: write\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    commands:\n      - echo hi > hello.txt\n",
    outputs(outputFiles(Map, "The files matching `outputFiles` after the last task: name → kestra:// URI."))
)]
pub struct WorkingDirectory {
    /// The child tasks.
    #[serde(skip)]
    #[prop(children, required, kind = "List")]
    pub tasks: ChildTasks,
    /// Files written into the folder before the first task: name → content (a kestra:// URI is copied).
    #[serde(deserialize_with = "lenient::non_null")]
    pub input_files: Option<Value>,
    /// Glob patterns of the files stored after the last task (`outputs.<id>.outputFiles`).
    #[serde(deserialize_with = "lenient::non_null")]
    #[prop(kind = "StringOrList")]
    pub output_files: Option<Value>,
    /// Copy the namespace's files into the folder first: {enabled, include, exclude}.
    #[serde(deserialize_with = "lenient::non_null")]
    #[prop(kind = "Map")]
    pub namespace_files: Option<Value>,
    /// Keep files between executions: {patterns (globs), ttl}; restored before the first task. The archive, and what it unpacks to, are at most 1 GiB (`MAX_CACHE_BYTES`): past it the task fails naming the bound.
    #[serde(deserialize_with = "lenient::non_null")]
    #[prop(kind = "Map")]
    pub cache: Option<Value>,
}

impl WorkingDirectory {
    /// What its children's workers are told of it, as written (the
    /// properties given, by Kestra's names).
    pub fn files_spec(&self) -> Map<String, Value> {
        [
            ("cache", &self.cache),
            ("namespaceFiles", &self.namespace_files),
            ("inputFiles", &self.input_files),
            ("outputFiles", &self.output_files),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
        .collect()
    }
}
