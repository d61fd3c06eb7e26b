//! `io.kestra.plugin.dbt.cli.DbtCLI`: dbt commands run by the script-task
//! machinery (a shell `Commands` task, same runners, files and outputs),
//! with Kestra's dbt additions: `profiles` written to `.profile/` (and
//! `DBT_PROFILES_DIR`), `projectDir` (`DBT_PROJECT_DIR`), `parseRunResults`
//! (one log line per dbt node; `run_results.json` and `manifest.json` in
//! `outputFiles`), `storeManifest`/`loadManifest` (the manifest in KV),
//! `logFormat` (each `dbt` command gets `--log-format`, `--log-path logs`
//! and `--project-dir` as Kestra adds them; every line is read as dbt's
//! logs: `scripts::dbt_log`) and `engine` (the default image).
//! Without a reachable container engine (or, on the Process runner, without
//! `dbt` on PATH), dbt runs from the cached virtualenv of `venv`, and the
//! task log says so.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use baton_model::decl::DeclaredProps;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::io::AsyncReadExt;

use super::{results, venv};
use crate::scripts::{ExecProps, dbt_commands, docker_reachable};
use crate::{Declare, PropDecl, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::{KvLookup, KvType, KvValue};

/// Properties DbtCLI adds to a shell `Commands` task.
const DBT_ONLY: &[&str] =
    &["profiles", "projectDir", "parseRunResults", "storeManifest", "loadManifest", "dbtPath", "logFormat", "engine"];
const PROCESS: &str = "io.kestra.plugin.core.runner.Process";

/// The properties DbtCLI adds to a shell `Commands` task (its `commands`
/// words its own). The task reads them from its map (`DbtCli::props`);
/// `build` parses them only to check them.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct DbtProps {
    /// The dbt commands.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList", required)]
    commands: Vec<String>,
    /// The profiles.yml content.
    #[serde(default)]
    #[prop(kind = "String")]
    profiles: Option<Value>,
    /// The dbt project's folder in the working directory.
    #[serde(default)]
    #[prop(kind = "String")]
    project_dir: Option<Value>,
    /// Turn run_results.json into task runs and outputs.
    #[serde(default)]
    #[prop(kind = "Boolean", default = "true")]
    parse_run_results: Option<Value>,
    /// Keep manifest.json in the KV store: {key, namespace}.
    #[serde(default)]
    #[prop(kind = "Map")]
    store_manifest: Option<Value>,
    /// Load a stored manifest for state-based runs: {key, namespace}.
    #[serde(default)]
    #[prop(kind = "Map")]
    load_manifest: Option<Value>,
    /// dbt's log format, added to every `dbt` command as `--log-format`
    /// (not with NONE, nor where the command has one). With JSON each dbt
    /// event is logged at its level, and a warning ends the task in WARNING.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["JSON", "TEXT", "DEBUG", "NONE"], default = "\"JSON\"")]
    log_format: Option<String>,
    /// The image when the task names none (`containerImage`, `docker.image`):
    /// CORE is `ghcr.io/kestra-io/dbt`, FUSION `ghcr.io/kestra-io/dbt-fusion`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["CORE", "FUSION"], default = "\"CORE\"")]
    engine: Option<String>,
}

/// DbtCLI's properties: its own, then the script tasks' shared ones.
pub(super) struct DbtCliProps;

impl DeclaredProps for DbtCliProps {
    fn props() -> Vec<PropDecl> {
        [DbtProps::props(), ExecProps::props()].concat()
    }
}

/// Run dbt commands.
///
/// Runs dbt in a container (or process) with the project from namespace files or input files; parses run results into outputs. `target/run_results.json` and, with `storeManifest`, `target/manifest.json` are read whole: each at most 64 MiB (`MAX_DBT_ARTIFACT_BYTES`), past which the task fails naming the bound.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.dbt.cli.DbtCLI",
    // its own worker group: on GCP a service whose image carries dbt and the adapters
    group = "dbt",
    props = DbtCliProps,
    example = "id: dbt\ntype: io.kestra.plugin.dbt.cli.DbtCLI\ncontainerImage: ghcr.io/kestra-io/dbt-duckdb:latest\nnamespaceFiles:\n  enabled: true\ncommands:\n  - dbt deps\n  - dbt build\n",
    outputs_of = crate::scripts::script_outputs,
)]
pub(super) struct DbtCli {
    props: Map<String, Value>,
    /// The command line of a one-command task (`dbt.cli.Build`…), written
    /// when the working directory is known; `None`: DbtCLI's `commands`.
    pub(super) one: Option<super::commands::OneCommand>,
}

impl DbtCli {
    /// A one-command task (`dbt.cli.Build`…): DbtCLI's `props`, the command
    /// line in `one`.
    pub(super) fn one(props: Map<String, Value>, one: super::commands::OneCommand) -> DbtCli {
        DbtCli { props, one: Some(one) }
    }
}

pub(super) fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    parse_props::<DbtProps>(props)?;
    // the script part is checked now, so a wrong property fails early
    let script: Map<String, Value> =
        props.iter().filter(|(k, _)| !DBT_ONLY.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    dbt_commands(&script)?;
    Ok(Box::new(DbtCli { props: props.clone(), one: None }))
}

/// `{key, namespace}` of `storeManifest` / `loadManifest`.
fn kv_ref(cx: &RunContext, v: Option<&Value>, name: &str) -> Result<Option<(String, String)>, TaskError> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(None) };
    let key =
        v.get("key").and_then(Value::as_str).ok_or_else(|| TaskError::property(&format!("{name}.key"), "required"))?;
    let ns = v.get("namespace").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or(&cx.namespace);
    Ok(Some((ns.to_string(), key.to_string())))
}

fn string_prop(props: &Map<String, Value>, name: &str) -> Option<String> {
    props.get(name).and_then(Value::as_str).map(str::to_string).filter(|s| !s.trim().is_empty())
}

/// A map property that may arrive as a map or as JSON text.
fn map_prop(props: &Map<String, Value>, name: &str) -> Map<String, Value> {
    match props.get(name) {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_default(),
        _ => Map::new(),
    }
}

fn list_prop(props: &Map<String, Value>, name: &str) -> Vec<Value> {
    match props.get(name) {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => vec![Value::String(s.clone())],
        _ => Vec::new(),
    }
}

/// True when the task asks for a container (Kestra's DbtCLI default).
fn wants_docker(props: &Map<String, Value>) -> bool {
    match props.get("taskRunner").and_then(|t| t.get("type")).and_then(Value::as_str) {
        Some(t) => t != PROCESS && !t.ends_with(".Process"),
        None => props.get("runner").and_then(Value::as_str).is_none_or(|r| !r.eq_ignore_ascii_case("PROCESS")),
    }
}

/// The `dbt` executable on PATH, if any.
fn dbt_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("dbt")).find(|p| p.is_file())
}

/// `logFormat`, as dbt's `--log-format` writes it (`none`: not added).
fn log_format(props: &Map<String, Value>) -> String {
    string_prop(props, "logFormat").unwrap_or_else(|| "JSON".into()).to_ascii_lowercase()
}

/// The image of `engine`, for a task that names none.
fn default_image(props: &Map<String, Value>) -> String {
    match string_prop(props, "engine").as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("FUSION") => "ghcr.io/kestra-io/dbt-fusion".into(),
        _ => "ghcr.io/kestra-io/dbt".into(),
    }
}

/// A command as Kestra's DbtCLI runs it: one starting with `dbt` gets
/// `--project-dir` (with `projectDir`), `--log-format` (unless NONE) and
/// `--log-path logs`, each unless the command already has it.
fn dbt_command(mut command: String, project: &str, log_format: &str) -> String {
    if !command.starts_with("dbt") {
        return command;
    }
    if !project.is_empty() && !command.contains("--project-dir") {
        command.push_str(&format!(" --project-dir {project}"));
    }
    if log_format != "none" && !command.contains("--log-format") {
        command.push_str(&format!(" --log-format {log_format}"));
    }
    if !command.contains("--log-path") {
        command.push_str(" --log-path logs");
    }
    command
}

pub use crate::config::MAX_DBT_ARTIFACT_BYTES;

async fn read_storage(cx: &RunContext, uri: &str) -> Result<String, String> {
    let path = cx.readable_path("inputFiles", uri).map_err(|e| e.to_string())?;
    let r = cx.services.storage.get(&path).await.map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    r.take(MAX_DBT_ARTIFACT_BYTES + 1).read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
    if buf.len() as u64 > MAX_DBT_ARTIFACT_BYTES {
        return Err(format!(
            "{uri} is larger than {} MiB, the most Baton reads of a dbt artifact (MAX_DBT_ARTIFACT_BYTES)",
            MAX_DBT_ARTIFACT_BYTES >> 20
        ));
    }
    String::from_utf8(buf).map_err(|_| format!("{uri} is not UTF-8 text"))
}

impl DbtCli {
    /// The shell `Commands` properties for this run.
    async fn script_props(&self, cx: &RunContext, dir: &Path, side: &Path) -> Result<Map<String, Value>, TaskError> {
        let p = &self.props;
        let mut script: Map<String, Value> =
            p.iter().filter(|(k, _)| !DBT_ONLY.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        let project = string_prop(p, "projectDir").unwrap_or_default();
        let project_path = if project.is_empty() { dir.to_path_buf() } else { dir.join(&project) };
        let target = |f: &str| if project.is_empty() { format!("target/{f}") } else { format!("{project}/target/{f}") };
        let image = default_image(p);
        let named = string_prop(p, "containerImage").is_some()
            || p.get("docker")
                .and_then(|d| d.get("image"))
                .and_then(Value::as_str)
                .is_some_and(|i| !i.trim().is_empty());
        if !named {
            script.insert("containerImage".into(), json!(image));
        }
        let mut env = map_prop(p, "env");
        let mut input_files = map_prop(p, "inputFiles");
        if let Some(profiles) = string_prop(p, "profiles") {
            input_files.insert(".profile/profiles.yml".into(), json!(profiles));
            env.insert("DBT_PROFILES_DIR".into(), json!(dir.join(".profile").display().to_string()));
        } else {
            env.entry("DBT_PROFILES_DIR").or_insert_with(|| json!(project_path.display().to_string()));
        }
        if !project.is_empty() {
            env.insert("DBT_PROJECT_DIR".into(), json!(project_path.display().to_string()));
        }
        if let Some((ns, key)) = kv_ref(cx, p.get("loadManifest"), "loadManifest")? {
            match cx.services.kv.get(&ns, &key, Utc::now()).await {
                Ok(KvLookup::Found(v)) => {
                    let text = match v.value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    input_files.insert(target("manifest.json"), json!(text));
                    cx.info(&format!("Loaded the dbt manifest from KV {ns}/{key} into {}", target("manifest.json")));
                }
                _ => cx.warn(&format!("No dbt manifest in KV {ns}/{key}: running without a previous state")),
            }
        }
        // Docker without an engine, or a local process without dbt on
        // PATH: dbt from the cached virtualenv
        let docker = wants_docker(p);
        let reason = if docker {
            docker_reachable(cx).await.err().map(|r| format!("No container engine is reachable ({r})"))
        } else {
            dbt_on_path().is_none().then(|| "There is no dbt on PATH".to_string())
        };
        if let Some(reason) = &reason {
            let profiles = string_prop(p, "profiles")
                .or_else(|| std::fs::read_to_string(project_path.join("profiles.yml")).ok())
                .unwrap_or_default();
            let adapter = venv::adapter_of(&profiles).unwrap_or_else(|| "postgres".to_string());
            let image = string_prop(p, "containerImage").unwrap_or(image);
            let instead = if docker { format!(" instead of the image {image}") } else { String::new() };
            cx.info(&format!(
                "{reason}: running dbt from a cached Python virtualenv with {} and the '{adapter}' adapter{instead}",
                venv::DBT_CORE
            ));
            let penv = venv::prepare(cx, &adapter).await?;
            let mut path: Vec<PathBuf> = penv.path_prefix.clone();
            path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
            let joined = std::env::join_paths(path).map_err(|e| TaskError::failed(format!("bad PATH: {e}")))?;
            env.insert("PATH".into(), json!(joined.to_string_lossy()));
            for (k, v) in penv.env {
                env.insert(k, json!(v));
            }
            script.insert("taskRunner".into(), json!({"type": PROCESS}));
            script.remove("runner");
        }
        let log_format = log_format(p);
        let commands: Vec<Value> = match &self.one {
            // the virtualenv's dbt, wherever dbtPath says the image has it
            Some(one) => vec![Value::String(one.line(dir, reason.is_some()))],
            None => list_prop(p, "commands")
                .into_iter()
                .map(|c| match c {
                    Value::String(c) => Value::String(dbt_command(c, &project, &log_format)),
                    other => other,
                })
                .collect(),
        };
        script.insert("commands".into(), Value::Array(commands));
        // run_results.json and manifest.json: kept on success (outputFiles)
        // and copied aside on any exit, so a failed run still names its nodes
        let mut outputs = list_prop(p, "outputFiles");
        for f in ["run_results.json", "manifest.json"] {
            outputs.push(json!(target(f)));
        }
        script.insert("outputFiles".into(), Value::Array(outputs));
        let mut before = vec![json!(format!(
            // `|| true`: under `set -e` (failFast) a failed copy (a command
            // that writes no run_results.json, `dbt deps`) would end the script in 1
            "trap '{{ mkdir -p \"{side}\" && cp -f \"{dir}/{rr}\" \"{side}/\"; }} 2>/dev/null || true' EXIT",
            side = side.display(),
            dir = dir.display(),
            rr = target("run_results.json"),
        ))];
        before.extend(list_prop(p, "beforeCommands"));
        script.insert("beforeCommands".into(), Value::Array(before));
        script.insert("env".into(), Value::Object(env));
        script.insert("inputFiles".into(), Value::Object(input_files));
        Ok(script)
    }
}

#[async_trait]
impl RunnableTask for DbtCli {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let dir = cx.working_dir_path();
        let side = PathBuf::from(format!("{}-dbt-results", dir.display()));
        let script = self.script_props(cx, &dir, &side).await?;
        let parse = self.props.get("parseRunResults").is_none_or(|v| v != &json!(false) && v != "false");
        let outcome = dbt_commands(&script)?.run(cx).await;
        // read whole: only under the artifacts' bound
        let side_file = side.join("run_results.json");
        let side_results = std::fs::metadata(&side_file)
            .is_ok_and(|m| m.len() <= MAX_DBT_ARTIFACT_BYTES)
            .then(|| std::fs::read_to_string(&side_file).ok())
            .flatten();
        let _ = std::fs::remove_dir_all(&side);
        let mut out = match outcome {
            Ok(out) => out,
            Err(e) => {
                let nodes = match (&side_results, parse) {
                    (Some(text), true) => results::log_nodes(cx, text),
                    _ => Vec::new(),
                };
                return Err(match results::failures(&nodes) {
                    Some(f) => TaskError::failed(format!("{e}; {f}")),
                    None => e,
                });
            }
        };
        let project = string_prop(&self.props, "projectDir").unwrap_or_default();
        let target = |f: &str| if project.is_empty() { format!("target/{f}") } else { format!("{project}/target/{f}") };
        let files = out.outputs.get("outputFiles").and_then(Value::as_object).cloned().unwrap_or_default();
        if parse && let Some(uri) = files.get(&target("run_results.json")).and_then(Value::as_str) {
            let text = read_storage(cx, uri)
                .await
                .map_err(|e| TaskError::failed(format!("cannot read run_results.json: {e}")))?;
            let nodes = results::log_nodes(cx, &text);
            let rows: u64 = nodes.iter().filter_map(results::NodeResult::rows_affected).sum();
            cx.info(&format!("dbt ran {} node(s), {rows} row(s) affected", nodes.len()));
        }
        if let Some((ns, key)) = kv_ref(cx, self.props.get("storeManifest"), "storeManifest")? {
            let uri = files.get(&target("manifest.json")).and_then(Value::as_str).ok_or_else(|| {
                TaskError::failed(format!(
                    "storeManifest: dbt wrote no {} (run a command that parses the project)",
                    target("manifest.json")
                ))
            })?;
            let text = read_storage(cx, uri)
                .await
                .map_err(|e| TaskError::failed(format!("cannot read manifest.json: {e}")))?;
            let value: Value = serde_json::from_str(&text)
                .map_err(|e| TaskError::failed(format!("manifest.json is not JSON: {e}")))?;
            cx.services
                .kv
                .set(&ns, &key, &KvValue { kind: KvType::Json, value }, None, true, Utc::now())
                .await
                .map_err(|e| TaskError::failed(format!("storeManifest: cannot write KV {ns}/{key}: {e}")))?;
            cx.info(&format!("Stored the dbt manifest in KV {ns}/{key}"));
        }
        // Kestra's names for the two artifacts
        if let Some(Value::Object(of)) = out.outputs.get_mut("outputFiles") {
            for f in ["run_results.json", "manifest.json"] {
                if let Some(v) = of.remove(&target(f)) {
                    of.insert(f.to_string(), v);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbt_commands_get_kestras_flags_unless_they_have_them() {
        assert_eq!(dbt_command("dbt build".into(), "", "json"), "dbt build --log-format json --log-path logs");
        assert_eq!(
            dbt_command("dbt run --log-format text".into(), "proj", "json"),
            "dbt run --log-format text --project-dir proj --log-path logs"
        );
        assert_eq!(dbt_command("dbt deps".into(), "", "none"), "dbt deps --log-path logs");
        assert_eq!(dbt_command("ls -la".into(), "proj", "json"), "ls -la");
    }

    #[test]
    fn the_engine_names_the_image_of_a_task_that_names_none() {
        let props = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(default_image(&props(json!({}))), "ghcr.io/kestra-io/dbt");
        assert_eq!(default_image(&props(json!({"engine": "FUSION"}))), "ghcr.io/kestra-io/dbt-fusion");
        assert_eq!(log_format(&props(json!({"logFormat": "TEXT"}))), "text");
    }
}
