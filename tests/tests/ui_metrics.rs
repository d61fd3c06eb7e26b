//! The Metrics tabs of the web UI in a real browser (tests/ui/metrics.mjs,
//! driven as [`crate::ui`]): an execution's task metrics — a shell script's
//! protocol counter and timer, a core task's (`Return`) — with the task
//! filter, and the flow's metric aggregated per day. The API then agrees.

use serde_json::Value;

use crate::sched_support::api_server;
use crate::ui::drive;

const MEASURED: &str = r#"id: measured
namespace: ui.metrics
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo '::{"metrics":[{"name":"rows","type":"counter","tags":{"file":"a.csv"},"value":5},{"name":"load","type":"timer","value":1.5}]}::'
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: hello
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_tabs_show_an_executions_metrics_and_the_flows_aggregate() {
    let (server, home) = api_server("ui-metrics", &[("measured.yml", MEASURED)], None).await;
    let out = drive(&server.url(), "metrics", &home.join("shots")).await;
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("execution "))
        .unwrap_or_else(|| panic!("the scenario printed no execution: {out}"))
        .to_string();
    let page: Value =
        reqwest::get(format!("{}/api/v1/metrics/{id}", server.url())).await.expect("GET").json().await.expect("JSON");
    assert_eq!(page["total"], 4, "{page}");
    server.shutdown().await;
}
