//! Kestra's Docker plugin tasks on images already in the engine:
//! `io.kestra.plugin.docker.cli.Push` (alias `docker.Push`) pushes tags to
//! their registries, `cli.Tag` (alias `docker.Tag`) gives an image another
//! name — through the worker's container CLI, as `Build` (which holds the
//! shared call, `docker_build::engine`).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::docker_build::{engine, engine_dir, image_name, tags_of};
use super::docker_run::EngineProps;
use super::image::AuthFile;
use super::runner::{self, Credentials};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Push Docker images to a registry.
///
/// Pushes each of `tags` (images of the worker's engine, e.g. built by `Build`) to its registry, with `credentials` for it. Needs docker or podman on the worker.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.docker.cli.Push",
    aliases = ["io.kestra.plugin.docker.Push"],
    group = "scripts",
    example = "id: push\ntype: io.kestra.plugin.docker.cli.Push\ntags:\n  - ghcr.io/my-org/app:1.0\ncredentials:\n  registry: ghcr.io\n  username: my-org\n  password: \"{{ secret('GITHUB_TOKEN') }}\"\n"
)]
struct PushProps {
    /// The images to push (a registry host first for a private registry); at least one.
    #[serde(deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    tags: Vec<String>,
    /// Registry credentials: {registry, username, password, auth, registryToken, identityToken}.
    #[serde(default)]
    #[prop(kind = "Map")]
    credentials: Value,
    #[serde(flatten)]
    engine: EngineProps,
}

#[derive(Debug)]
struct PushTask {
    tags: Vec<String>,
    credentials: Option<Credentials>,
}

fn build_push(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: PushProps = parse_props(props)?;
    p.engine.check()?;
    let tags = tags_of(&p.tags)?;
    Ok(Box::new(PushTask { tags, credentials: runner::credentials("", props)? }))
}

pub static PUSH: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<PushProps>(build_push));

#[async_trait]
impl RunnableTask for PushTask {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let first = self.tags[0].as_str();
        let (dir, _dir_guard) = engine_dir(cx, &format!("cannot push '{first}'")).await?;
        let auth = match &self.credentials {
            Some(c) => Some(AuthFile::write(&dir, first, c)?),
            None => None,
        };
        let env = auth.as_ref().map(AuthFile::env).unwrap_or_default();
        for tag in &self.tags {
            cx.info(&format!("Pushing '{tag}'"));
            engine(cx, vec!["push".into(), tag.clone()], &dir, &env, &format!("cannot push '{tag}'")).await?;
        }
        drop(auth);
        Ok(TaskOutput::with(Map::new()))
    }
}

/// Retag a Docker image.
///
/// Gives the image `sourceImage` (a name or an ID of the worker's engine) the name `targetImage`. Needs docker or podman on the worker.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.docker.cli.Tag",
    aliases = ["io.kestra.plugin.docker.Tag"],
    group = "scripts",
    example = "id: tag\ntype: io.kestra.plugin.docker.cli.Tag\nsourceImage: \"{{ outputs.build.imageId }}\"\ntargetImage: ghcr.io/my-org/app:production\n"
)]
struct TagProps {
    /// The image to name (a name or an image ID).
    #[serde(deserialize_with = "de::string_lenient")]
    source_image: String,
    /// Its new name.
    #[serde(deserialize_with = "de::string_lenient")]
    target_image: String,
    /// Accepted as in Kestra, where it only reaches registries: naming an image reaches none, so it has no effect.
    #[serde(default)]
    #[prop(kind = "Map")]
    credentials: Value,
    #[serde(flatten)]
    engine: EngineProps,
}

#[derive(Debug)]
struct TagTask {
    source: String,
    target: String,
}

fn build_tag(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: TagProps = parse_props(props)?;
    p.engine.check()?;
    Ok(Box::new(TagTask {
        source: image_name("sourceImage", &p.source_image)?,
        target: image_name("targetImage", &p.target_image)?,
    }))
}

pub static TAG: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<TagProps>(build_tag));

#[async_trait]
impl RunnableTask for TagTask {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (source, target) = (&self.source, &self.target);
        let what = format!("cannot tag '{source}' as '{target}'");
        let (dir, _dir_guard) = engine_dir(cx, &what).await?;
        engine(cx, vec!["tag".into(), source.clone(), target.clone()], &dir, &[], &what).await?;
        cx.info(&format!("Tagged '{source}' as '{target}'"));
        Ok(TaskOutput::with(Map::new()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_are_checked_and_refusals_name_the_property() {
        let push = |v: Value| build_push(v.as_object().expect("map")).err().map(|e| e.to_string());
        let tag = |v: Value| build_tag(v.as_object().expect("map")).err().map(|e| e.to_string());
        assert_eq!(push(json!({"tags": ["https://ghcr.io/o/a:1", "ghcr.io/o/a:1"]})), None);
        assert!(push(json!({"tags": []})).is_some_and(|e| e.contains("tags")));
        assert!(push(json!({"tags": ["-x"]})).is_some_and(|e| e.contains("tags")));
        assert!(push(json!({"tags": ["a"], "host": "tcp://x"})).is_some_and(|e| e.contains("host")));
        assert_eq!(tag(json!({"sourceImage": "sha256:abc", "targetImage": "a:1"})), None);
        assert!(tag(json!({"sourceImage": "a", "targetImage": " "})).is_some_and(|e| e.contains("targetImage")));
        assert!(
            tag(json!({"sourceImage": "a", "targetImage": "b", "config": {}})).is_some_and(|e| e.contains("config"))
        );
    }
}
