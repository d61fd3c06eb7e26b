//! The web UI in a real browser: Debian's headless Chromium, driven by
//! playwright-core (scripts/setup/chromium.sh) through tests/ui/drive.mjs,
//! against `baton server local`. Each test runs one scenario and asserts on
//! what the page shows: the execute dialog with typed inputs and a FILE,
//! the live state, Gantt, logs, topology and outputs; a backfill from the
//! Triggers page to its end; the KV store; namespace files; flow import
//! and creation; validation errors at their line
//! and API errors; the execute and KV scenarios also against the GCP `api`
//! function (the functions cluster), which serves the same UI. Screenshots go to a temporary folder, or to
//! docs/screenshots/ when `BATON_UI_SCREENSHOTS=1` (how the README's
//! pictures are refreshed).

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::functions::{Cluster, ClusterOptions};
use shared::server::LocalServer;
use tokio::io::AsyncReadExt;

use crate::sched_support::{api_server, temp_dir};

const TYPED: &str = r#"id: typed
namespace: ui.test
description: Every kind of input the execute dialog draws.
labels:
  team: ui
inputs:
  - id: name
    type: STRING
  - id: count
    type: INT
  - id: color
    type: SELECT
    values: [red, green]
  - id: items
    type: ARRAY
    itemType: STRING
  - id: flag
    type: BOOLEAN
  - id: day
    type: DATE
  - id: tags
    type: MULTISELECT
    values: [x, y, z]
  - id: at
    type: DATETIME
  - id: ratio
    type: FLOAT
    defaults: 0.5
  - id: data
    type: FILE
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.name }} x{{ inputs.count }} {{ inputs.color }} {{ inputs.items }}"
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT3S
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.data) }}"
"#;

pub(crate) const NIGHTLY: &str = r#"id: nightly
namespace: ui.test
inputs:
  - id: region
    type: STRING
    defaults: eu
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
    disabled: false
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "backfill {{ trigger.date }} in {{ inputs.region }}"
"#;

/// A local server with the two test flows.
async fn server() -> (LocalServer, PathBuf) {
    server_with_auth(None).await
}

async fn server_with_auth(auth: Option<&str>) -> (LocalServer, PathBuf) {
    api_server("ui", &[("typed.yml", TYPED), ("nightly.yml", NIGHTLY)], auth).await
}

/// Runs `node tests/ui/drive.mjs URL SCENARIO SHOTS`; panics with its output
/// when the scenario fails, and returns its stdout.
pub(crate) async fn drive(url: &str, scenario: &str, shots: &Path) -> String {
    drive_as(url, scenario, shots, None).await
}

/// [`drive`], the browser logging in with basic auth `user:password`.
pub(crate) async fn drive_as(url: &str, scenario: &str, shots: &Path, auth: Option<&str>) -> String {
    for var in ["BATON_CHROMIUM", "BATON_PLAYWRIGHT_DIR"] {
        assert!(
            std::env::var_os(var).is_some(),
            "{var} is not set: source scripts/setup/chromium.sh (it installs Debian's chromium and playwright-core); the UI tests need them"
        );
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/drive.mjs");
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(script).arg(url).arg(scenario).arg(shots).kill_on_drop(true);
    if let Some(a) = auth {
        cmd.env("BATON_UI_AUTH", a);
    }
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("node runs drive.mjs");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s).await;
        s
    });
    let err = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    // drive.mjs waits up to 45 s on each condition (see there)
    let status = tokio::time::timeout(Duration::from_secs(240), child.wait()).await;
    if status.is_err() {
        let _ = child.kill().await;
    }
    let (out, err) = (out.await.unwrap_or_default(), err.await.unwrap_or_default());
    match status {
        Ok(Ok(s)) => assert!(s.success(), "UI scenario '{scenario}' against {url} failed:\n{out}{err}"),
        Ok(Err(e)) => panic!("drive.mjs: {e}"),
        Err(_) => panic!("UI scenario '{scenario}' did not finish in 2 minutes:\n{out}{err}"),
    }
    assert!(out.contains(&format!("scenario {scenario} passed")), "{out}{err}");
    // what the scenario measured (shown with --nocapture)
    eprintln!("UI scenario '{scenario}':\n{out}");
    out
}

/// Where screenshots go: docs/screenshots/ when asked
/// (`BATON_UI_SCREENSHOTS=1`, scripts/screenshots.sh), else a temporary folder.
pub(crate) fn shots(home: &Path) -> PathBuf {
    if std::env::var("BATON_UI_SCREENSHOTS").is_ok_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
    } else {
        home.join("shots")
    }
}

async fn scenario(name: &str, expected_shot: &str) {
    let (server, home) = server().await;
    let dir = shots(&home);
    drive(&server.url(), name, &dir).await;
    let png = std::fs::metadata(dir.join(format!("{expected_shot}.png"))).map(|m| m.len()).unwrap_or(0);
    assert!(png > 1000, "the scenario took its screenshot {expected_shot}.png in {}", dir.display());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_dialog_runs_a_flow_with_typed_inputs_and_shows_it_live_with_logs_gantt_and_topology() {
    scenario("execute", "topology").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_dialog_on_the_triggers_page_starts_a_backfill_and_shows_its_progress() {
    scenario("backfill", "triggers").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_store_page_sets_typed_values_lists_reads_and_deletes_them() {
    scenario("kv", "kv").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_page_imports_yaml_creates_a_flow_in_the_editor_and_shows_a_refused_import() {
    scenario("flows", "flows").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_files_page_uploads_lists_views_and_deletes_a_file() {
    scenario("files", "files").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_editor_shows_validation_errors_at_their_line_and_api_errors_are_shown() {
    scenario("errors", "validation").await;
}

/// The editor's own unit tests (ui/editor/test: cursor context, schema walk,
/// completions, diagnostics) under node's test runner; they need no npm install.
#[test]
fn the_editor_unit_tests_pass_under_node() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/editor");
    let out = std::process::Command::new("node")
        .arg("--test")
        .arg("test/")
        .current_dir(&dir)
        .output()
        .expect("node runs (the UI tests need it)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "node --test ui/editor/test failed:\n{text}");
    assert!(text.contains("# fail 0") && !text.contains("# pass 0"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_flow_is_written_with_completion_only_underlined_as_typed_saved_with_ctrl_s_and_runs() {
    let (server, home) = server().await;
    let dir = shots(&home);
    let out = drive(&server.url(), "editor", &dir).await;
    for line in out.lines().filter(|l| l.contains(" ms ")) {
        eprintln!("{line}");
    }
    let lint: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("lint underline ms after typing: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the scenario reports the lint delay");
    // the issue asks for a second (339 ms measured idle, README); the bound is
    // looser so a loaded CI machine does not fail it on time alone
    assert!(lint < 3000, "the unknown property is underlined {lint} ms after typing, over three seconds");
    assert!(std::fs::metadata(dir.join("editor-lint.png")).is_ok_and(|m| m.len() > 1000), "editor-lint.png");
    // the README's figure: time to interactive of the editor page, median of 5 loads
    let bench = drive(&server.url(), "editor-bench", &dir).await;
    let tti: f64 = bench
        .lines()
        .find_map(|l| l.strip_prefix("editor time to interactive ms (median of 5): "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("the bench reports the time to interactive");
    eprintln!("{}", bench.lines().next().unwrap_or_default());
    // a hang guard; the README's figure is the measure
    assert!(tti < 20000.0, "the editor page takes {tti} ms to become interactive");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_basic_auth_the_ui_logs_in_and_still_follows_an_execution_live() {
    let auth = "admin@kestra.io:Admin1234!";
    let (server, home) = server_with_auth(Some(auth)).await;
    let api = reqwest::get(format!("{}/api/v1/flows", server.url())).await.expect("GET without credentials");
    assert_eq!(api.status(), 401, "the API is behind the server's basic auth");
    assert!(api.headers().contains_key("www-authenticate"), "curl and clients are challenged as before");
    drive_as(&server.url(), "execute", &home.join("shots"), Some(auth)).await;
    server.shutdown().await;
}

/// Behind basic auth a browser gets the login page, not its prompt: a wrong
/// password is refused with a message, the right one reaches the flows list
/// (the page's API calls carry it), Logout returns to the login page; curl's
/// `-u` still works unchanged (tests/ui/login.mjs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_basic_auth_a_login_page_logs_in_and_out() {
    let (server, home) = server_with_auth(Some("admin@kestra.io:Admin1234!")).await;
    let http = reqwest::Client::new();
    let page = http.get(format!("{}/ui/main/flows", server.url())).send().await.expect("GET the page");
    assert_eq!(page.status(), 200, "the page itself (no data) is served, to show its login form");
    let fetch = http.get(format!("{}/api/v1/flows", server.url())).header("sec-fetch-mode", "cors").send().await;
    let fetch = fetch.expect("GET as the page's fetch");
    assert_eq!(fetch.status(), 401);
    assert!(!fetch.headers().contains_key("www-authenticate"), "the page's own call opens no browser prompt");
    let curl = http.get(format!("{}/api/v1/flows", server.url())).basic_auth("admin@kestra.io", Some("Admin1234!"));
    assert_eq!(curl.send().await.expect("GET with -u").status(), 200, "curl -u works as before");
    // the login route: a signed session in an HttpOnly cookie, no password in it
    let login = |password: &str| {
        http.post(format!("{}/auth/login", server.url()))
            .json(&serde_json::json!({"username": "admin@kestra.io", "password": password}))
            .send()
    };
    assert_eq!(login("nope").await.expect("wrong login").status(), 401);
    let ok = login("Admin1234!").await.expect("login");
    assert_eq!(ok.status(), 200);
    let cookie = ok.headers()["set-cookie"].to_str().expect("cookie").to_string();
    assert!(cookie.starts_with("baton_session=v2.") && cookie.contains("; HttpOnly; SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Max-Age=43200") && !cookie.contains("Secure"), "12 h, over http: {cookie}");
    let token = cookie["baton_session=".len()..].split(';').next().unwrap_or_default().to_string();
    assert!(!token.contains("QWRtaW4xMjM0IQ") && !token.contains("Admin1234"), "{token}");
    let with = |cookie: String| {
        http.get(format!("{}/api/v1/flows", server.url()))
            .header("cookie", cookie)
            .header("sec-fetch-mode", "cors")
            .send()
    };
    assert_eq!(with(format!("baton_session={token}")).await.expect("GET with session").status(), 200);
    let tampered = token.replacen("v2.", "v2.A", 1);
    let old_style = format!(
        "baton_auth={}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "admin@kestra.io:Admin1234!")
    );
    for refused in [format!("baton_session={tampered}"), old_style] {
        assert_eq!(with(refused.clone()).await.expect("GET").status(), 401, "{refused}");
    }
    // a token the server signed but past its lifetime: refused (the home's own key, mode 0600)
    let key = home.join("home").join("session.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("session.key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", key.display());
    }
    let ttl = shared::server::session::SESSION_TTL;
    let sessions =
        shared::server::session::Sessions::for_home(&home.join("home"), "admin@kestra.io", "Admin1234!", ttl)
            .expect("the server's key");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let signed_here = sessions.issue(now);
    assert_eq!(with(format!("baton_session={signed_here}")).await.expect("GET").status(), 200);
    let expired = sessions.issue(now - 12 * 3600 - 1);
    assert_eq!(with(format!("baton_session={expired}")).await.expect("GET").status(), 401, "expired");
    let session = http.get(format!("{}/auth/session", server.url())).header("cookie", format!("baton_session={token}"));
    let session: serde_json::Value = session.send().await.expect("session").json().await.expect("json");
    assert_eq!((session["user"].as_str(), session["session"].as_bool()), (Some("admin@kestra.io"), Some(true)));
    let behind_tls = http
        .post(format!("{}/auth/logout", server.url()))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("logout");
    let cleared = behind_tls.headers()["set-cookie"].to_str().expect("cookie").to_string();
    assert!(cleared.starts_with("baton_session=; Max-Age=0") && cleared.ends_with("; Secure"), "{cleared}");
    let out = drive(&server.url(), "login", &shots(&home)).await;
    assert!(out.contains("logged in and out"), "{out}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gcp_api_function_serves_the_same_ui_and_runs_a_flow_and_sets_kv_from_it() {
    let flows = vec![("typed.yml".into(), TYPED.into()), ("nightly.yml".into(), NIGHTLY.into())];
    let cluster = Cluster::start(ClusterOptions { flows, ..Default::default() }).await;
    let shots = temp_dir("ui-gcp");
    let url = cluster.api.url.trim_end_matches('/');
    drive(url, "execute", &shots).await;
    drive(url, "kv", &shots).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_modules_are_served_with_types_and_etags() {
    let (server, _home) = server().await;
    let http = reqwest::Client::new();
    let page = http.get(server.url()).send().await.expect("GET /");
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let etag = page.headers()["etag"].clone();
    assert!(page.text().await.expect("page").contains("/ui/app.js"));
    let again = http.get(server.url()).header("if-none-match", etag).send().await.expect("GET / again");
    assert_eq!(again.status(), 304);
    let js = http.get(format!("{}/ui/app.js", server.url())).send().await.expect("GET app.js");
    assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
    let missing = http.get(format!("{}/ui/nope.js", server.url())).send().await.expect("GET nope.js");
    assert_eq!(missing.status(), 404);
    let v: serde_json::Value = missing.json().await.expect("json error");
    assert!(v["message"].as_str().unwrap_or("").contains("nope.js"), "{v}");
    server.shutdown().await;
}
