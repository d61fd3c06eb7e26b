//! Webhook bodies that go to internal storage, on `baton server local`,
//! driven over HTTP as a caller would: a `multipart/form-data` form
//! (`trigger.parts`: its files stored, read back by a task with `read()`;
//! `trigger.formFields`: its other fields, a repeated one as a list; no
//! `trigger.body`), a body under `fetchType: STORE` (`trigger.uri`, the
//! bytes as sent, binary too), a form whose `conditions` do not hold (204,
//! and nothing left in storage), and `fetchType` values Baton refuses.

use std::time::Duration;

use serde_json::Value;
use shared::model::{Execution, StateType};
use shared::server::{LocalServer, ServerOptions};

use crate::sched_support::temp_dir;
use crate::webhook::ended;

const FORM: &str = r#"id: form
namespace: io.kestra.tests
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.formFields.name }}|{{ trigger.formFields.tag | join(',') }}|{{ read(trigger.parts.doc) }}|{{ trigger.body ?? 'no body' }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: formkey
"#;

const STORED: &str = r#"id: stored
namespace: io.kestra.tests
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    runIf: "{{ trigger.headers['content-type'][0] == 'text/csv' }}"
    format: "{{ read(trigger.uri) }}|{{ trigger.body ?? 'no body' }}"
  - id: size
    type: io.kestra.plugin.core.debug.Return
    format: "{{ fileSize(trigger.uri) }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: storekey
    fetchType: STORE
"#;

const GUARDED: &str = r#"id: guarded
namespace: io.kestra.tests
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(trigger.parts.doc) }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: guardkey
    conditions:
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{ trigger.formFields.go == 'yes' }}"
"#;

async fn start() -> LocalServer {
    let home = temp_dir("baton-webhook-files");
    let flows = home.join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    for (name, text) in [("form.yaml", FORM), ("stored.yaml", STORED), ("guarded.yaml", GUARDED)] {
        std::fs::write(flows.join(name), text).expect("write flow");
    }
    let mut opts = ServerOptions::new(home.join("home"));
    opts.flows_dir = flows;
    opts.port = 0;
    opts.workers = 2;
    opts.tick = Duration::from_millis(200);
    LocalServer::start(opts).await.expect("server starts")
}

fn hook_url(server: &LocalServer, tail: &str) -> String {
    format!("{}/api/v1/main/executions/webhook/io.kestra.tests/{tail}", server.url())
}

/// A multipart/form-data body of `fields` (name, value) and one file part.
fn form(fields: &[(&str, &str)], file: (&str, &str, &[u8])) -> (String, Vec<u8>) {
    let boundary = "baton-test-boundary-7MA4YWxk";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    let (name, file_name, bytes) = file;
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post(server: &LocalServer, tail: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(hook_url(server, tail))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("post");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn output(e: &Execution, task: &str) -> String {
    let run = e.task_run_list.iter().find(|t| t.task_id == task).unwrap_or_else(|| panic!("no task run {task}: {e:?}"));
    run.outputs.as_ref().expect("outputs")["value"].as_str().expect("text").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_forms_and_stored_bodies_reach_the_execution_as_files() {
    let server = start().await;

    // a form: fields as formFields (a repeated one as a list), the file in storage
    let (ct, body) = form(&[("name", "Ada"), ("tag", "a"), ("tag", "b")], ("doc", "../notes.txt", b"hello, file"));
    let (status, v) = post(&server, "form/formkey", &ct, body).await;
    assert_eq!(status, 200, "{v}");
    let vars = &v["trigger"]["variables"];
    assert_eq!(vars["formFields"]["name"], "Ada", "{v}");
    assert_eq!(vars["formFields"]["tag"], serde_json::json!(["a", "b"]), "{v}");
    assert!(vars.get("body").is_none(), "a form has no trigger.body: {v}");
    let id = v["id"].as_str().expect("id").to_string();
    let uri = vars["parts"]["doc"].as_str().expect("the file part's URI");
    assert_eq!(uri, format!("kestra:///io/kestra/tests/form/executions/{id}/trigger/hook/parts/doc/notes.txt"));
    let e = ended(&server, &id).await;
    assert_eq!(e.state.current, StateType::Success, "{e:?}");
    assert_eq!(output(&e, "seen"), "Ada|a,b|hello, file|no body");

    // fetchType STORE: the body as sent (binary too) is trigger.uri, not trigger.body
    let bytes: Vec<u8> = vec![0, 159, 146, 150, 255, 10, 1];
    let (status, v) = post(&server, "stored/storekey", "text/csv", b"id,n\n1,2\n".to_vec()).await;
    assert_eq!(status, 200, "{v}");
    let uri = v["trigger"]["variables"]["uri"].as_str().expect("trigger.uri").to_string();
    assert!(uri.ends_with("/trigger/hook/body.csv"), "{uri}");
    assert!(v["trigger"]["variables"].get("body").is_none(), "{v}");
    let e = ended(&server, v["id"].as_str().expect("id")).await;
    assert_eq!(output(&e, "seen"), "id,n\n1,2\n|no body");
    let (status, v) = post(&server, "stored/storekey", "application/octet-stream", bytes.clone()).await;
    assert_eq!(status, 200, "{v}");
    let e = ended(&server, v["id"].as_str().expect("id")).await;
    assert_eq!(output(&e, "size"), bytes.len().to_string());
    let path = v["trigger"]["variables"]["uri"].as_str().expect("uri").trim_start_matches("kestra://").to_string();
    let mut stored = Vec::new();
    let mut r = server.engine.storage.get(&path).await.expect("stored body");
    tokio::io::AsyncReadExt::read_to_end(&mut r, &mut stored).await.expect("read");
    assert_eq!(stored, bytes, "the bytes as sent");

    // conditions that do not hold: 204, no execution, nothing left in storage
    let (ct, body) = form(&[("go", "no")], ("doc", "x.txt", b"dropped"));
    let (status, _) = post(&server, "guarded/guardkey", &ct, body).await;
    assert_eq!(status, 204);
    let left = server.engine.storage.list("/io/kestra/tests/guarded/").await.expect("list");
    assert!(left.is_empty(), "files of a request that started nothing: {left:?}");
    let (ct, body) = form(&[("go", "yes")], ("doc", "x.txt", b"kept"));
    let (status, v) = post(&server, "guarded/guardkey", &ct, body).await;
    assert_eq!(status, 200, "{v}");
    let e = ended(&server, v["id"].as_str().expect("id")).await;
    assert_eq!(output(&e, "seen"), "kept");
    server.shutdown().await;
}

#[test]
fn fetch_type_takes_fetch_or_store() {
    let dir = temp_dir("baton-webhook-fetchtype");
    let path = dir.join("f.yaml");
    std::fs::write(&path, STORED.replace("fetchType: STORE", "fetchType: FETCH_ONE")).expect("write");
    let out = std::process::Command::new(crate::support::baton_bin())
        .args(["validate", path.to_str().expect("path")])
        .output()
        .expect("baton validate");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("f.yaml:15:5") && text.contains("fetchType must be FETCH or STORE"), "{text}");
}
