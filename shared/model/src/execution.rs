//! Executions and task runs in the JSON shape of Kestra's
//! `GET /api/v1/executions/{id}`, plus the few fields Baton needs to drive
//! them (retry dates, the revision pinned, a version for compare-and-swap).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thin_vec::ThinVec;

use super::state::{State, StateType};

/// A `{key, value}` label, as Kestra lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub key: String,
    pub value: String,
}

/// What started an execution: `{id, type, variables}` in Kestra's JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerContext {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub variables: Map<String, Value>,
}

/// One attempt of a task run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub state: State,
    /// The worker that claimed this attempt (Baton extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// Kestra's `logFile`: the attempt's log file in internal storage
    /// (its lines past the log volume bound, or all with `logToFile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
}

/// One run of one task (one per iteration value inside a ForEach).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRun {
    pub id: String,
    pub execution_id: String,
    pub namespace: String,
    pub flow_id: String,
    pub task_id: String,
    #[serde(default)]
    pub parent_task_run_id: Option<String>,
    /// The ForEach iteration value this run belongs to, as a string.
    #[serde(default)]
    pub value: Option<String>,
    /// A pointer wide (`ThinVec`), as a state's history: most task runs
    /// held in memory have one attempt or none.
    #[serde(default)]
    pub attempts: ThinVec<Attempt>,
    /// Boxed: most task runs in memory have none or are trimmed, and a
    /// map in place would cost every one of them (a loop may hold 100,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Box<Map<String, Value>>>,
    pub state: State,
    /// Order of creation inside the execution (Baton extension, for stable listing).
    /// (`u32`: an execution is bounded far below its range, and the field
    /// is half the size of a `usize`'s option.)
    #[serde(default)]
    pub iteration: Option<u32>,
    /// When a RETRYING task run may start its next attempt (Baton extension).
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "crate::date_text::write_opt")]
    pub next_retry_date: Option<DateTime<Utc>>,
    /// Why the last attempt failed, for humans (Baton extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What a flowable evaluated once (ForEach values, If result, Switch
    /// case), so later steps never re-render it (Baton extension). Shared,
    /// not copied, by the clones made of its task run (a ForEach's values
    /// may be 100,000 items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated: Option<std::sync::Arc<Value>>,
}

impl TaskRun {
    /// The current attempt number, 1-based (0 before the first attempt).
    pub fn attempt_number(&self) -> u32 {
        self.attempts.len() as u32
    }
}

/// An execution of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub flow_revision: u32,
    #[serde(default)]
    pub inputs: Map<String, Value>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<TriggerContext>,
    pub state: State,
    #[serde(default)]
    pub task_run_list: Vec<TaskRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// The parent's Subflow task run, when this execution is a subflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task_run_id: Option<String>,
    pub original_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "crate::date_text::write_opt")]
    pub schedule_date: Option<DateTime<Utc>>,
    /// Why the execution failed when no task says so (concurrency, kill…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The flow's `SECRET` inputs: shown as `******` wherever the
    /// execution is shown, their values masked in logs and outputs. Not in
    /// Kestra's JSON (the API removes it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_inputs: Vec<String>,
    /// The state is terminal but the flow's `listeners` and
    /// `afterExecution` tasks still run: the end is announced once they are
    /// done, as Kestra's executor does (Baton extension).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ending: bool,
    /// The ids of the flow's SLAs already found violated and acted on, so
    /// a later step never acts (or logs) twice (Baton extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sla_violations: Vec<String>,
    /// The execution's own variables once a task changed them
    /// (`SetVariables`, `UnsetVariables`); until then `{{ vars }}` is the
    /// flow's `variables`, which Kestra copies into every new execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Map<String, Value>>,
    /// Compare-and-swap version, bumped by every persisted change.
    #[serde(default)]
    pub version: u64,
}

impl Execution {
    /// A copy without the task runs (they are stored apart). The
    /// destructuring is exhaustive on purpose: a field added to
    /// [`Execution`] fails to compile here until it is copied too.
    pub fn head_clone(&self) -> Execution {
        let Execution {
            id,
            namespace,
            flow_id,
            flow_revision,
            inputs,
            labels,
            trigger,
            state,
            task_run_list: _,
            outputs,
            parent_id,
            parent_task_run_id,
            original_id,
            schedule_date,
            error,
            secret_inputs,
            ending,
            sla_violations,
            variables,
            version,
        } = self;
        Execution {
            id: id.clone(),
            namespace: namespace.clone(),
            flow_id: flow_id.clone(),
            flow_revision: *flow_revision,
            inputs: inputs.clone(),
            labels: labels.clone(),
            trigger: trigger.clone(),
            state: state.clone(),
            task_run_list: Vec::new(),
            outputs: outputs.clone(),
            parent_id: parent_id.clone(),
            parent_task_run_id: parent_task_run_id.clone(),
            original_id: original_id.clone(),
            schedule_date: *schedule_date,
            error: error.clone(),
            secret_inputs: secret_inputs.clone(),
            ending: *ending,
            sla_violations: sla_violations.clone(),
            variables: variables.clone(),
            version: *version,
        }
    }

    /// A new execution in CREATED state.
    pub fn new(
        id: String,
        namespace: &str,
        flow_id: &str,
        revision: u32,
        inputs: Map<String, Value>,
        labels: Vec<Label>,
        now: DateTime<Utc>,
    ) -> Execution {
        Execution {
            original_id: id.clone(),
            id,
            namespace: namespace.to_string(),
            flow_id: flow_id.to_string(),
            flow_revision: revision,
            inputs,
            labels,
            trigger: None,
            state: State::new(StateType::Created, now),
            task_run_list: Vec::new(),
            outputs: None,
            parent_id: None,
            parent_task_run_id: None,
            schedule_date: None,
            error: None,
            secret_inputs: Vec::new(),
            ending: false,
            sla_violations: Vec::new(),
            variables: None,
            version: 0,
        }
    }

    /// True once the execution is over: a terminal state, and nothing left
    /// to run after it (listeners, afterExecution).
    pub fn is_done(&self) -> bool {
        self.state.is_terminal() && !self.ending
    }

    /// The inputs as shown: each `SECRET` one as `******`.
    pub fn shown_inputs(&self) -> Map<String, Value> {
        let mut inputs = self.inputs.clone();
        for id in &self.secret_inputs {
            if let Some(v) = inputs.get_mut(id)
                && !v.is_null()
            {
                *v = Value::String(super::flow::SECRET_MASK.to_string());
            }
        }
        inputs
    }

    pub fn task_run(&self, id: &str) -> Option<&TaskRun> {
        self.task_run_list.iter().rev().find(|t| t.id == id)
    }

    pub fn task_run_mut(&mut self, id: &str) -> Option<&mut TaskRun> {
        self.task_run_list.iter_mut().rev().find(|t| t.id == id)
    }

    /// Labels as a `{key: value}` map (the `labels` template variable).
    pub fn labels_map(&self) -> Map<String, Value> {
        self.labels.iter().map(|l| (l.key.clone(), Value::String(l.value.clone()))).collect()
    }

    /// What `{{ vars }}` reads: the execution's variables, else the flow's.
    pub fn variables_or<'a>(&'a self, flow_variables: &'a Map<String, Value>) -> &'a Map<String, Value> {
        self.variables.as_ref().unwrap_or(flow_variables)
    }

    /// Applies a task's change to the variables (starting from the flow's).
    pub fn change_variables(
        &mut self,
        flow_variables: &Map<String, Value>,
        change: &super::variables::VariablesChange,
    ) {
        let vars = self.variables.get_or_insert_with(|| flow_variables.clone());
        super::variables::apply(vars, change);
    }

    /// Sets a label, replacing an existing one with the same key.
    pub fn set_label(&mut self, key: &str, value: &str) {
        if let Some(l) = self.labels.iter_mut().find(|l| l.key == key) {
            l.value = value.to_string();
        } else {
            self.labels.push(Label { key: key.to_string(), value: value.to_string() });
        }
    }
}

#[cfg(test)]
mod tests {
    /// An execution in memory holds one `TaskRun` per task run (a loop
    /// may hold 100,000; finished ones trimmed to a few strings): their
    /// fixed size is most of a large loop's memory. It was 296 bytes before
    /// the attempts and the state's history became one word each and the
    /// iteration a `u32`.
    #[test]
    fn a_task_run_is_at_most_256_bytes() {
        let size = std::mem::size_of::<super::TaskRun>();
        assert!(size <= 256, "TaskRun is {size} bytes");
    }
}
