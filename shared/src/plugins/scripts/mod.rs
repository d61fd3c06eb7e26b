//! Script tasks: `io.kestra.plugin.scripts.{shell,python}.{Commands,Script}`
//! run by the `core.runner.Process` or `scripts.runner.docker.Docker` task
//! runner, in the `scripts` worker group. Each concern has its own file:
//! properties, runner choice, files, processes, Docker, Python, the output
//! protocol.

mod cloudrun;
pub mod cloudrun_finish;
pub mod cloudrun_runner;
pub mod config;
mod confine;
mod context_file;
mod docker;
pub(crate) mod files;
mod image;
pub mod output;
mod process;
mod props;
mod protocol;
pub(crate) mod python;
pub mod reap;
mod runner;
mod task;

pub use cloudrun::{Outcome as CloudRunOutcome, outcome as cloudrun_outcome};
pub use cloudrun_runner::CloudRunConfig;
pub use config::{DockerFallback, ScriptsConfig};

use serde_json::{Map, Value};

use self::props::{Form, Lang, ScriptSpec};
use self::task::ScriptTask;
use super::registry::{PluginDef, PropKind, PropSpec};
use super::{Registry, RunnableTask, TaskError};

/// Properties every script task accepts.
macro_rules! common_props {
    ($($extra:expr),* $(,)?) => {
        &[
            $($extra,)*
            PropSpec::optional("beforeCommands", PropKind::StringOrList),
            PropSpec::optional("env", PropKind::Map),
            PropSpec::optional("inputFiles", PropKind::Any),
            PropSpec::optional("outputFiles", PropKind::StringOrList),
            PropSpec::optional("outputDirectory", PropKind::Boolean),
            PropSpec::optional("namespaceFiles", PropKind::Map),
            PropSpec::optional("interpreter", PropKind::StringOrList),
            PropSpec::optional("warningOnStdErr", PropKind::Boolean),
            PropSpec::optional("failFast", PropKind::Boolean),
            PropSpec::optional("taskRunner", PropKind::Map),
            PropSpec::optional("containerImage", PropKind::String),
            PropSpec::optional("runner", PropKind::String),
            PropSpec::optional("docker", PropKind::Map),
            PropSpec::optional("executionContext", PropKind::Boolean),
        ]
    };
}

fn build(lang: Lang, form: Form, props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(ScriptTask { spec: ScriptSpec::parse(lang, form, props)? }))
}

/// A shell `Commands` task from rendered properties (for tasks built on
/// the script machinery, such as dbt's).
pub(crate) fn shell_commands(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    build(Lang::Shell, Form::Commands, props)
}

/// Why no container engine is reachable for `cx`'s tasks, if none is.
pub(crate) async fn docker_reachable(cx: &super::RunContext) -> Result<(), String> {
    docker::probe(&cx.services.config.scripts).await.map(|_| ())
}

pub const SHELL_COMMANDS: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.scripts.shell.Commands",
    aliases: &[],
    group: "scripts",
    props: common_props!(PropSpec::required("commands", PropKind::StringOrList)),
    build: |p| build(Lang::Shell, Form::Commands, p),
};

pub const SHELL_SCRIPT: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.scripts.shell.Script",
    aliases: &[],
    group: "scripts",
    props: common_props!(PropSpec::required("script", PropKind::String)),
    build: |p| build(Lang::Shell, Form::Script, p),
};

pub const PYTHON_COMMANDS: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.scripts.python.Commands",
    aliases: &[],
    group: "scripts",
    props: common_props!(
        PropSpec::required("commands", PropKind::StringOrList),
        PropSpec::optional("dependencies", PropKind::StringOrList),
    ),
    build: |p| build(Lang::Python, Form::Commands, p),
};

pub const PYTHON_SCRIPT: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.scripts.python.Script",
    aliases: &[],
    group: "scripts",
    props: common_props!(
        PropSpec::required("script", PropKind::String),
        PropSpec::optional("dependencies", PropKind::StringOrList),
    ),
    build: |p| build(Lang::Python, Form::Script, p),
};

/// Registers this group's plugins.
pub fn register(r: &mut Registry) {
    r.register(SHELL_COMMANDS);
    r.register(SHELL_SCRIPT);
    r.register(PYTHON_COMMANDS);
    r.register(PYTHON_SCRIPT);
}
