//! Backfills started through the api function on the deployed shape
//! (`e2e::deployed`: the functions as separate processes on the emulators,
//! every message delivered twice) with CPU throttled between requests as
//! Cloud Run's `cpu_idle` does: each function's process is stopped once it
//! has answered its last request and continued by the next one.
//!
//! - A backfill `POST /api/v1/backfills` creates runs to its end: the api
//!   asks the scheduler before it answers (work it spawned after answering
//!   would wait, frozen, for a next request that may never come).
//! - Every execution runs the flow revision current when it is created: an
//!   upload mid-backfill applies from the next tick.
//! - A backfill that cannot go on (its trigger renamed) ends FAILED with the
//!   reason, and the system goes idle: the sweep job pauses, no invocations.
//! - A flow file that does not parse answers its parse error, not 404.
//! - At-least-once traffic (every message twice) logs nothing at ERROR.

use std::time::Duration;

use e2e::deployed::Deployment;
use serde_json::{Value, json};
use shared::backend::schedule::{BackfillState, TriggerStore};
use shared::model::{Execution, StateType};

use crate::deployed::{push_shape, until, until_quiet};

const NS: &str = "gcp.backfill";

fn flow(id: &str, trigger: &str, marker: &str) -> String {
    format!(
        "id: {id}\nnamespace: {NS}\nconcurrency:\n  limit: 1\ntriggers:\n  - id: {trigger}\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 0 1 * *\"\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT2S\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"{marker} {{{{ trigger.date }}}}\"\n"
    )
}

async fn executions_of(d: &Deployment, flow: &str) -> Vec<Execution> {
    crate::deployed::executions_in(d, NS, flow).await
}

async fn start_backfill(d: &Deployment, flow: &str, trigger: &str, start: &str, end: &str) -> String {
    let url = format!("{}/api/v1/backfills", d.function("api").url);
    let body = json!({"namespace": NS, "flowId": flow, "triggerId": trigger, "start": start, "end": end});
    let r = d.http.post(url).json(&body).send().await.expect("backfill");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "{status}: {text}\n{}", d.logs());
    let answer: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    answer["id"].as_str().unwrap_or_else(|| panic!("no backfill id: {answer}")).to_string()
}

async fn backfill_ended(d: &Deployment, id: &str) -> shared::backend::schedule::Backfill {
    until(d, Duration::from_secs(180), "the backfill to end", || async {
        let b = TriggerStore::load_backfill(d.backends.state.as_ref(), id).await.ok()??;
        b.state.is_terminal().then_some(b)
    })
    .await
}

/// A sleeping task of `flow` is running (its execution is on its first tick).
async fn first_running(d: &Deployment, flow: &str) {
    until(d, Duration::from_secs(120), "the backfill's first execution to run", || async {
        let execs = executions_of(d, flow).await;
        execs
            .iter()
            .any(|e| e.task_run_list.iter().any(|t| t.task_id == "wait" && t.state.current == StateType::Running))
            .then_some(())
    })
    .await;
}

// Run alone by scripts/test.sh, as deployed.rs: timing-sensitive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run alone by scripts/test.sh: cargo test -p e2e --test e2e -- --ignored --exact deployed_backfill::api_backfills_run_under_throttled_cpu_pin_revisions_and_fail_when_they_cannot_go_on"]
async fn api_backfills_run_under_throttled_cpu_pin_revisions_and_fail_when_they_cannot_go_on() {
    let d = Deployment::start(&push_shape(), 2, Duration::from_secs(1)).await;
    d.upload_flow(&format!("flows/{NS}/monthly.yml"), &flow("monthly", "m", "v1")).await;
    d.upload_flow(&format!("flows/{NS}/renamed.yml"), &flow("renamed", "m", "v1")).await;
    d.throttle_cpu_when_idle(true);

    // 1. from the api, 4 ticks; an update after the first starts applies to the 3 others
    let id = start_backfill(&d, "monthly", "m", "2020-01-01T00:00:00Z", "2020-04-30T00:00:00Z").await;
    first_running(&d, "monthly").await;
    d.upload_flow(&format!("flows/{NS}/monthly.yml"), &flow("monthly", "m", "v2")).await;
    let done = backfill_ended(&d, &id).await;
    assert_eq!(done.state, BackfillState::Success, "{done:#?}\n{}", d.logs());
    let mut execs = executions_of(&d, "monthly").await;
    execs.sort_by_key(|e| e.trigger.as_ref().map(|t| t.variables["date"].to_string()));
    assert_eq!(execs.len(), 4, "one execution per tick though every message came twice");
    assert!(execs.iter().all(|e| e.state.current == StateType::Success), "{execs:#?}");
    let revisions: Vec<u32> = execs.iter().map(|e| e.flow_revision).collect();
    assert_eq!(revisions[1..], [revisions[0] + 1; 3], "every execution runs the revision current at its creation");

    // 2. a trigger renamed mid-backfill: FAILED with the reason, then idle
    let id = start_backfill(&d, "renamed", "m", "2019-01-01T00:00:00Z", "2019-12-31T00:00:00Z").await;
    first_running(&d, "renamed").await;
    d.upload_flow(&format!("flows/{NS}/renamed.yml"), &flow("renamed", "m2", "v2")).await;
    let failed = backfill_ended(&d, &id).await;
    assert_eq!(failed.state, BackfillState::Failed, "{failed:#?}");
    let reason = failed.progress.error.clone().unwrap_or_default();
    assert!(reason.contains("no trigger 'm'") && reason.contains("m2"), "{reason}");
    until(&d, Duration::from_secs(60), "the sweep job to pause", || async {
        (d.cloud_scheduler.state(&d.sweep_job) == Some("PAUSED")).then_some(())
    })
    .await;
    // redeliveries of handled messages trail by their backoff
    until_quiet(&d, Duration::from_secs(10), Duration::from_secs(120)).await;
    let before = d.requests();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(d.requests() - before, 0, "invocations while idle\n{}", d.logs());
    assert_eq!(d.cloud_scheduler.state(&d.sweep_job), Some("PAUSED"), "the failed backfill keeps the sweep running");

    // 3. a flow file that does not parse: its error, not "not found"
    d.upload_flow(&format!("flows/{NS}/broken.yml"), "id: broken\nnamespace: gcp.backfill\ntasks: [\n").await;
    let r = d.http.post(format!("{}/api/v1/executions/{NS}/broken", d.function("api").url)).send().await.expect("run");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("broken.yml") && text.contains("not valid"), "{text}");

    // 4. at-least-once traffic is not an error: only what an operator acts on is
    let expected = ["backfill failed: it cannot go on", "flow file is not valid", "flow not loaded"];
    let errors: Vec<String> =
        shared_errors(&d).into_iter().filter(|l| !expected.iter().any(|e| l.contains(e))).collect();
    assert!(errors.is_empty(), "ERROR lines for ordinary traffic:\n{}", errors.join("\n"));
}

fn shared_errors(d: &Deployment) -> Vec<String> {
    e2e::deployed::FUNCTIONS
        .iter()
        .flat_map(|f| d.function(f).log().lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| l.contains("\"severity\":\"ERROR\""))
        .collect()
}
