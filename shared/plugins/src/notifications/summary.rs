//! The execution summary the `…Execution` notification tasks send (Kestra's
//! `ExecutionService.executionMap`): the execution (this one, or
//! `executionId`), read from the state store; its duration as `H:mm:ss.SSS`;
//! its page in the UI when the engine knows its URL (`BATON_URL`, Kestra's
//! `kestra.url`); the last task run and whether it failed; the custom
//! message and fields.
//!
//! Another execution is waited for until it ends (or reaches the state
//! that fired the Flow trigger), as Kestra does: polled with a growing
//! delay (1 s doubling up to 15 s) for at most `MAX_NOTIFICATION_WAIT`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::{Declare, RunContext, TaskError, de};
use baton_backend::StateStore;
use baton_model::{Execution, StateType, TaskRun};

use crate::config::MAX_NOTIFICATION_WAIT as MAX_WAIT;

/// What the templates show of one execution.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    /// The execution's current state (`SUCCESS`, `FAILED`, `RUNNING`…).
    pub state: StateType,
    /// `H:mm:ss.SSS` from the first state to the last (or now).
    pub duration: String,
    pub start_date: DateTime<Utc>,
    /// The execution's page, when the engine knows its URL.
    pub link: Option<String>,
    /// The last task run considered (see [`pick_task_runs`]).
    pub last_task: Option<String>,
    /// The last task run, when it FAILED.
    pub first_failed: Option<String>,
    pub custom_message: Option<String>,
    pub custom_fields: Vec<(String, Value)>,
}

impl Summary {
    /// `[namespace] flow ➛ STATE`.
    pub fn title(&self) -> String {
        format!("[{}] {} ➛ {}", self.namespace, self.flow_id, self.state.as_str())
    }

    /// `Succeeded after D` or ``Failed on task `t` after D``.
    pub fn outcome(&self) -> String {
        match &self.first_failed {
            None => format!("Succeeded after {}", self.duration),
            Some(t) => format!("Failed on task `{t}` after {}", self.duration),
        }
    }

    /// The custom fields as text (a string as is, anything else as JSON).
    pub fn custom_text(&self) -> Vec<(String, String)> {
        self.custom_fields.iter().map(|(k, v)| (k.clone(), crate::de::value_to_string(v))).collect()
    }
}

/// Kestra's `State.humanDuration`: `H:mm:ss.SSS`.
pub fn human_duration(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    format!("{h}:{m:02}:{s:02}.{ms:03}")
}

/// The execution's page under `base` (`BATON_URL`).
pub fn execution_link(base: &str, e: &Execution) -> String {
    format!("{}/ui/main/executions/{}/{}/{}", base.trim_end_matches('/'), e.namespace, e.flow_id, e.id)
}

/// The task runs Kestra looks at: all of the current execution's; of
/// another, those in FAILED when any failed, else those in SUCCESS.
pub fn pick_task_runs(e: &Execution, current: bool) -> Vec<&TaskRun> {
    if current {
        return e.task_run_list.iter().collect();
    }
    let failed = e.task_run_list.iter().any(|t| t.state.current == StateType::Failed);
    let want = if failed { StateType::Failed } else { StateType::Success };
    e.task_run_list.iter().filter(|t| t.state.current == want).collect()
}

/// The summary of `e` (`current`: the execution running this task).
pub fn summarize(
    e: &Execution,
    current: bool,
    base_url: Option<&str>,
    now: DateTime<Utc>,
    custom_message: Option<String>,
    custom_fields: Vec<(String, Value)>,
) -> Summary {
    let start = e.state.start_date().unwrap_or(now);
    let end = if e.state.is_terminal() { e.state.last_date().unwrap_or(now) } else { now };
    let runs = pick_task_runs(e, current);
    let last = runs.last();
    Summary {
        id: e.id.clone(),
        namespace: e.namespace.clone(),
        flow_id: e.flow_id.clone(),
        state: e.state.current,
        duration: human_duration(end - start),
        start_date: start,
        link: base_url.filter(|b| !b.trim().is_empty()).map(|b| execution_link(b, e)),
        last_task: last.map(|t| t.task_id.clone()),
        first_failed: last.filter(|t| t.state.current == StateType::Failed).map(|t| t.task_id.clone()),
        custom_message,
        custom_fields,
    }
}

/// Kestra's check that a read execution is the one to report: the current
/// one as it is; one that fired a Flow trigger in the state that fired it
/// (any state for RUNNING); otherwise once it ended.
fn wanted(e: &Execution, current: bool, trigger_state: Option<&str>) -> bool {
    if current {
        return true;
    }
    match trigger_state {
        Some("RUNNING") => true,
        Some(s) => e.state.current.as_str() == s,
        None => e.state.is_terminal(),
    }
}

fn store(cx: &RunContext, task: &str) -> Result<Arc<dyn StateStore>, TaskError> {
    cx.services.executions.as_ref().and_then(|c| c.state_store()).ok_or_else(|| {
        TaskError::failed(format!("{task} reads the execution from the state store, and this runtime gives none"))
    })
}

/// The execution to report on (`execution_id`, default this one), waited
/// for as [`wanted`] says, and its summary.
pub async fn load(
    cx: &RunContext,
    task: &str,
    execution_id: Option<&str>,
    custom_message: Option<String>,
    custom_fields: Vec<(String, Value)>,
) -> Result<Summary, TaskError> {
    let id = execution_id.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(&cx.execution_id).to_string();
    let current = id == cx.execution_id;
    if current {
        cx.info("Loading execution data for the current execution.");
    }
    let trigger_state = cx.get("trigger").and_then(|t| t.get("state")).and_then(Value::as_str);
    let store = store(cx, task)?;
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        let found = store
            .load_execution(&id)
            .await
            .map_err(|e| TaskError::failed(format!("{task}: cannot read execution '{id}': {e}")))?;
        match found {
            Some(e) if wanted(&e, current, trigger_state) => {
                let base = cx.services.config.url.as_deref();
                return Ok(summarize(&e, current, base, Utc::now(), custom_message, custom_fields));
            }
            found => {
                if started.elapsed() + delay > MAX_WAIT {
                    let why = match found {
                        None => "it does not exist".to_string(),
                        Some(e) => format!("it is still {}", e.state.current.as_str()),
                    };
                    return Err(TaskError::failed(format!(
                        "Unable to find execution '{id}' to report on after waiting {} s (MAX_NOTIFICATION_WAIT): {why}",
                        MAX_WAIT.as_secs()
                    )));
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(15));
            }
        }
    }
}

/// What every `…Execution` task shares, `#[serde(flatten)]`ed into its
/// properties: which execution, and what is added to its summary.
#[derive(Debug, Clone, Default, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct SummaryProps {
    /// The execution to report on.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"{{ execution.id }}\"")]
    pub execution_id: Option<String>,
    /// Fields added to the summary.
    #[serde(default)]
    #[prop(kind = "Map")]
    pub custom_fields: Option<Value>,
    /// A message added to the summary.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub custom_message: Option<String>,
}

impl SummaryProps {
    /// The summary these properties ask for; `task` names the task in errors.
    pub async fn load(&self, cx: &RunContext, task: &str) -> Result<Summary, TaskError> {
        let fields = custom_fields(self.custom_fields.clone())?;
        load(cx, task, self.execution_id.as_deref(), self.custom_message.clone(), fields).await
    }
}

/// Kestra's `…Execution` tasks inherit `payload` from their webhook task
/// and overwrite it with the summary: a written one is said to be unused.
pub fn warn_replaced_payload(cx: &RunContext, task: &str, payload: Option<&Value>) {
    if payload.is_some_and(|v| !v.is_null()) {
        cx.warn(&format!(
            "payload is replaced by the execution summary (as Kestra's {task} does): use customMessage and customFields"
        ));
    }
}

/// `customFields` as rendered: a map (or a JSON text of one).
pub fn custom_fields(v: Option<Value>) -> Result<Vec<(String, Value)>, TaskError> {
    let v = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => serde_json::from_str::<Value>(&s)
            .map_err(|e| TaskError::property("customFields", format!("not a map: {e}")))?,
        Some(v) => v,
    };
    match v {
        Value::Object(m) => Ok(m.into_iter().collect()),
        other => Err(TaskError::property("customFields", format!("expected a map, found {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn execution(state: &str, runs: &[(&str, &str)]) -> Execution {
        let runs: Vec<Value> = runs
            .iter()
            .enumerate()
            .map(|(i, (task, st))| {
                json!({"id": format!("tr{i}"), "executionId": "E1", "namespace": "company.team", "flowId": "f",
                       "taskId": task, "state": {"current": st, "histories": []}})
            })
            .collect();
        serde_json::from_value(json!({
            "id": "E1", "namespace": "company.team", "flowId": "f", "flowRevision": 1, "originalId": "E1",
            "state": {"current": state, "histories": [
                {"state": "CREATED", "date": "2026-01-01T10:00:00Z"},
                {"state": "RUNNING", "date": "2026-01-01T10:00:01Z"},
                {"state": state, "date": "2026-01-01T11:02:03.456Z"}]},
            "taskRunList": runs,
        }))
        .unwrap()
    }

    #[test]
    fn durations_are_kestra_s_hms() {
        assert_eq!(human_duration(chrono::Duration::milliseconds(3_723_456)), "1:02:03.456");
        assert_eq!(human_duration(chrono::Duration::milliseconds(5)), "0:00:00.005");
    }

    #[test]
    fn another_execution_reports_its_last_failed_task() {
        let e = execution("FAILED", &[("a", "SUCCESS"), ("b", "FAILED"), ("c", "SUCCESS")]);
        let s = summarize(&e, false, Some("https://baton.example/"), Utc::now(), None, vec![]);
        assert_eq!(s.first_failed.as_deref(), Some("b"));
        assert_eq!(s.last_task.as_deref(), Some("b"));
        assert_eq!(s.duration, "1:02:03.456");
        assert_eq!(s.link.as_deref(), Some("https://baton.example/ui/main/executions/company.team/f/E1"));
        assert_eq!(s.outcome(), "Failed on task `b` after 1:02:03.456");
        let ok = execution("SUCCESS", &[("a", "SUCCESS"), ("b", "SUCCESS")]);
        let s = summarize(&ok, false, None, Utc::now(), None, vec![]);
        assert_eq!((s.first_failed, s.last_task.as_deref(), s.link), (None, Some("b"), None));
    }

    #[test]
    fn the_current_execution_reports_its_last_task_run_whatever_its_state() {
        let e = execution("RUNNING", &[("a", "FAILED"), ("alert", "RUNNING")]);
        let s = summarize(&e, true, None, Utc::now(), None, vec![]);
        assert_eq!((s.first_failed, s.last_task.as_deref()), (None, Some("alert")));
    }

    #[test]
    fn the_wanted_state_follows_the_flow_trigger() {
        let e = execution("RUNNING", &[]);
        assert!(!wanted(&e, false, None));
        assert!(wanted(&e, false, Some("RUNNING")));
        assert!(wanted(&e, true, None));
        let done = execution("WARNING", &[]);
        assert!(wanted(&done, false, None));
        assert!(!wanted(&done, false, Some("FAILED")));
    }

    #[test]
    fn custom_fields_are_a_map() {
        assert_eq!(custom_fields(Some(json!({"a": 1}))).unwrap(), vec![("a".to_string(), json!(1))]);
        assert_eq!(custom_fields(Some(json!("{\"b\": \"x\"}"))).unwrap(), vec![("b".to_string(), json!("x"))]);
        assert!(custom_fields(Some(json!([1]))).is_err());
    }
}
