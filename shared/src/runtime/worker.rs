//! The worker: takes a job, claims the attempt (a duplicate delivery finds
//! it claimed and does nothing), tells the executor it started, renders the
//! task's properties, runs the plugin under its timeout while renewing the
//! lease, and reports the result.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use serde_json::{Map, Value};

use super::engine::Engine;
use super::launcher::publish_event;
use super::messages::{ExecutionEvent, TaskResult, WorkerJob};
use crate::backend::{BackendError, Claim};
use crate::model::StateType;
use crate::model::duration::format_iso;
use crate::plugins::RunContext;
use crate::plugins::context::Services;

/// How long a claim lasts without a heartbeat.
const LEASE: i64 = 300;

/// Runs jobs of any group it is given.
pub struct Worker {
    engine: Arc<Engine>,
    pub id: String,
}

impl Worker {
    pub fn new(engine: Arc<Engine>, id: String) -> Worker {
        Worker { engine, id }
    }

    /// Handles one job; returns `false` if it was a duplicate and skipped.
    pub async fn handle(&self, job: &WorkerJob) -> Result<bool, BackendError> {
        let engine = &self.engine;
        let until = Utc::now() + Duration::seconds(LEASE);
        match engine.state.claim(&job.task_run_id, job.attempt, &self.id, until).await? {
            Claim::Acquired => {}
            Claim::HeldElsewhere { .. } | Claim::Done => {
                tracing::debug!(task_run_id = %job.task_run_id, attempt = job.attempt, "duplicate job skipped");
                return Ok(false);
            }
        }
        let start = Utc::now();
        publish_event(
            engine,
            &ExecutionEvent::TaskStarted {
                execution_id: job.execution_id.clone(),
                task_run_id: job.task_run_id.clone(),
                attempt: job.attempt,
                worker_id: self.id.clone(),
                at: start,
            },
        )
        .await?;

        let heartbeat = {
            let engine = engine.clone();
            let (tr, attempt, wid) = (job.task_run_id.clone(), job.attempt, self.id.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(StdDuration::from_secs((LEASE / 3) as u64)).await;
                    let until = Utc::now() + Duration::seconds(LEASE);
                    if engine.state.heartbeat(&tr, attempt, &wid, until).await.is_err() {
                        break;
                    }
                }
            })
        };
        let result = self.run(job, start).await;
        heartbeat.abort();
        engine.state.finish_claim(&job.task_run_id, job.attempt).await?;
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
        Ok(true)
    }

    async fn run(&self, job: &WorkerJob, start: chrono::DateTime<Utc>) -> TaskResult {
        let engine = &self.engine;
        let failed = |msg: String| TaskResult {
            state: StateType::Failed,
            outputs: Map::new(),
            error: Some(msg),
            labels: vec![],
            start,
            end: Utc::now(),
        };
        let Some(def) = engine.registry.get(&job.task.kind) else {
            return failed(format!("task '{}': unknown task type '{}'", job.task.id, job.task.kind));
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
        let mut context = job.context.clone();
        context["envs"] = Value::Object(engine.envs.clone());
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
                logs: Arc::new(engine.logs.clone()),
                http: engine.http.clone(),
                progress: engine.progress.clone(),
                work_root: engine.work_root.clone(),
                config: engine.plugins.clone(),
            },
            engine.host.clone(),
        );
        let rendered = match cx.render_value(&Value::Object(props)) {
            Ok(Value::Object(m)) => m,
            Ok(_) => Map::new(),
            Err(e) => {
                let msg = format!("task '{}': {e}", job.task.id);
                cx.log("ERROR", &msg);
                return failed(msg);
            }
        };
        let task = match (def.build)(&rendered) {
            Ok(t) => t,
            Err(e) => {
                let msg = format!("task '{}' ({}): {e}", job.task.id, job.task.kind);
                cx.log("ERROR", &msg);
                return failed(msg);
            }
        };
        let run = task.run(&cx);
        let outcome = match job.task.timeout_ms {
            Some(ms) if ms > 0 => match tokio::time::timeout(StdDuration::from_millis(ms as u64), run).await {
                Ok(r) => r,
                Err(_) => {
                    let msg = format!("Timeout after {}", format_iso(Duration::milliseconds(ms)));
                    cx.log("ERROR", &msg);
                    return failed(msg);
                }
            },
            _ => run.await,
        };
        match outcome {
            Ok(out) => TaskResult {
                state: out.state.unwrap_or(StateType::Success),
                outputs: out.outputs,
                error: None,
                labels: out.labels,
                start,
                end: Utc::now(),
            },
            Err(e) => {
                let msg = e.to_string();
                cx.log("ERROR", &msg);
                failed(msg)
            }
        }
    }
}
