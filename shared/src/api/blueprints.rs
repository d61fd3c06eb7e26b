//! Blueprint routes, as Kestra's `BlueprintController`, served from the
//! blueprints embedded in the binary ([`crate::blueprints`]) instead of
//! Kestra's online catalogue, so they work offline and on both runtimes:
//!
//! - `GET /blueprints/community/{kind}`: paged `ApiBlueprintItem`s
//!   (`page`, `size`, `sort` on `id`/`title`, the older `q` and `tags`, and
//!   `filters[q][…]`, `filters[tags][…]`);
//! - `GET /blueprints/community/{kind}/tags` (`q`, `filters[q][…]`): the
//!   tags of the matching blueprints;
//! - `GET /blueprints/community/{kind}/{id}`: one with its `source`;
//! - `GET /blueprints/community/{kind}/{id}/source`: the flow's YAML;
//! - `GET /blueprints/community/{kind}/{id}/graph`: its flow graph.
//!
//! Kinds are Kestra's `flow`, `app` and `dashboard` (any case); Baton's
//! blueprints are all flows, so `app` and `dashboard` list nothing.

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::query::{Params, filters};
use super::search::paged;
use crate::blueprints::{self, Blueprint};
use crate::graph::{GraphInput, flow_graph};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/blueprints/community/{kind}", get(list))
        .route("/blueprints/community/{kind}/tags", get(tags))
        .route("/blueprints/community/{kind}/{id}", get(one))
        .route("/blueprints/community/{kind}/{id}/source", get(source))
        .route("/blueprints/community/{kind}/{id}/graph", get(graph))
}

/// Whether `kind` is Kestra's `flow` (true), `app` or `dashboard` (false).
fn is_flow_kind(kind: &str) -> ApiResult<bool> {
    match kind.to_ascii_lowercase().as_str() {
        "flow" => Ok(true),
        "app" | "dashboard" => Ok(false),
        _ => Err(ApiError::bad_request(format!("blueprint kind '{kind}' is not one of flow, app, dashboard"))),
    }
}

/// The text query and tags of `q`/`tags` and `filters[q|tags][…]`; any
/// other filter is a 400 naming it.
fn query_and_tags(p: &Params, route: &str) -> ApiResult<(Option<String>, Vec<String>)> {
    let mut q = p.get("q").map(str::to_string);
    let mut tags: Vec<String> = p.all("tags").iter().flat_map(|t| t.split(',')).map(str::to_string).collect();
    for (key, parts, value) in filters(p) {
        match parts.first().copied() {
            Some("q" | "query") => q = Some(value.clone()),
            Some("tags") => tags.extend(value.split(',').map(|t| t.trim().to_string())),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "filter '{key}' is not supported by {route} in Baton (filters[q][EQUALS], filters[tags][IN])"
                )));
            }
        }
    }
    tags.retain(|t| !t.is_empty());
    Ok((q, tags))
}

fn matching(q: Option<&str>, tags: &[String]) -> Vec<&'static Blueprint> {
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    blueprints::search(q, &tags)
}

async fn list(Path(kind): Path<String>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let route = "GET /blueprints/community/{kind}";
    let p = Params::parse(raw.as_deref(), route, &["page", "size", "sort", "q", "tags", "filters["])?;
    let paging = p.paging()?;
    let (q, tags) = query_and_tags(&p, route)?;
    let mut found = if is_flow_kind(&kind)? { matching(q.as_deref(), &tags) } else { Vec::new() };
    if let Some(s) = p.get("sort") {
        let (field, dir) = s.split_once(':').unwrap_or((s, "asc"));
        match field {
            "id" => found.sort_by_key(|b| b.id),
            "title" => found.sort_by_key(|b| b.title.to_lowercase()),
            _ => {
                return Err(ApiError::bad_request(format!("sort '{s}' is not supported (id or title, :asc or :desc)")));
            }
        }
        if dir.eq_ignore_ascii_case("desc") {
            found.reverse();
        }
    }
    let total = found.len();
    Ok(Json(paged(total, paging.slice(found).into_iter().map(blueprints::item_json).collect())))
}

async fn tags(Path(kind): Path<String>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let route = "GET /blueprints/community/{kind}/tags";
    let p = Params::parse(raw.as_deref(), route, &["q", "filters["])?;
    let (q, tags) = query_and_tags(&p, route)?;
    let found = if is_flow_kind(&kind)? { matching(q.as_deref(), &tags) } else { Vec::new() };
    Ok(Json(Value::Array(blueprints::tags_json(&found))))
}

/// Blueprint `id` of `kind`, or a 404 naming it.
fn blueprint(kind: &str, id: &str, raw: Option<&str>, route: &str) -> ApiResult<&'static Blueprint> {
    Params::parse(raw, route, &[])?;
    let found = if is_flow_kind(kind)? { blueprints::find(id) } else { None };
    found.ok_or_else(|| {
        let hint = crate::validate::suggest::closest(id, blueprints::ALL.iter().map(|b| b.id))
            .map(|s| format!(" (did you mean {s}?)"))
            .unwrap_or_default();
        ApiError::not_found(format!("no {} blueprint '{id}' in Baton{hint}", kind.to_ascii_lowercase()))
    })
}

async fn one(Path((kind, id)): Path<(String, String)>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let b = blueprint(&kind, &id, raw.as_deref(), "GET /blueprints/community/{kind}/{id}")?;
    Ok(Json(blueprints::item_with_source_json(b)))
}

async fn source(Path((kind, id)): Path<(String, String)>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let b = blueprint(&kind, &id, raw.as_deref(), "GET /blueprints/community/{kind}/{id}/source")?;
    Ok(([(header::CONTENT_TYPE, "application/yaml")], b.source).into_response())
}

async fn graph(
    State(s): State<ApiState>,
    Path((kind, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let b = blueprint(&kind, &id, raw.as_deref(), "GET /blueprints/community/{kind}/{id}/graph")?;
    let file = format!("blueprint {}", b.id);
    let flow = crate::runtime::flows::parse_flow(&file, b.source, &s.engine.registry, &s.engine.renderer)
        .map_err(|d| ApiError::internal(format!("{file} does not validate: {}", d.len())))?;
    flow_graph(&flow, &GraphInput::default()).map(Json).map_err(|e| ApiError::internal(e.to_string()))
}
