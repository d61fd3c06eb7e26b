//! The `baton` command line where a Kestra user stumbled: `kv set` from a
//! file or stdin, `executions list` (aligned, fitted to the terminal,
//! `--flow ns.id`, `--state`), "did you mean" for short typos, no colour
//! codes off a terminal or under `NO_COLOR`, shell completions, `backfill
//! --server` listing what it can backfill, and `flows push DIR` to a local
//! server (basic auth) and to the GCP `api` function (`--server`, and
//! `--gcp` through stand-ins for `terraform` and `gcloud`).
//!
//! A terminal is given to `baton` by util-linux `script`, which runs it on
//! a pseudo-terminal.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use e2e::functions::{Cluster, ClusterOptions};

use crate::sched_support::temp_dir;
use crate::support::baton_bin;

const AUTH: &str = "admin@kestra.io:Admin1234!";

pub(crate) fn baton(home: &Path, args: &[&str]) -> Output {
    Command::new(baton_bin()).env("BATON_HOME", home).env_remove("NO_COLOR").args(args).output().expect("baton runs")
}

pub(crate) fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `baton args…` on a pseudo-terminal `cols` wide: what it printed.
pub(crate) fn on_terminal(home: &Path, cols: u16, envs: &[(&str, &str)], args: &[&str]) -> String {
    let line = std::iter::once(baton_bin().display().to_string())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut c = Command::new("script");
    c.args(["-qefc", &format!("stty rows 40 cols {cols}; {line}"), "/dev/null"])
        .env("BATON_HOME", home)
        .env_remove("NO_COLOR");
    c.env_remove("COLUMNS");
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().expect("script runs");
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

#[test]
fn kv_set_reads_the_value_from_a_file_or_stdin() {
    let dir = temp_dir("baton-cli-kv");
    let home = dir.join("home");
    std::fs::write(dir.join("creds.json"), "{\"project\": \"p1\"}\n").expect("file");
    let file = format!("@{}", dir.join("creds.json").display());
    let o = baton(&home, &["kv", "set", "-n", "ns", "creds", &file]);
    assert!(o.status.success(), "{}", text(&o));
    let o = baton(&home, &["kv", "get", "-n", "ns", "creds"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), r#"{"project":"p1"}"#, "a JSON file is stored as JSON");
    let mut child = Command::new(baton_bin())
        .env("BATON_HOME", &home)
        .args(["kv", "set", "-n", "ns", "note", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child.stdin.take().expect("stdin").write_all(b"from stdin\n").expect("write");
    assert!(child.wait().expect("wait").success());
    let o = baton(&home, &["kv", "get", "-n", "ns", "note"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "from stdin\n");
    let o = baton(&home, &["kv", "set", "-n", "ns", "at", "@@handle"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&baton(&home, &["kv", "get", "-n", "ns", "at"]).stdout), "@handle\n");
    let o = baton(&home, &["kv", "set", "-n", "ns", "x", "@/no/such/file.json"]);
    assert!(!o.status.success() && text(&o).contains("/no/such/file.json"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn executions_list_is_aligned_fits_the_terminal_and_filters_by_flow_and_state() {
    let dir = temp_dir("baton-cli-list");
    let home = dir.join("home");
    let ok = "id: a_flow_with_a_rather_long_name\nnamespace: company.team.with.a.long.namespace\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let bad = "id: bad\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: boom\n";
    std::fs::write(dir.join("ok.yml"), ok).expect("flow");
    std::fs::write(dir.join("bad.yml"), bad).expect("flow");
    assert!(baton(&home, &["run", "-q", dir.join("ok.yml").to_str().expect("path")]).status.success());
    assert!(!baton(&home, &["run", "-q", dir.join("bad.yml").to_str().expect("path")]).status.success());

    let o = baton(&home, &["executions", "list"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let col = |l: &str, needle: &str| l.find(needle).unwrap_or(usize::MAX);
    let start = col(lines[0], "START (UTC)");
    assert!(lines[1..].iter().all(|l| l[start..].starts_with("20") && &l[start + 10..start + 11] == " "), "{out}");
    assert!(!out.contains("+00:00"), "short dates: {out}");
    assert!(lines[1..].iter().all(|l| col(l, "SUCCESS").min(col(l, "FAILED")) == col(lines[0], "STATE")), "{out}");

    // the form it prints, namespace.id, selects the flow
    let o = baton(
        &home,
        &["executions", "list", "--flow", "company.team.with.a.long.namespace.a_flow_with_a_rather_long_name"],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(out.lines().count(), 2, "{out}");
    let o = baton(&home, &["executions", "list", "--flow", "bad"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    let o = baton(&home, &["executions", "list", "--state", "FAILED"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.lines().count() == 2 && out.contains("company.team.bad"), "{out}");
    let o = baton(&home, &["executions", "list", "--state", "NOPE"]);
    assert!(!o.status.success() && text(&o).contains("NOPE"), "{}", text(&o));

    // on an 80-column terminal every line fits
    let out = on_terminal(&home, 80, &[], &["executions", "list"]);
    assert!(out.lines().count() >= 3, "{out}");
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    assert!(out.contains('…'), "the flow column is cut to fit: {out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_short_typo_gets_did_you_mean() {
    let home = temp_dir("baton-cli-typo");
    let o = baton(&home, &["rn", "flow.yml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains("unrecognized subcommand 'rn'") && err.contains("'run'"), "{err}");
    let err = text(&baton(&home, &["executions", "lst"]));
    assert!(err.contains("'list'"), "{err}");
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn a_bad_executor_lane_count_stops_the_cli_before_it_runs_anything() {
    let home = temp_dir("baton-cli-lanes");
    let flow = home.join("f.yml");
    std::fs::write(&flow, log_flow("cli.lanes", "f")).expect("flow");
    let flow = flow.display().to_string();
    for bad in ["0", "many"] {
        let o = Command::new(baton_bin())
            .env("BATON_HOME", &home)
            .env("BATON_EXECUTOR_LANES", bad)
            .args(["run", &flow])
            .output()
            .expect("baton runs");
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("BATON_EXECUTOR_LANES") && text(&o).contains("1 to 64"), "{}", text(&o));
        assert!(!text(&o).contains("started"), "nothing ran: {}", text(&o));
    }
    let o = Command::new(baton_bin())
        .env("BATON_HOME", &home)
        .env("BATON_EXECUTOR_LANES", "2")
        .args(["run", &flow])
        .output()
        .expect("baton runs");
    assert!(o.status.success(), "{}", text(&o));
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn no_colour_codes_off_a_terminal_or_under_no_color() {
    let dir = temp_dir("baton-cli-colour");
    let home = dir.join("home");
    let flow = dir.join("f.yml");
    std::fs::write(
        &flow,
        "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    )
    .expect("flow");
    let args = ["run", "-q", flow.to_str().expect("path")];
    let envs = [("BATON_LOG", "info")];
    // redirected: plain text, though the log lines are there
    let o =
        Command::new(baton_bin()).env("BATON_HOME", &home).env("BATON_LOG", "info").args(args).output().expect("run");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains("INFO") && !err.contains('\u{1b}'), "{err}");
    // on a terminal: colour, unless NO_COLOR
    let tty = on_terminal(&home, 120, &envs, &args);
    assert!(tty.contains("\u{1b}[32m"), "colour (a green INFO) on a terminal: {tty:?}");
    let tty = on_terminal(&home, 120, &[envs[0], ("NO_COLOR", "1")], &args);
    assert!(tty.contains("INFO") && !tty.contains("\u{1b}[32m"), "NO_COLOR: {tty:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let home = temp_dir("baton-cli-completions");
    for (shell, marker) in [("bash", "complete -F"), ("zsh", "#compdef baton"), ("fish", "complete -c baton")] {
        let o = baton(&home, &["completions", shell]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success() && out.contains(marker), "{shell}: {}", text(&o));
        assert!(out.contains("executions") && out.contains("backfill"), "{shell}");
    }
    assert!(!baton(&home, &["completions", "tcsh"]).status.success());
    let _ = std::fs::remove_dir_all(home);
}

const SCHEDULED: &str = "id: scheduled\nnamespace: cli.push\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: tick\ntriggers:\n  - id: monthly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 1 * *\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backfill_server_without_a_flow_lists_what_it_can_backfill() {
    let (server, dir) = crate::sched_support::api_server("baton-cli-bf", &[("s.yml", SCHEDULED)], None).await;
    let o = tokio::process::Command::new(baton_bin())
        .env("BATON_HOME", dir.join("cli-home"))
        .args(["backfill", "--server", &server.url()])
        .output()
        .await
        .expect("baton backfill");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("cli.push.scheduled --trigger monthly") && out.contains("0 9 1 * *"), "{}", text(&o));
    server.shutdown().await;
}

fn flows_dir(root: &Path, flows: &[(&str, &str)]) -> PathBuf {
    let d = root.join("push");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("sub")).expect("dir");
    for (name, yaml) in flows {
        std::fs::write(d.join(name), yaml).expect("flow");
    }
    d
}

fn log_flow(ns: &str, id: &str) -> String {
    format!(
        "id: {id}\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: {id}\n"
    )
}

async fn push(dir: &Path, extra: &[&str], path: Option<&str>) -> Output {
    let mut c = tokio::process::Command::new(baton_bin());
    c.arg("flows").arg("push").arg(dir).args(extra).env_remove("BATON_SERVER_BASIC_AUTH");
    if let Some(p) = path {
        c.env("PATH", p);
    }
    c.output().await.expect("baton flows push")
}

/// The flows of a server, `namespace.id`, sorted.
async fn flows_of(http: &reqwest::Client, url: &str, auth: Option<(&str, &str)>) -> Vec<String> {
    let mut req = http.get(format!("{}/api/v1/flows", url.trim_end_matches('/')));
    if let Some((u, p)) = auth {
        req = req.basic_auth(u, Some(p));
    }
    let v: serde_json::Value = req.send().await.expect("GET /flows").json().await.expect("json");
    let mut out: Vec<String> = v
        .as_array()
        .expect("list")
        .iter()
        .map(|f| format!("{}.{}", f["namespace"].as_str().unwrap_or(""), f["id"].as_str().unwrap_or("")))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flows_push_validates_everything_then_uploads_to_a_local_server() {
    let (server, dir) = crate::sched_support::api_server("baton-cli-push", &[], Some(AUTH)).await;
    let http = reqwest::Client::new();
    let auth = Some(("admin@kestra.io", "Admin1234!"));
    let a1 = log_flow("cli.a", "one");
    let a2 = log_flow("cli.a", "two");
    let b1 = log_flow("cli.b", "three");
    let broken = "id: broken\nnamespace: cli.a\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Nope\n";
    let twice = log_flow("cli.b", "three");

    // an invalid flow and a flow declared twice: both named, nothing uploaded
    let d = flows_dir(
        &dir,
        &[("one.yml", &a1), ("two.yml", &a2), ("sub/three.yml", &b1), ("broken.yml", broken), ("again.yaml", &twice)],
    );
    let o = push(&d, &["--server", &server.url(), "--user", AUTH], None).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("broken.yml") && t.contains("Nope") && t.contains("cli.b.three is also declared"), "{t}");
    assert!(t.contains("nothing was pushed"), "{t}");
    assert!(flows_of(&http, &server.url(), auth).await.is_empty(), "nothing uploaded");

    // all valid: every namespace pushed, and the test file beside them
    let tests = "id: one_tests\nnamespace: cli.a\nflowId: one\ntestCases:\n  - id: logs\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: \"{{ flow.id }}\"\n        equalTo: one\n";
    let d = flows_dir(&dir, &[("one.yml", &a1), ("two.yml", &a2), ("sub/three.yml", &b1), ("one.test.yaml", tests)]);
    let o = push(&d, &["--server", &server.url(), "--user", AUTH], None).await;
    assert!(o.status.success() && text(&o).contains("1 test suite(s) pushed"), "{}", text(&o));
    assert_eq!(flows_of(&http, &server.url(), auth).await, ["cli.a.one", "cli.a.two", "cli.b.three"]);
    let suite = |http: &reqwest::Client| {
        http.get(format!("{}/api/v1/tests/cli.a/one_tests", server.url()))
            .basic_auth("admin@kestra.io", Some("Admin1234!"))
    };
    let got: serde_json::Value = suite(&http).send().await.expect("GET test").json().await.expect("json");
    assert_eq!(got["source"].as_str(), Some(tests), "{got}");
    // pushed again (an update), with a changed expectation
    std::fs::write(d.join("one.test.yaml"), tests.replace("equalTo: one", "equalTo: \"one\"")).expect("write");
    let o = push(&d, &["--server", &server.url(), "--user", AUTH], None).await;
    assert!(o.status.success(), "{}", text(&o));
    let got: serde_json::Value = suite(&http).send().await.expect("GET test").json().await.expect("json");
    assert!(got["source"].as_str().is_some_and(|s| s.contains("equalTo: \"one\"")), "{got}");

    // without --delete a flow gone from DIR stays; with it, it is deleted
    let d = flows_dir(&dir, &[("one.yml", &a1), ("sub/three.yml", &b1)]);
    assert!(push(&d, &["--server", &server.url(), "--user", AUTH], None).await.status.success());
    assert_eq!(flows_of(&http, &server.url(), auth).await.len(), 3);
    let o = push(&d, &["--server", &server.url(), "--user", AUTH, "--delete"], None).await;
    assert!(o.status.success() && text(&o).contains("deleted two"), "{}", text(&o));
    assert_eq!(flows_of(&http, &server.url(), auth).await, ["cli.a.one", "cli.b.three"]);

    // the server's refusal is reported: no credentials
    let o = push(&d, &["--server", &server.url()], None).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("401"), "{}", text(&o));
    server.shutdown().await;
}

/// A stand-in server for `flows push`: `POST /api/v1/flows/validate`
/// answers `refuse` as the constraints of every flow (none when `None`),
/// and the upload of namespace `fail` answers 500; every upload is counted.
async fn push_stub(
    refuse: Option<&'static str>,
    fail: &'static str,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::extract::Path as UrlPath;
    use axum::routing::post;
    let uploads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = uploads.clone();
    let app = axum::Router::new()
        .route(
            "/api/v1/flows/validate",
            post(move |body: String| async move {
                let n = body.split("---\n").count();
                axum::Json(serde_json::Value::Array(
                    (0..n)
                        .map(|i| serde_json::json!({"index": i, "namespace": "cli.a", "flow": "one", "constraints": refuse}))
                        .collect(),
                ))
            }),
        )
        .route(
            "/api/v1/flows/{namespace}",
            post(move |UrlPath(ns): UrlPath<String>| async move {
                seen.lock().expect("lock").push(ns.clone());
                if ns == fail {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({"message": "disk full"})))
                } else {
                    (axum::http::StatusCode::OK, axum::Json(serde_json::json!([])))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, uploads)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flows_push_uploads_nothing_the_server_refuses_and_says_what_a_failed_upload_left() {
    let root = temp_dir("baton-cli-push-stub");
    let d = flows_dir(
        &root,
        &[
            ("one.yml", &log_flow("cli.a", "one")),
            ("two.yml", &log_flow("cli.a", "two")),
            ("b.yml", &log_flow("cli.b", "b")),
            ("c.yml", &log_flow("cli.c", "c")),
        ],
    );
    // the server's own validation refuses a flow: no upload at all
    let (url, uploads) = push_stub(Some("tasks[0]: the server's plugins differ"), "none").await;
    let o = push(&d, &["--server", &url], None).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("refused by the server") && t.contains("the server's plugins differ"), "{t}");
    assert!(t.contains("nothing was pushed"), "{t}");
    assert!(uploads.lock().expect("lock").is_empty(), "nothing uploaded");

    // an upload fails mid-way: exactly what was pushed and what was not
    let (url, uploads) = push_stub(None, "cli.b").await;
    let o = push(&d, &["--server", &url], None).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("namespace cli.b: HTTP 500: disk full"), "{t}");
    assert!(t.contains("pushed: cli.a (2 flow(s))"), "{t}");
    assert!(t.contains("not pushed: cli.b (1 flow(s), failed), cli.c (1 flow(s))"), "{t}");
    assert_eq!(*uploads.lock().expect("lock"), ["cli.a", "cli.b"], "stopped at the failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flows_push_reaches_the_gcp_api_function() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let root = temp_dir("baton-cli-push-gcp");
    let a1 = log_flow("cli.gcp", "one");
    let d = flows_dir(&root, &[("one.yml", &a1)]);
    let o = push(&d, &["--server", &cluster.api.url], None).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(flows_of(&cluster.http, &cluster.api.url, None).await, ["cli.gcp.one"]);

    // --gcp: the URL from `terraform output`, the token from gcloud (stand-ins here)
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let calls = root.join("calls.log");
    let stub = |name: &str, out: &str| {
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\necho \"{name} $*\" >> '{}'\necho '{out}'\n", calls.display()))
            .expect("stub");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    };
    stub("terraform", &cluster.api.url);
    stub("gcloud", "stand-in-token");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let d = flows_dir(&root, &[("one.yml", &a1), ("two.yml", &log_flow("cli.gcp", "two"))]);
    let o = push(&d, &["--gcp", "--terraform", "deploy/terraform"], Some(&path)).await;
    assert!(o.status.success(), "{}", text(&o));
    let log = std::fs::read_to_string(&calls).expect("calls");
    assert!(log.contains("terraform -chdir=deploy/terraform output -raw api_url"), "{log}");
    assert!(log.contains("gcloud auth print-identity-token"), "{log}");
    assert_eq!(flows_of(&cluster.http, &cluster.api.url, None).await, ["cli.gcp.one", "cli.gcp.two"]);
    let _ = std::fs::remove_dir_all(root);
}
