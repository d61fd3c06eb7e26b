//! Run-time settings of the scripts plugins (part of `PluginConfig`): what
//! to do when the Docker task runner finds no Docker engine, which `docker`
//! CLI to call, whether host volumes may be mounted, and the cached answers
//! of "is a Docker engine reachable?" and "is this image present?".

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::OnceCell;

/// What a task on the Docker task runner does when no Docker engine is
/// reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DockerFallback {
    /// Fail the task, explaining how to switch to the Process runner.
    #[default]
    Fail,
    /// Run the task as a local process (ignoring `containerImage`), with a
    /// WARN line in the task's logs.
    Process,
}

impl DockerFallback {
    /// Parses `fail` or `process` (any case).
    pub fn parse(s: &str) -> Option<DockerFallback> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fail" => Some(DockerFallback::Fail),
            "process" => Some(DockerFallback::Process),
            _ => None,
        }
    }
}

/// The cached result of probing the Docker engine: the server version, or
/// why no engine is reachable. Probed once per `ScriptsConfig` (so once per
/// process) on the first task that needs Docker.
#[derive(Debug, Clone, Default)]
pub struct DockerProbe(Arc<OnceCell<Result<String, String>>>);

impl DockerProbe {
    /// The probe's answer, running `probe` the first time only.
    pub async fn get_or_probe<F, Fut>(&self, probe: F) -> Result<String, String>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<String, String>>,
    {
        self.0.get_or_init(probe).await.clone()
    }
}

/// Images known to be present in the engine's store (inspected or pulled
/// by this process), so `pullPolicy: IF_NOT_PRESENT` inspects an image once
/// per process, not once per task.
#[derive(Debug, Clone, Default)]
pub struct ImageCache(Arc<Mutex<HashSet<String>>>);

impl ImageCache {
    pub fn contains(&self, image: &str) -> bool {
        self.0.lock().is_ok_and(|s| s.contains(image))
    }

    pub fn insert(&self, image: &str) {
        if let Ok(mut s) = self.0.lock() {
            s.insert(image.to_string());
        }
    }

    pub fn remove(&self, image: &str) {
        if let Ok(mut s) = self.0.lock() {
            s.remove(image);
        }
    }
}

/// The CLI the engine check settled on when it differs from `docker_bin`
/// (`podman` when the default `docker` has no engine).
#[derive(Debug, Clone, Default)]
pub struct ResolvedBin(Arc<OnceLock<PathBuf>>);

impl ResolvedBin {
    pub fn set(&self, bin: PathBuf) {
        let _ = self.0.set(bin);
    }

    pub fn get(&self) -> Option<PathBuf> {
        self.0.get().cloned()
    }
}

/// Settings of the scripts plugins.
#[derive(Debug, Clone)]
pub struct ScriptsConfig {
    /// `BATON_DOCKER_FALLBACK=process|fail` (default `fail`).
    pub docker_fallback: DockerFallback,
    /// The Docker CLI (`BATON_DOCKER_BIN`, default `docker` on `PATH`).
    pub docker_bin: PathBuf,
    /// Keep task working directories after the task ends, for debugging
    /// (`BATON_KEEP_WORKING_DIRS=1`). Default: removed, as Kestra does.
    pub keep_working_dirs: bool,
    /// Run a script task's program as PID 1 of a PID namespace of its own
    /// where one can be made (`BATON_TASK_PID_NAMESPACE`, default `true`).
    pub pid_namespace: bool,
    /// Whether a Docker engine answers (probed once, then cached).
    pub docker_probe: DockerProbe,
    /// Allow the Docker runner's `volumes` (host paths mounted into the
    /// container) and `privileged`: `BATON_DOCKER_VOLUME_ENABLED=true`,
    /// Kestra's `volume-enabled` plugin configuration. Off by default: a
    /// flow cannot mount the host on its own.
    pub docker_volume_enabled: bool,
    /// Images known to be present (see `ImageCache`).
    pub docker_images: ImageCache,
    /// See `ResolvedBin`.
    pub docker_resolved: ResolvedBin,
    /// On Baton's GCP runtime: Docker-runner tasks run as Cloud Run Jobs
    /// (set by `functions::engine`, never from the environment alone).
    pub cloud_run: Option<super::CloudRunConfig>,
    /// Cloud Run Jobs known to exist (see `KnownJobs`).
    pub cloud_run_jobs: super::cloudrun_runner::KnownJobs,
}

impl Default for ScriptsConfig {
    fn default() -> ScriptsConfig {
        ScriptsConfig {
            docker_fallback: DockerFallback::Fail,
            docker_bin: PathBuf::from("docker"),
            keep_working_dirs: false,
            pid_namespace: true,
            docker_probe: DockerProbe::default(),
            docker_volume_enabled: false,
            docker_images: ImageCache::default(),
            docker_resolved: ResolvedBin::default(),
            cloud_run: None,
            cloud_run_jobs: Default::default(),
        }
    }
}

impl ScriptsConfig {
    /// The container CLI to run: `docker_bin`, or what the engine check
    /// fell back to.
    pub fn engine_bin(&self) -> PathBuf {
        self.docker_resolved.get().unwrap_or_else(|| self.docker_bin.clone())
    }

    /// Reads the settings from the environment. An unknown
    /// `BATON_DOCKER_FALLBACK` value is reported and ignored.
    pub fn from_env() -> ScriptsConfig {
        let mut c = ScriptsConfig::default();
        if let Ok(v) = std::env::var("BATON_DOCKER_FALLBACK") {
            match DockerFallback::parse(&v) {
                Some(f) => c.docker_fallback = f,
                None => tracing::warn!(value = %v, "BATON_DOCKER_FALLBACK must be 'fail' or 'process'; using 'fail'"),
            }
        }
        if let Some(bin) = std::env::var_os("BATON_DOCKER_BIN").filter(|b| !b.is_empty()) {
            c.docker_bin = PathBuf::from(bin);
        }
        let flag = |name: &str| std::env::var(name).is_ok_and(|v| matches!(v.trim(), "1" | "true" | "TRUE" | "yes"));
        c.keep_working_dirs = flag("BATON_KEEP_WORKING_DIRS");
        c.docker_volume_enabled = flag("BATON_DOCKER_VOLUME_ENABLED");
        c.pid_namespace = !std::env::var("BATON_TASK_PID_NAMESPACE")
            .is_ok_and(|v| matches!(v.trim(), "0" | "false" | "FALSE" | "no"));
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_values_parse() {
        assert_eq!(DockerFallback::parse("PROCESS"), Some(DockerFallback::Process));
        assert_eq!(DockerFallback::parse(" fail "), Some(DockerFallback::Fail));
        assert_eq!(DockerFallback::parse("docker"), None);
    }

    #[tokio::test]
    async fn the_probe_runs_once() {
        let p = DockerProbe::default();
        let a = p.get_or_probe(|| async { Err("no engine".to_string()) }).await;
        let b = p.get_or_probe(|| async { Ok("27.0".to_string()) }).await;
        assert_eq!(a, Err("no engine".to_string()));
        assert_eq!(b, a);
    }
}
