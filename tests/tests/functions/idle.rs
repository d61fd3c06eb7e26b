//! The idle gate (`shared::functions::idle`) on the local backends with a
//! recording sweep job: the last sweep that finds nothing in flight pauses
//! the job, work starting resumes it, and a pause that reaches Cloud
//! Scheduler after a concurrent resume is undone.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use shared::functions::idle::IdleGate;
use shared::gcp::scheduler::SweepJob;
use shared::model::{Execution, StateType};
use shared::runtime::engine::{Engine, EngineConfig};
use tokio::sync::Notify;

#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<&'static str>>,
    /// When set, `pause` waits for it (a slow call racing a resume).
    hold_pause: Mutex<Option<Arc<Notify>>>,
    entered_pause: Notify,
}

impl Recorder {
    fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().expect("calls").clone()
    }
    /// What Cloud Scheduler ends with: the last call that reached it.
    fn state(&self) -> &'static str {
        match self.calls().last() {
            Some(&"resume") | None => "ENABLED",
            Some(_) => "PAUSED",
        }
    }
}

#[async_trait]
impl SweepJob for Recorder {
    fn name(&self) -> &str {
        "projects/p/locations/r/jobs/baton-sweep"
    }
    async fn pause(&self) -> Result<(), String> {
        let hold = self.hold_pause.lock().expect("hold").clone();
        if let Some(h) = hold {
            self.entered_pause.notify_one();
            h.notified().await;
        }
        self.calls.lock().expect("calls").push("pause");
        Ok(())
    }
    async fn resume(&self) -> Result<(), String> {
        self.calls.lock().expect("calls").push("resume");
        Ok(())
    }
}

fn engine() -> (Arc<Engine>, shared::backend::local::LocalBackends, std::path::PathBuf) {
    let home = std::env::temp_dir().join(format!("baton-idle-{}", uuid::Uuid::new_v4().simple()));
    let b = shared::backend::local::LocalBackends::open(&home).expect("backends");
    let engine = Engine::new(EngineConfig {
        state: b.state.clone(),
        kv: b.state.clone(),
        storage: b.storage.clone(),
        queue: b.queue.clone(),
        registry: shared::plugins::Registry::builtin(),
        secrets: Default::default(),
        envs: Default::default(),
        work_root: home.join("work"),
        plugins: Default::default(),
        echo_logs: false,
        progress: None,
        wiring: Default::default(),
    });
    (engine, b, home)
}

#[tokio::test]
async fn the_sweep_job_runs_only_while_work_is_in_flight() {
    let (engine, b, home) = engine();
    let job = Arc::new(Recorder::default());
    let gate = IdleGate::new(job.clone(), Some(b.state.clone()));

    assert!(gate.sweep_finished(&engine).await.expect("sweep"), "nothing in flight: paused");
    assert_eq!(job.calls(), ["pause"]);
    gate.work_started(&engine).await.expect("work");
    gate.work_started(&engine).await.expect("more work");
    assert_eq!(job.calls(), ["pause", "resume"], "resumed once, then known to run");

    let mut e = Execution::new("e1".into(), "ns", "flow", 1, Default::default(), vec![], chrono::Utc::now());
    e.state.set(StateType::Running, chrono::Utc::now());
    shared::backend::StateStore::create_execution(b.state.as_ref(), &e).await.expect("create");
    assert!(!gate.sweep_finished(&engine).await.expect("sweep"), "an execution in flight keeps it running");
    assert_eq!(job.state(), "ENABLED");
    gate.work_started(&engine).await.expect("work");
    assert_eq!(job.calls(), ["pause", "resume"], "still marked running after a busy sweep");

    e.version = 1;
    e.state.set(StateType::Success, chrono::Utc::now());
    shared::backend::StateStore::save_execution(b.state.as_ref(), &e, &[]).await.expect("end");
    assert!(gate.sweep_finished(&engine).await.expect("sweep"));
    assert_eq!(job.state(), "PAUSED");
    let _ = std::fs::remove_dir_all(home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_that_lands_after_a_concurrent_resume_is_undone() {
    let (engine, b, home) = engine();
    let job = Arc::new(Recorder::default());
    let gate = IdleGate::new(job.clone(), Some(b.state.clone()));
    gate.work_started(&engine).await.expect("work");
    let hold = Arc::new(Notify::new());
    *job.hold_pause.lock().expect("hold") = Some(hold.clone());
    // the sweep found nothing and is pausing; its call is slow
    let sweep = {
        let (gate, engine) = (gate.clone(), engine.clone());
        tokio::spawn(async move { gate.sweep_finished(&engine).await })
    };
    job.entered_pause.notified().await;
    // meanwhile an execution starts: its resume reaches Cloud Scheduler first
    gate.work_started(&engine).await.expect("work");
    hold.notify_one();
    let paused = sweep.await.expect("join").expect("sweep");
    assert!(!paused, "the sweep saw the work start");
    assert_eq!(job.calls(), ["resume", "resume", "pause", "resume"], "the late pause is followed by a resume");
    assert_eq!(job.state(), "ENABLED", "work in flight keeps its sweep");
    let _ = std::fs::remove_dir_all(home);
}

/// A PAUSED execution costs nothing while it waits for a resume: without a
/// Pause timer the last sweep pauses the job; with one, the job runs and
/// the sweep wakes the execution once the timer is due.
#[tokio::test]
async fn a_paused_execution_keeps_the_sweep_only_while_its_timer_waits() {
    let (engine, b, home) = engine();
    let job = Arc::new(Recorder::default());
    let gate = IdleGate::new(job.clone(), Some(b.state.clone()));
    gate.work_started(&engine).await.expect("work");
    let now = chrono::Utc::now();
    let mut e = Execution::new("p1".into(), "ns", "flow", 1, Default::default(), vec![], now);
    e.state.set(StateType::Paused, now);
    let mut tr = shared::model::TaskRun {
        id: "tr1".into(),
        execution_id: "p1".into(),
        namespace: "ns".into(),
        flow_id: "flow".into(),
        task_id: "pause".into(),
        parent_task_run_id: None,
        value: None,
        attempts: Default::default(),
        outputs: None,
        state: shared::model::State::new(StateType::Created, now),
        iteration: Some(0),
        next_retry_date: None,
        error: None,
        evaluated: Some(std::sync::Arc::new(serde_json::json!({"pause": {}}))),
    };
    tr.state.set(StateType::Paused, now);
    e.task_run_list.push(tr);
    shared::backend::StateStore::create_execution(b.state.as_ref(), &e).await.expect("create");
    assert!(gate.sweep_finished(&engine).await.expect("sweep"), "paused without a timer: nothing in flight");
    assert_eq!(job.state(), "PAUSED");

    // the same execution with a timer due a second ago
    let mut stored =
        shared::backend::StateStore::load_execution(b.state.as_ref(), "p1").await.expect("load").expect("p1");
    let due = (now - chrono::Duration::seconds(1)).to_rfc3339();
    stored.task_run_list[0].evaluated =
        Some(std::sync::Arc::new(serde_json::json!({"pause": {"until": due, "to": "SUCCESS"}})));
    shared::backend::StateStore::save_execution(b.state.as_ref(), &stored, &["tr1".to_string()]).await.expect("save");
    gate.work_started(&engine).await.expect("work");
    assert!(!gate.sweep_finished(&engine).await.expect("sweep"), "a Pause timer keeps the sweep running");
    assert_eq!(job.state(), "ENABLED");
    let report =
        shared::functions::sweep::sweep(&engine, "test-sweeper", chrono::Duration::seconds(30)).await.expect("sweep");
    assert_eq!(report.paused, 1, "the due Pause is woken");
    let _ = std::fs::remove_dir_all(home);
}
