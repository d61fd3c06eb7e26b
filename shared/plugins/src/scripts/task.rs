//! One script task attempt: pick the runner (Docker when an engine answers,
//! else fail or fall back to a local process as configured), prepare the
//! working directory (input and namespace files, the script file, Python),
//! run the command with its output streamed into the logs, then upload the
//! output files and build Kestra's outputs `exitCode`, `vars`, `outputFiles`
//! (and, in a container, `taskRunner.containerId`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::config::DockerFallback;
use super::container_id::CidFile;
use super::docker::{self, ContainerGuard, RunSpec};
use super::files;
use super::image;
use super::process::{self, Mode, Spawn};
use super::props::{Form, Lang, ScriptSpec};
use super::python;
use super::runner::{DockerOptions, PROCESS, Runner};
use super::storage_uris::{self, Localized};
use crate::{RunContext, RunnableTask, TaskError, TaskOutput};
use baton_model::StateType;

/// A script task (`shell`/`python` × `Commands`/`Script`).
#[derive(Debug)]
pub(crate) struct ScriptTask {
    pub spec: ScriptSpec,
}

/// The container's name for this attempt (`baton-<task run>-<attempt>`).
fn container_name(cx: &RunContext) -> String {
    format!("baton-{}-{}", cx.task_run_id, cx.attempt).to_ascii_lowercase()
}

/// Removes the working directory when the attempt ends (also on timeout or
/// kill, when the future is dropped), unless configured to keep it.
pub(super) struct DirGuard {
    pub dir: PathBuf,
    pub keep: bool,
}

impl Drop for DirGuard {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `'text'` for a POSIX shell.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Replaces secret values in a message that leaves the logs (the error).
/// Inherited variables a script must not see: Baton's secrets.
pub(super) fn secret_env_names() -> Vec<String> {
    std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()).filter(|k| k.starts_with("SECRET_")).collect()
}

impl ScriptTask {
    /// The runner to use now: Docker only if an engine is reachable.
    async fn effective_runner(&self, cx: &RunContext) -> Result<Runner, TaskError> {
        let Runner::Docker(opts) = &self.spec.runner else {
            return Ok(Runner::Process);
        };
        let config = &cx.services.config.scripts;
        docker::check_allowed(opts, config, if self.spec.argv { "" } else { "taskRunner" })?;
        let (probed, ()) = tokio::join!(docker::probe(config), image::warm(config, opts, &self.spec.image));
        match probed {
            Ok(_) => Ok(Runner::Docker(opts.clone())),
            Err(reason) if self.spec.argv => Err(TaskError::failed(format!(
                "{} runs image '{}' in a container and needs a Docker engine, and none is reachable: {reason}. \
                 Start Docker or podman (BATON_DOCKER_BIN names the CLI)",
                super::docker_run::RUN_TYPE,
                self.spec.image
            ))),
            Err(reason) => match config.docker_fallback {
                DockerFallback::Process => {
                    cx.warn(&format!(
                        "No Docker engine is reachable ({reason}); running the task as a local process \
                         (BATON_DOCKER_FALLBACK=process): containerImage '{}' is ignored",
                        self.spec.image
                    ));
                    Ok(Runner::Process)
                }
                DockerFallback::Fail => Err(TaskError::failed(format!(
                    "The task runner io.kestra.plugin.scripts.runner.docker.Docker (the default for script tasks) \
                     needs a Docker engine, and none is reachable: {reason}. Start Docker, or run the task as a \
                     local process with `taskRunner: {{type: {PROCESS}}}` (on the task, or for all script tasks \
                     through pluginDefaults on io.kestra.plugin.scripts), or set BATON_DOCKER_FALLBACK=process \
                     to run Docker tasks as local processes"
                ))),
            },
        }
    }

    /// Writes the `script` body into the working directory; returns its name.
    pub(super) async fn write_script(&self, cx: &RunContext, dir: &Path) -> Result<String, TaskError> {
        let ext = match self.spec.lang {
            Lang::Shell => "sh",
            Lang::Python => "py",
        };
        let name = format!(".baton-script-{}.{ext}", cx.task_run_id);
        tokio::fs::write(dir.join(&name), self.spec.script.as_bytes())
            .await
            .map_err(|e| TaskError::failed(format!("cannot write the script into {}: {e}", dir.display())))?;
        Ok(name)
    }

    /// The shell text run by the interpreter: `cmds` are the task's
    /// `beforeCommands` and `commands` with their `kestra://` files local.
    pub(super) fn shell_text(&self, before: &[String], script_file: Option<&Path>, cmds: &Localized) -> String {
        let mut lines: Vec<String> = Vec::new();
        if self.spec.fail_fast {
            lines.push("set -e".into());
        }
        lines.extend(before.iter().cloned());
        lines.extend(cmds.before_commands.iter().cloned());
        match (self.spec.form, script_file) {
            (Form::Script, Some(file)) => {
                let program = match self.spec.lang {
                    Lang::Python => "python".to_string(),
                    Lang::Shell => self.spec.interpreter.first().cloned().unwrap_or_else(|| "/bin/sh".into()),
                };
                lines.push(format!("{program} {}", shell_quote(&file.display().to_string())));
            }
            _ => lines.extend(cmds.commands.iter().cloned()),
        }
        lines.join("\n")
    }

    /// The task's `env`, plus Kestra's `WORKING_DIR` and `OUTPUT_DIR`
    /// unless the task sets them.
    pub(super) fn env(&self, dir: &Path, out_dir: Option<&Path>) -> Vec<(String, String)> {
        let mut env = self.spec.env.clone();
        let mut add = |k: &str, v: &Path| {
            if !env.iter().any(|(name, _)| name == k) {
                env.push((k.to_string(), v.display().to_string()));
            }
        };
        add("WORKING_DIR", dir);
        if let Some(o) = out_dir {
            add("OUTPUT_DIR", o);
        }
        env
    }

    fn process_spawn(&self, dir: &Path, env: Vec<(String, String)>, text: String, py: python::PythonEnv) -> Spawn {
        let mut argv = self.spec.interpreter.clone();
        argv.push(text);
        let program = argv.remove(0);
        let mut env = env;
        if !py.path_prefix.is_empty() && !env.iter().any(|(k, _)| k == "PATH") {
            let mut paths: Vec<PathBuf> = py.path_prefix;
            if let Some(p) = std::env::var_os("PATH") {
                paths.extend(std::env::split_paths(&p));
            }
            if let Ok(joined) = std::env::join_paths(paths).map(OsString::into_string)
                && let Ok(joined) = joined
            {
                env.push(("PATH".into(), joined));
            }
        }
        env.extend(py.env);
        Spawn { program, args: argv, cwd: dir.to_path_buf(), env, env_remove: secret_env_names(), pid_namespace: true }
    }

    fn docker_spawn(
        &self,
        cx: &RunContext,
        opts: &DockerOptions,
        dir: &Path,
        env: Vec<(String, String)>,
        command: Vec<String>,
        cid_file: &Path,
    ) -> Spawn {
        let name = container_name(cx);
        let labels = [
            ("namespace", cx.namespace.clone()),
            ("flow-id", cx.flow_id.clone()),
            ("task-id", cx.task_id.clone()),
            ("execution-id", cx.execution_id.clone()),
            ("taskrun-id", cx.task_run_id.clone()),
            ("taskrun-attempt", cx.attempt.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("kestra.io/{k}"), v))
        .collect();
        let spec = RunSpec {
            name: &name,
            image: &self.spec.image,
            work_dir: dir,
            env_names: env.iter().map(|(k, _)| k.clone()).collect(),
            labels,
            command: &command,
            image_entrypoint: self.spec.argv,
            cid_file: Some(cid_file),
        };
        let bin = cx.services.config.scripts.engine_bin().display().to_string();
        Spawn {
            program: bin,
            args: docker::run_args(opts, &spec),
            cwd: dir.to_path_buf(),
            env,
            env_remove: secret_env_names(),
            pid_namespace: false,
        }
    }
}

#[async_trait]
impl RunnableTask for ScriptTask {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        if let Runner::Docker(opts) = &self.spec.runner
            && let Some(target) = super::cloudrun_runner::target(opts, &cx.services.config.scripts)?
        {
            if self.spec.argv {
                return Err(TaskError::failed(format!(
                    "{} needs a container engine on the worker; Baton's GCP runtime has none (its container \
                     tasks run as Cloud Run Jobs): use a script task with `containerImage` instead",
                    super::docker_run::RUN_TYPE
                )));
            }
            return super::cloudrun_runner::start(self, cx, opts, target).await;
        }
        let runner = self.effective_runner(cx).await?;
        let dir = cx.working_dir()?;
        let keep = cx.services.config.scripts.keep_working_dirs || cx.shares_working_dir();
        let _dir_guard = DirGuard { dir: dir.clone(), keep };

        files::write_input_files(cx, &dir, &self.spec.input_files).await?;
        let n = files::copy_namespace_files(cx, &dir, &self.spec.namespace_files).await?;
        if n > 0 {
            cx.log("DEBUG", &format!("Copied {n} namespace file(s) into the working directory"));
        }
        let cmds = storage_uris::localize(cx, &dir, &self.spec.before_commands, &self.spec.commands).await?;
        let mut skip = vec![super::context_file::NAME.to_string()];
        skip.extend(cmds.copies.iter().cloned());
        let context_file =
            if self.spec.execution_context { Some(super::context_file::write(cx, &dir).await?) } else { None };
        let script_file = match self.spec.form {
            Form::Script => {
                let name = self.write_script(cx, &dir).await?;
                skip.push(name.clone());
                Some(dir.join(name))
            }
            Form::Commands => None,
        };

        let out_dir = cx.output_dir_path();
        if let Some(o) = &out_dir {
            tokio::fs::create_dir_all(o)
                .await
                .map_err(|e| TaskError::failed(format!("cannot create the output directory {}: {e}", o.display())))?;
        }
        let env = self.env(&dir, out_dir.as_deref());
        let config = &cx.services.config.scripts;
        let mut container = None;
        let spawn = match &runner {
            Runner::Process => {
                let py = match self.spec.lang {
                    Lang::Python => python::prepare(cx, &self.spec.dependencies).await?,
                    Lang::Shell => python::PythonEnv::default(),
                };
                let text = self.shell_text(&[], script_file.as_deref(), &cmds);
                self.process_spawn(&dir, env, text, py)
            }
            Runner::Docker(opts) => {
                let mut before = Vec::new();
                if self.spec.lang == Lang::Python && !self.spec.dependencies.is_empty() {
                    let deps: Vec<String> = self.spec.dependencies.iter().map(|d| shell_quote(d)).collect();
                    before.push(format!("pip install --quiet --disable-pip-version-check {}", deps.join(" ")));
                }
                let command = if self.spec.argv {
                    cmds.commands.clone()
                } else {
                    let mut command = self.spec.interpreter.clone();
                    command.push(self.shell_text(&before, script_file.as_deref(), &cmds));
                    command
                };
                if !opts.ignored.is_empty() {
                    cx.warn(&format!(
                        "taskRunner properties not supported by Baton, ignored: {} (the container CLI's own \
                         configuration applies)",
                        opts.ignored.join(", ")
                    ));
                }
                if opts.user.is_some() {
                    // another user inside the container must be able to write its outputs
                    open_up(&dir, out_dir.as_deref())?;
                }
                image::ensure(cx, config, opts, &self.spec.image, &dir).await?;
                let name = container_name(cx);
                let cid = CidFile::new(&name);
                let spawn = self.docker_spawn(cx, opts, &dir, env, command, cid.path());
                container = Some(ContainerGuard {
                    bin: config.engine_bin(),
                    name: Some(name),
                    grace: opts.kill_grace_period,
                    delete: opts.delete,
                    cid,
                });
                cx.info(&format!(
                    "Running in container image '{}' ({})",
                    self.spec.image,
                    config.engine_bin().display()
                ));
                spawn
            }
        };

        let mode = if self.spec.dbt_logs { Mode::Dbt } else { Mode::Script };
        let fin = process::run(cx, &spawn, mode).await;
        // the commands are done: the context (SECRET inputs in clear) goes, whatever their end
        drop(context_file);
        let fin = fin?;
        // Kestra's Docker runner gives the container's ID as `taskRunner.containerId`
        let container_id = match container.as_mut() {
            Some(c) => c.cid.id().await,
            None => None,
        };
        let task_runner = container_id.map(|id| {
            let mut details = Map::new();
            details.insert("containerId".into(), Value::String(id));
            Value::Object(details)
        });
        if let Some(c) = container.as_mut() {
            // the container ended: `--rm` removed it, or `delete: false` keeps it;
            // or, with `wait: false`, it was started and is left running
            if let (Runner::Docker(opts), Some(name)) = (&runner, &c.name)
                && !opts.wait
                && fin.success()
            {
                cx.info(&format!("Container '{name}' started; not waiting for it to end (wait: false)"));
            }
            c.disarm();
        }
        if !fin.success() {
            let msg = match &runner {
                Runner::Docker(opts) => {
                    if fin.exit_code == Some(docker::ENGINE_ERROR) {
                        config.docker_images.remove(&self.spec.image);
                    }
                    docker::failure(&fin, &self.spec.image, opts)
                }
                Runner::Process => fin.failure_message("Command"),
            };
            return Err(TaskError::failed(cx.mask_text(&msg)));
        }

        if let Some(why) = fin.vars_refused {
            return Err(TaskError::failed(why));
        }
        let movable = !config.keep_working_dirs;
        let mut output_files = Map::new();
        if let Some(o) = &out_dir {
            // first, and copied when `outputFiles` globs may match them too
            let all = vec!["**".to_string()];
            let move_them = movable && self.spec.output_files.is_empty();
            output_files.extend(files::upload_output_files(cx, o, &all, &[], move_them).await?);
        }
        output_files.extend(files::upload_output_files(cx, &dir, &self.spec.output_files, &skip, movable).await?);
        let mut out = Map::new();
        out.insert("exitCode".into(), Value::from(fin.exit_code.unwrap_or(0)));
        out.insert("vars".into(), Value::Object(fin.vars));
        out.insert("outputFiles".into(), Value::Object(output_files));
        if let Some(details) = task_runner {
            out.insert("taskRunner".into(), details);
        }
        let mut result = TaskOutput::with(out);
        if (self.spec.warning_on_std_err && fin.stderr_lines > 0) || fin.warning {
            result.state = Some(StateType::Warning);
        }
        Ok(result)
    }
}

/// Makes the working directory (and the output directory) writable by any
/// user, for a container that runs as another user than Baton.
fn open_up(dir: &Path, out_dir: Option<&Path>) -> Result<(), TaskError> {
    use std::os::unix::fs::PermissionsExt;
    for d in std::iter::once(dir).chain(out_dir) {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777))
            .map_err(|e| TaskError::failed(format!("cannot open {} to the container's user: {e}", d.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
