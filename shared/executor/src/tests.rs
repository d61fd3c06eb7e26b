//! Executor scenarios without any runtime: flows from YAML, a scripted
//! "worker" answering each dispatched job, and assertions on the actions
//! and the resulting execution.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Map, Value, json};

use super::cold_tests::{cold_step, same_decision};
use super::*;
use baton_model::wire::messages::{ExecutionEvent, TaskResult, WorkerJob};
use baton_model::{Execution, Flow, StateType};
use baton_template::{NoHost, Renderer};

pub(super) struct Env(pub(super) Renderer);

impl StepEnv for Env {
    fn render(&self, t: &str, ctx: &Value) -> Result<String, baton_template::TemplateError> {
        self.0.render_str(t, ctx, &NoHost)
    }
    fn render_value(&self, v: &Value, ctx: &Value) -> Result<Value, baton_template::TemplateError> {
        self.0.render_value(v, ctx, &NoHost)
    }
    fn templates(&self) -> (&Renderer, &dyn baton_template::TemplateHost) {
        (&self.0, &NoHost)
    }
    fn worker_group(&self, _kind: &str) -> String {
        "core".into()
    }
}

pub(super) fn flow(yaml: &str) -> Flow {
    let (v, _) = baton_model::yaml::parse(yaml).expect("yaml");
    let (f, problems) = Flow::from_value(&v, yaml);
    assert!(problems.is_empty(), "{problems:?}");
    f.expect("flow")
}

fn exec_placeholder() -> Execution {
    Execution::new(String::new(), "", "", 0, Map::new(), vec![], t0())
}

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().expect("date")
}

/// What the scripted worker does with a job.
pub(super) type Script<'a> = &'a dyn Fn(&WorkerJob) -> (StateType, Map<String, Value>);

pub(super) struct Sim<'a> {
    pub(super) flow: Flow,
    pub(super) exec: Execution,
    pub(super) now: DateTime<Utc>,
    pub(super) env: Env,
    script: Script<'a>,
    pub(super) dispatched: Vec<WorkerJob>,
    pub(super) subflows: Vec<Action>,
    /// The files the runtime was asked to write (`Action::PutFile`).
    pub(super) files: Vec<(String, Vec<u8>)>,
    pub(super) max_parallel: usize,
    /// The index kept between steps, as the runtime's executor keeps it…
    index: ExecIndex,
    /// …and the execution as it last saw it (tests also change `exec`
    /// directly: those changes are told to the index as events would be).
    seen: Execution,
    /// The state kept with the execution after the last step, as a store
    /// keeps it (`partial`): each step is also taken a third way, by an
    /// instance that holds nothing but that state and loads what it needs.
    kept: Option<partial::StepState>,
    /// Positions the events applied since the last step changed.
    events_dirty: Vec<usize>,
    /// Per step taken that third way: task runs loaded (the event's
    /// included) and rounds, or `None` when it needed them all.
    pub(super) partial_loads: Vec<Option<(usize, usize)>>,
}

impl<'a> Sim<'a> {
    pub(super) fn new(yaml: &str, inputs: Value, script: Script<'a>) -> Sim<'a> {
        // Firestore's shape (hashed), whatever a local store's test asks of the process
        baton_model::ids::pin_id_order_for_this_thread(false);
        let flow = flow(yaml);
        let inputs = inputs.as_object().cloned().unwrap_or_default();
        let exec = Execution::new("exec1".into(), &flow.namespace, &flow.id, 1, inputs, vec![], t0());
        Sim {
            flow,
            exec,
            now: t0(),
            env: Env(Renderer::new()),
            script,
            dispatched: vec![],
            subflows: vec![],
            files: vec![],
            max_parallel: 0,
            index: ExecIndex::default(),
            seen: exec_placeholder(),
            kept: None,
            events_dirty: Vec::new(),
            partial_loads: Vec::new(),
        }
    }

    /// Tells the index what changed in `exec` since it last saw it: the
    /// positions changed, `None` when the task runs were replaced.
    fn catch_up(&mut self) -> Option<Vec<usize>> {
        let seen = &self.seen.task_run_list;
        let replaced = self.seen.id != self.exec.id
            || seen.len() > self.exec.task_run_list.len()
            || seen
                .iter()
                .zip(&self.exec.task_run_list)
                .any(|(a, b)| a.id != b.id || (a.state.is_terminal() && !b.state.is_terminal()));
        if replaced {
            self.index = ExecIndex::default();
        }
        self.index.sync(&self.exec);
        let mut dirty = Vec::new();
        for (i, tr) in self.exec.task_run_list.iter().enumerate() {
            if seen.get(i) != Some(tr) {
                self.index.touched(i);
                dirty.push(i);
            }
        }
        self.seen = self.exec.clone();
        (!replaced).then_some(dirty)
    }

    /// One step, taken both ways: on a fresh index (the whole walk) and on
    /// the index kept since the last step; both must decide the same.
    pub(super) fn step(&mut self) -> Vec<Action> {
        let whole = step(&self.flow, &self.exec, self.now, &self.env, StepOptions::default());
        let dirty = self.catch_up().map(|mut d| {
            d.append(&mut self.events_dirty);
            d.sort_unstable();
            d.dedup();
            d
        });
        self.events_dirty.clear();
        let cold = match (self.kept.take(), dirty) {
            (Some(state), Some(dirty)) => self.step_partly(&state, &dirty, &whole),
            _ => None,
        };
        let kept =
            step_indexed(&self.flow, self.exec.clone(), &mut self.index, self.now, &self.env, StepOptions::default());
        assert_eq!(kept.execution, whole.execution, "the kept index decided otherwise");
        assert_eq!(kept.actions, whole.actions, "the kept index acted otherwise");
        assert_eq!(kept.changed, whole.changed);
        assert_eq!(kept.execution_changed, whole.execution_changed);
        let state = partial::export_state(&self.index, &kept.execution);
        if let Some(cold) = cold {
            assert_eq!(cold, state, "a partly loaded step keeps another state");
        }
        self.kept = Some(state);
        self.exec = kept.execution;
        self.seen = self.exec.clone();
        kept.actions
    }

    /// The step taken by an instance holding only `state` and the task
    /// runs events changed (`dirty`), loading what it needs from the
    /// execution; must decide as the step on the whole did. The state it
    /// keeps, unless it needed every task run.
    fn step_partly(
        &mut self,
        state: &partial::StepState,
        dirty: &[usize],
        whole: &Transition,
    ) -> Option<partial::StepState> {
        let cold = cold_step(&self.flow, &self.exec, state, dirty, self.now, &self.env);
        let Some((t, kept)) = cold.outcome else {
            self.partial_loads.push(None);
            return None;
        };
        same_decision(&t, whole);
        self.partial_loads.push(Some((cold.loaded, cold.rounds)));
        Some(kept)
    }

    /// The index kept between steps.
    pub(super) fn index(&self) -> &ExecIndex {
        &self.index
    }

    /// Runs to the end: dispatched jobs are answered in batches (all jobs of
    /// one step run "concurrently"), timers jump the clock.
    pub(super) fn run(&mut self) -> StateType {
        for _ in 0..10_000 {
            let actions = self.step();
            let mut jobs = Vec::new();
            let mut wake = None;
            for a in actions {
                match a {
                    Action::Dispatch { job, .. } => jobs.push(*job),
                    Action::WakeAt(at) => wake = Some(at),
                    a @ (Action::StartSubflow { .. } | Action::StartBatches { .. }) => self.subflows.push(a),
                    Action::PutFile { path, content } => self.files.push((path, content)),
                    _ => {}
                }
            }
            if self.exec.is_done() {
                return self.exec.state.current;
            }
            if jobs.is_empty() {
                match wake {
                    Some(at) => {
                        self.now = at;
                        continue;
                    }
                    None => return self.exec.state.current,
                }
            }
            self.max_parallel = self.max_parallel.max(jobs.len());
            self.now += Duration::milliseconds(10);
            for job in jobs {
                self.answer(&job);
                self.dispatched.push(job);
            }
        }
        panic!("did not settle");
    }

    pub(super) fn answer(&mut self, job: &WorkerJob) {
        let (state, outputs) = (self.script)(job);
        self.answer_with(job, state, outputs);
    }

    /// The worker's start and result for `job`, as given.
    pub(super) fn answer_with(&mut self, job: &WorkerJob, state: StateType, outputs: Map<String, Value>) {
        let started = ExecutionEvent::TaskStarted {
            execution_id: job.execution_id.clone(),
            task_run_id: job.task_run_id.clone(),
            attempt: job.attempt,
            worker_id: "w".into(),
            at: self.now,
        };
        self.catch_up();
        apply_event_indexed(&self.flow, &mut self.exec, &mut self.index, &started, self.now);
        let result = ExecutionEvent::TaskResult {
            execution_id: job.execution_id.clone(),
            task_run_id: job.task_run_id.clone(),
            attempt: job.attempt,
            result: TaskResult {
                state,
                outputs,
                error: state.is_failed().then(|| "boom".to_string()),
                labels: vec![],
                variables: None,
                start: self.now,
                end: self.now,
                log_file: None,
                metrics: Vec::new(),
                claim_left_open: false,
            },
        };
        apply_event_indexed(&self.flow, &mut self.exec, &mut self.index, &result, self.now);
        let changed =
            self.exec.task_run_list.iter().zip(&self.seen.task_run_list).enumerate().filter(|(_, (a, b))| a != b);
        let changed: Vec<usize> = changed.map(|(p, _)| p).collect();
        self.events_dirty.extend(changed);
        self.seen = self.exec.clone();
    }

    pub(super) fn task_ids(&self) -> Vec<&str> {
        self.dispatched.iter().map(|j| j.task.id.as_str()).collect()
    }

    pub(super) fn state_of(&self, task_id: &str) -> Vec<StateType> {
        self.exec.task_run_list.iter().filter(|t| t.task_id == task_id).map(|t| t.state.current).collect()
    }
}

pub(super) fn ok(_: &WorkerJob) -> (StateType, Map<String, Value>) {
    (StateType::Success, Map::new())
}

pub(super) fn fail_task(id: &'static str) -> impl Fn(&WorkerJob) -> (StateType, Map<String, Value>) {
    move |j| if j.task.id == id { (StateType::Failed, Map::new()) } else { (StateType::Success, Map::new()) }
}

pub(super) const LOG: &str = "io.kestra.plugin.core.log.Log";

#[test]
fn sequential_runs_one_after_the_other() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    message: x\n  - id: b\n    type: {LOG}\n    message: y\n  - id: c\n    type: {LOG}\n    message: z\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["a", "b", "c"]);
    assert_eq!(sim.max_parallel, 1);
    let a = &sim.exec.task_run_list[0];
    let hist: Vec<_> = a.state.histories.iter().map(|h| h.state).collect();
    assert_eq!(hist, [StateType::Created, StateType::Running, StateType::Success]);
    assert_eq!(a.attempts.len(), 1);
}

#[test]
fn a_failure_stops_the_sequence_and_fails_the_execution() {
    let y = format!("id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n  - id: b\n    type: {LOG}\n");
    let script = fail_task("a");
    let mut sim = Sim::new(&y, json!({}), &script);
    assert_eq!(sim.run(), StateType::Failed);
    assert_eq!(sim.task_ids(), ["a"]);
    assert!(sim.exec.error.as_deref().unwrap_or("").contains("task 'a' failed"));
}

#[test]
fn flow_errors_run_after_a_failure_and_the_execution_still_fails() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\nerrors:\n  - id: e1\n    type: {LOG}\n  - id: e2\n    type: {LOG}\n"
    );
    let script = fail_task("a");
    let mut sim = Sim::new(&y, json!({}), &script);
    assert_eq!(sim.run(), StateType::Failed);
    assert_eq!(sim.task_ids(), ["a", "e1", "e2"]);
}

#[test]
fn errors_do_not_run_on_success() {
    let y = format!("id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\nerrors:\n  - id: e1\n    type: {LOG}\n");
    let mut sim = Sim::new(&y, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["a"]);
}

#[test]
fn flowable_errors_handle_only_their_children() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n      - id: a\n        type: {LOG}\n    errors:\n      - id: local\n        type: {LOG}\n  - id: after\n    type: {LOG}\nerrors:\n  - id: global\n    type: {LOG}\n"
    );
    let script = fail_task("a");
    let mut sim = Sim::new(&y, json!({}), &script);
    assert_eq!(sim.run(), StateType::Failed);
    assert_eq!(sim.task_ids(), ["a", "local", "global"]);
    assert_eq!(sim.state_of("seq"), [StateType::Failed]);
}

#[test]
fn allow_failure_continues_and_ends_in_warning() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    allowFailure: true\n  - id: b\n    type: {LOG}\n"
    );
    let script = fail_task("a");
    let mut sim = Sim::new(&y, json!({}), &script);
    assert_eq!(sim.run(), StateType::Warning);
    assert_eq!(sim.task_ids(), ["a", "b"]);
    assert_eq!(sim.state_of("a"), [StateType::Warning]);
    assert_eq!(sim.exec.task_run_list[0].attempts[0].state.current, StateType::Failed);
}

#[test]
fn allow_warning_turns_warning_into_success() {
    let y = format!("id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    allowWarning: true\n");
    let warn = |_: &WorkerJob| (StateType::Warning, Map::new());
    let mut sim = Sim::new(&y, json!({}), &warn);
    assert_eq!(sim.run(), StateType::Success);
}

#[test]
fn disabled_tasks_are_skipped_entirely() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    disabled: true\n  - id: b\n    type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["b"]);
    assert!(sim.state_of("a").is_empty());
}

#[test]
fn run_if_false_skips_the_task() {
    let y = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    runIf: \"{{{{ inputs.go }}}}\"\n  - id: b\n    type: {LOG}\n"
    );
    let mut sim = Sim::new(&y, json!({"go": false}), &ok);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["b"]);
    assert_eq!(sim.state_of("a"), [StateType::Skipped]);
}

#[test]
fn subflow_starts_a_child_and_waits_for_it() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: sub\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: n\n    flowId: child\n    inputs:\n      x: \"{{ inputs.x }}\"\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ outputs.sub.outputs.r }}\"\n";
    let mut sim = Sim::new(y, json!({"x": "1"}), &ok);
    assert_eq!(sim.run(), StateType::Running);
    let Action::StartSubflow { task_run_id, execution_id, inputs, wait, .. } = sim.subflows[0].clone() else {
        panic!()
    };
    assert!(wait);
    assert_eq!(inputs["x"], "1");
    let ev = ExecutionEvent::SubflowEnded {
        execution_id: "exec1".into(),
        task_run_id,
        child_execution_id: execution_id,
        state: StateType::Success,
        outputs: Map::from_iter([("r".to_string(), json!("ok"))]),
        iteration: None,
    };
    let now = sim.now;
    apply_event(&sim.flow, &mut sim.exec, &ev, now);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids(), ["after"]);
}

/// A Subflow that does not wait stays RUNNING until the runtime says its
/// child is stored (`CREATED`: SUCCESS, Kestra's outputs `executionId` and
/// `state`) or could not start (FAILED, and the flow's next task never runs).
#[test]
fn a_subflow_that_does_not_wait_ends_with_its_childs_start() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: sub\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: n\n    flowId: child\n    wait: false\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ outputs.sub.executionId }}\"\n";
    for (told, want, after) in
        [(StateType::Created, StateType::Success, vec!["after"]), (StateType::Failed, StateType::Failed, vec![])]
    {
        let mut sim = Sim::new(y, json!({}), &ok);
        assert_eq!(sim.run(), StateType::Running);
        let Action::StartSubflow { task_run_id, execution_id, wait, .. } = sim.subflows[0].clone() else { panic!() };
        assert!(!wait);
        assert_eq!(sim.state_of("sub"), [StateType::Running], "nothing ends it before the start is told");
        let outputs = match told {
            StateType::Failed => Map::from_iter([("error".to_string(), json!("Subflow n.child not found"))]),
            _ => Map::new(),
        };
        let ev = ExecutionEvent::SubflowEnded {
            execution_id: "exec1".into(),
            task_run_id,
            child_execution_id: execution_id.clone(),
            state: told,
            outputs,
            iteration: None,
        };
        let now = sim.now;
        apply_event(&sim.flow, &mut sim.exec, &ev, now);
        assert_eq!(sim.run(), want);
        assert_eq!(sim.state_of("sub"), [want]);
        let sub = sim.exec.task_run_list.iter().find(|t| t.task_id == "sub").expect("sub");
        assert_eq!(sub.outputs.as_ref().expect("outputs")["executionId"], json!(execution_id));
        if want == StateType::Success {
            assert_eq!(sub.outputs.as_ref().expect("outputs")["state"], json!("CREATED"));
        } else {
            assert_eq!(sub.error.as_deref(), Some("Subflow n.child not found"));
        }
        let ran: Vec<&str> = sim.task_ids().into_iter().filter(|t| *t != "sub").collect();
        assert_eq!(ran, after);
        // the child's own end, later, changes nothing
        let end = ExecutionEvent::SubflowEnded {
            execution_id: "exec1".into(),
            task_run_id: sub.id.clone(),
            child_execution_id: execution_id,
            state: StateType::Failed,
            outputs: Map::new(),
            iteration: None,
        };
        let before = sim.exec.clone();
        apply_event(&sim.flow, &mut sim.exec, &end, now);
        assert_eq!(sim.exec.task_run_list, before.task_run_list);
    }
}

#[test]
fn kill_marks_everything_killed() {
    let y = format!("id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n");
    let mut sim = Sim::new(&y, json!({}), &ok);
    sim.step();
    let flow = sim.flow.clone();
    apply_event(&flow, &mut sim.exec, &ExecutionEvent::Kill { execution_id: "exec1".into() }, sim.now);
    assert_eq!(sim.exec.state.current, StateType::Killed);
    assert_eq!(sim.state_of("a"), [StateType::Killed]);
    assert!(sim.step().is_empty(), "a terminal execution does nothing");
}

#[test]
fn replaying_a_step_and_duplicate_events_are_harmless() {
    let y = format!("id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n  - id: b\n    type: {LOG}\n");
    let mut sim = Sim::new(&y, json!({}), &ok);
    let first = sim.step();
    assert_eq!(first.iter().filter(|a| matches!(a, Action::Dispatch { .. })).count(), 1);
    // the same state again: nothing new to dispatch
    let again = step(&sim.flow, &sim.exec, sim.now, &sim.env, StepOptions::default());
    assert!(again.is_noop(), "{:?}", again.actions);
    // after a crash, pending attempts can be re-sent with the same attempt number
    let resend = step(&sim.flow, &sim.exec, sim.now, &sim.env, StepOptions { redispatch_pending: true });
    let Some(Action::Dispatch { job, .. }) = resend.actions.first() else { panic!() };
    assert_eq!(job.attempt, 1);
    let Some(Action::Dispatch { job, .. }) = first.into_iter().next() else { panic!() };
    sim.answer(&job);
    let snapshot = sim.exec.clone();
    sim.answer(&job);
    assert_eq!(sim.exec, snapshot, "a duplicate result changes nothing");
}

#[test]
fn outputs_are_shipped_only_to_tasks_that_can_read_them() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n  - id: b\n    type: io.kestra.plugin.core.debug.Return\n    format: y\n  - id: c\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.a.value }}\"\n";
    let echo = |j: &WorkerJob| (StateType::Success, Map::from_iter([("value".to_string(), json!(j.task.id))]));
    let mut sim = Sim::new(y, json!({}), &echo);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.dispatched[1].context.value()["outputs"], json!({}));
    assert_eq!(sim.dispatched[2].context.value()["outputs"]["a"]["value"], "a");
}

#[test]
fn task_run_ids_are_deterministic() {
    let y = format!("id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n");
    let mut s1 = Sim::new(&y, json!({}), &ok);
    let mut s2 = Sim::new(&y, json!({}), &ok);
    s1.step();
    s2.step();
    assert_eq!(s1.exec.task_run_list[0].id, s2.exec.task_run_list[0].id);
}

#[test]
fn labels_from_a_task_result_land_on_the_execution() {
    let y = format!("id: f\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n");
    let mut sim = Sim::new(&y, json!({}), &ok);
    let actions = sim.step();
    let Some(Action::Dispatch { job, .. }) = actions.into_iter().next() else { panic!() };
    let ev = ExecutionEvent::TaskResult {
        execution_id: "exec1".into(),
        task_run_id: job.task_run_id.clone(),
        attempt: 1,
        result: TaskResult {
            state: StateType::Success,
            outputs: Map::new(),
            error: None,
            labels: vec![baton_model::Label { key: "file".into(), value: "x.csv".into() }],
            variables: None,
            start: sim.now,
            end: sim.now,
            log_file: None,
            metrics: Vec::new(),
            claim_left_open: false,
        },
    };
    let now = sim.now;
    apply_event(&sim.flow, &mut sim.exec, &ev, now);
    assert_eq!(sim.exec.labels_map()["file"], "x.csv");
}
