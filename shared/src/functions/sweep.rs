//! The sweep, run by the `scheduler` function on a Cloud Scheduler tick
//! (`{"type":"sweep"}`, every minute): what no message will ever trigger.
//!
//! - **Lost attempts.** A worker instance that dies mid-task stops renewing
//!   its lease, but its job's redelivery may have found the lease still live
//!   and been acked. For every RUNNING attempt of a RUNNING execution the
//!   sweep tries the claim: a live lease answers "held elsewhere" and nothing
//!   changes; an expired (or missing) one is taken over, and the attempt is
//!   reported FAILED with the reason, so the task's retry policy decides.
//! - **Jobs that never started.** An attempt dispatched more than a lease
//!   ago and still CREATED lost its job (an executor died between saving
//!   the execution and publishing it, past the redelivery that re-sends it)
//!   or its worker (claimed, then died before reporting the start, its
//!   duplicates acked while the claim was live). Its execution's `Wake`
//!   asks for the job again: a live claim makes the copy a no-op, a dead
//!   one's expired lease reports the attempt lost, no claim runs it.
//! - **Results that never arrived.** A worker fed over Pub/Sub publishes
//!   its attempt's result, then closes its claim keeping the result with
//!   it. An attempt whose claim is closed but which its execution still
//!   shows unfinished (CREATED a lease after its dispatch, or RUNNING) lost
//!   that message, or is about to receive it: the kept result is published
//!   again (the executor applies a result once; a copy changes nothing).
//!   Without one (a script task handed to a Cloud Run Job, whose result
//!   the poll below reports), the attempt is left as it is.
//! - **Cloud Run Jobs.** Script tasks started as Cloud Run Job executions
//!   are checked once each (`cloud_run_jobs`): an ended one's result is
//!   reported, one whose task ended (killed) or timed out is cancelled.
//! - **Executions waiting for nothing.** A CREATED execution whose
//!   `Created` event was lost (its launcher died between saving and
//!   publishing) or a QUEUED one whose wake-up was lost with an executor
//!   gets a `Wake`: admitted if it may run, unchanged if not.
//! - **Due timers.** Retry delays are timers in the executor instance that
//!   armed them, and Cloud Run may stop that instance: every RUNNING
//!   execution gets a `Wake`, and the executor re-dispatches what is due
//!   (a Wake with nothing due changes nothing).
//! - **Subflows whose end was lost.** A Subflow task run that waits
//!   (`wait: true`) hears of its child's end from the executor that ended
//!   the child; an instance that died between saving the child's end and
//!   publishing it (its redelivered event then finds the child ended and
//!   decides nothing) leaves the parent waiting for ever. For every
//!   unfinished Subflow task run of a RUNNING execution the sweep reads its
//!   child: one that is over (terminal, its `afterExecution` done) has its
//!   `SubflowEnded` published again, made as the executor makes it
//!   (`subflow_outputs::ended_event`: the same state and outputs); the
//!   parent applies it once, a copy changes nothing. A ForEachItem's
//!   batches are counted apart and are not swept here.
//! - **Subflows whose start was lost.** The executor publishes a child's
//!   `StartSubflow` after saving the parent; an instance that died between
//!   the two leaves the parent waiting on a child never stored. A Subflow
//!   task run that has waited longer than a lease (`BATON_LEASE_SECONDS`)
//!   on a child not stored gets its `StartSubflow` again: the child's id is
//!   derived from the parent's task run and created only if absent, so a
//!   start still on its way and this copy make one child. A Subflow with
//!   `wait: false` needs no sweep: its child is created before the save
//!   that ends its task run (`runtime::subflow_start`).
//! - **Paused executions.** A PAUSED execution holds no instance while it
//!   waits: its Pause's due time is stored in the task run
//!   (`executor::next_timer`), and the first sweep after it sends a `Wake`
//!   that resumes it per its `behavior`. One paused without a duration
//!   waits for a resume (API, UI, `execution.Resume`) and costs nothing.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::Map;

use crate::backend::{BackendError, Claim, ExecutionFilter};
use crate::model::{Execution, StateType, TaskRun};
use crate::runtime::engine::Engine;
use crate::runtime::launcher::publish_event;
use crate::runtime::messages::{ExecutionEvent, TaskResult};
use crate::runtime::worker::{finish_keeping, kept_result, lost_message};
use crate::runtime::{subflow_outputs, subflow_start};

/// What a sweep found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// RUNNING executions looked at (each was sent a `Wake`).
    pub executions: usize,
    /// Attempts found lost and reported failed: `(task run id, attempt)`.
    pub lost: Vec<(String, u32)>,
    /// Attempts dispatched over a lease ago and never started, whose jobs
    /// were asked for again: `(task run id, attempt)`.
    pub resent: Vec<(String, u32)>,
    /// Attempts whose claim was closed with a result their execution never
    /// applied, and whose kept result was published again: `(task run id, attempt)`.
    pub republished: Vec<(String, u32)>,
    /// CREATED and QUEUED executions woken (an announcement or a slot's
    /// wake-up lost with a killed instance is made good).
    pub waiting: usize,
    /// PAUSED executions whose Pause timer was due, woken.
    pub paused: usize,
    /// Subflow task runs still waiting on a child that is over, whose
    /// `SubflowEnded` was published again: `(task run id, child execution id)`.
    pub subflows: Vec<(String, String)>,
    /// Subflow task runs that waited past a lease on a child never stored,
    /// whose `StartSubflow` was published again: `(task run id, child execution id)`.
    pub subflow_starts: Vec<(String, String)>,
    /// Script tasks running as Cloud Run Job executions (see `cloud_run_jobs`).
    pub cloud_run: super::cloud_run_jobs::CloudRunReport,
}

/// Sweeps lost attempts and due timers; `sweeper` names the claims it takes.
pub async fn sweep(engine: &Arc<Engine>, sweeper: &str, lease: Duration) -> Result<SweepReport, BackendError> {
    let mut report = SweepReport::default();
    let filter = ExecutionFilter { state: Some(StateType::Running), ..ExecutionFilter::default() };
    for summary in engine.state.list_executions(&filter).await? {
        let Some(exec) = engine.state.load_execution(&summary.id).await? else { continue };
        if exec.state.current != StateType::Running {
            continue;
        }
        report.executions += 1;
        let mut redispatch = false;
        for tr in &exec.task_run_list {
            match waiting_child(engine, &exec, tr, lease).await? {
                Some(Child::Ended(child)) => {
                    report.subflows.push((tr.id.clone(), child));
                    continue;
                }
                Some(Child::Started(child)) => {
                    report.subflow_starts.push((tr.id.clone(), child));
                    continue;
                }
                None => {}
            }
            let Some(last) = tr.attempts.last() else { continue };
            let attempt = tr.attempts.len() as u32;
            let now = Utc::now();
            if !tr.state.is_terminal() && last.state.current == StateType::Created {
                let since = last.state.last_date();
                if since.is_some_and(|at| now - at > lease) {
                    if republish(engine, &exec.id, &tr.id, attempt, StateType::Created).await? {
                        report.republished.push((tr.id.clone(), attempt));
                        continue;
                    }
                    tracing::warn!(execution_id = %exec.id, task_run_id = %tr.id, attempt, "attempt never started: its job is sent again");
                    report.resent.push((tr.id.clone(), attempt));
                    redispatch = true;
                }
                continue;
            }
            if tr.state.current != StateType::Running || last.state.current != StateType::Running {
                continue;
            }
            let (holder, until) = match engine.state.claim(&tr.id, attempt, sweeper, now + lease).await? {
                Claim::HeldElsewhere { .. } => continue,
                Claim::Done => {
                    if republish(engine, &exec.id, &tr.id, attempt, StateType::Running).await? {
                        report.republished.push((tr.id.clone(), attempt));
                    }
                    continue;
                }
                Claim::TakenOver { worker_id, until } => (worker_id, until),
                // started (the task run says so) but nobody holds the attempt
                Claim::Acquired => (last.worker_id.clone().unwrap_or_else(|| "unknown".into()), now),
            };
            let message = lost_message(&tr.task_id, attempt, &holder, until);
            tracing::warn!(execution_id = %exec.id, task_run_id = %tr.id, attempt, "{message}");
            engine
                .state
                .append_logs(&[crate::backend::LogEntry {
                    namespace: exec.namespace.clone(),
                    flow_id: exec.flow_id.clone(),
                    execution_id: exec.id.clone(),
                    task_id: Some(tr.task_id.clone()),
                    task_run_id: Some(tr.id.clone()),
                    attempt_number: Some(attempt),
                    timestamp: now,
                    level: "ERROR".into(),
                    message: message.clone(),
                }])
                .await?;
            let result = TaskResult {
                state: StateType::Failed,
                outputs: Map::new(),
                error: Some(message),
                labels: vec![],
                variables: None,
                start: last.state.start_date().unwrap_or(now),
                end: now,
                log_file: None,
                metrics: Vec::new(),
                claim_left_open: false,
            };
            let kept = kept_result(&tr.id, attempt, &result);
            let event = ExecutionEvent::TaskResult {
                execution_id: exec.id.clone(),
                task_run_id: tr.id.clone(),
                attempt,
                result,
            };
            publish_event(engine, &event).await?;
            finish_keeping(engine, &tr.id, attempt, kept).await?;
            report.lost.push((tr.id.clone(), attempt));
        }
        publish_event(engine, &ExecutionEvent::Wake { execution_id: exec.id.clone(), redispatch }).await?;
    }
    // an execution saved CREATED whose announcement died with its launcher,
    // or QUEUED whose slot's wake-up died with an executor, waits forever
    // unless woken: a Wake admits it if it may run, and changes nothing if not
    for state in [StateType::Created, StateType::Queued] {
        let filter = ExecutionFilter { state: Some(state), ..ExecutionFilter::default() };
        for summary in engine.state.list_executions(&filter).await? {
            publish_event(engine, &ExecutionEvent::Wake { execution_id: summary.id.clone(), redispatch: false })
                .await?;
            report.waiting += 1;
        }
    }
    // paused executions whose Pause is due resume per its behavior
    report.paused = wake_due_pauses(engine).await?;
    // script tasks running as Cloud Run Jobs: their results, kills and timeouts
    report.cloud_run = super::cloud_run_jobs::poll(engine).await?;
    Ok(report)
}

/// Publishes again the result kept with the closed claim of an attempt its
/// execution shows unfinished (`shown`: its state there, for the log);
/// false when the claim is open or kept none.
async fn republish(
    engine: &Arc<Engine>,
    execution_id: &str,
    task_run_id: &str,
    attempt: u32,
    shown: StateType,
) -> Result<bool, BackendError> {
    let Some(json) = engine.state.kept_result(task_run_id, attempt).await? else { return Ok(false) };
    let result: TaskResult = match serde_json::from_str(&json) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(execution_id, task_run_id, attempt, error = %e, "the result kept with the claim does not parse");
            return Ok(false);
        }
    };
    tracing::warn!(
        execution_id, task_run_id, attempt, shown = %shown, state = %result.state,
        "the attempt's claim is closed with a result its execution has not applied (lost, or still on its way): the kept result is published again"
    );
    let event = ExecutionEvent::TaskResult {
        execution_id: execution_id.to_string(),
        task_run_id: task_run_id.to_string(),
        attempt,
        result,
    };
    publish_event(engine, &event).await?;
    Ok(true)
}

/// What the sweep did for a Subflow task run waiting on its child.
enum Child {
    /// The child is over: its `SubflowEnded` was published again.
    Ended(String),
    /// The child was never stored: its `StartSubflow` was published again.
    Started(String),
}

/// For an unfinished Subflow task run `tr` of `parent`: publishes the
/// `SubflowEnded` of a child that is over again, or the `StartSubflow` of
/// a child not stored once `tr` has waited past `grace`. `None` for any
/// other task run, a child still running, one not stored yet, or a batch
/// of a ForEachItem.
async fn waiting_child(
    engine: &Arc<Engine>,
    parent: &Execution,
    tr: &TaskRun,
    grace: Duration,
) -> Result<Option<Child>, BackendError> {
    if tr.state.is_terminal() {
        return Ok(None);
    }
    // a ForEachItem's `_items` run names no child but its batches
    let Some(child_id) = subflow_start::child_id(parent, &tr.id) else { return Ok(None) };
    let Some(child) = engine.state.load_execution(&child_id).await? else {
        let since = tr.state.last_date();
        if since.is_none_or(|at| Utc::now() - at <= grace) {
            return Ok(None);
        }
        tracing::warn!(
            execution_id = %parent.id, task_run_id = %tr.id, child_execution_id = %child_id, grace_seconds = grace.num_seconds(),
            "the Subflow's child is not stored though its parent waited past a lease (its start was lost with an executor): its start is published again"
        );
        let event = ExecutionEvent::StartSubflow { execution_id: parent.id.clone(), task_run_id: tr.id.clone() };
        publish_event(engine, &event).await?;
        return Ok(Some(Child::Started(child_id)));
    };
    let ours = child.parent_id.as_deref() == Some(parent.id.as_str())
        && child.parent_task_run_id.as_deref() == Some(tr.id.as_str());
    if !ours || !child.is_done() {
        return Ok(None);
    }
    let Some(event) = subflow_outputs::ended_event(engine, &child, child.state.current).await? else {
        return Ok(None);
    };
    if matches!(&event, ExecutionEvent::SubflowEnded { iteration: Some(_), .. }) {
        return Ok(None);
    }
    tracing::warn!(
        execution_id = %parent.id, task_run_id = %tr.id, child_execution_id = %child.id, state = %child.state.current,
        "the Subflow's child is over but its parent still waits (its end message was lost, or is on its way): its end is published again"
    );
    publish_event(engine, &event).await?;
    Ok(Some(Child::Ended(child.id)))
}

/// Sends a `Wake` to every PAUSED execution whose Pause timer is due.
async fn wake_due_pauses(engine: &Arc<Engine>) -> Result<usize, BackendError> {
    let mut woken = 0;
    let filter = ExecutionFilter { state: Some(StateType::Paused), ..ExecutionFilter::default() };
    for summary in engine.state.list_executions(&filter).await? {
        let Some(exec) = engine.state.load_execution(&summary.id).await? else { continue };
        if crate::executor::next_timer(&exec).is_some_and(|at| at <= Utc::now()) {
            publish_event(engine, &ExecutionEvent::Wake { execution_id: exec.id.clone(), redispatch: false }).await?;
            woken += 1;
        }
    }
    Ok(woken)
}

/// True if some PAUSED execution has a Pause timer (it needs the sweep).
pub(crate) async fn pause_timer_pending(engine: &Engine) -> Result<bool, BackendError> {
    let filter = ExecutionFilter { state: Some(StateType::Paused), ..ExecutionFilter::default() };
    for summary in engine.state.list_executions(&filter).await? {
        if let Some(exec) = engine.state.load_execution(&summary.id).await?
            && crate::executor::next_timer(&exec).is_some()
        {
            return Ok(true);
        }
    }
    Ok(false)
}
