//! The Docker task runner through the `docker` CLI: probing for a
//! reachable engine (once, cached in `ScriptsConfig`), and the `docker run`
//! command line for a task (working directory mounted at the same path, so
//! `{{ workingDir }}` means the same inside and outside the container).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::config::ScriptsConfig;
use super::runner::{DockerOptions, PullPolicy};

/// How long `docker info` may take before the engine counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// The server version of a reachable engine, or why none is reachable.
pub(crate) async fn probe(config: &ScriptsConfig) -> Result<String, String> {
    let bin = config.docker_bin.clone();
    config
        .docker_probe
        .get_or_probe(|| async move {
            let out = tokio::process::Command::new(&bin)
                .args(["info", "--format", "{{.ServerVersion}}"])
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output();
            match tokio::time::timeout(PROBE_TIMEOUT, out).await {
                Err(_) => Err(format!("'{} info' did not answer within {}s", bin.display(), PROBE_TIMEOUT.as_secs())),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(format!("the Docker CLI '{}' is not installed", bin.display()))
                }
                Ok(Err(e)) => Err(format!("cannot run '{}': {e}", bin.display())),
                Ok(Ok(o)) => {
                    let stdout = String::from_utf8_lossy(&o.stdout).trim().to_string();
                    if o.status.success() && !stdout.is_empty() {
                        Ok(stdout)
                    } else {
                        let stderr = String::from_utf8_lossy(&o.stderr);
                        let reason = stderr
                            .lines()
                            .map(str::trim)
                            .rfind(|l| !l.is_empty())
                            .unwrap_or("no server answered")
                            .to_string();
                        Err(reason)
                    }
                }
            }
        })
        .await
}

/// What a `docker run` needs besides the runner's options.
pub(crate) struct RunSpec<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub work_dir: &'a Path,
    /// Names of the variables passed through (their values are set on the
    /// docker CLI's own environment, so they never show in `ps`).
    pub env_names: Vec<String>,
    /// The command inside the container.
    pub command: &'a [String],
}

/// The arguments of `docker run` for a task.
pub(crate) fn run_args(opts: &DockerOptions, spec: &RunSpec<'_>) -> Vec<String> {
    let wd = spec.work_dir.display().to_string();
    let mut a: Vec<String> = vec!["run".into(), "--name".into(), spec.name.into()];
    if opts.delete {
        a.push("--rm".into());
    }
    a.push("--pull".into());
    a.push(
        match opts.pull_policy {
            PullPolicy::IfNotPresent => "missing",
            PullPolicy::Always => "always",
            PullPolicy::Never => "never",
        }
        .into(),
    );
    a.extend(["-v".into(), format!("{wd}:{wd}"), "-w".into(), wd]);
    for v in &opts.volumes {
        a.extend(["-v".into(), v.clone()]);
    }
    for name in &spec.env_names {
        a.extend(["-e".into(), name.clone()]);
    }
    if let Some(n) = &opts.network_mode {
        a.extend(["--network".into(), n.clone()]);
    }
    if let Some(u) = &opts.user {
        a.extend(["--user".into(), u.clone()]);
    }
    if let Some(c) = &opts.cpus {
        a.extend(["--cpus".into(), c.clone()]);
    }
    if let Some(m) = &opts.memory {
        a.extend(["--memory".into(), m.clone()]);
    }
    for h in &opts.extra_hosts {
        a.extend(["--add-host".into(), h.clone()]);
    }
    // Kestra clears the image's entrypoint for script tasks.
    a.push("--entrypoint".into());
    a.push(opts.entry_point.first().cloned().unwrap_or_default());
    a.push(spec.image.into());
    a.extend(opts.entry_point.iter().skip(1).cloned());
    a.extend(spec.command.iter().cloned());
    a
}

/// Removes a container left behind by a dropped task (timeout, kill).
pub(crate) struct ContainerGuard {
    pub bin: std::path::PathBuf,
    pub name: Option<String>,
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        if let Some(name) = self.name.take()
            && let Ok(mut child) = std::process::Command::new(&self.bin)
                .args(["rm", "-f", &name])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        {
            std::thread::spawn(move || child.wait());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_args_mount_the_working_dir_and_pass_env_by_name() {
        let opts = DockerOptions { network_mode: Some("host".into()), ..DockerOptions::default() };
        let cmd = vec!["/bin/sh".to_string(), "-c".to_string(), "echo hi".to_string()];
        let spec = RunSpec {
            name: "baton-x",
            image: "ubuntu",
            work_dir: Path::new("/w/d"),
            env_names: vec!["A".into()],
            command: &cmd,
        };
        let a = run_args(&opts, &spec).join(" ");
        assert_eq!(
            a,
            "run --name baton-x --rm --pull missing -v /w/d:/w/d -w /w/d -e A --network host --entrypoint  ubuntu /bin/sh -c echo hi"
        );
    }

    #[tokio::test]
    async fn a_missing_cli_is_reported() {
        let cfg = ScriptsConfig { docker_bin: "/nonexistent/docker".into(), ..ScriptsConfig::default() };
        let e = probe(&cfg).await.unwrap_err();
        assert!(e.contains("not installed"), "{e}");
    }
}
