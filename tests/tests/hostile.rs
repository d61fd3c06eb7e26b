//! Hostile flows on the embedded engine (issue 16): each ends, FAILED with a
//! message naming the bound it broke, within seconds — no abort, no panic
//! lost in a worker, no execution left RUNNING, no unbounded fan-out.

use serde_json::json;
use shared::model::StateType;

use crate::support::{harness, runs};

/// CPU time this thread has used (user + system), from /proc: a bound on work
/// done that a loaded machine does not stretch, as wall time would.
fn thread_cpu() -> std::time::Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("/proc/thread-self/stat");
    let after_name = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // fields 14 and 15 of stat(5), counted from the state field (3) here
    let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    std::time::Duration::from_millis(ticks * 10)
}

fn diagnostics(yaml: &str) -> Vec<String> {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let (_, diags) = shared::validate::validate_source("hostile.yaml", yaml, &registry, &renderer);
    diags.iter().map(|d| d.to_string()).collect()
}

#[tokio::test]
async fn a_variable_that_renders_itself_fails_the_task() {
    let h = harness();
    let e = h
        .run(
            "id: f\nnamespace: n\nvariables:\n  a: \"{{ render(vars.a) }}\"\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ render(vars.a) }}\"\n",
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "log")[0].error.clone().unwrap_or_default();
    assert!(err.contains("nested more than 8 levels"), "{err}");
}

#[tokio::test]
async fn absurd_date_arithmetic_fails_the_task() {
    let h = harness();
    let e = h
        .run(
            "id: f\nnamespace: n\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ now() | dateAdd(9223372036854775807, 'DAYS') }}\"\n",
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "log")[0].error.clone().unwrap_or_default();
    assert!(err.contains("date out of range"), "{err}");
}

#[tokio::test]
async fn a_flow_calling_itself_stops_at_the_subflow_depth_bound() {
    let h = harness();
    // written literally, the recursive call is refused at validation, as Kestra does
    let literal = "id: selfcall\nnamespace: n\ntasks:\n  - id: again\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: n\n    flowId: selfcall\n";
    let (_, d) = shared::validate::validate_source(
        "f.yaml",
        literal,
        &shared::plugins::Registry::builtin(),
        &shared::template::Renderer::new(),
    );
    assert!(d.iter().any(|d| d.message.contains("Recursive call to flow [n.selfcall]")), "{d:?}");
    // through a template it is only known at run time: the depth bound stops it
    let e = h.run(&literal.replace("flowId: selfcall", "flowId: \"{{ flow.id }}\""), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let all = h.embedded.engine.state.list_executions(&Default::default()).await.expect("list");
    assert_eq!(all.len(), 11, "one top-level execution and 10 nested ones");
    assert!(all.iter().all(|x| x.state.is_terminal()), "{all:?}");
    let deepest_error = runs(&e, "again")[0].error.clone().unwrap_or_default();
    assert!(deepest_error.contains("ended FAILED") || deepest_error.contains("subflows deep"), "{deepest_error}");
}

#[tokio::test]
async fn a_missing_subflow_names_itself() {
    let h = harness();
    let e = h
        .run(
            "id: parent\nnamespace: n\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: n\n    flowId: nowhere\n",
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "call")[0].error.clone().unwrap_or_default();
    assert!(err.contains("Subflow n.nowhere not found"), "{err}");
}

#[test]
fn bombs_and_absurd_values_are_refused_by_validate() {
    let nested: String = (0..1000).map(|i| format!("{}k{i}:\n", "  ".repeat(i + 1))).collect();
    let cases = [
        (format!("id: f\nnamespace: n\nvariables:\n{nested}    x: 1\ntasks: []\n"), "nested more than 100 levels"),
        (
            "id: f\nnamespace: n\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT9999999999999999999H\n"
                .to_string(),
            "too long a duration",
        ),
        (
            format!(
                "id: f\nnamespace: n\nvariables:\n  a: &a [1,1,1,1,1,1,1,1,1,1]\n{}tasks: []\n",
                (0..9).map(|i| format!("  b{i}: &b{i} [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n")).collect::<String>()
            ),
            "aliases are not supported",
        ),
        ("id: f\nnamespace: n\nid: g\ntasks: []\n".to_string(), "duplicate key 'id'"),
        ("id: f\nnamespace: n\ntasks: []\n---\nid: g\n".to_string(), "second YAML document"),
        (format!("id: f\nnamespace: n\ntasks:\n  - id: t\n    type: {}\n", "x".repeat(2_000_000)), "unknown task type"),
    ];
    for (yaml, needle) in cases {
        let started = thread_cpu();
        let diags = diagnostics(&yaml);
        let used = thread_cpu() - started;
        assert!(used.as_secs() < 5, "{needle}: {used:?} of CPU");
        assert!(diags.iter().any(|d| d.contains(needle)), "{needle}: {diags:?}");
    }
    // a byte-order mark is not an error
    assert_eq!(
        diagnostics(
            "\u{feff}id: f\nnamespace: n\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        ),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn secrets_never_come_back_in_clear() {
    use base64::Engine as _;
    let pw = "hunter2-very-secret";
    let encoded = base64::engine::general_purpose::STANDARD.encode(pw);
    let h = crate::support::harness_with(shared::runtime::secrets::Secrets::from_vars([(
        "SECRET_PW".to_string(),
        encoded,
    )]));
    let ok = "id: s\nnamespace: n\noutputs:\n  - id: o\n    type: STRING\n    value: \"{{ secret('PW') }}\"\ntasks:\n  - id: ret\n    type: io.kestra.plugin.core.debug.Return\n    format: \"pw={{ secret('PW') }}\"\n  - id: lab\n    type: io.kestra.plugin.core.execution.Labels\n    labels:\n      pw: \"{{ secret('PW') }}\"\n";
    let failing = "id: t\nnamespace: n\ntasks:\n  - id: fail\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: \"bad {{ secret('PW') }}\"\n";
    for yaml in [ok, failing] {
        let e = h.run(yaml, json!({})).await;
        let stored = h.embedded.engine.state.load_execution(&e.id).await.expect("load").expect("stored");
        let text = serde_json::to_string(&stored).expect("json");
        assert!(!text.contains(pw), "secret in clear in the stored execution: {text}");
        assert!(text.contains("******"), "{text}");
        let logs = h.logs(&e.id).await.join("\n");
        assert!(!logs.contains(pw), "{logs}");
    }
}

/// A `SECRET` input reaches its tasks in clear, and is masked like a
/// `secret()` value everywhere the execution is shown or stored by a task:
/// logs, task outputs, labels, flow outputs, errors — and shown as `******`
/// among the inputs by the API's JSON (and the CLI's `--json`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_inputs_are_masked_like_secrets() {
    let pw = "s3cr3t-input-value";
    let h = harness();
    let yaml = "id: s\nnamespace: n\ninputs:\n  - id: pw\n    type: SECRET\n  - id: user\n    type: STRING\noutputs:\n  - id: o\n    type: STRING\n    value: \"{{ inputs.pw }}\"\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"pw is {{ inputs.pw }}\"\n  - id: check\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.pw == 's3cr3t-input-value' }}\"\n  - id: ret\n    type: io.kestra.plugin.core.debug.Return\n    format: \"pw={{ inputs.pw }}\"\n  - id: lab\n    type: io.kestra.plugin.core.execution.Labels\n    labels:\n      pw: \"{{ inputs.pw }}\"\n  - id: fail\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: \"bad {{ inputs.pw }}\"\n";
    let e = h.run(yaml, json!({"pw": pw, "user": "ann"})).await;
    assert_eq!(e.state.current, StateType::Failed, "the Fail task ends it");
    assert_eq!(
        runs(&e, "check")[0].outputs.as_ref().expect("outputs")["value"],
        json!("true"),
        "the task saw the value"
    );
    let logs = h.logs(&e.id).await.join("\n");
    assert!(!logs.contains(pw) && logs.contains("pw is ******"), "{logs}");
    let stored = h.embedded.engine.state.load_execution(&e.id).await.expect("load").expect("stored");
    let mut shown = shared::api::executions::execution_json(&stored);
    assert_eq!(shown["inputs"], json!({"pw": "******", "user": "ann"}));
    assert!(shown.get("secretInputs").is_none(), "not a Kestra field: {shown}");
    // the stored task runs, labels, outputs and errors never hold it
    shown["inputs"] = json!({});
    let text = serde_json::to_string(&shown).expect("json");
    assert!(!text.contains(pw), "{text}");
    assert!(text.contains("pw=******") && text.contains("bad ******"), "{text}");
}

/// `baton run` stopped by SIGTERM kills its execution; one stopped by
/// `kill -9` leaves it RUNNING (nothing can run in a dead process), and
/// `baton executions kill` ends it and frees the flow's concurrency slot.
#[test]
fn a_killed_baton_run_leaves_nothing_running() {
    use std::process::{Command, Stdio};
    let dir = std::env::temp_dir().join(format!("baton-kill-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let flow = dir.join("slow.yml");
    std::fs::write(&flow, "id: slow\nnamespace: t\nconcurrency:\n  limit: 1\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT60S\n").expect("flow");
    let baton = |args: &[&str]| {
        let mut c = Command::new(crate::support::baton_bin());
        c.args(args).env("BATON_HOME", dir.join("home")).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    };
    let running = || {
        let out = baton(&["executions", "list", "--json"]).output().expect("list");
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        list.into_iter()
            .filter(|e| e["state"] == "RUNNING")
            .map(|e| e["id"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    let wait_running = || {
        for _ in 0..100 {
            if !running().is_empty() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the execution never started");
    };
    let flow_arg = flow.to_str().expect("path");
    // SIGTERM
    let child = baton(&["run", flow_arg]).spawn().expect("run");
    wait_running();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill").success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("KILLED"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(running().is_empty());
    // kill -9, then `baton executions kill`
    let mut child = baton(&["run", flow_arg]).spawn().expect("run");
    wait_running();
    child.kill().expect("kill -9");
    let _ = child.wait();
    let left = running();
    assert_eq!(left.len(), 1);
    let out = baton(&["executions", "kill", &left[0]]).output().expect("executions kill");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(running().is_empty());
    assert!(!baton(&["logs", "NO_SUCH_EXECUTION"]).output().expect("logs").status.success());
    // an unknown input, /dev/zero and a closed pipe end cleanly
    let out = baton(&["run", flow_arg, "--input", "nope=1"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--input nope: the flow has no such input"));
    let out = baton(&["run", "/dev/zero"]).output().expect("run /dev/zero");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("larger than 8 MiB"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut list = baton(&["executions", "list"]);
    let mut child = list.spawn().expect("list");
    drop(child.stdout.take());
    let status = child.wait().expect("wait");
    assert_ne!(status.code(), Some(101), "a closed pipe must not panic");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kestra's storage scope: an execution reads its namespace's files and
/// those of the execution that started it (a Subflow's parent), no others —
/// through `read()`, `inputFiles` and a task's `from` alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_reads_only_its_namespace_and_its_parents_files() {
    let h = harness();
    let url = crate::support::serve(b"secret-report".to_vec(), 200).await;
    let writer = h
        .run(
            &format!("id: writer\nnamespace: a.team\ntasks:\n  - id: dl\n    type: io.kestra.plugin.core.http.Download\n    uri: \"{url}\"\n"),
            json!({}),
        )
        .await;
    assert_eq!(writer.state.current, StateType::Success, "{:?}", writer.error);
    let uri = runs(&writer, "dl")[0].outputs.as_ref().expect("outputs")["uri"].as_str().expect("uri").to_string();

    let reader = |ns: &str| {
        format!(
            "id: reader\nnamespace: {ns}\ninputs:\n  - id: uri\n    type: STRING\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ read(inputs.uri) }}}}\"\n"
        )
    };
    // the same namespace reads it
    let same = h.run(&reader("a.team"), json!({"uri": uri})).await;
    assert_eq!(same.state.current, StateType::Success, "{:?}", same.error);
    assert_eq!(runs(&same, "show")[0].outputs.as_ref().expect("outputs")["value"], json!("secret-report"));
    // another namespace (even the parent namespace) does not
    for ns in ["b", "a"] {
        let other = h.run(&reader(ns), json!({"uri": uri})).await;
        assert_eq!(other.state.current, StateType::Failed, "{ns}");
        let err = runs(&other, "show")[0].error.clone().unwrap_or_default();
        assert!(err.contains("Unable to read the file") && err.contains(&format!("namespace '{ns}'")), "{err}");
        assert!(!err.contains("secret-report"), "{err}");
    }
    // nor through inputFiles or a task's `from`
    let copier = "id: copier\nnamespace: b\ninputs:\n  - id: uri\n    type: STRING\ntasks:\n  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    inputFiles:\n      f.txt: \"{{ inputs.uri }}\"\n    commands:\n      - cat f.txt\n  - id: gz\n    type: io.kestra.plugin.compress.FileCompress\n    from: \"{{ inputs.uri }}\"\n    compression: GZIP\n";
    let copied = h.run(copier, json!({"uri": uri})).await;
    assert_eq!(copied.state.current, StateType::Failed);
    let err = runs(&copied, "sh")[0].error.clone().unwrap_or_default();
    assert!(err.contains("inputFiles") && err.contains("Unable to read the file"), "{err}");

    // a subflow in another namespace reads its parent's files, and knows its parent
    h.flow(
        "id: child\nnamespace: b\ninputs:\n  - id: uri\n    type: STRING\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ trigger.executionId }}:{{ trigger.namespace }}:{{ read(inputs.uri) }}\"\noutputs:\n  - id: shown\n    type: STRING\n    value: \"{{ outputs.show.value }}\"\n",
    );
    let parent = h
        .run(
            &format!("id: parent\nnamespace: a.team\ntasks:\n  - id: dl\n    type: io.kestra.plugin.core.http.Download\n    uri: \"{url}\"\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: b\n    flowId: child\n    inputs:\n      uri: \"{{{{ outputs.dl.uri }}}}\"\n"),
            json!({}),
        )
        .await;
    assert_eq!(parent.state.current, StateType::Success, "{:?}", parent.error);
    let out = runs(&parent, "call")[0].outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!(out["outputs"]["shown"], json!(format!("{}:a.team:secret-report", parent.id)), "{out:?}");
}

/// What `baton run` prints: each error once, a task's RUNNING line before its
/// log lines, RETRYING once per retry, and a scheduled flow run by hand that
/// fails on `trigger.date` says why and how to run it for a date.
#[test]
fn the_console_says_each_thing_once_and_in_order() {
    let dir = std::env::temp_dir().join(format!("baton-console-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let run = |name: &str, yaml: &str| {
        std::fs::write(dir.join(name), yaml).expect("flow");
        let out = std::process::Command::new(crate::support::baton_bin())
            .current_dir(&dir)
            .env("BATON_HOME", dir.join("home"))
            .args(["run", name])
            .output()
            .expect("baton run");
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let retry = run(
        "retry.yaml",
        "id: retry\nnamespace: test\ntasks:\n  - id: flaky\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: boom-once\n    retry:\n      type: constant\n      interval: PT0.5S\n      maxAttempts: 2\n",
    );
    let lines: Vec<&str> = retry.lines().collect();
    assert_eq!(lines.iter().filter(|l| l.contains("boom-once")).count(), 2, "one ERROR line per attempt:\n{retry}");
    assert_eq!(lines.iter().filter(|l| l.contains("RETRYING")).count(), 1, "{retry}");
    let pos = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap_or(usize::MAX);
    assert!(pos("flaky RUNNING") < pos("[flaky] boom-once"), "RUNNING before its logs:\n{retry}");
    let second_log = lines.iter().rposition(|l| l.contains("[flaky] boom-once")).expect("second attempt's log");
    assert!(pos("RUNNING attempt 2") < second_log, "{retry}");
    assert!(retry.contains("FAILED in") && retry.contains("task 'flaky' failed"), "{retry}");

    let sched = run(
        "sched.yaml",
        "id: sched\nnamespace: test\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"month {{ trigger.date | date('yyyy-MM') }}\"\ntriggers:\n  - id: monthly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 1 * *\"\n",
    );
    assert_eq!(sched.matches("'trigger.date' is undefined").count(), 1, "{sched}");
    assert!(sched.contains("hint:") && sched.contains("Schedule trigger 'monthly'"), "{sched}");
    assert!(sched.contains("baton backfill sched.yaml --start DATE --end DATE"), "{sched}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `baton run -q` on a loop says the start, the failures and the end, not
/// one line per iteration (a 10,000-value loop printed 20,000 lines).
#[test]
fn a_quiet_run_says_only_the_start_the_failures_and_the_end() {
    let dir = std::env::temp_dir().join(format!("baton-quiet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let values: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    let yaml = format!(
        "id: quiet\nnamespace: test\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [{}]\n    concurrencyLimit: 0\n    tasks:\n      - id: say\n        type: io.kestra.plugin.core.log.Log\n        message: \"value {{{{ taskrun.value }}}}\"\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: quiet-boom\n",
        values.join(", ")
    );
    std::fs::write(dir.join("quiet.yaml"), yaml).expect("flow");
    let out = std::process::Command::new(crate::support::baton_bin())
        .current_dir(&dir)
        .env("BATON_HOME", dir.join("home"))
        .args(["run", "-q", "quiet.yaml"])
        .output()
        .expect("baton run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.len() <= 4, "start, the failed task, the end:\n{err}");
    assert!(lines[0].contains("started"), "{err}");
    assert!(lines.iter().any(|l| l.contains("boom") && l.contains("FAILED")), "{err}");
    assert!(lines.iter().any(|l| l.contains("■ execution") && l.contains("FAILED")), "{err}");
    assert!(!err.contains("value 1"), "no task log lines:\n{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `baton run --progress` draws a bar (on a terminal only) instead of the
/// per-task lines: off a terminal it says what `-q` says — the start, the
/// failures, the end — and no task log line.
#[test]
fn a_progress_run_replaces_the_per_task_lines() {
    let dir = std::env::temp_dir().join(format!("baton-progress-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let values: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let yaml = format!(
        "id: bar\nnamespace: test\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [{}]\n    concurrencyLimit: 0\n    tasks:\n      - id: say\n        type: io.kestra.plugin.core.log.Log\n        message: \"value {{{{ taskrun.value }}}}\"\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: bar-boom\n",
        values.join(", ")
    );
    std::fs::write(dir.join("bar.yaml"), yaml).expect("flow");
    let out = std::process::Command::new(crate::support::baton_bin())
        .current_dir(&dir)
        .env("BATON_HOME", dir.join("home"))
        .args(["run", "--progress", "bar.yaml"])
        .output()
        .expect("baton run");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.len() <= 4, "start, the failed task, the end:\n{err}");
    assert!(lines[0].contains("started"), "{err}");
    assert!(lines.iter().any(|l| l.contains("boom") && l.contains("FAILED")), "{err}");
    assert!(lines.iter().any(|l| l.contains("■ execution") && l.contains("FAILED")), "{err}");
    assert!(!err.contains("value 1"), "no task log lines:\n{err}");
}

/// `baton executions resume ID` drives on an execution whose `baton run`
/// was killed with `kill -9`: the attempt the dead process held is closed as
/// lost and runs again, the rest of the flow runs, the execution succeeds.
#[test]
fn a_killed_baton_run_is_resumed_to_its_end() {
    use std::process::{Command, Stdio};
    let dir = std::env::temp_dir().join(format!("baton-resume-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let flow = dir.join("slow.yml");
    std::fs::write(&flow, "id: slow\nnamespace: t\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT2S\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: after the sleep\n").expect("flow");
    let baton = |args: &[&str]| {
        let mut c = Command::new(crate::support::baton_bin());
        c.args(args).env("BATON_HOME", dir.join("home")).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    };
    let mut child = baton(&["run", flow.to_str().expect("path")]).spawn().expect("run");
    let id = (0..100)
        .find_map(|_| {
            let out = baton(&["executions", "list", "--json"]).output().expect("list");
            let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
            let id = list.iter().find(|e| e["state"] == "RUNNING").and_then(|e| e["id"].as_str()).map(str::to_string);
            if id.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            id
        })
        .expect("the execution started");
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().expect("kill -9");
    let _ = child.wait();

    let out = baton(&["executions", "resume", &id]).output().expect("resume");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resumed (1 attempt(s)") && stderr.contains("after the sleep"), "{stderr}");
    let shown = baton(&["executions", "show", &id, "--json"]).output().expect("show");
    let e: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(e["state"]["current"], "SUCCESS", "{e}");
    let s = e["taskRunList"].as_array().expect("runs").iter().find(|t| t["taskId"] == "s").expect("s").clone();
    let attempts: Vec<&str> = s["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["state"]["current"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(attempts, ["KILLED", "SUCCESS"], "{s}");
    let again = baton(&["executions", "resume", &id]).output().expect("resume again");
    assert_eq!(again.status.code(), Some(1), "an ended execution is not resumed");
    let _ = std::fs::remove_dir_all(&dir);
}
