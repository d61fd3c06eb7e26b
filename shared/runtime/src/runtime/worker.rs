//! The worker: takes a job, claims the attempt (a duplicate delivery finds
//! it claimed and does nothing), renders the task's properties, runs the
//! plugin under its timeout while renewing the lease, tells the executor it
//! started (in process, once it has run [`START_REPORT_AFTER`]), and
//! reports the result.
//!
//! A job whose previous holder let its lease expire (the worker died
//! mid-task) is not run again blindly: the lost attempt is reported FAILED
//! with the reason, and the task's retry policy decides what happens next.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt;
use serde_json::{Map, Value};

use super::attempt_logs::{AttemptLogs, log_file_path};
use super::engine::Engine;
use super::launcher::publish_event;
use super::messages::{ExecutionEvent, TaskResult, WorkerJob};
use crate::backend::{BackendError, Claim};
use crate::model::StateType;
use crate::model::duration::format_iso;
use crate::model::variables::VariablesChange;
use crate::plugins::RunContext;
use crate::plugins::context::Services;

/// How long a claim lasts without a heartbeat, by default. The heartbeat
/// renews it every third of that (10 s), so a worker that died is seen
/// within 30 s of its last heartbeat: by the redelivery of its job (a
/// Cloud Run instance that dies drops the push request, and Pub/Sub
/// redelivers after its backoff) or by the next sweep.
pub const LEASE_SECONDS: i64 = 30;

/// How long an attempt runs on an in-process worker
/// ([`Worker::in_process`]) before the executor is told it started
/// (`TaskStarted`: the task run shows RUNNING). An attempt that ends sooner
/// sends only its result, which carries its start: the task run's history
/// is the same (CREATED, RUNNING at the start, then its end), and a quick
/// task costs one event, one executor decision and one save instead of
/// two. Kestra's own executor takes at least one queue poll (25 ms) to
/// show a start. The functions' workers tell it at once: the sweep judges a
/// started attempt by its claim and one never started by its age.
pub const START_REPORT_AFTER: StdDuration = StdDuration::from_millis(100);

/// How long after the save that opened it an in-process claim of a new
/// attempt is taken as its holder's without reading it, if this process's
/// executor closed no claim meanwhile. Only a kill or an SLA closes an
/// attempt's claim before it runs (in this process: counted in
/// `Engine::claims_closed`), and only a sweep past the 30 s lease takes
/// one over (a local home has one live process: `recovery`). The read
/// was 6 % of a chain's CPU: a read transaction and two WAL pages a task
/// run. A kill from elsewhere in that window is met as one just after the
/// start: by the first heartbeat, due as the attempt's start is told.
pub const FRESH_CLAIM: StdDuration = StdDuration::from_secs(2);

/// Whether `job`'s claim, opened in this process for a new attempt, is
/// still its holder's without a read (`FRESH_CLAIM`).
fn fresh_claim(engine: &Engine, job: &WorkerJob) -> bool {
    job.opened.is_some_and(|(at, closed)| {
        at.elapsed() < FRESH_CLAIM && engine.claims_closed.load(std::sync::atomic::Ordering::Acquire) == closed
    })
}

/// What a worker did with one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// The attempt ran and its result was reported.
    Ran,
    /// A duplicate delivery: the attempt already finished. Nothing was done.
    Duplicate,
    /// The attempt is running elsewhere under a live lease (a duplicate
    /// delivery, or the redelivery of a job whose worker just died and
    /// whose lease has not run out yet). Nothing was done.
    HeldElsewhere { worker_id: String, until: chrono::DateTime<Utc> },
    /// The attempt's previous worker died (its lease expired): the attempt
    /// was reported FAILED so that the retry policy applies.
    Lost { worker_id: String },
}

/// Runs jobs of any group it is given.
pub struct Worker {
    engine: Arc<Engine>,
    pub id: String,
    lease: Duration,
    /// Whether the worker closes an attempt's claim once it reported the
    /// result, and tells its start at once (see [`Worker::in_process`]).
    closes_claims: bool,
    /// Attempts this worker reported lately, whose claims the executor may
    /// not have closed yet: a duplicate job reaching this same worker id
    /// (which the store would let re-claim its own lease) is skipped.
    reported: Reported,
}

/// Stops the heartbeat when the job ends, however it ends (a dropped
/// handler must not keep a dead attempt's lease alive).
struct Heartbeat(tokio::task::JoinHandle<()>);

/// Renews the claim every third of `lease` from now (the first time at
/// once when `at_once`) until it is found gone, which `released` then
/// tells the running attempt.
fn heartbeat(
    engine: Arc<Engine>,
    tr: String,
    attempt: u32,
    wid: String,
    lease: Duration,
    at_once: bool,
    released: tokio::sync::watch::Sender<bool>,
) -> Heartbeat {
    let every = (lease / 3).to_std().unwrap_or(StdDuration::from_secs(1));
    Heartbeat(tokio::spawn(async move {
        let mut first = at_once;
        loop {
            if !std::mem::take(&mut first) {
                tokio::time::sleep(every).await;
            }
            match engine.state.heartbeat(&tr, attempt, &wid, Utc::now() + lease).await {
                Ok(()) => {}
                // the claim is no longer ours (finished or taken over)
                Err(BackendError::NotFound { .. }) => {
                    let _ = released.send(true);
                    break;
                }
                Err(e) => tracing::warn!(task_run_id = %tr, error = %e, "lease heartbeat failed, retrying"),
            }
        }
    }))
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Worker {
    pub fn new(engine: Arc<Engine>, id: String) -> Worker {
        Worker {
            engine,
            id,
            lease: Duration::seconds(LEASE_SECONDS),
            closes_claims: true,
            reported: Reported::default(),
        }
    }

    /// A worker fed by an in-process queue (the embedded runtime), which
    /// delivers a message at once or dies with the process:
    /// - it leaves closing a reported attempt's claim to the executor, which
    ///   does it in the save that stores the result (one write fewer per
    ///   task run, and a claim is done exactly when its result is stored,
    ///   so a restart sees an attempt whose result died with the process
    ///   as lost, not done);
    /// - it tells an attempt's start only once the attempt has run
    ///   [`START_REPORT_AFTER`].
    ///
    /// Over Pub/Sub a result may wait in a backlog past the lease, and the
    /// sweep takes an open claim of a started attempt for a dead worker's
    /// and judges an attempt that never started by its age alone, so the
    /// functions' workers close their own claims and tell starts at once.
    pub fn in_process(mut self) -> Worker {
        self.closes_claims = false;
        self
    }

    /// Uses leases of `lease` (renewed every third of it) instead of the default.
    pub fn with_lease(mut self, lease: Duration) -> Worker {
        self.lease = lease.max(Duration::milliseconds(30));
        self
    }

    /// Handles one job; returns `false` if it was not run (a duplicate, or a
    /// lost attempt reported failed).
    pub async fn handle(&self, job: &WorkerJob) -> Result<bool, BackendError> {
        Ok(self.handle_job(job).await? == JobOutcome::Ran)
    }

    /// Handles one job and says what it did.
    pub async fn handle_job(&self, job: &WorkerJob) -> Result<JobOutcome, BackendError> {
        let engine = &self.engine;
        if self.reported.contains(&job.task_run_id, job.attempt) {
            tracing::debug!(task_run_id = %job.task_run_id, attempt = job.attempt, "duplicate job skipped (reported here)");
            return Ok(JobOutcome::Duplicate);
        }
        let until = Utc::now() + self.lease;
        // a claim the dispatching save opened is confirmed (a read), not
        // written; a new attempt's, fresh and with no claim closed since, is
        // known unread (`FRESH_CLAIM`)
        let (holder, claim) = match &job.claimed_by {
            Some(h) if fresh_claim(engine, job) => (h.clone(), Claim::Acquired),
            Some(h) => (h.clone(), engine.state.confirm_claim(&job.task_run_id, job.attempt, h, until).await?),
            None => (self.id.clone(), engine.state.claim(&job.task_run_id, job.attempt, &self.id, until).await?),
        };
        match claim {
            Claim::Acquired => {}
            Claim::Done => {
                tracing::debug!(task_run_id = %job.task_run_id, attempt = job.attempt, "duplicate job skipped");
                return Ok(JobOutcome::Duplicate);
            }
            Claim::HeldElsewhere { worker_id, until } => {
                tracing::debug!(task_run_id = %job.task_run_id, attempt = job.attempt, worker_id, "job held elsewhere");
                return Ok(JobOutcome::HeldElsewhere { worker_id, until });
            }
            Claim::TakenOver { worker_id, until } => {
                self.report_lost(job, &worker_id, until).await?;
                return Ok(JobOutcome::Lost { worker_id });
            }
        }
        let start = Utc::now();
        let running = super::metrics::JobRunning::start(job);
        // in process, the start is told only once the attempt outlives
        // START_REPORT_AFTER (or detaches): a quick one's result says when it started
        let started = ExecutionEvent::TaskStarted {
            execution_id: job.execution_id.clone(),
            task_run_id: job.task_run_id.clone(),
            attempt: job.attempt,
            worker_id: self.id.clone(),
            at: start,
        };

        // the heartbeat finding the claim gone (the executor closed it on a
        // kill, or a sweep took the expired lease over) stops the task here.
        // Its first renewal is due a third of a lease after the claim, so an
        // in-process worker starts it only with the attempt's start report
        // (`START_REPORT_AFTER`): a quick attempt spawns no task and arms no timer
        let (released, released_rx) = tokio::sync::watch::channel(false);
        // a claim opened at dispatch may have run out while the job waited:
        // its first renewal is due at once
        let beat = {
            let engine = engine.clone();
            let (tr, attempt, lease, at_once) =
                (job.task_run_id.clone(), job.attempt, self.lease, job.claimed_by.is_some());
            move || heartbeat(engine, tr, attempt, holder, lease, at_once, released)
        };
        let mut _heartbeat = None;
        // a panic inside a task (a plugin bug, an input nobody foresaw) fails the
        // attempt with the panic's message instead of losing the job
        // the attempt's lines past its log volume bound (all of them with
        // `logToFile`) go to a file in internal storage
        let path = log_file_path(&job.namespace, &job.flow_id, &job.execution_id, &job.task.id, &job.task_run_id);
        let volume = engine.log_volumes.of(engine.state.as_ref(), &job.execution_id).await;
        let logs = Arc::new(AttemptLogs::new(
            Arc::new(engine.logs.clone()),
            engine.storage.clone(),
            path,
            job.task.log_to_file,
            engine.log_bounds,
            volume,
        ));
        // the attempt's trace span (none unless traces are exported): what
        // the task does inside it (HTTP, queries, processes) is its children
        let span = super::telemetry::attempt_span(job);
        let attempt = tracing::Instrument::instrument(self.run(job, start, released_rx, logs.clone()), span.clone());
        let run = std::panic::AssertUnwindSafe(attempt).catch_unwind();
        let mut run = std::pin::pin!(run);
        let mut told = false;
        let ran = if self.closes_claims {
            _heartbeat = Some(beat());
            publish_event(engine, &started).await?;
            told = true;
            run.await
        } else {
            tokio::select! {
                biased;
                ran = &mut run => ran,
                () = tokio::time::sleep(START_REPORT_AFTER) => {
                    _heartbeat = Some(beat());
                    publish_event(engine, &started).await?;
                    told = true;
                    run.await
                }
            }
        };
        let result = match ran {
            Ok(r) => r,
            Err(panic) => {
                let msg = format!("task '{}' crashed: {}", job.task.id, panic_message(panic.as_ref()));
                tracing::error!(task_run_id = %job.task_run_id, "{msg}");
                Some(failed_result(msg, start, Utc::now()))
            }
        };
        let log_file = logs.finish().await;
        let Some(mut result) = result else {
            // started elsewhere (a Cloud Run Job): its result is reported when it
            // ends (the sweep); a duplicate of this job now finds the claim done
            if !told {
                publish_event(engine, &started).await?;
            }
            engine.state.finish_claim(&job.task_run_id, job.attempt).await?;
            return Ok(JobOutcome::Ran);
        };
        result.log_file = log_file;
        running.ended(job, result.state);
        result.claim_left_open = !self.closes_claims;
        super::telemetry::attempt_ended(&span, result.state, result.error.as_deref());
        drop(span);
        // a failure's log lines are stored (and echoed) before the executor
        // hears of it: a reader never sees the task FAILED before its reason
        if result.state.is_failed() {
            engine.logs.flush().await;
        }
        // the executor also closes the claim in the save that applies the
        // result (with the attempt's metrics); until then a duplicate of
        // this job finds the claim held (or, on this worker, in `reported`)
        let kept = self.closes_claims.then(|| kept_result(&job.task_run_id, job.attempt, &result));
        publish_event(
            engine,
            &ExecutionEvent::TaskResult {
                execution_id: job.execution_id.clone(),
                task_run_id: job.task_run_id.clone(),
                attempt: job.attempt,
                result,
            },
        )
        .await?;
        self.reported.note(&job.task_run_id, job.attempt);
        if let Some(kept) = kept {
            // after the result: if this process dies before it, the lease
            // runs out on a task run that is already terminal
            finish_keeping(engine, &job.task_run_id, job.attempt, kept).await?;
        }
        Ok(JobOutcome::Ran)
    }

    /// Reports a lost attempt (its worker died) as FAILED and closes its claim.
    async fn report_lost(&self, job: &WorkerJob, worker_id: &str, until: DateTime<Utc>) -> Result<(), BackendError> {
        let engine = &self.engine;
        let now = Utc::now();
        let message = lost_message(&job.task.id, job.attempt, worker_id, until);
        tracing::warn!(task_run_id = %job.task_run_id, attempt = job.attempt, worker_id, "{message}");
        engine
            .state
            .append_logs(&[crate::backend::LogEntry {
                namespace: job.namespace.clone(),
                flow_id: job.flow_id.clone(),
                execution_id: job.execution_id.clone(),
                task_id: Some(job.task.id.clone()),
                task_run_id: Some(job.task_run_id.clone()),
                attempt_number: Some(job.attempt),
                timestamp: now,
                level: "ERROR".into(),
                message: message.clone(),
            }])
            .await?;
        let result = failed_result(message, now, now);
        let kept = kept_result(&job.task_run_id, job.attempt, &result);
        publish_event(
            engine,
            &ExecutionEvent::TaskResult {
                execution_id: job.execution_id.clone(),
                task_run_id: job.task_run_id.clone(),
                attempt: job.attempt,
                result,
            },
        )
        .await?;
        finish_keeping(engine, &job.task_run_id, job.attempt, kept).await
    }

    /// The attempt's result; `None` when the task was detached (see
    /// `TaskOutput::detached`).
    async fn run(
        &self,
        job: &WorkerJob,
        start: chrono::DateTime<Utc>,
        mut released: tokio::sync::watch::Receiver<bool>,
        logs: Arc<AttemptLogs>,
    ) -> Option<TaskResult> {
        let engine = &self.engine;
        let failed = |msg: String| Some(failed_result(msg, start, Utc::now()));
        // a task a unit test mocks ends as its fixture says, without running
        // (its plugin need not even be in this build)
        if let Some(result) = super::fixtures::mocked(engine, job, start) {
            return Some(result);
        }
        let Some(def) = engine.registry.get(&job.task.kind) else {
            let why = crate::plugins::left_out(&job.task.kind).map(|w| format!(": {w}")).unwrap_or_default();
            return failed(format!("task '{}': unknown task type '{}'{why}", job.task.id, job.task.kind));
        };
        // pluginDefaults may carry keys a plugin does not know: drop them
        let props: Map<String, Value> = if def.props.is_empty() {
            job.task.props.clone()
        } else {
            job.task
                .props
                .iter()
                .filter(|(k, _)| def.props.iter().any(|p| p.name == k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        // a plugin property named like a task's own key (Jira's issue
        // `description`, a NATS bucket's): Kestra binds the one value to both
        let mut props = props;
        if let Some(d) = &job.task.description
            && def.props.iter().any(|p| p.name == "description")
        {
            props.entry("description").or_insert_with(|| Value::String(d.clone()));
        }
        // the step's shared entries stay shared: templates convert what they read
        let (shared, own) = job.context.split();
        let mut context = crate::template::Scope::new(shared, own);
        // a job that came through Pub/Sub carries its SECRET inputs sealed
        if let Err(e) =
            super::messages::open_job_inputs(&job.execution_id, &mut context, engine.state.sealer().as_deref())
        {
            return failed(format!("task '{}': {e}", job.task.id));
        }
        context.insert("envs", Value::Object(engine.envs.clone()));
        let cx = RunContext::new(
            job.execution_id.clone(),
            job.task_run_id.clone(),
            job.attempt,
            job.namespace.clone(),
            job.flow_id.clone(),
            job.task.id.clone(),
            job.task.kind.clone(),
            context,
            props.clone(),
            Services {
                renderer: engine.renderer.clone(),
                kv: engine.kv.clone(),
                storage: engine.storage.clone(),
                logs: super::logs::task_sink(logs, job.task.log_level.as_deref()),
                http: engine.http.clone(),
                progress: engine.progress.clone(),
                work_root: engine.work_root.clone(),
                config: engine.plugins.clone(),
                flows: engine.flow_store.clone(),
                executions: Some(Arc::new(super::resume::EngineControl(engine.clone()))),
            },
            engine.host.clone(),
        );
        // SECRET inputs are masked like secret() values
        if !job.secret_inputs.is_empty()
            && let Some(inputs) = cx.get("inputs").and_then(Value::as_object)
        {
            for v in crate::model::flow::secret_values_of(&job.secret_inputs, inputs) {
                cx.mask(&v);
            }
        }
        // a task's own per-item expressions stay as written
        let mut props = props;
        let unrendered = crate::plugins::registry::take_unrendered(def, &mut props);
        // the attempt's metrics are stored whatever its end, before its result
        let result = async {
            let rendered = match cx.render_value(&Value::Object(props)) {
                Ok(Value::Object(mut m)) => {
                    m.extend(unrendered);
                    m
                }
                Ok(_) => Map::new(),
                Err(e) => {
                    let msg = cx.mask_text(&format!("task '{}': {e}", job.task.id));
                    cx.log("ERROR", &msg);
                    return failed(msg);
                }
            };
            let cache = job.task.task_cache.as_ref().map(|c| (super::task_cache::key(job, cx.context(), &rendered), c.ttl_ms));
            if let Some((k, _)) = &cache
                && let Some(outputs) = super::task_cache::lookup(engine, &cx, k, Utc::now()).await
            {
                return Some(ended_result(StateType::Success, outputs, None, start, Utc::now()));
            }
            let task = match (def.build)(&rendered) {
                // a WorkingDirectory's own files, around its first and last child
                Ok(t) => crate::plugins::core::working_dir::wrap(t, &cx),
                Err(e) => {
                    let msg = cx.mask_text(&format!("task '{}' ({}): {e}", job.task.id, job.task.kind));
                    cx.log("ERROR", &msg);
                    return failed(msg);
                }
            };
            // a kill of the execution drops the running task: its process group
            // is killed and its container stopped and removed (their drop guards).
            // In this process the executor says so at once (`Engine::kills`);
            // across processes (Cloud Run) the kill closes the attempt's claim,
            // which the next heartbeat finds (within a third of the lease)
            let mut kills = engine.kills.subscribe();
            let released = async move {
                if released.wait_for(|gone| *gone).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            let killed = async {
                loop {
                    match kills.recv().await {
                        Ok(id) if id == job.execution_id => return,
                        Ok(_) => {}
                        // kills missed: the stored state says whether this one was
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            if let Ok(Some(e)) = engine.state.load_execution(&job.execution_id).await
                                && matches!(e.state.current, StateType::Killing | StateType::Killed)
                            {
                                return;
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
                    }
                }
            };
            let stopped = async {
                tokio::select! {
                    _ = released => "the attempt is no longer this worker's (the execution was killed, or its lease ran \
                                     out and was taken over): the task was stopped".to_string(),
                    _ = killed => "the execution was killed: the task was stopped".to_string(),
                }
            };
            let run = task.run(&cx);
            let timed = async {
                match job.task.timeout_ms {
                    Some(ms) if ms > 0 => match tokio::time::timeout(StdDuration::from_millis(ms as u64), run).await {
                        Ok(r) => Ok(r),
                        Err(_) => Err(format!("Timeout after {}", format_iso(Duration::milliseconds(ms)))),
                    },
                    _ => Ok(run.await),
                }
            };
            let outcome = tokio::select! {
                r = timed => match r {
                    Ok(r) => r,
                    Err(msg) => {
                        cx.log("ERROR", &msg);
                        return failed(msg);
                    }
                },
                msg = stopped => {
                    cx.log("WARN", &msg);
                    return Some(TaskResult {
                        state: StateType::Killed,
                        outputs: Map::new(),
                        error: Some(msg),
                        labels: vec![],
                        variables: None,
                        start,
                        end: Utc::now(),
                        log_file: None,
                        metrics: Vec::new(),
                        claim_left_open: false,
                    });
                }
            };
            // nothing that leaves the worker (stored, shown by the API and the CLI)
            // holds a secret in clear: outputs, labels and errors are masked like logs
            if let (Some((k, ttl)), Ok(out)) = (&cache, &outcome)
                && !out.detached
                && out.state.unwrap_or(StateType::Success) == StateType::Success
            {
                let outputs = match cx.mask_value(Value::Object(out.outputs.clone())) {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                super::task_cache::store(engine, &cx, k, &outputs, *ttl, Utc::now()).await;
            }
            match outcome {
                Ok(out) if out.detached => None,
                Ok(out) => Some(TaskResult {
                    state: out.state.unwrap_or(StateType::Success),
                    outputs: match cx.mask_value(Value::Object(out.outputs)) {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    },
                    error: None,
                    labels: out
                        .labels
                        .into_iter()
                        .map(|mut l| {
                            l.value = cx.mask_text(&l.value);
                            l
                        })
                        .collect(),
                    variables: out.variables.map(|c| mask_change(&cx, c)),
                    start,
                    end: Utc::now(),
                    log_file: None,
                    metrics: Vec::new(),
                    claim_left_open: false,
                }),
                Err(e) => {
                    let msg = cx.mask_text(&e.to_string());
                    cx.log("ERROR", &msg);
                    failed(msg)
                }
            }
        }
        .await;
        match result {
            // stored by the executor with the save that applies the result
            Some(mut r) => {
                r.metrics = cx.metric_entries();
                Some(r)
            }
            None => {
                save_metrics(engine, &cx).await;
                None
            }
        }
    }
}

mod reported;
mod results;
use reported::Reported;
pub(super) use results::ended_result;
use results::{failed_result, mask_change, save_metrics};
pub use results::{finish_keeping, kept_result, lost_message, panic_message};
