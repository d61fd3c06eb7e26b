//! Execution routes: start (`POST /executions/{namespace}/{id}`, also
//! `/executions/trigger/…`; `labels`, `wait`, `scheduleDate`, `revision`; the answer
//! carries the execution's `url` in the UI, as Kestra's), get, search
//! ([`super::search`]), kill (`DELETE /executions/{id}/kill`), restart in
//! place, replay (a new execution with the same inputs, labels and trigger,
//! from the start or from a task run), labels of an ended execution (`POST
//! /executions/{id}/labels`: the body is its whole list, so a label left out
//! is removed, as in Kestra since 0.22), follow (`GET /executions/{id}/follow`,
//! server-sent events).

use axum::extract::{Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::DateTime;
use serde_json::{Map, Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::inputs::{discard_uploads, read_inputs};
use super::query::{Params, labels_from_json};
use super::search::{SEARCH_PARAMS, Search, paged};
use crate::model::{Execution, Label, ids};
use crate::runtime::engine::Engine;
use crate::runtime::launcher::{LaunchRequest, launch, publish_event};
use crate::runtime::messages::ExecutionEvent;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/executions/search", get(search_executions))
        .route("/executions/trigger/{id}/{sub}", post(start_execution).layer(super::limits::streamed()))
        .route("/executions/{id}", get(get_execution))
        .route("/executions/{id}/{sub}", post(start_execution).layer(super::limits::streamed()))
        .route("/executions/{id}/kill", delete(kill_execution))
        .route("/executions/{id}/replay", post(replay_execution))
        .route("/executions/{id}/restart", post(restart_execution))
        .route("/executions/{id}/labels", post(set_labels))
        .route("/executions/{id}/follow", get(super::sse::follow_execution))
        .route("/executions/{namespace}/{id}/validate", post(validate_inputs).layer(super::limits::streamed()))
        // Kestra 2.0 moved the actions under `/actions/`
        .route("/executions/{id}/actions/kill", delete(kill_execution))
        .route("/executions/{id}/actions/replay", post(replay_execution))
        .route("/executions/{id}/actions/restart", post(restart_execution))
        .route("/executions/{id}/actions/labels", post(set_labels))
}

/// The execution as Kestra's API returns it (without Baton's CAS version).
pub fn execution_json(e: &Execution) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("version");
        // SECRET inputs shown as Kestra masks them
        m.remove("secretInputs");
        if !e.secret_inputs.is_empty() {
            m.insert("inputs".into(), Value::Object(e.shown_inputs()));
        }
        m.entry("outputs").or_insert_with(|| json!({}));
        m.entry("variables").or_insert_with(|| json!({}));
        m.entry("deleted").or_insert(json!(false));
        without_nulls(m);
        for tr in m.get_mut("taskRunList").and_then(Value::as_array_mut).into_iter().flatten() {
            if let Value::Object(t) = tr {
                without_nulls(t);
                for a in t.get_mut("attempts").and_then(Value::as_array_mut).into_iter().flatten() {
                    if let Value::Object(a) = a {
                        without_nulls(a);
                    }
                }
            }
        }
    }
    v
}

/// Drops the fields that are `null`, as Kestra's API does (its JSON leaves
/// out null fields: a root task run has no `parentTaskRunId`, a task run
/// outside a loop no `value`). Only the object's own fields: a `null`
/// inside outputs or inputs is data and stays.
pub fn without_nulls(m: &mut serde_json::Map<String, Value>) {
    m.retain(|_, v| !v.is_null());
}

/// Loads execution `id` or answers 404.
pub async fn load(engine: &Engine, id: &str) -> ApiResult<Execution> {
    engine.state.load_execution(id).await?.ok_or_else(|| ApiError::not_found(format!("execution {id} not found")))
}

async fn start_execution(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> ApiResult<Response> {
    let p = Params::parse(
        raw.as_deref(),
        "POST /executions/{namespace}/{id}",
        &["labels", "wait", "scheduleDate", "revision"],
    )?;
    let mut flow = s.host.flow(&namespace, &id).await?;
    super::backlog::admit(&s.engine)?;
    // Kestra's `revision`: the execution runs that stored revision of the flow
    let revision = p
        .get("revision")
        .map(|r| r.parse::<u32>().map_err(|_| ApiError::bad_request(format!("revision '{r}' is not a number"))))
        .transpose()?;
    if let Some(r) = revision {
        flow = crate::runtime::flows::at_revision(&s.engine, &namespace, &id, r)
            .await
            .map_err(|e| ApiError::not_found(e.to_string()))?;
    }
    let labels = p.labels("labels")?;
    let wait = p.flag("wait", false)?;
    let schedule_date = p
        .get("scheduleDate")
        .map(|d| {
            DateTime::parse_from_rfc3339(d)
                .map(|d| d.with_timezone(&chrono::Utc))
                .map_err(|e| ApiError::bad_request(format!("scheduleDate '{d}': {e}")))
        })
        .transpose()?;
    if schedule_date.is_some_and(|d| d > chrono::Utc::now()) {
        return Err(ApiError::unsupported(
            "scheduleDate in the future is not supported by Baton: executions start at once",
        ));
    }
    let execution_id = ids::new_id();
    let headers = request.headers().clone();
    let read = read_inputs(s.engine.storage.as_ref(), &flow, &execution_id, request).await?;
    let updates = s.engine.notable.subscribe();
    let req = LaunchRequest {
        inputs: read.inputs,
        labels,
        execution_id: Some(execution_id),
        schedule_date,
        revision,
        ..LaunchRequest::default()
    };
    let exec = match launch(&s.engine, &flow, req).await {
        Ok(e) => e,
        Err(e) => {
            discard_uploads(s.engine.storage.as_ref(), &read.uploaded).await;
            return Err(e.into());
        }
    };
    let exec = if wait { wait_end(&s.engine, &exec.id, updates).await? } else { exec };
    // Kestra's `ExecutionResponse`: the execution and its page in the UI
    let mut v = execution_json(&exec);
    v["url"] = Value::String(super::webhook::execution_url(&exec, &headers));
    Ok(Json(v).into_response())
}

/// Kestra's `POST /executions/{namespace}/{id}/validate`: each input as the
/// execute form shows it — rendered (a SELECT's `values` from its
/// `expression`), enabled by its `dependsOn` or not, its value and errors.
/// Files sent are checked, then removed.
async fn validate_inputs(
    State(s): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "POST /executions/{namespace}/{id}/validate", &["labels", "revision"])?;
    let flow = s.host.flow(&namespace, &id).await?;
    if flow.disabled {
        return Err(ApiError::conflict(format!(
            "flow {namespace}.{id} is disabled: Cannot execute a flow which is disabled"
        )));
    }
    let read = read_inputs(s.engine.storage.as_ref(), &flow, &ids::new_id(), request).await?;
    // renders on this worker thread: the template host blocks in place
    let reports = crate::runtime::launcher::report_inputs(&s.engine, &flow, &read.inputs);
    discard_uploads(s.engine.storage.as_ref(), &read.uploaded).await;
    let inputs: Vec<Value> = reports
        .into_iter()
        .map(|r| {
            json!({
                "input": serde_json::to_value(&r.input).unwrap_or(Value::Null),
                "value": r.value,
                "enabled": r.enabled,
                "errors": r.errors.into_iter().map(|m| json!({"message": m})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({"id": id, "namespace": namespace, "inputs": inputs})))
}

/// Waits until execution `id` ends ([`crate::runtime::launcher::wait_for_end`]).
pub async fn wait_end(
    engine: &Engine,
    id: &str,
    updates: tokio::sync::broadcast::Receiver<crate::runtime::engine::ExecutionUpdate>,
) -> ApiResult<Execution> {
    Ok(crate::runtime::launcher::wait_for_end(engine, id, updates).await?)
}

async fn get_execution(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "GET /executions/{id}", &[])?;
    Ok(Json(execution_json(&load(&s.engine, &id).await?)))
}

async fn search_executions(State(s): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /executions/search", SEARCH_PARAMS)?;
    let paging = p.paging()?;
    let search = Search::from_params(&p)?;
    let (total, page) = search.run(s.engine.state.as_ref(), paging.page, paging.size).await?;
    Ok(Json(paged(total, page.iter().map(execution_json).collect())))
}

pub(super) async fn kill_execution(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(raw.as_deref(), "DELETE /executions/{id}/kill", &["isOnKillCascade"])?;
    let cascade = p.flag("isOnKillCascade", true)?;
    let e = load(&s.engine, &id).await?;
    if e.state.is_terminal() {
        return Err(ApiError::conflict(format!("execution {id} already ended {}: nothing to kill", e.state.current)));
    }
    let mut ids = vec![id];
    if cascade {
        // the running subflow executions, whatever their depth
        let running: Vec<Execution> = {
            let mut v = Vec::new();
            for x in s.engine.state.list_executions(&Default::default()).await? {
                if !x.state.is_terminal()
                    && let Some(full) = s.engine.state.load_execution(&x.id).await?
                {
                    v.push(full);
                }
            }
            v
        };
        let mut i = 0;
        while i < ids.len() {
            let parent = ids[i].clone();
            ids.extend(running.iter().filter(|x| x.parent_id.as_deref() == Some(&parent)).map(|x| x.id.clone()));
            i += 1;
        }
    }
    for execution_id in ids {
        publish_event(&s.engine, &ExecutionEvent::Kill { execution_id }).await?;
    }
    // 1.x answers 202 with no body (its client reads none); 2.0's client
    // reads the execution: the execution as it was asked to be killed
    Ok((axum::http::StatusCode::ACCEPTED, Json(execution_json(&e))).into_response())
}

/// Kestra's replay: a new execution of the original's flow revision (or
/// `revision`), with its inputs, labels (`system.replay: true`) and
/// trigger, the original marked `system.replayed: true`. Without
/// `taskRunId` it runs from the start (CREATED); with one, what ran before
/// that task run is kept and it runs on from there (RESTARTED,
/// `executor::replay`).
async fn replay_execution(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let target = ReplayTarget::load(&s, &id, raw.as_deref(), "POST /executions/{id}/replay").await?;
    Ok(Json(execution_json(&target.replay(&s, None).await?)))
}

/// What a replay starts from: the original execution, the flow at the
/// revision it runs and the task run it runs on from, if any.
pub(super) struct ReplayTarget {
    pub old: Execution,
    pub flow: std::sync::Arc<crate::model::Flow>,
    pub revision: u32,
    pub task_run_id: Option<String>,
}

impl ReplayTarget {
    /// Reads `taskRunId` and `revision` (and Kestra's `breakpoints`, which
    /// Baton has not: refused when given) for a replay of `id`.
    pub async fn load(s: &ApiState, id: &str, raw: Option<&str>, route: &str) -> ApiResult<ReplayTarget> {
        let p = Params::parse(raw, route, &["taskRunId", "revision", "breakpoints"])?;
        if p.get("breakpoints").is_some_and(|b| !b.trim().is_empty()) {
            return Err(ApiError::unsupported("breakpoints are not supported by Baton: replay without them"));
        }
        let revision = p
            .get("revision")
            .map(|r| r.parse().map_err(|_| ApiError::bad_request(format!("revision '{r}' is not a number"))))
            .transpose()?;
        let mut target = ReplayTarget::of(s, load(&s.engine, id).await?, revision).await?;
        target.task_run_id = p.get("taskRunId").map(String::from);
        Ok(target)
    }

    /// A replay of `old` from the start, at `revision` (by default the one it ran).
    pub async fn of(s: &ApiState, old: Execution, revision: Option<u32>) -> ApiResult<ReplayTarget> {
        let revision = revision.unwrap_or(old.flow_revision);
        let flow = crate::runtime::flows::at_revision(&s.engine, &old.namespace, &old.flow_id, revision)
            .await
            .map_err(|e| ApiError::not_found(e.to_string()))?;
        Ok(ReplayTarget { old, flow, revision, task_run_id: None })
    }

    /// Starts the replay; `given`: the new execution's id and its new inputs
    /// as sent (a replay with inputs), in place of the original's.
    pub async fn replay(self, s: &ApiState, given: Option<(String, Map<String, Value>)>) -> ApiResult<Execution> {
        use crate::executor::replay::{REPLAYED_LABEL, ReplayError, replay_from, replay_labels};
        let ReplayTarget { mut old, flow, revision, task_run_id } = self;
        let (new_id, inputs) = match given {
            Some((id, inputs)) => (id, Some(inputs)),
            None => (ids::new_id(), None),
        };
        let exec = match task_run_id {
            None => {
                let req = LaunchRequest {
                    inputs: inputs.unwrap_or_else(|| old.inputs.clone()),
                    labels: replay_labels(&old),
                    trigger: old.trigger.clone(),
                    schedule_date: old.schedule_date,
                    original_id: Some(old.original_id.clone()),
                    execution_id: Some(new_id),
                    // the stored revision runs as is: none is saved again
                    revision: Some(revision),
                    ..LaunchRequest::default()
                };
                launch(&s.engine, &flow, req).await?
            }
            Some(task_run_id) => {
                let mut from = old.clone();
                if let Some(given) = inputs {
                    // Kestra replays the original with the new inputs in place of its own
                    from.inputs = crate::runtime::launcher::resolve_given(&s.engine, &flow, given, &new_id)?;
                }
                let exec = replay_from(&flow, revision, &from, &task_run_id, &new_id, chrono::Utc::now()).map_err(
                    |e| match e {
                        ReplayError::UnknownTaskRun { .. } => ApiError::not_found(e.to_string()),
                        ReplayError::NotEnded { .. } => ApiError::conflict(e.to_string()),
                        ReplayError::TaskNotInFlow { .. } => ApiError::unprocessable(e.to_string()),
                    },
                )?;
                s.engine.state.create_execution(&exec).await?;
                publish_event(&s.engine, &ExecutionEvent::Created { execution_id: new_id.clone() }).await?;
                load(&s.engine, &new_id).await?
            }
        };
        // the original says it was replayed (an execution still running keeps
        // changing: it is marked only once it has ended)
        if old.state.is_terminal() && !old.labels.iter().any(|l| l.key == REPLAYED_LABEL) {
            old.set_label(REPLAYED_LABEL, "true");
            s.engine.state.save_execution(&old, &[]).await?;
        }
        Ok(exec)
    }
}

/// Kestra's restart in place: failed task runs run again as their next
/// attempt, what succeeded is kept (`executor::restart`); the executor
/// takes it from there (concurrency limits apply again).
pub(super) async fn restart_execution(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "POST /executions/{id}/restart", &[])?;
    let mut exec = load(&s.engine, &id).await?;
    let flow = crate::runtime::flows::at_revision(&s.engine, &exec.namespace, &exec.flow_id, exec.flow_revision)
        .await
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    let changed = crate::executor::restart::restart(&flow, &mut exec, chrono::Utc::now())
        .map_err(|e| ApiError::conflict(e.to_string()))?;
    // compare-and-swap on the version loaded: a concurrent change answers 409
    s.engine.state.save_execution(&exec, &changed).await?;
    publish_event(&s.engine, &ExecutionEvent::Wake { execution_id: id.clone(), redispatch: false }).await?;
    Ok(Json(execution_json(&load(&s.engine, &id).await?)))
}

async fn set_labels(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "POST /executions/{id}/labels", &[])?;
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let labels = labels_from_json(&body).map_err(ApiError::unprocessable)?;
    let mut e = load(&s.engine, &id).await?;
    if !e.state.is_terminal() {
        return Err(ApiError::conflict(format!(
            "execution {id} is {}: labels can be set once it has ended",
            e.state.current
        )));
    }
    e.labels = replaced_labels(&e.labels, labels).map_err(ApiError::unprocessable)?;
    s.engine.state.save_execution(&e, &[]).await?;
    Ok(Json(execution_json(&load(&s.engine, &id).await?)))
}

/// Kestra's (since 0.22) Set labels of one execution: the body is the
/// execution's whole list of labels, so a label left out is removed. System
/// labels are Baton's own: they are kept whether sent or not, and one sent
/// with another value, or one the execution lacks, is refused.
fn replaced_labels(existing: &[Label], body: Vec<Label>) -> Result<Vec<Label>, String> {
    let system = |l: &Label| l.key.starts_with("system.");
    if let Some(l) = body.iter().find(|l| system(l) && !existing.contains(l)) {
        return Err(format!("label '{}': system labels cannot be set", l.key));
    }
    let mut out: Vec<Label> = existing.iter().filter(|l| system(l)).cloned().collect();
    for l in body.into_iter().filter(|l| !system(l)) {
        match out.iter_mut().find(|o| o.key == l.key) {
            Some(o) => o.value = l.value,
            None => out.push(l),
        }
    }
    Ok(out)
}

/// Kestra's bulk Set labels (`/executions/labels/by-ids`, `…/by-query`):
/// unlike the one-execution route, the labels sent are merged into the
/// execution's, by key, the value sent winning (Kestra deduplicates the
/// execution's labels followed by the sent ones, the last value kept, each
/// key where it first was); a label not sent stays. System labels are kept;
/// one sent with the execution's own value is accepted, with another value
/// (or one the execution lacks) refused, as Kestra refuses it. An empty key
/// or value is refused: Kestra drops such a label without a word.
pub(super) fn merged_labels(existing: &[Label], sent: &[Label]) -> Result<Vec<Label>, String> {
    let system = |l: &Label| l.key.starts_with("system.");
    let mut out = existing.to_vec();
    for l in sent {
        if l.key.is_empty() || l.value.is_empty() {
            return Err(format!("label '{}={}': a label needs a key and a value", l.key, l.value));
        }
        match out.iter_mut().find(|o| o.key == l.key) {
            Some(o) => o.value.clone_from(&l.value),
            None => out.push(l.clone()),
        }
    }
    if let Some(l) = out.iter().find(|l| system(l) && !existing.contains(l)) {
        return Err(format!("label '{}={}': system labels can only be set by Baton itself", l.key, l.value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(k: &str, v: &str) -> Label {
        Label { key: k.into(), value: v.into() }
    }

    #[test]
    fn set_labels_replaces_the_list_and_keeps_system_labels() {
        let existing = [l("system.correlationId", "x"), l("team", "a"), l("gone", "1")];
        // a label left out is removed; a sent system label equal to its own is accepted
        let out = replaced_labels(&existing, vec![l("team", "b"), l("new", "2"), l("system.correlationId", "x")]);
        assert_eq!(out, Ok(vec![l("system.correlationId", "x"), l("team", "b"), l("new", "2")]));
        // an empty list removes every label but the system ones
        assert_eq!(replaced_labels(&existing, vec![]), Ok(vec![l("system.correlationId", "x")]));
        let refused = replaced_labels(&existing, vec![l("system.correlationId", "y")]);
        assert!(refused.is_err_and(|e| e.contains("system.correlationId") && e.contains("cannot be set")));
    }

    #[test]
    fn bulk_labels_merge_by_key_the_sent_value_winning_and_keep_system_labels() {
        let existing = [l("system.correlationId", "x"), l("team", "a"), l("kept", "1")];
        // merged: a key sent replaces its value where it was, a new one is added, none removed
        let out = merged_labels(&existing, &[l("team", "b"), l("new", "2"), l("team", "c")]);
        assert_eq!(out, Ok(vec![l("system.correlationId", "x"), l("team", "c"), l("kept", "1"), l("new", "2")]));
        // a system label sent as it is: accepted; with another value, or a new one: refused
        assert_eq!(merged_labels(&existing, &[l("system.correlationId", "x")]), Ok(existing.to_vec()));
        for sent in [l("system.correlationId", "y"), l("system.replay", "true")] {
            let refused = merged_labels(&existing, std::slice::from_ref(&sent));
            assert!(refused.is_err_and(|e| e.contains(&sent.key) && e.contains("only be set by Baton")), "{sent:?}");
        }
        // an empty key or value is refused, not dropped
        for sent in [l("team", ""), l("", "v")] {
            assert!(merged_labels(&existing, &[sent]).is_err_and(|e| e.contains("needs a key and a value")));
        }
    }
}
