//! The Docker task runner on a real engine: podman, configured for this
//! sandbox by scripts/setup/podman.sh, with images built locally (no
//! registry): `localhost/baton-busybox:1` for the fast cases and
//! `localhost/baton-python:3` (Debian + python3) for the realistic one.
//! Files in and out, `{{ workingDir }}`/`{{ outputDir }}`, env, user,
//! resources, exit codes and stderr, pull failures, timeouts that stop the
//! container, host volumes refused unless enabled, output links confined.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use shared::model::{Execution, StateType};
use shared::plugins::PluginConfig;
use shared::plugins::scripts::ScriptsConfig;

use crate::support::{Harness, harness_with_plugins, runs};

const BUSYBOX: &str = "localhost/baton-busybox:1";
const PYTHON: &str = "localhost/baton-python:3";

/// podman with both test images, or a panic saying how to get them.
pub(crate) fn podman() -> PathBuf {
    for image in [BUSYBOX, PYTHON] {
        let ok = Command::new("podman").args(["image", "exists", image]).status().is_ok_and(|s| s.success());
        assert!(ok, "podman or the image {image} is missing: run `source scripts/setup/podman.sh` (apt-get, as root)");
    }
    PathBuf::from("podman")
}

pub(crate) fn harness(volumes: bool) -> Harness {
    harness_with_plugins(PluginConfig {
        scripts: ScriptsConfig { docker_bin: podman(), docker_volume_enabled: volumes, ..ScriptsConfig::default() },
        ..PluginConfig::default()
    })
}

/// Containers (running or not) labelled with this execution.
pub(crate) fn containers_of(e: &Execution) -> Vec<String> {
    let out = Command::new("podman")
        .args(["ps", "-a", "-q", "--filter", &format!("label=kestra.io/execution-id={}", e.id)])
        .output()
        .expect("podman ps");
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect()
}

pub(crate) fn outputs<'a>(e: &'a Execution, task: &str) -> &'a serde_json::Map<String, serde_json::Value> {
    runs(e, task)[0].outputs.as_ref().expect("outputs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shell_task_runs_in_a_container_with_files_env_user_and_limits() {
    let h = harness(false);
    let storage = h.embedded.engine.storage.clone();
    storage.put("/team/containers/_files/queries/a.sql", Box::pin(&b"select 1;"[..])).await.unwrap();
    let e = h
        .run(
            r#"
id: in_podman
namespace: team.containers
tasks:
  - id: make
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: localhost/baton-busybox:1
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      user: "1000"
      cpu:
        cpus: 0.5
      memory:
        memory: 64MB
    env:
      GREETING: "hello from {{ flow.id }}"
    inputFiles:
      data/people.csv: "id,name\n1,a\n2,b\n"
    namespaceFiles:
      enabled: true
    outputFiles: ["*.txt"]
    commands:
      - echo "$GREETING as $(id -u)"
      - cat queries/a.sql && echo
      - test "$(pwd)" = "{{ workingDir }}" && test "$WORKING_DIR" = "{{ workingDir }}"
      - tail -n +2 data/people.csv | wc -l | tr -d ' ' > count.txt
      - echo report > {{ outputDir }}/report.txt
      - cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes
      - echo "::{\"outputs\":{\"rows\":$(cat count.txt)}}::"
  - id: use
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: localhost/baton-busybox:1
    inputFiles:
      in.txt: "{{ outputs.make.outputFiles['count.txt'] }}"
    commands:
      - echo "rows=$(cat in.txt) vars={{ outputs.make.vars.rows }}"
      - echo "a warning" >&2
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Warning, "{:?}", e.error);
    let out = outputs(&e, "make");
    assert_eq!(out["exitCode"], 0);
    assert_eq!(out["vars"]["rows"], 2);
    let files = out["outputFiles"].as_object().unwrap();
    assert_eq!(h.read_storage(files["count.txt"].as_str().unwrap()).await, b"2\n");
    assert_eq!(h.read_storage(files["report.txt"].as_str().unwrap()).await, b"report\n");
    let logs = h.leveled_logs(&e.id).await;
    let has = |level: &str, msg: &str| logs.iter().any(|(l, m)| l == level && m == msg);
    assert!(has("INFO", "hello from in_podman as 1000"), "{logs:?}");
    assert!(has("INFO", &(64u64 << 20).to_string()), "memory limit applied: {logs:?}");
    assert!(has("INFO", "rows=2 vars=2"), "{logs:?}");
    assert!(has("INFO", "select 1;"), "namespace files are in the container's working dir: {logs:?}");
    assert!(has("ERROR", "a warning"), "stderr at ERROR, task in WARNING: {logs:?}");
    assert!(containers_of(&e).is_empty(), "containers are removed: {:?}", containers_of(&e));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_script_runs_in_a_debian_image() {
    let h = harness(false);
    let e = h
        .run(
            r#"
id: py_podman
namespace: team.containers
tasks:
  - id: transform
    type: io.kestra.plugin.scripts.python.Script
    containerImage: localhost/baton-python:3
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      pullPolicy: NEVER
    env:
      COLUMNS_TO_KEEP: '["brand","price"]'
    inputFiles:
      data.json: '[{"brand": "a", "price": 1, "x": 0}, {"brand": "b", "price": 2, "x": 0}]'
    outputFiles:
      - products.json
    script: |
      import json, os, sys
      cols = json.loads(os.environ["COLUMNS_TO_KEEP"])
      rows = [{k: r[k] for k in cols} for r in json.load(open("data.json"))]
      json.dump(rows, open("products.json", "w"))
      print("python", sys.version_info[0], "in", sys.prefix)
      print("::" + json.dumps({"outputs": {"count": len(rows)}}) + "::")
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = outputs(&e, "transform");
    assert_eq!(out["vars"], json!({"count": 2}));
    let stored: serde_json::Value =
        serde_json::from_slice(&h.read_storage(out["outputFiles"]["products.json"].as_str().unwrap()).await).unwrap();
    assert_eq!(stored, json!([{"brand": "a", "price": 1}, {"brand": "b", "price": 2}]));
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "python 3 in /usr"), "the image's python, not the host's: {logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_name_the_image_and_the_cause() {
    let h = harness(false);
    let e = h
        .run(
            r#"
id: failing
namespace: team.containers
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: exits
        type: io.kestra.plugin.scripts.shell.Commands
        containerImage: localhost/baton-busybox:1
        commands:
          - 'echo "gunzip: stdin: not in gzip format" >&2'
          - exit 3
      - id: no_image
        type: io.kestra.plugin.scripts.shell.Commands
        containerImage: localhost/baton-missing:0
        taskRunner:
          type: io.kestra.plugin.scripts.runner.docker.Docker
          pullPolicy: NEVER
        commands: [echo never]
      - id: no_pull
        type: io.kestra.plugin.scripts.shell.Commands
        containerImage: 127.0.0.1:9/baton/missing:0
        commands: [echo never]
      - id: oom
        type: io.kestra.plugin.scripts.shell.Commands
        containerImage: localhost/baton-busybox:1
        taskRunner:
          type: io.kestra.plugin.scripts.runner.docker.Docker
          memory:
            memory: 16MB
        commands:
          - head -c 200m /dev/zero | sort > /dev/null
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    for task in ["exits", "no_image", "no_pull", "oom"] {
        assert_eq!(runs(&e, task)[0].state.current, StateType::Failed, "{task}");
    }
    let logs = h.logs(&e.id).await;
    let find = |needle: &str| logs.iter().find(|l| l.contains(needle)).cloned().unwrap_or_default();
    let exits = find("exit code 3");
    assert!(exits.contains("localhost/baton-busybox:1") && exits.contains("not in gzip format"), "{logs:?}");
    let missing = find("could not run image 'localhost/baton-missing:0'");
    assert!(missing.contains("image not known"), "{logs:?}");
    let pull = find("cannot pull image '127.0.0.1:9/baton/missing:0'");
    assert!(pull.contains("IF_NOT_PRESENT") && pull.contains("connection refused"), "{logs:?}");
    let oom = find("exit code 137");
    assert!(oom.contains("out of memory") && oom.contains(&(16u64 << 20).to_string()), "{logs:?}");
    assert!(containers_of(&e).is_empty(), "{:?}", containers_of(&e));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_stops_and_removes_the_container() {
    let h = harness(false);
    let started = std::time::Instant::now();
    let e = h
        .run(
            r#"
id: slow
namespace: team.containers
tasks:
  - id: sleeper
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: localhost/baton-busybox:1
    timeout: PT2S
    commands:
      - sleep 300
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    let mut left = containers_of(&e);
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = containers_of(&e);
    }
    assert!(left.is_empty(), "the container outlived its task: {left:?}");
}

/// Killing the execution stops its running container task at once: the
/// container is stopped and removed, the task run ends KILLED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_stops_and_removes_the_running_container() {
    let h = harness(false);
    let flow = h.flow(
        "id: killme\nnamespace: team.containers\ntasks:\n  - id: sleeper\n    type: io.kestra.plugin.scripts.shell.Commands\n    containerImage: localhost/baton-busybox:1\n    commands:\n      - sleep 300\n",
    );
    let updates = h.embedded.updates();
    let exec = h.embedded.launch(&flow, shared::runtime::launcher::LaunchRequest::default()).await.expect("launch");
    let mut started = false;
    for _ in 0..300 {
        if !containers_of(&exec).is_empty() {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(started, "the container never started");
    let killed_at = std::time::Instant::now();
    h.embedded.kill(&exec.id).await.expect("kill");
    let done = h.embedded.wait(&exec.id, updates, |_| {}).await.expect("wait");
    assert_eq!(done.state.current, StateType::Killed);
    let mut left = containers_of(&exec);
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = containers_of(&exec);
    }
    assert!(left.is_empty(), "the container outlived the kill: {left:?}");
    assert!(killed_at.elapsed() < Duration::from_secs(30), "{:?}", killed_at.elapsed());
    let logs = h.logs(&exec.id).await;
    assert!(logs.iter().any(|l| l.contains("the execution was killed")), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_volumes_need_the_operator_setting() {
    let flow = |host: &str| {
        format!(
            r#"
id: volumes
namespace: team.containers
tasks:
  - id: mount
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: localhost/baton-busybox:1
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      volumes: ["{host}:/host:ro"]
    commands:
      - cat /host/hello.txt
"#
        )
    };
    let dir = std::env::temp_dir().join(format!("baton-volume-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), "from the host").unwrap();

    let refused = harness(false);
    let e = refused.run(&flow("/"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = refused.logs(&e.id).await;
    assert!(
        logs.iter().any(|l| l.contains("taskRunner.volumes") && l.contains("/:/host") && l.contains("volume-enabled")),
        "{logs:?}"
    );
    assert!(containers_of(&e).is_empty());

    let allowed = harness(true);
    let e = allowed.run(&flow(dir.to_str().unwrap()), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert!(allowed.logs(&e.id).await.iter().any(|l| l == "from the host"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_files_do_not_follow_links_out_of_the_working_dir() {
    let h = harness(false);
    let flow = |runner: &str| {
        format!(
            r#"
id: links
namespace: team.containers
tasks:
  - id: link
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: localhost/baton-busybox:1
    taskRunner:
      type: {runner}
    outputFiles: ["*.txt"]
    commands:
      - echo inside > a.txt
      - ln -s a.txt same.txt
      - ln -s /etc/passwd leak.txt
"#
        )
    };
    for runner in ["io.kestra.plugin.scripts.runner.docker.Docker", "io.kestra.plugin.core.runner.Process"] {
        let e = h.run(&flow(runner), json!({})).await;
        assert_eq!(e.state.current, StateType::Failed, "{runner}");
        let logs = h.logs(&e.id).await;
        assert!(
            logs.iter().any(|l| l.contains("'leak.txt'") && l.contains("outside the working directory")),
            "{runner}: {logs:?}"
        );
    }
    // a link inside the working directory is an ordinary output
    let ok = flow("io.kestra.plugin.scripts.runner.docker.Docker").replace("      - ln -s /etc/passwd leak.txt\n", "");
    let e = h.run(&ok, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let files = outputs(&e, "link")["outputFiles"].as_object().unwrap().clone();
    assert_eq!(h.read_storage(files["a.txt"].as_str().unwrap()).await, b"inside\n");
    assert_eq!(h.read_storage(files["same.txt"].as_str().unwrap()).await, b"inside\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_docker_cli_without_an_engine_falls_back_to_podman() {
    podman();
    // `docker` (the default) is either missing here or has no daemon
    let h = harness_with_plugins(PluginConfig::default());
    let e = h
        .run(
            r#"
id: default_cli
namespace: team.containers
tasks:
  - id: hi
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: localhost/baton-busybox:1
    commands:
      - echo hi from busybox
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "Running in container image 'localhost/baton-busybox:1' (podman)"), "{logs:?}");
    assert!(logs.iter().any(|l| l == "hi from busybox"), "{logs:?}");
}
