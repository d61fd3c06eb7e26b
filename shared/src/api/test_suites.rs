//! Kestra's flow unit test routes (`/api/v1/{tenant}/tests`, Kestra's
//! `TestSuitesApi`): create a test suite from its YAML (`POST /tests`,
//! `application/x-yaml`), search them (`GET /tests/search`), get, update
//! (`PUT`, YAML) and delete one (`/tests/{namespace}/{id}`), validate a
//! source (`POST /tests/validate`), run a suite or some of its cases
//! (`POST /tests/{namespace}/{id}/run`, `{"testCases": […]}`) and read the
//! last results (`POST /tests/results/search/last`, `{"testSuiteIds":
//! [{namespace, id}]}`), run every suite of a namespace or a flow (`POST
//! /tests/run`, Kestra's `runTestSuitesByQuery`), and search the kept runs,
//! newest first (`GET /tests/results/search`, `GET /tests/results/{id}`:
//! [`test_history`](super::test_history)); delete, enable and disable
//! suites by ids ([`test_bulk`](super::test_bulk)).
//!
//! A suite is the test file `baton test` reads, kept where the runtime
//! keeps flows ([`ApiHost::test_files`](super::ApiHost::test_files)); it
//! is validated as `baton test` does (file:line:column problems, then held
//! against its flow: a fixture or an assertion naming a task the flow
//! lacks is a 422). Runs: [`test_runs`](super::test_runs).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::flows::yaml_body;
use super::query::{Params, in_namespace};
use super::test_history::{Filter, by_id, by_query_result, search};
use super::test_runs::{forget, last_result, run_suite, unrunnable};
use crate::backend::flow_files::FlowFiles;
use crate::unittest::{TestSuite, check, parse_source};

/// The most test files a search reads.
pub const MAX_TEST_FILES: usize = 10_000;
/// The most suites one `results/search/last` asks for.
pub const MAX_LAST_RESULTS: usize = 1_000;
/// The most suites one `POST /tests/run` runs (one after the other).
pub const MAX_SUITES_PER_RUN: usize = 100;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/tests", post(create_test))
        .route("/tests/search", get(search_tests))
        .route("/tests/validate", post(validate_test))
        .route("/tests/results/search/last", post(last_results))
        .route("/tests/results/search", get(search_results))
        .route("/tests/results/{id}", get(get_result))
        .route("/tests/run", post(run_by_query))
        .route("/tests/by-ids", axum::routing::delete(super::test_bulk::delete_by_ids))
        .route("/tests/enable/by-ids", post(super::test_bulk::enable_by_ids))
        .route("/tests/disable/by-ids", post(super::test_bulk::disable_by_ids))
        .route("/tests/{namespace}/{id}", get(get_test).put(update_test).delete(delete_test))
        .route("/tests/{namespace}/{id}/run", post(run_test))
}

/// The runtime's test files, or a 501 saying this runtime keeps none.
pub(super) fn files(s: &ApiState) -> ApiResult<std::sync::Arc<dyn FlowFiles>> {
    s.host.test_files().ok_or_else(|| ApiError::unsupported("this runtime keeps no flow unit tests"))
}

/// A suite read and parsed: its source, the YAML as JSON, the suite.
pub(super) struct Loaded {
    pub(super) source: String,
    doc: Value,
    suite: TestSuite,
}

/// Parses a test file's source; 422 with every problem (file:line:column).
pub(super) fn parse(name: &str, source: &str) -> ApiResult<Loaded> {
    match parse_source(name, source) {
        (Some(suite), diags) if diags.is_empty() => {
            let doc = crate::yaml::parse(source).map(|(v, _)| v).unwrap_or(Value::Null);
            Ok(Loaded { source: source.to_string(), doc, suite })
        }
        (_, diags) => Err(ApiError::unprocessable(format!(
            "invalid test suite:\n{}",
            diags.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
        ))),
    }
}

/// Holds a parsed suite against the flow it names: 422 when the flow is
/// unknown or does not fit (a fixture or assertion on a task it lacks).
async fn check_against_flow(s: &ApiState, name: &str, l: &Loaded) -> ApiResult<std::sync::Arc<crate::model::Flow>> {
    let (ns, flow_id) = (&l.suite.namespace, &l.suite.flow_id);
    let flow = s.host.flow(ns, flow_id).await.map_err(|e| {
        if e.status == StatusCode::NOT_FOUND {
            ApiError::unprocessable(format!(
                "test suite {ns}.{}: the flow {ns}.{flow_id} it tests does not exist",
                l.suite.id
            ))
        } else {
            e
        }
    })?;
    let diags = check::check(name, &l.source, &l.suite, &flow);
    if !diags.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "test suite {ns}.{} does not fit flow {ns}.{flow_id}:\n{}",
            l.suite.id,
            diags.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
        )));
    }
    Ok(flow)
}

/// Reads suite `namespace.id`; 404 when there is none.
pub(super) async fn load(s: &ApiState, namespace: &str, id: &str) -> ApiResult<Loaded> {
    let found = files(s)?.files_of(namespace, id).await?;
    let Some(file) = found.into_iter().next() else {
        return Err(ApiError::not_found(format!("test suite {namespace}.{id} not found")));
    };
    parse(&file.path, &file.source)
}

/// Kestra's `TestSuite`: the YAML's properties, with `source`.
fn suite_json(l: &Loaded) -> Value {
    let mut v = match &l.doc {
        Value::Object(m) => Value::Object(m.clone()),
        _ => json!({"id": l.suite.id, "namespace": l.suite.namespace, "flowId": l.suite.flow_id}),
    };
    v["source"] = json!(l.source);
    if v.get("disabled").is_none() {
        v["disabled"] = json!(false);
    }
    v
}

async fn create_test(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "POST /tests", &[])?;
    let source = yaml_body(&headers, &body)?;
    let l = parse("request body", &source)?;
    check_against_flow(&s, "request body", &l).await?;
    let (ns, id) = (&l.suite.namespace, &l.suite.id);
    let files = files(&s)?;
    if !files.files_of(ns, id).await?.is_empty() {
        return Err(ApiError::conflict(format!(
            "test suite {ns}.{id} already exists: update it with PUT /api/v1/tests/{ns}/{id}"
        )));
    }
    files.write(ns, id, &source).await?;
    Ok(Json(suite_json(&l)))
}

async fn update_test(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "PUT /tests/{namespace}/{id}", &[])?;
    let source = yaml_body(&headers, &body)?;
    let l = parse("request body", &source)?;
    if l.suite.namespace != namespace || l.suite.id != id {
        return Err(ApiError::unprocessable(format!(
            "the test suite's namespace and id ({}.{}) differ from the path ({namespace}.{id})",
            l.suite.namespace, l.suite.id
        )));
    }
    load(&s, &namespace, &id).await.map(|_| ()).or_else(|e| {
        // a stored suite that no longer parses may still be replaced
        if e.status == StatusCode::NOT_FOUND { Err(e) } else { Ok(()) }
    })?;
    check_against_flow(&s, "request body", &l).await?;
    files(&s)?.write(&namespace, &id, &source).await?;
    Ok(Json(suite_json(&l)))
}

async fn get_test(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /tests/{namespace}/{id}", &[])?;
    Ok(Json(suite_json(&load(&s, &namespace, &id).await?)))
}

async fn delete_test(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref(), "DELETE /tests/{namespace}/{id}", &[])?;
    if files(&s)?.remove(&namespace, &id).await?.is_empty() {
        return Err(ApiError::not_found(format!("test suite {namespace}.{id} not found")));
    }
    forget(&s, &namespace, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{results, total}`: the suites (`namespace` with its children unless
/// `includeChildNamespaces=false`, `flowId`), sorted by namespace and id;
/// a file that does not parse is left out.
async fn search_tests(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(
        raw.as_deref(),
        "GET /tests/search",
        &["page", "size", "sort", "namespace", "flowId", "includeChildNamespaces"],
    )?;
    let paging = p.paging()?;
    let children = p.flag("includeChildNamespaces", true)?;
    let mut found = find_suites(&s, p.get("namespace"), p.get("flowId"), children).await?;
    if p.get("sort").is_some_and(|s| s.ends_with(":desc")) {
        found.reverse();
    }
    let total = found.len();
    let results: Vec<Value> = paging.slice(found).iter().map(suite_json).collect();
    Ok(Json(json!({"results": results, "total": total})))
}

/// The suites of `namespace` (and its children when `children`) and of
/// `flowId`, sorted by namespace and id; a file that does not parse is
/// left out.
async fn find_suites(
    s: &ApiState,
    namespace: Option<&str>,
    flow_id: Option<&str>,
    children: bool,
) -> ApiResult<Vec<Loaded>> {
    let files = files(s)?;
    let paths = files.list().await?;
    if paths.len() > MAX_TEST_FILES {
        return Err(ApiError::unprocessable(format!(
            "{} test files are more than a search reads (MAX_TEST_FILES = {MAX_TEST_FILES})",
            paths.len()
        )));
    }
    let mut found = Vec::new();
    for path in paths {
        let Some(source) = files.read(&path).await? else { continue };
        let Ok(l) = parse(&path, &source) else { continue };
        let ns_ok = match namespace {
            None => true,
            Some(ns) if children => in_namespace(&l.suite.namespace, ns),
            Some(ns) => l.suite.namespace == ns,
        };
        if ns_ok && flow_id.is_none_or(|f| l.suite.flow_id == f) {
            found.push(l);
        }
    }
    found.sort_by(|a, b| (&a.suite.namespace, &a.suite.id).cmp(&(&b.suite.namespace, &b.suite.id)));
    Ok(found)
}

/// `{constraints}` of a source: null when it parses and fits its flow,
/// else every problem.
async fn validate_test(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "POST /tests/validate", &[])?;
    let source = yaml_body(&headers, &body)?;
    let checked = match parse("request body", &source) {
        Ok(l) => check_against_flow(&s, "request body", &l).await.map(|_| ()),
        Err(e) => Err(e),
    };
    // Kestra's `ValidateConstraintViolation`: `constraints` null when valid
    Ok(Json(match checked {
        Ok(()) => json!({"constraints": Value::Null}),
        Err(e) => json!({"constraints": e.message}),
    }))
}

/// A run request's JSON body (`shape` names it in the 400); an empty body is the default.
fn run_request<T: serde::de::DeserializeOwned + Default>(body: &[u8], shape: &str) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("the run request is not {shape}: {e}")))
}

/// Kestra's `TestSuiteControllerRunRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RunRequest {
    #[serde(default)]
    test_cases: Option<Vec<String>>,
}

async fn run_test(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "POST /tests/{namespace}/{id}/run", &[])?;
    let req: RunRequest = run_request(&body, "{\"testCases\": [...]}")?;
    let l = load(&s, &namespace, &id).await?;
    let flow = check_against_flow(&s, &format!("test suite {namespace}.{id}"), &l).await?;
    let cases = req.test_cases.unwrap_or_default();
    Ok(Json(run_suite(&s, &l.suite, &l.doc, flow, &cases).await?))
}

/// Kestra's `TestSuiteControllerSearchTestsLastResult`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LastRequest {
    test_suite_ids: Vec<SuiteId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteId {
    namespace: String,
    id: String,
}

/// `{results}`: the last result of each suite asked for that ever ran.
async fn last_results(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "POST /tests/results/search/last", &[])?;
    let req: LastRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("the request is not {{\"testSuiteIds\": [{{\"namespace\", \"id\"}}]}}: {e}"))
    })?;
    if req.test_suite_ids.len() > MAX_LAST_RESULTS {
        return Err(ApiError::unprocessable(format!(
            "{} test suites asked for, more than MAX_LAST_RESULTS = {MAX_LAST_RESULTS}",
            req.test_suite_ids.len()
        )));
    }
    let mut results = Vec::new();
    for t in &req.test_suite_ids {
        if let Some(r) = last_result(&s, &t.namespace, &t.id).await? {
            results.push(r);
        }
    }
    Ok(Json(json!({"results": results})))
}

/// Kestra's `TestSuiteServiceRunByQueryRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ByQuery {
    namespace: Option<String>,
    flow_id: Option<String>,
    include_child_namespaces: Option<bool>,
}

/// Runs every suite a query finds, one after the other (each as `POST
/// /tests/{namespace}/{id}/run` does), at most [`MAX_SUITES_PER_RUN`]:
/// Kestra's `TestSuiteServiceTestRunByQueryResult`. A suite that no longer
/// fits its flow is reported with its cases `ERROR`.
async fn run_by_query(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "POST /tests/run", &[])?;
    let q: ByQuery = run_request(&body, "{\"namespace\", \"flowId\", \"includeChildNamespaces\"}")?;
    let children = q.include_child_namespaces.unwrap_or(true);
    let found = find_suites(&s, q.namespace.as_deref(), q.flow_id.as_deref(), children).await?;
    if found.len() > MAX_SUITES_PER_RUN {
        return Err(ApiError::unprocessable(format!(
            "{} test suites match, more than one run runs (MAX_SUITES_PER_RUN = {MAX_SUITES_PER_RUN}): \
             narrow the query by namespace or flowId",
            found.len()
        )));
    }
    let mut runs = Vec::new();
    for l in &found {
        let name = format!("test suite {}.{}", l.suite.namespace, l.suite.id);
        let run = match check_against_flow(&s, &name, l).await {
            Ok(flow) => run_suite(&s, &l.suite, &l.doc, flow, &[]).await?,
            Err(e) => unrunnable(&s, &l.suite, &e.message).await?,
        };
        runs.push(run);
    }
    let request = json!({
        "namespace": q.namespace,
        "flowId": q.flow_id,
        "includeChildNamespaces": children,
    });
    Ok(Json(by_query_result(request, runs)))
}

/// `{results, total}`: the kept runs (`testSuiteId`, `namespace` with its
/// children, `flowId`), newest first, paged.
async fn search_results(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(
        raw.as_deref(),
        "GET /tests/results/search",
        &["page", "size", "sort", "testSuiteId", "namespace", "flowId"],
    )?;
    if let Some(sort) = p.get("sort").filter(|s| !s.starts_with("startDate") && !s.starts_with("endDate")) {
        return Err(ApiError::bad_request(format!(
            "sort '{sort}': test results sort by startDate only (newest first, or startDate:asc)"
        )));
    }
    let paging = p.paging()?;
    let filter =
        Filter { test_suite_id: p.get("testSuiteId"), namespace: p.get("namespace"), flow_id: p.get("flowId") };
    let ascending = p.get("sort").is_some_and(|s| s.ends_with(":asc"));
    let (results, total) = if ascending {
        // read them all (bounded by the history's own bounds), then page
        let (mut all, total) = search(&s, &filter, 0, usize::MAX).await?;
        all.reverse();
        (paging.slice(all), total)
    } else {
        search(&s, &filter, (paging.page - 1).saturating_mul(paging.size), paging.size).await?
    };
    Ok(Json(json!({"results": results, "total": total})))
}

/// One kept run, by its id.
async fn get_result(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /tests/results/{id}", &[])?;
    Ok(Json(by_id(&s, &id).await?))
}
