//! Kestra's own Python clients (`kestra-api-client` 1.0.0 and Kestra 2.0's
//! SDK `kestrapy` 2.0.3 from PyPI, set up by scripts/setup/kestra_client.sh;
//! the SDK through tests/kestra_client/drive2.py, on 2.0's paths and shapes)
//! drive `baton server local` (with
//! basic auth) and the GCP `api` function (on the functions cluster) through
//! the same script, tests/kestra_client/drive.py: flows import, create,
//! get, update, search, validate, delete, graph (of a flow, a source and
//! an execution); executions start, search, labels,
//! replay, output file download, kill; logs; KV; triggers search and a
//! backfill; namespaces. The server's HTTP checks (Host, cross-site, auth,
//! unknown routes and parameters, large uploads) are tested here directly.

use std::path::Path;
use std::time::Duration;

use e2e::functions::{Cluster, ClusterOptions};
use shared::server::LocalServer;
use tokio::io::AsyncReadExt;

const AUTH: &str = "admin@kestra.io:Admin1234!";

/// Runs drive.py (Kestra 1.0's client) against `url`; panics with its output when it fails.
async fn drive(url: &str, auth: Option<&str>) {
    drive_with("drive.py", url, auth).await
}

/// Runs `script` (tests/kestra_client/) against `url`.
async fn drive_with(script: &str, url: &str, auth: Option<&str>) {
    let python = std::env::var("BATON_KESTRA_PYTHON").unwrap_or_else(|_| {
        panic!("BATON_KESTRA_PYTHON is not set: source scripts/setup/kestra_client.sh (it installs kestra-api-client)")
    });
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("kestra_client").join(script);
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(path).arg(url).kill_on_drop(true);
    if let Some(a) = auth {
        cmd.arg(a);
    }
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("drive.py runs");
    let read = |r: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>| {
        tokio::spawn(async move {
            let mut out = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut out).await;
            }
            out
        })
    };
    let stdout = read(child.stdout.take().map(|s| Box::new(s) as _));
    let stderr = read(child.stderr.take().map(|s| Box::new(s) as _));
    let status = tokio::time::timeout(Duration::from_secs(180), child.wait()).await;
    if status.is_err() {
        let _ = child.kill().await;
    }
    let text = format!("{}{}", stdout.await.unwrap_or_default(), stderr.await.unwrap_or_default());
    match status {
        Ok(Ok(s)) => assert!(s.success(), "Kestra's Python client ({script}) against {url}:\n{text}"),
        Ok(Err(e)) => panic!("drive.py: {e}"),
        Err(_) => panic!("Kestra's Python client ({script}) against {url} did not finish in 3 minutes:\n{text}"),
    }
    assert!(text.contains("all operations passed"), "{text}");
}

/// Runs probe.py (`client` "1" or "2") against `url`: its lines (one per
/// call, `works|fails client call why`, then the total).
async fn probe(client: &str, url: &str, auth: Option<&str>) -> String {
    let python = std::env::var("BATON_KESTRA_PYTHON").expect("BATON_KESTRA_PYTHON (scripts/setup/kestra_client.sh)");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("kestra_client").join("probe.py");
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(path).arg(client).arg(url).kill_on_drop(true);
    if let Some(a) = auth {
        cmd.arg(a);
    }
    let out = tokio::time::timeout(Duration::from_secs(240), cmd.output()).await.expect("probe.py in 4 minutes");
    let out = out.expect("probe.py runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("calls work"), "probe.py {client} against {url}:\n{text}");
    text
}

/// Every call of both clients reaches a route Baton serves: what fails,
/// fails in the client's own models (README: "Kestra's Python clients,
/// call by call"), never on a missing route or method.
fn no_missing_route(text: &str) {
    let missing: Vec<&str> =
        text.lines().filter(|l| l.starts_with("fails") && (l.contains("HTTP 404") || l.contains("HTTP 405"))).collect();
    assert!(missing.is_empty(), "calls that found no route:\n{}\n\n{text}", missing.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestras_clients_call_by_call_on_both_runtimes() {
    let (server, _home) = local_server(Some(AUTH)).await;
    let cluster = Cluster::start(ClusterOptions::default()).await;
    for (runtime, url, auth) in [("local", server.url(), Some(AUTH)), ("gcp", cluster.api.url.clone(), None)] {
        for client in ["1", "2"] {
            let text = probe(client, &url, auth).await;
            println!("== {runtime} client {client}\n{text}");
            no_missing_route(&text);
        }
    }
    server.shutdown().await;
}

async fn local_server(auth: Option<&str>) -> (LocalServer, std::path::PathBuf) {
    crate::sched_support::api_server("kestra-client", &[], auth).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestras_python_client_drives_the_local_server_with_basic_auth() {
    let (server, _home) = local_server(Some(AUTH)).await;
    drive(&server.url(), Some(AUTH)).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestras_2_0_sdk_drives_the_local_server_with_basic_auth() {
    let (server, _home) = local_server(Some(AUTH)).await;
    drive_with("drive2.py", &server.url(), Some(AUTH)).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestras_2_0_sdk_drives_the_gcp_api_function() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    drive_with("drive2.py", &cluster.api.url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestras_python_client_drives_the_gcp_api_function() {
    let upload = "id: upload\nnamespace: test.gcp\ninputs:\n  - id: name\n    type: STRING\n  - id: data\n    type: FILE\ntasks:\n  - id: echo\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.name }}: {{ read(inputs.data) }}\"\n";
    let cluster =
        Cluster::start(ClusterOptions { flows: vec![("upload.yml".into(), upload.into())], ..Default::default() })
            .await;
    drive(&cluster.api.url, None).await;
    // Kestra's multipart start, with a FILE part, on the api function too
    let b = "XbatonX";
    let body = format!(
        "--{b}\r\ncontent-disposition: form-data; name=\"name\"\r\n\r\nGCP\r\n--{b}\r\ncontent-disposition: form-data; name=\"data\"; filename=\"f.txt\"\r\n\r\nfile body\r\n--{b}--\r\n"
    );
    let resp = cluster
        .http
        .post(format!("{}api/v1/main/executions/test.gcp/upload?wait=true", cluster.api.url))
        .header("content-type", format!("multipart/form-data; boundary={b}"))
        .body(body)
        .send()
        .await
        .expect("multipart start");
    let status = resp.status();
    let v: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["taskRunList"][0]["outputs"]["value"], "GCP: file body", "{v}");
}
