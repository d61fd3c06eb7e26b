//! Tests of the functions' structured logs: the JSON lines Cloud Logging
//! reads, their trace ids and the bounds on what one line carries.

use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;

use super::*;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

#[test]
fn lines_are_cloud_logging_json() {
    let buf = Buffer::default();
    let subscriber = tracing_subscriber::registry().with(CloudLogging::new(buf.clone(), Some("proj".into())));
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("push", function = "executor", trace = "abc123");
        let _g = span.enter();
        tracing::warn!(message_id = "42", attempt = 2u64, "execution event could not be processed");
        tracing::error!("boom");
    });
    let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["severity"], "WARNING");
    assert_eq!(lines[0]["message"], "execution event could not be processed");
    assert_eq!(lines[0]["message_id"], "42");
    assert_eq!(lines[0]["attempt"], 2);
    assert_eq!(lines[0]["function"], "executor");
    assert_eq!(lines[0]["logging.googleapis.com/trace"], "projects/proj/traces/abc123");
    assert_eq!(lines[1]["severity"], "ERROR");
    assert!(lines[1]["time"].as_str().is_some_and(|t| t.ends_with('Z')));
}

fn entry(level: &str, message: &str) -> LogEntry {
    LogEntry {
        namespace: "company.team".into(),
        flow_id: "f".into(),
        execution_id: "e1".into(),
        task_id: Some("hello".into()),
        task_run_id: Some("tr1".into()),
        attempt_number: Some(2),
        timestamp: DateTime::parse_from_rfc3339("2024-05-06T07:08:09.123456Z").expect("date").to_utc(),
        level: level.into(),
        message: message.into(),
    }
}

fn lines(buf: &Buffer) -> Vec<Value> {
    let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
    text.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect()
}

fn store() -> Arc<dyn StateStore> {
    Arc::new(crate::backend::local::SqliteStore::open_in_memory().expect("store"))
}

#[tokio::test]
async fn task_log_lines_are_cloud_logging_entries_with_labels() {
    let buf = Buffer::default();
    let echo = TaskLogEcho::new(store(), buf.clone(), Some("proj".into()));
    let mut executor_line = entry("WARN", "the flow's concurrency limit is reached");
    (executor_line.task_id, executor_line.task_run_id, executor_line.attempt_number) = (None, None, None);
    echo.append_logs(&[entry("INFO", "hello"), entry("TRACE", "t"), executor_line]).await.expect("append");
    let got = lines(&buf);
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[0],
        json!({
            "severity": "INFO",
            "message": "hello",
            "time": "2024-05-06T07:08:09.123456Z",
            "logging.googleapis.com/labels": {"executionId": "e1", "namespace": "company.team", "flowId": "f",
                "taskId": "hello", "taskRunId": "tr1", "attemptNumber": "2"},
        })
    );
    assert_eq!(got[1]["severity"], "DEBUG");
    assert_eq!(got[2]["severity"], "WARNING");
    assert_eq!(
        got[2]["logging.googleapis.com/labels"],
        json!({"executionId": "e1", "namespace": "company.team", "flowId": "f"})
    );
    // and stored as they were
    assert_eq!(echo.logs("e1").await.expect("logs").len(), 3);
    for (level, severity) in [("DEBUG", "DEBUG"), ("ERROR", "ERROR"), ("warn", "WARNING"), ("LOUD", "DEFAULT")] {
        assert_eq!(task_severity(level), severity);
    }
}

#[tokio::test]
async fn task_log_lines_carry_the_requests_trace() {
    use tracing::Instrument;
    let buf = Buffer::default();
    let echo = TaskLogEcho::new(store(), buf.clone(), Some("proj".into()));
    let subscriber = tracing_subscriber::registry().with(CloudLogging::new(Buffer::default(), None));
    let _guard = tracing::subscriber::set_default(subscriber);
    let span = tracing::info_span!("push", trace = "abc123");
    echo.append_logs(&[entry("INFO", "in a request")]).instrument(span).await.expect("append");
    echo.append_logs(&[entry("INFO", "outside")]).await.expect("append");
    let got = lines(&buf);
    assert_eq!(got[0]["logging.googleapis.com/trace"], "projects/proj/traces/abc123");
    assert!(got[1].get("logging.googleapis.com/trace").is_none(), "{}", got[1]);
}

/// A template host knowing one secret.
struct OneSecret;

impl crate::template::TemplateHost for OneSecret {
    fn kv(&self, _: &str, _: &str) -> Result<Option<Value>, String> {
        Ok(None)
    }
    fn secret(&self, _: &str) -> Result<String, String> {
        Ok("hunter2-secret".into())
    }
    fn read(&self, _: &str, path: &str) -> Result<String, String> {
        Err(format!("no {path}"))
    }
    fn secret_values(&self) -> Vec<String> {
        vec!["hunter2-secret".into()]
    }
}

#[tokio::test]
async fn secrets_are_masked_on_stdout_exactly_as_in_the_store() {
    use crate::plugins::context::{RunContext, Services};
    let buf = Buffer::default();
    let store: Arc<dyn StateStore> = Arc::new(TaskLogEcho::new(store(), buf.clone(), None));
    let sink = crate::runtime::logs::StoreLogSink::start(store.clone(), false);
    let services = Services {
        renderer: Arc::new(crate::template::Renderer::new()),
        kv: Arc::new(crate::backend::memory::MemoryKv::new()),
        storage: Arc::new(crate::backend::memory::MemoryStorage::new()),
        logs: Arc::new(sink.clone()),
        http: reqwest::Client::new().into(),
        progress: None,
        work_root: std::env::temp_dir(),
        config: Default::default(),
        flows: None,
        executions: None,
    };
    let cx = RunContext::new(
        "e1".into(),
        "tr1".into(),
        1,
        "company.team".into(),
        "f".into(),
        "login".into(),
        "test".into(),
        json!({}),
        Map::new(),
        services,
        Arc::new(OneSecret),
    );
    cx.mask("pg-password-42");
    cx.info("connecting with hunter2-secret");
    cx.warn("password pg-password-42 rejected");
    sink.flush().await;
    let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
    assert!(!text.contains("hunter2-secret") && !text.contains("pg-password-42"), "{text}");
    let printed: Vec<Value> = lines(&buf).iter().map(|l| l["message"].clone()).collect();
    let stored: Vec<Value> = store.logs("e1").await.expect("logs").into_iter().map(|l| l.message.into()).collect();
    assert_eq!(printed, stored);
    assert_eq!(printed, [json!("connecting with ******"), json!("password ****** rejected")]);
}

#[test]
fn trace_ids_from_headers() {
    assert_eq!(
        trace_id(Some("105445aa7843bc8bf206b12000100000/1;o=1"), None).as_deref(),
        Some("105445aa7843bc8bf206b12000100000")
    );
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert_eq!(trace_id(None, Some(tp)).as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_eq!(trace_id(Some("not hex/1"), None), None);
    assert_eq!(trace_id(None, None), None);
}
