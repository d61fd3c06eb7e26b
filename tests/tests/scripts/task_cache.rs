//! `taskCache` on a script task: the cached outputs (files included)
//! within `ttl`, a new run for other properties or after `ttl`.

use serde_json::json;
use shared::model::StateType;

use super::output;
use crate::support::harness;

/// `taskCache`: a second run of the same task with the same rendered
/// properties within `ttl` takes the first run's outputs (files included)
/// and does not run; other properties, or a run after `ttl`, run again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_cache_reuses_outputs_within_its_ttl() {
    let h = harness();
    let flow = |ttl: &str| {
        format!(
            r#"
id: cached
namespace: test
inputs:
  - id: day
    type: STRING
tasks:
  - id: extract
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    taskCache:
      enabled: true
      ttl: {ttl}
    outputFiles: ["data.txt"]
    commands:
      - echo "{{{{ inputs.day }}}} $(date +%s%N)" > data.txt
      - echo "::{{\"outputs\":{{\"stamp\":\"$(cat data.txt)\"}}}}::"
  - id: read
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ read(outputs.extract.outputFiles['data.txt']) | trim }}}}"
"#
        )
    };
    let run = |yaml: String, day: &'static str| {
        let h = &h;
        async move {
            let e = h.run(&yaml, json!({"day": day})).await;
            assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
            let stamp = output(&e, "extract")["vars"]["stamp"].as_str().unwrap_or_default().to_string();
            let logs = h.logs(&e.id).await;
            (stamp, logs)
        }
    };
    let (first, _) = run(flow("PT1H"), "mon").await;
    let (second, logs) = run(flow("PT1H"), "mon").await;
    assert_eq!(first, second, "the cached outputs");
    assert!(logs.iter().any(|l| l.starts_with("taskCache: outputs taken from the run of")), "{logs:?}");
    assert!(logs.iter().any(|l| l == &first), "the cached file is read: {logs:?}");
    let (other, _) = run(flow("PT1H"), "tue").await;
    assert_ne!(other, first, "other properties run again");
    // a short ttl: the cached run expires
    let (a, _) = run(flow("PT1S"), "wed").await;
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let (b, _) = run(flow("PT1S"), "wed").await;
    assert_ne!(a, b, "expired");
}
