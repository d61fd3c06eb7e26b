//! The executor's tests taking a step as an instance that kept nothing
//! would (`partial`): the task runs events changed loaded, then what each
//! round needs, from the whole execution; and the check that such a step
//! decided as the step on the whole.

use chrono::{DateTime, Utc};

use super::partial;
use super::{StepEnv, StepOptions, Transition};
use baton_model::{Execution, Flow, TaskRun};

/// A step on a partly loaded execution, as an instance that kept nothing
/// takes it: the task runs at `dirty` loaded, then what each round needs,
/// from `full`.
pub(super) struct Cold {
    /// The decision and the state kept after it; `None`: it needed every
    /// task run.
    pub outcome: Option<(Box<Transition>, partial::StepState)>,
    /// Task runs loaded, those at `dirty` included.
    pub loaded: usize,
    pub rounds: usize,
}

pub(super) fn cold_step(
    flow: &Flow,
    full_exec: &Execution,
    state: &partial::StepState,
    dirty: &[usize],
    now: DateTime<Utc>,
    env: &dyn StepEnv,
) -> Cold {
    use partial::{Need, Partial, is_placeholder, placeholder, step_partial};
    let full = &full_exec.task_run_list;
    let mut list = vec![placeholder(); full.len()];
    for &p in dirty {
        list[p] = full[p].clone();
    }
    let mut loaded = dirty.len();
    let mut absent = std::collections::HashSet::new();
    for rounds in 1..=64 {
        let mut exec = full_exec.head_clone();
        exec.task_run_list = list.clone();
        let needs = match step_partial(flow, exec, state, dirty, absent.clone(), now, env, StepOptions::default()) {
            Partial::Done(t, kept) => return Cold { outcome: Some((t, kept)), loaded, rounds },
            Partial::Need(needs) => needs,
        };
        let mut progress = false;
        let before = list.clone();
        for n in needs {
            let set = |keep: &dyn Fn(&TaskRun) -> bool| -> Vec<usize> {
                (0..full.len()).filter(|p| keep(&full[*p])).collect()
            };
            let at: Vec<usize> = match &n {
                Need::All => return Cold { outcome: None, loaded, rounds },
                Need::Task(id) => set(&|t| t.task_id == *id),
                Need::States(s) => set(&|t| s.contains(&t.state.current)),
                Need::Id(id) => full.iter().rposition(|t| t.id == *id).into_iter().collect(),
                Need::Slot { task_id, parent, value } => full
                    .iter()
                    .rposition(|t| t.task_id == *task_id && t.parent_task_run_id == *parent && t.value == *value)
                    .into_iter()
                    .collect(),
            };
            let one = matches!(n, Need::Id(_) | Need::Slot { .. });
            for p in &at {
                if is_placeholder(&list[*p]) {
                    list[*p] = full[*p].clone();
                    loaded += 1;
                    progress = true;
                } else {
                    assert!(!one || is_placeholder(&before[*p]), "round {rounds} needs {n:?}, loaded at {p}");
                }
            }
            if !one || at.is_empty() {
                progress |= absent.insert(n);
            }
        }
        assert!(progress, "round {rounds} needs nothing new");
    }
    panic!("a partly loaded step still needs task runs after 64 rounds");
}

/// A step on a partly loaded execution decided as the step on the whole.
pub(super) fn same_decision(t: &Transition, whole: &Transition) {
    use partial::is_placeholder;
    let (mut head, mut whole_head) = (t.execution.head_clone(), whole.execution.head_clone());
    head.version = 0;
    whole_head.version = 0;
    assert_eq!(head, whole_head, "a partly loaded step decided otherwise");
    let (runs, all) = (&t.execution.task_run_list, &whole.execution.task_run_list);
    assert_eq!(runs.len(), all.len(), "a partly loaded step created otherwise");
    for (p, (a, b)) in runs.iter().zip(all).enumerate() {
        assert!(is_placeholder(a) || a == b, "a partly loaded step left task run {p} otherwise: {a:?}, not {b:?}");
    }
    assert_eq!(t.actions, whole.actions, "a partly loaded step acted otherwise");
    assert_eq!(t.changed, whole.changed);
    assert_eq!(t.execution_changed, whole.execution_changed);
    for id in &t.changed {
        assert!(runs.iter().any(|r| r.id == *id), "changed task run {id} not loaded");
    }
}
