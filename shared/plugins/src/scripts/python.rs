//! Python for script tasks run as local processes: `dependencies` are
//! pip-installed once into a virtualenv cached under the cache folder,
//! keyed by a hash of the interpreter and the dependency list (a file lock
//! keeps concurrent tasks, even in other processes, from building the same
//! one twice); without dependencies, a `python` shim is put on `PATH` when
//! the machine only has `python3`, so `python main.py` works as in the
//! `python` container images.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::process::{self, Mode, Spawn};
use crate::{RunContext, TaskError};

/// The folder for caches that outlive one task.
pub(crate) fn cache_root(cx: &RunContext) -> PathBuf {
    match &cx.services.config.cache_dir {
        Some(d) => d.clone(),
        None => {
            let work = &cx.services.work_root;
            work.parent().unwrap_or(work).join("cache")
        }
    }
}

/// The first executable called `name` on `path` (a `PATH` value).
pub(crate) fn which(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    let path = path?;
    std::env::split_paths(path).map(|d| d.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What a local Python run needs on top of the inherited environment.
#[derive(Debug, Default)]
pub(crate) struct PythonEnv {
    /// Folders to put first on `PATH`.
    pub path_prefix: Vec<PathBuf>,
    /// Extra variables (`VIRTUAL_ENV`).
    pub env: Vec<(String, String)>,
}

/// Prepares Python for a local run: the cached virtualenv when there are
/// dependencies, else a `python` shim if only `python3` exists.
pub(crate) async fn prepare(cx: &RunContext, dependencies: &[String]) -> Result<PythonEnv, TaskError> {
    let path = std::env::var_os("PATH");
    let base = which("python3", path.as_deref()).or_else(|| which("python", path.as_deref())).ok_or_else(|| {
        TaskError::failed("no python3 (or python) on PATH: install Python, or run the task with the Docker task runner")
    })?;
    if !dependencies.is_empty() {
        let venv = ensure_venv(cx, &base, dependencies).await?;
        return Ok(PythonEnv {
            path_prefix: vec![venv.join("bin")],
            env: vec![("VIRTUAL_ENV".into(), venv.display().to_string())],
        });
    }
    if which("python", path.as_deref()).is_some() {
        return Ok(PythonEnv::default());
    }
    let shim = cache_root(cx).join("python-shim");
    let link = shim.join("python");
    if std::fs::symlink_metadata(&link).is_err() {
        std::fs::create_dir_all(&shim)
            .map_err(|e| TaskError::failed(format!("cannot create {}: {e}", shim.display())))?;
        // Another task may create it at the same moment: only a missing link is an error.
        if let Err(e) = std::os::unix::fs::symlink(&base, &link)
            && std::fs::symlink_metadata(&link).is_err()
        {
            return Err(TaskError::failed(format!("cannot create {}: {e}", link.display())));
        }
    }
    Ok(PythonEnv { path_prefix: vec![shim], env: Vec::new() })
}

/// The cache key of a virtualenv.
fn venv_key(base: &Path, dependencies: &[String]) -> String {
    let mut deps: Vec<&str> = dependencies.iter().map(|d| d.trim()).filter(|d| !d.is_empty()).collect();
    deps.sort_unstable();
    deps.dedup();
    let mut h = Sha256::new();
    h.update(base.display().to_string().as_bytes());
    for d in deps {
        h.update(b"\n");
        h.update(d.as_bytes());
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The virtualenv with `dependencies` installed, built on first use.
async fn ensure_venv(cx: &RunContext, base: &Path, dependencies: &[String]) -> Result<PathBuf, TaskError> {
    let root = cache_root(cx).join("python-venvs");
    let key = venv_key(base, dependencies);
    let venv = root.join(&key);
    let ready = venv.join(".baton-ready");
    if ready.exists() {
        cx.log("DEBUG", &format!("Using the cached virtualenv {}", venv.display()));
        return Ok(venv);
    }
    std::fs::create_dir_all(&root).map_err(|e| TaskError::failed(format!("cannot create {}: {e}", root.display())))?;
    let lock_path = root.join(format!("{key}.lock"));
    let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path)?;
        f.lock()?;
        Ok(f)
    })
    .await
    .map_err(|e| TaskError::failed(format!("cannot lock the virtualenv cache: {e}")))?
    .map_err(|e| TaskError::failed(format!("cannot lock the virtualenv cache in {}: {e}", root.display())))?;
    if ready.exists() {
        return Ok(venv);
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .map_err(|e| TaskError::failed(format!("cannot remove the broken virtualenv {}: {e}", venv.display())))?;
    }
    cx.info(&format!("Installing Python dependencies {dependencies:?} into {}", venv.display()));
    let steps: [(PathBuf, Vec<String>, &str); 2] = [
        (base.to_path_buf(), vec!["-m".into(), "venv".into(), venv.display().to_string()], "creating the virtualenv"),
        (
            venv.join("bin").join("python"),
            ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet"]
                .into_iter()
                .map(String::from)
                .chain(dependencies.iter().cloned())
                .collect(),
            "pip install",
        ),
    ];
    for (program, args, what) in steps {
        let spawn = Spawn {
            program: program.display().to_string(),
            args,
            cwd: root.clone(),
            env: Vec::new(),
            env_remove: Vec::new(),
            pid_namespace: false,
        };
        let fin = process::run(cx, &spawn, Mode::Setup).await?;
        if !fin.success() {
            let _ = std::fs::remove_dir_all(&venv);
            return Err(TaskError::failed(
                fin.failure_message(&format!("Installing the Python dependencies ({what})")),
            ));
        }
    }
    std::fs::write(&ready, dependencies.join("\n"))
        .map_err(|e| TaskError::failed(format!("cannot write {}: {e}", ready.display())))?;
    drop(lock);
    Ok(venv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venv_keys_ignore_order_and_duplicates() {
        let b = Path::new("/usr/bin/python3");
        let k1 = venv_key(b, &["requests".into(), "kestra".into()]);
        let k2 = venv_key(b, &["kestra".into(), "requests".into(), "kestra".into()]);
        assert_eq!(k1, k2);
        assert_ne!(k1, venv_key(b, &["requests".into()]));
        assert_ne!(k1, venv_key(Path::new("/opt/python3"), &["requests".into(), "kestra".into()]));
    }

    #[test]
    fn which_finds_executables_only() {
        let path = std::env::var_os("PATH");
        assert!(which("sh", path.as_deref()).is_some());
        assert!(which("no-such-binary-baton", path.as_deref()).is_none());
    }
}
