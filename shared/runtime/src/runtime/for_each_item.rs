//! A ForEachItem's batches at run time, for both runtimes: starting one
//! subflow execution per batch, and counting their ends.
//!
//! Starting: the executor's `Action::StartBatches` becomes one
//! `StartBatches` message for the whole range; a range of more than one
//! batch is cut into at most [`FANOUT`] sub-ranges, each its own message,
//! down to one batch a message — so on Google Cloud every launch is its
//! own delivery (retried alone), and no delivery does more than
//! [`FANOUT`] publishes. A launch has a derived id (parent execution,
//! task run, iteration): a duplicate message creates nothing.
//!
//! Counting: a batch's subflow announces its end with its iteration
//! (`SubflowEnded.iteration`). Its Ion outputs are written where the
//! `_merge` task reads them, then the end is recorded in a shard record
//! of [`SHARD`] batches (`StateStore` CAS records, kind [`KIND`]): a bit
//! per batch and counts per state, so a duplicate end counts once. When a
//! shard fills, the shards are read; when all are full, `BatchesEnded`
//! with the summed counts goes to the parent execution (a duplicate of it
//! is a no-op there). The parent's document holds counters only.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::engine::Engine;
use super::executor::{ExecutorError, MAX_SUBFLOW_DEPTH, subflow_depth};
use super::launcher::{self, LaunchRequest, publish_event};
use super::messages::ExecutionEvent;
use crate::backend::BackendError;
use crate::executor::StepEnv;
use crate::model::for_each_item as fei;
use crate::model::{Execution, Label, StateType, TaskRun, TriggerContext, ids};

/// Most sub-ranges one `StartBatches` message is cut into.
pub const FANOUT: u64 = 100;
/// Batches per counting record.
pub const SHARD: u64 = 256;
/// The kind of the counting records.
pub const KIND: &str = "batches";
/// Attempts at one compare-and-swap of a counting record.
const CAS_TRIES: usize = 64;

/// The iteration of a batch's subflow execution, from its trigger.
pub fn iteration_of(exec: &Execution) -> Option<u64> {
    let t = exec.trigger.as_ref().filter(|t| t.type_ == fei::ITEMS_TYPE)?;
    t.variables.get("taskRunIteration").and_then(Value::as_u64)
}

/// The `_items` task run `task_run_id` of `exec`, with its evaluated
/// settings, if it still waits for batches.
fn items_run<'e>(exec: &'e Execution, task_run_id: &str) -> Option<(&'e TaskRun, &'e Map<String, Value>)> {
    let tr = exec.task_run(task_run_id)?;
    let ev = tr.evaluated.as_ref()?.as_object()?;
    ev.get("batchUri")?;
    Some((tr, ev))
}

/// Handles `StartBatches { from, to }`: cuts the range, or launches its one batch.
pub async fn start(
    engine: &Arc<Engine>,
    execution_id: &str,
    task_run_id: &str,
    from: u64,
    to: u64,
) -> Result<(), ExecutorError> {
    if to <= from {
        return Ok(());
    }
    let Some(parent) = engine.state.load_execution(execution_id).await? else { return Ok(()) };
    let Some((tr, ev)) = items_run(&parent, task_run_id) else { return Ok(()) };
    let wait = ev.get("wait").and_then(Value::as_bool).unwrap_or(true);
    // a parent that ended (killed, failed elsewhere) while waiting starts no more
    if (parent.state.is_terminal() || tr.state.is_terminal()) && wait {
        return Ok(());
    }
    let s = |k: &str| ev.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let (namespace, flow_id) = (s("namespace"), s("flowId"));
    let total = ev.get("numberOfBatches").and_then(Value::as_u64).unwrap_or(0);
    if from == 0 && to == total {
        // the whole range: checked once, before any launch
        let why = match cannot_start(engine, &parent, &namespace, &flow_id).await? {
            Some(why) => Some(why),
            // all the batches count against the root's descendant bound
            None => {
                let (_, root) = subflow_depth(engine, &parent).await?;
                let what = format!("ForEachItem {namespace}.{flow_id} ({total} batches)");
                super::fanout::reserve(engine, &root, task_run_id, total, &what).await?.err()
            }
        };
        if let Some(why) = why {
            let event = ExecutionEvent::BatchesEnded {
                execution_id: execution_id.to_string(),
                task_run_id: task_run_id.to_string(),
                iterations: Map::new(),
                error: Some(why),
            };
            return Ok(publish_event(engine, &event).await?);
        }
    }
    if to - from > 1 {
        let step = (to - from).div_ceil(FANOUT);
        let mut lo = from;
        while lo < to {
            let hi = (lo + step).min(to);
            let event = ExecutionEvent::StartBatches {
                execution_id: execution_id.to_string(),
                task_run_id: task_run_id.to_string(),
                from: lo,
                to: hi,
            };
            publish_event(engine, &event).await?;
            lo = hi;
        }
        return Ok(());
    }
    launch_batch(engine, &parent, tr, ev, from).await
}

/// Why no batch can start (the subflow is missing, or nests too deep).
async fn cannot_start(
    engine: &Arc<Engine>,
    parent: &Execution,
    namespace: &str,
    flow_id: &str,
) -> Result<Option<String>, ExecutorError> {
    let (depth, _root) = subflow_depth(engine, parent).await?;
    if depth >= MAX_SUBFLOW_DEPTH {
        return Ok(Some(format!(
            "ForEachItem subflow {namespace}.{flow_id} not started: executions nest {depth} subflows deep already \
             (at most {MAX_SUBFLOW_DEPTH}; does a flow call itself?)"
        )));
    }
    if engine.latest_flow(namespace, flow_id).await.is_none() {
        return Ok(Some(format!("Subflow {namespace}.{flow_id} not found (load it with --flows DIR)")));
    }
    Ok(None)
}

async fn launch_batch(
    engine: &Arc<Engine>,
    parent: &Execution,
    tr: &TaskRun,
    ev: &Map<String, Value>,
    iteration: u64,
) -> Result<(), ExecutorError> {
    let s = |k: &str| ev.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let (namespace, flow_id) = (s("namespace"), s("flowId"));
    let child_id = ids::derived_id(&format!("{}/{}/batch/{iteration}", parent.id, tr.id));
    let failed = |why: String| ExecutionEvent::SubflowEnded {
        execution_id: parent.id.clone(),
        task_run_id: tr.id.clone(),
        child_execution_id: child_id.clone(),
        state: StateType::Failed,
        outputs: Map::from_iter([("error".to_string(), Value::String(why))]),
        iteration: Some(iteration),
    };
    let parent_flow = super::flows::at_revision(engine, &parent.namespace, &parent.flow_id, parent.flow_revision)
        .await
        .map_err(|e| match e {
            super::flows::RevisionError::Backend(b) => ExecutorError::Backend(b),
            other => ExecutorError::FlowMissing(other.to_string(), parent.id.clone()),
        })?;
    let child_flow = match ev.get("revision").and_then(Value::as_u64) {
        Some(r) => super::flows::at_revision(engine, &namespace, &flow_id, r as u32).await.ok(),
        None => engine.latest_flow(&namespace, &flow_id).await,
    };
    let Some(child_flow) = child_flow else {
        let why = format!("Subflow {namespace}.{flow_id} not found (load it with --flows DIR)");
        return Ok(publish_event(engine, &failed(why)).await?);
    };
    let Some(task) = parent_flow.find_task(&tr.task_id) else { return Ok(()) };
    // the subflow's inputs and labels, rendered with `taskrun.items` and `taskrun.iteration`
    let env = engine.step_env();
    let by_id = crate::executor::context::runs_by_id(parent);
    let runs = |id: &str| by_id.get(id).copied();
    let mut ctx = crate::executor::context::build(&parent_flow, parent, Some(tr), &runs, true);
    let items = fei::batch_uri(&s("batchUri"), iteration);
    if let Some(t) = ctx.get_mut("taskrun").and_then(Value::as_object_mut) {
        t.insert("items".into(), json!(items));
        t.insert("iteration".into(), json!(iteration));
    }
    ctx["envs"] = env.envs();
    let render = |k: &str| match task.props.get(k) {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(v) => env.render_value(v, &ctx).map_err(|e| format!("property '{k}' of task '{}': {e}", task.id)),
    };
    let (inputs, labels) = match (render("inputs"), render("labels")) {
        (Ok(i), Ok(l)) => (i, l),
        (Err(e), _) | (_, Err(e)) => return Ok(publish_event(engine, &failed(e)).await?),
    };
    let mut all_labels: Vec<Label> = Vec::new();
    if ev.get("inheritLabels").and_then(Value::as_bool).unwrap_or(false) {
        // the parent's labels, but those the subflow's flow sets itself
        all_labels.extend(parent.labels.iter().filter(|l| !child_flow.labels.iter().any(|f| f.key == l.key)).cloned());
    } else if let Some(c) = parent.labels.iter().find(|l| l.key == "system.correlationId") {
        all_labels.push(c.clone());
    }
    match labels {
        Value::Object(m) => all_labels.extend(m.iter().map(|(k, v)| Label { key: k.clone(), value: scalar(v) })),
        Value::Array(a) => all_labels.extend(serde_json::from_value::<Vec<Label>>(Value::Array(a)).unwrap_or_default()),
        _ => {}
    }
    let trigger = TriggerContext {
        id: task.id.clone(),
        type_: fei::ITEMS_TYPE.to_string(),
        variables: Map::from_iter([
            ("executionId".to_string(), json!(parent.id)),
            ("namespace".to_string(), json!(parent.namespace)),
            ("flowId".to_string(), json!(parent.flow_id)),
            ("flowRevision".to_string(), json!(parent.flow_revision)),
            ("taskRunId".to_string(), json!(tr.id)),
            ("taskId".to_string(), json!(tr.task_id)),
            ("taskRunIteration".to_string(), json!(iteration)),
        ]),
    };
    let req = LaunchRequest {
        inputs: inputs.as_object().cloned().unwrap_or_default(),
        labels: all_labels,
        trigger: Some(trigger),
        parent: Some((parent.id.clone(), tr.id.clone())),
        secrets: crate::model::flow::secret_values_of(&parent.secret_inputs, &parent.inputs),
        execution_id: Some(child_id.clone()),
        ..LaunchRequest::default()
    };
    match launcher::launch(engine, &child_flow, req).await {
        // created FAILED by its checks: it never runs, so its end is told here
        Ok(child) if child.state.is_terminal() => {
            let why =
                child.error.unwrap_or_else(|| format!("subflow execution {child_id} ended {}", child.state.current));
            Ok(publish_event(engine, &failed(why)).await?)
        }
        Ok(_) | Err(launcher::LaunchError::Exists(_)) => Ok(()),
        Err(launcher::LaunchError::Backend(e)) => Err(e.into()),
        Err(e) => {
            let why = format!("cannot start subflow {namespace}.{flow_id} for batch {iteration}: {e}");
            Ok(publish_event(engine, &failed(why)).await?)
        }
    }
}

fn scalar(v: &Value) -> String {
    crate::model::flow::scalar_string(v)
}

/// Records the end of batch `iteration`; the `BatchesEnded` event for
/// the parent when every batch has ended (on this delivery or an earlier
/// one: a redelivery after a crash still completes).
#[allow(clippy::too_many_arguments)]
pub async fn ended(
    engine: &Arc<Engine>,
    execution_id: &str,
    task_run_id: &str,
    iteration: u64,
    state: StateType,
    outputs: &Map<String, Value>,
) -> Result<Option<ExecutionEvent>, ExecutorError> {
    let Some(parent) = engine.state.load_execution(execution_id).await? else { return Ok(None) };
    let Some((tr, ev)) = items_run(&parent, task_run_id) else { return Ok(None) };
    if tr.state.is_terminal() {
        return Ok(None);
    }
    let total = ev.get("numberOfBatches").and_then(Value::as_u64).unwrap_or(0);
    if iteration >= total {
        return Ok(None);
    }
    if !outputs.is_empty() && !state.is_failed() {
        // one Ion line, where `_merge` reads it (the same bytes on a redelivery)
        let prefix = crate::plugins::context::execution_prefix(&parent.namespace, &parent.flow_id, &parent.id);
        let path = fei::outputs_path(&prefix, &tr.task_id, &tr.id, iteration);
        let mut line = serde_json::to_vec(outputs).map_err(|e| BackendError::Invalid(e.to_string()))?;
        line.push(b'\n');
        engine.storage.put(&path, Box::pin(std::io::Cursor::new(line))).await?;
    }
    let shard = iteration / SHARD;
    let key = |s: u64| format!("{execution_id}.{task_run_id}.{s}");
    let size = |s: u64| (total - s * SHARD).min(SHARD);
    let record = mark(engine, &key(shard), iteration % SHARD, state).await?;
    if ended_count(&record) < size(shard) {
        return Ok(None);
    }
    // this shard is full: are they all?
    let mut counts: Map<String, Value> = Map::new();
    for s in 0..total.div_ceil(SHARD) {
        let r = if s == shard {
            record.clone()
        } else {
            match engine.state.load_record(KIND, &key(s)).await? {
                Some((_, r)) => r,
                None => return Ok(None),
            }
        };
        if ended_count(&r) < size(s) {
            return Ok(None);
        }
        for (k, v) in r.get("counts").and_then(Value::as_object).into_iter().flatten() {
            let n = counts.get(k).and_then(Value::as_u64).unwrap_or(0) + v.as_u64().unwrap_or(0);
            counts.insert(k.clone(), json!(n));
        }
    }
    Ok(Some(ExecutionEvent::BatchesEnded {
        execution_id: execution_id.to_string(),
        task_run_id: task_run_id.to_string(),
        iterations: counts,
        error: None,
    }))
}

fn ended_count(record: &Value) -> u64 {
    record.get("ended").and_then(Value::as_u64).unwrap_or(0)
}

/// Sets the bit of `slot` in a shard record and counts `state` once
/// (compare-and-swap); the record as it now is.
async fn mark(engine: &Engine, key: &str, slot: u64, state: StateType) -> Result<Value, ExecutorError> {
    for _ in 0..CAS_TRIES {
        let (version, mut record) = match engine.state.load_record(KIND, key).await? {
            Some((v, r)) => (v, r),
            None => (0, json!({"bits": "", "ended": 0, "counts": {}})),
        };
        let mut bits = hex_decode(record.get("bits").and_then(Value::as_str).unwrap_or_default());
        let (byte, bit) = ((slot / 8) as usize, 1u8 << (slot % 8));
        if bits.len() <= byte {
            bits.resize(byte + 1, 0);
        }
        if bits[byte] & bit != 0 {
            return Ok(record);
        }
        bits[byte] |= bit;
        record["bits"] = json!(hex_encode(&bits));
        record["ended"] = json!(ended_count(&record) + 1);
        let name = state.as_str();
        let n = record["counts"].get(name).and_then(Value::as_u64).unwrap_or(0) + 1;
        record["counts"][name] = json!(n);
        match engine.state.save_record(KIND, key, version, &record).await {
            Ok(_) => return Ok(record),
            Err(BackendError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ExecutorError::Contention(format!("ForEachItem counter {key}")))
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len() / 2).filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let b = vec![0u8, 0x81, 0xff];
        assert_eq!(hex_decode(&hex_encode(&b)), b);
    }
}
