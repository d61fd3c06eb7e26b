//! Script tasks end to end: shell and python `Commands`/`Script` on the
//! Process runner (input, output and namespace files, `{{workingDir}}`,
//! `::{"outputs"}::` vars, exit codes, stderr → WARNING, timeouts), the
//! seed's `wget … | gunzip` extract, and the Docker runner's behaviour with
//! no engine (clear failure, or the configured fallback) and with a stand-in
//! `docker` CLI that records how it was called.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::json;
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::plugins::scripts::{DockerFallback, ScriptsConfig};

use base64::Engine;
use shared::runtime::secrets::Secrets;

use crate::support::{harness, harness_with, harness_with_plugins, runs, serve};

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

fn output<'a>(e: &'a shared::model::Execution, task: &str) -> &'a serde_json::Map<String, serde_json::Value> {
    runs(e, task)[0].outputs.as_ref().expect("outputs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_commands_pass_files_in_and_out_and_emit_vars() {
    let h = harness();
    let e = h
        .run(
            r#"
id: files
namespace: test
tasks:
  - id: make
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: ["*.csv"]
    commands:
      - printf 'id,name\n1,a\n2,b\n' > people.csv
  - id: use
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    env:
      GREETING: "hello {{ flow.id }}"
    inputFiles:
      data/people.csv: "{{ outputs.make.outputFiles['people.csv'] }}"
      note.txt: "a literal note"
    outputFiles:
      - "*.txt"
      - "**.json"
    commands:
      - echo "$GREETING from $(pwd)"
      - test "$(pwd)" = "{{ workingDir }}"
      - tail -n +2 data/people.csv | wc -l | tr -d ' ' > count.txt
      - "mkdir -p out && echo '{\"n\": 1}' > out/result.json"
      - echo "::{\"outputs\":{\"rows\":$(cat count.txt),\"dir\":\"{{ workingDir }}\"}}::"
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "rows={{ outputs.use.vars.rows }} count={{ read(outputs.use.outputFiles['count.txt']) | trim }}"
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = output(&e, "use");
    assert_eq!(out["exitCode"], 0);
    assert_eq!(out["vars"]["rows"], 2);
    let files = out["outputFiles"].as_object().unwrap();
    let mut keys: Vec<&str> = files.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, vec!["count.txt", "note.txt", "out/result.json"]);
    assert_eq!(h.read_storage(files["note.txt"].as_str().unwrap()).await, b"a literal note");
    assert_eq!(h.read_storage(files["out/result.json"].as_str().unwrap()).await, b"{\"n\": 1}\n");
    let uri = files["count.txt"].as_str().unwrap();
    assert!(uri.starts_with("kestra:///test/files/executions/"), "{uri}");
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.starts_with("hello files from ")), "{logs:?}");
    assert!(logs.iter().any(|l| l == "rows=2 count=2"), "{logs:?}");
    assert!(!logs.iter().any(|l| l.starts_with("::{")), "protocol lines are not logged: {logs:?}");
    // the working directory is removed once the task ends
    let dir = out["vars"]["dir"].as_str().unwrap();
    assert!(dir.starts_with(h.home.to_str().unwrap()), "{dir}");
    assert!(!Path::new(dir).exists(), "{dir} should be removed");
}

/// A `kestra://` URI written in `beforeCommands` or `commands` is, as in
/// Kestra, a file copied into the working directory before the commands run:
/// the command names the copy (with the file's own name), the copy is not an
/// output file, and a URI of another namespace's execution is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestra_uris_in_commands_are_local_files() {
    let h = harness();
    let e = h
        .run(
            r#"
id: uris
namespace: test
tasks:
  - id: make
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: ["*.csv"]
    commands:
      - printf 'id,name\n1,a\n2,b\n' > people.csv
  - id: use
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: ["**"]
    beforeCommands:
      - test -f {{ outputs.make.outputFiles['people.csv'] }}
    commands:
      - tail -n +2 {{ outputs.make.outputFiles['people.csv'] }} | wc -l | tr -d ' ' > rows.txt
      - cat "{{ outputs.make.outputFiles['people.csv'] }}" | head -n 1 > header.txt
      - echo "::{\"outputs\":{\"name\":\"$(basename {{ outputs.make.outputFiles['people.csv'] }})\"}}::"
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let out = output(&e, "use");
    let files = out["outputFiles"].as_object().unwrap();
    let mut keys: Vec<&str> = files.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, vec!["header.txt", "rows.txt"], "the copy is not an output");
    assert_eq!(h.read_storage(files["rows.txt"].as_str().unwrap()).await, b"2\n");
    assert_eq!(h.read_storage(files["header.txt"].as_str().unwrap()).await, b"id,name\n");
    let name = out["vars"]["name"].as_str().unwrap_or_default();
    assert!(name.starts_with(".kestra-file-0-") && name.ends_with("people.csv"), "{name}");

    // a file of another namespace's execution is not this execution's to read
    let other = output(&e, "make")["outputFiles"]["people.csv"].as_str().unwrap().to_string();
    let e = h
        .run(
            &format!(
                "id: thief\nnamespace: elsewhere\ntasks:\n  - id: t\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    commands:\n      - cat {other}\n"
            ),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = e.error.unwrap_or_default();
    assert!(err.contains("commands"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_extract_downloads_and_gunzips_with_wget() {
    let csv = "VendorID,lpep_pickup_datetime,total_amount\n2,2019-01-01 00:10:16,9.8\n1,2019-01-01 00:27:11,20.3\n";
    let mut gz = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    gz.stdin.take().unwrap().write_all(csv.as_bytes()).unwrap();
    let gz = gz.wait_with_output().unwrap().stdout;
    let base = serve(gz, 200).await;
    let h = harness();
    let e = h
        .run(
            r#"
id: taxi
namespace: zoomcamp
inputs:
  - id: taxi
    type: SELECT
    values: [yellow, green]
    defaults: green
  - id: base
    type: STRING
variables:
  file: "{{inputs.taxi}}_tripdata_2019-01.csv"
tasks:
  - id: extract
    type: io.kestra.plugin.scripts.shell.Commands
    outputFiles:
      - "*.csv"
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    env:
      no_proxy: "*"
    commands:
      - wget -qO- {{ inputs.base }}/{{inputs.taxi}}/{{render(vars.file)}}.gz | gunzip > {{render(vars.file)}}
  - id: uri
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.extract.outputFiles[inputs.taxi ~ '_tripdata_' ~ '2019-01' ~ '.csv'] }}"
"#,
            json!({"base": base}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let uri = output(&e, "uri")["value"].as_str().unwrap().to_string();
    assert!(uri.ends_with("-green_tripdata_2019-01.csv"), "{uri}");
    assert_eq!(h.read_storage(&uri).await, csv.as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_script_emits_outputs_and_writes_files() {
    let h = harness();
    let e = h
        .run(
            r#"
id: py
namespace: test
tasks:
  - id: transform
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    containerImage: python:3.11-slim
    env:
      COLUMNS_TO_KEEP: '["brand","price"]'
    inputFiles:
      data.json: '[{"brand": "a", "price": 1, "x": 0}, {"brand": "b", "price": 2, "x": 0}]'
    outputFiles:
      - products.json
    script: |
      import json, os
      cols = json.loads(os.environ["COLUMNS_TO_KEEP"])
      rows = [{k: r[k] for k in cols} for r in json.load(open("data.json"))]
      json.dump(rows, open("products.json", "w"))
      print("kept", cols)
      print("::" + json.dumps({"outputs": {"count": len(rows), "total": sum(r["price"] for r in rows)}}) + "::")
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = output(&e, "transform");
    assert_eq!(out["vars"], json!({"count": 2, "total": 3}));
    let uri = out["outputFiles"]["products.json"].as_str().unwrap();
    let stored: serde_json::Value = serde_json::from_slice(&h.read_storage(uri).await).unwrap();
    assert_eq!(stored, json!([{"brand": "a", "price": 1}, {"brand": "b", "price": 2}]));
    assert_eq!(out["outputFiles"].as_object().unwrap().len(), 1, "the script file is not an output");
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "kept ['brand', 'price']"), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_commands_find_python_and_shell_script_runs() {
    let h = harness();
    let e = h
        .run(
            r#"
id: pyc
namespace: test
tasks:
  - id: cmd
    type: io.kestra.plugin.scripts.python.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    inputFiles:
      main.py: |
        import sys
        print("python", sys.version_info[0])
    commands:
      - python main.py
  - id: sh
    type: io.kestra.plugin.scripts.shell.Script
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    beforeCommands:
      - export WHO=script
    script: |
      for i in 1 2; do echo "line $i from $WHO"; done
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "python 3"), "{logs:?}");
    assert!(logs.iter().any(|l| l == "line 2 from script"), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_names_its_exit_code_and_stderr() {
    let h = harness();
    let e = h
        .run(
            r#"
id: fails
namespace: test
tasks:
  - id: boom
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo starting
      - 'echo "gunzip: stdin: not in gzip format" >&2'
      - exit 3
      - echo never
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "boom")[0].attempts[0].state.current;
    assert_eq!(err, StateType::Failed);
    let logs = h.leveled_logs(&e.id).await;
    let failure = logs.iter().find(|(_, m)| m.contains("exit code 3")).expect("failure logged");
    assert!(failure.1.contains("gunzip: stdin: not in gzip format"), "{failure:?}");
    assert!(logs.iter().any(|(l, m)| l == "ERROR" && m == "gunzip: stdin: not in gzip format"), "{logs:?}");
    assert!(!logs.iter().any(|(_, m)| m == "never"), "commands stop at the first failure (failFast)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stderr_output_ends_in_warning_unless_disabled() {
    let h = harness();
    let e = h
        .run(
            r#"
id: warns
namespace: test
tasks:
  - id: noisy
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo "careful" >&2
  - id: quiet
    type: io.kestra.plugin.scripts.shell.Commands
    warningOnStdErr: false
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo "careful" >&2
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Warning, "{:?}", e.error);
    assert_eq!(runs(&e, "noisy")[0].state.current, StateType::Warning);
    assert_eq!(runs(&e, "quiet")[0].state.current, StateType::Success);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_files_are_copied_into_the_working_dir() {
    let h = harness();
    let put = |path: &'static str, body: &'static [u8]| {
        let storage = h.embedded.engine.storage.clone();
        async move { storage.put(path, Box::pin(body)).await.unwrap() }
    };
    put("/team/etl/_files/queries/a.sql", b"select 1;").await;
    put("/team/etl/_files/queries/skip.sql", b"select 2;").await;
    put("/team/etl/_files/readme.md", b"doc").await;
    let e = h
        .run(
            r#"
id: nsfiles
namespace: team.etl
tasks:
  - id: ls
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    namespaceFiles:
      enabled: true
      include: ["queries/*.sql"]
      exclude: ["**/skip.sql"]
    commands:
      - find . -type f | sort
      - cat queries/a.sql
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "./queries/a.sql"), "{logs:?}");
    assert!(logs.iter().any(|l| l == "select 1;"), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains("skip.sql") || l.contains("readme.md")), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_kills_the_whole_process_group() {
    let h = harness();
    let marker = std::env::temp_dir().join(format!("baton-pid-{}", uuid::Uuid::new_v4()));
    let e = h
        .run(
            r#"
id: slow
namespace: test
inputs:
  - id: marker
    type: STRING
tasks:
  - id: sleeper
    type: io.kestra.plugin.scripts.shell.Commands
    timeout: PT1S
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - sleep 300 &
      - echo $! > {{ inputs.marker }}
      - wait
"#,
            json!({"marker": marker.display().to_string()}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let pid = std::fs::read_to_string(&marker).expect("pid written").trim().to_string();
    let _ = std::fs::remove_file(&marker);
    // the background `sleep` dies with its group (or lingers only as a zombie)
    let mut alive = true;
    for _ in 0..100 {
        alive = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => false,
            Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        };
        if !alive {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!alive, "background process {pid} survived the timeout");
}

/// Builds a tiny pure-Python wheel in `dir` (no network needed to install it).
fn tiny_wheel(dir: &Path) -> PathBuf {
    let wheel = dir.join("batonhello-1.0-py3-none-any.whl");
    let script = format!(
        r#"
import zipfile
with zipfile.ZipFile({path:?}, "w") as z:
    z.writestr("batonhello/__init__.py", "def greet():\n    return 'hello from a wheel'\n")
    z.writestr("batonhello-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: batonhello\nVersion: 1.0\n")
    z.writestr("batonhello-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: baton-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("batonhello-1.0.dist-info/RECORD", "")
"#,
        path = wheel.display().to_string()
    );
    let ok = std::process::Command::new("python3").args(["-c", &script]).status().expect("python3");
    assert!(ok.success());
    wheel
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_dependencies_install_once_into_a_cached_virtualenv() {
    let h = harness();
    let wheel = tiny_wheel(&std::env::temp_dir());
    let yaml = format!(
        r#"
id: deps
namespace: test
tasks:
  - id: use_dep
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    dependencies:
      - {wheel}
    script: |
      import batonhello, sys
      print(batonhello.greet(), "in", sys.prefix)
"#,
        wheel = wheel.display()
    );
    let first = h.run(&yaml, json!({})).await;
    assert_eq!(first.state.current, StateType::Success, "{:?}", first.error);
    let second = h.run(&yaml, json!({})).await;
    assert_eq!(second.state.current, StateType::Success, "{:?}", second.error);
    let _ = std::fs::remove_file(&wheel);
    let logs1 = h.logs(&first.id).await;
    let logs2 = h.logs(&second.id).await;
    let cache = h.home.join("cache").join("python-venvs");
    assert!(
        logs1.iter().any(|l| l.starts_with("hello from a wheel in ") && l.contains(cache.to_str().unwrap())),
        "{logs1:?}"
    );
    assert!(logs1.iter().any(|l| l.starts_with("Installing Python dependencies")), "{logs1:?}");
    assert!(!logs2.iter().any(|l| l.starts_with("Installing Python dependencies")), "cached: {logs2:?}");
    assert!(logs2.iter().any(|l| l.starts_with("hello from a wheel in ")), "{logs2:?}");
}

/// A relative `BATON_HOME` is the same folder for every task: `baton run`
/// resolves it once, so a Python task's virtualenv lands under it (it used
/// to land at a doubled path, relative to the task's working directory).
#[test]
fn a_relative_baton_home_holds_the_python_virtualenv() {
    let dir = std::env::temp_dir().join(format!("baton-relhome-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let wheel = tiny_wheel(&dir);
    let flow = dir.join("deps.yaml");
    let yaml = format!(
        "id: deps\nnamespace: test\ntasks:\n  - id: use_dep\n    type: io.kestra.plugin.scripts.python.Script\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    dependencies:\n      - {}\n    script: |\n      import batonhello, sys\n      print(batonhello.greet(), 'in', sys.prefix)\n",
        wheel.display()
    );
    std::fs::write(&flow, yaml).expect("flow");
    let out = std::process::Command::new(crate::support::baton_bin())
        .current_dir(&dir)
        .env("BATON_HOME", "rel-home")
        .env_remove("BATON_CACHE_DIR")
        .args(["run", "deps.yaml"])
        .output()
        .expect("baton run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let venvs = dir.join("rel-home").join("cache").join("python-venvs");
    assert!(venvs.is_dir(), "the virtualenv is under the home: {stderr}");
    assert!(stderr.contains(&format!("hello from a wheel in {}", venvs.display())), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_printed_by_a_script_are_masked() {
    let secret = base64::engine::general_purpose::STANDARD.encode("s3cr3t-token");
    let h = harness_with(Secrets::from_vars([("SECRET_API_TOKEN".to_string(), secret)]));
    let e = h
        .run(
            r#"
id: masked
namespace: test
tasks:
  - id: leak
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    env:
      TOKEN: "{{ secret('API_TOKEN') }}"
    commands:
      - echo "token=$TOKEN"
      - echo "bad token $TOKEN" >&2
      - exit 1
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l == "token=******"), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains("s3cr3t-token")), "{logs:?}");
    let err = e.error.as_deref().unwrap_or_default().to_string();
    let attempt_errors: Vec<String> = runs(&e, "leak").iter().map(|t| format!("{:?}", t.outputs)).collect();
    assert!(!err.contains("s3cr3t-token") && !attempt_errors.iter().any(|x| x.contains("s3cr3t-token")), "{err}");
    assert!(logs.iter().any(|l| l.contains("exit code 1") && l.contains("bad token ******")), "{logs:?}");
}

/// The tool plugins' CLI tasks are shell `Commands` tasks: on the Process
/// runner they run their commands with the plugin's settings turned into
/// what the tool reads — AwsCLI's credentials and region as the CLI's
/// environment, AnsibleCLI's `ansibleConfig` as `ansible.cfg` with
/// ANSIBLE_CONFIG; TerraformCLI's outputs as a script task's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_tasks_run_as_shell_commands_with_their_settings() {
    let h = harness();
    let e = h
        .run(
            r#"
id: clis
namespace: test
tasks:
  - id: aws
    type: io.kestra.plugin.aws.cli.AwsCLI
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    accessKeyId: AKIAEXAMPLE
    region: eu-west-3
    endpointOverride: http://127.0.0.1:9
    commands:
      - echo "::{\"outputs\":{\"key\":\"$AWS_ACCESS_KEY_ID\",\"region\":\"$AWS_DEFAULT_REGION\",\"endpoint\":\"$AWS_ENDPOINT_URL\"}}::"
  - id: ansible
    type: io.kestra.plugin.ansible.cli.AnsibleCLI
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    ansibleConfig: |
      [defaults]
      stdout_callback = yaml
    commands:
      - test "$ANSIBLE_CONFIG" = "$PWD/ansible.cfg"
      - echo "::{\"outputs\":{\"cfg\":\"$(head -n 1 ansible.cfg)\"}}::"
  - id: terraform
    type: io.kestra.plugin.terraform.cli.TerraformCLI
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: ["plan.txt"]
    commands:
      - echo planned > plan.txt
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let aws = output(&e, "aws");
    assert_eq!(aws["vars"], json!({"key": "AKIAEXAMPLE", "region": "eu-west-3", "endpoint": "http://127.0.0.1:9"}));
    assert_eq!(output(&e, "ansible")["vars"]["cfg"], "[defaults]");
    let plan = output(&e, "terraform")["outputFiles"]["plan.txt"].as_str().unwrap().to_string();
    assert_eq!(h.read_storage(&plan).await, b"planned\n");
    // a setting the plugin does not have is refused, naming it
    let (_, diags) = shared::validate::validate_source(
        "f.yaml",
        "id: f\nnamespace: t\ntasks:\n  - id: a\n    type: io.kestra.plugin.aws.cli.AwsCLI\n    commands: [aws s3 ls]\n    outputFormat: JSON\n",
        &shared::plugins::Registry::builtin(),
        &shared::template::Renderer::new(),
    );
    assert!(diags.iter().any(|d| d.message.contains("unknown property 'outputFormat'")), "{diags:?}");
    // `targetOS`: Baton's commands run on Linux; WINDOWS is refused, naming it
    let (_, diags) = shared::validate::validate_source(
        "f.yaml",
        "id: f\nnamespace: t\ntasks:\n  - id: a\n    type: io.kestra.plugin.scripts.shell.Commands\n    targetOS: LINUX\n    commands: [ls]\n  - id: b\n    type: io.kestra.plugin.scripts.shell.Commands\n    targetOS: WINDOWS\n    commands: [dir]\n",
        &shared::plugins::Registry::builtin(),
        &shared::template::Renderer::new(),
    );
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0].message.contains("'WINDOWS' is not one of LINUX, AUTO"), "{diags:?}");
}

/// `taskCache`: a second run of the same task with the same rendered
/// properties within `ttl` takes the first run's outputs (files included)
/// and does not run; other properties, or a run after `ttl`, run again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_cache_reuses_outputs_within_its_ttl() {
    let h = harness();
    let flow = |ttl: &str| {
        format!(
            r#"
id: cached
namespace: test
inputs:
  - id: day
    type: STRING
tasks:
  - id: extract
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    taskCache:
      enabled: true
      ttl: {ttl}
    outputFiles: ["data.txt"]
    commands:
      - echo "{{{{ inputs.day }}}} $(date +%s%N)" > data.txt
      - echo "::{{\"outputs\":{{\"stamp\":\"$(cat data.txt)\"}}}}::"
  - id: read
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ read(outputs.extract.outputFiles['data.txt']) | trim }}}}"
"#
        )
    };
    let run = |yaml: String, day: &'static str| {
        let h = &h;
        async move {
            let e = h.run(&yaml, json!({"day": day})).await;
            assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
            let stamp = output(&e, "extract")["vars"]["stamp"].as_str().unwrap_or_default().to_string();
            let logs = h.logs(&e.id).await;
            (stamp, logs)
        }
    };
    let (first, _) = run(flow("PT1H"), "mon").await;
    let (second, logs) = run(flow("PT1H"), "mon").await;
    assert_eq!(first, second, "the cached outputs");
    assert!(logs.iter().any(|l| l.starts_with("taskCache: outputs taken from the run of")), "{logs:?}");
    assert!(logs.iter().any(|l| l == &first), "the cached file is read: {logs:?}");
    let (other, _) = run(flow("PT1H"), "tue").await;
    assert_ne!(other, first, "other properties run again");
    // a short ttl: the cached run expires
    let (a, _) = run(flow("PT1S"), "wed").await;
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let (b, _) = run(flow("PT1S"), "wed").await;
    assert_ne!(a, b, "expired");
}
