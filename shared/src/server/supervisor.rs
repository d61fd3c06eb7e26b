//! Runs the server's backfills: one runner task per RUNNING backfill,
//! started when a backfill is created or resumed, and by a sweep that also
//! picks up backfills left RUNNING by a previous process (so a restarted
//! server finishes them). A runner that cannot run yet (its flow is not
//! loaded) is retried by later sweeps; its problem is logged once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::backend::schedule::{BackfillState, TriggerStore};
use crate::runtime::backfill::run_backfill;
use crate::runtime::engine::Engine;

/// The running backfill runners, and whether the supervisor was stopped:
/// one lock, so no runner can start after [`BackfillSupervisor::abort_all`]
/// (a sweep already past its await could otherwise start one on a dead
/// engine).
#[derive(Default)]
struct Runners {
    handles: HashMap<String, JoinHandle<()>>,
    stopped: bool,
}

/// The backfill runners of one server.
pub struct BackfillSupervisor {
    engine: Arc<Engine>,
    store: Arc<dyn TriggerStore>,
    runners: Mutex<Runners>,
    /// The last problem logged per backfill (logged once).
    problems: Arc<Mutex<HashMap<String, String>>>,
}

impl BackfillSupervisor {
    pub fn new(engine: Arc<Engine>, store: Arc<dyn TriggerStore>) -> BackfillSupervisor {
        BackfillSupervisor {
            engine,
            store,
            runners: Mutex::new(Runners::default()),
            problems: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn runners(&self) -> MutexGuard<'_, Runners> {
        self.runners.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a runner for backfill `id` unless one is running.
    pub fn ensure(&self, id: &str) {
        let mut runners = self.runners();
        if runners.stopped || runners.handles.get(id).is_some_and(|h| !h.is_finished()) {
            return;
        }
        let (engine, store, problems, bid) =
            (self.engine.clone(), self.store.clone(), self.problems.clone(), id.to_string());
        let handle = tokio::spawn(async move {
            match run_backfill(&engine, store.as_ref(), &bid, &mut |_| {}).await {
                Ok(_) => {
                    problems.lock().unwrap_or_else(PoisonError::into_inner).remove(&bid);
                }
                Err(e) => {
                    let msg = e.to_string();
                    let mut p = problems.lock().unwrap_or_else(PoisonError::into_inner);
                    if p.get(&bid) != Some(&msg) {
                        tracing::error!(backfill_id = %bid, error = %msg, "backfill cannot run (retried)");
                        p.insert(bid, msg);
                    }
                }
            }
        });
        runners.handles.insert(id.to_string(), handle);
    }

    /// Starts runners for every RUNNING backfill without one.
    pub async fn sweep(&self) {
        match self.store.list_backfills(Some(BackfillState::Running)).await {
            Ok(list) => {
                for b in list {
                    self.ensure(&b.id);
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list backfills"),
        }
        self.runners().handles.retain(|_, h| !h.is_finished());
    }

    /// Sweeps every `every` until aborted.
    pub fn spawn(self: Arc<Self>, every: Duration) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                self.sweep().await;
            }
        })
    }

    /// Stops every runner now (their backfills stay RUNNING for the next start).
    pub fn abort_all(&self) {
        let mut runners = self.runners();
        runners.stopped = true;
        for (_, h) in runners.handles.drain() {
            h.abort();
        }
    }
}
