//! The launcher: turns a request to run a flow (CLI, API, schedule,
//! backfill, Subflow) into a stored CREATED execution and an event for the
//! executor. Inputs are checked here, before anything runs, then the
//! flow's `checks` against them (Kestra's `FlowService.getFailedChecks`):
//! a check fails when its `condition` does not render `true` (a rendering
//! error fails it as a BLOCK_EXECUTION check); the strongest behavior of
//! the failed checks decides — BLOCK refuses the request with their
//! messages, FAIL creates the execution FAILED, CREATE creates it — and
//! each failed check's message is written to the execution's logs.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::engine::Engine;
use super::messages::ExecutionEvent;
use crate::backend::BackendError;
use crate::backend::LogEntry;
use crate::executor::StepEnv;
use crate::inputs::{self, InputError};
use crate::model::flowkeys::{Check, CheckBehavior, CheckStyle};
use crate::model::{Execution, Flow, Label, StateType, TriggerContext, ids};

/// Kestra's log line on an execution created FAILED by its checks.
pub const CHECKS_FAILED: &str = "Flow execution failed because one or more condition checks evaluated to false.";

/// The flow's checks that fail on `inputs`, and the strongest behavior
/// among them (None when every check passes). Pure.
pub fn failed_checks(
    flow: &Flow,
    inputs: &Map<String, Value>,
    env: &dyn StepEnv,
) -> (Vec<Check>, Option<CheckBehavior>) {
    if flow.checks.is_empty() {
        return (Vec::new(), None);
    }
    let ctx = serde_json::json!({
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        "inputs": inputs,
        "vars": flow.variables,
        "labels": {},
        "envs": env.envs(),
    });
    let mut failed = Vec::new();
    for c in &flow.checks {
        match env.render(&c.condition, &ctx) {
            Ok(r) if r.trim() == "true" => {}
            Ok(_) => failed.push(c.clone()),
            Err(e) => failed.push(Check {
                condition: c.condition.clone(),
                message: format!("Failed to evaluate check condition. Cause: {e}"),
                style: CheckStyle::Error,
                behavior: CheckBehavior::BlockExecution,
            }),
        }
    }
    let behavior = failed.iter().map(|c| c.behavior).max();
    (failed, behavior)
}

/// The `labels` of the trigger that starts this execution, their values
/// rendered with the trigger's variables (`{{ trigger.date }}`): Kestra
/// copies them onto every execution a trigger creates. A value that does
/// not render is kept as written, and the trigger's other labels still go.
fn trigger_labels(engine: &Arc<Engine>, flow: &Flow, trigger: Option<&TriggerContext>) -> Vec<Label> {
    let Some(ctx) = trigger else { return Vec::new() };
    let Some(trig) = flow.triggers.iter().find(|t| t.id == ctx.id) else { return Vec::new() };
    let Ok(labels) = crate::triggers::labels_of(trig) else { return Vec::new() };
    if labels.is_empty() {
        return labels;
    }
    let vars = serde_json::json!({
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        "trigger": ctx.variables,
        "vars": flow.variables,
        "envs": engine.step_env().envs(),
    });
    let env = engine.step_env();
    labels
        .into_iter()
        .map(|l| match env.render(&l.value, &vars) {
            Ok(value) => Label { key: l.key, value },
            Err(e) => {
                tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %ctx.id,
                    label = %l.key, "trigger label not rendered, kept as written: {e}");
                l
            }
        })
        .collect()
}

/// A request to start an execution.
#[derive(Debug, Clone, Default)]
pub struct LaunchRequest {
    /// Raw inputs (strings from a CLI, JSON from an API).
    pub inputs: Map<String, Value>,
    pub labels: Vec<Label>,
    pub trigger: Option<TriggerContext>,
    /// `(parent execution, parent Subflow task run)`.
    pub parent: Option<(String, String)>,
    /// Values the launcher masks as secrets beside the engine's own
    /// `secret()` values: a subflow's parent's `SECRET` input values. An
    /// input holding any of them is one of the execution's `SECRET` inputs.
    pub secrets: Vec<String>,
    /// A fixed id (deterministic for subflows and schedule ticks).
    pub execution_id: Option<String>,
    pub schedule_date: Option<DateTime<Utc>>,
    /// The execution this one replays (Kestra's `originalId`); its own id otherwise.
    pub original_id: Option<String>,
    /// How many `subflow()` calls this launch runs under (`subflow_fn`).
    pub subflow_depth: u32,
    /// The flow is this stored revision (read with `flows::at_revision`):
    /// the execution runs it as is, no revision is saved.
    pub revision: Option<u32>,
    /// Created FAILED with this error, without inputs, and nothing runs:
    /// Kestra 2.0's Flow trigger whose `inputs` do not render.
    pub failed: Option<String>,
}

/// Why an execution could not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("flow {namespace}.{id} is disabled: Cannot execute a flow which is disabled")]
    Disabled { namespace: String, id: String },
    #[error("invalid inputs for flow {flow}:\n{}", .errors.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Inputs { flow: String, errors: Vec<InputError> },
    #[error("execution {0} already exists")]
    Exists(String),
    /// Kestra's message when a BLOCK_EXECUTION check fails.
    #[error("Flow execution blocked: one or more condition checks evaluated to false.\nFailed checks: {}", .messages.join(", "))]
    Blocked { messages: Vec<String> },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Creates, stores and announces an execution of `flow`.
pub async fn launch(engine: &Arc<Engine>, flow: &Flow, req: LaunchRequest) -> Result<Execution, LaunchError> {
    if flow.disabled {
        return Err(LaunchError::Disabled { namespace: flow.namespace.clone(), id: flow.id.clone() });
    }
    let now = Utc::now();
    let id = req.execution_id.clone().unwrap_or_else(ids::new_id);
    let (resolved, (failed, behavior)) = match &req.failed {
        Some(_) => (Map::new(), (Vec::new(), None)),
        None => {
            let resolved = resolve_inputs(engine, flow, &req, &id, now)
                .map_err(|errors| LaunchError::Inputs { flow: format!("{}.{}", flow.namespace, flow.id), errors })?;
            let checks = failed_checks(flow, &resolved, &engine.step_env());
            (resolved, checks)
        }
    };
    if behavior == Some(CheckBehavior::BlockExecution) {
        return Err(LaunchError::Blocked { messages: failed.into_iter().map(|c| c.message).collect() });
    }
    let revision = match req.revision {
        Some(r) => r,
        None => engine.state.save_flow(&flow.namespace, &flow.id, &flow.source).await?,
    };
    // the executor runs exactly this revision, on whatever instance
    engine.flows.insert_revision(flow, revision);
    let mut labels = flow.labels.clone();
    for l in trigger_labels(engine, flow, req.trigger.as_ref()).iter().chain(&req.labels) {
        if let Some(x) = labels.iter_mut().find(|x| x.key == l.key) {
            x.value = l.value.clone();
        } else {
            labels.push(l.clone());
        }
    }
    let mut exec = Execution::new(id.clone(), &flow.namespace, &flow.id, revision, resolved, labels, now);
    if !exec.labels.iter().any(|l| l.key == "system.correlationId") {
        exec.set_label("system.correlationId", &id);
    }
    exec.trigger = req.trigger.clone();
    exec.schedule_date = req.schedule_date;
    if let Some(original) = &req.original_id {
        exec.original_id = original.clone();
    }
    exec.secret_inputs = flow.secret_inputs();
    // an input rendered from a secret (a subflow's, from its parent's
    // `secret()` values or SECRET inputs) is masked and sealed as a SECRET
    // input of this execution; its tasks still get the real value
    let mut known = crate::template::TemplateHost::secret_values(engine.host.as_ref());
    known.extend(req.secrets.iter().cloned());
    for id in crate::model::mask::holding_secrets(&exec.inputs, &known) {
        if !exec.secret_inputs.contains(&id) {
            exec.secret_inputs.push(id);
        }
    }
    if let Some((pid, ptr)) = &req.parent {
        exec.parent_id = Some(pid.clone());
        exec.parent_task_run_id = Some(ptr.clone());
    }
    if behavior == Some(CheckBehavior::FailExecution) {
        // created ended: nothing runs, and the end is announced below
        exec.state.set(StateType::Failed, now);
        exec.error = Some(CHECKS_FAILED.to_string());
    }
    if let Some(error) = &req.failed {
        exec.state.set(StateType::Failed, now);
        exec.error = Some(error.clone());
    }
    match engine.state.create_execution(&exec).await {
        Ok(()) => {}
        Err(BackendError::Invalid(_)) | Err(BackendError::Conflict { .. }) if req.execution_id.is_some() => {
            // the same launch again (a tick, a backfill or a subflow redelivered):
            // if the first one died between saving and announcing, announce now
            if engine.state.load_execution(&id).await?.is_some_and(|e| e.state.current == StateType::Created) {
                publish_event(engine, &ExecutionEvent::Created { execution_id: id.clone() }).await?;
            }
            return Err(LaunchError::Exists(id));
        }
        Err(e) => return Err(e.into()),
    }
    exec.version = 1;
    if !failed.is_empty() {
        let mut logs: Vec<LogEntry> = failed.iter().map(|c| check_log(&exec, c.style.level(), &c.message)).collect();
        if exec.state.current == StateType::Failed {
            logs.push(check_log(&exec, "WARN", CHECKS_FAILED));
        }
        engine.state.append_logs(&logs).await?;
    }
    if let Some(error) = &req.failed {
        engine.state.append_logs(&[check_log(&exec, "ERROR", error)]).await?;
    }
    tracing::info!(execution_id = %id, namespace = %flow.namespace, flow_id = %flow.id, state = %exec.state.current, "execution created");
    publish_event(engine, &ExecutionEvent::Created { execution_id: id }).await?;
    Ok(exec)
}

/// The execution's inputs: given or default, typed, with dynamic inputs
/// (`dependsOn`, a SELECT's `expression`) rendered against a context like
/// Kestra's (`flow`, `execution.id`, the inputs depended on, `envs`, the
/// `trigger` when there is one). `subflow()` is answered only for a launch
/// from a request (no parent, no trigger): [`super::subflow_fn`].
fn resolve_inputs(
    engine: &Arc<Engine>,
    flow: &Flow,
    req: &LaunchRequest,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, Vec<InputError>> {
    if !flow.inputs.iter().any(inputs::dynamic::is_dynamic) {
        return inputs::resolve_inputs(&flow.inputs, &req.inputs, now);
    }
    with_input_renderer(engine, flow, req, id, &mut |render| {
        inputs::resolve_inputs_with(&flow.inputs, &req.inputs, now, render)
    })
}

/// `given` resolved as a launch of `flow` with execution id `id` resolves
/// its inputs (types, defaults, dynamic inputs rendered): what a replay
/// with new inputs (`POST /executions/{id}/replay-with-inputs`) gives the
/// task runs it runs again.
pub fn resolve_given(
    engine: &Arc<Engine>,
    flow: &Flow,
    given: Map<String, Value>,
    id: &str,
) -> Result<Map<String, Value>, LaunchError> {
    let req = LaunchRequest { inputs: given, ..LaunchRequest::default() };
    resolve_inputs(engine, flow, &req, id, Utc::now())
        .map_err(|errors| LaunchError::Inputs { flow: format!("{}.{}", flow.namespace, flow.id), errors })
}

/// Kestra's execute-form check of `given` against `flow`'s inputs (`POST
/// /executions/{namespace}/{id}/validate`): dynamic inputs rendered as a
/// launch from a request renders them; nothing is started but what their
/// `subflow()` calls start.
pub fn report_inputs(engine: &Arc<Engine>, flow: &Flow, given: &Map<String, Value>) -> Vec<inputs::InputReport> {
    let req = LaunchRequest { inputs: given.clone(), ..LaunchRequest::default() };
    let id = ids::new_id();
    with_input_renderer(engine, flow, &req, &id, &mut |render| {
        inputs::report_inputs(&flow.inputs, given, Utc::now(), render)
    })
}

/// Calls `f` with the renderer of `flow`'s dynamic inputs for launch `req`.
fn with_input_renderer<T>(
    engine: &Arc<Engine>,
    flow: &Flow,
    req: &LaunchRequest,
    id: &str,
    f: &mut dyn FnMut(&mut inputs::dynamic::RenderFn<'_>) -> T,
) -> T {
    let launch_host;
    let host: &dyn crate::template::TemplateHost = if req.parent.is_none() && req.trigger.is_none() {
        launch_host = super::subflow_fn::LaunchHost { engine: engine.clone(), depth: req.subflow_depth };
        &launch_host
    } else {
        engine.host.as_ref()
    };
    let mut base = serde_json::json!({
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision, "tenantId": "main"},
        "execution": {"id": id},
        "labels": {},
        "envs": engine.step_env().envs(),
    });
    if let Some(t) = &req.trigger {
        base["trigger"] = Value::Object(t.variables.clone());
    }
    let mut render = |template: &str, scope: &Map<String, Value>| -> Result<Value, String> {
        let mut ctx = base.clone();
        ctx["inputs"] = Value::Object(scope.clone());
        engine
            .renderer
            .render_typed(&Value::String(template.to_string()), &ctx, host)
            .map_err(|e| crate::plugins::context::mask_secrets(&e.message, &host.secret_values()))
    };
    f(&mut render)
}

/// Waits until execution `id` ends (listeners and afterExecution done):
/// woken by the engine's updates on this instance, reading the store every
/// 500 ms otherwise (another instance may run it).
pub async fn wait_for_end(
    engine: &Engine,
    id: &str,
    mut updates: tokio::sync::broadcast::Receiver<super::engine::ExecutionUpdate>,
) -> Result<Execution, BackendError> {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let e = engine
            .state
            .load_execution(id)
            .await?
            .ok_or_else(|| BackendError::NotFound { what: format!("execution {id}") })?;
        if e.is_done() {
            engine.logs.flush().await;
            return Ok(e);
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
        loop {
            match tokio::time::timeout_at(deadline, updates.recv()).await {
                Ok(Ok(u)) if u.execution_id == id && u.done => break,
                Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => {}
                Ok(Err(RecvError::Closed)) | Err(_) => break,
            }
        }
    }
}

fn check_log(exec: &Execution, level: &str, message: &str) -> LogEntry {
    LogEntry {
        namespace: exec.namespace.clone(),
        flow_id: exec.flow_id.clone(),
        execution_id: exec.id.clone(),
        task_id: None,
        task_run_id: None,
        attempt_number: None,
        timestamp: exec.state.start_date().unwrap_or_else(Utc::now),
        level: level.to_string(),
        message: message.to_string(),
    }
}

/// Publishes an event for the executor.
pub async fn publish_event(engine: &Engine, ev: &ExecutionEvent) -> Result<(), BackendError> {
    super::messages::publish_event(engine.queue.as_ref(), ev.clone()).await
}

/// Where a FILE input's content lives in internal storage, as in Kestra:
/// `{execution prefix}/inputs/{input}/{file name}`.
pub fn input_file_path(flow: &Flow, execution_id: &str, input: &str, file_name: &str) -> String {
    let file_name = std::path::Path::new(file_name).file_name().and_then(|f| f.to_str()).unwrap_or("file");
    let prefix = crate::plugins::context::execution_prefix(&flow.namespace, &flow.id, execution_id);
    format!("{prefix}/inputs/{input}/{file_name}")
}

/// A local file given for a FILE input that could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum FileInputError {
    #[error("input '{input}': cannot read {path}: {source}")]
    Read {
        input: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("input '{input}': cannot store {path} in internal storage: {source}")]
    Store {
        input: String,
        path: String,
        #[source]
        source: BackendError,
    },
}

/// Streams each FILE input given as a local path (anything without `://`)
/// into the execution's internal storage, replacing it by its `kestra://`
/// URI, as Kestra's UI upload does. Other values are left for input checks.
pub async fn store_file_inputs(
    engine: &Engine,
    flow: &Flow,
    execution_id: &str,
    inputs: &mut Map<String, Value>,
) -> Result<(), FileInputError> {
    for input in flow.inputs.iter().filter(|i| i.type_ == crate::model::InputType::File) {
        let Some(Value::String(local)) = inputs.get(&input.id) else { continue };
        if local.contains("://") || local.trim().is_empty() {
            continue;
        }
        let local = local.clone();
        let file = tokio::fs::File::open(&local).await.map_err(|source| FileInputError::Read {
            input: input.id.clone(),
            path: local.clone(),
            source,
        })?;
        let path = input_file_path(flow, execution_id, &input.id, &local);
        engine.storage.put(&path, Box::pin(file)).await.map_err(|source| FileInputError::Store {
            input: input.id.clone(),
            path: local.clone(),
            source,
        })?;
        inputs.insert(input.id.clone(), Value::String(format!("kestra://{path}")));
    }
    Ok(())
}
