//! The Docker runner's image before `run`: Kestra's `pullPolicy`
//! (`IF_NOT_PRESENT` inspects the image once per process, `ALWAYS` pulls,
//! `NEVER` leaves it to `run`), with `credentials` handed to the CLI as a
//! throw-away Docker `config.json` (read by Docker through `DOCKER_CONFIG`,
//! by podman through `REGISTRY_AUTH_FILE`) outside the working directory,
//! so the container never sees it. A failed pull ends the task naming the
//! image and the engine's reason.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine;
use serde_json::{Map, Value, json};

use super::config::ScriptsConfig;
use super::process::{self, Mode, Spawn};
use super::runner::{Credentials, DockerOptions, PullPolicy};
use crate::{RunContext, TaskError};

/// Makes sure `image` is in the engine's store as `pullPolicy` asks.
pub(crate) async fn ensure(
    cx: &RunContext,
    config: &ScriptsConfig,
    opts: &DockerOptions,
    image: &str,
    dir: &Path,
) -> Result<(), TaskError> {
    match opts.pull_policy {
        PullPolicy::Never => return Ok(()),
        PullPolicy::IfNotPresent if config.docker_images.contains(image) => return Ok(()),
        PullPolicy::IfNotPresent if present(&config.engine_bin(), image).await => {
            config.docker_images.insert(image);
            return Ok(());
        }
        _ => {}
    }
    let auth = match &opts.credentials {
        Some(c) => Some(AuthFile::write(dir, image, c)?),
        None => None,
    };
    let env = auth.as_ref().map(AuthFile::env).unwrap_or_default();
    cx.info(&format!("Pulling image '{image}'"));
    let spawn = Spawn {
        program: config.engine_bin().display().to_string(),
        args: vec!["pull".into(), image.into()],
        cwd: std::env::temp_dir(),
        env,
        env_remove: Vec::new(),
        pid_namespace: false,
    };
    let fin = process::run(cx, &spawn, Mode::Setup).await?;
    drop(auth);
    if !fin.success() {
        let reason = fin.stderr_tail.back().cloned().unwrap_or_else(|| fin.failure_message("pull"));
        let policy = match opts.pull_policy {
            PullPolicy::Always => "ALWAYS",
            _ => "IF_NOT_PRESENT",
        };
        return Err(TaskError::failed(format!(
            "cannot pull image '{image}' (pullPolicy {policy}): {reason}. Build or load the image locally and \
             set `taskRunner.pullPolicy: NEVER`, or give `taskRunner.credentials` for a private registry"
        )));
    }
    config.docker_images.insert(image);
    Ok(())
}

/// Looks the image up while the engine is probed (the two CLI calls run
/// side by side on a process's first container task), so `ensure` finds
/// the answer cached.
pub(crate) async fn warm(config: &ScriptsConfig, opts: &DockerOptions, image: &str) {
    if opts.pull_policy == PullPolicy::IfNotPresent
        && !config.docker_images.contains(image)
        && present(&config.engine_bin(), image).await
    {
        config.docker_images.insert(image);
    }
}

/// Whether the engine has `image` (`image inspect` answers).
async fn present(bin: &Path, image: &str) -> bool {
    tokio::process::Command::new(bin)
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// The registry an image comes from: its first path component when that
/// is a host (has a `.` or `:`, or is `localhost`), else Docker Hub.
fn registry_of(image: &str) -> Option<&str> {
    let (first, rest) = image.split_once('/')?;
    (!rest.is_empty() && (first.contains('.') || first.contains(':') || first == "localhost")).then_some(first)
}

/// A Docker `config.json` with the task's credentials, removed on drop.
pub(super) struct AuthFile {
    dir: PathBuf,
}

impl AuthFile {
    /// The variables that point the CLI at it (Docker's, podman's).
    pub(super) fn env(&self) -> Vec<(String, String)> {
        vec![
            ("DOCKER_CONFIG".to_string(), self.dir.display().to_string()),
            ("REGISTRY_AUTH_FILE".to_string(), self.dir.join("config.json").display().to_string()),
        ]
    }

    /// Writes `c` for the registry of `image` (or `c.registry`) beside `work_dir`.
    pub(super) fn write(work_dir: &Path, image: &str, c: &Credentials) -> Result<AuthFile, TaskError> {
        let mut entry = Map::new();
        let auth = c.auth.clone().or_else(|| match (&c.username, &c.password) {
            (Some(u), Some(p)) => Some(base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))),
            _ => None,
        });
        if let Some(a) = auth {
            entry.insert("auth".into(), Value::String(a));
        }
        if let Some(t) = &c.identity_token {
            entry.insert("identitytoken".into(), Value::String(t.clone()));
        }
        if let Some(t) = &c.registry_token {
            entry.insert("registrytoken".into(), Value::String(t.clone()));
        }
        let mut auths = Map::new();
        match c.registry.as_deref().or_else(|| registry_of(image)) {
            Some(r) => {
                auths.insert(r.to_string(), Value::Object(entry));
            }
            None => {
                auths.insert("https://index.docker.io/v1/".into(), Value::Object(entry.clone()));
                auths.insert("docker.io".into(), Value::Object(entry));
            }
        }
        // beside the working directory, never inside it (it is mounted)
        let name = work_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = work_dir.with_file_name(format!(".{name}.docker-auth"));
        let failed = |e: std::io::Error| TaskError::failed(format!("cannot write registry credentials: {e}"));
        std::fs::create_dir_all(&dir).map_err(failed)?;
        let file = dir.join("config.json");
        let body = serde_json::to_vec(&json!({ "auths": auths })).unwrap_or_default();
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&file)
                .map_err(failed)?;
            f.write_all(&body).map_err(failed)?;
        }
        Ok(AuthFile { dir })
    }
}

impl Drop for AuthFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_of_images() {
        assert_eq!(registry_of("ghcr.io/kestra-io/dbt-bigquery:latest"), Some("ghcr.io"));
        assert_eq!(registry_of("localhost:5000/x"), Some("localhost:5000"));
        assert_eq!(registry_of("localhost/baton-busybox:1"), Some("localhost"));
        assert_eq!(registry_of("rj24/spotify-pipeline:v3.0"), None);
        assert_eq!(registry_of("python:3.11-slim"), None);
    }

    #[test]
    fn credentials_become_a_docker_config_outside_the_working_dir() {
        let root = std::env::temp_dir().join(format!("baton-auth-{}", uuid::Uuid::new_v4()));
        let wd = root.join("exec-task-1");
        std::fs::create_dir_all(&wd).unwrap();
        let c = Credentials { username: Some("u".into()), password: Some("p".into()), ..Credentials::default() };
        let a = AuthFile::write(&wd, "ghcr.io/org/img:1", &c).unwrap();
        assert!(!a.dir.starts_with(&wd));
        let v: Value = serde_json::from_slice(&std::fs::read(a.dir.join("config.json")).unwrap()).unwrap();
        assert_eq!(v["auths"]["ghcr.io"]["auth"], "dTpw");
        let dir = a.dir.clone();
        drop(a);
        assert!(!dir.exists());
        let _ = std::fs::remove_dir_all(&root);
    }
}
