//! `io.kestra.plugin.core.flow.Pause`, as Kestra runs it: the task run goes
//! PAUSED and with it the execution; nothing after it in its branch starts
//! (other parallel branches go on). It is moved on by a `Resume` event (the
//! API, the CLI, the `execution.Resume` task) with its `onResume` inputs,
//! or by its timer: `pauseDuration` (older `delay`) resumes it per
//! `behavior` (RESUME, WARN, FAIL, CANCEL), a task `timeout` alone fails it.
//! The timer is stored in the task run (`evaluated.pause.until`), so any
//! instance — or the GCP sweep — wakes it from stored state.
//!
//! Outputs (Kestra 1.x): `onResume` (the resume inputs) and `resumed`
//! (`{by, on, to}`; `by` — the authenticated user who resumed — is left
//! out when there is none, as Kestra leaves out its null). A Pause with child `tasks` (before Kestra 0.17) runs
//! them after it is resumed.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::{Block, Stepper, normalize};
use baton_model::duration;
use baton_model::flow::{Children, Input};
use baton_model::flowable::{Flowable, FlowableKind, Pause};
use baton_model::{Execution, Flow, StateType, Task, TaskRun};
use baton_template::inputs::{self, InputError};

/// Pause's `behavior` values and the state each resumes the task run to.
pub const BEHAVIORS: &[(&str, StateType)] = &[
    ("RESUME", StateType::Success),
    ("WARN", StateType::Warning),
    ("FAIL", StateType::Failed),
    ("CANCEL", StateType::Cancelled),
];

/// Why a paused execution could not be resumed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResumeError {
    /// Kestra's message (`ExecutionService.getExecutionIfPause`).
    #[error("Execution '{0}' is not paused, can't resume it")]
    NotPaused(String),
    #[error("task '{task}': invalid onResume inputs: {message}")]
    Definition { task: String, message: String },
    /// The given inputs do not fit `onResume`.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Inputs(Vec<InputError>),
}

/// The `onResume` input definitions of a Pause task (none if absent).
pub fn on_resume(task: &Task) -> Result<Vec<Input>, String> {
    match &task.flowable {
        Some(Flowable::Pause(Pause { on_resume: Some(v), .. })) => {
            // each as a flow's input is read, Kestra's older spellings included
            let items: Vec<Value> = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
            items.iter().map(Input::read).collect::<Result<_, _>>().map_err(|e| e.to_string())
        }
        _ => Ok(Vec::new()),
    }
}

/// The first PAUSED task run (Kestra resumes that one) and its task.
pub fn paused_task<'f>(flow: &'f Flow, exec: &Execution) -> Result<(String, &'f Task), ResumeError> {
    exec.task_run_list
        .iter()
        .filter(|tr| tr.state.current == StateType::Paused)
        .find_map(|tr| {
            // a WaitFor between two iterations is PAUSED too, but not resumable
            let pause = flow.find_task(&tr.task_id).filter(|t| t.flowable_kind() == Some(FlowableKind::Pause));
            pause.map(|t| (tr.id.clone(), t))
        })
        .filter(|_| exec.state.current == StateType::Paused)
        .ok_or_else(|| ResumeError::NotPaused(exec.id.clone()))
}

/// Validates `given` against the `onResume` inputs of the task run a
/// resume would move on: returns its id and the typed inputs.
pub fn resume_inputs(
    flow: &Flow,
    exec: &Execution,
    given: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<(String, Map<String, Value>), ResumeError> {
    let (id, task) = paused_task(flow, exec)?;
    let defs = on_resume(task).map_err(|message| ResumeError::Definition { task: task.id.clone(), message })?;
    let typed = inputs::resolve_inputs(&defs, given, now).map_err(ResumeError::Inputs)?;
    Ok((id, typed))
}

/// When the earliest PAUSED task run of `exec` resumes by itself, if any
/// has a timer (the GCP sweep wakes it then).
pub fn next_timer(exec: &Execution) -> Option<DateTime<Utc>> {
    exec.task_run_list.iter().filter(|tr| tr.state.current == StateType::Paused).filter_map(|tr| timer(tr).0).min()
}

/// The stored timer of a paused task run: when, and to which state.
pub(super) fn timer(tr: &TaskRun) -> (Option<DateTime<Utc>>, StateType) {
    let p = tr.evaluated.as_ref().and_then(|e| e.get("pause"));
    let until = p.and_then(|p| p.get("until")).and_then(Value::as_str).and_then(|s| s.parse().ok());
    let to = p
        .and_then(|p| p.get("to"))
        .and_then(|v| serde_json::from_value::<StateType>(v.clone()).ok())
        .unwrap_or(StateType::Success);
    (until, to)
}

fn has_children(task: &Task) -> bool {
    matches!(&task.children, Children::Tasks(t) if t.iter().any(|t| !t.disabled))
}

/// Moves a PAUSED task run on: `to` SUCCESS runs its child tasks (or ends
/// it SUCCESS without any); WARNING, FAILED and CANCELLED end it so.
fn resume_run(
    tr: &mut TaskRun,
    task: &Task,
    to: StateType,
    on_resume: Map<String, Value>,
    by: Option<&str>,
    now: DateTime<Utc>,
) {
    let mut outputs = tr.outputs.as_deref().cloned().unwrap_or_default();
    outputs.insert("onResume".into(), Value::Object(on_resume));
    let mut resumed = json!({"on": baton_template::inputs::format_datetime(now), "to": to.as_str()});
    if let (Some(by), Some(r)) = (by, resumed.as_object_mut()) {
        r.insert("by".into(), Value::String(by.to_string()));
    }
    outputs.insert("resumed".into(), resumed);
    tr.outputs = Some(Box::new(outputs));
    let state = match to {
        StateType::Success if has_children(task) => StateType::Running,
        s => s,
    };
    tr.state.set(state, now);
}

/// Applies a `Resume` event: the PAUSED task run `task_run_id` moves on
/// with `inputs` (already validated by [`resume_inputs`]); the execution
/// runs again unless another task run is still paused. A duplicate or late
/// event finds the task run no longer PAUSED and changes nothing.
pub(crate) fn apply_resume(
    flow: &Flow,
    exec: &mut Execution,
    task_run_id: &str,
    given: &Map<String, Value>,
    by: Option<&str>,
    now: DateTime<Utc>,
) -> (Vec<String>, bool) {
    let Some(task) = exec.task_run(task_run_id).and_then(|tr| flow.find_task(&tr.task_id)) else {
        return (Vec::new(), false);
    };
    let Some(tr) = exec.task_run_mut(task_run_id).filter(|tr| tr.state.current == StateType::Paused) else {
        return (Vec::new(), false);
    };
    resume_run(tr, task, StateType::Success, given.clone(), by, now);
    let exec_changed = sync_state(exec, now);
    (vec![task_run_id.to_string()], exec_changed)
}

/// PAUSED while any task run is, RUNNING again when none is; says whether
/// the execution's state changed.
fn sync_state(exec: &mut Execution, now: DateTime<Utc>) -> bool {
    let paused = exec.task_run_list.iter().any(|tr| tr.state.current == StateType::Paused);
    match (paused, exec.state.current) {
        (true, StateType::Running) => exec.state.set(StateType::Paused, now),
        (false, StateType::Paused) => exec.state.set(StateType::Running, now),
        _ => return false,
    }
    true
}

impl<'a> Stepper<'a> {
    /// Advances a Pause task run.
    pub(super) fn pause(&mut self, task: &'a Task, idx: usize, spec: &Pause) -> Block {
        let tr = &self.exec.task_run_list[idx];
        let was_paused = tr.state.histories.iter().any(|h| h.state == StateType::Paused);
        match tr.state.current {
            StateType::Created | StateType::Running if !was_paused => return self.start_pause(task, idx, spec),
            StateType::Paused => {
                let (until, to) = timer(tr);
                match until {
                    Some(at) if at <= self.now => {
                        let defaults = self.on_resume_defaults(task);
                        let now = self.now;
                        resume_run(&mut self.exec.task_run_list[idx], task, to, defaults, None, now);
                        self.mark(idx);
                    }
                    Some(at) => {
                        self.actions.push(super::Action::WakeAt(at));
                        return Block::Running;
                    }
                    None => return Block::Running,
                }
            }
            _ => {}
        }
        match self.exec.task_run_list[idx].state.current {
            StateType::Cancelled => {
                // CANCEL cancels the execution: nothing else starts
                self.cancelled = true;
                Block::Running
            }
            s if s.is_terminal() => Block::Done(normalize(s)),
            _ if !has_children(task) => Block::Done(StateType::Success),
            _ => self.children(task, idx),
        }
    }

    /// The task run goes PAUSED, its timer (if any) stored and armed.
    fn start_pause(&mut self, task: &'a Task, idx: usize, spec: &Pause) -> Block {
        let ctx = self.task_context(task, idx);
        let render = |key: &str, written: &Option<String>| -> Result<Option<String>, String> {
            match written {
                None => Ok(None),
                Some(v) => self
                    .env
                    .render(v, &ctx)
                    .map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty()))
                    .map_err(|e| format!("{key} of task '{}': {e}", task.id)),
            }
        };
        let decided = (|| {
            let duration = match render("pauseDuration", &spec.pause_duration)? {
                Some(d) => Some(d),
                None => render("delay", &spec.delay)?,
            };
            let behavior = render("behavior", &spec.behavior)?.unwrap_or_else(|| "RESUME".into());
            let Some((_, to)) = BEHAVIORS.iter().find(|(b, _)| *b == behavior) else {
                return Err(format!(
                    "behavior of task '{}': '{behavior}' is not one of RESUME, WARN, FAIL, CANCEL",
                    task.id
                ));
            };
            let parse = |d: &str, key: &str| {
                duration::parse_iso(d).map_err(|e| format!("{key} of task '{}': '{d}': {e}", task.id))
            };
            Ok(match (duration, task.timeout) {
                (Some(d), _) => Some((parse(&d, "pauseDuration")?, *to)),
                // a timeout alone fails the task (Kestra's `State.Type.fail`)
                (None, Some(t)) => Some((t, if task.allow_failure { StateType::Warning } else { StateType::Failed })),
                (None, None) => None,
            })
        })();
        let timer = match decided {
            Ok(t) => t,
            Err(e) => {
                self.fail(idx, e);
                return Block::Done(StateType::Failed);
            }
        };
        let mut stored = Map::new();
        if let Some((d, to)) = timer {
            let at = self.now + d;
            stored.insert("until".into(), json!(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
            stored.insert("to".into(), json!(to.as_str()));
            self.actions.push(super::Action::WakeAt(at));
        }
        self.exec.task_run_list[idx].evaluated = Some(std::sync::Arc::new(json!({ "pause": stored })));
        self.set_state(idx, StateType::Paused);
        self.actions.push(super::Action::Log {
            task_run_id: Some(self.exec.task_run_list[idx].id.clone()),
            task_id: Some(task.id.clone()),
            level: "INFO",
            message: match timer {
                Some((d, to)) => format!("Paused; resumes by itself at {} ({to}) unless resumed before", self.now + d),
                None => "Paused until resumed (UI, API, `baton executions resume`)".to_string(),
            },
        });
        Block::Running
    }

    /// What a timer's resume gives `onResume`: each input's default (null without).
    fn on_resume_defaults(&self, task: &Task) -> Map<String, Value> {
        on_resume(task)
            .unwrap_or_default()
            .into_iter()
            .map(|i| {
                let v = i.defaults.clone().unwrap_or(Value::Null);
                (i.id, v)
            })
            .collect()
    }

    /// After a walk that did not end: the execution is PAUSED while a task
    /// run is.
    pub(super) fn sync_paused(&mut self) {
        // a flow without a Pause never pauses: no walk over the task runs
        // (the flow's task index is its size, not the execution's)
        if !(self.flow.has_pause() || self.exec.state.current == StateType::Paused) {
            return;
        }
        self.index.need_states(|s| s == StateType::Paused);
        if sync_state(&mut self.exec, self.now) {
            self.execution_changed = true;
        }
    }
}
