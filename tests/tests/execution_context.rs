//! Kestra 2.0's `executionContext: true` on a script task, read by Kestra's
//! own Python library (`from kestra import context`, the `kestra` 2.0.0
//! package scripts/setup/kestra_client.sh installs): inputs, labels, vars,
//! an earlier task's outputs and the flow's ids come through as data; the
//! file is gone after the task and never collected by `outputFiles`.

use serde_json::json;
use shared::model::StateType;

use crate::support::{harness, runs};

fn flow(python: &str) -> String {
    format!(
        r#"
id: with_context
namespace: company.team
labels:
  env: prod
variables:
  threshold: 42
inputs:
  - id: dataset
    type: STRING
    defaults: "a \"quoted\"\nmultiline value"
tasks:
  - id: extract
    type: io.kestra.plugin.core.debug.Return
    format: orders.csv
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: transform
        type: io.kestra.plugin.scripts.python.Commands
        executionContext: true
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        outputFiles: ["*"]
        inputFiles:
          main.py: |
            from kestra import Kestra, context
            Kestra.outputs({{
                "dataset": context.inputs.dataset,
                "env": context.labels.env,
                "threshold": context.vars.threshold,
                "extracted": context.outputs.extract.value,
                "flow": context.flow.id,
                "task": context.task.id,
                "keys": sorted(context.keys()),
            }})
        commands:
          - {python} main.py
      - id: after
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - test ! -e .kestra-execution-context.json && echo gone
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestras_python_library_reads_the_execution_context_file() {
    let python = std::env::var("BATON_KESTRA_PYTHON").unwrap_or_else(|_| {
        panic!("BATON_KESTRA_PYTHON is not set: source scripts/setup/kestra_client.sh (it installs kestra 2.0.0)")
    });
    let h = harness();
    let e = h.run(&flow(&python), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let t = runs(&e, "transform")[0].outputs.clone().expect("outputs");
    let vars = &t["vars"];
    assert_eq!(vars["dataset"], json!("a \"quoted\"\nmultiline value"), "{t:?}");
    assert_eq!(vars["env"], json!("prod"));
    assert_eq!(vars["threshold"], json!(42));
    assert_eq!(vars["extracted"], json!("orders.csv"));
    assert_eq!((vars["flow"].clone(), vars["task"].clone()), (json!("with_context"), json!("transform")));
    let keys = vars["keys"].as_array().expect("keys");
    assert!(!keys.contains(&json!("envs")) && !keys.contains(&json!("globals")), "{keys:?}");
    let collected = t["outputFiles"].as_object().expect("outputFiles");
    assert!(collected.contains_key("main.py"), "outputFiles: [*] collected the script: {collected:?}");
    assert!(!collected.keys().any(|k| k.contains("kestra-execution-context")), "never collected: {collected:?}");
    assert!(h.logs(&e.id).await.iter().any(|l| l == "gone"), "the next task of the WorkingDirectory does not see it");
}
