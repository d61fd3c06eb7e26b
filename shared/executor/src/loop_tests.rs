//! Kestra 2.0's `Loop` on the ForEach machinery: `item.value`,
//! `item.index` and `item.key` in every child (nested ones too), maps as
//! values, `concurrencyLimit`, isolated iterations (own outputs, own
//! errors/finally), the Loop's outputs and `loopOutputs()`,
//! `transmitFailed`.

use serde_json::{Map, Value, json};

use super::tests::Sim;
use baton_model::StateType;
use baton_model::wire::messages::WorkerJob;

fn echo_item(j: &WorkerJob) -> (StateType, Map<String, Value>) {
    let ctx = j.context.value();
    let item = &ctx["item"];
    let key = item.get("key").and_then(Value::as_str).map(|k| format!("{k}=")).unwrap_or_default();
    let v = format!("{key}{}#{}", item["value"].as_str().unwrap_or("?"), item["index"]);
    (StateType::Success, Map::from_iter([("value".to_string(), Value::String(v))]))
}

fn seen(sim: &Sim<'_>) -> Vec<String> {
    sim.exec
        .task_run_list
        .iter()
        .filter_map(|t| t.outputs.as_ref()?.get("value")?.as_str().map(str::to_string))
        .collect()
}

#[test]
fn loop_children_read_item_value_and_index_even_nested() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.Loop\n    values: [north, south]\n    tasks:\n      - id: a\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n      - id: if\n        type: io.kestra.plugin.core.flow.If\n        condition: \"{{ item.value == 'south' }}\"\n        then:\n          - id: b\n            type: io.kestra.plugin.core.debug.Return\n            format: x\n";
    let mut sim = Sim::new(y, json!({}), &echo_item);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(seen(&sim), ["north#0", "south#1", "south#1"]);
    assert_eq!(sim.task_ids(), ["a", "a", "b"]);
}

#[test]
fn a_loop_over_a_map_gives_item_key_and_runs_concurrently_when_asked() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.Loop\n    values: {fr: Paris, de: Berlin, it: Rome}\n    concurrencyLimit: 0\n    tasks:\n      - id: a\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n";
    let mut sim = Sim::new(y, json!({}), &echo_item);
    assert_eq!(sim.run(), StateType::Success);
    let mut got = seen(&sim);
    got.sort();
    assert_eq!(got, ["de=Berlin#1", "fr=Paris#0", "it=Rome#2"]);
    assert_eq!(sim.max_parallel, 3, "concurrencyLimit: 0 runs every iteration at once");
}

#[test]
fn a_loop_over_an_expression_and_a_file_uri() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.Loop\n    values: \"{{ inputs.v }}\"\n    tasks:\n      - id: a\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n";
    let mut sim = Sim::new(y, json!({"v": "[1, 2]"}), &echo_item);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(seen(&sim), ["1#0", "2#1"]);
    // a file is read through the template host (none here: e2e loop_file)
    let mut sim = Sim::new(y, json!({"v": "kestra:///n/f/file.txt"}), &echo_item);
    assert_eq!(sim.run(), StateType::Failed);
    let err = sim.exec.task_run_list[0].error.clone().unwrap_or_default();
    assert!(err.contains("values of task 'loop'"), "{err}");
}

/// The worker: renders `format` in the job's context (as Return does).
fn render_format(j: &WorkerJob) -> (StateType, Map<String, Value>) {
    let format = j.task.props.get("format").and_then(Value::as_str).unwrap_or_default();
    let r = baton_template::Renderer::new();
    match r.render_str(format, &j.context.value(), &baton_template::NoHost) {
        Ok(v) if v == "FAIL" => (StateType::Failed, Map::new()),
        Ok(v) => (StateType::Success, Map::from_iter([("value".to_string(), Value::String(v))])),
        Err(e) => (StateType::Failed, Map::from_iter([("value".to_string(), Value::String(e.to_string()))])),
    }
}

fn value_of(sim: &Sim<'_>, task_id: &str) -> Vec<String> {
    sim.exec
        .task_run_list
        .iter()
        .filter(|t| t.task_id == task_id)
        .filter_map(|t| t.outputs.as_ref()?.get("value")?.as_str().map(str::to_string))
        .collect()
}

const ISOLATED: &str = r#"id: f
namespace: n
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.Loop
    values: [alpha, beta, gamma]
    outputs:
      - id: label
        type: STRING
        value: "{{ outputs.process.value }}"
      - id: n
        type: INT
        value: "{{ item.index }}"
    tasks:
      - id: process
        type: io.kestra.plugin.core.debug.Return
        format: "processed {{ item.value }}"
      - id: again
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.process.value }} once"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ loopOutputs(outputs.loop.outputs, 'label') | join(',') }}|{{ outputs.process is defined }}|{{ outputs.loop.iterationCount }}"
"#;

#[test]
fn loop_iterations_see_their_own_outputs_and_the_loop_gives_its_declared_outputs() {
    let mut sim = Sim::new(ISOLATED, json!({}), &render_format);
    assert_eq!(sim.run(), StateType::Success);
    // inside an iteration `outputs.process` is that iteration's, unkeyed
    let mut again = value_of(&sim, "again");
    again.sort();
    assert_eq!(again, ["processed alpha once", "processed beta once", "processed gamma once"]);
    // after the loop: the Loop's outputs only, in iteration order
    assert_eq!(value_of(&sim, "after"), ["processed alpha,processed beta,processed gamma|false|3"]);
    let loop_out = sim.exec.task_run_list[0].outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!(loop_out["terminatedIterations"], json!({"SUCCESS": 3}));
    assert_eq!(loop_out["runningIterations"], json!(0));
    assert_eq!(
        loop_out["outputs"][1],
        json!({"item": {"value": "beta", "iteration": 1}, "outputs": {"label": "processed beta", "n": 1}})
    );
    assert_eq!(sim.max_parallel, 3, "a Loop's concurrencyLimit defaults to 0 (all at once)");
}

#[test]
fn fetch_type_store_writes_each_iteration_outputs_to_a_file_and_gives_its_uri() {
    let y = ISOLATED.replace("    outputs:\n", "    fetchType: STORE\n    outputs:\n").replace("'label'", "'uri'");
    let mut sim = Sim::new(&y, json!({}), &render_format);
    assert_eq!(sim.run(), StateType::Success);
    let prefix = "/n/f/executions/exec1/tasks/loop";
    assert_eq!(sim.files.len(), 3, "one file per iteration, written once");
    let loop_out = sim.exec.task_run_list[0].outputs.as_deref().cloned().unwrap_or_default();
    let loop_run = sim.exec.task_run_list[0].id.clone();
    let path = format!("{prefix}/{loop_run}/outputs-1.ion");
    assert_eq!(
        loop_out["outputs"][1],
        json!({"item": {"value": "beta", "iteration": 1}, "outputs": {"uri": format!("kestra://{path}")}})
    );
    let (_, content) = sim.files.iter().find(|(p, _)| *p == path).expect("iteration 1's file");
    let stored: Value = serde_json::from_slice(content).expect("JSON");
    assert_eq!(stored, json!({"label": "processed beta", "n": 1}));
    let uris: Vec<String> = (0..3).map(|u| format!("kestra://{prefix}/{loop_run}/outputs-{u}.ion")).collect();
    assert_eq!(value_of(&sim, "after"), [format!("{}|false|3", uris.join(","))]);
    // FETCH (and AUTO over a list) keep the outputs inline, write nothing
    let y = ISOLATED.replace("    outputs:\n", "    fetchType: FETCH\n    outputs:\n");
    let mut sim = Sim::new(&y, json!({}), &render_format);
    assert_eq!(sim.run(), StateType::Success);
    assert!(sim.files.is_empty());
}

#[test]
fn a_stored_iteration_output_over_the_bound_fails_the_loop_naming_it() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.Loop\n    values: [a]\n    fetchType: STORE\n    outputs:\n      - id: big\n        value: \"{{ inputs.big }}\"\n    tasks:\n      - id: t\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n";
    let big = "x".repeat(super::blocks::loops::MAX_STORED_ITERATION_BYTES);
    let mut sim = Sim::new(y, json!({"big": big}), &render_format);
    assert_eq!(sim.run(), StateType::Failed);
    assert!(sim.files.is_empty());
    let err = sim.exec.task_run_list[0].error.clone().unwrap_or_default();
    assert!(err.contains("MAX_STORED_ITERATION_BYTES") && err.contains("Loop 'loop'"), "{err}");
}

const FAILING: &str = r#"id: f
namespace: n
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.Loop
    values: [a, b, c]
    concurrencyLimit: 1
    transmitFailed: TRANSMIT
    tasks:
      - id: work
        type: io.kestra.plugin.core.debug.Return
        format: "{{ item.value == 'b' ? 'FAIL' : item.value }}"
    errors:
      - id: handler
        type: io.kestra.plugin.core.debug.Return
        format: "handled {{ item.value }}"
    finally:
      - id: cleanup
        type: io.kestra.plugin.core.debug.Return
        format: "cleanup {{ item.value }}"
"#;

#[test]
fn a_failed_iteration_runs_its_own_errors_and_fails_the_loop_only_with_transmit_failed() {
    let mut sim = Sim::new(&FAILING.replace("TRANSMIT", "false"), json!({}), &render_format);
    assert_eq!(sim.run(), StateType::Success, "transmitFailed: false");
    assert_eq!(value_of(&sim, "work"), ["a", "c"]);
    assert_eq!(value_of(&sim, "handler"), ["handled b"], "errors run inside the failed iteration");
    assert_eq!(value_of(&sim, "cleanup"), ["cleanup a", "cleanup b", "cleanup c"], "finally in each iteration");
    let out = sim.exec.task_run_list[0].outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!(out["terminatedIterations"], json!({"SUCCESS": 2, "FAILED": 1}));
    assert_eq!(sim.exec.task_run_list[0].state.current, StateType::Success);

    let mut sim = Sim::new(&FAILING.replace("TRANSMIT", "true"), json!({}), &render_format);
    assert_eq!(sim.run(), StateType::Failed, "transmitFailed: true");
    assert_eq!(value_of(&sim, "work"), ["a"], "no iteration starts after a transmitted failure");
    assert_eq!(value_of(&sim, "cleanup"), ["cleanup a", "cleanup b"]);
}

#[test]
fn nested_loops_give_item_parent_and_parents() {
    let y = r#"id: f
namespace: n
tasks:
  - id: years
    type: io.kestra.plugin.core.flow.Loop
    values: [2025, 2026]
    concurrencyLimit: 1
    tasks:
      - id: months
        type: io.kestra.plugin.core.flow.Loop
        values: [Mar, Apr]
        concurrencyLimit: 1
        tasks:
          - id: name
            type: io.kestra.plugin.core.debug.Return
            format: "{{ item.parent.value }}_{{ item.value }}/{{ item.parents[0].index }}"
"#;
    let mut sim = Sim::new(y, json!({}), &render_format);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(value_of(&sim, "name"), ["2025_Mar/0", "2025_Apr/0", "2026_Mar/1", "2026_Apr/1"]);
}

const BREAKING: &str = r#"id: f
namespace: n
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.Loop
    values: [a, b, STOP, c, d]
    concurrencyLimit: LIMIT
    transmitFailed: false
    outputs:
      - id: seen
        type: STRING
        value: "{{ outputs.work.value }}"
    breakWhen: "BREAK"
    tasks:
      - id: work
        type: io.kestra.plugin.core.debug.Return
        format: "{{ item.value == 'd' ? 'FAIL' : item.value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ loopOutputs(outputs.loop.outputs, 'seen') | join(',') }}"
"#;

fn breaking(limit: &str, cond: &str) -> String {
    BREAKING.replace("LIMIT", limit).replace("BREAK", cond)
}

#[test]
fn break_when_stops_new_iterations_after_the_one_it_holds_for() {
    // iteration.outputs: the iteration's declared outputs
    let mut sim = Sim::new(&breaking("1", "{{ iteration.outputs.seen == 'STOP' }}"), json!({}), &render_format);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(value_of(&sim, "work"), ["a", "b", "STOP"], "no iteration starts after the break");
    assert_eq!(value_of(&sim, "after"), ["a,b,STOP"]);
    let out = sim.exec.task_run_list[0].outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!(out["iterationCount"], json!(5));
    assert_eq!(out["terminatedIterations"], json!({"SUCCESS": 3}));
    assert_eq!(out["runningIterations"], json!(0));
    // item and the iteration's own task outputs are there too
    let mut sim =
        Sim::new(&breaking("1", "{{ item.index >= 1 and outputs.work.value == 'b' }}"), json!({}), &render_format);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(value_of(&sim, "work"), ["a", "b"]);
    // never true: every value runs (d fails, counted: transmitFailed false)
    let mut sim = Sim::new(&breaking("1", "{{ iteration.state == 'KILLED' }}"), json!({}), &render_format);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(value_of(&sim, "work"), ["a", "b", "STOP", "c"]);
    assert_eq!(sim.state_of("work").last(), Some(&StateType::Failed));
}

#[test]
fn break_when_sees_the_iteration_state_and_running_iterations_end() {
    // the failed iteration (d) breaks; with all at once every one had started
    let mut sim = Sim::new(&breaking("1", "{{ iteration.state == 'FAILED' }}"), json!({}), &render_format);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.state_of("work").len(), 5);
    let mut sim = Sim::new(&breaking("0", "{{ item.value == 'a' }}"), json!({}), &render_format);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.state_of("work").len(), 5, "concurrencyLimit 0: all had started, they end");
    // two at a time: a and b run, a breaks, b ends, nothing else starts
    let mut sim = Sim::new(&breaking("2", "{{ item.value == 'a' }}"), json!({}), &render_format);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(value_of(&sim, "work"), ["a", "b"]);
}

#[test]
fn a_break_when_that_cannot_render_fails_the_loop_naming_it() {
    let mut sim = Sim::new(&breaking("1", "{{ nope.x.y }}"), json!({}), &render_format);
    assert_eq!(sim.run(), StateType::Failed);
    let err = sim.exec.task_run_list[0].error.clone().unwrap_or_default();
    assert!(err.contains("breakWhen of Loop 'loop' after iteration 0"), "{err}");
    assert_eq!(value_of(&sim, "work"), ["a"]);
}

#[test]
fn running_iterations_is_kept_while_the_loop_runs() {
    let y = breaking("2", "{{ false }}");
    let mut sim = Sim::new(&y, json!({}), &render_format);
    let dispatched = |actions: Vec<super::Action>| -> Vec<WorkerJob> {
        actions
            .into_iter()
            .filter_map(|a| match a {
                super::Action::Dispatch { job, .. } => Some(*job),
                _ => None,
            })
            .collect()
    };
    let jobs = dispatched(sim.step());
    assert_eq!(jobs.len(), 2);
    let running = |sim: &Sim<'_>| sim.exec.task_run_list[0].outputs.as_ref().map(|o| o["runningIterations"].clone());
    assert_eq!(running(&sim), Some(json!(2)));
    sim.answer_with(&jobs[0], StateType::Success, Map::from_iter([("value".into(), json!("a"))]));
    let next = dispatched(sim.step());
    assert_eq!(next.len(), 1);
    assert_eq!(running(&sim), Some(json!(2)), "a ended, the third started");
    sim.answer_with(&jobs[1], StateType::Success, Map::from_iter([("value".into(), json!("b"))]));
    sim.answer_with(&next[0], StateType::Success, Map::from_iter([("value".into(), json!("STOP"))]));
    let last = dispatched(sim.step());
    assert_eq!(running(&sim), Some(json!(2)), "two ended, two started");
    for j in &last {
        sim.answer_with(j, StateType::Success, Map::from_iter([("value".into(), json!("x"))]));
    }
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(running(&sim), Some(json!(0)));
}

fn for_each_of(n: usize, limit: usize, body: &str) -> String {
    let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    format!(
        "id: f\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [{}]\n    concurrencyLimit: {limit}\n    tasks:\n{body}",
        values.join(", ")
    )
}

const RETURN_BODY: &str = "      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n";

fn dispatches_and_wakes(actions: &[crate::Action]) -> (usize, usize) {
    use crate::Action;
    let jobs = actions.iter().filter(|a| matches!(a, Action::Dispatch { .. })).count();
    let wakes = actions.iter().filter(|a| matches!(a, Action::WakeAt(_))).count();
    (jobs, wakes)
}

/// Iterations that only wait (a Pause: no job out) take no place in the
/// job window, so the step's budget is what holds them back: a thousand a
/// step, the next asked for at once, until every one is created.
#[test]
fn one_step_starts_at_most_a_thousand_iterations_and_asks_for_the_next_at_once() {
    use super::blocks::concurrent::UNITS_A_STEP;
    let pause = "      - id: p\n        type: io.kestra.plugin.core.flow.Pause\n";
    let mut sim = Sim::new(&for_each_of(2_500, 0, pause), json!({}), &echo_item);
    let now = sim.now;
    let first = sim.step();
    assert_eq!(dispatches_and_wakes(&first), (0, 1));
    assert!(first.iter().any(|a| matches!(a, crate::Action::WakeAt(at) if *at == now)));
    assert_eq!(sim.exec.task_run_list.len(), 1 + UNITS_A_STEP as usize);
    // nothing resumed: the wake alone starts the next thousand, then the rest
    assert_eq!(dispatches_and_wakes(&sim.step()), (0, 1));
    assert_eq!(sim.exec.task_run_list.len(), 2_001);
    assert_eq!(dispatches_and_wakes(&sim.step()), (0, 0));
    assert_eq!(sim.exec.task_run_list.len(), 2_501);
}

/// With no `concurrencyLimit`, at most [`JOB_WINDOW`] iterations have a
/// job out: the first step dispatches that many and asks for no wake; a
/// step with nothing answered starts nothing; each result starts one more.
#[test]
fn an_unlimited_loop_keeps_a_window_of_jobs_out_and_starts_the_next_as_results_come() {
    use super::blocks::concurrent::JOB_WINDOW;
    let mut sim = Sim::new(&for_each_of(1_200, 0, RETURN_BODY), json!({}), &echo_item);
    let jobs = |actions: Vec<crate::Action>| -> Vec<WorkerJob> {
        let jobs = actions.into_iter().filter_map(|a| match a {
            crate::Action::Dispatch { job, .. } => Some(*job),
            _ => None,
        });
        jobs.collect()
    };
    let first = sim.step();
    assert_eq!(dispatches_and_wakes(&first), (JOB_WINDOW, 0));
    assert_eq!(dispatches_and_wakes(&sim.step()), (0, 0), "no result, no room");
    let mut out = jobs(first);
    for j in out.drain(..10).collect::<Vec<_>>() {
        sim.answer_with(&j, StateType::Success, Map::new());
    }
    let next = sim.step();
    assert_eq!(dispatches_and_wakes(&next), (10, 0));
    assert_eq!(sim.exec.task_run_list.len(), 1 + JOB_WINDOW + 10);
    // every result frees a place: the rest run through, never more than the window out
    out.extend(jobs(next));
    while let Some(j) = out.pop() {
        sim.answer_with(&j, StateType::Success, Map::new());
        if out.is_empty() || out.len() % 250 == 0 {
            out.extend(jobs(sim.step()));
            assert!(out.len() <= JOB_WINDOW, "{} jobs out", out.len());
        }
    }
    assert_eq!(sim.exec.state.current, StateType::Success);
    assert_eq!(sim.exec.task_run_list.iter().filter(|t| t.task_id == "r").count(), 1_200);
}

/// An unlimited inner ForEach of `n` values (a body for [`for_each_of`])
/// running one Return each.
fn inner_loop(n: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    format!(
        "      - id: inner\n        type: io.kestra.plugin.core.flow.ForEach\n        values: [{}]\n        concurrencyLimit: 0\n        tasks:\n          - id: r\n            type: io.kestra.plugin.core.debug.Return\n            format: x\n",
        values.join(", ")
    )
}

#[test]
fn nested_loops_share_one_step_budget_and_all_iterations_run() {
    let y = for_each_of(40, 0, &inner_loop(40));
    let (jobs, wakes) = dispatches_and_wakes(&Sim::new(&y, json!({}), &echo_item).step());
    // in order: an outer iteration (1) and its 40 inner ones, 24 times
    // (984), then the 25th and 15 of its inner ones
    assert_eq!((jobs, wakes), (24 * 40 + 15, 1));
    let mut sim = Sim::new(&y, json!({}), &echo_item);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids().iter().filter(|t| **t == "r").count(), 1_600);
}

/// The step's budget runs out exactly as an outer iteration starts, so its
/// inner loop starts nothing and that iteration has no job out, nothing to
/// wait for but the next step: the next step walks it again (it was held
/// back) and its inner loop goes on — a kept index that walked only the
/// iterations with events or timers would leave it RUNNING for ever.
#[test]
fn an_iteration_whose_inner_loop_was_held_back_before_its_first_value_goes_on() {
    let mut sim = Sim::new(&for_each_of(2, 0, &inner_loop(998)), json!({}), &echo_item);
    assert_eq!(sim.run(), StateType::Success);
    assert_eq!(sim.task_ids().iter().filter(|t| **t == "r").count(), 2 * 998);
}

/// The kept index notes, as the walk finds or creates them, each task
/// run's parent and its unit in the parent's block (an iteration's value,
/// a Parallel's branch); runs under a task that is not a block (or a
/// block's own run) have none. Events then read their unit from there.
#[test]
fn the_index_notes_each_runs_parent_and_unit() {
    let body = "      - id: r\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n      - id: p\n        type: io.kestra.plugin.core.flow.Parallel\n        tasks:\n          - id: x\n            type: io.kestra.plugin.core.debug.Return\n            format: x\n          - id: s\n            type: io.kestra.plugin.core.flow.Sequential\n            tasks:\n              - id: y\n                type: io.kestra.plugin.core.debug.Return\n                format: y\n";
    let y = for_each_of(3, 0, body);
    let mut sim = Sim::new(&y, json!({}), &echo_item);
    assert_eq!(sim.run(), StateType::Success);
    let list = &sim.exec.task_run_list;
    let position = |id: &str| list.iter().position(|t| t.id == id);
    let mut seen = std::collections::BTreeMap::new();
    for (pos, tr) in list.iter().enumerate() {
        let (parent, unit) = sim.index().placement(pos);
        assert_eq!(parent, tr.parent_task_run_id.as_deref().and_then(position), "{}", tr.task_id);
        let under = parent.map(|p| list[p].task_id.as_str());
        let expected = match (under, tr.task_id.as_str()) {
            (Some("each"), _) => tr.value.as_deref().map(|v| v.parse::<u32>().unwrap()),
            (Some("p"), "x") => Some(0),
            (Some("p"), "s") => Some(1),
            _ => None,
        };
        assert_eq!(unit, expected, "{} {:?}", tr.task_id, tr.value);
        *seen.entry(tr.task_id.as_str()).or_insert(0) += 1;
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), [("each", 1), ("p", 3), ("r", 3), ("s", 3), ("x", 3), ("y", 3)]);
}
