//! Kestra 2.0's `Loop` on the embedded runtime: values from a `kestra://`
//! file (one per line), isolated iterations (each sees its own outputs,
//! nothing inside is visible after the loop), the Loop's declared
//! `outputs` read with `loopOutputs()` (inline with FETCH, in files with
//! STORE and AUTO over a file), `transmitFailed`, and the
//! validator refusing what Baton does not honour.

use serde_json::json;
use shared::model::StateType;

use crate::support::{harness, runs};

const FILE_LOOP: &str = r#"
id: loop_file
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      "north"
      {"city": "Lyon"}
      7
  - id: loop
    type: io.kestra.plugin.core.flow.Loop
    values: "{{ outputs.write.uri }}"
    concurrencyLimit: 2
    outputs:
      - id: label
        type: STRING
        value: "{{ outputs.upper.value }}"
    tasks:
      - id: upper
        type: io.kestra.plugin.core.debug.Return
        format: "{{ item.index }}={{ item.value | upper }}"
      - id: mine
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.upper.value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{% for u in loopOutputs(outputs.loop.outputs, 'uri') %}{{ fromIon(read(u)).label }};{% endfor %} {{ outputs.loop.terminatedIterations.SUCCESS }}/{{ outputs.loop.iterationCount }} {{ outputs.upper is defined }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_over_a_file_runs_isolated_iterations_and_gives_its_declared_outputs() {
    let h = harness();
    let e = h.run(FILE_LOOP, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let mut mine: Vec<String> = runs(&e, "mine")
        .iter()
        .filter_map(|r| r.outputs.as_ref()?.get("value")?.as_str().map(str::to_string))
        .collect();
    mine.sort();
    assert_eq!(mine, ["0=NORTH", "1={\"CITY\":\"LYON\"}", "2=7"], "each iteration reads its own `upper`");
    let after = runs(&e, "after")[0].outputs.as_deref().cloned().unwrap_or_default();
    // AUTO over a file resolves to STORE, as Kestra's: each iteration's
    // outputs in a file, read back here
    assert_eq!(after["value"], json!("0=NORTH;1={\"CITY\":\"LYON\"};2=7; 3/3 false"));
    let entries = runs(&e, "loop")[0].outputs.as_deref().cloned().unwrap_or_default()["outputs"].clone();
    assert_eq!(entries.as_array().map(Vec::len), Some(3));
    assert!(entries[0]["outputs"]["uri"].as_str().is_some_and(|u| u.ends_with("/outputs-0.ion")), "{entries}");
    assert!(entries[0]["outputs"].get("label").is_none(), "stored, not inlined: {entries}");
    // FETCH keeps them inline
    let fetch =
        FILE_LOOP.replace("    concurrencyLimit: 2\n", "    concurrencyLimit: 2\n    fetchType: FETCH\n").replace(
            "{% for u in loopOutputs(outputs.loop.outputs, 'uri') %}{{ fromIon(read(u)).label }};{% endfor %}",
            "{{ loopOutputs(outputs.loop.outputs, 'label') | join(';') }}",
        );
    let e = h.run(&fetch, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let after = runs(&e, "after")[0].outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!(after["value"], json!("0=NORTH;1={\"CITY\":\"LYON\"};2=7 3/3 false"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_type_store_writes_iteration_outputs_a_later_loop_reads() {
    // STORE over a list: the outputs of each iteration go to a file whose
    // URI is the iteration's only output; a second Loop goes over the URIs
    // and reads each file
    let y = r#"
id: loop_store
namespace: company.team
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.Loop
    values: [alpha, beta]
    fetchType: STORE
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
  - id: reread
    type: io.kestra.plugin.core.flow.Loop
    values: "{{ loopOutputs(outputs.loop.outputs, 'uri') }}"
    fetchType: FETCH
    outputs:
      - id: got
        type: STRING
        value: "{{ outputs.read.value }}"
    tasks:
      - id: read
        type: io.kestra.plugin.core.debug.Return
        format: "{{ fromIon(read(item.value)).label }}#{{ fromIon(read(item.value)).n }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ loopOutputs(outputs.reread.outputs, 'got') | join(',') }}|{{ loopOutputs(outputs.loop.outputs, 'label') | join(',') }}"
"#;
    let h = harness();
    let e = h.run(y, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let after = runs(&e, "after")[0].outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!(after["value"], json!("processed alpha#0,processed beta#1|,"), "no label inline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_iteration_is_counted_and_fails_the_loop_only_with_transmit_failed() {
    let flow = |transmit: bool| {
        format!(
            r#"
id: loop_fail
namespace: company.team
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.Loop
    values: [1, 2, 3]
    concurrencyLimit: 1
    transmitFailed: {transmit}
    tasks:
      - id: work
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{{{ item.value == '2' }}}}"
    errors:
      - id: handler
        type: io.kestra.plugin.core.log.Log
        message: "iteration {{{{ item.value }}}} failed"
"#
        )
    };
    let h = harness();
    let e = h.run(&flow(false), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = runs(&e, "loop")[0].outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!(out["terminatedIterations"], json!({"SUCCESS": 2, "FAILED": 1}));
    assert!(h.logs(&e.id).await.iter().any(|l| l.contains("iteration 2 failed")));
    let e = h.run(&flow(true), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert_eq!(runs(&e, "work").len(), 2, "no iteration starts after a transmitted failure");
}

#[test]
fn loop_properties_baton_does_not_honour_are_refused_by_name() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.Loop\n    values: [a]\n    fetchType: STORE\n    outputs:\n      - id: x\n        type: NUMBERISH\n        value: \"1\"\n    tasks:\n      - id: t\n        type: io.kestra.plugin.core.log.Log\n        message: hi\n";
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let (_, diagnostics) = shared::validate::validate_source("f.yaml", y, &registry, &renderer);
    let text: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(!text.iter().any(|d| d.contains("fetchType")), "STORE is accepted: {text:?}");
    assert!(text.iter().any(|d| d.contains("type 'NUMBERISH'")), "{text:?}");
    // fetchType is not dynamic in Kestra: a template is refused by name
    let y = y.replace("fetchType: STORE", "fetchType: \"{{ inputs.mode }}\"");
    let (_, diagnostics) = shared::validate::validate_source("f.yaml", &y, &registry, &renderer);
    let text: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter().any(|d| d.contains("property 'fetchType'") && d.contains("not one of AUTO, FETCH, STORE")),
        "{text:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_when_stops_the_loop_on_the_embedded_runtime() {
    // Kestra 2.0's breakWhen: rendered after each iteration; the first
    // iteration whose declared output says stop ends the loop
    let y = r#"
id: loop_break
namespace: company.team
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.Loop
    values: [3, 8, 12, 1]
    concurrencyLimit: 1
    outputs:
      - id: n
        type: INT
        value: "{{ outputs.square.value }}"
    breakWhen: "{{ iteration.state == 'SUCCESS' and iteration.outputs.n > 5 }}"
    tasks:
      - id: square
        type: io.kestra.plugin.core.debug.Return
        format: "{{ item.value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ loopOutputs(outputs.loop.outputs, 'n') | join(',') }} of {{ outputs.loop.iterationCount }}"
"#;
    let h = harness();
    let e = h.run(y, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(runs(&e, "square").len(), 2, "12 and 1 never start");
    let after = runs(&e, "after")[0].outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!(after["value"], "3,8 of 4");
    assert!(h.logs(&e.id).await.iter().any(|l| l.contains("Loop stopped by breakWhen: 2 of 4 iterations ran")));
}
