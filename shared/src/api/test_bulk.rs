//! Kestra's test-suite routes by ids (`TestSuitesApi`): delete
//! (`DELETE /tests/by-ids`), enable and disable (`POST
//! /tests/enable/by-ids`, `POST /tests/disable/by-ids`) the suites a
//! `{"ids": [{"namespace", "id"}]}` body names (Kestra's
//! `TestSuiteControllerTestSuiteBulkRequest`), at most [`MAX_BULK_IDS`];
//! each answers Kestra's `BulkResponse`, `{"count"}`: the suites deleted,
//! or changed. An id naming no suite is not counted.
//!
//! Disabling writes `disabled: true` at the top of the suite's YAML (the
//! rest of the file as written; enabling removes it): a disabled suite
//! runs none of its cases, each reported SKIPPED (`unittest::parse`).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::query::Params;
use super::test_runs::forget;
use super::test_suites::{files, load, parse};

/// The most suites one by-ids request names.
pub const MAX_BULK_IDS: usize = 1_000;

/// `{"ids": [{"namespace", "id"}]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkRequest {
    ids: Vec<SuiteId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteId {
    namespace: String,
    id: String,
}

/// The ids of the body; 400 naming what is wrong, or the bound.
fn ids(body: &[u8], route: &str) -> ApiResult<Vec<SuiteId>> {
    let req: BulkRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("{route}: the body must be {{\"ids\": [{{\"namespace\", \"id\"}}]}}: {e}"))
    })?;
    if req.ids.len() > MAX_BULK_IDS {
        return Err(ApiError::bad_request(format!(
            "{route}: {} ids, at most {MAX_BULK_IDS} (MAX_BULK_IDS) per request",
            req.ids.len()
        )));
    }
    Ok(req.ids)
}

pub(super) async fn delete_by_ids(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    const ROUTE: &str = "DELETE /tests/by-ids";
    Params::parse(raw.as_deref(), ROUTE, &[])?;
    let files = files(&s)?;
    let mut count = 0usize;
    for SuiteId { namespace, id } in ids(&body, ROUTE)? {
        if !files.remove(&namespace, &id).await?.is_empty() {
            forget(&s, &namespace, &id).await?;
            count += 1;
        }
    }
    Ok(Json(json!({ "count": count })))
}

pub(super) async fn enable_by_ids(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    set_disabled(&s, raw.as_deref(), &body, "POST /tests/enable/by-ids", false).await
}

pub(super) async fn disable_by_ids(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    set_disabled(&s, raw.as_deref(), &body, "POST /tests/disable/by-ids", true).await
}

async fn set_disabled(
    s: &ApiState,
    raw: Option<&str>,
    body: &[u8],
    route: &str,
    disabled: bool,
) -> ApiResult<Json<Value>> {
    Params::parse(raw, route, &[])?;
    let files = files(s)?;
    let mut count = 0usize;
    for SuiteId { namespace, id } in ids(body, route)? {
        let loaded = match load(s, &namespace, &id).await {
            Ok(l) => l,
            Err(e) if e.status == StatusCode::NOT_FOUND => continue,
            Err(e) => return Err(e),
        };
        let source = with_disabled(&loaded.source, disabled);
        if source == loaded.source {
            continue;
        }
        // the rewritten file must read as the suite it was
        parse(&format!("test suite {namespace}.{id}"), &source)?;
        files.write(&namespace, &id, &source).await?;
        count += 1;
    }
    Ok(Json(json!({ "count": count })))
}

/// `source` without its top-level `disabled:` lines, and with
/// `disabled: true` after its top-level `id:` line when `disabled`.
fn with_disabled(source: &str, disabled: bool) -> String {
    let mut out = String::with_capacity(source.len() + 16);
    let mut placed = !disabled;
    for line in source.split_inclusive('\n') {
        if line.starts_with("disabled:") {
            continue;
        }
        out.push_str(line);
        if !placed && line.starts_with("id:") {
            if !line.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("disabled: true\n");
            placed = true;
        }
    }
    if !placed {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("disabled: true\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUITE: &str = "# mine\nid: s\nnamespace: n\nflowId: f\ntestCases:\n  - id: c\n    disabled: false\n";

    #[test]
    fn disabling_adds_one_top_level_line_and_enabling_removes_it() {
        let off = with_disabled(SUITE, true);
        assert_eq!(off, SUITE.replace("id: s\n", "id: s\ndisabled: true\n"));
        assert_eq!(with_disabled(&off, true), off, "twice is once");
        assert_eq!(with_disabled(&off, false), SUITE, "the case's own key stays");
        assert_eq!(with_disabled(SUITE, false), SUITE);
    }

    #[test]
    fn the_body_is_kestras_bulk_request_and_bounded() {
        let ok = ids(br#"{"ids":[{"namespace":"n","id":"s"}]}"#, "R").expect("ids");
        assert_eq!((ok[0].namespace.as_str(), ok[0].id.as_str()), ("n", "s"));
        assert!(ids(b"[]", "R").is_err());
        let many: Vec<Value> = (0..=MAX_BULK_IDS).map(|i| json!({"namespace": "n", "id": i.to_string()})).collect();
        let body = serde_json::to_vec(&json!({ "ids": many })).expect("json");
        let err = ids(&body, "R").expect_err("bound");
        assert!(err.message.contains("MAX_BULK_IDS"), "{}", err.message);
    }
}
