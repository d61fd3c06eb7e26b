//! `io.kestra.plugin.core.flow.Dag`: each task starts once every task it
//! `dependsOn` is done, at most `concurrent` at a time (0: no limit), as
//! Kestra's `resolveDagNexts`. After a failure nothing new starts; the Dag
//! fails once its running tasks end. Walked whole at each step: its cost
//! is the Dag's size in the flow, never the execution's.

use std::collections::HashMap;

use super::{Block, Stepper, worst};
use baton_model::flow::Children;
use baton_model::{StateType, Task};

/// The tasks in an order where each comes after what it depends on (the
/// file's order among the ready ones); `None` on a cycle (the validator
/// refuses those).
fn order(tasks: &[Task]) -> Option<Vec<usize>> {
    let mut placed = vec![false; tasks.len()];
    let mut out = Vec::with_capacity(tasks.len());
    while out.len() < tasks.len() {
        let next = (0..tasks.len()).find(|&i| {
            !placed[i] && tasks[i].depends_on.iter().all(|d| tasks.iter().zip(&placed).any(|(t, p)| *p && t.id == *d))
        })?;
        placed[next] = true;
        out.push(next);
    }
    Some(out)
}

impl<'a> Stepper<'a> {
    /// Advances a Dag task run.
    pub(super) fn dag(&mut self, task: &'a Task, idx: usize, limit: usize) -> Block {
        let Children::Tasks(tasks) = &task.children else { return Block::Done(StateType::Success) };
        let Some(order) = order(tasks) else {
            self.fail(idx, format!("task '{}': Cyclic dependency detected in its dependsOn", task.id));
            return Block::Done(StateType::Failed);
        };
        let (parent, value) = self.slot_of(idx);
        let found: Vec<Option<usize>> =
            tasks.iter().map(|t| self.find(&t.id, Some(&parent), value.as_deref())).collect();
        let mut running = found.iter().flatten().filter(|&&i| !self.exec.task_run_list[i].state.is_terminal()).count();
        let mut done: HashMap<&str, StateType> = HashMap::new();
        let (mut failed, mut waiting, mut state) = (false, false, StateType::Success);
        for i in order {
            let t = &tasks[i];
            if t.disabled {
                done.insert(&t.id, StateType::Success);
                continue;
            }
            let block = match found[i] {
                Some(at) => {
                    let was_running = !self.exec.task_run_list[at].state.is_terminal();
                    let b = self.advance(t, at);
                    if was_running && b != Block::Running {
                        running -= 1;
                    }
                    b
                }
                None => {
                    let ready =
                        t.depends_on.iter().all(|d| done.get(d.as_str()).is_some_and(|s| *s != StateType::Failed));
                    if failed || !ready || (limit > 0 && running >= limit) {
                        waiting = true;
                        continue;
                    }
                    let at = self.create(t, Some(&parent), value.as_deref());
                    let b = self.advance(t, at);
                    if b == Block::Running {
                        running += 1;
                    }
                    b
                }
            };
            match block {
                Block::Running => {}
                Block::Done(StateType::Failed) => {
                    failed = true;
                    done.insert(&t.id, StateType::Failed);
                }
                Block::Done(s) => {
                    state = worst(state, s);
                    done.insert(&t.id, s);
                }
            }
        }
        if running > 0 {
            Block::Running
        } else if failed {
            Block::Done(StateType::Failed)
        } else if waiting {
            Block::Running
        } else {
            Block::Done(state)
        }
    }
}
