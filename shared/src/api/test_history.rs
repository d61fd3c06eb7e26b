//! The history of flow unit test runs (Kestra's `GET /tests/results/search`
//! and `GET /tests/results/{id}`): every run of a suite is kept as its own
//! `TestSuiteRunResult` in internal storage (the local folder or the GCS
//! bucket, so both runtimes keep it the same way) under
//! `{RESULTS_PREFIX}/runs/{namespace}/{suiteId}/{startMillis}-{runId}.json`,
//! at most [`MAX_RESULTS_PER_TEST`] per suite (the oldest go first), and
//! listed newest first. A search reads at most [`MAX_HISTORY_FILES`] kept
//! runs, and says so past it.

use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::query::in_namespace;
use super::test_runs::RESULTS_PREFIX;
use crate::backend::flow_files::read_storage_text;

/// The runs of one test suite kept in its history; the oldest beyond it are deleted.
pub const MAX_RESULTS_PER_TEST: usize = 20;
/// The most kept runs a results search or a lookup by id reads.
pub const MAX_HISTORY_FILES: usize = 100_000;

/// Where the runs are kept.
fn runs_root() -> String {
    format!("{RESULTS_PREFIX}/runs/")
}

/// The folder of suite `namespace.id`'s runs (with its trailing `/`, so
/// that suite `a` never holds suite `ab`'s runs).
fn suite_dir(namespace: &str, id: &str) -> String {
    format!("{}{namespace}/{id}/", runs_root())
}

/// One kept run, named by its path.
struct Kept {
    path: String,
    namespace: String,
    suite: String,
    /// `{startMillis}-{runId}`: sorts as the runs started.
    key: String,
    run_id: String,
}

fn kept(path: &str) -> Option<Kept> {
    let rest = path.strip_prefix(&runs_root())?;
    let mut parts = rest.splitn(3, '/');
    let (namespace, suite, file) = (parts.next()?, parts.next()?, parts.next()?);
    let key = file.strip_suffix(".json")?;
    let (_, run_id) = key.split_once('-')?;
    Some(Kept {
        path: path.to_string(),
        namespace: namespace.to_string(),
        suite: suite.to_string(),
        key: key.to_string(),
        run_id: run_id.to_string(),
    })
}

/// Every kept run under `prefix`, newest first; an error past [`MAX_HISTORY_FILES`].
async fn list(s: &ApiState, prefix: &str) -> ApiResult<Vec<Kept>> {
    let paths = s.engine.storage.list(prefix).await?;
    if paths.len() > MAX_HISTORY_FILES {
        return Err(ApiError::unprocessable(format!(
            "{} kept test runs under {prefix} are more than a search reads (MAX_HISTORY_FILES = {MAX_HISTORY_FILES})",
            paths.len()
        )));
    }
    let mut out: Vec<Kept> = paths.iter().filter_map(|p| kept(p)).collect();
    out.sort_by(|a, b| b.key.cmp(&a.key));
    Ok(out)
}

/// Keeps `run` (a `TestSuiteRunResult`) in suite `namespace.id`'s history
/// and deletes its runs beyond [`MAX_RESULTS_PER_TEST`].
pub async fn record(s: &ApiState, namespace: &str, id: &str, run: &Value) -> ApiResult<()> {
    let started = run["startDate"]
        .as_str()
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .map_or(0, |d| d.timestamp_millis().max(0));
    let run_id = run["id"].as_str().unwrap_or_default();
    let dir = suite_dir(namespace, id);
    let path = format!("{dir}{started:015}-{run_id}.json");
    let bytes = serde_json::to_vec(run).map_err(|e| ApiError::internal(format!("test result: {e}")))?;
    s.engine.storage.put(&path, Box::pin(std::io::Cursor::new(bytes))).await?;
    for old in list(s, &dir).await?.into_iter().skip(MAX_RESULTS_PER_TEST) {
        s.engine.storage.delete_prefix(&old.path).await?;
    }
    Ok(())
}

/// Forgets suite `namespace.id`'s history.
pub async fn forget(s: &ApiState, namespace: &str, id: &str) -> ApiResult<()> {
    let dir = suite_dir(namespace, id);
    if !s.engine.storage.list(&dir).await?.is_empty() {
        s.engine.storage.delete_prefix(&dir).await?;
    }
    Ok(())
}

async fn read(s: &ApiState, k: &Kept) -> ApiResult<Option<Value>> {
    let text = read_storage_text(s.engine.storage.as_ref(), &k.path).await?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// What a results search filters on (Kestra's `testSuiteId`, `namespace`
/// with its children, `flowId`).
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub test_suite_id: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub flow_id: Option<&'a str>,
}

/// The kept runs that pass `f`, newest first, and how many there are:
/// the page `skip..skip + take` read in full.
pub async fn search(s: &ApiState, f: &Filter<'_>, skip: usize, take: usize) -> ApiResult<(Vec<Value>, usize)> {
    let all = list(s, &runs_root()).await?;
    let mut hits = Vec::new();
    for k in all {
        if f.test_suite_id.is_some_and(|t| t != k.suite) || f.namespace.is_some_and(|n| !in_namespace(&k.namespace, n))
        {
            continue;
        }
        hits.push(k);
    }
    let mut matched = Vec::new();
    let mut total = 0;
    let end = skip.saturating_add(take);
    for k in &hits {
        // a flowId filter needs the run itself; without one, read only the page
        let needs_read = f.flow_id.is_some() || (total >= skip && total < end);
        if !needs_read {
            total += 1;
            continue;
        }
        let Some(run) = read(s, k).await? else { continue };
        if f.flow_id.is_some_and(|fl| run["flowId"] != fl) {
            continue;
        }
        if total >= skip && total < end {
            matched.push(run);
        }
        total += 1;
    }
    Ok((matched, total))
}

/// The kept run with id `id`; 404 when none is (any more).
pub async fn by_id(s: &ApiState, id: &str) -> ApiResult<Value> {
    for k in list(s, &runs_root()).await? {
        if k.run_id == id
            && let Some(run) = read(s, &k).await?
        {
            return Ok(run);
        }
    }
    Err(ApiError::not_found(format!(
        "test result {id} not found (each suite keeps its last {MAX_RESULTS_PER_TEST} runs, MAX_RESULTS_PER_TEST)"
    )))
}

/// Kestra's `TestSuiteServiceTestRunByQueryResult` of the runs of a query.
pub fn by_query_result(request: Value, runs: Vec<Value>) -> Value {
    let cases: usize = runs.iter().map(|r| r["results"].as_array().map_or(0, Vec::len)).sum();
    json!({
        "numberOfTestSuitesToBeRun": runs.len(),
        "numberOfTestCasesToBeRun": cases,
        "requestMade": request,
        "results": runs,
    })
}
