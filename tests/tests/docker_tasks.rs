//! Kestra's Docker plugin tasks `io.kestra.plugin.docker.cli.Run` and
//! `cli.Stop` (and their old names `docker.Run`/`docker.Stop`) on podman
//! with the local test images (see `containers`): the container's own
//! entrypoint, arguments as written, env, output files, `::{"outputs"}::`
//! vars and logs; a failing command's exit code; `wait: false` leaving the
//! container running until `Stop` kills and removes it (given the ID `Run`
//! outputs as `taskRunner.containerId`); the refusals.

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
