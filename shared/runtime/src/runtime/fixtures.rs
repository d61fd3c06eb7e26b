//! Mocked tasks of flow unit tests (`baton test`, Kestra's `fixtures.tasks`):
//! the engine keeps, per execution, the tasks a test case mocks, and the
//! worker consults it before running an attempt ([`mocked`]). A mocked task
//! ends in the fixture's state with the fixture's outputs (rendered, with
//! the case's `files`) and never runs its plugin. The executor stays pure:
//! it sees an ordinary result.
//!
//! Regular executions have no entry: the lookup is one atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::engine::Engine;
use super::messages::{TaskResult, WorkerJob};
use crate::model::StateType;

/// One mocked task of a test case.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskMock {
    pub task_id: String,
    /// Only the task runs of this value (`taskrun.value`, in a ForEach).
    pub value: Option<String>,
    /// SUCCESS, WARNING, FAILED or KILLED.
    pub state: StateType,
    /// The outputs, as written (rendered when the task is reached).
    pub outputs: Map<String, Value>,
}

/// What one test case's execution mocks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutionMocks {
    pub tasks: Vec<TaskMock>,
    /// The case's `files`: name → `kestra://` URI (the `files` variable).
    pub files: Map<String, Value>,
}

impl ExecutionMocks {
    /// The mock for a task run of `task_id` with `value`, if any: one with
    /// this value first, then one for every value.
    pub fn find(&self, task_id: &str, value: Option<&str>) -> Option<&TaskMock> {
        let mut of_task = self.tasks.iter().filter(|m| m.task_id == task_id);
        let exact = of_task.clone().find(|m| m.value.is_some() && m.value.as_deref() == value);
        exact.or_else(|| of_task.find(|m| m.value.is_none()))
    }
}

/// The mocks of the executions under test, by execution id.
#[derive(Default)]
pub struct MockTable {
    any: AtomicBool,
    by_execution: RwLock<HashMap<String, Arc<ExecutionMocks>>>,
}

impl MockTable {
    /// Registers the mocks of an execution (before it is launched).
    pub fn insert(&self, execution_id: &str, mocks: ExecutionMocks) {
        let mut m = self.by_execution.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.insert(execution_id.to_string(), Arc::new(mocks));
        self.any.store(true, Ordering::Release);
    }

    /// Forgets an execution's mocks (once it is over).
    pub fn remove(&self, execution_id: &str) {
        let mut m = self.by_execution.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.remove(execution_id);
    }

    /// The mocks of an execution, if it has any.
    pub fn of(&self, execution_id: &str) -> Option<Arc<ExecutionMocks>> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let m = self.by_execution.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.get(execution_id).cloned()
    }
}

/// The result of a mocked attempt, or `None` when the task is not mocked.
pub fn mocked(engine: &Engine, job: &WorkerJob, start: DateTime<Utc>) -> Option<TaskResult> {
    let mocks = engine.mocks.of(&job.execution_id)?;
    let context = job.context.value();
    let value = context.pointer("/taskrun/value").and_then(|v| match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    });
    let mock = mocks.find(&job.task.id, value.as_deref())?;
    let mut ctx = context.into_owned();
    if let Some(o) = ctx.as_object_mut() {
        o.insert("envs".into(), Value::Object(engine.envs.clone()));
        o.insert("files".into(), Value::Object(mocks.files.clone()));
    }
    let outputs = match engine.renderer.render_value(&Value::Object(mock.outputs.clone()), &ctx, engine.host.as_ref()) {
        Ok(Value::Object(o)) => o,
        Ok(_) => Map::new(),
        Err(e) => {
            let msg = format!("task '{}': the test fixture's outputs do not render: {e}", job.task.id);
            return Some(super::worker::ended_result(StateType::Failed, Map::new(), Some(msg), start, Utc::now()));
        }
    };
    let error =
        mock.state.is_failed().then(|| format!("task '{}' mocked {:?} by the test fixture", job.task.id, mock.state));
    Some(super::worker::ended_result(mock.state, outputs, error, start, Utc::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock(id: &str, value: Option<&str>) -> TaskMock {
        TaskMock {
            task_id: id.into(),
            value: value.map(str::to_string),
            state: StateType::Success,
            outputs: Map::new(),
        }
    }

    #[test]
    fn a_mock_with_a_value_wins_over_one_for_every_value() {
        let m = ExecutionMocks { tasks: vec![mock("t", None), mock("t", Some("b"))], files: Map::new() };
        assert_eq!(m.find("t", Some("b")).and_then(|m| m.value.as_deref()), Some("b"));
        assert_eq!(m.find("t", Some("a")).map(|m| m.value.is_none()), Some(true));
        assert!(m.find("u", None).is_none());
        let only_b = ExecutionMocks { tasks: vec![mock("t", Some("b"))], files: Map::new() };
        assert!(only_b.find("t", Some("a")).is_none());
    }

    #[test]
    fn the_table_answers_only_for_registered_executions() {
        let t = MockTable::default();
        assert!(t.of("e").is_none());
        t.insert("e", ExecutionMocks::default());
        assert!(t.of("e").is_some());
        assert!(t.of("f").is_none());
        t.remove("e");
        assert!(t.of("e").is_none());
    }
}
