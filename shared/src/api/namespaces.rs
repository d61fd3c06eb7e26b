//! Namespace routes: `GET /namespaces/search` (paged; `q`, `existing`) and
//! `GET /namespaces/{namespace}`. Baton has no namespace records: the
//! namespaces are those of the flows and their parents (`a.b` → `a`).
//! `GET /namespaces/{namespace}/secrets` lists the names of the secrets a
//! flow there can read (`secret('NAME')`: Kestra's open-source
//! `SECRET_*` variables, the same for every namespace), never their values,
//! in the shape of Kestra's secrets listing, marked `readOnly`.

use std::collections::BTreeSet;

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::query::Params;
use super::search::paged;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/namespaces/search", get(search))
        .route("/namespaces/{namespace}", get(get_namespace))
        .route("/namespaces/{namespace}/secrets", get(secret_names))
}

/// Every namespace with a flow, and their parents, sorted.
async fn namespaces(s: &ApiState) -> ApiResult<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for f in s.host.flows().await? {
        let mut ns = f.namespace.as_str();
        out.insert(ns.to_string());
        while let Some((parent, _)) = ns.rsplit_once('.') {
            out.insert(parent.to_string());
            ns = parent;
        }
    }
    Ok(out)
}

fn namespace_json(id: &str) -> Value {
    json!({"id": id, "deleted": false, "disabled": false})
}

async fn search(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /namespaces/search", &["page", "size", "sort", "q", "existing"])?;
    let paging = p.paging()?;
    p.flag("existing", false)?;
    if let Some(sort) = p.get("sort").filter(|s| !s.starts_with("id")) {
        return Err(ApiError::bad_request(format!("sort '{sort}' is not supported (id:asc or id:desc)")));
    }
    let q = p.get("q").map(str::to_lowercase);
    let mut all: Vec<String> =
        namespaces(&s).await?.into_iter().filter(|n| q.as_ref().is_none_or(|q| n.to_lowercase().contains(q))).collect();
    if p.get("sort").is_some_and(|s| s.ends_with(":desc")) {
        all.reverse();
    }
    let total = all.len();
    Ok(Json(paged(total, paging.slice(all).iter().map(|n| namespace_json(n)).collect())))
}

async fn get_namespace(
    State(s): State<ApiState>,
    Path(namespace): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /namespaces/{namespace}", &[])?;
    if !namespaces(&s).await?.contains(&namespace) {
        return Err(ApiError::not_found(format!("namespace {namespace} has no flow")));
    }
    Ok(Json(namespace_json(&namespace)))
}

async fn secret_names(
    State(s): State<ApiState>,
    Path(_namespace): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /namespaces/{namespace}/secrets", &[])?;
    let names = s.engine.secrets.names();
    let results: Vec<Value> = names.iter().map(|n| json!({"key": n})).collect();
    Ok(Json(json!({"results": results, "total": names.len(), "readOnly": true})))
}
