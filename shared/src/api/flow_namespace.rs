//! `POST /flows/{namespace}`: Kestra's namespace update from a
//! multi-document YAML body (`application/x-yaml`; the older JSON list of
//! flows is read too). Every document is
//! validated, and must be of that very namespace with an id of its own,
//! before anything is written; then each flow is created or updated
//! through the host (as `POST /flows` and `PUT /flows/{ns}/{id}` do) and,
//! with `delete=true` (the default), the namespace's flows absent from the
//! body are deleted. Answers the deleted flows (`deleted: true`) then the
//! written ones, with their source, as Kestra does.

use axum::Json;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult, flow_violations, invalid_entity};
use super::flows::{documents, flow_json, yaml_body};
use super::query::Params;
use crate::model::Flow;

pub(super) async fn update_namespace(
    State(s): State<ApiState>,
    Path(namespace): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let p = Params::parse(raw.as_deref(), "POST /flows/{namespace}", &["delete"])?;
    let delete = p.flag("delete", true)?;
    let json = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("json"));
    let text = if json { json_documents(&body)? } else { yaml_body(&headers, &body)? };
    let (flows, violations) = check(&s, &namespace, &text);
    if !violations.is_empty() {
        return Ok(invalid_entity(uri.path(), &violations));
    }
    let mut deleted = Vec::new();
    if delete {
        let kept: Vec<&str> = flows.iter().map(|f| f.id.as_str()).collect();
        for f in
            s.host.flows().await?.into_iter().filter(|f| f.namespace == namespace && !kept.contains(&f.id.as_str()))
        {
            let mut v = flow_json(&s, &f, true).await?;
            if s.host.delete_flow(&f.namespace, &f.id).await? {
                v["deleted"] = json!(true);
                deleted.push(v);
            }
        }
    }
    let mut written = Vec::new();
    for flow in &flows {
        s.host.save_flow(flow).await?;
        written.push(flow_json(&s, flow, true).await?);
    }
    deleted.extend(written);
    Ok(Json(Value::Array(deleted)).into_response())
}

/// Kestra's older JSON form (a list of flows, as the generated clients'
/// `update_flows_in_namespace_from_json` send it) as YAML documents.
fn json_documents(body: &[u8]) -> ApiResult<String> {
    let flows: Vec<Value> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body must be a JSON list of flows: {e}")))?;
    let docs: Vec<String> =
        flows.iter().map(|f| crate::template::to_yaml(&minijinja::Value::from_serialize(f))).collect();
    Ok(docs.join("---\n"))
}

/// Parses every document; the flows, or every violation: a document's
/// validation problems, another namespace, an id given twice.
fn check(s: &ApiState, namespace: &str, text: &str) -> (Vec<Flow>, Vec<(String, String)>) {
    let mut flows: Vec<Flow> = Vec::new();
    let mut violations = Vec::new();
    for (i, doc) in documents(text).iter().enumerate() {
        let name = format!("document {i}");
        match crate::runtime::flows::parse_flow(&name, doc, &s.engine.registry, &s.engine.renderer) {
            Err(diags) => violations.extend(flow_violations(&diags)),
            Ok(f) if f.namespace != namespace => violations.push((
                "flow.namespace".to_string(),
                format!(
                    "Flow namespace is invalid: {name} (flow '{}') is in namespace '{}', not '{namespace}'",
                    f.id, f.namespace
                ),
            )),
            Ok(f) if flows.iter().any(|o| o.id == f.id) => violations
                .push(("flow.id".to_string(), format!("Duplicate flow id: '{}' is in more than one document", f.id))),
            Ok(f) => flows.push(f),
        }
    }
    (flows, violations)
}
