//! KV routes: `GET /namespaces/{namespace}/kv` (Kestra's `KVEntry` list),
//! `GET|PUT|DELETE /namespaces/{namespace}/kv/{key}`. A PUT body is typed
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
use crate::backend::{KvLookup, KvType, KvValue};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/namespaces/{namespace}/kv", get(list))
        .route("/namespaces/{namespace}/kv/{key}", get(get_key).put(put_key).delete(delete_key))
}

async fn list(
    State(s): State<ApiState>,
    Path(namespace): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref(), "GET /namespaces/{namespace}/kv", &[])?;
    Ok(Json(s.engine.kv.list(&namespace, Utc::now()).await?).into_response())
}

async fn get_key(
    State(s): State<ApiState>,
    Path((namespace, key)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<KvValue>> {
    Params::parse(raw.as_deref(), "GET /namespaces/{namespace}/kv/{key}", &[])?;
    match s.engine.kv.get(&namespace, &key, Utc::now()).await? {
        KvLookup::Found(v) => Ok(Json(v)),
        KvLookup::Missing => Err(ApiError::not_found(format!("no key '{key}' in namespace {namespace}"))),
        KvLookup::Expired => Err(ApiError::not_found(format!("key '{key}' in namespace {namespace} has expired"))),
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
    Ok(Json(s.engine.kv.delete(&namespace, &key).await?))
}

#[cfg(test)]
mod tests {
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
