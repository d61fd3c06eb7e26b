//! Issue 53, item 4: a secrets sweep. A flow puts a `secret()` value
//! everywhere a value can land — a Log task, a script's stdout, stderr and
//! `::{"outputs"…}::` lines, task outputs, flow outputs, the execution's
//! labels and variables, KV and state-store values, a metric's tags, files
//! written to internal storage, the error of a failing task — on
//! `baton server local`, and the clear value appears nowhere a user reads:
//! the API's answers (execution, logs, log download, outputs, file download
//! and preview, KV, SSE follow), the CLI's, and every file of the home
//! (the SQLite store and its WAL, log files, storage). A plain value
//! written beside each secret stays in clear. The same holds for a
//! secret and a `SECRET` input passed to a subflow, in the child.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::local_server::{LocalServer, test_dir};
use crate::support::baton_bin;

const SECRET: &str = "Tr0ub4dor-and-3-more";
/// Written beside each secret: never masked.
const PLAIN: &str = "plain-visible-value";

const FLOW: &str = r#"id: leaky
namespace: company.secrets
labels:
  team: data
variables:
  pw: "{{ secret('PW') }}"
outputs:
  - id: o
    type: STRING
    value: "o={{ secret('PW') }} plain-visible-value"
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "log={{ secret('PW') }} plain-visible-value {{ render(vars.pw) }}"
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    env:
      TOKEN: "{{ secret('PW') }}"
    outputFiles:
      - out.txt
    commands:
      - echo "stdout=$TOKEN plain-visible-value"
      - echo "stderr=$TOKEN plain-visible-value" >&2
      - echo "::{\"outputs\":{\"tok\":\"$TOKEN\",\"plain\":\"plain-visible-value\"}}::"
      - echo "file=$TOKEN plain-visible-value" > out.txt
      - echo "inline={{ secret('PW') }} plain-visible-value"
  - id: script
    type: io.kestra.plugin.scripts.shell.Script
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    script: |
      echo "script={{ secret('PW') }} plain-visible-value"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "ret={{ secret('PW') }} plain-visible-value"
  - id: values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      pw: "{{ secret('PW') }}"
      plain: plain-visible-value
  - id: labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      pw: "{{ secret('PW') }}"
      plain: plain-visible-value
  - id: setvars
    type: io.kestra.plugin.core.execution.SetVariables
    variables:
      leaked: "{{ secret('PW') }}"
      plain: plain-visible-value
  - id: kv
    type: io.kestra.plugin.core.kv.Set
    key: pw
    value: "kv={{ secret('PW') }} plain-visible-value"
  - id: state
    type: io.kestra.plugin.core.state.Set
    name: st
    data:
      pw: "{{ secret('PW') }}"
  - id: metric
    type: io.kestra.plugin.core.metric.Publish
    metrics:
      - type: counter
        name: c
        value: 1
        tags:
          pw: "{{ secret('PW') }}"
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "write={{ secret('PW') }} plain-visible-value"
    extension: .txt
  - id: readback
    type: io.kestra.plugin.core.debug.Return
    format: "read={{ read(outputs.write.uri) }} kv={{ kv('pw') }}"
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "failing with {{ secret('PW') }} plain-visible-value"
"#;

/// The body of a successful GET of API `path`.
async fn get_ok(client: &reqwest::Client, server: &LocalServer, path: String) -> String {
    let url = server.api(&path);
    let r = client.get(&url).send().await.expect("GET");
    let status = r.status();
    let text = r.text().await.expect("body");
    assert!(status.is_success(), "{url}: {status} {text}");
    text
}

fn no_secret(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "the secret in clear in {what}: {text}");
}

/// An SSE stream's text as it came within `within` (an ended execution's
/// stream may stay open).
async fn sse(client: &reqwest::Client, url: &str, within: Duration) -> String {
    let mut r = client.get(url).send().await.expect("follow");
    let mut text = Vec::new();
    let _ = tokio::time::timeout(within, async {
        while let Ok(Some(chunk)) = r.chunk().await {
            text.extend_from_slice(&chunk);
        }
    })
    .await;
    String::from_utf8_lossy(&text).into_owned()
}

/// Every file under `dir` holding `needle`.
fn files_holding(dir: &Path, needle: &[u8], found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_holding(&p, needle, found);
        } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
            found.push(p.display().to_string());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_masked_everywhere_a_value_lands() {
    let dir = test_dir("baton-secrets");
    std::fs::write(dir.join("flows/leaky.yaml"), FLOW).expect("flow");
    let encoded = base64::engine::general_purpose::STANDARD.encode(SECRET);
    let server = LocalServer::start(&dir, 2, &[("SECRET_PW", &encoded)]).await;
    let client = reqwest::Client::new();
    let get = |path: String| get_ok(&client, &server, path);
    let r = client.post(server.api("/executions/company.secrets/leaky?wait=true")).send().await.expect("create");
    assert!(r.status().is_success(), "{}", r.status());
    let created: Value = r.json().await.expect("JSON");
    let id = created["id"].as_str().expect("id").to_string();
    let mut execution = Value::Null;
    for _ in 0..300 {
        execution = serde_json::from_str(&get(format!("/executions/{id}")).await).expect("JSON");
        if execution["state"]["current"] == "FAILED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(execution["state"]["current"], "FAILED", "the Fail task ends it: {execution}");

    // the execution: task outputs, labels, variables, flow outputs, errors
    let text = execution.to_string();
    no_secret("the execution", &text);
    for (what, shown) in [
        ("a Return output", "ret=****** plain-visible-value"),
        ("a label", "plain-visible-value"),
        ("the error", "failing with ****** plain-visible-value"),
        ("a file read back", "read=write=****** plain-visible-value"),
    ] {
        assert!(text.contains(shown), "{what}: '{shown}' not in {text}");
    }
    let labels = execution["labels"].to_string();
    assert!(labels.contains("******") && labels.contains(PLAIN), "labels: {labels}");

    // logs, as JSON, as text, and followed
    let logs = get(format!("/logs/{id}")).await;
    no_secret("the logs", &logs);
    for line in [
        "log=****** plain-visible-value ******",
        "stdout=****** plain",
        "stderr=****** plain",
        "inline=****** plain",
        "script=****** plain",
    ] {
        assert!(logs.contains(line), "'{line}' not in {logs}");
    }
    no_secret("the log download", &get(format!("/logs/{id}/download")).await);
    let followed = sse(&client, &server.api(&format!("/logs/{id}/follow")), Duration::from_secs(2)).await;
    no_secret("the logs followed", &followed);
    assert!(followed.contains("stdout=******"), "{followed}");
    let followed = sse(&client, &server.api(&format!("/executions/{id}/follow")), Duration::from_secs(2)).await;
    no_secret("the execution followed", &followed);

    // outputs, as the Outputs tab shows them
    let tasks: Value = serde_json::from_str(&get(format!("/outputs/tasks/{id}")).await).expect("JSON");
    no_secret("the outputs list", &tasks.to_string());
    for run in execution["taskRunList"].as_array().expect("task runs") {
        let trid = run["id"].as_str().expect("task run id");
        no_secret("a task run's outputs", &get(format!("/outputs/tasks/{id}/{trid}")).await);
    }
    no_secret("the flow outputs", &get(format!("/outputs/executions/{id}")).await);

    // files: a script's output file and a Write task's, downloaded and previewed
    let runs = execution["taskRunList"].as_array().expect("task runs");
    let out_of = |task: &str| runs.iter().find(|r| r["taskId"] == task).expect("task run")["outputs"].clone();
    let files = [
        out_of("sh")["outputFiles"]["out.txt"].as_str().expect("out.txt").to_string(),
        out_of("write")["uri"].as_str().expect("uri").to_string(),
    ];
    for uri in &files {
        let path = format!("path={}", urlencode(uri));
        let body = get(format!("/executions/{id}/file?{path}")).await;
        no_secret("a file download", &body);
        assert!(body.contains("=****** plain-visible-value"), "{uri}: {body}");
        let preview =
            client.get(server.api(&format!("/executions/{id}/file/preview?{path}"))).send().await.expect("preview");
        no_secret("a file preview", &preview.text().await.unwrap_or_default());
    }

    // KV
    let kv = get("/namespaces/company.secrets/kv/pw".into()).await;
    no_secret("a KV value", &kv);
    assert!(kv.contains("kv=****** plain-visible-value"), "{kv}");

    // the CLI, on the same home
    let home = dir.join("home");
    for args in [
        vec!["executions", "list", "--json"],
        vec!["logs", id.as_str()],
        vec!["kv", "get", "-n", "company.secrets", "pw"],
    ] {
        let out = Command::new(baton_bin()).args(&args).env("BATON_HOME", &home).output().expect("baton");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        no_secret(&format!("baton {}", args.join(" ")), &text);
    }

    // every file of the home (the store, its WAL, log files, storage) and the server's own log
    let server_log = std::fs::read_to_string(&server.log).unwrap_or_default();
    server.kill_9();
    no_secret("the server's log", &server_log);
    let mut found = Vec::new();
    files_holding(&home, SECRET.as_bytes(), &mut found);
    assert!(found.is_empty(), "the secret in clear in {found:?}");
    let mut plain = Vec::new();
    files_holding(&home, PLAIN.as_bytes(), &mut plain);
    assert!(
        plain.iter().any(|f| f.ends_with("baton.db") || f.contains("baton.db-wal")),
        "plain values stored: {plain:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The value of the parent's `SECRET` input.
const PIN: &str = "pin-Xy7-zz9-value";

const PARENT: &str = r#"id: parent
namespace: company.secrets
inputs:
  - id: pin
    type: SECRET
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.secrets
    flowId: child
    wait: true
    transmitFailed: true
    inputs:
      pw: "{{ secret('PW') }}"
      combo: "Bearer {{ secret('PW') }}"
      pin: "{{ inputs.pin }}"
      plain: plain-visible-value
"#;

const CHILD: &str = r#"id: child
namespace: company.secrets
inputs:
  - id: pw
    type: STRING
  - id: combo
    type: STRING
  - id: pin
    type: STRING
  - id: plain
    type: STRING
outputs:
  - id: o
    type: STRING
    value: "{{ inputs.pw }} {{ inputs.plain }}"
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "child={{ inputs.pw }} {{ inputs.combo }} pin={{ inputs.pin }} {{ inputs.plain }}"
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles:
      - out.txt
    commands:
      - echo "sh={{ inputs.pw }} pin={{ inputs.pin }}"
      - echo "file={{ inputs.pin }} {{ inputs.combo }}" > out.txt
      - test "{{ inputs.pw }}" = "Tr0ub4dor-and-3-mor""e"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "ret={{ inputs.combo }} {{ inputs.pin }}"
"#;

/// A `secret()` value and a `SECRET` input passed to a subflow: the child
/// treats them as its own SECRET inputs — its tasks get the real values
/// (the script checks one), while its stored and shown inputs, logs,
/// outputs and files hold them masked, and no file of the home holds
/// them in clear (the store seals SECRET inputs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_passed_to_a_subflow_stays_masked_in_the_child() {
    let dir = test_dir("baton-secrets-subflow");
    std::fs::write(dir.join("flows/parent.yaml"), PARENT).expect("flow");
    std::fs::write(dir.join("flows/child.yaml"), CHILD).expect("flow");
    let encoded = base64::engine::general_purpose::STANDARD.encode(SECRET);
    let server = LocalServer::start(&dir, 2, &[("SECRET_PW", &encoded)]).await;
    let client = reqwest::Client::new();
    let get = |path: String| get_ok(&client, &server, path);
    let r = client
        .post(server.api("/executions/company.secrets/parent"))
        .json(&serde_json::json!({ "pin": PIN }))
        .send()
        .await
        .expect("create");
    assert!(r.status().is_success(), "{}", r.status());
    let created: Value = r.json().await.expect("JSON");
    let id = created["id"].as_str().expect("id").to_string();
    let mut parent = Value::Null;
    for _ in 0..300 {
        parent = serde_json::from_str(&get(format!("/executions/{id}")).await).expect("JSON");
        if parent["state"]["current"] == "SUCCESS" || parent["state"]["current"] == "FAILED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs = get(format!("/logs/{id}")).await;
    assert_eq!(parent["state"]["current"], "SUCCESS", "{parent} {logs}");
    let call = parent["taskRunList"].as_array().expect("runs").iter().find(|r| r["taskId"] == "call").expect("call");
    let child_id = call["outputs"]["executionId"].as_str().expect("the child's id").to_string();
    let child_text = get(format!("/executions/{child_id}")).await;
    let child: Value = serde_json::from_str(&child_text).expect("JSON");
    assert_eq!(child["state"]["current"], "SUCCESS", "the child's tasks got the real value: {child}");
    let child_logs = get(format!("/logs/{child_id}")).await;
    for (what, text) in [
        ("the parent", parent.to_string()),
        ("the parent's logs", logs),
        ("the child", child_text.clone()),
        ("the child's logs", child_logs.clone()),
        ("the child's outputs", get(format!("/outputs/executions/{child_id}")).await),
    ] {
        no_secret(what, &text);
        assert!(!text.contains(PIN), "the SECRET input in clear in {what}: {text}");
    }
    assert_eq!(child["inputs"]["pw"], "******", "{child}");
    assert_eq!(child["inputs"]["combo"], "******", "{child}");
    assert_eq!(child["inputs"]["pin"], "******", "{child}");
    assert_eq!(child["inputs"]["plain"], PLAIN, "{child}");
    for shown in ["child=******", "pin=******", "sh=****** pin=******"] {
        assert!(child_logs.contains(shown), "'{shown}' not in {child_logs}");
    }
    let runs = child["taskRunList"].as_array().expect("runs");
    let file = runs.iter().find(|r| r["taskId"] == "sh").expect("sh")["outputs"]["outputFiles"]["out.txt"]
        .as_str()
        .expect("out.txt")
        .to_string();
    let body = get(format!("/executions/{child_id}/file?path={}", urlencode(&file))).await;
    assert!(!body.contains(SECRET) && !body.contains(PIN), "{body}");

    server.kill_9();
    let home = dir.join("home");
    for needle in [SECRET, PIN] {
        let mut found = Vec::new();
        files_holding(&home, needle.as_bytes(), &mut found);
        assert!(found.is_empty(), "'{needle}' in clear in {found:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
