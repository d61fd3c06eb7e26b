//! A large loop on the embedded runtime (SQLite): the executor holds its
//! finished task runs trimmed (`trim`), the store keeps them whole. Every
//! task run of the execution is listed from the store with its outputs,
//! attempts and histories, and a later task still reads the outputs it names.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::model::StateType;
use crate::runtime::embedded::{Embedded, LocalOptions};
use crate::runtime::launcher::LaunchRequest;

const N: usize = 3_000;

fn flow() -> String {
    let values: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    format!(
        "id: large_each\nnamespace: company.team\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    \
         values: [{}]\n    concurrencyLimit: 0\n    tasks:\n      - id: r\n        \
         type: io.kestra.plugin.core.debug.Return\n        format: \"r{{{{ taskrun.value }}}}\"\n      - id: s\n        \
         type: io.kestra.plugin.core.debug.Return\n        format: \"s{{{{ taskrun.value }}}}\"\n  - id: after\n    \
         type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ outputs.r['7'].value }}}} {{{{ outputs.r['{}'].value }}}}\"\n",
        values.join(", "),
        N - 1
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_for_each_of_3000_lists_every_task_run_with_its_outputs_from_the_store() {
    let home = std::env::temp_dir().join(format!("baton-trim-{}", uuid::Uuid::new_v4()));
    let embedded = Embedded::open_local(LocalOptions::throwaway(home.clone(), 2)).expect("embedded");
    let engine = embedded.engine.clone();
    let (flow, d) = crate::validate::validate_source("f.yaml", &flow(), &engine.registry, &engine.renderer);
    assert!(d.is_empty(), "{d:?}");
    let flow = engine.flows.insert(flow.expect("flow"));
    let started = Instant::now();
    let updates = embedded.updates();
    let exec = embedded.launch(&flow, LaunchRequest::default()).await.expect("launch");
    let wait = embedded.wait(&exec.id, updates, |_| {});
    let e = tokio::time::timeout(Duration::from_secs(240), wait).await.expect("timed out").expect("wait");
    eprintln!("ForEach of {N} (two tasks each) ended {} in {:?}", e.state.current, started.elapsed());
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);

    let stored = engine.state.load_execution(&e.id).await.expect("load").expect("stored");
    assert_eq!(stored.task_run_list.len(), 2 * N + 2, "every task run is stored");
    for tr in &stored.task_run_list {
        assert_eq!(tr.state.current, StateType::Success, "{} {:?}", tr.task_id, tr.value);
        assert_eq!(tr.execution_id, e.id, "a stored task run names its execution");
        assert!(!tr.state.histories.is_empty(), "{} keeps its state histories", tr.id);
    }
    for task in ["r", "s"] {
        let runs: Vec<_> = stored.task_run_list.iter().filter(|t| t.task_id == task).collect();
        assert_eq!(runs.len(), N, "{task}: one run per value");
        for tr in runs {
            let value = tr.value.clone().unwrap_or_default();
            let out = tr.outputs.as_ref().and_then(|o| o.get("value")).cloned();
            assert_eq!(out, Some(json!(format!("{task}{value}"))), "{task}[{value}] keeps its outputs");
            assert_eq!(tr.attempts.len(), 1, "{task}[{value}] keeps its attempt");
        }
    }
    let after = stored.task_run_list.iter().find(|t| t.task_id == "after").and_then(|t| t.outputs.clone());
    assert_eq!(after.unwrap_or_default()["value"], json!(format!("r7 r{}", N - 1)), "a later task reads what it names");
    embedded.shutdown();
    let _ = std::fs::remove_dir_all(&home);
}
