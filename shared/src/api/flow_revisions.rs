//! A flow's revisions, as Kestra serves them: `GET
//! /flows/{namespace}/{id}/revisions` (every stored revision, oldest first,
//! each a `FlowWithSource`: the YAML as JSON with `id`, `namespace`,
//! `revision`, `source` and `updated`) and `GET /flows/{namespace}/{id}
//! ?revision=N` (one of them; [`super::flows`] hands that case here).
//!
//! A revision is recorded whenever a flow's source changes and is read
//! (`runtime::flow_catalog::revision`), so the listing first records the current
//! source. An old revision is shown as stored, even when it no longer
//! validates (a task type since renamed): it is history, not a runnable
//! flow. The listing is bounded by [`MAX_REVISIONS`], the newest kept.

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::query::Params;

/// How many revisions one listing returns at most (the newest): a flow
/// saved more often than that shows its latest history only.
pub use crate::runtime::flow_catalog::MAX_REVISIONS;

pub fn routes() -> Router<ApiState> {
    Router::new().route("/flows/{namespace}/{id}/revisions", get(list_revisions))
}

/// One stored revision as Kestra's `FlowWithSource` (without `source`
/// unless `with_source`).
pub fn revision_json(
    namespace: &str,
    id: &str,
    revision: u32,
    source: &str,
    updated: Option<DateTime<Utc>>,
    with_source: bool,
) -> Value {
    let mut v = match crate::yaml::parse(source) {
        Ok((Value::Object(m), _)) => Value::Object(m),
        _ => json!({}),
    };
    v["id"] = json!(id);
    v["namespace"] = json!(namespace);
    v["revision"] = json!(revision);
    v["deleted"] = json!(false);
    if v.get("disabled").and_then(Value::as_bool).is_none() {
        v["disabled"] = json!(false);
    }
    if let Some(labels) = v.get("labels").and_then(Value::as_object) {
        let list: Vec<Value> = labels.iter().map(|(k, l)| json!({"key": k, "value": l})).collect();
        v["labels"] = Value::Array(list);
    }
    if let Some(d) = updated {
        v["updated"] = json!(d.to_rfc3339_opts(SecondsFormat::Millis, true));
    }
    if with_source {
        v["source"] = json!(source);
    }
    v
}

async fn list_revisions(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /flows/{namespace}/{id}/revisions", &["allowDeleted"])?;
    // the current source is a revision too, recorded if it is new
    if let Ok(flow) = s.host.flow(&namespace, &id).await {
        crate::runtime::flow_catalog::revision(&s.engine, &flow).await?;
    }
    let revisions = s.engine.state.list_flow_revisions(&namespace, &id, MAX_REVISIONS).await?;
    if revisions.is_empty() {
        return Err(ApiError::not_found(format!("flow {namespace}.{id} not found: it has no revisions")));
    }
    Ok(Json(Value::Array(
        revisions.iter().map(|r| revision_json(&namespace, &id, r.revision, &r.source, r.created, true)).collect(),
    )))
}

/// `GET /flows/{namespace}/{id}?revision=N`: that stored revision.
pub async fn flow_at_revision(
    s: &ApiState,
    namespace: &str,
    id: &str,
    revision: &str,
    with_source: bool,
) -> ApiResult<Value> {
    let n: u32 = revision
        .parse()
        .map_err(|_| ApiError::bad_request(format!("revision '{revision}' is not a revision number (1, 2…)")))?;
    if let Ok(flow) = s.host.flow(namespace, id).await {
        crate::runtime::flow_catalog::revision(&s.engine, &flow).await?;
    }
    match s.engine.state.load_flow(namespace, id, Some(n)).await? {
        Some((rev, source)) => Ok(revision_json(namespace, id, rev, &source, None, with_source)),
        None => Err(ApiError::not_found(format!("flow {namespace}.{id} has no revision {n}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_is_its_yaml_as_json_with_kestra_s_fields() {
        let v = revision_json(
            "ns",
            "f",
            3,
            "id: f\nnamespace: ns\nlabels:\n  team: a\ntasks: []\n",
            DateTime::from_timestamp(0, 0),
            true,
        );
        assert_eq!(v["revision"], 3);
        assert_eq!(v["labels"], json!([{"key": "team", "value": "a"}]));
        assert_eq!(v["disabled"], false);
        assert_eq!(v["updated"], "1970-01-01T00:00:00.000Z");
        assert!(v["source"].as_str().is_some_and(|s| s.contains("tasks: []")));
        let broken = revision_json("ns", "f", 1, "id: [", None, false);
        assert_eq!(
            (broken["id"].as_str(), broken.get("source")),
            (Some("f"), None),
            "an unparsable revision still lists"
        );
    }
}
