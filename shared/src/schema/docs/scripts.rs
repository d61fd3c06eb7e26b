//! Docs of the script tasks (`io.kestra.plugin.scripts.*`) and dbt.

use crate::plugins::PropKind;
use crate::schema::{OutDoc, PropDoc, TypeDoc};

/// The properties every script task shares (`plugins::scripts::common_props`).
pub(super) const COMMON: [PropDoc; 13] = [
    PropDoc::new("beforeCommands", "Commands run before the main ones, in the same shell."),
    PropDoc::new("env", "Environment variables of the process."),
    PropDoc::new("inputFiles", "Files put in the working directory: name → content or kestra:// URI."),
    PropDoc::new("outputFiles", "Files (globs) of the working directory kept as outputs."),
    PropDoc::new("outputDirectory", "Keep every file written under the output directory.").default("false"),
    PropDoc::new("namespaceFiles", "Copy the namespace's files in: {enabled, include, exclude}."),
    PropDoc::new("interpreter", "The interpreter and its flags.").default("[\"/bin/sh\", \"-c\"]"),
    PropDoc::new("warningOnStdErr", "End in WARNING when the process wrote to stderr.").default("false"),
    PropDoc::new("failFast", "Stop at the first failing command (set -e).").default("true"),
    PropDoc::new("taskRunner", "Where the process runs: a Process or a container.").fixed(),
    PropDoc::new("containerImage", "The image, when the runner is a container."),
    PropDoc::new("runner", "Legacy runner choice.").values(&["PROCESS", "DOCKER"]).fixed(),
    PropDoc::new("docker", "Legacy Docker options (image, pullPolicy…)."),
];
const OUTPUTS: &[OutDoc] = &[
    OutDoc::new("exitCode", PropKind::Integer, "The process's exit code."),
    OutDoc::new("outputFiles", PropKind::Map, "The kept files, by name (kestra:// URIs)."),
    OutDoc::new("vars", PropKind::Map, "Values the process printed as ::{\"outputs\": {…}}::."),
];
const COMMANDS: PropDoc = PropDoc::new("commands", "The commands, run one after another.");
const SCRIPT: PropDoc = PropDoc::new("script", "The script's text.");
const DEPS: PropDoc = PropDoc::new("dependencies", "Python packages installed (with uv or pip) before it runs.");

pub(super) static DOCS: &[TypeDoc] = &[
    TypeDoc::new("io.kestra.plugin.scripts.shell.Commands", "Run shell commands.", "Runs commands in a shell, in a process or a container, with input files in and output files out.")
        .example(concat!("id: shell\ntype: io.kestra.plugin.scripts.shell.Commands\n", "taskRunner:\n  type: io.kestra.plugin.core.runner.Process\n", "commands:\n  - echo \"hello from {{ flow.id }}\"\n  - ls -la\n"))
        .outputs(OUTPUTS)
        .props(&[COMMANDS]),
    TypeDoc::new("io.kestra.plugin.scripts.shell.Script", "Run a shell script.", "Writes the script to a file and runs it in a shell, in a process or a container.")
        .example(concat!("id: script\ntype: io.kestra.plugin.scripts.shell.Script\n", "taskRunner:\n  type: io.kestra.plugin.core.runner.Process\n", "script: |\n  set -e\n  echo \"started at $(date)\"\n"))
        .outputs(OUTPUTS)
        .props(&[SCRIPT]),
    TypeDoc::new("io.kestra.plugin.scripts.python.Commands", "Run Python commands.", "Runs commands (python main.py…) with Python, after installing `dependencies`.")
        .example(concat!("id: py\ntype: io.kestra.plugin.scripts.python.Commands\n", "containerImage: python:3.12-slim\n", "inputFiles:\n  main.py: print('hello')\n", "commands:\n  - python main.py\n"))
        .outputs(OUTPUTS)
        .props(&[COMMANDS, DEPS]),
    TypeDoc::new("io.kestra.plugin.scripts.python.Script", "Run a Python script.", "Runs inline Python, after installing `dependencies`; Kestra's `Kestra.outputs({...})` sets outputs.")
        .example(concat!("id: py_script\ntype: io.kestra.plugin.scripts.python.Script\n", "containerImage: python:3.12-slim\n", "script: |\n  import platform\n  print(platform.python_version())\n"))
        .outputs(OUTPUTS)
        .props(&[SCRIPT, DEPS]),
    TypeDoc::new("io.kestra.plugin.dbt.cli.DbtCLI", "Run dbt commands.", "Runs dbt in a container (or process) with the project from namespace files or input files; parses run results into outputs.")
        .example("id: dbt\ntype: io.kestra.plugin.dbt.cli.DbtCLI\ncontainerImage: ghcr.io/kestra-io/dbt-duckdb:latest\nnamespaceFiles:\n  enabled: true\ncommands:\n  - dbt deps\n  - dbt build\n")
        .outputs(OUTPUTS)
        .props(&[
            PropDoc::new("commands", "The dbt commands."),
            PropDoc::new("profiles", "The profiles.yml content."),
            PropDoc::new("projectDir", "The dbt project's folder in the working directory."),
            PropDoc::new("parseRunResults", "Turn run_results.json into task runs and outputs.").default("true"),
            PropDoc::new("storeManifest", "Keep manifest.json in the KV store: {key, namespace}."),
            PropDoc::new("loadManifest", "Load a stored manifest for state-based runs: {key, namespace}."),
        ]),
];

