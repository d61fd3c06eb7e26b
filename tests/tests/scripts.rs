//! Script tasks end to end: shell and python `Commands`/`Script` on the
//! Process runner (input, output and namespace files, `{{workingDir}}`,
//! `::{"outputs"}::` vars, exit codes, stderr → WARNING, timeouts), the
//! seed's `wget … | gunzip` extract, masked secrets, and the tool plugins'
//! CLI tasks. `docker`: the Docker runner's behaviour with no engine (clear
//! failure, or the configured fallback) and with a stand-in `docker` CLI
//! that records how it was called. `python_venv`: Python dependencies in a
//! cached virtualenv. `task_cache`: `taskCache`.

mod docker;
mod python_venv;
mod task_cache;

use std::io::Write;
use std::path::Path;

use serde_json::json;
use shared::model::StateType;

use base64::Engine;
use shared::runtime::secrets::Secrets;

use crate::support::{harness, harness_with, runs, serve};

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
/// ANSIBLE_CONFIG; TerraformCLI's outputs as a script task's; SparkCLI's
/// stderr does not end it in WARNING; CloudQueryCLI's image alias is
/// harmless where the image's binary is not; AzCLI signs in only with a
/// username.
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
  - id: spark
    type: io.kestra.plugin.spark.SparkCLI
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo "INFO SparkContext started" >&2
      - echo "::{\"outputs\":{\"spark\":\"done\"}}::"
  - id: cloudquery
    type: io.kestra.plugin.cloudquery.CloudQueryCLI
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo "::{\"outputs\":{\"cq\":\"ran\"}}::"
  - id: azure
    type: io.kestra.plugin.azure.cli.AzCLI
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo "::{\"outputs\":{\"az\":\"no login without a username\"}}::"
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
    // Spark logs to stderr: no WARNING from it (the execution is SUCCESS)
    assert_eq!(output(&e, "spark")["vars"]["spark"], "done");
    assert_eq!(output(&e, "cloudquery")["vars"]["cq"], "ran");
    assert_eq!(output(&e, "azure")["vars"]["az"], "no login without a username");
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
