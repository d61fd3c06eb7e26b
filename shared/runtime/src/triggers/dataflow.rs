//! The Google Cloud Dataflow polling trigger (plugin-gcp
//! `dataflow/Trigger.java`).
//!
//! `io.kestra.plugin.gcp.dataflow.Trigger`: every `interval` (PT60S by
//! default) it lists the Dataflow jobs of `location` in `projectId` and
//! starts ONE execution for the job whose name starts with `jobNamePrefix`
//! that reached `targetState` (JOB_STATE_DONE by default) within the last
//! `lookback` and fires per `on` and the trigger's state — the latest such
//! job — with `trigger.jobId`, `trigger.jobName` and `trigger.state`
//! (`plugins::gcp::dataflow::watch` decides, as Kestra's). Polled as an
//! `http.Trigger` (`super::http`: one evaluation per slot of `interval`,
//! claimed in the trigger store; `stopAfter`, `failOnTriggerError`,
//! `conditions`, `when`), by `baton server local`'s poller and on Google
//! Cloud by a Cloud Scheduler job (whole minutes);
//! `runtime::events::dataflow` lists and keeps the state.
//!
//! This module is the pure part: the declaration and the checks of what is
//! written out.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{StopAfterProp, TriggerDef, TriggerProblem, WhenProp, prop};
use crate::model::{Flow, Trigger};
use crate::plugins::Declare;
use crate::plugins::gcp::dataflow::Conn;
use crate::plugins::gcp::dataflow::watch::Watch;
use crate::template::is_template;

pub const TYPE: &str = "io.kestra.plugin.gcp.dataflow.Trigger";

/// The properties a poll reads.
const WATCH_PROPS: &[&str] = &[
    "projectId",
    "serviceAccount",
    "scopes",
    "impersonatedServiceAccount",
    "location",
    "jobNamePrefix",
    "targetState",
    "lookback",
    "on",
    "stateKey",
    "stateTtl",
];

/// Start an execution when a Dataflow job reaches a state.
///
/// Lists the Dataflow jobs of `location` every `interval` and starts one execution for the latest job whose name starts with `jobNamePrefix` that reached `targetState` within `lookback` (default: `interval`) and was not seen in that state before (per `on`): trigger.jobId, trigger.jobName, trigger.state. Polled by `baton server local`, and on Google Cloud by a Cloud Scheduler job (whole minutes).
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    example = "id: on_job_done\ntype: io.kestra.plugin.gcp.dataflow.Trigger\nprojectId: my-project\nlocation: us-central1\njobNamePrefix: my-etl-\ntargetState: JOB_STATE_DONE\ninterval: PT2M\n",
)]
struct TriggerProps {
    #[serde(flatten)]
    conn: Conn,
    /// The jobs whose name starts with this.
    #[prop(kind = "String", dynamic, required)]
    job_name_prefix: Option<Value>,
    /// The state that fires (JOB_STATE_DONE, JOB_STATE_FAILED, JOB_STATE_RUNNING…).
    #[prop(kind = "String", dynamic, default = "\"JOB_STATE_DONE\"", values = ["JOB_STATE_UNKNOWN", "JOB_STATE_STOPPED", "JOB_STATE_RUNNING", "JOB_STATE_DONE", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_UPDATED", "JOB_STATE_DRAINING", "JOB_STATE_DRAINED", "JOB_STATE_PENDING", "JOB_STATE_CANCELLING", "JOB_STATE_QUEUED"])]
    target_state: Option<Value>,
    /// Only jobs that reached the state within this long fire; `interval` when absent.
    #[prop(kind = "Duration", dynamic)]
    lookback: Option<Value>,
    /// Fire on jobs new in the state, on recorded jobs whose state changed, or both.
    #[prop(dynamic, kind = "String", values = ["CREATE", "UPDATE", "CREATE_OR_UPDATE"], default = "\"CREATE_OR_UPDATE\"")]
    on: Option<Value>,
    /// The key under which the jobs seen are remembered (default: namespace_flow_trigger).
    #[prop(dynamic, kind = "String")]
    state_key: Option<Value>,
    /// Forget a job seen after this long.
    #[prop(dynamic, kind = "Duration")]
    state_ttl: Option<Value>,
    /// How often the jobs are listed (whole minutes on Google Cloud).
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    /// A listing that fails becomes a FAILED execution (else it is logged and retried at the next interval).
    #[prop(kind = "Boolean", default = "false")]
    fail_on_trigger_error: Option<Value>,
    #[serde(flatten)]
    stop_after: StopAfterProp,
    #[serde(flatten)]
    when: WhenProp,
}

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<TriggerProps>(check, crate::conditions::ConditionUse::Polling));

/// Whether `t` is a `dataflow.Trigger`.
pub fn is(t: &Trigger) -> bool {
    super::is_of(&DEF, t)
}

/// The properties a `dataflow.Trigger`'s poll reads, unrendered; `None` for another type.
pub fn watch_props(t: &Trigger) -> Option<Map<String, Value>> {
    is(t).then(|| picked(t))
}

fn picked(t: &Trigger) -> Map<String, Value> {
    super::picked(t, WATCH_PROPS)
}

fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    // Kestra's @NotNull properties
    for key in ["projectId", "location", "jobNamePrefix"] {
        if prop(trig, key).is_none() {
            out.push(TriggerProblem::at(key, format!("trigger '{}': missing required property '{key}'", trig.id)));
        }
    }
    // what is written out is read as a poll will read it (a templated
    // required property stands in for its value)
    let mut written: Map<String, Value> =
        picked(trig).into_iter().filter(|(_, v)| !v.as_str().is_some_and(is_template)).collect();
    if out.is_empty() {
        for key in ["projectId", "location", "jobNamePrefix"] {
            written.entry(key).or_insert_with(|| Value::String("x".into()));
        }
        let read = Watch::read(&written, std::time::Duration::from_secs(60)).map(|_| ());
        out.extend(super::read_problem(trig, &written, read));
    }
    if !trig.disabled {
        out.extend(super::http::poll_problem(trig));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::flow;
    use super::*;

    fn paths(props: Value) -> Vec<String> {
        let t = super::super::tests::trigger_of("on_job_done", TYPE, props);
        check(&t, &flow()).into_iter().map(|p| p.path).collect()
    }

    #[test]
    fn kestra_s_example_passes_and_checks_name_the_property() {
        let example = json!({"projectId": "p", "location": "us-central1", "jobNamePrefix": "my-etl-",
            "targetState": "JOB_STATE_DONE", "interval": "PT2M"});
        assert!(paths(example).is_empty());
        let templated = json!({"projectId": "{{ secret('P') }}", "location": "{{ vars.l }}", "jobNamePrefix": "{{ vars.p }}",
            "targetState": "{{ vars.s }}"});
        assert!(paths(templated).is_empty());
        assert_eq!(paths(json!({"location": "l"})), ["projectId", "jobNamePrefix"]);
        let base = |k: &str, v: Value| {
            let mut m = json!({"projectId": "p", "location": "l", "jobNamePrefix": "a"});
            m[k] = v;
            paths(m)
        };
        assert_eq!(base("targetState", json!("DONE")), ["targetState"]);
        assert_eq!(base("on", json!("NEVER")), ["on"]);
        assert_eq!(base("lookback", json!("soon")), ["lookback"]);
        assert_eq!(base("interval", json!("PT0.1S")), ["interval"]);
        assert_eq!(base("location", json!("a/b")), Vec::<String>::new(), "checked when the API is called");
    }
}
