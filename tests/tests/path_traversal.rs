//! Issue 53, item 4: path traversal over HTTP on `baton server local`.
//! Namespace files (upload, download, delete, move) with `..`, absolute
//! paths, `%2e%2e` and a symbolic link out of the home; flow ids and
//! namespaces holding `/` or `..`; KV keys and namespaces; `kestra://`
//! URIs out of an execution's or namespace's scope through `read()`, the
//! storage tasks and `/executions/{id}/file`. Each is refused with a 4xx
//! naming what is wrong, and a canary folder beside the home is neither
//! read nor written.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::local_server::{LocalServer, test_dir};

const CANARY: &str = "canary-content-outside-the-home";

/// A 4xx whose body says something and never holds the canary.
async fn refused(r: reqwest::Response, what: &str) -> String {
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    assert!(status.is_client_error(), "{what}: {status} {body}");
    assert!(!body.contains(CANARY), "{what}: the canary leaked: {body}");
    assert!(!body.trim().is_empty() || status == reqwest::StatusCode::METHOD_NOT_ALLOWED, "{what}: an empty {status}");
    body
}

/// A multipart upload of one `fileContent` part, as the UI sends it.
fn upload(rb: reqwest::RequestBuilder, name: &str, body: &str) -> reqwest::RequestBuilder {
    const BOUNDARY: &str = "baton-test-boundary";
    rb.header("content-type", format!("multipart/form-data; boundary={BOUNDARY}")).body(format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"fileContent\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n{body}\r\n--{BOUNDARY}--\r\n"
    ))
}

/// Nothing but the canary itself in the canary folder, unchanged.
fn canary_intact(outside: &Path) {
    let names: Vec<String> = std::fs::read_dir(outside)
        .expect("canary folder")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert_eq!(names, ["canary.txt"], "something was written beside the canary");
    assert_eq!(std::fs::read_to_string(outside.join("canary.txt")).expect("canary"), CANARY);
}

async fn run_flow(client: &reqwest::Client, server: &LocalServer, ns: &str, id: &str) -> Value {
    let r = client.post(server.api(&format!("/executions/{ns}/{id}"))).send().await.expect("create");
    assert!(r.status().is_success(), "{ns}.{id}: {}", r.status());
    let id = r.json::<Value>().await.expect("JSON")["id"].as_str().expect("id").to_string();
    for _ in 0..300 {
        let e: Value =
            client.get(server.api(&format!("/executions/{id}"))).send().await.expect("get").json().await.expect("JSON");
        let s = e["state"]["current"].as_str().unwrap_or_default();
        if ["SUCCESS", "FAILED", "WARNING", "KILLED"].contains(&s) {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{ns}.{id} did not end within 30 s");
}

fn task_error(e: &Value, task: &str) -> String {
    let runs = e["taskRunList"].as_array().cloned().unwrap_or_default();
    let run = runs.iter().find(|r| r["taskId"] == task).unwrap_or_else(|| panic!("no task run {task}: {e}"));
    // allowFailure: FAILED (or WARNING), never SUCCESS
    assert_ne!(run["state"]["current"], "SUCCESS", "{task} should fail: {e}");
    let text = e.to_string();
    assert!(!text.contains(CANARY), "the canary leaked through {task}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_out_of_the_home_or_out_of_scope_are_refused() {
    let dir = test_dir("baton-traversal");
    let outside = dir.join("outside");
    std::fs::create_dir_all(&outside).expect("outside");
    std::fs::write(outside.join("canary.txt"), CANARY).expect("canary");
    let canary = outside.join("canary.txt").display().to_string();
    // the home is dir/home: `../outside/canary.txt` from it, deeper from its storage
    let up = "../../../../../../../../outside/canary.txt";
    // kestra:// URIs (run below): a writer's file, and readers out of its scope
    let writer = "id: writer\nnamespace: company.team\ntasks:\n  - id: w\n    type: io.kestra.plugin.core.storage.Write\n    content: private\n";
    std::fs::write(dir.join("flows/writer.yaml"), writer).expect("flow");
    let readers = format!(
        "id: reader\nnamespace: other\ntasks:\n  \
         - id: read_up\n    type: io.kestra.plugin.core.debug.Return\n    allowFailure: true\n    format: \"{{{{ read('kestra:///{up}') }}}}\"\n  \
         - id: read_ns\n    type: io.kestra.plugin.core.debug.Return\n    allowFailure: true\n    format: \"{{{{ read('kestra:///company/team/_files/ok.txt') }}}}\"\n  \
         - id: size_up\n    type: io.kestra.plugin.core.storage.Size\n    allowFailure: true\n    uri: \"kestra:///{up}\"\n  \
         - id: concat_up\n    type: io.kestra.plugin.core.storage.Concat\n    allowFailure: true\n    files:\n      - \"kestra:///{up}\"\n  \
         - id: delete_ns\n    type: io.kestra.plugin.core.storage.Delete\n    allowFailure: true\n    uri: kestra:///company/team/_files/ok.txt\n"
    );
    std::fs::write(dir.join("flows/reader.yaml"), readers).expect("flow");
    let server = LocalServer::start(&dir, 2, &[]).await;
    let client = reqwest::Client::new();
    let files = |ns: &str, query: &str| server.api(&format!("/namespaces/{ns}/files?{query}"));

    // namespace files: a normal upload works (the baseline)
    let r = upload(client.post(files("company.team", "path=/ok.txt")), "ok.txt", "fine").send().await.expect("post");
    assert!(r.status().is_success(), "{}", r.status());
    for path in [
        up.to_string(),
        "/../../evil.txt".into(),
        "%2e%2e/%2e%2e/%2e%2e/outside/evil.txt".into(),
        "..%2F..%2F..%2Foutside%2Fevil.txt".into(),
        "a/..\\..\\evil.txt".into(),
        "a/%00evil.txt".into(),
    ] {
        let r = upload(client.post(files("company.team", &format!("path={path}"))), "evil.txt", "evil")
            .send()
            .await
            .expect("post");
        refused(r, &format!("upload to {path}")).await;
        let r = client.get(files("company.team", &format!("path={path}"))).send().await.expect("get");
        refused(r, &format!("download of {path}")).await;
        let r = client.delete(files("company.team", &format!("path={path}"))).send().await.expect("delete");
        refused(r, &format!("delete of {path}")).await;
    }
    // an absolute path is a path inside the namespace, never on the host
    let r = upload(client.post(files("company.team", &format!("path={canary}"))), "c.txt", "overwritten")
        .send()
        .await
        .expect("post");
    let status = r.status();
    assert!(status.is_success() || status.is_client_error(), "{status}");
    let r = client.get(files("company.team", &format!("path={canary}"))).send().await.expect("get");
    assert!(!r.text().await.unwrap_or_default().contains(CANARY));
    // a move (Kestra's PUT ?from=&to=) out of the namespace
    let r = client.put(files("company.team", &format!("from=/ok.txt&to={up}"))).send().await.expect("put");
    refused(r, "a move out of the namespace").await;
    // a namespace that is a path
    for ns in ["..", "..%2F..%2Foutside", "company%2F..%2F..", "company.team%2F..", "%2e%2e"] {
        let r = upload(client.post(files(ns, "path=/x.txt")), "x.txt", "evil").send().await.expect("post");
        refused(r, &format!("an upload to namespace {ns}")).await;
        let r = client.get(files(ns, "path=/x.txt")).send().await.expect("get");
        refused(r, &format!("a download from namespace {ns}")).await;
    }
    // a symbolic link in the namespace's folder, to the canary
    let ns_dir = dir.join("home/storage/company/team/_files");
    std::fs::create_dir_all(&ns_dir).expect("namespace folder");
    std::os::unix::fs::symlink(outside.join("canary.txt"), ns_dir.join("link.txt")).expect("symlink");
    let r = client.get(files("company.team", "path=/link.txt")).send().await.expect("get");
    refused(r, "a symbolic link out of the home").await;

    // flows whose id or namespace is a path
    for (ns, id) in [
        ("../../outside", "evil"),
        ("company.team", "../../../outside/evil"),
        ("company/team", "evil"),
        ("company.team", "a/b"),
    ] {
        let yaml = format!(
            "id: \"{id}\"\nnamespace: \"{ns}\"\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        );
        let r = client
            .post(server.api("/flows"))
            .header("content-type", "application/x-yaml")
            .body(yaml)
            .send()
            .await
            .expect("post flow");
        refused(r, &format!("flow {ns}.{id}")).await;
    }
    for path in ["/flows/..%2F..%2Foutside/evil", "/flows/company.team/..%2F..%2Foutside%2Fcanary"] {
        let r = client.get(server.api(path)).send().await.expect("get flow");
        refused(r, &format!("GET {path}")).await;
        let yaml = "id: evil\nnamespace: company.team\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
        let r = client
            .put(server.api(path))
            .header("content-type", "application/x-yaml")
            .body(yaml)
            .send()
            .await
            .expect("put flow");
        refused(r, &format!("PUT {path}")).await;
        let r = client.delete(server.api(path)).send().await.expect("delete flow");
        refused(r, &format!("DELETE {path}")).await;
    }

    // KV keys and namespaces
    for (ns, key) in [
        ("company.team", "..%2F..%2Fevil"),
        ("company.team", "a%2Fb"),
        ("..%2F..%2Fevil", "k"),
        ("company%2Fteam", "k"),
    ] {
        let r =
            client.put(server.api(&format!("/namespaces/{ns}/kv/{key}"))).body("\"v\"").send().await.expect("put kv");
        refused(r, &format!("KV {ns} / {key}")).await;
    }

    // kestra:// URIs
    let w = run_flow(&client, &server, "company.team", "writer").await;
    assert_eq!(w["state"]["current"], "SUCCESS", "{w}");
    let reader = run_flow(&client, &server, "other", "reader").await;
    for task in ["read_up", "read_ns", "size_up", "concat_up", "delete_ns"] {
        task_error(&reader, task);
    }
    let r = client.get(files("company.team", "path=/ok.txt")).send().await.expect("get");
    assert_eq!(r.text().await.unwrap_or_default(), "fine", "another namespace's Delete removed a namespace file");
    // the API's file download: out of the home, and another execution's file
    let wid = w["id"].as_str().expect("id");
    let rid = reader["id"].as_str().expect("id").to_string();
    let wfile = w["taskRunList"][0]["outputs"]["uri"].as_str().expect("uri").to_string();
    for (id, path) in [
        (wid.to_string(), format!("kestra:///{up}")),
        (
            wid.to_string(),
            format!(
                "kestra:///company/team/writer/executions/{wid}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/outside/canary.txt"
            ),
        ),
        (wid.to_string(), canary.clone()),
        (wid.to_string(), format!("file://{canary}")),
        (rid.clone(), wfile.clone()),
    ] {
        for route in ["file", "file/preview", "file/metas"] {
            let r = client
                .get(server.api(&format!("/executions/{id}/{route}")))
                .query(&[("path", &path)])
                .send()
                .await
                .expect("get");
            refused(r, &format!("/executions/{id}/{route}?path={path}")).await;
        }
    }
    server.kill_9();
    canary_intact(&outside);
    let _ = std::fs::remove_dir_all(&dir);
}
