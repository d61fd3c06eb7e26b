//! The engine's operational metrics (issue 50): what an operator scrapes at
//! `/prometheus` to answer "is it healthy, and where is the time going?".
//! Kestra's names where Kestra has them (its `MetricRegistry`: prefix
//! `kestra`, Micrometer's Prometheus naming, tags `namespace_id`, `flow_id`,
//! `state`, `task_type`), Baton's own (`baton_…`) where they explain Baton:
//! the pure step, the store's compare-and-swap commits, concurrency
//! admissions, bounded resources' refusals.
//!
//! Recorded through the `metrics` facade; the `shared` crate installs the
//! Prometheus recorder in `baton server local` and in the functions, and
//! only then calls [`enable`]. Until then every helper here returns at one
//! relaxed atomic load: no label is built, nothing is allocated, so `baton
//! run` and the benchmarks pay nothing. Labels are bounded: namespace, flow,
//! state, task type, outcome — never an execution or task run id.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use super::metric_handles::{self, JobHandles};
use crate::model::{Execution, StateType};
use crate::runtime::messages::WorkerJob;

/// Executions started (left CREATED or RESTARTED) by the executor.
pub const EXECUTION_STARTED: &str = "kestra_executor_execution_started_count_total";
/// Executions ended, by state.
pub const EXECUTION_END: &str = "kestra_executor_execution_end_count_total";
/// An ended execution's duration, by state.
pub const EXECUTION_DURATION: &str = "kestra_executor_execution_duration_seconds";
/// One message (a batch of events of one execution) processed by the executor.
pub const MESSAGE_PROCESS: &str = "kestra_executor_execution_message_process_seconds";
/// Task runs started by a worker.
pub const WORKER_STARTED: &str = "kestra_worker_started_count_total";
/// Task runs ended by a worker, by state.
pub const WORKER_ENDED: &str = "kestra_worker_ended_count_total";
/// A task run attempt's duration in the worker, by state.
pub const WORKER_ENDED_DURATION: &str = "kestra_worker_ended_duration_seconds";
/// Jobs running in the workers of this process.
pub const WORKER_JOB_RUNNING: &str = "kestra_worker_job_running";
/// Schedule triggers evaluated by the scheduler.
pub const SCHEDULER_EVALUATE: &str = "kestra_scheduler_evaluate_count_total";
/// Executions created by the scheduler (ticks and backfills).
pub const SCHEDULER_TRIGGER: &str = "kestra_scheduler_trigger_count_total";
/// The pure step alone (no load, no save).
pub const STEP_DURATION: &str = "baton_executor_step_duration_seconds";
/// One compare-and-swap save of an execution, by outcome.
pub const STORE_COMMIT: &str = "baton_store_commit_duration_seconds";
/// Executions this process started and has not seen end.
pub const IN_FLIGHT: &str = "baton_executions_in_flight";
/// Concurrency-limit admissions, by decision (`run`, `queue`, `reject`).
pub const ADMISSIONS: &str = "baton_concurrency_admissions_total";
/// Requests, connections or executions refused at a bound, by bound.
pub const REFUSALS: &str = "baton_bound_refusals_total";

/// Every metric recorded here: name, kind, help (the exporter's `# HELP`
/// lines and the reference's table).
pub const METRICS: &[(&str, Kind, &str)] = &[
    (EXECUTION_STARTED, Kind::Counter, "Executions started by the executor (namespace_id, flow_id)"),
    (EXECUTION_END, Kind::Counter, "Executions ended by the executor (namespace_id, flow_id, state)"),
    (EXECUTION_DURATION, Kind::Histogram, "Duration of ended executions (namespace_id, flow_id, state)"),
    (MESSAGE_PROCESS, Kind::Histogram, "Duration of one message of execution events processed by the executor"),
    (WORKER_STARTED, Kind::Counter, "Task run attempts started by the workers (namespace_id, flow_id, task_type)"),
    (WORKER_ENDED, Kind::Counter, "Task run attempts ended by the workers (namespace_id, flow_id, task_type, state)"),
    (WORKER_ENDED_DURATION, Kind::Histogram, "Duration of task run attempts in the workers (task_type, state)"),
    (WORKER_JOB_RUNNING, Kind::Gauge, "Task run attempts running in this process's workers"),
    (SCHEDULER_EVALUATE, Kind::Counter, "Schedule triggers evaluated by the scheduler (namespace_id, flow_id)"),
    (SCHEDULER_TRIGGER, Kind::Counter, "Executions created by the scheduler (namespace_id, flow_id)"),
    (STEP_DURATION, Kind::Histogram, "Duration of the executor's pure step"),
    (STORE_COMMIT, Kind::Histogram, "Duration of one compare-and-swap save of an execution (outcome)"),
    (IN_FLIGHT, Kind::Gauge, "Executions this process started and has not seen end (namespace_id, flow_id)"),
    (ADMISSIONS, Kind::Counter, "Admissions under a flow's concurrency limit (namespace_id, flow_id, decision)"),
    (REFUSALS, Kind::Counter, "Work refused at one of Baton's bounds (bound)"),
];

/// A metric's Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

static ON: AtomicBool = AtomicBool::new(false);

/// The executions [`IN_FLIGHT`] counts, so an end counts down only what
/// this process counted up (an execution resumed after a restart, or
/// started by another instance, is not in it).
static STARTED_HERE: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Turns recording on (after a recorder was installed).
pub fn enable() {
    ON.store(true, Ordering::Relaxed);
}

/// Whether recording is on.
#[inline]
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Records what a save of `exec` (loaded in state `from`) changed: a start,
/// an end with its duration.
pub fn execution_saved(exec: &Execution, from: StateType) {
    if !enabled() {
        return;
    }
    let (ns, flow) = (exec.namespace.clone(), exec.flow_id.clone());
    let now = exec.state.current;
    if matches!(from, StateType::Created | StateType::Restarted) && now != from {
        metrics::counter!(EXECUTION_STARTED, "namespace_id" => ns.clone(), "flow_id" => flow.clone()).increment(1);
        if let Ok(mut set) = STARTED_HERE.lock()
            && set.get_or_insert_default().insert(exec.id.clone())
        {
            metrics::gauge!(IN_FLIGHT, "namespace_id" => ns.clone(), "flow_id" => flow.clone()).increment(1.0);
        }
    }
    if exec.is_done() {
        let state = now.to_string();
        metrics::counter!(EXECUTION_END, "namespace_id" => ns.clone(), "flow_id" => flow.clone(), "state" => state.clone())
            .increment(1);
        if let (Some(start), Some(end)) = (exec.state.start_date(), exec.state.end_date()) {
            let secs = (end - start).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::histogram!(EXECUTION_DURATION, "namespace_id" => ns.clone(), "flow_id" => flow.clone(), "state" => state)
                .record(secs);
        }
        let counted = STARTED_HERE.lock().is_ok_and(|mut s| s.get_or_insert_default().remove(&exec.id));
        if counted {
            metrics::gauge!(IN_FLIGHT, "namespace_id" => ns, "flow_id" => flow).decrement(1.0);
        }
    }
}

/// Times one message of the executor (recorded when dropped).
pub struct MessageTimer(Option<Instant>);

impl MessageTimer {
    pub fn start() -> MessageTimer {
        MessageTimer(enabled().then(Instant::now))
    }
}

impl Drop for MessageTimer {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            static H: OnceLock<metrics::Histogram> = OnceLock::new();
            metric_handles::unlabeled(&H, MESSAGE_PROCESS).record(t.elapsed().as_secs_f64());
        }
    }
}

/// Runs the pure step `f`, timing it.
#[inline]
pub fn step<T>(f: impl FnOnce() -> T) -> T {
    if !enabled() {
        return f();
    }
    let t = Instant::now();
    let out = f();
    static H: OnceLock<metrics::Histogram> = OnceLock::new();
    metric_handles::unlabeled(&H, STEP_DURATION).record(t.elapsed().as_secs_f64());
    out
}

/// Awaits a compare-and-swap save, timing it by outcome (`ok`, `conflict`,
/// `error`).
pub async fn commit<T>(
    save: impl Future<Output = Result<T, crate::backend::BackendError>>,
) -> Result<T, crate::backend::BackendError> {
    if !enabled() {
        return save.await;
    }
    let t = Instant::now();
    let out = save.await;
    static BY_OUTCOME: [OnceLock<metrics::Histogram>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let (at, outcome) = match &out {
        Ok(_) => (0, "ok"),
        Err(crate::backend::BackendError::Conflict { .. }) => (1, "conflict"),
        Err(_) => (2, "error"),
    };
    let h = BY_OUTCOME[at].get_or_init(|| metrics::histogram!(STORE_COMMIT, "outcome" => outcome));
    h.record(t.elapsed().as_secs_f64());
    out
}

/// A job running in a worker: counted at the start, counted down when
/// dropped, its end recorded by [`JobRunning::ended`]. Its label set's
/// handles are kept (`metric_handles`): no label is built per task run.
pub struct JobRunning(Option<(Instant, Option<Arc<JobHandles>>)>);

static JOB_RUNNING: OnceLock<metrics::Gauge> = OnceLock::new();

fn job_running() -> &'static metrics::Gauge {
    JOB_RUNNING.get_or_init(|| metrics::gauge!(WORKER_JOB_RUNNING))
}

impl JobRunning {
    /// Counts `job` started and running.
    pub fn start(job: &WorkerJob) -> JobRunning {
        if !enabled() {
            return JobRunning(None);
        }
        let handles = metric_handles::job(&job.namespace, &job.flow_id, &job.task.kind);
        match &handles {
            Some(h) => h.started.increment(1),
            None => metrics::counter!(WORKER_STARTED, "namespace_id" => job.namespace.clone(),
                "flow_id" => job.flow_id.clone(), "task_type" => job.task.kind.clone())
            .increment(1),
        }
        job_running().increment(1.0);
        JobRunning(Some((Instant::now(), handles)))
    }

    /// Records the attempt's end in `state`, with its duration.
    pub fn ended(&self, job: &WorkerJob, state: StateType) {
        let Some((t, handles)) = &self.0 else { return };
        let secs = t.elapsed().as_secs_f64();
        if let Some(h) = handles {
            let (count, duration) = h.ended(state);
            count.increment(1);
            duration.record(secs);
            return;
        }
        let state = state.to_string();
        metrics::counter!(WORKER_ENDED, "namespace_id" => job.namespace.clone(), "flow_id" => job.flow_id.clone(),
            "task_type" => job.task.kind.clone(), "state" => state.clone())
        .increment(1);
        metrics::histogram!(WORKER_ENDED_DURATION, "task_type" => job.task.kind.clone(), "state" => state).record(secs);
    }
}

impl Drop for JobRunning {
    fn drop(&mut self) {
        if self.0.is_some() {
            job_running().decrement(1.0);
        }
    }
}

/// A Schedule trigger of `namespace.flow_id` evaluated.
pub fn trigger_evaluated(namespace: &str, flow_id: &str) {
    if enabled() {
        metrics::counter!(SCHEDULER_EVALUATE, "namespace_id" => namespace.to_string(), "flow_id" => flow_id.to_string())
            .increment(1);
    }
}

/// An execution of `namespace.flow_id` created by the scheduler.
pub fn triggered(namespace: &str, flow_id: &str) {
    if enabled() {
        metrics::counter!(SCHEDULER_TRIGGER, "namespace_id" => namespace.to_string(), "flow_id" => flow_id.to_string())
            .increment(1);
    }
}

/// An admission under a flow's concurrency limit.
pub fn admission(namespace: &str, flow_id: &str, decision: &crate::executor::concurrency::Admission) {
    if !enabled() {
        return;
    }
    use crate::executor::concurrency::Admission;
    let decision = match decision {
        Admission::Run => "run",
        Admission::Queue { .. } => "queue",
        Admission::Reject { .. } => "reject",
    };
    metrics::counter!(ADMISSIONS, "namespace_id" => namespace.to_string(), "flow_id" => flow_id.to_string(),
        "decision" => decision)
    .increment(1);
}

/// Work refused at `bound` (a constant name: `max_descendants`,
/// `http_connections`, `request_body`, `request_timeout`…).
pub fn refused(bound: &'static str) {
    if enabled() {
        metrics::counter!(REFUSALS, "bound" => bound).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_until_enabled_and_names_follow_prometheus_conventions() {
        // no recorder: nothing recorded, nothing built
        assert!(!enabled());
        for (name, kind, help) in METRICS {
            assert!(name.starts_with("kestra_") || name.starts_with("baton_"), "{name}");
            assert!(!help.is_empty());
            match kind {
                Kind::Counter => assert!(name.ends_with("_total"), "{name}"),
                Kind::Histogram => assert!(name.ends_with("_seconds"), "{name}"),
                Kind::Gauge => assert!(!name.ends_with("_total"), "{name}"),
            }
        }
    }
}
