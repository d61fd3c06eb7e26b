//! `SetVariables` / `UnsetVariables` on the embedded runtime: Kestra's own
//! example (a flow variable overridden, then both unset), a nested map
//! merged key by key across a Parallel, `overwrite: false` failing, and
//! the stored execution carrying its variables (what a cold executor on
//! GCP reads back).

use serde_json::json;
use shared::model::StateType;

use crate::support::{harness, runs};

// Kestra's example for SetVariables and UnsetVariables, plus reads after each
const KESTRA_EXAMPLE: &str = r#"
id: variables
namespace: company.team
variables:
  name: World
  db:
    host: localhost
    port: 5432
tasks:
  - id: set_vars
    type: io.kestra.plugin.core.execution.SetVariables
    variables:
      message: Hello
      name: Loïc
      db:
        port: "{{ 6000 + 432 }}"
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "{{ vars.message }} {{ vars.name }} {{ vars.db.host }}:{{ vars.db.port }}"
  - id: unset_variables
    type: io.kestra.plugin.core.execution.UnsetVariables
    variables:
      - message
      - name
      - db.host
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ vars.message ?? 'no message' }} {{ vars.name ?? 'no name' }} {{ vars.db | toJson }}"
"#;

const NO_OVERWRITE: &str = r#"
id: no_overwrite
namespace: company.team
variables:
  name: World
tasks:
  - id: fresh
    type: io.kestra.plugin.core.execution.SetVariables
    overwrite: false
    variables:
      other: 1
  - id: clash
    type: io.kestra.plugin.core.execution.SetVariables
    overwrite: false
    variables:
      name: again
"#;

fn value(e: &shared::model::Execution, task: &str) -> String {
    runs(e, task)[0].outputs.as_ref().and_then(|o| o["value"].as_str()).unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_then_unset_variables_as_kestras_example() {
    let h = harness();
    let e = h.run(KESTRA_EXAMPLE, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    assert_eq!(value(&e, "hello"), "Hello Loïc localhost:6432");
    assert_eq!(value(&e, "after"), r#"no message no name {"port":"6432"}"#);
    // the stored execution holds its variables; the flow's are untouched
    let stored = h.embedded.engine.state.load_execution(&e.id).await.expect("load").expect("stored");
    assert_eq!(serde_json::to_value(&stored.variables).expect("json"), json!({"db": {"port": "6432"}}));
    let flow = h.flow(KESTRA_EXAMPLE);
    assert_eq!(flow.variables["name"], json!("World"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overwrite_false_fails_naming_the_existing_variable() {
    let h = harness();
    let e = h.run(NO_OVERWRITE, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let clash = runs(&e, "clash")[0];
    let logs = h.logs(&e.id).await;
    let said = format!("{:?} {logs:?}", clash.error);
    assert!(said.contains("already exist: name"), "{said}");
    let stored = h.embedded.engine.state.load_execution(&e.id).await.expect("load").expect("stored");
    let vars = stored.variables.expect("fresh was set");
    assert_eq!(vars["other"], json!(1));
    assert_eq!(vars["name"], json!("World"), "the failed task changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_sets_merge_and_every_later_task_sees_them() {
    let h = harness();
    let flow = r#"
id: parallel_sets
namespace: company.team
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: a
        type: io.kestra.plugin.core.execution.SetVariables
        variables:
          conf:
            a: 1
      - id: b
        type: io.kestra.plugin.core.execution.SetVariables
        variables:
          conf:
            b: 2
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [x, y]
    tasks:
      - id: read
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}={{ vars.conf.a + vars.conf.b }}"
"#;
    let e = h.run(flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let mut got: Vec<String> = runs(&e, "read")
        .iter()
        .map(|r| r.outputs.as_ref().map(|o| o["value"].to_string()).unwrap_or_default())
        .collect();
    got.sort();
    assert_eq!(got, [r#""x=3""#, r#""y=3""#]);
}
