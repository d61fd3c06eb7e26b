//! Script tasks: `io.kestra.plugin.scripts.{shell,python}.{Commands,Script}`
//! run by the `core.runner.Process` or `scripts.runner.docker.Docker` task
//! runner, in the `scripts` worker group, and the tasks built on them (the
//! tools' CLI tasks, `docker.cli.Run`/`Stop`). Each concern has its own file:
//! properties, runner choice, files, processes, Docker, Python, the output
//! protocol.

mod cli_tasks;
mod cloudrun;
pub mod cloudrun_finish;
pub mod cloudrun_runner;
#[cfg(feature = "gcp")]
mod cloudrun_start;
pub mod config;
mod confine;
mod container_id;
mod context_file;
mod dbt_log;
mod docker;
mod docker_build;
mod docker_image;
mod docker_run;
pub(crate) mod files;
mod image;
mod mask_file;
pub mod output;
mod pidns;
mod process;
mod props;
mod protocol;
pub(crate) mod python;
pub mod reap;
pub mod runner;
pub mod runner_types;
pub mod shim;
mod storage_uris;
mod task;
mod tree;

pub use cloudrun::{Outcome as CloudRunOutcome, outcome as cloudrun_outcome};
pub use cloudrun_runner::CloudRunConfig;
pub use config::{DockerFallback, ScriptsConfig};
pub use mask_file::mask_stored;

use std::sync::LazyLock;

use serde_json::{Map, Value};

#[cfg(feature = "dbt")]
pub(crate) use self::props::ExecProps;
use self::props::{
    Form, Lang, PythonCommandsProps, PythonScriptProps, ScriptSpec, ShellCommandsProps, ShellScriptProps,
};
use self::task::ScriptTask;
use super::registry::PluginDef;
use super::{Declare, Registry, RunnableTask, TaskError};
use baton_model::decl::OutDecl;
use baton_model::props::PropKind;

fn build(lang: Lang, form: Form, props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(ScriptTask { spec: ScriptSpec::parse(lang, form, props)? }))
}

/// dbt's commands (DbtCLI) on the script machinery: a shell `Commands`
/// task whose lines are read as dbt's logs (`dbt_log`).
#[cfg(feature = "dbt")]
pub(crate) fn dbt_commands(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let mut spec = ScriptSpec::parse(Lang::Shell, Form::Commands, props)?;
    spec.dbt_logs = true;
    Ok(Box::new(ScriptTask { spec }))
}

/// Why no container engine is reachable for `cx`'s tasks, if none is.
#[cfg(feature = "dbt")]
pub(crate) async fn docker_reachable(cx: &super::RunContext) -> Result<(), String> {
    docker::probe(&cx.services.config.scripts).await.map(|_| ())
}

/// The outputs of every task that runs commands through the script
/// machinery (the shell and Python tasks, DbtCLI, the tool CLIs).
pub fn script_outputs() -> Vec<OutDecl> {
    vec![
        OutDecl { name: "exitCode", kind: PropKind::Integer, doc: "The process's exit code." },
        OutDecl { name: "outputFiles", kind: PropKind::Map, doc: "The kept files, by name (kestra:// URIs)." },
        OutDecl { name: "vars", kind: PropKind::Map, doc: "Values the process printed as ::{\"outputs\": {…}}::." },
        OutDecl {
            name: "taskRunner",
            kind: PropKind::Map,
            doc: "In a container (the Docker runner): {containerId}, the container's ID.",
        },
    ]
}

/// Run shell commands.
///
/// Runs commands in a shell, in a process or a container, with input files in and output files out.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.scripts.shell.Commands",
    aliases = ["io.kestra.core.tasks.scripts.Bash"],
    group = "scripts",
    props = ShellCommandsProps,
    example = "id: shell\ntype: io.kestra.plugin.scripts.shell.Commands\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\ncommands:\n  - echo \"hello from {{ flow.id }}\"\n  - ls -la\n",
    outputs_of = crate::scripts::script_outputs,
)]
pub struct ShellCommands;

/// Run a shell script.
///
/// Writes the script to a file and runs it in a shell, in a process or a container.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.scripts.shell.Script",
    group = "scripts",
    props = ShellScriptProps,
    example = "id: script\ntype: io.kestra.plugin.scripts.shell.Script\ntaskRunner:\n  type: io.kestra.plugin.core.runner.Process\nscript: |\n  set -e\n  echo \"started at $(date)\"\n",
    outputs_of = crate::scripts::script_outputs,
)]
pub struct ShellScript;

/// Run Python commands.
///
/// Runs commands (python main.py…) with Python, after installing `dependencies`.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.scripts.python.Commands",
    group = "scripts",
    props = PythonCommandsProps,
    example = "id: py\ntype: io.kestra.plugin.scripts.python.Commands\ncontainerImage: python:3.12-slim\ninputFiles:\n  main.py: print('hello')\ncommands:\n  - python main.py\n",
    outputs_of = crate::scripts::script_outputs,
)]
pub struct PythonCommands;

/// Run a Python script.
///
/// Runs inline Python, after installing `dependencies`; Kestra's `Kestra.outputs({...})` sets outputs.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.scripts.python.Script",
    group = "scripts",
    props = PythonScriptProps,
    example = "id: py_script\ntype: io.kestra.plugin.scripts.python.Script\ncontainerImage: python:3.12-slim\nscript: |\n  import platform\n  print(platform.python_version())\n",
    outputs_of = crate::scripts::script_outputs,
)]
pub struct PythonScript;

pub static SHELL_COMMANDS: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<ShellCommands>(|p| build(Lang::Shell, Form::Commands, p)));

pub static SHELL_SCRIPT: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<ShellScript>(|p| build(Lang::Shell, Form::Script, p)));

pub static PYTHON_COMMANDS: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<PythonCommands>(|p| build(Lang::Python, Form::Commands, p)));

pub static PYTHON_SCRIPT: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<PythonScript>(|p| build(Lang::Python, Form::Script, p)));

/// Registers this group's plugins.
pub fn register(r: &mut Registry) {
    r.register(*SHELL_COMMANDS);
    r.register(*SHELL_SCRIPT);
    r.register(*PYTHON_COMMANDS);
    r.register(*PYTHON_SCRIPT);
    for def in [
        &cli_tasks::TERRAFORM,
        &cli_tasks::ANSIBLE,
        &cli_tasks::AWS,
        &cli_tasks::GCLOUD,
        &cli_tasks::AZURE,
        &cli_tasks::TRIVY,
        &cli_tasks::CLOUDQUERY,
        &cli_tasks::SQLMESH,
        &cli_tasks::SPARK,
        &cli_tasks::MODAL,
        &docker_run::RUN,
        &docker_build::BUILD,
        &docker_image::PUSH,
        &docker_image::TAG,
        &docker_run::STOP,
    ] {
        r.register(**def);
    }
}
