//! Kestra's Docker plugin tasks `io.kestra.plugin.docker.cli.Run` and
//! `cli.Stop` (and their old names `docker.Run`/`docker.Stop`) on podman
//! with the local test images (see `containers`): the container's own
//! entrypoint, arguments as written, env, output files, `::{"outputs"}::`
//! vars and logs; a failing command's exit code; `wait: false` leaving the
//! container running until `Stop` kills and removes it (given the ID `Run`
//! outputs as `taskRunner.containerId`); the refusals. `cli.Build` (and
//! `docker.Build`): an image built from the working directory (input and
//! namespace files, build arguments, labels, every tag, a Dockerfile's text
//! or a path to one, a `target` stage) that the next task runs in by its
//! `imageId`; a failing build and a failing push named; `cli.Tag` and
//! `cli.Push` on a built image.

use std::process::Command;

use serde_json::json;
use shared::model::{Execution, StateType};

use crate::containers::{containers_of, harness, outputs};

/// Whether the container `id` exists (running or not).
fn exists(id: &str) -> bool {
    Command::new("podman").args(["container", "exists", id]).status().is_ok_and(|s| s.success())
}

fn error_of(e: &Execution) -> String {
    format!("{:?}", e.error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_run_runs_a_container_with_env_and_output_files_then_removes_it() {
    let h = harness(false);
    let started = std::time::Instant::now();
    let e = h
        .run(
            r#"
id: docker_run
namespace: team.containers
tasks:
  - id: run
    type: io.kestra.plugin.docker.Run
    containerImage: localhost/baton-busybox:1
    pullPolicy: NEVER
    env:
      GREETING: "hello from {{ flow.id }}"
    commands:
      - /bin/sh
      - -c
      - echo "$GREETING in $(pwd)" && echo "$GREETING" > out.txt && echo '::{"outputs":{"n":3}}::'
    outputFiles:
      - out.txt
  - id: entry
    type: io.kestra.plugin.docker.cli.Run
    containerImage: localhost/baton-busybox:1
    entryPoint: [/bin/echo]
    commands: [plain, "two words"]
  - id: image_cmd
    type: io.kestra.plugin.docker.cli.Run
    containerImage: localhost/baton-busybox:1
"#,
            json!({}),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(e.state.current, StateType::Success, "{}", error_of(&e));
    let out = outputs(&e, "run");
    assert_eq!(out["exitCode"], 0);
    assert_eq!(out["vars"]["n"], 3);
    let cid = out["taskRunner"]["containerId"].as_str().expect("taskRunner.containerId");
    assert!(cid.len() == 64 && cid.bytes().all(|b| b.is_ascii_hexdigit()), "the container's full ID: {cid}");
    assert!(!exists(cid), "removed after the run");
    let file = out["outputFiles"]["out.txt"].as_str().expect("out.txt kept");
    assert_eq!(h.read_storage(file).await, b"hello from docker_run\n");
    let logs = h.leveled_logs(&e.id).await;
    let info = |pred: &dyn Fn(&str) -> bool| logs.iter().any(|(l, m)| l == "INFO" && pred(m));
    assert!(info(&|m| m.starts_with("hello from docker_run in /") && m.contains(&e.id)), "{logs:?}");
    assert!(info(&|m| m == "plain two words"), "the entryPoint with the commands as arguments: {logs:?}");
    assert_eq!(outputs(&e, "image_cmd")["exitCode"], 0, "no commands: the image's CMD");
    assert!(containers_of(&e).is_empty(), "containers are removed: {:?}", containers_of(&e));
    eprintln!("three docker.Run tasks took {took:?}");

    let e = h
        .run(
            r#"
id: docker_run_fails
namespace: team.containers
tasks:
  - id: run
    type: io.kestra.plugin.docker.cli.Run
    containerImage: localhost/baton-busybox:1
    commands: [/bin/sh, -c, "echo broken >&2; exit 3"]
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "broken"), "{logs:?}");
    assert!(
        logs.iter().any(|l| l.contains("exit code 3") && l.contains("localhost/baton-busybox:1")),
        "the exit code and image are named: {logs:?}"
    );
    assert!(containers_of(&e).is_empty(), "a failed container is removed too: {:?}", containers_of(&e));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_run_without_waiting_leaves_the_container_to_docker_stop() {
    let h = harness(false);
    let e = h
        .run(
            r#"
id: docker_detached
namespace: team.containers
tasks:
  - id: serve
    type: io.kestra.plugin.docker.cli.Run
    containerImage: localhost/baton-busybox:1
    commands: [sleep, "300"]
    wait: false
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{}", error_of(&e));
    let left = containers_of(&e);
    assert_eq!(left.len(), 1, "the container is left running: {left:?}");
    let id = left[0].clone();
    // Kestra's Run output: the ID to give Stop
    let cid = outputs(&e, "serve")["taskRunner"]["containerId"].as_str().expect("taskRunner.containerId").to_string();
    assert!(cid.len() == 64 && cid.starts_with(&id), "the full ID of {id}: {cid}");
    let stop = h
        .run(
            r#"
id: docker_stop
namespace: team.containers
inputs:
  - id: container
    type: STRING
tasks:
  - id: stop
    type: io.kestra.plugin.docker.Stop
    containerId: "{{ inputs.container }}"
    kill: true
"#,
            json!({"container": cid}),
        )
        .await;
    assert_eq!(stop.state.current, StateType::Success, "{}", error_of(&stop));
    assert!(!exists(&id), "killed and removed");
    // stopping it again fails naming the container
    let again = h
        .run(
            &format!(
                "id: docker_stop_again\nnamespace: team.containers\ntasks:\n  - id: stop\n    type: \
                 io.kestra.plugin.docker.cli.Stop\n    containerId: {id}\n"
            ),
            json!({}),
        )
        .await;
    assert_eq!(again.state.current, StateType::Failed);
    assert!(h.logs(&again.id).await.iter().any(|l| l.contains(&format!("cannot stop container '{id}'"))));
}

#[test]
fn docker_task_properties_baton_does_not_carry_out_are_refused_by_name() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let flow = r#"
id: bad
namespace: team.containers
tasks:
  - id: remote
    type: io.kestra.plugin.docker.Run
    containerImage: alpine
    host: tcp://docker:2375
  - id: gpu
    type: io.kestra.plugin.docker.cli.Run
    containerImage: alpine
    deviceRequests:
      - count: 1
    config: '{"auths": {}}'
  - id: runner_only
    type: io.kestra.plugin.docker.cli.Run
    containerImage: alpine
    delete: false
  - id: stop
    type: io.kestra.plugin.docker.cli.Stop
    containerId: x
    host: tcp://docker:2375
"#;
    let (_, diags) = shared::validate::validate_source("f.yaml", flow, &registry, &renderer);
    let all = diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
    for needle in [
        "tasks[0].host (task 'remote'): property 'host' of io.kestra.plugin.docker.cli.Run",
        "property 'deviceRequests' of io.kestra.plugin.docker.cli.Run",
        "property 'config' of io.kestra.plugin.docker.cli.Run",
        "unknown property 'delete' for io.kestra.plugin.docker.cli.Run",
        "property 'host' of io.kestra.plugin.docker.cli.Stop",
    ] {
        assert!(all.contains(needle), "{needle}: {all}");
    }
}

/// The image's labels, as podman reads them.
fn labels_of(image: &str) -> serde_json::Value {
    let out = Command::new("podman")
        .args(["image", "inspect", "--format", "{{json .Labels}}", image])
        .output()
        .expect("podman image inspect");
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn remove_images(images: &[&str]) {
    let _ = Command::new("podman").arg("rmi").arg("--force").args(images).output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_build_builds_from_the_working_directory_and_a_task_runs_in_the_image() {
    let h = harness(false);
    let storage = h.embedded.engine.storage.clone();
    storage.put("/team/containers/_files/conf/app.conf", Box::pin(&b"mode=prod\n"[..])).await.unwrap();
    let (inline, from_path) = ("localhost/baton-build-inline:1", "localhost/baton-build-path:1");
    remove_images(&[inline, "localhost/baton-build-inline:also", from_path]);
    let e = h
        .run(
            r#"
id: docker_build
namespace: team.containers
tasks:
  - id: build
    type: io.kestra.plugin.docker.cli.Build
    tags:
      - localhost/baton-build-inline:1
      - https://localhost/baton-build-inline:also
    pull: false
    inputFiles:
      greeting.txt: "hello from {{ flow.id }}"
    namespaceFiles:
      enabled: true
    buildArgs:
      WHO: "{{ execution.id }}"
    labels:
      team: data
    dockerfile: |
      FROM localhost/baton-busybox:1
      ARG WHO=nobody
      COPY greeting.txt /g.txt
      COPY conf/app.conf /app.conf
      RUN echo "$WHO" > /who.txt
  - id: run
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: "{{ outputs.build.imageId }}"
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      pullPolicy: NEVER
    commands:
      - cat /g.txt && echo && cat /app.conf /who.txt
  - id: from_path
    type: io.kestra.plugin.docker.Build
    tags: [localhost/baton-build-path:1]
    pull: false
    target: second
    inputFiles:
      build/Dockerfile: |
        FROM localhost/baton-busybox:1 AS first
        RUN echo first > /stage.txt
        FROM localhost/baton-busybox:1 AS second
        RUN echo second > /stage.txt
        FROM first
    dockerfile: build/Dockerfile
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{}", error_of(&e));
    let id = outputs(&e, "build")["imageId"].as_str().expect("imageId").to_string();
    assert!(id.starts_with("sha256:") && id.len() > 20, "{id}");
    let logs = h.leveled_logs(&e.id).await;
    let has = |msg: &str| logs.iter().any(|(l, m)| l == "INFO" && m == msg);
    assert!(has("hello from docker_build"), "the input file is in the image: {logs:?}");
    assert!(has("mode=prod"), "the namespace file is in the image: {logs:?}");
    assert!(has(&e.id), "the build argument reached RUN: {logs:?}");
    assert!(logs.iter().any(|(_, m)| m.contains("COPY greeting.txt /g.txt")), "the build's output is logged: {logs:?}");
    assert_eq!(labels_of(inline)["team"], "data");
    assert_eq!(labels_of("localhost/baton-build-inline:also")["team"], "data", "every tag, scheme removed");
    // `dockerfile` naming a file of the working directory, built to its `target` stage
    let stage = Command::new("podman").args(["run", "--rm", from_path, "cat", "/stage.txt"]).output().expect("run");
    assert_eq!(String::from_utf8_lossy(&stage.stdout), "second\n");
    remove_images(&[inline, "localhost/baton-build-inline:also", from_path]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_build_failures_name_the_image_or_the_tag_and_the_engine_s_reason() {
    let h = harness(false);
    let pushed = "localhost:1/baton-build/push:1";
    remove_images(&[pushed]);
    let e = h
        .run(
            r#"
id: docker_build_fails
namespace: team.containers
tasks:
  - id: build
    type: io.kestra.plugin.docker.cli.Build
    tags: [localhost/baton-build-broken:1]
    pull: false
    dockerfile: |
      FROM localhost/baton-busybox:1
      RUN exit 3
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = error_of(&e);
    assert!(err.contains("cannot build image 'localhost/baton-build-broken:1'"), "{err}");
    let e = h
        .run(
            r#"
id: docker_push_fails
namespace: team.containers
tasks:
  - id: build
    type: io.kestra.plugin.docker.cli.Build
    tags: [localhost:1/baton-build/push:1]
    pull: false
    push: true
    credentials:
      username: someone
      password: "{{ 'not' ~ '-a-secret' }}"
    dockerfile: FROM localhost/baton-busybox:1
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = error_of(&e);
    assert!(err.contains("cannot push 'localhost:1/baton-build/push:1'") && err.contains("localhost:1"), "{err}");
    remove_images(&[pushed]);
    // no credentials file is left beside the working directories
    let work = h.embedded.engine.work_root.clone();
    let left: Vec<_> = walk(&work).into_iter().filter(|p| p.contains("docker-auth") || p.ends_with(".iid")).collect();
    assert!(left.is_empty(), "{left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        out.push(p.display().to_string());
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_tag_names_a_built_image_and_push_sends_each_tag() {
    let h = harness(false);
    let (built, tagged) = ("localhost/baton-tag-src:1", "localhost:1/baton-tag/promoted:prod");
    remove_images(&[built, tagged]);
    let e = h
        .run(
            r#"
id: docker_tag_push
namespace: team.containers
tasks:
  - id: build
    type: io.kestra.plugin.docker.cli.Build
    tags: [localhost/baton-tag-src:1]
    pull: false
    dockerfile: FROM localhost/baton-busybox:1
  - id: tag
    type: io.kestra.plugin.docker.Tag
    sourceImage: "{{ outputs.build.imageId }}"
    targetImage: localhost:1/baton-tag/promoted:prod
  - id: push
    type: io.kestra.plugin.docker.Push
    tags: [localhost:1/baton-tag/promoted:prod]
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed, "the registry does not answer");
    let exists = Command::new("podman").args(["image", "exists", tagged]).status().is_ok_and(|s| s.success());
    assert!(exists, "Tag named the image");
    let err = error_of(&e);
    assert!(err.contains("cannot push 'localhost:1/baton-tag/promoted:prod'") && err.contains("localhost:1"), "{err}");
    let logs = h.leveled_logs(&e.id).await;
    assert!(
        logs.iter()
            .any(|(_, m)| m.starts_with("Tagged 'sha256:") && m.ends_with("as 'localhost:1/baton-tag/promoted:prod'")),
        "{logs:?}"
    );
    remove_images(&[built, tagged]);
}
