//! The flow's task index: every task by id, built once per `Flow` value
//! (lazily, on the first lookup) instead of walking the whole task tree on
//! each one. A new revision is a new `Flow`, so the index never outlives
//! the tasks it describes; a clone starts without one.
//!
//! The index holds paths (positions from the flow's task lists down), not
//! references, so it lives inside the `Flow` it indexes. A lookup checks
//! the id it lands on and falls back to a walk if a flow was changed after
//! its index was built.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::flow::{Children, Flow, Task};
use super::types::FlowableKind;

/// A lazily built [`TaskIndex`]. Never part of a flow's identity: flows
/// compare equal whatever their cells hold, and a clone starts empty.
#[derive(Default)]
pub struct TaskIndexCell(OnceLock<TaskIndex>);

impl Clone for TaskIndexCell {
    fn clone(&self) -> Self {
        TaskIndexCell::default()
    }
}

impl PartialEq for TaskIndexCell {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for TaskIndexCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskIndexCell")
    }
}

/// Every task of a flow by id (the first one, if an id repeats), and what
/// the executor asks of the whole flow on each step.
#[derive(Debug, Default)]
pub struct TaskIndex {
    paths: HashMap<String, Box<[u32]>>,
    has_pause: bool,
}

/// The task at `i` in the flow's root lists, in `Flow::all_tasks` order:
/// tasks, errors, finally, afterExecution, then the listeners' tasks.
fn nth_root(flow: &Flow, mut i: usize) -> Option<&Task> {
    for list in [&flow.tasks, &flow.errors, &flow.finally, &flow.after_execution] {
        if i < list.len() {
            return list.get(i);
        }
        i -= list.len();
    }
    for l in &flow.listeners {
        if i < l.tasks.len() {
            return l.tasks.get(i);
        }
        i -= l.tasks.len();
    }
    None
}

/// The `i`-th direct child of `task`, in `Task::all_children` order.
fn nth_child(task: &Task, mut i: usize) -> Option<&Task> {
    let mut lists: [&[Task]; 2] = [&[], &[]];
    match &task.children {
        Children::None => {}
        Children::Tasks(t) => lists[0] = t,
        Children::If { then, else_ } => lists = [then, else_],
        Children::Switch { cases, defaults } => {
            for (_, t) in cases {
                if i < t.len() {
                    return t.get(i);
                }
                i -= t.len();
            }
            lists[0] = defaults;
        }
    }
    for list in lists.into_iter().chain([task.errors.as_slice(), task.finally.as_slice()]) {
        if i < list.len() {
            return list.get(i);
        }
        i -= list.len();
    }
    None
}

impl TaskIndex {
    fn build(flow: &Flow) -> TaskIndex {
        fn walk(t: &Task, path: &mut Vec<u32>, index: &mut TaskIndex) {
            // a WaitFor pauses between its iterations, as Kestra's does
            index.has_pause |= matches!(t.flowable_kind(), Some(FlowableKind::Pause | FlowableKind::WaitFor));
            index.paths.entry(t.id.clone()).or_insert_with(|| path.clone().into_boxed_slice());
            for (i, c) in t.all_children().into_iter().enumerate() {
                path.push(i as u32);
                walk(c, path, index);
                path.pop();
            }
        }
        let mut index = TaskIndex::default();
        let mut path = Vec::new();
        let mut i = 0;
        while let Some(t) = nth_root(flow, i) {
            path.push(i as u32);
            walk(t, &mut path, &mut index);
            path.pop();
            i += 1;
        }
        index
    }

    fn resolve<'f>(&self, flow: &'f Flow, id: &str) -> Option<&'f Task> {
        let path = self.paths.get(id)?;
        let (first, rest) = path.split_first()?;
        let mut t = nth_root(flow, *first as usize)?;
        for i in rest {
            t = nth_child(t, *i as usize)?;
        }
        Some(t)
    }
}

impl Flow {
    fn task_index(&self) -> &TaskIndex {
        self.task_index.0.get_or_init(|| TaskIndex::build(self))
    }

    /// The task `id` (the first one, if an id repeats), in O(depth).
    pub fn find_task(&self, id: &str) -> Option<&Task> {
        match self.task_index().resolve(self, id) {
            Some(t) if t.id == id => Some(t),
            // a flow changed after its index was built: walk it
            _ => self.all_tasks().into_iter().find(|t| t.id == id),
        }
    }

    /// True if a Pause task is anywhere in the flow.
    pub fn has_pause(&self) -> bool {
        self.task_index().has_pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_is_found_where_all_tasks_has_it() {
        let yaml = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.flow.If\n    condition: x\n    then:\n      - id: b\n        type: io.kestra.plugin.core.log.Log\n        message: m\n    else:\n      - id: c\n        type: io.kestra.plugin.core.flow.Switch\n        value: v\n        cases:\n          X:\n            - id: d\n              type: io.kestra.plugin.core.log.Log\n              message: m\n        defaults:\n          - id: e\n            type: io.kestra.plugin.core.flow.Pause\n    errors:\n      - id: g\n        type: io.kestra.plugin.core.log.Log\n        message: m\nerrors:\n  - id: h\n    type: io.kestra.plugin.core.log.Log\n    message: m\nfinally:\n  - id: i\n    type: io.kestra.plugin.core.log.Log\n    message: m\nafterExecution:\n  - id: j\n    type: io.kestra.plugin.core.log.Log\n    message: m\n";
        let (v, _) = crate::yaml::parse(yaml).expect("yaml");
        let (f, problems) = Flow::from_value(&v, yaml);
        assert!(problems.is_empty(), "{problems:?}");
        let f = f.expect("flow");
        let all: Vec<&str> = f.all_tasks().iter().map(|t| t.id.as_str()).collect();
        assert_eq!(all, ["a", "b", "c", "d", "e", "g", "h", "i", "j"]);
        for id in all {
            let t = f.find_task(id).expect(id);
            assert!(std::ptr::eq(t, *f.all_tasks().iter().find(|t| t.id == id).expect(id)), "{id}");
        }
        assert!(f.find_task("nope").is_none());
        assert!(f.has_pause());
        // a clone indexes itself, and a flow changed after its index was built is still answered right
        let mut g = f.clone();
        g.tasks.remove(0);
        assert!(!g.has_pause());
        let mut f = f;
        f.tasks.remove(0);
        assert!(f.find_task("b").is_none());
        assert_eq!(f.find_task("h").map(|t| t.id.as_str()), Some("h"));
    }
}
