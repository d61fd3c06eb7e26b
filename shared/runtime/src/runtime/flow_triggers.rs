//! Flow triggers at run time, on both runtimes: when an execution changes
//! state (any state a trigger lists: terminal ones, PAUSED, RUNNING…; the
//! executor calls [`on_state_change`] after saving the change, as Kestra's
//! executor does, before `afterExecution` tasks run), find the flows whose
//! `io.kestra.plugin.core.trigger.Flow` triggers may react, apply the pure decision (`triggers::flow::decide`),
//! compare-and-swap the partial state of multi-flow preconditions in the
//! state store, and launch each downstream execution under a derived id.
//!
//! Exactly once per (upstream transition, downstream trigger): the
//! downstream id derives from (upstream execution, downstream namespace,
//! flow, trigger, and for a non-terminal state or a repeated one the state
//! and how many times the execution entered it) — or, with preconditions, from the stored window's start
//! and round — so a duplicate delivery, a redelivered end or a restart
//! finds the execution already there (`LaunchError::Exists`). A stored
//! window remembers the upstream transitions it counted, so counting one
//! twice is impossible, and a lost compare-and-swap re-reads and re-decides.
//!
//! Which flows: the engine's repository locally; on Google Cloud the
//! flows in the bucket as they are now ([`crate::runtime::engine::LatestFlows::all`]).
//! Parsed Flow triggers are cached per instance by the hash of the flow's
//! source (immutable), so an end parses only flows never seen before.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::engine::Engine;
use super::launcher::{self, LaunchError, LaunchRequest};
use crate::backend::BackendError;
use crate::conditions::ConditionTest;
use crate::model::{Execution, Flow, Label, TriggerContext, ids};
use crate::triggers::flow::decide::{self, Firing, Upstream, WindowRecord, WindowRule};
use crate::triggers::flow::depends;
use crate::triggers::flow::spec::{self, FlowTriggerSpec};
use crate::triggers::flow::window::TimeWindow;

/// The state store's record kind of precondition windows.
pub const KIND: &str = "flow_trigger_windows";

/// How many times a window's compare-and-swap is retried against
/// concurrent ends of other upstreams before giving up (the event is then
/// redelivered and decides again).
pub const MAX_CAS_ATTEMPTS: usize = 16;

/// How many flow sources' parsed Flow triggers an instance keeps (the cache
/// is emptied when it grows past this).
pub const MAX_CACHED_SOURCES: usize = 4096;

/// Why Flow triggers could not be evaluated (the event is retried).
#[derive(Debug, thiserror::Error)]
pub enum FlowTriggerError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(
        "preconditions '{condition}' of flow {namespace}.{flow_id}: more than {MAX_CAS_ATTEMPTS} concurrent updates of its window"
    )]
    Contention { namespace: String, flow_id: String, condition: String },
}

/// A flow's Flow triggers, parsed.
type Parsed = Arc<Vec<(String, Arc<FlowTriggerSpec>)>>;

static PARSED: LazyLock<Mutex<HashMap<String, Parsed>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The enabled Flow triggers of `flow` with their specs, from the cache
/// keyed by the flow's source hash. A trigger that does not parse (it
/// would not have validated) is left out. A flow with no Flow trigger
/// (most flows) is answered without hashing its source: every execution's
/// end asks this of every flow.
fn flow_triggers(flow: &Flow) -> Parsed {
    let is_flow_trigger = |t: &&crate::model::Trigger| {
        crate::triggers::find(&t.type_).is_some_and(|d| d.type_name == crate::triggers::flow::TYPE)
    };
    if !flow.triggers.iter().any(|t| is_flow_trigger(&t)) {
        return Parsed::default();
    }
    let key = format!("{}:{}", flow.source.len(), super::scheduler::source_hash(&flow.source));
    if let Some(p) = PARSED.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return p;
    }
    let parsed: Parsed = Arc::new(
        flow.triggers
            .iter()
            .filter(is_flow_trigger)
            .filter_map(|t| spec::parse(t).ok().map(|s| (t.id.clone(), Arc::new(s))))
            .collect(),
    );
    if let Ok(mut m) = PARSED.lock() {
        if m.len() >= MAX_CACHED_SOURCES {
            m.clear();
        }
        m.insert(key, parsed.clone());
    }
    parsed
}

/// The flows that may have Flow triggers, as they are now.
async fn candidate_flows(engine: &Engine) -> Result<Vec<Arc<Flow>>, BackendError> {
    if let Some(l) = engine.latest_flows.as_ref()
        && let Some(all) = l.all().await?
    {
        return Ok(all);
    }
    Ok(engine.flows.all())
}

/// How many times `exec` entered its current state (1 for a first end).
fn transition(exec: &Execution) -> usize {
    exec.state.histories.iter().filter(|h| h.state == exec.state.current).count().max(1)
}

/// The error of an execution a 2.0 Flow trigger created FAILED because
/// its `inputs` did not render.
const INVALID_INPUTS: &str = "Failed to trigger flow ";

/// Whether `exec` was created in its terminal state by a `checks` item
/// (FAIL_EXECUTION) or by a 2.0 Flow trigger whose inputs did not render,
/// and never changed state since. Kestra emits such an execution, but its
/// executor sees no state change (the state it reads is already FAILED),
/// so no Flow trigger is evaluated for it.
fn created_ended(exec: &Execution) -> bool {
    let by_trigger = exec.trigger.as_ref().is_some_and(|t| t.type_ == crate::triggers::flow::TYPE)
        && exec.error.as_deref().is_some_and(|e| e.starts_with(INVALID_INPUTS));
    exec.task_run_list.is_empty()
        && (exec.error.as_deref() == Some(super::launcher::CHECKS_FAILED) || by_trigger)
        && exec.state.histories.len() <= 2
}

/// Evaluates every Flow trigger for `exec`'s current state and launches
/// the downstream executions. Idempotent.
pub async fn on_state_change(engine: &Arc<Engine>, exec: &Execution) -> Result<(), FlowTriggerError> {
    if created_ended(exec) {
        return Ok(());
    }
    let up = upstream(exec);
    let mut ctx: Option<Value> = None;
    for flow in candidate_flows(engine).await? {
        for (trig, spec) in reacting(&flow, &up) {
            if ctx.is_none() {
                ctx = Some(upstream_context(engine, exec).await);
            }
            let ctx = ctx.as_ref().unwrap_or(&Value::Null);
            evaluate(engine, exec, &up, &flow, trig, &spec, ctx).await?;
        }
    }
    Ok(())
}

/// Whether [`on_state_change`] would evaluate a Flow trigger for `exec` as
/// it is now. Reads the execution's head only (state, labels, histories),
/// never its task runs: the executor asks before it loads a large
/// execution only to evaluate its Flow triggers again.
pub async fn any_reacts(engine: &Engine, exec: &Execution) -> Result<bool, BackendError> {
    if created_ended(exec) {
        return Ok(false);
    }
    let up = upstream(exec);
    Ok(candidate_flows(engine).await?.iter().any(|flow| !reacting(flow, &up).is_empty()))
}

fn upstream(exec: &Execution) -> Upstream<'_> {
    Upstream {
        execution_id: &exec.id,
        namespace: &exec.namespace,
        flow_id: &exec.flow_id,
        state: exec.state.current,
        labels: &exec.labels,
        transition: transition(exec),
    }
}

/// The enabled Flow triggers of `flow`, if it is enabled, that react to `up`.
fn reacting<'f>(flow: &'f Flow, up: &Upstream<'_>) -> Vec<(&'f crate::model::Trigger, Arc<FlowTriggerSpec>)> {
    if flow.disabled {
        return Vec::new();
    }
    flow_triggers(flow)
        .iter()
        .filter_map(|(trigger_id, spec)| {
            let trig = flow.triggers.iter().find(|t| &t.id == trigger_id)?;
            (!trig.disabled && decide::reacts(spec, &flow.namespace, &flow.id, up)).then(|| (trig, spec.clone()))
        })
        .collect()
}

/// The template context of the upstream execution, as Kestra's run context
/// of the upstream gives it to a Flow trigger: `execution`, `inputs`,
/// `outputs` (its task runs'), `labels`, `vars`, plus `trigger.outputs` (the
/// upstream's flow outputs).
async fn upstream_context(engine: &Engine, exec: &Execution) -> Value {
    let flow = super::flows::at_revision(engine, &exec.namespace, &exec.flow_id, exec.flow_revision).await.ok();
    let mut ctx = match &flow {
        Some(f) => {
            let by_id = crate::executor::context::runs_by_id(exec);
            crate::executor::context::build(f, exec, None, &|id| by_id.get(id).copied(), true)
        }
        None => json!({"execution": {"id": exec.id}, "labels": exec.labels_map(), "inputs": exec.inputs}),
    };
    ctx["envs"] = Value::Object(engine.envs.clone());
    if let Some(o) = exec.outputs.as_ref().filter(|o| !o.is_empty()) {
        if !ctx["trigger"].is_object() {
            ctx["trigger"] = json!({});
        }
        ctx["trigger"]["outputs"] = Value::Object(o.clone());
    }
    ctx
}

/// The context of a `dependsOn` entry's `when` (Kestra 2.0): the upstream's
/// `namespace`, `flowId`, `state`, `labels`, `outputs` (its flow outputs) and
/// `hasRetryAttempt`, beside the upstream's usual variables.
fn depends_context(ctx: &Value, exec: &Execution) -> Value {
    let mut c = ctx.clone();
    c["namespace"] = json!(exec.namespace);
    c["flowId"] = json!(exec.flow_id);
    c["state"] = json!(exec.state.current.as_str());
    c["labels"] = Value::Object(exec.labels_map());
    c["outputs"] = Value::Object(exec.outputs.clone().unwrap_or_default());
    c["hasRetryAttempt"] = json!(exec.task_run_list.iter().any(|t| t.attempts.len() > 1));
    c
}

async fn evaluate(
    engine: &Arc<Engine>,
    exec: &Execution,
    up: &Upstream<'_>,
    flow: &Arc<Flow>,
    trig: &crate::model::Trigger,
    spec: &FlowTriggerSpec,
    ctx: &Value,
) -> Result<(), FlowTriggerError> {
    let mut render = |t: &str| -> Result<String, String> {
        engine.renderer.render_str(t, ctx, engine.host.as_ref()).map_err(|e| e.to_string())
    };
    let cx = crate::conditions::ConditionContext {
        namespace: &flow.namespace,
        flow_id: &flow.id,
        execution: Some(exec),
        variables: ctx,
        renderer: &engine.renderer,
        host: engine.host.as_ref(),
        now: Utc::now(),
    };
    let skip = |what: &str, e: &dyn std::fmt::Display| {
        tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %trig.id, execution_id = %exec.id, error = %e, "flow trigger {what} not evaluated");
    };
    match crate::conditions::first_false(&spec.conditions, &cx) {
        Ok(None) => {}
        Ok(Some(_)) => return Ok(()),
        Err(e) => {
            skip("conditions", &e);
            return Ok(());
        }
    }
    let mut firings: Vec<(String, Firing)> = Vec::new();
    // the merged outputs of the upstreams counted in the windows that fired
    let mut window_outputs: Option<Value> = None;
    let mut merge = |o: Map<String, Value>| {
        let slot = window_outputs.get_or_insert_with(|| Value::Object(Map::new()));
        decide::deep_merge(slot, &Value::Object(o));
    };
    for m in &spec.multiple {
        let mut results = Vec::new();
        for (key, c) in &m.conditions {
            match c.test(&cx) {
                Ok(ok) => results.push((key.clone(), ok)),
                Err(e) => {
                    skip("MultipleCondition", &e);
                    return Ok(());
                }
            }
        }
        let Some((f, o)) = apply_window(
            engine,
            flow,
            &m.id,
            &m.time_window,
            WindowRule::all(m.reset_on_success),
            &results,
            None,
            up,
            exec,
        )
        .await?
        else {
            return Ok(());
        };
        merge(o);
        firings.push((m.id.clone(), f));
    }
    if let Some(pre) = &spec.preconditions {
        let results = match decide::precondition_results(pre, up, &mut render) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %trig.id, execution_id = %exec.id, error = %e, "flow trigger preconditions not evaluated");
                return Ok(());
            }
        };
        let Some((f, o)) = apply_window(
            engine,
            flow,
            &pre.id,
            &pre.time_window,
            WindowRule::all(pre.reset_on_success),
            &results,
            None,
            up,
            exec,
        )
        .await?
        else {
            return Ok(());
        };
        merge(o);
        firings.push((pre.id.clone(), f));
    }
    // 2.0's `dependsOn`: its window keeps each upstream's outputs under its
    // flow id (`trigger.outputs.<flowId>.<key>`)
    let mut scoped_outputs = None;
    if let Some(d) = &spec.depends_on {
        let when_ctx = depends_context(ctx, exec);
        let mut render_when = |t: &str| -> Result<String, String> {
            engine.renderer.render_str(t, &when_ctx, engine.host.as_ref()).map_err(|e| e.to_string())
        };
        let results = match depends::results(d, up, &mut render_when) {
            Ok(r) => r,
            Err(e) => {
                skip("dependsOn", &e);
                return Ok(());
            }
        };
        if results.iter().all(|(_, ok)| !ok) {
            return Ok(());
        }
        let id = format!("dependsOn:{}", trig.id);
        let own = Map::from_iter([(exec.flow_id.clone(), Value::Object(exec.outputs.clone().unwrap_or_default()))]);
        let Some((f, mut o)) =
            apply_window(engine, flow, &id, &d.window, d.rule(), &results, Some(&own), up, exec).await?
        else {
            return Ok(());
        };
        if d.single_entry() {
            let mut flat = Value::Object(exec.outputs.clone().unwrap_or_default());
            decide::deep_merge(&mut flat, &Value::Object(o));
            o = match flat {
                Value::Object(m) => m,
                _ => Map::new(),
            };
        }
        scoped_outputs = Some(o);
        firings.push((id, f));
    }
    let seed = decide::execution_seed(&flow.namespace, &flow.id, &trig.id, up, &firings);
    // Kestra's `Flow.evaluate`: this upstream's outputs deep-merged with the
    // window's (every upstream it counted), so `trigger.outputs` has them all
    let outputs = match (scoped_outputs, window_outputs) {
        (Some(o), _) => o,
        (None, Some(w)) => {
            let mut o = Value::Object(exec.outputs.clone().unwrap_or_default());
            decide::deep_merge(&mut o, &w);
            match o {
                Value::Object(m) => m,
                _ => Map::new(),
            }
        }
        (None, None) => exec.outputs.clone().unwrap_or_default(),
    };
    let mut ctx = ctx.clone();
    if !outputs.is_empty() {
        if !ctx["trigger"].is_object() {
            ctx["trigger"] = json!({});
        }
        ctx["trigger"]["outputs"] = Value::Object(outputs.clone());
    }
    if super::stop_after::is_stopped(engine, flow, trig).await? {
        return Ok(());
    }
    let id = ids::derived_id(&seed);
    launch(engine, exec, flow, trig, spec, &ctx, outputs, id.clone()).await?;
    super::stop_after::record(engine, flow, trig, &id).await?;
    Ok(())
}

/// Applies `results` to the stored window of precondition `condition_id`
/// of `flow` with compare-and-swap; the firing and the window's merged
/// upstream outputs if the window fires (or fired for this same transition
/// before).
#[allow(clippy::too_many_arguments)]
pub async fn apply_window(
    engine: &Engine,
    flow: &Flow,
    condition_id: &str,
    window: &TimeWindow,
    rule: WindowRule,
    results: &[(String, bool)],
    upstream_outputs: Option<&Map<String, Value>>,
    up: &Upstream<'_>,
    exec: &Execution,
) -> Result<Option<(Firing, Map<String, Value>)>, FlowTriggerError> {
    if rule.reset_on_success && results.iter().all(|(_, ok)| !ok) {
        // nothing met, and a window that resets on success is never
        // complete without a new match: nothing to read or store
        return Ok(None);
    }
    let key = format!("{}|{}|{}", flow.namespace, flow.id, condition_id);
    let upstream_key = up.key();
    for _ in 0..MAX_CAS_ATTEMPTS {
        let (version, stored) = match engine.state.load_record(KIND, &key).await? {
            None => (0, None),
            Some((v, body)) => (v, serde_json::from_value::<WindowRecord>(body).ok()),
        };
        let adv = decide::advance(
            window,
            rule,
            results,
            stored,
            &upstream_key,
            upstream_outputs.or(exec.outputs.as_ref()),
            Utc::now(),
        );
        if adv.outputs_dropped {
            tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, condition = %condition_id, upstream_execution_id = %exec.id,
                "the upstream's outputs are left out of the preconditions window: it would exceed {} bytes (MAX_WINDOW_OUTPUTS_BYTES)",
                decide::MAX_WINDOW_OUTPUTS_BYTES);
        }
        let fired = adv.fire.map(|f| (f, adv.outputs.clone()));
        let Some(rec) = adv.save else { return Ok(fired) };
        let body = serde_json::to_value(&rec).map_err(|e| BackendError::Invalid(e.to_string()))?;
        match engine.state.save_record(KIND, &key, version, &body).await {
            Ok(_) => return Ok(fired),
            Err(BackendError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(FlowTriggerError::Contention {
        namespace: flow.namespace.clone(),
        flow_id: flow.id.clone(),
        condition: condition_id.to_string(),
    })
}

/// Kestra's `trigger` variables of a downstream execution (`Flow.Output`);
/// `outputs`: the upstream's, merged with its window's.
fn trigger_variables(exec: &Execution, outputs: Map<String, Value>) -> Map<String, Value> {
    let labels: Map<String, Value> = exec
        .labels
        .iter()
        .filter(|l| l.key != "system.correlationId")
        .map(|l| (l.key.clone(), Value::String(l.value.clone())))
        .collect();
    let date = |d: Option<chrono::DateTime<Utc>>| {
        d.map(|d| Value::String(d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))).unwrap_or(Value::Null)
    };
    let first_failed = exec.task_run_list.iter().find(|t| t.state.current.is_failed()).map(|t| t.task_id.clone());
    Map::from_iter([
        ("executionId".to_string(), json!(exec.id)),
        ("namespace".to_string(), json!(exec.namespace)),
        ("flowId".to_string(), json!(exec.flow_id)),
        ("flowRevision".to_string(), json!(exec.flow_revision)),
        ("state".to_string(), json!(exec.state.current.as_str())),
        ("executionLabels".to_string(), Value::Object(labels)),
        ("startDate".to_string(), date(exec.state.start_date())),
        ("endDate".to_string(), date(exec.state.end_date())),
        ("firstFailedTaskId".to_string(), json!(first_failed)),
        ("lastTaskId".to_string(), json!(exec.task_run_list.last().map(|t| t.task_id.clone()))),
        ("outputs".to_string(), Value::Object(outputs)),
    ])
}

#[allow(clippy::too_many_arguments)]
async fn launch(
    engine: &Arc<Engine>,
    exec: &Execution,
    flow: &Arc<Flow>,
    trig: &crate::model::Trigger,
    spec: &FlowTriggerSpec,
    ctx: &Value,
    outputs: Map<String, Value>,
    id: String,
) -> Result<(), FlowTriggerError> {
    let warn = |what: &str, e: &dyn std::fmt::Display| {
        tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %trig.id, upstream_execution_id = %exec.id, error = %e, "Failed to trigger flow: {what}");
    };
    let mut ctx = ctx.clone();
    ctx["flow"] = json!({"id": flow.id, "namespace": flow.namespace, "revision": flow.revision});
    // Kestra 2.0 creates a FAILED execution when the inputs do not render
    // (1.x drops the event: `Flow.evaluate`)
    let mut failed = None;
    let inputs = match &spec.inputs {
        None => Map::new(),
        Some(i) => match engine.renderer.render_value(&Value::Object(i.clone()), &ctx, engine.host.as_ref()) {
            Ok(Value::Object(m)) => m,
            Ok(_) => Map::new(),
            Err(e) if flow.dialect.resolve(crate::dialect::Policy::AUTO).dialect == crate::dialect::Dialect::V2 => {
                warn("invalid inputs, the execution is created FAILED", &e);
                failed = Some(format!(
                    "{INVALID_INPUTS}{}.{} for trigger {}, invalid inputs: {e}",
                    flow.namespace, flow.id, trig.id
                ));
                Map::new()
            }
            Err(e) => {
                warn("invalid inputs", &e);
                return Ok(());
            }
        },
    };
    let labels: Vec<Label> = exec.labels.iter().filter(|l| l.key == "system.correlationId").cloned().collect();
    let req = LaunchRequest {
        inputs,
        labels,
        trigger: Some(TriggerContext {
            id: trig.id.clone(),
            type_: crate::triggers::flow::TYPE.to_string(),
            variables: trigger_variables(exec, outputs),
        }),
        execution_id: Some(id),
        failed,
        ..LaunchRequest::default()
    };
    match launcher::launch(engine, flow, req).await {
        Ok(e) => {
            tracing::info!(execution_id = %e.id, namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %trig.id, upstream_execution_id = %exec.id, "flow trigger fired");
            Ok(())
        }
        Err(LaunchError::Exists(_)) => Ok(()),
        Err(LaunchError::Backend(e)) => Err(e.into()),
        Err(e) => {
            warn("cannot start the execution", &e);
            Ok(())
        }
    }
}
