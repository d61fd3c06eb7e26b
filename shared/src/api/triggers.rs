//! Trigger routes: `GET /triggers/search` (paged `{abstractTrigger,
//! triggerContext}`; `namespace` prefix, `flowId`, `q`), `GET
//! /triggers/{namespace}/{flowId}` (that flow's trigger contexts, paged),
//! `GET /triggers/{namespace}/{flowId}/{triggerId}`, and `PUT /triggers`
//! with a `backfill` (created, [`super::backfills`]) or with `disabled`
//! (any trigger disabled or enabled again), and Kestra's bulk
//! `POST /triggers/set-disabled/by-triggers` and `…/by-query`.
//!
//! Disabling through the API is kept in the trigger's state as a stop (as
//! `stopAfter` does), which every trigger type reads before it starts an
//! execution (Schedule, Flow, Webhook, the polled and event triggers): it
//! lasts until re-enabled, or until the flow's source changes, when the
//! trigger starts afresh.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{Value, json};

use super::ApiState;
use super::backfills::{KestraTrigger, body, create_from_trigger, kestra_backfill_json, store};
use super::error::{ApiError, ApiResult};
use super::query::Params;
use super::search::paged;
use crate::backend::schedule::{Stopped, TriggerKey, TriggerState};
use crate::model::Flow;
use crate::runtime::scheduler::source_hash;

/// The reason stored when a trigger is disabled through the API.
pub const DISABLED_BY_API: &str = "disabled through the API";

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/triggers", put(put_trigger))
        .route("/triggers/search", get(search))
        .route("/triggers/set-disabled/by-triggers", post(set_disabled_by_triggers))
        .route("/triggers/set-disabled/by-query", post(set_disabled_by_query))
        .route("/triggers/{namespace}/{flow_id}", get(flow_triggers))
        .route("/triggers/{namespace}/{flow_id}/{trigger_id}", get(get_trigger))
        .merge(super::backfills::routes())
}

/// Kestra's trigger context (`Trigger`) of one trigger of a flow.
pub async fn trigger_json(s: &ApiState, namespace: &str, flow_id: &str, trigger_id: &str) -> ApiResult<Value> {
    let flow = s.host.flow(namespace, flow_id).await?;
    context_json(s, &flow, trigger_id).await
}

async fn context_json(s: &ApiState, flow: &Flow, trigger_id: &str) -> ApiResult<Value> {
    let trigger = flow.triggers.iter().find(|t| t.id == trigger_id).ok_or_else(|| {
        ApiError::not_found(format!("flow {}.{} has no trigger '{trigger_id}'", flow.namespace, flow.id))
    })?;
    let key =
        TriggerKey { namespace: flow.namespace.clone(), flow_id: flow.id.clone(), trigger_id: trigger_id.to_string() };
    let mut v = json!({
        "tenantId": "main",
        "namespace": flow.namespace,
        "flowId": flow.id,
        "triggerId": trigger_id,
        "date": null,
        "nextExecutionDate": null,
        "disabled": trigger.disabled,
        "backfill": null,
    });
    if let Some(store) = s.host.triggers() {
        if let Some(st) = store.load_trigger_state(&key).await? {
            v["date"] = json!(st.last_tick);
            v["nextExecutionDate"] = json!(st.next_tick);
            v["executionId"] = json!(st.last_execution_id);
            v["updatedDate"] = json!(st.updated);
            if let Some(stopped) = &st.stopped {
                v["disabled"] = json!(true);
                v["stopped"] = json!(stopped.reason);
            }
        }
        // the newest (the store lists them newest first): a trigger shows its
        // latest backfill, not the first one it ever had
        let backfill = store.list_backfills(None).await?.into_iter().find(|b| b.trigger_key() == key);
        if let Some(b) = backfill {
            v["backfill"] = kestra_backfill_json(&b);
        }
    }
    Ok(v)
}

/// Kestra's `{abstractTrigger, triggerContext}` for each trigger of `flow`
/// that `filter` selects.
async fn flow_entries(s: &ApiState, flow: &Flow, filter: &TriggerFilter) -> ApiResult<Vec<Value>> {
    let declared = crate::yaml::parse(&flow.source).ok().and_then(|(v, _)| v.get("triggers").cloned());
    let mut out = Vec::new();
    for t in flow.triggers.iter().filter(|t| filter.matches(flow, &t.id)) {
        let abstract_trigger = declared
            .as_ref()
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|x| x.get("id").and_then(Value::as_str) == Some(&t.id)))
            .cloned()
            .unwrap_or_else(|| json!({"id": t.id, "type": t.type_}));
        out.push(json!({"abstractTrigger": abstract_trigger, "triggerContext": context_json(s, flow, &t.id).await?}));
    }
    Ok(out)
}

/// Which triggers a search (or a bulk change by query) selects: the older
/// `namespace` (with its children), `flowId` and `q`, and Kestra's
/// `filters[namespace|flowId|q][…]`.
#[derive(Default)]
struct TriggerFilter {
    under: Option<String>,
    namespace: Vec<super::search::Text>,
    flow_id: Vec<super::search::Text>,
    q: Option<String>,
}

impl TriggerFilter {
    fn from_params(p: &Params, route: &str) -> ApiResult<TriggerFilter> {
        use super::search::{Text, text};
        let mut f = TriggerFilter {
            under: p.get("namespace").map(String::from),
            flow_id: p.get("flowId").map(|id| vec![Text::Equals(id.to_string())]).unwrap_or_default(),
            q: p.get("q").map(str::to_lowercase),
            ..TriggerFilter::default()
        };
        for (k, parts, v) in super::query::filters(p) {
            match parts.as_slice() {
                ["namespace", op] => f.namespace.push(text("namespace", op, v)?),
                ["flowId", op] => f.flow_id.push(text("flowId", op, v)?),
                ["q" | "query", "EQUALS"] => f.q = Some(v.to_lowercase()),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "'{k}' is not supported by {route} in Baton (filters on namespace, flowId, q)"
                    )));
                }
            }
        }
        Ok(f)
    }

    fn matches_flow(&self, flow: &Flow) -> bool {
        self.under.as_ref().is_none_or(|ns| super::query::in_namespace(&flow.namespace, ns))
            && self.namespace.iter().all(|t| t.matches(&flow.namespace))
            && self.flow_id.iter().all(|t| t.matches(&flow.id))
    }

    fn matches(&self, flow: &Flow, trigger_id: &str) -> bool {
        self.matches_flow(flow)
            && self.q.as_ref().is_none_or(|q| {
                format!("{} {} {trigger_id}", flow.namespace, flow.id).to_lowercase().contains(q.as_str())
            })
    }
}

/// The query parameters a trigger filter reads.
const FILTER_PARAMS: [&str; 4] = ["q", "namespace", "flowId", "filters["];

async fn search(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let route = "GET /triggers/search";
    let p =
        Params::parse(raw.as_deref(), route, &[&["page", "size", "sort", "dateFilter"][..], &FILTER_PARAMS].concat())?;
    let paging = p.paging()?;
    if let Some(sort) = p.get("sort").filter(|s| !s.starts_with("triggerId") && !s.starts_with("flowId")) {
        return Err(ApiError::bad_request(format!("sort '{sort}' is not supported (flowId or triggerId)")));
    }
    let filter = TriggerFilter::from_params(&p, route)?;
    let mut all = Vec::new();
    for flow in s.host.flows().await?.iter().filter(|f| filter.matches_flow(f)) {
        all.extend(flow_entries(&s, flow, &filter).await?);
    }
    let total = all.len();
    Ok(Json(paged(total, paging.slice(all))))
}

async fn flow_triggers(
    State(s): State<ApiState>,
    Path((namespace, flow_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /triggers/{namespace}/{flowId}", &["page", "size", "sort", "q"])?;
    let paging = p.paging()?;
    let flow = s.host.flow(&namespace, &flow_id).await?;
    let mut contexts = Vec::new();
    for t in &flow.triggers {
        contexts.push(context_json(&s, &flow, &t.id).await?);
    }
    let total = contexts.len();
    Ok(Json(paged(total, paging.slice(contexts))))
}

async fn get_trigger(
    State(s): State<ApiState>,
    Path((namespace, flow_id, trigger_id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /triggers/{namespace}/{flowId}/{triggerId}", &[])?;
    Ok(Json(trigger_json(&s, &namespace, &flow_id, &trigger_id).await?))
}

async fn put_trigger(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    bytes: axum::body::Bytes,
) -> ApiResult<Response> {
    use axum::response::IntoResponse;
    Params::parse(raw.as_deref(), "PUT /triggers", &[])?;
    let t: KestraTrigger = body(&bytes, "a trigger (namespace, flowId, triggerId, and backfill or disabled)")?;
    if t.backfill.is_some() {
        return create_from_trigger(&s, t).await;
    }
    let Some(disabled) = t.disabled else {
        return Err(ApiError::unprocessable(
            "PUT /api/v1/triggers changes a trigger's 'backfill' or 'disabled'; this body has neither",
        ));
    };
    let flow = set_disabled(&s, &t.namespace, &t.flow_id, &t.trigger_id, disabled).await?;
    Ok(Json(context_json(&s, &flow, &t.trigger_id).await?).into_response())
}

/// Disables (or enables again) one trigger; returns its flow.
async fn set_disabled(
    s: &ApiState,
    namespace: &str,
    flow_id: &str,
    trigger_id: &str,
    disabled: bool,
) -> ApiResult<std::sync::Arc<Flow>> {
    let flow = s.host.flow(namespace, flow_id).await?;
    flow.triggers.iter().find(|x| x.id == trigger_id).ok_or_else(|| {
        ApiError::not_found(format!("flow {}.{} has no trigger '{trigger_id}'", flow.namespace, flow.id))
    })?;
    let store = store(s)?;
    let key = TriggerKey {
        namespace: namespace.to_string(),
        flow_id: flow_id.to_string(),
        trigger_id: trigger_id.to_string(),
    };
    let now = Utc::now();
    let mut state = store.load_trigger_state(&key).await?.unwrap_or_else(|| TriggerState::fresh(key.clone(), now));
    if disabled {
        state.stopped = Some(Stopped { reason: DISABLED_BY_API.into(), flow_hash: source_hash(&flow.source) });
    } else {
        state.stopped = None;
    }
    state.updated = now;
    store.save_trigger_state(&state).await?;
    Ok(flow)
}

/// Kestra's `POST /triggers/set-disabled/by-triggers`: `{triggers: [{namespace,
/// flowId, triggerId}…], disabled}` → `{count}`.
async fn set_disabled_by_triggers(
    State(s): State<ApiState>,
    RawQuery(raw): RawQuery,
    bytes: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    #[derive(serde::Deserialize)]
    struct Body {
        triggers: Vec<KestraTrigger>,
        disabled: bool,
    }
    Params::parse(raw.as_deref(), "POST /triggers/set-disabled/by-triggers", &[])?;
    let b: Body = body(&bytes, "a set-disabled request ({triggers: [{namespace, flowId, triggerId}], disabled})")?;
    for t in &b.triggers {
        set_disabled(&s, &t.namespace, &t.flow_id, &t.trigger_id, b.disabled).await?;
    }
    Ok(Json(json!({"count": b.triggers.len()})))
}

/// Kestra's `POST /triggers/set-disabled/by-query?q=&namespace=&disabled=`
/// (and the search's filters): every trigger matching → `{count}`.
async fn set_disabled_by_query(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let route = "POST /triggers/set-disabled/by-query";
    let p = Params::parse(raw.as_deref(), route, &[&["disabled"][..], &FILTER_PARAMS].concat())?;
    let disabled = p.flag("disabled", true)?;
    let filter = TriggerFilter::from_params(&p, route)?;
    let mut count = 0;
    for flow in s.host.flows().await? {
        for t in flow.triggers.iter().filter(|t| filter.matches(&flow, &t.id)) {
            set_disabled(&s, &flow.namespace, &flow.id, &t.id, disabled).await?;
            count += 1;
        }
    }
    Ok(Json(json!({"count": count})))
}
