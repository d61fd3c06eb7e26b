//! The Docker task runner without its engine: a clear failure that says how
//! to switch, or the configured fallback to a process; and with a
//! stand-in `docker` CLI that records how it was called (the working
//! directory mounted, env passed by name).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde_json::json;
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::plugins::scripts::{DockerFallback, ScriptsConfig};

use crate::support::harness_with_plugins;

/// A stand-in `docker` CLI (a shell script) in a fresh folder, removed on drop.
struct FakeDocker(PathBuf);

impl FakeDocker {
    fn new(body: &str) -> FakeDocker {
        let dir = std::env::temp_dir().join(format!("baton-fake-docker-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("docker");
        std::fs::write(&bin, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        FakeDocker(dir)
    }

    fn bin(&self) -> PathBuf {
        self.0.join("docker")
    }
}

impl Drop for FakeDocker {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A docker CLI that cannot reach its engine, worded as the real one.
const NO_ENGINE: &str = r#"echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
exit 1"#;

fn plugins(docker_bin: PathBuf, fallback: DockerFallback) -> PluginConfig {
    PluginConfig {
        scripts: ScriptsConfig { docker_bin, docker_fallback: fallback, ..ScriptsConfig::default() },
        ..PluginConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docker_runner_without_an_engine_fails_and_says_how_to_switch() {
    let docker = FakeDocker::new(NO_ENGINE);
    let h = harness_with_plugins(plugins(docker.bin(), DockerFallback::Fail));
    let e = h
        .run(
            r#"
id: docker
namespace: test
tasks:
  - id: in_docker
    type: io.kestra.plugin.scripts.python.Script
    containerImage: python:3.11-slim
    script: print("hi")
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    let msg = logs.iter().find(|l| l.contains("none is reachable")).expect("explained");
    assert!(msg.contains("Cannot connect to the Docker daemon"), "{msg}");
    assert!(msg.contains("taskRunner: {type: io.kestra.plugin.core.runner.Process}"), "{msg}");
    assert!(msg.contains("BATON_DOCKER_FALLBACK=process"), "{msg}");
    assert!(!logs.iter().any(|l| l == "hi"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docker_fallback_runs_the_task_as_a_process() {
    let docker = FakeDocker::new(NO_ENGINE);
    let h = harness_with_plugins(plugins(docker.bin(), DockerFallback::Process));
    let e = h
        .run(
            r#"
id: fallback
namespace: test
tasks:
  - id: in_docker
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      pullPolicy: ALWAYS
    containerImage: alpine:3
    commands:
      - echo "ran locally"
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let logs = h.leveled_logs(&e.id).await;
    assert!(logs.iter().any(|(_, m)| m == "ran locally"), "{logs:?}");
    assert!(
        logs.iter().any(|(l, m)| l == "WARN" && m.contains("local process") && m.contains("'alpine:3' is ignored")),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docker_runner_mounts_the_working_dir_and_passes_env_by_name() {
    // `docker info` answers; `docker run` prints how it was called and the
    // variable it was handed through its environment.
    let docker = FakeDocker::new(
        r#"case "$1" in
  version) echo '{"Client":{"Version":"28.2.2"},"Server":{"Version":"27.1.1"}}' ;;
  run) echo "ARGS $*"; echo "TOKEN=$API_TOKEN" ;;
  *) exit 2 ;;
esac"#,
    );
    let h = harness_with_plugins(plugins(docker.bin(), DockerFallback::Fail));
    let e = h
        .run(
            r#"
id: docker_args
namespace: test
tasks:
  - id: in_docker
    type: io.kestra.plugin.scripts.python.Commands
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      pullPolicy: NEVER
      networkMode: host
    containerImage: python:3.11-slim
    env:
      API_TOKEN: abc123
    commands:
      - python main.py
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let logs = h.logs(&e.id).await;
    let args = logs.iter().find(|l| l.starts_with("ARGS ")).expect("docker run called");
    let wd = args.split(" -w ").nth(1).and_then(|r| r.split(' ').next()).expect("-w given");
    assert!(args.contains(&format!("-v {wd}:{wd}")), "{args}");
    assert!(args.contains("--pull never") && args.contains("--network host") && args.contains("--rm"), "{args}");
    assert!(args.contains("-e API_TOKEN") && args.contains("python:3.11-slim /bin/sh -c"), "{args}");
    assert!(!args.contains("abc123"), "values do not appear on the command line: {args}");
    assert!(logs.iter().any(|l| l == "TOKEN=abc123"), "{logs:?}");
}
