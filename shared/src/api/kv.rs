//! KV routes: `GET /namespaces/{namespace}/kv` (Kestra's `KVEntry` list),
//! `DELETE /namespaces/{namespace}/kv` (a `{"keys": […]}` body: the keys
//! deleted), `GET /namespaces/{namespace}/kv/inheritance` (the keys the
//! namespace inherits: its parents', the nearest parent's key winning, as
//! Kestra lists them — the namespace's own keys are not among them),
//! `GET|PUT|DELETE /namespaces/{namespace}/kv/{key}` (a GET answers Kestra
//! 2.0's `{type, value, revision, updated}`, 1.x's `{type, value}` and more). A PUT body is typed
//! as Kestra types it: JSON numbers, booleans, strings, objects and arrays
//! keep their JSON type; unquoted text is a DATETIME, DATE or DURATION when
//! it reads as one, else a STRING. The optional `ttl` header (ISO-8601
//! duration) sets the expiry.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::Value;

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::query::Params;
use crate::backend::nsfiles::check_namespace;
use crate::backend::{KvDetail, KvType, KvValue};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/namespaces/{namespace}/kv", get(list).delete(delete_keys))
        .route("/namespaces/{namespace}/kv/inheritance", get(inherited))
        .route("/namespaces/{namespace}/kv/{key}", get(get_key).put(put_key).delete(delete_key))
}

async fn list(
    State(s): State<ApiState>,
    Path(namespace): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref(), "GET /namespaces/{namespace}/kv", &[])?;
    check_namespace(&namespace)?;
    Ok(Json(s.engine.kv.list(&namespace, Utc::now()).await?).into_response())
}

async fn get_key(
    State(s): State<ApiState>,
    Path((namespace, key)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<KvDetail>> {
    Params::parse(raw.as_deref(), "GET /namespaces/{namespace}/kv/{key}", &[])?;
    check_namespace(&namespace)?;
    // Kestra 2.0's `KvDetail` (`type`, `value`, `revision`, `updated`): 1.x's
    // `TypedValue` (`type`, `value`) with two more fields, so both read it
    match s.engine.kv.detail(&namespace, &key, Utc::now()).await? {
        Some(d) => Ok(Json(d)),
        None => Err(ApiError::not_found(format!("no key '{key}' in namespace {namespace}"))),
    }
}

/// The KV type of a value sent to the API, as Kestra infers it.
pub fn kv_value(body: &[u8]) -> KvValue {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    match serde_json::from_str::<Value>(trimmed) {
        Ok(v @ Value::Number(_)) => KvValue { kind: KvType::Number, value: v },
        Ok(v @ Value::Bool(_)) => KvValue { kind: KvType::Boolean, value: v },
        Ok(v @ Value::String(_)) => KvValue { kind: KvType::String, value: v },
        Ok(v @ (Value::Object(_) | Value::Array(_) | Value::Null)) => KvValue { kind: KvType::Json, value: v },
        Err(_) => {
            let kind = if chrono::DateTime::parse_from_rfc3339(trimmed).is_ok() {
                KvType::Datetime
            } else if chrono::NaiveDate::parse_from_str(trimmed, "%Y-%m-%d").is_ok() {
                KvType::Date
            } else if trimmed.starts_with('P') && crate::model::duration::parse_iso(trimmed).is_ok() {
                KvType::Duration
            } else {
                return KvValue { kind: KvType::String, value: Value::String(text.into_owned()) };
            };
            KvValue { kind, value: Value::String(trimmed.to_string()) }
        }
    }
}

async fn put_key(
    State(s): State<ApiState>,
    Path((namespace, key)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref(), "PUT /namespaces/{namespace}/kv/{key}", &[])?;
    check_namespace(&namespace)?;
    crate::plugins::core::kv::validate_key(&key).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let now = Utc::now();
    let expires = match headers.get("ttl").map(|v| v.to_str().unwrap_or("")) {
        None => None,
        Some(ttl) => match crate::model::duration::parse_iso(ttl) {
            Ok(d) if d > chrono::Duration::zero() => Some(now + d),
            _ => return Err(ApiError::unprocessable(format!("ttl '{ttl}' is not a positive ISO-8601 duration"))),
        },
    };
    s.engine.kv.set(&namespace, &key, &kv_value(&body), expires, true, now).await?;
    Ok(StatusCode::OK.into_response())
}

async fn delete_key(
    State(s): State<ApiState>,
    Path((namespace, key)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<bool>> {
    Params::parse(raw.as_deref(), "DELETE /namespaces/{namespace}/kv/{key}", &[])?;
    check_namespace(&namespace)?;
    Ok(Json(s.engine.kv.delete(&namespace, &key).await?))
}

/// The most keys one bulk delete takes.
pub const MAX_BULK_KEYS: usize = 10_000;

/// Kestra's `KVControllerApiDeleteBulkRequest`.
#[derive(serde::Deserialize)]
struct DeleteBulk {
    keys: Vec<String>,
}

/// `DELETE /namespaces/{namespace}/kv`: Kestra's bulk delete; answers the
/// keys that were there and are deleted (`{"keys": […]}`).
async fn delete_keys(
    State(s): State<ApiState>,
    Path(namespace): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Json<DeleteBulk>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "DELETE /namespaces/{namespace}/kv", &[])?;
    check_namespace(&namespace)?;
    let Json(req) =
        body.map_err(|e| ApiError::bad_request(format!("the body must be {{\"keys\": [...]}}: {}", e.body_text())))?;
    if req.keys.len() > MAX_BULK_KEYS {
        return Err(ApiError::bad_request(format!(
            "{} keys: one bulk delete takes at most {MAX_BULK_KEYS}",
            req.keys.len()
        )));
    }
    let mut deleted = Vec::new();
    for key in req.keys {
        if s.engine.kv.delete(&namespace, &key).await? {
            deleted.push(key);
        }
    }
    Ok(Json(serde_json::json!({ "keys": deleted })))
}

/// The namespace and its parents, nearest first: `a.b.c`, `a.b`, `a`.
fn lineage(namespace: &str) -> Vec<&str> {
    let mut out = vec![namespace];
    let mut cur = namespace;
    while let Some((parent, _)) = cur.rsplit_once('.') {
        out.push(parent);
        cur = parent;
    }
    out
}

/// `GET /namespaces/{namespace}/kv/inheritance`: the `KVEntry`s of the
/// namespace's parents (a key set in more than one is the nearest
/// parent's), each with its `namespace`, sorted by key.
async fn inherited(
    State(s): State<ApiState>,
    Path(namespace): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /namespaces/{namespace}/kv/inheritance", &[])?;
    check_namespace(&namespace)?;
    let now = Utc::now();
    let mut seen = std::collections::BTreeMap::new();
    for ns in lineage(&namespace).into_iter().skip(1) {
        for e in s.engine.kv.list(ns, now).await? {
            if !seen.contains_key(&e.key) {
                let mut v = serde_json::to_value(&e).unwrap_or(Value::Null);
                v["namespace"] = Value::String(ns.to_string());
                seen.insert(e.key.clone(), v);
            }
        }
    }
    Ok(Json(Value::Array(seen.into_values().collect())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_lineage_runs_from_the_namespace_to_its_root() {
        assert_eq!(super::lineage("a.b.c"), vec!["a.b.c", "a.b", "a"]);
        assert_eq!(super::lineage("solo"), vec!["solo"]);
    }

    use super::*;

    #[test]
    fn kv_types_are_inferred_like_kestra() {
        assert_eq!(kv_value(b"42").kind, KvType::Number);
        assert_eq!(kv_value(b"true").kind, KvType::Boolean);
        assert_eq!(kv_value(br#"{"a":1}"#).kind, KvType::Json);
        assert_eq!(kv_value(br#""quoted""#).value, "quoted");
        assert_eq!(kv_value(b"plain text").value, "plain text");
        assert_eq!(kv_value(b"2024-05-06T07:08:09Z").kind, KvType::Datetime);
        assert_eq!(kv_value(b"2024-05-06").kind, KvType::Date);
        assert_eq!(kv_value(b"PT1H").kind, KvType::Duration);
        assert_eq!(kv_value(b"Pear").kind, KvType::String);
    }
}
