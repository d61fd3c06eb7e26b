//! Events decided together. The embedded executor's lane takes every event
//! already waiting (up to [`MAX_BATCH`]) and hands each execution's run of
//! worker reports to one decision: one load, each event applied in order,
//! one step, one save — so a ForEach whose workers report faster than one
//! save per report pays one transaction for many. The step is the same
//! pure function: advancing as far as possible after several results is
//! what stepping after each of them reaches. Events that change what an
//! execution is (its creation, a kill, a resume, a ForEachItem's batches,
//! a wake that redispatches) are decided alone, in their place.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::messages::ExecutionEvent;

/// The most events one lane takes at once.
pub const MAX_BATCH: usize = 256;

/// Whether `ev` may share a decision with other events of its execution.
pub fn batchable(ev: &ExecutionEvent) -> bool {
    match ev {
        ExecutionEvent::TaskStarted { .. } | ExecutionEvent::TaskResult { .. } => true,
        ExecutionEvent::SubflowEnded { iteration, .. } => iteration.is_none(),
        ExecutionEvent::Wake { redispatch, .. } => !redispatch,
        _ => false,
    }
}

/// Splits `events` (in arrival order) into one sequence per execution,
/// executions in the order their first event arrived: each sequence holds
/// its execution's groups to decide, in order (consecutive batchable events
/// form one group, any other event is a group alone). Different
/// executions' sequences may be decided side by side.
pub fn sequences(events: Vec<ExecutionEvent>) -> Vec<Vec<Vec<ExecutionEvent>>> {
    // per execution, its groups in order; `at` finds an execution's entry
    // (a server's batch may hold a different execution in every event)
    let mut per: Vec<Vec<Vec<ExecutionEvent>>> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for ev in events {
        let i = *at.entry(ev.execution_id().to_string()).or_insert_with(|| {
            per.push(Vec::new());
            per.len() - 1
        });
        let gs = &mut per[i];
        let join = batchable(&ev) && gs.last().is_some_and(|g| g.last().is_some_and(batchable));
        match gs.last_mut() {
            Some(g) if join => g.push(ev),
            _ => gs.push(vec![ev]),
        }
    }
    per
}

/// Hands out [`Turn`]s in arrival order: executions created in one batch
/// are decided side by side, yet admitted under their flow's concurrency
/// limit in the order they were created (a FIFO queue of waiting
/// executions stays FIFO).
pub struct Turns {
    handed: u64,
    shared: Arc<Shared>,
}

/// The turns passed: every turn below `below` and those in `ahead`.
struct Shared {
    passed: Mutex<(u64, BTreeSet<u64>)>,
    below: watch::Sender<u64>,
}

impl Default for Turns {
    fn default() -> Self {
        Turns {
            handed: 0,
            shared: Arc::new(Shared { passed: Mutex::new((0, BTreeSet::new())), below: watch::Sender::new(0) }),
        }
    }
}

impl Turns {
    /// The turn after every turn handed out so far.
    pub fn next_turn(&mut self) -> Turn {
        let n = self.handed;
        self.handed += 1;
        Turn { place: Some((n, self.shared.clone())) }
    }
}

/// One execution's place in an ordering: [`Turn::wait`] returns once every
/// earlier turn passed; [`Turn::pass`] marks this one passed. Dropping a
/// turn passes it, so a decision that fails never blocks the later ones.
pub struct Turn {
    place: Option<(u64, Arc<Shared>)>,
}

impl Turn {
    /// A turn that waits for nothing (a decision taken alone).
    pub fn free() -> Turn {
        Turn { place: None }
    }

    /// Waits until every turn before this one passed.
    pub async fn wait(&self) {
        if let Some((n, shared)) = &self.place {
            let mut below = shared.below.subscribe();
            // the sender lives in `shared`, which this turn holds: never closed
            let _ = below.wait_for(|b| *b >= *n).await;
        }
    }

    /// Marks this turn passed (idempotent).
    pub fn pass(&mut self) {
        let Some((n, shared)) = self.place.take() else { return };
        let mut passed = shared.passed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (below, ahead) = &mut *passed;
        ahead.insert(n);
        let before = *below;
        while ahead.remove(below) {
            *below += 1;
        }
        if *below != before {
            shared.below.send_replace(*below);
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.pass();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::messages::TaskResult;

    fn started(exec: &str, tr: &str) -> ExecutionEvent {
        ExecutionEvent::TaskStarted {
            execution_id: exec.into(),
            task_run_id: tr.into(),
            attempt: 1,
            worker_id: "w".into(),
            at: chrono::Utc::now(),
        }
    }

    fn result(exec: &str, tr: &str) -> ExecutionEvent {
        let now = chrono::Utc::now();
        ExecutionEvent::TaskResult {
            execution_id: exec.into(),
            task_run_id: tr.into(),
            attempt: 1,
            result: TaskResult {
                state: crate::model::StateType::Success,
                outputs: Default::default(),
                error: None,
                labels: vec![],
                variables: None,
                start: now,
                end: now,
                log_file: None,
                metrics: Vec::new(),
                claim_left_open: false,
            },
        }
    }

    /// Every execution's groups, executions in arrival order.
    fn groups(events: Vec<ExecutionEvent>) -> Vec<Vec<ExecutionEvent>> {
        sequences(events).into_iter().flatten().collect()
    }

    fn ids(gs: &[Vec<ExecutionEvent>]) -> Vec<Vec<String>> {
        gs.iter()
            .map(|g| {
                g.iter()
                    .map(|e| match e {
                        ExecutionEvent::TaskStarted { execution_id, task_run_id, .. } => {
                            format!("{execution_id}:s:{task_run_id}")
                        }
                        ExecutionEvent::TaskResult { execution_id, task_run_id, .. } => {
                            format!("{execution_id}:r:{task_run_id}")
                        }
                        ExecutionEvent::Kill { execution_id } => format!("{execution_id}:kill"),
                        other => format!("{other:?}"),
                    })
                    .collect()
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn turns_go_in_the_order_they_were_handed_out_and_a_dropped_turn_passes() {
        let mut turns = Turns::default();
        let (mut a, b, c, mut d) = (turns.next_turn(), turns.next_turn(), turns.next_turn(), turns.next_turn());
        let order = Arc::new(Mutex::new(Vec::new()));
        let waiter = |mut t: Turn, name: &'static str| {
            let order = order.clone();
            tokio::spawn(async move {
                t.wait().await;
                order.lock().expect("order").push(name);
                t.pass();
            })
        };
        // c waits behind a and b, even when b is dropped before a passes
        let c = waiter(c, "c");
        drop(b);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(order.lock().expect("order").is_empty(), "c went before a passed");
        d.pass(); // passing out of order lets nobody through early
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(order.lock().expect("order").is_empty());
        a.wait().await; // the first turn waits for nothing
        order.lock().expect("order").push("a");
        a.pass();
        c.await.expect("c");
        // a turn after every passed one goes at once
        let e = waiter(turns.next_turn(), "e");
        e.await.expect("e");
        assert_eq!(*order.lock().expect("order"), vec!["a", "c", "e"]);
        Turn::free().wait().await;
    }

    #[test]
    fn an_executions_reports_share_one_decision_and_keep_their_order() {
        let evs = vec![started("a", "1"), started("b", "1"), result("a", "1"), started("a", "2"), result("b", "1")];
        assert_eq!(
            ids(&groups(evs)),
            vec![vec!["a:s:1", "a:r:1", "a:s:2"], vec!["b:s:1", "b:r:1"]],
            "grouped per execution, in arrival order within each"
        );
    }

    #[test]
    fn a_kill_or_a_creation_is_decided_alone_in_its_place() {
        let kill = ExecutionEvent::Kill { execution_id: "a".into() };
        let created = ExecutionEvent::Created { execution_id: "c".into() };
        let evs = vec![result("a", "1"), kill, result("a", "2"), created.clone()];
        let gs = groups(evs);
        assert_eq!(ids(&gs)[..3], vec![vec!["a:r:1"], vec!["a:kill"], vec!["a:r:2"]]);
        assert_eq!(gs[3], vec![created]);
        let wake = ExecutionEvent::Wake { execution_id: "a".into(), redispatch: true };
        assert!(!batchable(&wake), "a redispatching wake decides alone");
        assert!(batchable(&ExecutionEvent::Wake { execution_id: "a".into(), redispatch: false }));
    }
}
