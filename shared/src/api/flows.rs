//! Flow routes: `GET /flows` (all), `GET /flows/search` (paged),
//! `GET /flows/{namespace}` (and `POST`: [`super::flow_namespace`]),
//! `GET|PUT|DELETE /flows/{namespace}/{id}`
//! (`?source=true` adds the YAML), `POST /flows` (create from
//! `application/x-yaml`), `POST /flows/validate` (YAML, one or more
//! documents), `POST /flows/import` (multipart `fileUpload`: multi-document
//! YAML or a ZIP of YAML files). Baton's `GET /flow-files/broken` lists
//! the flow files that define no flow because they never validated (a
//! brand-new broken file: no last valid version to show it on), each with
//! its problems, for the UI's flow list.
//!
//! A flow's JSON is its YAML as JSON (as Kestra returns it) with `id`,
//! `namespace`, `revision`, `disabled`, `deleted`, labels as `[{key, value}]`
//! and each Schedule trigger's state (`nextExecutionDate`, `date`).

use std::sync::Arc;

use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::inputs::spool_field;
use super::query::Params;
use crate::backend::schedule::TriggerKey;
use crate::model::Flow;
use crate::schedule::ScheduleTrigger;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/flows", get(list_flows).post(create_flow))
        .route("/flows/search", get(search_flows))
        .route("/flows/validate", post(validate_flows))
        .route("/flows/import", post(import_flows).layer(super::limits::import()))
        .route("/flows/{namespace}", get(namespace_flows).post(super::flow_namespace::update_namespace))
        .route("/flows/{namespace}/{id}", get(get_flow).put(update_flow).delete(delete_flow))
        .route("/flow-files/broken", get(broken_files))
}

/// `[{path, message}]`: the flow files no flow comes from, and why.
async fn broken_files(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /flow-files/broken", &[])?;
    let files = s.host.broken_files().await?;
    Ok(Json(files.into_iter().map(|(path, message)| json!({"path": path, "message": message})).collect()))
}

/// A flow as Kestra's API shows it.
pub async fn flow_json(s: &ApiState, flow: &Flow, with_source: bool) -> ApiResult<Value> {
    let mut v = match crate::yaml::parse(&flow.source) {
        Ok((Value::Object(m), _)) => Value::Object(m),
        _ => json!({}),
    };
    v["id"] = json!(flow.id);
    v["namespace"] = json!(flow.namespace);
    v["disabled"] = json!(flow.disabled);
    v["deleted"] = json!(false);
    v["labels"] = json!(flow.labels);
    v["inputs"] = serde_json::to_value(&flow.inputs).unwrap_or(Value::Null);
    v["revision"] = json!(crate::runtime::flow_catalog::revision(&s.engine, flow).await?);
    let mut triggers = Vec::new();
    for t in &flow.triggers {
        let mut tv = v
            .get("triggers")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|x| x.get("id").and_then(Value::as_str) == Some(&t.id)))
            .cloned()
            .unwrap_or_else(|| json!({"id": t.id, "type": t.type_}));
        tv["disabled"] = json!(t.disabled);
        match ScheduleTrigger::from_trigger(t) {
            Ok(Some(st)) => {
                if !st.cron.is_dates() {
                    tv["cron"] = json!(st.cron.expr());
                }
                tv["timezone"] = json!(st.cron.timezone().name());
                if let Some(store) = s.host.triggers() {
                    let key = TriggerKey {
                        namespace: flow.namespace.clone(),
                        flow_id: flow.id.clone(),
                        trigger_id: t.id.clone(),
                    };
                    if let Some(state) = store.load_trigger_state(&key).await? {
                        tv["nextExecutionDate"] = json!(state.next_tick.map(|d| st.cron.format(d)));
                        tv["date"] = json!(state.last_tick.map(|d| st.cron.format(d)));
                        if let Some(stopped) = state.stopped {
                            tv["stopped"] = json!(stopped.reason);
                        }
                    }
                }
            }
            Ok(None) => {}
            Err(e) => tv["error"] = json!(e.to_string()),
        }
        triggers.push(tv);
    }
    v["triggers"] = Value::Array(triggers);
    if with_source {
        v["source"] = json!(flow.source);
    }
    Ok(v)
}

async fn list_flows(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /flows", &[])?;
    let mut out = Vec::new();
    for flow in s.host.flows().await? {
        out.push(flow_json(&s, &flow, false).await?);
    }
    Ok(Json(Value::Array(out)))
}

pub(super) async fn namespace_flows(
    State(s): State<ApiState>,
    Path(namespace): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /flows/{namespace}", &[])?;
    let mut out = Vec::new();
    for flow in s.host.flows().await?.into_iter().filter(|f| f.namespace == namespace) {
        out.push(flow_json(&s, &flow, false).await?);
    }
    Ok(Json(Value::Array(out)))
}

async fn search_flows(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /flows/search", super::flow_search::PARAMS)?;
    let paging = p.paging()?;
    if let Some(sort) = p.get("sort").filter(|s| !s.starts_with("id") && !s.starts_with("namespace")) {
        return Err(ApiError::bad_request(format!("sort '{sort}' is not supported (id or namespace, :asc or :desc)")));
    }
    let search = super::flow_search::FlowSearch::from_params(&p)?;
    let matching: Vec<Arc<Flow>> = s.host.flows().await?.into_iter().filter(|f| search.matches(f)).collect();
    let total = matching.len();
    let mut results = Vec::new();
    for f in paging.slice(matching) {
        results.push(flow_json(&s, &f, false).await?);
    }
    Ok(Json(json!({"results": results, "total": total})))
}

async fn get_flow(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /flows/{namespace}/{id}", &["source", "allowDeleted", "revision"])?;
    if let Some(rev) = p.get("revision").filter(|r| !r.is_empty()) {
        return Ok(Json(
            super::flow_revisions::flow_at_revision(&s, &namespace, &id, rev, p.flag("source", false)?).await?,
        ));
    }
    let flow = s.host.flow(&namespace, &id).await?;
    let mut v = flow_json(&s, &flow, p.flag("source", false)?).await?;
    // Kestra's FlowWithException: the file on disk or in the bucket is
    // broken; what is served (and runs) is its last valid version
    if let Some(problem) = s.host.flow_problem(&namespace, &id).await? {
        v["exception"] = json!(problem);
    }
    Ok(Json(v))
}

/// Parses and validates one flow's YAML; 422 with every problem.
pub(super) fn parse(s: &ApiState, name: &str, source: &str) -> ApiResult<Flow> {
    crate::runtime::flows::parse_flow(name, source, &s.engine.registry, &s.engine.renderer).map_err(|diags| {
        ApiError::unprocessable(format!(
            "invalid flow:\n{}",
            diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
        ))
    })
}

pub(super) fn yaml_body(headers: &HeaderMap, body: &[u8]) -> ApiResult<String> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !(ct.is_empty() || ct.contains("yaml") || ct.starts_with("text/plain")) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("the flow must be sent as application/x-yaml, not {ct}"),
        ));
    }
    String::from_utf8(body.to_vec()).map_err(|_| ApiError::bad_request("the flow source is not UTF-8"))
}

/// Kestra 2.0's `?draft=`: `false` saves a published revision, as without
/// it; `true` (a revision that is never executed nor scheduled, runs
/// falling back to the last published one) is refused, naming it: Baton
/// has no draft revisions and would schedule it.
fn refuse_draft(p: &Params) -> ApiResult<()> {
    if p.flag("draft", false)? {
        return Err(ApiError::unsupported(
            "draft=true is not supported by Baton: it has no draft revisions (every saved revision is published \
             and scheduled); save without draft, or draft=false",
        ));
    }
    Ok(())
}

async fn create_flow(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    refuse_draft(&Params::parse(raw.as_deref(), "POST /flows", &["draft"])?)?;
    let source = yaml_body(&headers, &body)?;
    let flow = parse(&s, "request body", &source)?;
    if s.host.flow(&flow.namespace, &flow.id).await.is_ok() {
        return Err(ApiError::conflict(format!(
            "flow {}.{} already exists: update it with PUT /api/v1/flows/{}/{}",
            flow.namespace, flow.id, flow.namespace, flow.id
        )));
    }
    s.host.save_flow(&flow).await?;
    Ok(Json(flow_json(&s, &flow, true).await?))
}

async fn update_flow(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    refuse_draft(&Params::parse(raw.as_deref(), "PUT /flows/{namespace}/{id}", &["draft"])?)?;
    let source = yaml_body(&headers, &body)?;
    let flow = parse(&s, "request body", &source)?;
    if flow.namespace != namespace || flow.id != id {
        return Err(ApiError::unprocessable(format!(
            "the flow's namespace and id ({}.{}) differ from the path ({namespace}.{id})",
            flow.namespace, flow.id
        )));
    }
    s.host.flow(&namespace, &id).await?;
    s.host.save_flow(&flow).await?;
    Ok(Json(flow_json(&s, &flow, true).await?))
}

async fn delete_flow(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref(), "DELETE /flows/{namespace}/{id}", &[])?;
    if !s.host.delete_flow(&namespace, &id).await? {
        return Err(ApiError::not_found(format!("flow {namespace}.{id} not found")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The documents of a multi-document YAML text (split on `---` lines, as
/// Kestra does), without empty ones.
pub fn documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else if let Some(d) = docs.last_mut() {
            d.push_str(line);
            d.push('\n');
        }
    }
    docs.into_iter().filter(|d| d.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))).collect()
}

/// Kestra's `ValidateConstraintViolation` for document `index`.
fn violation(s: &ApiState, index: usize, source: &str) -> Value {
    let (flow, diags) =
        crate::validate::validate_source(&format!("document {index}"), source, &s.engine.registry, &s.engine.renderer);
    let field =
        |k: &str| crate::yaml::parse(source).ok().and_then(|(v, _)| v.get(k).and_then(Value::as_str).map(String::from));
    let mut v = json!({
        "flow": flow.as_ref().map(|f| f.id.clone()).or_else(|| field("id")),
        "namespace": flow.as_ref().map(|f| f.namespace.clone()).or_else(|| field("namespace")),
        "index": index,
        "constraints": (!diags.is_empty()).then(|| diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")),
        "outdated": false,
        "deprecationPaths": [],
        "warnings": [],
        "infos": [],
    });
    // a valid flow has no `constraints`: Kestra leaves the field out
    if let Value::Object(m) = &mut v {
        super::executions::without_nulls(m);
    }
    v
}

async fn validate_flows(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "POST /flows/validate", &[])?;
    let text = yaml_body(&headers, &body)?;
    Ok(Json(Value::Array(documents(&text).iter().enumerate().map(|(i, d)| violation(&s, i, d)).collect())))
}

async fn import_flows(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    mut multipart: Multipart,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "POST /flows/import", &["failOnError"])?;
    let fail_on_error = p.flag("failOnError", false)?;
    let mut failed = Vec::new();
    let mut found = false;
    while let Some(field) = multipart.next_field().await? {
        if field.name() != Some("fileUpload") {
            let name = field.name().unwrap_or("").to_string();
            return Err(ApiError::bad_request(format!(
                "unexpected form field '{name}': the file goes in 'fileUpload'"
            )));
        }
        found = true;
        let file_name = field.file_name().unwrap_or("upload.yml").to_string();
        let spooled = spool_field(field).await?;
        let items: Vec<(String, Result<String, String>)> = if file_name.to_ascii_lowercase().ends_with(".zip") {
            let path = spooled.path().to_path_buf();
            tokio::task::spawn_blocking(move || zip_yaml_files(&path))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))??
        } else {
            let text = std::fs::read_to_string(spooled.path())
                .map_err(|e| ApiError::bad_request(format!("{file_name} is not UTF-8 text: {e}")))?;
            documents(&text).into_iter().enumerate().map(|(i, d)| (i.to_string(), Ok(d))).collect()
        };
        for (name, source) in items {
            let outcome = match source {
                Ok(src) => match parse(&s, &format!("{file_name} {name}"), &src) {
                    Ok(flow) => s.host.save_flow(&flow).await.map_err(|e| e.message),
                    Err(e) => Err(e.message),
                },
                Err(e) => Err(e),
            };
            if let Err(message) = outcome {
                if fail_on_error {
                    return Err(ApiError::unprocessable(format!("{file_name} {name}: {message}")));
                }
                tracing::warn!(file = %file_name, item = %name, error = %message, "flow not imported");
                failed.push(Value::String(name));
            }
        }
    }
    if !found {
        return Err(ApiError::bad_request("no 'fileUpload' part: send the YAML or ZIP file as -F fileUpload=@file"));
    }
    Ok(Json(Value::Array(failed)))
}

/// The `*.yml`/`*.yaml` entries of a ZIP: (name, text or why not).
fn zip_yaml_files(path: &std::path::Path) -> ApiResult<Vec<(String, Result<String, String>)>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| ApiError::bad_request(format!("not a ZIP file: {e}")))?;
    use super::limits::{MAX_IMPORT_ENTRY, MAX_IMPORT_TEXT};
    let mut out = Vec::new();
    let mut held = 0usize;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| ApiError::bad_request(format!("bad ZIP entry {i}: {e}")))?;
        let name = entry.name().map_err(|e| ApiError::bad_request(format!("bad ZIP entry {i}: {e}")))?.to_string();
        if entry.is_dir() || !(name.ends_with(".yml") || name.ends_with(".yaml")) {
            continue;
        }
        let mut text = String::new();
        // a flow is small; a huge entry is refused rather than read into
        // memory, and so is a ZIP whose flows add up past the import's bound
        let read = (&mut entry).take(MAX_IMPORT_ENTRY as u64 + 1).read_to_string(&mut text);
        out.push(match read {
            Ok(n) if n > MAX_IMPORT_ENTRY => (name, Err(format!("over {} MiB: not a flow", MAX_IMPORT_ENTRY >> 20))),
            Ok(n) => {
                held += n;
                if held > MAX_IMPORT_TEXT {
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "the ZIP's YAML files add up to over Baton's bound of {} MiB for one import (at {name}): \
                             import it in parts",
                            MAX_IMPORT_TEXT >> 20
                        ),
                    ));
                }
                (name, Ok(text))
            }
            Err(e) => (name, Err(e.to_string())),
        });
    }
    Ok(out)
}
