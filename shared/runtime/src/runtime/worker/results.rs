//! What a worker writes once a task ran: its result (kept for a late
//! duplicate, failed, ended), its variables change masked, its metrics
//! saved, and the messages of a panic or a lost attempt.

use super::*;

/// A variables change with the secrets it holds masked, like outputs.
pub(super) fn mask_change(cx: &RunContext, change: VariablesChange) -> VariablesChange {
    match change {
        VariablesChange::Set { variables } => match cx.mask_value(Value::Object(variables)) {
            Value::Object(variables) => VariablesChange::Set { variables },
            _ => VariablesChange::Set { variables: Map::new() },
        },
        unset => unset,
    }
}

/// Stores what attempt `cx` recorded (its metrics); a store failure is
/// logged on the task, it does not change the attempt's result.
pub(super) async fn save_metrics(engine: &Engine, cx: &RunContext) {
    let entries = cx.metric_entries();
    if entries.is_empty() {
        return;
    }
    if let Err(e) = engine.state.metrics().save_metrics(&cx.task_run_id, cx.attempt, &entries).await {
        cx.warn(&format!("cannot store the task's {} metrics: {e}", entries.len()));
    }
}

/// A FAILED attempt with this error.
/// The most bytes of a result kept with its claim (Firestore holds 1 MiB a
/// document): a larger one is published but not kept, and if its message
/// is lost the sweep cannot send it again.
pub const MAX_KEPT_RESULT: usize = 512 * 1024;

/// `result` as JSON to keep with its claim; `None` past [`MAX_KEPT_RESULT`].
pub fn kept_result(task_run_id: &str, attempt: u32, result: &TaskResult) -> Option<String> {
    let json = serde_json::to_string(result).ok()?;
    if json.len() > MAX_KEPT_RESULT {
        tracing::warn!(
            task_run_id,
            attempt,
            bytes = json.len(),
            bound = MAX_KEPT_RESULT,
            "the result is larger than MAX_KEPT_RESULT: published, not kept with its claim"
        );
        return None;
    }
    Some(json)
}

/// Closes a claim, keeping the result published for it when there is one.
pub async fn finish_keeping(
    engine: &Engine,
    task_run_id: &str,
    attempt: u32,
    kept: Option<String>,
) -> Result<(), BackendError> {
    match kept {
        Some(json) => engine.state.finish_claim_with(task_run_id, attempt, &json).await,
        None => engine.state.finish_claim(task_run_id, attempt).await,
    }
}

pub(super) fn failed_result(error: String, start: DateTime<Utc>, end: DateTime<Utc>) -> TaskResult {
    ended_result(StateType::Failed, Map::new(), Some(error), start, end)
}

/// An attempt's result that set no labels, variables, metrics or log file
/// (a failure before the task ran, a cache hit, a mocked task).
pub(in crate::runtime) fn ended_result(
    state: StateType,
    outputs: Map<String, Value>,
    error: Option<String>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> TaskResult {
    TaskResult {
        state,
        outputs,
        error,
        labels: vec![],
        variables: None,
        start,
        end,
        log_file: None,
        metrics: Vec::new(),
        claim_left_open: false,
    }
}

/// The text of a panic's payload (`panic!("…")` carries a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Why a lost attempt failed, for humans.
pub fn lost_message(task_id: &str, attempt: u32, worker_id: &str, lease_until: DateTime<Utc>) -> String {
    format!(
        "task '{task_id}' attempt {attempt} was lost: worker {worker_id} stopped renewing its lease \
         (expired at {}), presumably it died",
        lease_until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    )
}
