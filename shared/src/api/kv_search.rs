//! `GET /kv`: Kestra's listing of KV keys across namespaces (1.2 and 2.0;
//! 2.0 dropped the per-namespace listing): paged `KVEntry`s with their
//! `namespace`, filtered by `filters[namespace][…]` (or `namespace`) and
//! `filters[key][…]`/`q`. Without a namespace filter the namespaces are
//! those of the stored flows: the KV stores are keyed by namespace and
//! cannot list every namespace they hold.

use std::collections::BTreeSet;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::query::Params;
use super::search::{Text, paged, text};

pub fn routes() -> Router<ApiState> {
    Router::new().route("/kv", get(list_all))
}

async fn list_all(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /kv", &["page", "size", "sort", "namespace", "q", "filters["])?;
    let paging = p.paging()?;
    let mut namespace: Vec<Text> = p.get("namespace").map(|n| vec![Text::Equals(n.to_string())]).unwrap_or_default();
    let mut key: Vec<Text> = p.get("q").map(|q| vec![Text::Contains(q.to_string())]).unwrap_or_default();
    for (k, parts, v) in super::query::filters(&p) {
        match parts.as_slice() {
            ["namespace", op] => namespace.push(text("namespace", op, v)?),
            ["key", op] => key.push(text("key", op, v)?),
            ["q" | "query", "EQUALS"] => key.push(Text::Contains(v.clone())),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "'{k}' is not supported by GET /kv in Baton (filters on namespace, key, q)"
                )));
            }
        }
    }
    let candidates: BTreeSet<String> = match namespace.iter().find_map(|t| match t {
        Text::Equals(n) => Some(n.clone()),
        _ => None,
    }) {
        Some(n) => BTreeSet::from([n]),
        None => s.host.flows().await?.iter().map(|f| f.namespace.clone()).collect(),
    };
    let now = Utc::now();
    let mut rows = Vec::new();
    for ns in candidates.iter().filter(|ns| namespace.iter().all(|t| t.matches(ns))) {
        for e in s.engine.kv.list(ns, now).await? {
            if key.iter().all(|t| t.matches(&e.key)) {
                let mut v = json!(e);
                v["namespace"] = json!(ns);
                rows.push(v);
            }
        }
    }
    let total = rows.len();
    Ok(Json(paged(total, paging.slice(rows))))
}
