//! `io.kestra.plugin.core.flow.WaitFor`, as Kestra 1.x runs it: its tasks
//! run in order, then `condition` is rendered; while it is false (and
//! neither `checkFrequency.maxIterations` nor `maxDuration` is reached)
//! the task run waits `interval` and runs them again. A failed child ends
//! it FAILED (its `errors` run); reaching a maximum ends it SUCCESS, or
//! FAILED with `failOnMaxReached`. Its output `iterationCount` is the
//! current iteration (1 first), readable by its children.
//!
//! Each iteration's task runs are new ones: their slot's value is the
//! iteration number (the template context shows the WaitFor's own value as
//! `taskrun.value`, and the number as `taskrun.iteration`). Between two
//! iterations the task run is PAUSED with its wake-up time stored like a
//! Pause's (`evaluated.pause.until`): no worker or thread is held, and any
//! instance — or the GCP sweep, through `executor::next_timer` — wakes it
//! from stored state.

use chrono::Duration;
use serde_json::{Map, Value, json};

use super::{Block, Stepper, truthy};
use baton_model::duration;
use baton_model::flow::{Children, scalar_string};
use baton_model::flowable::WaitFor;
use baton_model::{StateType, Task};

/// Kestra's `checkFrequency` defaults.
const MAX_ITERATIONS: u64 = 100;
const MAX_DURATION_SECS: i64 = 3600;
const INTERVAL_SECS: i64 = 1;

/// A WaitFor's `checkFrequency`, its defaults applied.
struct Frequency {
    max_iterations: u64,
    max_duration: Duration,
    interval: Duration,
}

/// The iteration a WaitFor task run is in (1 first).
fn iteration(outputs: Option<&Map<String, Value>>) -> u64 {
    outputs.and_then(|o| o.get("iterationCount")).and_then(Value::as_u64).unwrap_or(1)
}

impl<'a> Stepper<'a> {
    /// Advances a WaitFor task run.
    pub(super) fn wait_for(&mut self, task: &'a Task, idx: usize, spec: &WaitFor, until: bool) -> Block {
        let Children::Tasks(tasks) = &task.children else { return Block::Done(StateType::Success) };
        if self.exec.task_run_list[idx].outputs.is_none() {
            self.exec.task_run_list[idx].outputs =
                Some(Box::new(Map::from_iter([("iterationCount".into(), json!(1))])));
            self.mark(idx);
        }
        let mut n = iteration(self.exec.task_run_list[idx].outputs.as_deref());
        if self.exec.task_run_list[idx].state.current == StateType::Paused {
            match super::pause::timer(&self.exec.task_run_list[idx]).0 {
                Some(at) if at > self.now => {
                    self.actions.push(super::Action::WakeAt(at));
                    return Block::Running;
                }
                _ => {
                    n += 1;
                    let tr = &mut self.exec.task_run_list[idx];
                    tr.outputs = Some(Box::new(Map::from_iter([("iterationCount".into(), json!(n))])));
                    tr.evaluated = None;
                    self.set_state(idx, StateType::Running);
                }
            }
        }
        let (tr_id, _) = self.slot_of(idx);
        let state = match self.sequence(tasks, Some(&tr_id), Some(&n.to_string())) {
            Block::Running => return Block::Running,
            // a child that did not succeed ends the loop (Kestra's
            // `childTaskRunExecuted` wants them all SUCCESS)
            Block::Done(s) if s != StateType::Success => return Block::Done(s),
            Block::Done(s) => s,
        };
        let freq = match self.frequency(task, idx, spec, until) {
            Ok(f) => f,
            Err(e) => {
                self.fail(idx, e);
                return Block::Done(StateType::Failed);
            }
        };
        let tr = &self.exec.task_run_list[idx];
        let started = tr.state.histories.first().map_or(self.now, |h| h.date);
        let reached = n >= freq.max_iterations || started + freq.max_duration < self.now;
        if !reached {
            let ctx = self.task_context(task, idx);
            let met = match self.env.render(&spec.condition, &ctx) {
                Ok(r) => truthy(&r),
                Err(e) => {
                    self.fail(idx, format!("condition of task '{}': {e}", task.id));
                    return Block::Done(StateType::Failed);
                }
            };
            if !met {
                let at = self.now + freq.interval;
                let until = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                self.exec.task_run_list[idx].evaluated = Some(std::sync::Arc::new(json!({"pause": {"until": until}})));
                self.set_state(idx, StateType::Paused);
                self.actions.push(super::Action::WakeAt(at));
                return Block::Running;
            }
        }
        let fail_on_max = spec.fail_on_max_reached.unwrap_or(false);
        if reached {
            let why = if n >= freq.max_iterations { "Max iterations reached" } else { "Max duration reached" };
            self.actions.push(super::Action::Log {
                task_run_id: Some(tr_id),
                task_id: Some(task.id.clone()),
                level: "WARN",
                message: format!("{why} ({n} iterations)"),
            });
            if fail_on_max {
                self.fail(idx, format!("task '{}': {why} after {n} iterations (failOnMaxReached)", task.id));
                return Block::Done(StateType::Failed);
            }
        }
        Block::Done(state)
    }

    /// `checkFrequency`, each value rendered if it is a template, with
    /// LoopUntil's defaults when `until`.
    fn frequency(&self, task: &Task, idx: usize, spec: &WaitFor, until: bool) -> Result<Frequency, String> {
        let freq = spec.check_frequency.as_ref();
        let ctx = std::cell::OnceCell::new();
        let get = |key: &str| -> Result<Option<String>, String> {
            let Some(v) = freq.and_then(|f| f.get(key)).filter(|v| !v.is_null()) else { return Ok(None) };
            let s = scalar_string(v);
            if !baton_template::is_template(&s) {
                return Ok(Some(s));
            }
            let ctx = ctx.get_or_init(|| self.context(Some(idx)));
            self.env.render(&s, ctx).map(Some).map_err(|e| format!("checkFrequency.{key} of task '{}': {e}", task.id))
        };
        let dur = |key: &str, default: i64| -> Result<Duration, String> {
            match get(key)? {
                None => Ok(Duration::seconds(default)),
                Some(s) => duration::parse_iso(s.trim())
                    .map_err(|e| format!("checkFrequency.{key} of task '{}': '{s}': {e}", task.id)),
            }
        };
        // LoopUntil's defaults (Kestra 0.23): no limits, a minute apart; WaitFor's: 100, PT1H, PT1S
        let (default_max, default_duration, default_interval) =
            if until { (u64::MAX, 100 * 365 * 86_400, 60) } else { (MAX_ITERATIONS, MAX_DURATION_SECS, INTERVAL_SECS) };
        let max_iterations = match get("maxIterations")? {
            None => default_max,
            Some(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("checkFrequency.maxIterations of task '{}': '{s}' is not a number", task.id))?,
        };
        Ok(Frequency {
            max_iterations,
            max_duration: dur("maxDuration", default_duration)?,
            interval: dur("interval", default_interval)?,
        })
    }
}
