//! Kestra's Docker plugin tasks `io.kestra.plugin.docker.cli.Run` (alias
//! `io.kestra.plugin.docker.Run`) and `cli.Stop` (alias `docker.Stop`).
//!
//! `Run` is a script task on the Docker runner whose `commands` are the
//! container's arguments as written (no shell), after the image's own
//! entrypoint unless `entryPoint` is given — Kestra builds it the same way,
//! on its `CommandsWrapper` and Docker task runner. So it shares the script
//! tasks' machinery (`task::ScriptTask`): engine check, pull policy and
//! credentials, working directory mounted at the same path, input,
//! namespace and output files, logs and `::{"outputs"}::` vars, the
//! container stopped and removed when the task ends or is killed, the
//! outputs `exitCode`, `vars`, `outputFiles` and `taskRunner.containerId`
//! (Kestra's `ScriptOutput` with its Docker runner's details). What it
//! changes: no Process fallback (an image's entrypoint is not a shell
//! script), never WARNING on stderr (Kestra's `Run` does not set
//! `warningOnStdErr`; its property is deprecated and has no effect there),
//! and Kestra's registry prefix (`credentials.registry` put before an image
//! that lacks it).
//!
//! Refused by name at validation: `host` (a remote engine: Baton calls its
//! container CLI, `BATON_DOCKER_BIN`), `config` and `deviceRequests`.

use std::process::Stdio;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::props::{FilesProps, ScriptSpec, expand_json_list};
use super::runner::{self, Runner};
use super::task::ScriptTask;
use super::{Form, Lang, docker};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// `Run`'s type name.
pub(crate) const RUN_TYPE: &str = "io.kestra.plugin.docker.cli.Run";

/// How long `stop`, `kill` or `rm` may take (a `stop` waits up to the
/// engine's own grace period, 10 s by default, before it kills).
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

fn host_refused(v: &Value) -> Result<(), String> {
    if v.is_null() {
        return Ok(());
    }
    Err("Baton runs containers through its container CLI on the worker (BATON_DOCKER_BIN, docker or podman), \
         not a remote engine: remove `host`, or point the CLI at that engine in the worker's environment \
         (DOCKER_HOST for docker, CONTAINER_HOST for podman)"
        .into())
}

fn config_refused(v: &Value) -> Result<(), String> {
    if v.is_null() {
        return Ok(());
    }
    Err("a Docker config.json is not carried out by Baton, which refuses it rather than ignore it: give the \
         registry login as `credentials` ({registry, username, password} or {auth})"
        .into())
}

/// `host` and `config`, which every Docker plugin task takes and Baton
/// refuses by name (its container CLI on the worker is the engine, and
/// registry logins come as `credentials`): one declaration, flattened into
/// `Run`, `Stop` and `Build`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub(super) struct EngineProps {
    /// Refused: a remote Docker engine (Baton calls its container CLI on the worker).
    #[serde(default)]
    #[prop(kind = "String", check = host_refused)]
    host: Value,
    /// Refused: a Docker config.json (use `credentials`).
    #[serde(default)]
    #[prop(kind = "Any", check = config_refused)]
    config: Value,
}

impl EngineProps {
    /// The refusal of either, naming it.
    pub(super) fn check(&self) -> Result<(), TaskError> {
        host_refused(&self.host).map_err(|e| TaskError::property("host", e))?;
        config_refused(&self.config).map_err(|e| TaskError::property("config", e))
    }
}

fn device_requests_refused(v: &Value) -> Result<(), String> {
    if v.is_null() {
        return Ok(());
    }
    Err("device requests (GPUs) are not carried out by Baton, which refuses them rather than ignore them".into())
}

/// Run a Docker container.
///
/// Runs a container of `containerImage` (its entrypoint kept unless `entryPoint` is given) with `commands` as its arguments, the working directory mounted and used as the container's; waits for it to exit (unless `wait: false`) and removes it. Needs docker or podman on the worker.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.docker.cli.Run",
    aliases = ["io.kestra.plugin.docker.Run"],
    group = "scripts",
    example = "id: run\ntype: io.kestra.plugin.docker.cli.Run\ncontainerImage: ubuntu:22.04\ncommands:\n  - /bin/sh\n  - -c\n  - echo hello > file.txt\noutputFiles:\n  - file.txt\n",
    outputs(
        exitCode(Integer, "The container's exit code."),
        outputFiles(Map, "The kept files, by name (kestra:// URIs)."),
        vars(Map, "Values the container printed as ::{\"outputs\": {…}}::."),
        taskRunner(Map, "{containerId}: the container's ID (with `wait: false`, the one to give `Stop`).")
    )
)]
struct RunProps {
    /// The image to run.
    #[serde(deserialize_with = "de::string_lenient")]
    container_image: String,
    /// The container's arguments (after its entrypoint); none: the image's CMD.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList", default = "[]")]
    commands: Vec<String>,
    /// Replaces the image's entrypoint; none keeps it.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    entry_point: Vec<String>,
    /// Environment variables of the container.
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    env: Vec<(String, String)>,
    /// The user (or UID) the container runs as.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    user: Option<String>,
    /// Extra /etc/hosts entries (host:ip).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    extra_hosts: Vec<String>,
    /// Docker's network mode (bridge, host, none…).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    network_mode: Option<String>,
    /// Ports published (ip:hostPort:containerPort/protocol).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    port_bindings: Vec<String>,
    /// Host folders mounted (host:container); refused unless the operator enabled volumes (BATON_DOCKER_VOLUME_ENABLED).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    volumes: Vec<String>,
    /// When to pull the image.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["IF_NOT_PRESENT", "ALWAYS", "NEVER"], default = "\"IF_NOT_PRESENT\"")]
    pull_policy: Option<String>,
    /// {cpus}: the CPU limit.
    #[serde(default)]
    #[prop(kind = "Map")]
    cpu: Value,
    /// {memory, memorySwap, memoryReservation, memorySwappiness, oomKillDisable}.
    #[serde(default)]
    #[prop(kind = "Map")]
    memory: Value,
    /// The size of /dev/shm (e.g. 256MB).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    shm_size: Option<String>,
    /// Run privileged (refused unless the operator enabled volumes, BATON_DOCKER_VOLUME_ENABLED).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    privileged: Option<bool>,
    /// Wait for the container to exit; false starts it detached, ends the task at once and leaves the container running.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    wait: Option<bool>,
    /// Registry credentials: {registry, username, password, auth, registryToken, identityToken}; a registry is put before an image that lacks it.
    #[serde(default)]
    #[prop(kind = "Map")]
    credentials: Value,
    #[serde(flatten)]
    files: FilesProps,
    /// Deprecated in Kestra, which ignores it: no effect (the task never ends in WARNING for stderr).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    warning_on_std_err: Option<bool>,
    #[serde(flatten)]
    engine: EngineProps,
    /// Refused: device requests (GPUs).
    #[serde(default)]
    #[prop(kind = "List", check = device_requests_refused)]
    device_requests: Value,
}

/// The image with Kestra's registry prefix: `credentials.registry`'s host
/// (Docker Hub's names excepted) put before an image that does not start
/// with it.
fn prefixed_image(image: &str, registry: Option<&str>) -> String {
    let Some(r) = registry.map(str::trim).filter(|r| !r.is_empty()) else { return image.to_string() };
    let host = match r.split_once("://") {
        Some((_, rest)) => rest.split('/').next().unwrap_or_default(),
        None => r.split('/').next().unwrap_or_default(),
    };
    if host.is_empty()
        || ["registry-1.docker.io", "index.docker.io", "docker.io"].contains(&host)
        || image.starts_with(host)
    {
        return image.to_string();
    }
    format!("{host}/{image}")
}

/// `Run`'s script task, from its rendered properties.
fn run_spec(props: &Map<String, Value>) -> Result<ScriptSpec, TaskError> {
    let p: RunProps = parse_props(props)?;
    p.engine.check()?;
    device_requests_refused(&p.device_requests).map_err(|e| TaskError::property("deviceRequests", e))?;
    if p.container_image.trim().is_empty() {
        return Err(TaskError::property("containerImage", "the image is required"));
    }
    let mut opts = runner::docker_options("", props)?;
    // `delete`, `killGracePeriod`, `image` are the runner's, not `Run`'s (validation refuses them)
    opts.ignored.clear();
    let image = prefixed_image(p.container_image.trim(), opts.credentials.as_ref().and_then(|c| c.registry.as_deref()));
    let (input_files, output_files, namespace_files) = p.files.parse()?;
    let spec = ScriptSpec {
        lang: Lang::Shell,
        form: Form::Commands,
        commands: expand_json_list(p.commands),
        script: String::new(),
        before_commands: Vec::new(),
        env: p.env,
        input_files,
        output_files,
        namespace_files,
        interpreter: Vec::new(),
        warning_on_std_err: false,
        fail_fast: false,
        runner: Runner::Docker(Box::new(opts)),
        image,
        dependencies: Vec::new(),
        execution_context: false,
        argv: true,
        dbt_logs: false,
    };
    Ok(spec)
}

fn build_run(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(ScriptTask { spec: run_spec(props)? }))
}

pub static RUN: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<RunProps>(build_run));

/// Stop or kill a Docker container.
///
/// Stops a container (SIGTERM, then SIGKILL after the engine's grace period), or kills it at once with `kill: true`, then removes it unless `delete: false`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.docker.cli.Stop",
    aliases = ["io.kestra.plugin.docker.Stop"],
    group = "scripts",
    example = "id: stop\ntype: io.kestra.plugin.docker.cli.Stop\ncontainerId: my-app\nkill: true\n"
)]
struct StopProps {
    /// The container's ID, ID prefix or name.
    #[serde(deserialize_with = "de::string_lenient")]
    container_id: String,
    /// Kill (SIGKILL) rather than stop.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    kill: Option<bool>,
    /// Remove the container once stopped.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    delete: Option<bool>,
    /// Accepted as in Kestra, where it only reaches registries: stopping a container reaches none, so it has no effect.
    #[serde(default)]
    #[prop(kind = "Map")]
    credentials: Value,
    #[serde(flatten)]
    engine: EngineProps,
}

#[derive(Debug)]
struct StopTask {
    container: String,
    kill: bool,
    delete: bool,
}

fn build_stop(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: StopProps = parse_props(props)?;
    p.engine.check()?;
    let container = p.container_id.trim().to_string();
    if container.is_empty() || container.starts_with('-') {
        return Err(TaskError::property("containerId", format!("'{container}' is not a container ID or name")));
    }
    Ok(Box::new(StopTask { container, kill: p.kill.unwrap_or(false), delete: p.delete.unwrap_or(true) }))
}

pub static STOP: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<StopProps>(build_stop));

/// Runs `bin args…`, failing the task with the engine's last line.
async fn engine(cx: &RunContext, args: &[&str], container: &str) -> Result<(), TaskError> {
    let config = &cx.services.config.scripts;
    docker::probe(config).await.map_err(|reason| {
        TaskError::failed(format!(
            "cannot {} container '{container}': no Docker engine is reachable: {reason}",
            args[0]
        ))
    })?;
    let bin = config.engine_bin();
    let out = tokio::process::Command::new(&bin).args(args).stdin(Stdio::null()).kill_on_drop(true).output();
    let out = tokio::time::timeout(STOP_TIMEOUT, out)
        .await
        .map_err(|_| {
            TaskError::failed(format!(
                "'{} {}' did not end within {}s",
                bin.display(),
                args.join(" "),
                STOP_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| TaskError::failed(format!("cannot run '{}': {e}", bin.display())))?;
    if !out.status.success() {
        let why = docker::last_line(&out.stderr).unwrap_or_else(|| format!("exit status {}", out.status));
        return Err(TaskError::failed(format!("cannot {} container '{container}': {why}", args[0])));
    }
    Ok(())
}

#[async_trait]
impl RunnableTask for StopTask {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let c = self.container.as_str();
        if self.kill {
            engine(cx, &["kill", c], c).await?;
            cx.info(&format!("Killed container '{c}'"));
        } else {
            engine(cx, &["stop", c], c).await?;
            cx.info(&format!("Stopped container '{c}'"));
        }
        if self.delete {
            engine(cx, &["rm", c], c).await?;
            cx.info(&format!("Removed container '{c}'"));
        }
        Ok(TaskOutput::with(Map::new()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(v: Value) -> Result<ScriptSpec, TaskError> {
        run_spec(v.as_object().unwrap())
    }

    #[test]
    fn commands_are_arguments_and_the_runner_options_are_the_task_s() {
        let s = spec(json!({
            "containerImage": "alpine", "commands": ["echo", "a b"], "env": {"A": "1"},
            "memory": {"memory": "64MB"}, "cpu": {"cpus": 0.5}, "user": "1000", "wait": "false",
            "portBindings": ["8080:80"], "pullPolicy": "NEVER", "credentials": {"registry": "ghcr.io", "username": "u"}
        }))
        .unwrap();
        assert!(s.argv && !s.warning_on_std_err);
        assert_eq!(s.commands, vec!["echo", "a b"]);
        assert_eq!(s.image, "ghcr.io/alpine");
        assert_eq!(s.env, vec![("A".to_string(), "1".to_string())]);
        let Runner::Docker(o) = &s.runner else { panic!("docker expected") };
        assert_eq!((o.memory, o.cpus.as_deref(), o.user.as_deref()), (Some(64 << 20), Some("0.5"), Some("1000")));
        assert!(!o.wait && o.delete);
        assert_eq!(o.port_bindings, vec!["8080:80"]);
        assert_eq!(o.pull_policy, runner::PullPolicy::Never);
        assert!(o.entry_point.is_empty() && o.ignored.is_empty());
    }

    #[test]
    fn refusals_name_the_property() {
        for (key, v) in
            [("host", json!("tcp://x:2375")), ("config", json!({"auths": {}})), ("deviceRequests", json!([{}]))]
        {
            let mut p = json!({"containerImage": "alpine"});
            p[key] = v;
            let e = spec(p).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
        let e = spec(json!({"containerImage": "alpine", "memory": {"memory": "lots"}})).unwrap_err().to_string();
        assert!(e.contains("memory.memory") && !e.contains("taskRunner"), "{e}");
        assert!(spec(json!({"containerImage": " "})).is_err());
        assert!(build_stop(json!({"containerId": "-rf"}).as_object().unwrap()).is_err());
        assert!(build_stop(json!({"containerId": "app", "host": "tcp://x"}).as_object().unwrap()).is_err());
    }

    #[test]
    fn kestras_registry_prefix() {
        assert_eq!(prefixed_image("org/app:1", Some("https://ghcr.io/v2/")), "ghcr.io/org/app:1");
        assert_eq!(prefixed_image("ghcr.io/org/app:1", Some("ghcr.io")), "ghcr.io/org/app:1");
        assert_eq!(prefixed_image("alpine", Some("https://index.docker.io/v1/")), "alpine");
        assert_eq!(prefixed_image("alpine", Some("localhost:5000")), "localhost:5000/alpine");
        assert_eq!(prefixed_image("alpine", None), "alpine");
    }
}
