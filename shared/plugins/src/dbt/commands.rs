//! dbt's one-command tasks — `io.kestra.plugin.dbt.cli.Build`, `Run`,
//! `Test`, `Seed`, `Snapshot`, `Compile`, `Deps`, `Freshness` (`dbt source
//! freshness`) and `List` — Kestra's older form of `DbtCLI`: one dbt
//! command each, its flags from properties. Each runs as `DbtCLI` runs its
//! commands (same runners, files, profiles, run results and virtualenv
//! fallback: [`super::cli`]), with the command line Kestra writes:
//!
//! `{dbtPath} --log-format json [--debug] [--fail-fast] [--warn-error]
//! {command} --profiles-dir {workingDir}/.profile [--threads N]
//! [--full-refresh] [--target T] [--selector S] [--select …] [--exclude …]
//! --project-dir {workingDir}/{projectDir}`
//!
//! `failFast` here is dbt's `--fail-fast`, not the shell's `set -e` it is
//! on script tasks. `Deps`, `Freshness` and `List` parse no run results, as
//! in Kestra. `dbtPath` (default `./bin/dbt`, the virtualenv `dbt.cli.Setup`
//! makes) names dbt where the commands run; when Baton runs dbt from its
//! cached virtualenv instead (no container engine), the command's dbt is
//! that virtualenv's. One difference, on purpose: Kestra passes `target`'s
//! value as `--selector`; Baton passes `selector`'s.

use std::path::Path;
use std::sync::LazyLock;

use baton_model::decl::DeclaredProps;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::cli::DbtCli;
use crate::registry::PluginDef;
use crate::scripts::{ExecProps, dbt_commands};
use crate::{Declare, PropDecl, RunnableTask, TaskError, de, parse_props};

/// The script tasks' properties a one-command dbt task takes (Kestra's
/// `AbstractDbt`: files, environment and runner; not `beforeCommands`,
/// `warningOnStdErr`, the shell's `failFast` nor `targetOS`).
const SCRIPT_KEYS: &[&str] =
    &["env", "inputFiles", "outputFiles", "namespaceFiles", "taskRunner", "containerImage", "runner", "docker"];

/// What a one-command task adds to the script properties it takes.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct RunProps {
    /// Where dbt is where the command runs.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, default = "\"./bin/dbt\"")]
    dbt_path: Option<String>,
    /// dbt's --fail-fast: stop at the first failure.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    fail_fast: Option<bool>,
    /// dbt's --warn-error: warnings fail the run.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    warn_error: Option<bool>,
    /// dbt's --debug.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    debug: Option<bool>,
    /// The dbt project's folder in the working directory.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    project_dir: Option<String>,
    /// The profiles.yml content, written to .profile/.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    profiles: Option<String>,
    /// Turn run_results.json into log lines and outputs.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    parse_run_results: Option<bool>,
    /// The deprecated name of docker: the container's options (image…).
    #[serde(default)]
    #[prop(kind = "Map")]
    docker_options: Option<Value>,
    /// dbt's --threads.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, kind = "Integer")]
    thread: Option<u64>,
    /// dbt's --full-refresh: rebuild incremental models from scratch.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    full_refresh: Option<bool>,
    /// dbt's --target: the profile's target.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    target: Option<String>,
    /// dbt's --selector: a selector of selectors.yml.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    selector: Option<String>,
    /// dbt's --select: the nodes to include.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, kind = "List")]
    select: Vec<String>,
    /// dbt's --exclude: the nodes to leave out.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, kind = "List")]
    exclude: Vec<String>,
}

/// The properties of every one-command task.
pub(super) struct OneCommandProps;

impl DeclaredProps for OneCommandProps {
    fn props() -> Vec<PropDecl> {
        let script = ExecProps::props().into_iter().filter(|p| SCRIPT_KEYS.contains(&p.name));
        RunProps::props().into_iter().chain(script).collect()
    }
}

/// A one-command task's command line, but for the working directory.
#[derive(Debug)]
pub(crate) struct OneCommand {
    dbt_path: String,
    /// The flags before the command (`--log-format json --debug…`).
    head: Vec<String>,
    command: &'static str,
    /// The flags after `--profiles-dir` (`--threads 4 --select a b…`).
    tail: Vec<String>,
    project_dir: String,
}

impl OneCommand {
    /// The line run in `dir`; with `venv`, dbt is the virtualenv's.
    pub(super) fn line(&self, dir: &Path, venv: bool) -> String {
        let dir = dir.display();
        let dbt = if venv { "dbt" } else { self.dbt_path.as_str() };
        let mut words = vec![dbt.to_string()];
        words.extend(self.head.iter().cloned());
        words.push(self.command.to_string());
        words.push(format!("--profiles-dir {dir}/.profile"));
        words.extend(self.tail.iter().cloned());
        words.push(format!("--project-dir {dir}/{}", self.project_dir));
        words.join(" ")
    }
}

/// Builds the task running `command`; `results`: whether it writes
/// run_results.json (not `deps`, `source freshness`, `list`).
fn build(command: &'static str, results: bool, props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let (cli, one) = plan(command, results, props)?;
    Ok(Box::new(DbtCli::one(cli, one)))
}

/// The DbtCLI properties and the command line of a one-command task.
fn plan(
    command: &'static str,
    results: bool,
    props: &Map<String, Value>,
) -> Result<(Map<String, Value>, OneCommand), TaskError> {
    let p: RunProps = parse_props(props)?;
    let set = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let mut head = vec!["--log-format json".to_string()];
    for (on, flag) in [(p.debug, "--debug"), (p.fail_fast, "--fail-fast"), (p.warn_error, "--warn-error")] {
        if on == Some(true) {
            head.push(flag.into());
        }
    }
    let mut tail = Vec::new();
    if let Some(n) = p.thread {
        tail.push(format!("--threads {n}"));
    }
    if p.full_refresh == Some(true) {
        tail.push("--full-refresh".into());
    }
    if let Some(t) = set(p.target) {
        tail.push(format!("--target {t}"));
    }
    if let Some(s) = set(p.selector) {
        tail.push(format!("--selector {s}"));
    }
    for (flag, list) in [("--select", &p.select), ("--exclude", &p.exclude)] {
        let list: Vec<&str> = list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
        if !list.is_empty() {
            tail.push(format!("{flag} {}", list.join(" ")));
        }
    }
    let project_dir = set(p.project_dir.clone()).unwrap_or_default();
    let one = OneCommand {
        dbt_path: set(p.dbt_path).unwrap_or_else(|| "./bin/dbt".into()),
        head,
        command,
        tail,
        project_dir: project_dir.clone(),
    };
    // DbtCLI's properties: the script ones, profiles, projectDir and
    // whether to read the results
    let mut cli: Map<String, Value> =
        props.iter().filter(|(k, _)| SCRIPT_KEYS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(d) = p.docker_options.filter(|d| !d.is_null()) {
        if cli.contains_key("docker") {
            return Err(TaskError::property(
                "dockerOptions",
                "set docker or its deprecated name dockerOptions, not both",
            ));
        }
        cli.insert("docker".into(), d);
    }
    if let Some(profiles) = set(p.profiles) {
        cli.insert("profiles".into(), Value::String(profiles));
    }
    if !project_dir.is_empty() {
        cli.insert("projectDir".into(), Value::String(project_dir));
    }
    cli.insert("parseRunResults".into(), Value::Bool(results && p.parse_run_results != Some(false)));
    // a single command: the shell's set -e changes nothing
    cli.insert("failFast".into(), Value::Bool(false));
    let mut check = cli.clone();
    check.remove("profiles");
    check.remove("projectDir");
    check.remove("parseRunResults");
    check.insert("commands".into(), Value::Array(vec![Value::String(command.into())]));
    dbt_commands(&check)?;
    Ok((cli, one))
}

/// Declares one one-command task type: its doc, type name, dbt command,
/// whether it writes run results, and an example.
macro_rules! dbt_task {
    ($(#[$doc:meta])* $name:ident, $static:ident, $type:literal, $command:literal, $results:literal, $example:literal) => {
        $(#[$doc])*
        #[derive(Declare)]
        #[plugin(type = $type, group = "dbt", props = OneCommandProps, example = $example, outputs_of = crate::scripts::script_outputs)]
        struct $name;

        pub(super) static $static: LazyLock<PluginDef> =
            LazyLock::new(|| PluginDef::declare_as::<$name>(|props| build($command, $results, props)));
    };
}

dbt_task!(
    /// Run dbt build.
    ///
    /// Builds, tests, seeds and snapshots the project's nodes in DAG order (dbt build), with Kestra's command line; run results become outputs and log lines.
    Build, BUILD, "io.kestra.plugin.dbt.cli.Build", "build", true,
    "id: dbt_build\ntype: io.kestra.plugin.dbt.cli.Build\ndbtPath: /usr/local/bin/dbt\ncontainerImage: ghcr.io/kestra-io/dbt-duckdb:latest\nnamespaceFiles:\n  enabled: true\n"
);
dbt_task!(
    /// Run dbt run.
    ///
    /// Runs the project's models (dbt run), with Kestra's command line; run results become outputs and log lines.
    Run, RUN, "io.kestra.plugin.dbt.cli.Run", "run", true,
    "id: dbt_run\ntype: io.kestra.plugin.dbt.cli.Run\ndbtPath: /usr/local/bin/dbt\ncontainerImage: ghcr.io/kestra-io/dbt-duckdb:latest\nselect:\n  - my_model\n"
);
dbt_task!(
    /// Run dbt test.
    ///
    /// Runs the project's data tests (dbt test), with Kestra's command line; run results become outputs and log lines.
    Test, TEST, "io.kestra.plugin.dbt.cli.Test", "test", true,
    "id: dbt_test\ntype: io.kestra.plugin.dbt.cli.Test\ndbtPath: /usr/local/bin/dbt\ncontainerImage: ghcr.io/kestra-io/dbt-duckdb:latest\n"
);
dbt_task!(
    /// Run dbt seed.
    ///
    /// Loads the project's CSV seeds (dbt seed), with Kestra's command line; run results become outputs and log lines.
    Seed, SEED, "io.kestra.plugin.dbt.cli.Seed", "seed", true,
    "id: dbt_seed\ntype: io.kestra.plugin.dbt.cli.Seed\ndbtPath: /usr/local/bin/dbt\ncontainerImage: ghcr.io/kestra-io/dbt-duckdb:latest\n"
);
dbt_task!(
    /// Run dbt snapshot.
    ///
    /// Runs the project's snapshots (dbt snapshot), with Kestra's command line; run results become outputs and log lines.
    Snapshot, SNAPSHOT, "io.kestra.plugin.dbt.cli.Snapshot", "snapshot", true,
    "id: dbt_snapshot\ntype: io.kestra.plugin.dbt.cli.Snapshot\ndbtPath: /usr/local/bin/dbt\ncontainerImage: ghcr.io/kestra-io/dbt-duckdb:latest\n"
);
dbt_task!(
    /// Run dbt compile.
    ///
    /// Compiles the project's SQL (dbt compile), with Kestra's command line; run results become outputs and log lines.
    Compile, COMPILE, "io.kestra.plugin.dbt.cli.Compile", "compile", true,
    "id: dbt_compile\ntype: io.kestra.plugin.dbt.cli.Compile\ndbtPath: /usr/local/bin/dbt\ncontainerImage: ghcr.io/kestra-io/dbt-duckdb:latest\n"
);
dbt_task!(
    /// Run dbt deps.
    ///
    /// Installs the project's packages (dbt deps), with Kestra's command line; it writes no run results.
    Deps, DEPS, "io.kestra.plugin.dbt.cli.Deps", "deps", false,
    "id: dbt_deps\ntype: io.kestra.plugin.dbt.cli.Deps\ndbtPath: /usr/local/bin/dbt\ncontainerImage: ghcr.io/kestra-io/dbt-duckdb:latest\n"
);
dbt_task!(
    /// Run dbt source freshness.
    ///
    /// Checks the freshness of the project's sources (dbt source freshness), with Kestra's command line; its results are not parsed, as in Kestra.
    Freshness, FRESHNESS, "io.kestra.plugin.dbt.cli.Freshness", "source freshness", false,
    "id: dbt_freshness\ntype: io.kestra.plugin.dbt.cli.Freshness\ndbtPath: /usr/local/bin/dbt\ncontainerImage: ghcr.io/kestra-io/dbt-duckdb:latest\n"
);
dbt_task!(
    /// Run dbt list.
    ///
    /// Lists the project's resources (dbt list), with Kestra's command line; it writes no run results.
    List, LIST, "io.kestra.plugin.dbt.cli.List", "list", false,
    "id: dbt_list\ntype: io.kestra.plugin.dbt.cli.List\ndbtPath: /usr/local/bin/dbt\ncontainerImage: ghcr.io/kestra-io/dbt-duckdb:latest\n"
);

/// Every one-command task.
pub(super) fn all() -> [PluginDef; 9] {
    [*BUILD, *RUN, *TEST, *SEED, *SNAPSHOT, *COMPILE, *DEPS, *FRESHNESS, *LIST]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_command_line_is_kestra_s() {
        let props = json!({"dbtPath": "/usr/local/bin/dbt", "failFast": true, "thread": 4, "fullRefresh": true,
            "target": "dev", "selector": "nightly", "select": ["a", "b+"], "exclude": "c", "projectDir": "proj/",
            "dockerOptions": {"image": "ghcr.io/kestra-io/dbt-bigquery:latest"}});
        let (cli, one) = plan("build", true, props.as_object().unwrap()).unwrap();
        assert_eq!(
            one.line(Path::new("/w"), false),
            "/usr/local/bin/dbt --log-format json --fail-fast build --profiles-dir /w/.profile --threads 4 \
             --full-refresh --target dev --selector nightly --select a b+ --exclude c --project-dir /w/proj/"
        );
        assert!(one.line(Path::new("/w"), true).starts_with("dbt --log-format json --fail-fast build"));
        assert_eq!(cli["docker"]["image"], "ghcr.io/kestra-io/dbt-bigquery:latest");
        assert_eq!((cli["failFast"].clone(), cli["parseRunResults"].clone()), (json!(false), json!(true)));
        let (cli, _) = plan("deps", false, &Map::new()).unwrap();
        assert_eq!(cli["parseRunResults"], json!(false));
    }

    #[test]
    fn script_only_properties_are_not_taken() {
        let names: Vec<&str> = OneCommandProps::props().iter().map(|p| p.name).collect();
        assert!(names.contains(&"inputFiles") && names.contains(&"taskRunner") && names.contains(&"failFast"));
        assert!(!names.contains(&"beforeCommands") && !names.contains(&"commands"));
        assert_eq!(names.iter().filter(|n| **n == "failFast").count(), 1);
    }
}
