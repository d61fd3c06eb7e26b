//! The Docker task runner through any Docker-compatible CLI (`docker`,
//! `podman`): the engine check (once, cached in `ScriptsConfig`), what a
//! flow may ask of the engine (host volumes and `privileged` only where the
//! operator enabled them), the `run` command line for a task (working
//! directory mounted at the same path, so `{{ workingDir }}` means the same
//! inside and outside the container), what a failed run means, and the
//! guard that stops the container when the task ends early (timeout, kill).
//!
//! The CLI rather than the Engine API: it is the one interface Docker and
//! podman share on every machine (podman has no daemon socket unless its
//! service is started), and it streams the container's stdout and stderr
//! apart, which the script protocol needs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use super::config::ScriptsConfig;
use super::process::Finished;
use super::runner::DockerOptions;
use crate::TaskError;

/// How long `version` may take before the engine counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// Exit code of `docker run` / `podman run` when the engine itself failed
/// (image missing, bad option), not the command in the container.
pub(crate) const ENGINE_ERROR: i32 = 125;

/// The engine's version, or why none is reachable. `version --format json`
/// works on both engines: Docker prints `Server` only when its daemon
/// answers (and exits 1 otherwise), podman is daemonless and prints
/// `Client` only (its `info` has no `.ServerVersion`). When the CLI is the
/// default `docker` and no Docker engine answers, `podman` is tried, and
/// used from then on if it answers.
pub(crate) async fn probe(config: &ScriptsConfig) -> Result<String, String> {
    let bin = config.docker_bin.clone();
    let resolved = config.docker_resolved.clone();
    config
        .docker_probe
        .get_or_probe(|| async move {
            let docker = version_of(&bin).await;
            if docker.is_err()
                && bin == Path::new("docker")
                && let Ok(v) = version_of(Path::new("podman")).await
            {
                resolved.set(PathBuf::from("podman"));
                return Ok(v);
            }
            docker
        })
        .await
}

async fn version_of(bin: &Path) -> Result<String, String> {
    let out = tokio::process::Command::new(bin)
        .args(["version", "--format", "json"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(PROBE_TIMEOUT, out).await {
        Err(_) => Err(format!("'{} version' did not answer within {}s", bin.display(), PROBE_TIMEOUT.as_secs())),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("the Docker CLI '{}' is not installed", bin.display()))
        }
        Ok(Err(e)) => Err(format!("cannot run '{}': {e}", bin.display())),
        Ok(Ok(o)) => match engine_version(&String::from_utf8_lossy(&o.stdout)) {
            Some(v) if o.status.success() => Ok(v),
            _ => Err(last_line(&o.stderr).unwrap_or_else(|| "no engine answered".into())),
        },
    }
}

/// `Server.Version` (Docker with its daemon), else `Client.Version`
/// (podman), from `version --format json`.
fn engine_version(stdout: &str) -> Option<String> {
    let v: Value = serde_json::from_str(stdout.trim()).ok()?;
    let pick = |k: &str| v.get(k).and_then(|s| s.get("Version")).and_then(Value::as_str).map(str::to_string);
    pick("Server").or_else(|| pick("Client")).filter(|s| !s.is_empty())
}

/// The last non-empty line of a command's output.
pub(crate) fn last_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes).lines().map(str::trim).rfind(|l| !l.is_empty()).map(str::to_string)
}

/// Refuses what would give the container the host: `volumes` and
/// `privileged`, unless the operator allowed them
/// (`BATON_DOCKER_VOLUME_ENABLED=true`, Kestra's `volume-enabled`).
/// `prop` names where the options were written (`taskRunner`, or empty for
/// `docker.Run`'s own properties).
pub(crate) fn check_allowed(opts: &DockerOptions, config: &ScriptsConfig, prop: &str) -> Result<(), TaskError> {
    let at = |key: &str| if prop.is_empty() { key.to_string() } else { format!("{prop}.{key}") };
    if config.docker_volume_enabled {
        return Ok(());
    }
    let how = "host mounts are disabled for security; an operator enables them with \
               BATON_DOCKER_VOLUME_ENABLED=true (Kestra's plugin configuration `volume-enabled` \
               of io.kestra.plugin.scripts.runner.docker.Docker)";
    if !opts.volumes.is_empty() {
        return Err(TaskError::property(
            &at("volumes"),
            format!("cannot mount {} into the container: {how}", opts.volumes.join(", ")),
        ));
    }
    if opts.privileged {
        return Err(TaskError::property(&at("privileged"), format!("a privileged container is refused: {how}")));
    }
    Ok(())
}

/// What a `run` needs besides the runner's options.
pub(crate) struct RunSpec<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub work_dir: &'a Path,
    /// Names of the variables passed through (their values are set on the
    /// CLI's own environment, so they never show in `ps`).
    pub env_names: Vec<String>,
    /// Kestra's `kestra.io/*` labels (namespace, flow, task, execution…).
    pub labels: Vec<(String, String)>,
    /// The command inside the container.
    pub command: &'a [String],
    /// Keep the image's entrypoint when the options name none (`docker.Run`);
    /// script tasks clear it, as Kestra does.
    pub image_entrypoint: bool,
    /// Where the engine writes the container's ID (`--cidfile`), read back
    /// for Kestra's output `taskRunner.containerId`.
    pub cid_file: Option<&'a Path>,
}

/// The arguments of `run` for a task. The image is never pulled here
/// (`--pull never`): `image::ensure` pulled it first, as the policy says.
pub(crate) fn run_args(opts: &DockerOptions, spec: &RunSpec<'_>) -> Vec<String> {
    let wd = spec.work_dir.display().to_string();
    let mut a: Vec<String> = vec!["run".into(), "--name".into(), spec.name.into()];
    if !opts.wait {
        // started and left running: Kestra's runner neither waits nor removes it
        a.push("--detach".into());
    } else if opts.delete {
        a.push("--rm".into());
    }
    a.extend(["--pull".into(), "never".into()]);
    if let Some(f) = spec.cid_file {
        a.extend(["--cidfile".into(), f.display().to_string()]);
    }
    for (k, v) in &spec.labels {
        a.extend(["--label".into(), format!("{k}={v}")]);
    }
    a.extend(["-v".into(), format!("{wd}:{wd}"), "-w".into(), wd]);
    for v in &opts.volumes {
        a.extend(["-v".into(), v.clone()]);
    }
    for name in &spec.env_names {
        a.extend(["-e".into(), name.clone()]);
    }
    let mut flag = |f: &str, v: Option<String>| {
        if let Some(v) = v {
            a.extend([f.to_string(), v]);
        }
    };
    flag("--network", opts.network_mode.clone());
    flag("--user", opts.user.clone());
    flag("--cpus", opts.cpus.clone());
    flag("--memory", opts.memory.map(|m| m.to_string()));
    flag("--memory-swap", opts.memory_swap.map(|m| m.to_string()));
    flag("--memory-reservation", opts.memory_reservation.map(|m| m.to_string()));
    flag("--memory-swappiness", opts.memory_swappiness.map(|m| m.to_string()));
    flag("--shm-size", opts.shm_size.map(|m| m.to_string()));
    if opts.oom_kill_disable {
        a.push("--oom-kill-disable".into());
    }
    if opts.privileged {
        a.push("--privileged".into());
    }
    for h in &opts.extra_hosts {
        a.extend(["--add-host".into(), h.clone()]);
    }
    for p in &opts.port_bindings {
        a.extend(["-p".into(), p.clone()]);
    }
    // Kestra clears the image's entrypoint for script tasks.
    if !(spec.image_entrypoint && opts.entry_point.is_empty()) {
        a.push("--entrypoint".into());
        a.push(opts.entry_point.first().cloned().unwrap_or_default());
    }
    a.push(spec.image.into());
    a.extend(opts.entry_point.iter().skip(1).cloned());
    a.extend(spec.command.iter().cloned());
    a
}

/// The task's error for a container run that did not exit 0, naming the
/// image and the cause.
pub(crate) fn failure(fin: &Finished, image: &str, opts: &DockerOptions) -> String {
    let tail = || {
        if fin.stderr_tail.is_empty() {
            String::new()
        } else {
            format!("; last lines of stderr:\n{}", fin.stderr_tail.iter().cloned().collect::<Vec<_>>().join("\n"))
        }
    };
    match fin.exit_code {
        Some(ENGINE_ERROR) => format!("The container engine could not run image '{image}'{}", tail()),
        Some(137) if opts.memory.is_some() => format!(
            "Command in image '{image}' was killed (exit code 137), most likely out of memory: \
             the memory limit is {} bytes (taskRunner.memory.memory){}",
            opts.memory.unwrap_or_default(),
            tail()
        ),
        _ => format!("{} (image '{image}')", fin.failure_message("Command")),
    }
}

/// Stops and removes the container when dropped before it ended (timeout,
/// kill, a dropped task): with `killGracePeriod`, `stop -t N` (SIGTERM,
/// then SIGKILL), else `kill` (SIGKILL) at once, right in `drop`, so the
/// container is stopped even if the process exits next; then removed
/// unless `delete: false` (`--rm` also removes it: the engine's own
/// cleanup). The CLI client is killed first (its process group, in
/// `process::run`); the removal runs on a thread of its own, twice a
/// second apart, so a container whose start raced the kill is caught too.
pub(crate) struct ContainerGuard {
    pub bin: PathBuf,
    pub name: Option<String>,
    pub grace: Option<Duration>,
    pub delete: bool,
    /// The run's `--cidfile` (the container's ID), removed with the guard.
    pub cid: super::container_id::CidFile,
}

impl ContainerGuard {
    /// The container ended on its own: nothing to stop.
    pub fn disarm(&mut self) {
        self.name = None;
    }
}

fn quietly(bin: &Path, args: &[&str]) {
    let _ = std::process::Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else { return };
        if self.grace.is_none() {
            // about 40 ms; podman's `rm -f` alone would wait 10 s for a PID 1 that ignores SIGTERM
            quietly(&self.bin, &["kill", &name]);
        }
        let bin = self.bin.clone();
        let grace = self.grace;
        let delete = self.delete;
        std::thread::spawn(move || {
            for round in 0..2 {
                if round > 0 {
                    std::thread::sleep(Duration::from_secs(1));
                }
                if round == 0
                    && let Some(g) = grace
                {
                    quietly(&bin, &["stop", "-t", &g.as_secs().max(1).to_string(), &name]);
                }
                quietly(&bin, &["kill", &name]);
                if delete {
                    quietly(&bin, &["rm", "-f", &name]);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_args_mount_the_working_dir_and_pass_env_by_name() {
        let opts = DockerOptions {
            network_mode: Some("host".into()),
            memory: Some(64 << 20),
            cpus: Some("0.5".into()),
            ..DockerOptions::default()
        };
        let cmd = vec!["/bin/sh".to_string(), "-c".to_string(), "echo hi".to_string()];
        let spec = RunSpec {
            name: "baton-x",
            image: "ubuntu",
            work_dir: Path::new("/w/d"),
            env_names: vec!["A".into()],
            labels: vec![("kestra.io/namespace".into(), "team".into())],
            command: &cmd,
            image_entrypoint: false,
            cid_file: Some(Path::new("/tmp/baton-x.cid")),
        };
        let a = run_args(&opts, &spec).join(" ");
        assert_eq!(
            a,
            "run --name baton-x --rm --pull never --cidfile /tmp/baton-x.cid --label kestra.io/namespace=team \
             -v /w/d:/w/d -w /w/d -e A --network host --cpus 0.5 --memory 67108864 --entrypoint  ubuntu /bin/sh -c echo hi"
        );
    }

    #[test]
    fn docker_run_keeps_the_image_entrypoint_and_may_detach() {
        let opts = DockerOptions { wait: false, ..DockerOptions::default() };
        let cmd = vec!["sleep".to_string(), "9".to_string()];
        let spec = RunSpec {
            name: "baton-y",
            image: "busybox",
            work_dir: Path::new("/w"),
            env_names: Vec::new(),
            labels: Vec::new(),
            command: &cmd,
            image_entrypoint: true,
            cid_file: None,
        };
        assert_eq!(
            run_args(&opts, &spec).join(" "),
            "run --name baton-y --detach --pull never -v /w:/w -w /w busybox sleep 9"
        );
        let opts = DockerOptions { entry_point: vec!["/bin/echo".into(), "-n".into()], ..DockerOptions::default() };
        assert_eq!(
            run_args(&opts, &spec).join(" "),
            "run --name baton-y --rm --pull never -v /w:/w -w /w --entrypoint /bin/echo busybox -n sleep 9"
        );
    }

    #[test]
    fn versions_of_both_engines() {
        let docker = r#"{"Client":{"Version":"28.2.2"},"Server":{"Version":"27.1.1"}}"#;
        assert_eq!(engine_version(docker).as_deref(), Some("27.1.1"));
        let podman = r#"{"Client":{"APIVersion":"4.3.1","Version":"4.3.1"}}"#;
        assert_eq!(engine_version(podman).as_deref(), Some("4.3.1"));
        assert_eq!(engine_version("27.1.1"), None);
    }

    #[test]
    fn host_mounts_need_the_operator() {
        let mut config = ScriptsConfig::default();
        let opts = DockerOptions { volumes: vec!["/:/host".into()], ..DockerOptions::default() };
        let e = check_allowed(&opts, &config, "taskRunner").unwrap_err().to_string();
        assert!(e.contains("taskRunner.volumes") && e.contains("/:/host") && e.contains("volume-enabled"), "{e}");
        let privileged = DockerOptions { privileged: true, ..DockerOptions::default() };
        assert!(check_allowed(&privileged, &config, "").unwrap_err().to_string().contains("privileged"));
        config.docker_volume_enabled = true;
        assert!(check_allowed(&opts, &config, "").is_ok());
        assert!(check_allowed(&DockerOptions::default(), &ScriptsConfig::default(), "").is_ok());
    }

    #[tokio::test]
    async fn a_missing_cli_is_reported() {
        let cfg = ScriptsConfig { docker_bin: "/nonexistent/docker".into(), ..ScriptsConfig::default() };
        let e = probe(&cfg).await.unwrap_err();
        assert!(e.contains("not installed"), "{e}");
    }
}
