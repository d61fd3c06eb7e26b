//! The executor's cost per event against the size of the execution (not a
//! test): the pure path only (`apply_event` + `step`, no I/O), ns and heap
//! allocations per event for executions of 10 … 100,000 task runs, for a
//! chain (the event is the latest task's result) and a ForEach with
//! `concurrencyLimit` 1 and 0 (the event is one iteration's result, every
//! earlier iteration done). Each execution is built directly in the state
//! it would have reached, loaded (the first event walks it whole, as after
//! a restart), then fed consecutive events, as the runtime's executor would
//! (its index kept between events): `BATON_BENCH_STEP_WARMUP` of them
//! (500, at most half the size) reported apart as the load's wake, then
//! `BATON_BENCH_STEP_EVENTS` (50) timed. The chain and the ForEach at
//! limit 1 grow a task run per event: they are built short by the warm-up,
//! so the timed events run at the size in the table's row.
//!
//! `cargo bench -p shared --features shared/duckdb --bench step` (release),
//! or `--profile dev` for a debug build. `BATON_BENCH_STEP_SIZES=10,1000`
//! picks the sizes, `BATON_BENCH_STEP_SHAPES=chain,1,0` the shapes (a
//! name's ending: the chain, the ForEach at limit 1, at limit 0).
//! `BATON_BENCH_STEP_COLD=1` evicts the CPU caches before every timed event (it
//! writes a 256 MiB buffer, untimed), so each event starts from memory at
//! every size: if the time per event then no longer grows with the size,
//! what grew was cache misses, not work. The heap is `baton`'s allocator
//! (mimalloc; the system's until stop 45: faster at every size with it,
//! the growth from 100 to 100,000 the same).

use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Map, Value, json};
use shared::executor::{
    Action, ExecIndex, StepEnv, StepOptions, Transition, apply_event_indexed, step_indexed, task_run_id,
};
use shared::model::{Attempt, Execution, Flow, State, StateType, TaskRun};
use shared::runtime::messages::{ExecutionEvent, TaskResult};
use shared::template::{NoHost, Renderer, TemplateHost};
use stats_alloc::StatsAlloc;

/// The allocator `baton` ships (mimalloc unless `system-alloc`), counted:
/// the time per event includes the allocator the binary uses.
#[global_allocator]
static GLOBAL: StatsAlloc<shared::Allocator> = StatsAlloc::new(shared::Allocator);

/// Heap allocations (and reallocations) of the whole process so far.
fn allocations() -> u64 {
    let s = GLOBAL.stats();
    (s.allocations + s.reallocations) as u64
}

struct Env(Renderer);

impl StepEnv for Env {
    fn render(&self, t: &str, ctx: &Value) -> Result<String, shared::template::TemplateError> {
        self.0.render_str(t, ctx, &NoHost)
    }
    fn render_value(&self, v: &Value, ctx: &Value) -> Result<Value, shared::template::TemplateError> {
        self.0.render_value(v, ctx, &NoHost)
    }
    fn templates(&self) -> (&Renderer, &dyn TemplateHost) {
        (&self.0, &NoHost)
    }
    fn worker_group(&self, _kind: &str) -> String {
        "core".into()
    }
}

const RETURN: &str = "io.kestra.plugin.core.debug.Return";

fn flow(yaml: &str) -> Flow {
    let registry = shared::plugins::Registry::builtin();
    let renderer = Renderer::new();
    let (flow, diags) = shared::validate::validate_source("bench.yaml", yaml, &registry, &renderer);
    assert!(diags.is_empty(), "{diags:?}");
    flow.expect("flow")
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().expect("date")
}

fn state(history: &[StateType], at: DateTime<Utc>) -> State {
    let mut s = State::new(history[0], at);
    for h in &history[1..] {
        s.set(*h, at);
    }
    s
}

/// The task run made at position `i` of `exec`'s list, its id derived as
/// the executor derives it.
fn task_run(exec: &Execution, i: usize, task_id: &str, parent: Option<&str>, value: Option<String>) -> TaskRun {
    TaskRun {
        id: task_run_id(&exec.id, i, task_id, parent, value.as_deref()),
        execution_id: exec.id.clone(),
        namespace: exec.namespace.clone(),
        flow_id: exec.flow_id.clone(),
        task_id: task_id.to_string(),
        parent_task_run_id: parent.map(str::to_string),
        value,
        attempts: Default::default(),
        outputs: None,
        state: State::new(StateType::Created, t0()),
        iteration: Some(i as u32),
        next_retry_date: None,
        error: None,
        evaluated: None,
    }
}

/// Done (SUCCESS after one attempt), or dispatched and running.
fn settle(tr: &mut TaskRun, done: bool) {
    let at = t0();
    if done {
        tr.attempts.push(Attempt {
            state: state(&[StateType::Created, StateType::Running, StateType::Success], at),
            worker_id: Some("w".into()),
            log_file: None,
        });
        tr.state = state(&[StateType::Created, StateType::Running, StateType::Success], at);
    } else {
        tr.attempts.push(Attempt {
            state: state(&[StateType::Created, StateType::Running], at),
            worker_id: Some("w".into()),
            log_file: None,
        });
        tr.state = state(&[StateType::Created, StateType::Running], at);
    }
}

fn execution(flow: &Flow) -> Execution {
    let mut e = Execution::new(shared::model::ids::new_id(), &flow.namespace, &flow.id, 1, Map::new(), vec![], t0());
    e.state = state(&[StateType::Created, StateType::Running], t0());
    e
}

/// A chain of `n + extra` tasks whose first `n` have run (the last one still running).
fn chain(n: usize, extra: usize) -> (Flow, Execution) {
    let mut y = String::from("id: chain\nnamespace: bench\ntasks:\n");
    for i in 0..n + extra {
        y.push_str(&format!("  - id: t{i}\n    type: {RETURN}\n    format: \"{{{{ taskrun.id }}}}\"\n"));
    }
    let flow = flow(&y);
    let mut e = execution(&flow);
    for i in 0..n {
        let mut tr = task_run(&e, i, &format!("t{i}"), None, None);
        settle(&mut tr, i + 1 < n);
        e.task_run_list.push(tr);
    }
    (flow, e)
}

/// A ForEach over `values` values with `n` task runs: with limit 1 the
/// first `n - 1` iterations started (the last one running); with limit 0
/// every iteration started, the first half done.
fn for_each(n: usize, limit: usize, extra: usize) -> (Flow, Execution) {
    let values = if limit == 0 { n - 1 } else { n - 1 + extra };
    let y = format!(
        "id: each\nnamespace: bench\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [\"0\"]\n    concurrencyLimit: {limit}\n    tasks:\n      - id: r\n        type: {RETURN}\n        format: \"{{{{ taskrun.value }}}}\"\n"
    );
    let flow = flow(&y);
    let mut e = execution(&flow);
    // the values the ForEach evaluated (stored, so the flow's literal is never read again)
    let mut each = task_run(&e, 0, "each", None, None);
    each.state = state(&[StateType::Created, StateType::Running], t0());
    each.evaluated = Some(std::sync::Arc::new(Value::Array((0..values).map(|v| json!(v.to_string())).collect())));
    let parent = each.id.clone();
    e.task_run_list.push(each);
    let iterations = n - 1;
    for v in 0..iterations {
        let mut tr = task_run(&e, v + 1, "r", Some(&parent), Some(v.to_string()));
        let done = if limit == 0 { v < iterations / 2 } else { v + 1 < iterations };
        settle(&mut tr, done);
        e.task_run_list.push(tr);
    }
    (flow, e)
}

fn result_event(exec_id: &str, task_run_id: &str, attempt: u32) -> ExecutionEvent {
    ExecutionEvent::TaskResult {
        execution_id: exec_id.to_string(),
        task_run_id: task_run_id.to_string(),
        attempt,
        result: TaskResult {
            state: StateType::Success,
            outputs: Map::new(),
            error: None,
            labels: vec![],
            variables: None,
            start: t0(),
            end: t0(),
            log_file: None,
            metrics: Vec::new(),
            claim_left_open: false,
        },
    }
}

/// What one shape's run measured.
struct Measured {
    /// The first event after the load (ns).
    first: f64,
    /// The warm-up events after it (ns per event).
    warm_up: f64,
    /// The timed events (ns and heap allocations per event).
    ns: f64,
    allocs: f64,
}

/// Feeds `1 + warm_up + events` consecutive results: each to the oldest
/// running task run (limit 0) or to the one just dispatched. The first pays
/// for what a load builds once (the flow's task index, the ForEach's values
/// by unit, the memos of a whole walk), and the next `warm_up` for the
/// load's wake: until the blocks the load's walk freed (cold by then) are
/// allocated again, and its index's tables and the execution are touched
/// again, an event costs more (at 100,000 task runs the first 100 events
/// after a load took 1.3–1.5× what the later ones did). Then `events` are
/// timed, with their allocations.
fn run(flow: &Flow, mut exec: Execution, warm_up: usize, events: usize, oldest: bool) -> Measured {
    let env = Env(Renderer::new());
    let mut index = ExecIndex::default();
    // what the runtime pays once per load, not per event
    index.sync(&exec);
    let mut next = if oldest {
        exec.task_run_list.iter().position(|t| !t.state.is_terminal() && !t.attempts.is_empty()).expect("running")
    } else {
        exec.task_run_list.len() - 1
    };
    let mut target = exec.task_run_list[next].id.clone();
    let (mut nanos, mut warm, mut allocs, mut first) = (0u128, 0u128, 0u64, 0u128);
    let mut evict = cold().then(|| vec![0u8; 256 << 20]);
    for e in 0..=warm_up + events {
        let timed = e > warm_up;
        if let Some(buf) = evict.as_mut().filter(|_| timed) {
            for (i, b) in buf.iter_mut().step_by(64).enumerate() {
                *b = b.wrapping_add(i as u8);
            }
            std::hint::black_box(&buf);
        }
        let event = result_event(&exec.id, &target, 1);
        let a0 = allocations();
        let start = Instant::now();
        let (changed, t) = if timed {
            one_event(flow, exec, &mut index, &event, &env)
        } else {
            step_once(flow, exec, &mut index, &event, &env)
        };
        let took = start.elapsed().as_nanos();
        match e {
            0 => first = took,
            _ if !timed => warm += took,
            _ => {
                nanos += took;
                allocs += allocations() - a0;
            }
        }
        assert_eq!(changed.len(), 1, "the event applied");
        exec = t.execution;
        assert!(!exec.state.is_terminal(), "ended early");
        if oldest {
            next += 1;
            target = exec.task_run_list[next].id.clone();
        } else {
            let job = t.actions.iter().find_map(|a| match a {
                Action::Dispatch { job, .. } => Some(job.task_run_id.clone()),
                _ => None,
            });
            target = job.expect("the next task dispatched");
        }
        drop(t.actions);
    }
    Measured {
        first: first as f64,
        warm_up: warm as f64 / warm_up.max(1) as f64,
        ns: nanos as f64 / events as f64,
        allocs: allocs as f64 / events as f64,
    }
}

/// One of the events after the first (its own function, so a profiler can
/// leave out the first: `valgrind --tool=callgrind --toggle-collect='*one_event*'`).
#[inline(never)]
fn one_event(
    flow: &Flow,
    exec: Execution,
    index: &mut ExecIndex,
    event: &ExecutionEvent,
    env: &Env,
) -> (Vec<String>, Transition) {
    step_once(flow, exec, index, event, env)
}

/// An event applied, then the execution stepped.
#[inline(never)]
fn step_once(
    flow: &Flow,
    mut exec: Execution,
    index: &mut ExecIndex,
    event: &ExecutionEvent,
    env: &Env,
) -> (Vec<String>, Transition) {
    let now = t0() + Duration::seconds(1);
    let (changed, _) = apply_event_indexed(flow, &mut exec, index, event, now);
    (changed, step_indexed(flow, exec, index, now, env, StepOptions::default()))
}

/// Whether each event starts with the caches evicted.
fn cold() -> bool {
    std::env::var("BATON_BENCH_STEP_COLD").is_ok_and(|v| v == "1")
}

/// Builds one shape's flow and execution.
type Build = dyn Fn() -> (Flow, Execution);

fn main() {
    shared::allocator::tune();
    // ids as `baton run` and `baton server local` make them (SQLite homes)
    shared::model::ids::order_ids_by_time();
    let sizes: Vec<usize> = std::env::var("BATON_BENCH_STEP_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().replace('_', "").parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1_000, 10_000, 100_000]);
    let events: usize = std::env::var("BATON_BENCH_STEP_EVENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(50).max(1);
    let warm_up: usize = std::env::var("BATON_BENCH_STEP_WARMUP").ok().and_then(|s| s.parse().ok()).unwrap_or(500);
    // `BATON_BENCH_STEP_SHAPES=chain,1,0`: the chain, the ForEach at limit 1, at limit 0
    let shapes_wanted: Vec<String> = std::env::var("BATON_BENCH_STEP_SHAPES")
        .map(|s| s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    println!(
        "| shape | task runs | ns/event | allocations/event | first event after a load (ns) | the warm-up events after it (ns/event) | timed events |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &n in &sizes {
        let n = n.max(8);
        // the chain and the ForEach at limit 1 add a task run per event:
        // built `w` short of `n`, they are at `n` when the timed events start
        let w = warm_up.min(n / 2);
        // the ForEach at limit 0 ends one of its (n - 1) / 2 running
        // iterations per event, its size unchanged
        let running = (n - 1) / 2 - 1;
        let w0 = warm_up.min(running / 2);
        let e0 = events.min(running - w0).max(1);
        let shapes: [(&str, Box<Build>, usize, usize, bool); 3] = [
            ("chain", Box::new(move || chain(n - w, w + events + 2)), w, events, false),
            ("ForEach, concurrencyLimit 1", Box::new(move || for_each(n - w, 1, w + events + 2)), w, events, false),
            ("ForEach, concurrencyLimit 0", Box::new(move || for_each(n, 0, 0)), w0, e0, true),
        ];
        for (name, build, warm_up, events, oldest) in shapes {
            if !shapes_wanted.is_empty() && !shapes_wanted.iter().any(|w| name.ends_with(w.as_str())) {
                continue;
            }
            let (flow, exec) = build();
            let m = run(&flow, exec, warm_up, events, oldest);
            println!(
                "| {name} | {n} | {:.0} | {:.1} | {:.0} | {:.0} ({warm_up}) | {events} |",
                m.ns, m.allocs, m.first, m.warm_up
            );
        }
    }
}
