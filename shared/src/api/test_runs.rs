//! Running a flow unit test suite for the API (`POST
//! /tests/{namespace}/{id}/run`) and keeping its last results.
//!
//! A run never touches the server's executions: like `baton test`, its
//! cases run as transient executions of a throwaway embedded home (SQLite
//! and a storage folder in a temporary directory, removed after), which
//! holds a copy of the server's flows so that subflows resolve. Every run
//! is bounded: [`MAX_CONCURRENT_RUNS`] at once on one process (the next is
//! refused with 429), [`CASE_TIMEOUT`] per case's execution,
//! [`RUN_TIMEOUT`] for the whole run, [`PARALLEL_CASES`] cases at once.
//!
//! The result is Kestra's `TestSuiteRunResult` (`id`, `testSuiteId`,
//! `namespace`, `flowId`, `state`, `startDate`, `endDate`, `results`: one
//! `UnitTestResult` per case with `testId`, `state`, `assertionResults`,
//! `errors`, `fixtures`). The last result of each case of a suite is kept
//! in internal storage under [`RESULTS_PREFIX`]: a run of some cases
//! replaces those cases' results and keeps the others'. Every run is also
//! kept in the suite's history ([`super::test_history`]).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use super::ApiState;
use super::error::{ApiError, ApiResult};
use crate::backend::flow_files::read_storage_text;
use crate::model::Flow;
use crate::runtime::embedded::{Embedded, LocalOptions};
use crate::unittest::model::UNIT_TEST_TYPE;
use crate::unittest::{CaseOutcome, CaseState, TestSuite, UnitTest, run_case};

/// Test runs one process runs at once; the next is refused (429).
pub const MAX_CONCURRENT_RUNS: usize = 2;
/// The longest one case's execution may take before it is killed and the case fails.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a whole run may take.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// Cases of one run that execute at once.
pub const PARALLEL_CASES: usize = 8;
/// Where the last results are kept: `{RESULTS_PREFIX}/{namespace}/{id}.json`.
pub const RESULTS_PREFIX: &str = "/test-results";

static RUNS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(MAX_CONCURRENT_RUNS));

/// Runs `cases` (every case when empty) of `suite`, whose parsed YAML is
/// `doc`, against `flow`; keeps and returns the result.
pub async fn run_suite(
    s: &ApiState,
    suite: &TestSuite,
    doc: &Value,
    flow: Arc<Flow>,
    cases: &[String],
) -> ApiResult<Value> {
    for c in cases {
        if !suite.test_cases.iter().any(|t| &t.id == c) {
            return Err(ApiError::unprocessable(format!(
                "test suite {}.{} has no test case '{c}' (it has: {})",
                suite.namespace,
                suite.id,
                suite.test_cases.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let Ok(_permit) = RUNS.try_acquire() else {
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{MAX_CONCURRENT_RUNS} test runs are already running on this server (MAX_CONCURRENT_RUNS): \
                 run this one when one of them ends"
            ),
        ));
    };
    let chosen: Vec<UnitTest> =
        suite.test_cases.iter().filter(|c| cases.is_empty() || cases.contains(&c.id)).cloned().collect();
    let start = chrono::Utc::now();
    let flows = s.host.flows().await?;
    let home = std::env::temp_dir().join(format!("baton-api-test-{}", uuid::Uuid::new_v4()));
    let _remove = crate::plugins::context::RemoveOnDrop(home.clone());
    let engine = &s.engine;
    let embedded = Embedded::open_local(LocalOptions::like(engine, home.clone(), PARALLEL_CASES))
        .map_err(|e| ApiError::internal(format!("cannot open a test home in {}: {e}", home.display())))?;
    for f in flows {
        embedded.engine.flows.insert(Flow::clone(&f));
    }
    embedded.engine.flows.insert(Flow::clone(&flow));
    let (embedded_ref, flow_ref) = (&embedded, &flow);
    let runs =
        chosen.into_iter().map(|c| async move { run_case(embedded_ref, flow_ref, suite, &c, CASE_TIMEOUT).await });
    let ran = tokio::time::timeout(
        RUN_TIMEOUT,
        futures::stream::iter(runs).buffered(PARALLEL_CASES).collect::<Vec<CaseOutcome>>(),
    )
    .await;
    embedded.shutdown();
    let outcomes = ran.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "test suite {}.{} did not finish within {} s (RUN_TIMEOUT): run fewer cases at once",
                suite.namespace,
                suite.id,
                RUN_TIMEOUT.as_secs()
            ),
        )
    })?;
    let results: Vec<Value> = outcomes.iter().map(|o| case_json(o, doc)).collect();
    finish(s, suite, results, start).await
}

/// The `TestSuiteRunResult` of a run that started at `start`, kept (the
/// last result per case, and the suite's history).
async fn finish(
    s: &ApiState,
    suite: &TestSuite,
    results: Vec<Value>,
    start: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Value> {
    let result = json!({
        "id": crate::model::ids::new_id(),
        "testSuiteId": suite.id,
        "namespace": suite.namespace,
        "flowId": suite.flow_id,
        "state": suite_state(&results),
        "startDate": start.to_rfc3339(),
        "endDate": chrono::Utc::now().to_rfc3339(),
        "results": results,
    });
    keep(s, suite, &result).await?;
    super::test_history::record(s, &suite.namespace, &suite.id, &result).await?;
    Ok(result)
}

/// Kestra's `TestState` of a case: `ERROR` when it could not run or be judged.
fn case_state(o: &CaseOutcome) -> &'static str {
    match o.state {
        CaseState::Success => "SUCCESS",
        CaseState::Skipped => "SKIPPED",
        CaseState::Failed if !o.errors.is_empty() => "ERROR",
        CaseState::Failed => "FAILED",
    }
}

/// The state of a run: `ERROR` if a case erred, else `FAILED` if one
/// failed, else `SKIPPED` if every case was, else `SUCCESS`.
fn suite_state(results: &[Value]) -> &'static str {
    let has = |s: &str| results.iter().any(|r| r["state"] == s);
    if has("ERROR") {
        "ERROR"
    } else if has("FAILED") {
        "FAILED"
    } else if !results.is_empty() && results.iter().all(|r| r["state"] == "SKIPPED") {
        "SKIPPED"
    } else {
        "SUCCESS"
    }
}

/// Kestra's `UnitTestResult` of one case, with Baton's `warnings`,
/// `description` and `duration` (ms); `fixtures` as the file gives them.
fn case_json(o: &CaseOutcome, doc: &Value) -> Value {
    let fixtures = doc["testCases"]
        .as_array()
        .and_then(|cases| cases.iter().find(|c| c["id"] == o.case_id.as_str()))
        .map(|c| c["fixtures"].clone())
        .unwrap_or(Value::Null);
    json!({
        "testId": o.case_id,
        "testType": UNIT_TEST_TYPE,
        "description": o.description,
        "executionId": o.execution_id,
        "url": Value::Null,
        "state": case_state(o),
        "assertionResults": o.assertions.iter().map(assertion_json).collect::<Vec<_>>(),
        "errors": o.errors
            .iter()
            // the bound is the server's, not `baton test`'s flag
            .map(|e| json!({"message": e.replace("(--timeout)", "(CASE_TIMEOUT)"), "details": Value::Null}))
            .collect::<Vec<_>>(),
        "warnings": o.warnings,
        "fixtures": fixtures,
        "duration": u64::try_from(o.duration.as_millis()).unwrap_or(u64::MAX),
    })
}

/// One assertion's result, its operator named as in the test file (`equalTo`).
fn assertion_json(a: &crate::unittest::run::CheckedAssertion) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    v["operator"] = json!(a.result.operator.key());
    v
}

/// Where the last result of suite `namespace.id` is kept; 400 when the
/// namespace or id is not a Kestra id (letters, digits, `_`, `-`, and `.`
/// in a namespace), which keeps the path inside [`RESULTS_PREFIX`].
fn results_path(namespace: &str, id: &str) -> ApiResult<String> {
    let ok = |s: &str, dots: bool| {
        !s.is_empty()
            && s.len() <= 255
            && !s.starts_with('.')
            && !s.contains("..")
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (dots && c == '.'))
    };
    if !ok(namespace, true) || !ok(id, false) {
        return Err(ApiError::bad_request(format!("'{namespace}.{id}' does not name a test suite (namespace.id)")));
    }
    Ok(format!("{RESULTS_PREFIX}/{namespace}/{id}.json"))
}

/// The last result of each case of suite `namespace.id`, as one
/// `TestSuiteRunResult` (the newest run's id and dates); `None` when it
/// never ran.
pub async fn last_result(s: &ApiState, namespace: &str, id: &str) -> ApiResult<Option<Value>> {
    let text = read_storage_text(s.engine.storage.as_ref(), &results_path(namespace, id)?).await?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Merges `run` into the kept result: its cases replace theirs, the
/// other cases that still exist keep their last result.
async fn keep(s: &ApiState, suite: &TestSuite, run: &Value) -> ApiResult<()> {
    let mut kept: Map<String, Value> = Map::new();
    if let Some(old) = last_result(s, &suite.namespace, &suite.id).await? {
        for r in old["results"].as_array().into_iter().flatten() {
            if let Some(t) = r["testId"].as_str() {
                kept.insert(t.to_string(), r.clone());
            }
        }
    }
    for r in run["results"].as_array().into_iter().flatten() {
        if let Some(t) = r["testId"].as_str() {
            kept.insert(t.to_string(), r.clone());
        }
    }
    let results: Vec<Value> = suite.test_cases.iter().filter_map(|c| kept.get(&c.id)).cloned().collect();
    let mut merged = run.clone();
    merged["state"] = json!(suite_state(&results));
    merged["results"] = Value::Array(results);
    let bytes = serde_json::to_vec(&merged).map_err(|e| ApiError::internal(format!("test result: {e}")))?;
    let path = results_path(&suite.namespace, &suite.id)?;
    s.engine.storage.put(&path, Box::pin(std::io::Cursor::new(bytes))).await?;
    Ok(())
}

/// Forgets the results of a deleted suite.
pub async fn forget(s: &ApiState, namespace: &str, id: &str) -> ApiResult<()> {
    let path = results_path(namespace, id)?;
    if s.engine.storage.size(&path).await?.is_some() {
        s.engine.storage.delete_prefix(&path).await?;
    }
    super::test_history::forget(s, namespace, id).await
}

/// The result of a suite of a bulk run that could not run at all (it no
/// longer fits its flow): each of its cases `ERROR` with `why`; kept as
/// any run is.
pub async fn unrunnable(s: &ApiState, suite: &TestSuite, why: &str) -> ApiResult<Value> {
    let start = chrono::Utc::now();
    let results: Vec<Value> = suite
        .test_cases
        .iter()
        .map(|c| {
            json!({
                "testId": c.id,
                "testType": UNIT_TEST_TYPE,
                "description": c.description,
                "executionId": Value::Null,
                "url": Value::Null,
                "state": "ERROR",
                "assertionResults": [],
                "errors": [{"message": why, "details": Value::Null}],
                "warnings": [],
                "fixtures": Value::Null,
                "duration": 0,
            })
        })
        .collect();
    finish(s, suite, results, start).await
}
