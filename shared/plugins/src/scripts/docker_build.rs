//! Kestra's `io.kestra.plugin.docker.cli.Build` (alias
//! `io.kestra.plugin.docker.Build`): builds an image with the worker's
//! container CLI (docker, or podman when no Docker engine answers — the
//! Docker runner's engine, `BATON_DOCKER_BIN`) and optionally pushes it.
//!
//! As Kestra's: the build context is the task's working directory, where
//! `inputFiles` and `namespaceFiles` are written first; `dockerfile` is a
//! path in it when such a file exists, else the Dockerfile's text (written
//! to a file of the working directory); every tag is given (a scheme such
//! as `https://` removed), `buildArgs`, `labels`, `platforms` and `target`
//! as the CLI's flags, `pull` (default true) pulls the base images, and
//! `push` pushes each tag. `credentials` reach the CLI as a throw-away
//! Docker `config.json` outside the working directory (the Docker runner's,
//! `image::AuthFile`), for the base images' and the pushed registry. The
//! output `imageId` is the built image's ID (`sha256:…`), usable as a
//! script task's `containerImage` with `pullPolicy: NEVER`.
//!
//! Refused by name, as on `Run`: `host` (a remote engine) and `config` (a
//! Docker config.json; give `credentials`). Kestra's `bytes` metric (bytes
//! pushed) is not recorded: the CLI does not report it.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::docker;
use super::docker_run::EngineProps;
use super::files::{self, NamespaceFiles};
use super::image::AuthFile;
use super::process::{self, Mode, Spawn};
use super::runner::{self, Credentials};
use super::task::DirGuard;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Build and optionally push a Docker image.
///
/// Builds an image from a Dockerfile (its text, or a path in the working directory) with the working directory as the build context (inputFiles and namespaceFiles written there first), tags it, and pushes each tag when `push` is true. Needs docker or podman on the worker.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.docker.cli.Build",
    aliases = ["io.kestra.plugin.docker.Build"],
    group = "scripts",
    example = "id: build\ntype: io.kestra.plugin.docker.cli.Build\ntags:\n  - my-py-data-app\ndockerfile: |\n  FROM python:3.12-slim\n  WORKDIR /app\n  COPY . /app\n",
    outputs(imageId(String, "The built image's ID (sha256:…)."))
)]
struct BuildProps {
    /// The Dockerfile: a path in the working directory when that file exists, else its text.
    #[serde(deserialize_with = "de::string_lenient")]
    dockerfile: String,
    /// The image's tags (a registry host first for a private registry); at least one.
    #[serde(deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    tags: Vec<String>,
    /// Target platforms (os/arch), given to the CLI's --platform.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    platforms: Vec<String>,
    /// Push every tag once built.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    push: Option<bool>,
    /// Pull the base images first (false: use the engine's copies when there are some).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    pull: Option<bool>,
    /// Build arguments (ARG values).
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    build_args: Vec<(String, String)>,
    /// Labels of the image.
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    labels: Vec<(String, String)>,
    /// The build stage to stop at (a multi-stage Dockerfile's).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    target: Option<String>,
    /// Files put in the working directory (the build context): name → content or kestra:// URI.
    #[serde(default)]
    #[prop(kind = "Map")]
    input_files: Value,
    /// Copy the namespace's files into the build context: {enabled, include, exclude}.
    #[serde(default)]
    #[prop(kind = "Map")]
    namespace_files: Value,
    /// Registry credentials: {registry, username, password, auth, registryToken, identityToken}, for the base images and the push.
    #[serde(default)]
    #[prop(kind = "Map")]
    credentials: Value,
    #[serde(flatten)]
    engine: EngineProps,
}

/// A `Build` with its properties rendered and checked.
#[derive(Debug)]
struct BuildTask {
    dockerfile: String,
    tags: Vec<String>,
    platforms: Vec<String>,
    push: bool,
    pull: bool,
    build_args: Vec<(String, String)>,
    labels: Vec<(String, String)>,
    target: Option<String>,
    input_files: Vec<(String, String)>,
    namespace_files: NamespaceFiles,
    credentials: Option<Credentials>,
}

/// A tag without its scheme (`https://ghcr.io/org/app` → `ghcr.io/org/app`), as Kestra's.
fn without_scheme(tag: &str) -> &str {
    tag.split_once("://").map_or(tag, |(_, rest)| rest)
}

/// `tags` checked ([`image_name`]), each once, in order; at least one.
pub(super) fn tags_of(raw: &[String]) -> Result<Vec<String>, TaskError> {
    let mut tags: Vec<String> = Vec::new();
    for t in raw {
        let t = image_name("tags", t)?;
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    if tags.is_empty() {
        return Err(TaskError::property("tags", "at least one tag is required"));
    }
    Ok(tags)
}

/// An image name or tag given as `prop`, trimmed and without its scheme;
/// an empty one, one that the CLI would read as an option or one with
/// blanks is refused naming `prop`.
pub(super) fn image_name(prop: &str, raw: &str) -> Result<String, TaskError> {
    let t = without_scheme(raw.trim());
    if t.is_empty() || t.starts_with('-') || t.chars().any(char::is_whitespace) {
        return Err(TaskError::property(prop, format!("'{t}' is not an image name")));
    }
    Ok(t.to_string())
}

fn build_task(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: BuildProps = parse_props(props)?;
    p.engine.check()?;
    if p.dockerfile.trim().is_empty() {
        return Err(TaskError::property("dockerfile", "the Dockerfile (its text or a path) is required"));
    }
    let tags = tags_of(&p.tags)?;
    if let Some(bad) = p.platforms.iter().find(|s| s.trim().is_empty() || s.trim().starts_with('-')) {
        return Err(TaskError::property("platforms", format!("'{bad}' is not a platform (os/arch)")));
    }
    for (prop, pairs) in [("buildArgs", &p.build_args), ("labels", &p.labels)] {
        if let Some((k, _)) = pairs.iter().find(|(k, _)| k.trim().is_empty() || k.contains('=')) {
            return Err(TaskError::property(prop, format!("'{k}' is not a name")));
        }
    }
    let target = p.target.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    if let Some(t) = target.as_deref().filter(|t| t.starts_with('-')) {
        return Err(TaskError::property("target", format!("'{t}' is not a build stage")));
    }
    Ok(Box::new(BuildTask {
        dockerfile: p.dockerfile,
        tags,
        platforms: p.platforms.iter().map(|s| s.trim().to_string()).collect(),
        push: p.push.unwrap_or(false),
        pull: p.pull.unwrap_or(true),
        build_args: p.build_args,
        labels: p.labels,
        target,
        input_files: super::props::input_files(&p.input_files)?,
        namespace_files: super::props::namespace_files(&p.namespace_files)?,
        credentials: runner::credentials("", props)?,
    }))
}

pub static BUILD: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<BuildProps>(build_task));

impl BuildTask {
    /// The Dockerfile to give the CLI: the file `dockerfile` names in the
    /// working directory when there is one, else its text written there.
    async fn dockerfile(&self, cx: &RunContext, dir: &Path) -> Result<PathBuf, TaskError> {
        let text = self.dockerfile.as_str();
        if !text.contains('\n')
            && let Ok(rel) = files::safe_relative("dockerfile", text.trim())
            && tokio::fs::metadata(dir.join(&rel)).await.is_ok_and(|m| m.is_file())
        {
            return Ok(dir.join(rel));
        }
        let path = dir.join(format!(".baton-{}.dockerfile", cx.task_run_id));
        tokio::fs::write(&path, text.as_bytes())
            .await
            .map_err(|e| TaskError::failed(format!("cannot write the Dockerfile into {}: {e}", dir.display())))?;
        Ok(path)
    }

    /// The CLI's `build` arguments.
    fn build_args(&self, dockerfile: &Path, iid: &Path, dir: &Path) -> Vec<String> {
        let mut args =
            vec!["build".to_string(), "--file".into(), path_arg(dockerfile), "--iidfile".into(), path_arg(iid)];
        for t in &self.tags {
            args.extend(["--tag".into(), t.clone()]);
        }
        if self.pull {
            args.push("--pull".into());
        }
        if !self.platforms.is_empty() {
            args.extend(["--platform".into(), self.platforms.join(",")]);
        }
        for (k, v) in &self.build_args {
            args.extend(["--build-arg".into(), format!("{k}={v}")]);
        }
        for (k, v) in &self.labels {
            args.extend(["--label".into(), format!("{k}={v}")]);
        }
        if let Some(t) = &self.target {
            args.extend(["--target".into(), t.clone()]);
        }
        args.push(path_arg(dir));
        args
    }
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

/// Once an engine answers (else the task fails: `what` and why), the
/// task's working directory, removed when the guard drops — on failure
/// too — unless kept (a `WorkingDirectory`'s, or kept by setting).
/// Shared with `Push` and `Tag` (`docker_image`).
pub(super) async fn engine_dir(cx: &RunContext, what: &str) -> Result<(PathBuf, DirGuard), TaskError> {
    let config = &cx.services.config.scripts;
    docker::probe(config)
        .await
        .map_err(|reason| TaskError::failed(format!("{what}: no Docker engine is reachable: {reason}")))?;
    let dir = cx.working_dir()?;
    let keep = config.keep_working_dirs || cx.shares_working_dir();
    Ok((dir.clone(), DirGuard { dir, keep }))
}

/// Runs the CLI with `args` (its output in the task's logs, at INFO);
/// a failure is `what` and the engine's last line. Shared with `Push`
/// and `Tag` (`docker_image`).
pub(super) async fn engine(
    cx: &RunContext,
    args: Vec<String>,
    dir: &Path,
    env: &[(String, String)],
    what: &str,
) -> Result<(), TaskError> {
    let spawn = Spawn {
        program: cx.services.config.scripts.engine_bin().display().to_string(),
        args,
        cwd: dir.to_path_buf(),
        env: env.to_vec(),
        env_remove: super::task::secret_env_names(),
        pid_namespace: false,
    };
    let fin = process::run(cx, &spawn, Mode::Setup).await?;
    if fin.success() {
        return Ok(());
    }
    let reason = fin.stderr_tail.back().cloned().unwrap_or_else(|| fin.failure_message(what));
    Err(TaskError::failed(format!("{what}: {reason}")))
}

#[async_trait]
impl RunnableTask for BuildTask {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let config = &cx.services.config.scripts;
        let first = self.tags[0].as_str();
        let (dir, _dir_guard) = engine_dir(cx, &format!("cannot build image '{first}'")).await?;
        files::write_input_files(cx, &dir, &self.input_files).await?;
        let n = files::copy_namespace_files(cx, &dir, &self.namespace_files).await?;
        if n > 0 {
            cx.log("DEBUG", &format!("Copied {n} namespace file(s) into the build context"));
        }
        let dockerfile = self.dockerfile(cx, &dir).await?;
        // beside the build context, not in it
        let iid = dir.with_file_name(format!(".{}.iid", cx.task_run_id));
        let auth = match &self.credentials {
            Some(c) => Some(AuthFile::write(&dir, first, c)?),
            None => None,
        };
        let env = auth.as_ref().map(AuthFile::env).unwrap_or_default();
        cx.info(&format!("Building image '{}' ({})", self.tags.join("', '"), config.engine_bin().display()));
        let built =
            engine(cx, self.build_args(&dockerfile, &iid, &dir), &dir, &env, &format!("cannot build image '{first}'"))
                .await;
        let id = tokio::fs::read_to_string(&iid).await;
        let _ = tokio::fs::remove_file(&iid).await;
        built?;
        let image_id = id
            .map(|s| s.trim().to_string())
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| TaskError::failed(format!("the engine built '{first}' but wrote no image ID")))?;
        cx.info(&format!("Built image {image_id}"));
        if self.push {
            for tag in &self.tags {
                cx.info(&format!("Pushing '{tag}'"));
                engine(cx, vec!["push".into(), tag.clone()], &dir, &env, &format!("cannot push '{tag}'")).await?;
            }
        }
        drop(auth);
        let mut out = Map::new();
        out.insert("imageId".into(), Value::String(image_id));
        Ok(TaskOutput::with(out))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn task(v: Value) -> Result<Box<dyn RunnableTask>, TaskError> {
        build_task(v.as_object().expect("map"))
    }

    #[test]
    fn the_command_line_carries_every_property() {
        let p: BuildProps = parse_props(
            json!({"dockerfile": "FROM x", "tags": ["https://ghcr.io/o/a:1", "a:latest"]}).as_object().expect("map"),
        )
        .expect("props");
        assert_eq!(without_scheme(&p.tags[0]), "ghcr.io/o/a:1");
        let t = BuildTask {
            dockerfile: "FROM x".into(),
            tags: vec!["ghcr.io/o/a:1".into(), "a:latest".into()],
            platforms: vec!["linux/amd64".into()],
            push: false,
            pull: false,
            build_args: vec![("WHO".into(), "me too".into())],
            labels: vec![("team".into(), "data".into())],
            target: Some("final".into()),
            input_files: Vec::new(),
            namespace_files: NamespaceFiles::default(),
            credentials: None,
        };
        let args = t.build_args(Path::new("/w/D"), Path::new("/w.iid"), Path::new("/w"));
        assert_eq!(
            args.join(" "),
            "build --file /w/D --iidfile /w.iid --tag ghcr.io/o/a:1 --tag a:latest --platform linux/amd64 \
             --build-arg WHO=me too --label team=data --target final /w"
        );
    }

    #[test]
    fn what_cannot_be_built_is_refused_naming_the_property() {
        for (v, prop) in [
            (json!({"dockerfile": "FROM x", "tags": []}), "tags"),
            (json!({"dockerfile": "FROM x", "tags": ["--rm"]}), "tags"),
            (json!({"dockerfile": " ", "tags": ["a"]}), "dockerfile"),
            (json!({"dockerfile": "FROM x", "tags": ["a"], "host": "tcp://x:2375"}), "host"),
            (json!({"dockerfile": "FROM x", "tags": ["a"], "config": {"auths": {}}}), "config"),
            (json!({"dockerfile": "FROM x", "tags": ["a"], "buildArgs": {"A=B": "c"}}), "buildArgs"),
            (json!({"dockerfile": "FROM x", "tags": ["a"], "target": "--x"}), "target"),
        ] {
            let e = task(v).err().expect("refused").to_string();
            assert!(e.contains(prop), "{prop}: {e}");
        }
        assert!(task(json!({"dockerfile": "FROM x", "tags": "a"})).is_ok());
    }
}
