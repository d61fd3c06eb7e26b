//! Executions search by label, deletion and Kestra's bulk routes on
//! `baton server local` (shared/src/api/bulk.rs): `DELETE /executions/{id}`
//! removes the execution, its logs and its internal-storage files and
//! refuses a running one; `by-ids` / `by-query` (query string and Kestra's
//! JSON body filters) answer `{"count": n}` or a `BulkErrorResponse`; bulk
//! kill and restart go through the single-execution routes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::sched_support::{api_server, wait_ended};

const HELLO: &str = "id: hello\nnamespace: test.bulk\ninputs:\n  - id: data\n    type: FILE\n    required: false\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: hello bulk\n";
const SLOW: &str = "id: slow\nnamespace: test.bulk\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT60S\n";
const FAILS: &str = "id: fails\nnamespace: test.bulk\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: boom\n";

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}/api/v1{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
    async fn delete(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(reqwest::Method::DELETE, path, body).await
    }
    async fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, body).await
    }
    /// Starts `flow` with `labels`, waiting for its end unless `wait` is false.
    async fn start(&self, flow: &str, labels: &str, wait: bool) -> String {
        let (status, e) = self.post(&format!("/executions/test.bulk/{flow}?labels={labels}&wait={wait}"), None).await;
        assert_eq!(status, 200, "{e}");
        e["id"].as_str().expect("id").to_string()
    }
    async fn ids(&self, query: &str) -> (u64, Vec<String>) {
        let (status, page) = self.get(&format!("/executions/search?{query}")).await;
        assert_eq!(status, 200, "{page}");
        let ids = page["results"].as_array().expect("results").iter().map(|e| e["id"].as_str().expect("id").into());
        (page["total"].as_u64().expect("total"), ids.collect())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn executions_are_searched_by_label_deleted_and_killed_or_restarted_in_bulk() {
    let (server, dir) =
        api_server("baton-bulk", &[("hello.yml", HELLO), ("slow.yml", SLOW), ("fails.yml", FAILS)], None).await;
    let api = Api { http: reqwest::Client::new(), base: server.url().trim_end_matches('/').to_string() };

    // an execution with an uploaded FILE input (stored under its prefix) and a log line
    let b = "XbulkX";
    let body = format!(
        "--{b}\r\ncontent-disposition: form-data; name=\"data\"; filename=\"f.txt\"\r\n\r\nfile body\r\n--{b}--\r\n"
    );
    let resp = api
        .http
        .post(format!("{}/api/v1/executions/test.bulk/hello?labels=batch:a&wait=true", api.base))
        .header("content-type", format!("multipart/form-data; boundary={b}"))
        .body(body)
        .send()
        .await
        .expect("multipart start");
    let with_file: Value = resp.json().await.expect("json");
    let with_file = with_file["id"].as_str().expect("id").to_string();
    let a2 = api.start("hello", "batch:a", true).await;
    let b1 = api.start("hello", "batch:b", true).await;

    // label search in the store, with paging and real totals
    assert_eq!(api.ids("labels=batch:a").await, (2, vec![a2.clone(), with_file.clone()]));
    assert_eq!(api.ids("filters[labels][EQUALS][batch]=a&size=1&page=2").await, (2, vec![with_file.clone()]));
    assert_eq!(api.ids("labels=batch:a&labels=batch:b").await.0, 0, "every label must match");
    assert_eq!(api.ids("labels=batch:b&flowId=hello").await, (1, vec![b1.clone()]));

    // DELETE one: the execution, its logs and its files
    let storage = dir.join("home").join("storage").join("test/bulk/hello/executions").join(&with_file);
    assert!(storage.exists(), "the upload is stored under {}", storage.display());
    let (status, logs) = api.get(&format!("/logs/{with_file}")).await;
    assert!(status == 200 && !logs.as_array().expect("logs").is_empty(), "{logs}");
    let (status, body) = api.delete(&format!("/executions/{with_file}"), None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(api.get(&format!("/executions/{with_file}")).await.0, 404);
    let logs = server.engine.state.logs(&with_file).await.expect("logs");
    assert!(logs.is_empty(), "deleteLogs defaults to true: {logs:?}");
    assert!(!storage.exists(), "deleteStorage defaults to true: {} is left", storage.display());
    let (status, body) = api.delete(&format!("/executions/{with_file}"), None).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = api.delete(&format!("/executions/{a2}?deleteEverything=true"), None).await;
    assert_eq!(status, 400, "an unknown parameter is refused: {body}");

    // a running execution is refused, then killed in bulk
    let slow = api.start("slow", "batch:c", false).await;
    let (status, body) = api.delete(&format!("/executions/{slow}"), None).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["message"].as_str().expect("message").contains("kill it first"), "{body}");
    let (status, body) = api.delete("/executions/by-ids", Some(json!([slow, "nope"]))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "invalid bulk delete");
    let invalid: Vec<&str> =
        body["invalids"].as_array().expect("invalids").iter().map(|i| i["invalidValue"].as_str().unwrap()).collect();
    assert_eq!(invalid, [slow.as_str(), "nope"], "{body}");
    assert_eq!(api.get(&format!("/executions/{slow}")).await.0, 200, "nothing was deleted");
    let (status, body) = api.delete("/executions/kill/by-ids", Some(json!([slow]))).await;
    assert_eq!((status, body.clone()), (200, json!({"count": 1})), "{body}");
    let killed = wait_ended(&server.engine, &slow).await;
    assert_eq!(killed.state.current.as_str(), "KILLED");
    let (status, body) = api.delete("/executions/kill/by-ids", Some(json!([slow]))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "invalid bulk kill");

    // restart in bulk: FAILED ones only
    let failed = api.start("fails", "batch:d", true).await;
    let (status, body) = api.post("/executions/restart/by-ids", Some(json!([failed, b1]))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["invalids"][0]["message"].as_str().unwrap().contains("not in state FAILED"), "{body}");
    let (status, body) = api.post("/executions/restart/by-ids", Some(json!([failed]))).await;
    assert_eq!((status, body.clone()), (200, json!({"count": 1})), "{body}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let e = wait_ended(&server.engine, &failed).await;
        if e.task_run_list[0].attempts.len() == 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the restart never ran the failed task again: {e:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // by query: the old parameters, then Kestra's JSON body filters
    let (status, body) = api.delete("/executions/by-query?labels=batch:b", None).await;
    assert_eq!((status, body.clone()), (200, json!({"count": 1})), "{body}");
    assert_eq!(api.get(&format!("/executions/{b1}")).await.0, 404);
    let (status, body) = api.delete("/executions/by-query?page=2", None).await;
    assert_eq!(status, 400, "paging is not a by-query parameter: {body}");
    let filters = json!({"filters": [{"field": "LABELS", "operation": "EQUALS", "value": {"batch": "d"}}]});
    let (status, body) = api.delete("/executions/by-query", Some(filters)).await;
    assert_eq!((status, body.clone()), (200, json!({"count": 1})), "{body}");
    assert_eq!(api.get(&format!("/executions/{failed}")).await.0, 404);
    let bad = json!({"filters": [{"field": "WORKER_ID", "operation": "EQUALS", "value": "w"}]});
    let (status, body) = api.delete("/executions/by-query", Some(bad)).await;
    assert_eq!(status, 400, "{body}");

    // by ids, keeping the logs
    let (status, body) = api.delete("/executions/by-ids?deleteLogs=false", Some(json!([a2]))).await;
    assert_eq!((status, body.clone()), (200, json!({"count": 1})), "{body}");
    let logs = server.engine.state.logs(&a2).await.expect("logs");
    assert!(!logs.is_empty(), "deleteLogs=false keeps them");
    assert_eq!(api.ids("namespace=test.bulk").await, (1, vec![slow.clone()]));
    server.shutdown().await;
}
