//! The Flow trigger decision, without a runtime: states, self-triggering,
//! `flows`/`where` preconditions, windows that accumulate, fire once,
//! reset, expire, and ignore a transition handled twice.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::*;
use crate::model::{Label, StateType, Trigger};
use crate::triggers::flow::spec::{self, FlowTriggerSpec};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).expect("date")
}

fn trigger(props: serde_json::Value) -> Trigger {
    crate::triggers::tests::trigger_of("t", crate::triggers::flow::TYPE, props)
}

fn spec_of(props: serde_json::Value) -> FlowTriggerSpec {
    spec::parse(&trigger(props)).expect("valid")
}

fn up<'a>(id: &'a str, ns: &'a str, flow: &'a str, state: StateType, labels: &'a [Label]) -> Upstream<'a> {
    Upstream { execution_id: id, namespace: ns, flow_id: flow, state, labels, transition: 1 }
}

/// The corpus' `flow-trigger-preconditions-flow-listen.yaml` preconditions.
fn corpus_listen() -> FlowTriggerSpec {
    spec_of(json!({"preconditions": {
        "id": "flow",
        "flows": [
            {"namespace": "io.kestra.tests.trigger.preconditions", "flowId": "flow-trigger-preconditions-flow-a", "states": ["SUCCESS", "WARNING", "FAILED"]},
            {"namespace": "io.kestra.tests.trigger.preconditions", "flowId": "flow-trigger-preconditions-flow-b", "states": ["SUCCESS"]}
        ],
        "where": [
            {"id": "flow1", "filters": [
                {"field": "NAMESPACE", "type": "STARTS_WITH", "value": "io.kestra.tests.trigger"},
                {"field": "FLOW_ID", "type": "EQUAL_TO", "value": "flow-trigger-preconditions-flow-a"},
                {"field": "EXPRESSION", "type": "IS_TRUE", "value": "{{labels.some == 'label'}}"}
            ]},
            {"id": "flow2", "filters": [
                {"field": "NAMESPACE", "type": "ENDS_WITH", "value": "trigger.preconditions"},
                {"field": "FLOW_ID", "type": "EQUAL_TO", "value": "flow-trigger-preconditions-flow-b"}
            ]}
        ]
    }}))
}

/// Evaluates `up` against `spec`'s preconditions and the stored window;
/// the expression renderer answers from the labels.
fn step(spec: &FlowTriggerSpec, u: &Upstream<'_>, stored: Option<WindowRecord>, now: DateTime<Utc>) -> Advance {
    let pre = spec.preconditions.as_ref().expect("preconditions");
    let has_label = u.labels.iter().any(|l| l.key == "some" && l.value == "label");
    let mut render = |t: &str| -> Result<String, String> {
        assert_eq!(t, "{{labels.some == 'label'}}");
        Ok(has_label.to_string())
    };
    let results = precondition_results(pre, u, &mut render).expect("rendered");
    advance(&pre.time_window, WindowRule::all(pre.reset_on_success), &results, stored, &u.key(), None, now)
}

#[test]
fn default_states_are_the_terminal_ones_and_paused_and_own_flow_never_triggers() {
    let s = spec_of(json!({}));
    assert!(reacts(&s, "ns", "down", &up("e", "ns", "up", StateType::Success, &[])));
    assert!(reacts(&s, "ns", "down", &up("e", "ns", "up", StateType::Killed, &[])));
    assert!(reacts(&s, "ns", "down", &up("e", "ns", "up", StateType::Paused, &[])), "Kestra >= 0.22");
    assert!(!reacts(&s, "ns", "down", &up("e", "ns", "up", StateType::Running, &[])));
    let s = spec_of(json!({"states": ["RUNNING", "PAUSED", "RETRYING", "QUEUED", "KILLING"]}));
    assert!(reacts(&s, "ns", "down", &up("e", "ns", "up", StateType::Running, &[])));
    assert!(reacts(&s, "ns", "down", &up("e", "ns", "up", StateType::Queued, &[])));
    assert!(!reacts(&s, "ns", "down", &up("e", "ns", "up", StateType::Success, &[])));
    assert!(!reacts(&s, "ns", "down", &up("e", "ns", "down", StateType::Success, &[])), "no recursion");
    let s = spec_of(json!({"states": ["FAILED"]}));
    assert!(!reacts(&s, "ns", "down", &up("e", "ns", "up", StateType::Success, &[])));
    assert!(reacts(&s, "ns", "down", &up("e", "ns", "up", StateType::Failed, &[])));
}

#[test]
fn two_upstreams_fire_once_after_both_then_reset() {
    let s = corpus_listen();
    let labels = [Label { key: "some".into(), value: "label".into() }];
    let now = at("2024-05-02T10:00:00Z");
    let a = step(
        &s,
        &up(
            "a1",
            "io.kestra.tests.trigger.preconditions",
            "flow-trigger-preconditions-flow-a",
            StateType::Success,
            &labels,
        ),
        None,
        now,
    );
    assert_eq!(a.fire, None);
    let rec = a.save.expect("partial state stored");
    assert_eq!(rec.results.len(), 2, "flows[0] and where[0]: {:?}", rec.results);
    // the same end handled again changes nothing
    let again = step(
        &s,
        &up(
            "a1",
            "io.kestra.tests.trigger.preconditions",
            "flow-trigger-preconditions-flow-a",
            StateType::Success,
            &labels,
        ),
        Some(rec.clone()),
        now,
    );
    assert_eq!((again.save, again.fire), (None, None));
    let b = step(
        &s,
        &up(
            "b1",
            "io.kestra.tests.trigger.preconditions",
            "flow-trigger-preconditions-flow-b",
            StateType::Success,
            &[],
        ),
        Some(rec),
        now + Duration::minutes(1),
    );
    let fired = b.fire.expect("fires after both");
    assert_eq!(fired, Firing { window_start: at("2024-05-02T00:00:00Z"), round: 0 });
    let rec = b.save.expect("stored");
    assert!(rec.results.is_empty(), "resetOnSuccess clears the results");
    assert_eq!(rec.round, 1);
    // a redelivered end of b re-derives the same firing, stores nothing
    let dup = step(
        &s,
        &up(
            "b1",
            "io.kestra.tests.trigger.preconditions",
            "flow-trigger-preconditions-flow-b",
            StateType::Success,
            &[],
        ),
        Some(rec.clone()),
        now + Duration::minutes(2),
    );
    assert_eq!((dup.save, dup.fire), (None, Some(fired)));
    // a second b alone does not fire again
    let b2 = step(
        &s,
        &up(
            "b2",
            "io.kestra.tests.trigger.preconditions",
            "flow-trigger-preconditions-flow-b",
            StateType::Success,
            &[],
        ),
        Some(rec),
        now + Duration::minutes(3),
    );
    assert_eq!(b2.fire, None);
}

#[test]
fn a_label_or_a_state_that_does_not_match_counts_nothing() {
    let s = corpus_listen();
    // flow-a without its label: flows[0] holds, where[0] (the expression) does not
    let a = step(
        &s,
        &up(
            "a1",
            "io.kestra.tests.trigger.preconditions",
            "flow-trigger-preconditions-flow-a",
            StateType::Success,
            &[],
        ),
        None,
        at("2024-05-02T10:00:00Z"),
    );
    let rec = a.save.expect("one condition met");
    assert_eq!(rec.results.keys().collect::<Vec<_>>(), vec!["flows[0]"]);
    // flow-b FAILED: flows[1] wants SUCCESS; where[1] has no state filter
    let b = step(
        &s,
        &up("b1", "io.kestra.tests.trigger.preconditions", "flow-trigger-preconditions-flow-b", StateType::Failed, &[]),
        Some(rec),
        at("2024-05-02T10:01:00Z"),
    );
    assert_eq!(b.fire, None);
    assert!(b.save.expect("stored").results.contains_key("where[1]:flow2"));
}

#[test]
fn reset_on_success_false_fires_on_any_later_transition_of_a_complete_window() {
    let s = spec_of(json!({"preconditions": {"id": "p", "resetOnSuccess": false, "flows": [
        {"namespace": "ns", "flowId": "a"}, {"namespace": "ns", "flowId": "b"}]}}));
    let now = at("2024-05-02T10:00:00Z");
    let r1 = step(&s, &up("a1", "ns", "a", StateType::Success, &[]), None, now).save;
    let r2 = step(&s, &up("b1", "ns", "b", StateType::Success, &[]), r1, now);
    assert_eq!(r2.fire.map(|f| f.round), Some(0));
    let r3 = step(&s, &up("a2", "ns", "a", StateType::Success, &[]), r2.save, now);
    assert_eq!(r3.fire.map(|f| f.round), Some(1), "each firing has its own round");
    // an end of a flow no precondition names: the window is complete, so
    // Kestra's MultipleCondition.test holds and the trigger fires
    let other = up("z1", "other", "zzz", StateType::Success, &[]);
    let r4 = step(&s, &other, r3.save.clone(), now);
    assert_eq!(r4.fire.map(|f| f.round), Some(2));
    // the same transition again: the same firing, nothing stored
    let again = step(&s, &other, r4.save.clone(), now);
    assert_eq!((again.fire.map(|f| f.round), again.save), (Some(2), None));
    // the next day the window is new and empty: nothing until both again
    let tomorrow = at("2024-05-03T10:00:00Z");
    assert_eq!(step(&s, &up("z2", "other", "zzz", StateType::Success, &[]), r4.save.clone(), tomorrow).fire, None);
    // with resetOnSuccess (the default), an unrelated end after a firing fires nothing
    let t = spec_of(json!({"preconditions": {"id": "p", "flows": [
        {"namespace": "ns", "flowId": "a"}, {"namespace": "ns", "flowId": "b"}]}}));
    let r1 = step(&t, &up("a1", "ns", "a", StateType::Success, &[]), None, now).save;
    let r2 = step(&t, &up("b1", "ns", "b", StateType::Success, &[]), r1, now);
    assert!(r2.fire.is_some());
    assert_eq!(step(&t, &other, r2.save, now).fire, None);
}

#[test]
fn a_window_merges_its_upstreams_outputs_for_trigger_outputs() {
    let s = spec_of(json!({"preconditions": {"id": "p", "flows": [
        {"namespace": "ns", "flowId": "a"}, {"namespace": "ns", "flowId": "b"}]}}));
    let pre = s.preconditions.as_ref().expect("preconditions");
    let now = at("2024-05-02T10:00:00Z");
    let mut render = |_: &str| -> Result<String, String> { Ok(String::new()) };
    let mut run = |u: &Upstream<'_>, out: serde_json::Value, stored: Option<WindowRecord>| {
        let results = precondition_results(pre, u, &mut render).expect("results");
        let out = out.as_object().cloned().unwrap_or_default();
        advance(&pre.time_window, WindowRule::all(pre.reset_on_success), &results, stored, &u.key(), Some(&out), now)
    };
    let a = run(&up("a1", "ns", "a", StateType::Success, &[]), json!({"x": 1, "m": {"k": "a", "only_a": true}}), None);
    assert!(a.fire.is_none());
    let b = run(&up("b1", "ns", "b", StateType::Success, &[]), json!({"y": 2, "m": {"k": "b"}}), a.save);
    assert!(b.fire.is_some());
    assert_eq!(
        serde_json::Value::Object(b.outputs),
        json!({"x": 1, "y": 2, "m": {"k": "b", "only_a": true}}),
        "both upstreams' outputs, the later one winning on a shared key"
    );
    let rec = b.save.expect("stored");
    assert!(rec.outputs.is_empty(), "a reset window forgets its outputs");
    // too big to keep: counted, its outputs left out
    let huge = json!({"blob": "x".repeat(MAX_WINDOW_OUTPUTS_BYTES + 1)});
    let c = run(&up("a2", "ns", "a", StateType::Success, &[]), huge, Some(rec));
    assert!(c.outputs_dropped);
    assert!(c.save.expect("stored").results.contains_key("flows[0]"));
}

#[test]
fn an_expired_window_starts_over_and_a_closed_one_is_not_evaluated() {
    let s = spec_of(json!({"preconditions": {"id": "p", "flows": [
        {"namespace": "ns", "flowId": "a"}, {"namespace": "ns", "flowId": "b"}]}}));
    let r1 = step(&s, &up("a1", "ns", "a", StateType::Success, &[]), None, at("2024-05-02T23:00:00Z")).save;
    // the next day: a's result belonged to yesterday's window
    let r2 = step(&s, &up("b1", "ns", "b", StateType::Success, &[]), r1, at("2024-05-03T01:00:00Z"));
    assert_eq!(r2.fire, None);
    assert_eq!(r2.save.expect("new window").start, at("2024-05-03T00:00:00Z"));

    let d = spec_of(json!({"preconditions": {"id": "p",
        "timeWindow": {"type": "DAILY_TIME_DEADLINE", "deadline": "09:00:00"},
        "flows": [{"namespace": "ns", "flowId": "a"}]}}));
    assert_eq!(
        step(&d, &up("a1", "ns", "a", StateType::Success, &[]), None, at("2024-05-02T10:00:00Z")),
        Advance { save: None, fire: None, outputs: serde_json::Map::new(), outputs_dropped: false }
    );
    assert!(step(&d, &up("a1", "ns", "a", StateType::Success, &[]), None, at("2024-05-02T08:00:00Z")).fire.is_some());
}

#[test]
fn filters_as_kestra_evaluates_them() {
    let s = spec_of(json!({"preconditions": {"id": "p", "where": [
    {"id": "w", "operand": "OR", "filters": [
        {"field": "STATE", "type": "IN", "values": ["FAILED", "WARNING"]},
        {"field": "FLOW_ID", "type": "REGEX", "value": "ing.*"}
    ]}]}}));
    let now = at("2024-05-02T10:00:00Z");
    assert!(step(&s, &up("x", "ns", "other", StateType::Failed, &[]), None, now).fire.is_some());
    assert!(step(&s, &up("y", "ns", "ingest", StateType::Success, &[]), None, now).fire.is_some());
    assert!(
        step(&s, &up("z", "ns", "xingest", StateType::Success, &[]), None, now).fire.is_none(),
        "REGEX matches the whole value"
    );
}

#[test]
fn ids_are_per_upstream_transition_and_per_firing() {
    let u = up("e1", "ns", "a", StateType::Success, &[]);
    let a = execution_seed("ns", "down", "t", &u, &[]);
    assert_eq!(a, execution_seed("ns", "down", "t", &u, &[]));
    assert_ne!(a, execution_seed("ns", "down", "t2", &u, &[]));
    let later = Upstream { transition: 2, ..u.clone() };
    assert_ne!(a, execution_seed("ns", "down", "t", &later, &[]), "an execution restarted and ended again");
    let f0 = ("p".to_string(), Firing { window_start: at("2024-05-02T00:00:00Z"), round: 0 });
    let f1 = ("p".to_string(), Firing { round: 1, ..f0.1 });
    let other = up("e2", "ns", "b", StateType::Success, &[]);
    assert_eq!(
        execution_seed("ns", "down", "t", &u, std::slice::from_ref(&f0)),
        execution_seed("ns", "down", "t", &other, std::slice::from_ref(&f0))
    );
    assert_ne!(execution_seed("ns", "down", "t", &u, &[f0]), execution_seed("ns", "down", "t", &u, &[f1]));
}

#[test]
fn every_precondition_property_is_checked_and_located() {
    let err = spec::parse(&trigger(json!({
        "states": ["CREATED", "NOPE", "PAUSED", "RUNNING"],
        "preconditions": {"id": "-bad", "bogus": 1,
            "flows": [{"flowId": "x", "extra": true}],
            "where": [{"id": "w", "operand": "XOR", "filters": [
                {"field": "COLOR", "type": "EQUAL_TO", "value": "x"},
                {"field": "FLOW_ID", "type": "IN", "value": "x"},
                {"field": "FLOW_ID", "type": "EQUAL_TO"},
                {"field": "FLOW_ID", "type": "REGEX", "value": "("}
            ]}],
            "timeWindow": {"type": "SLIDING_WINDOW", "deadline": "09:00"}}
    })))
    .expect_err("invalid");
    let paths: Vec<&str> = err.iter().map(|p| p.path.as_str()).collect();
    assert!(!paths.contains(&"states[2]") && !paths.contains(&"states[3]"), "PAUSED, RUNNING are valid: {err:#?}");
    for want in [
        "states[0]",
        "states[1]",
        "preconditions.id",
        "preconditions.bogus",
        "preconditions.flows[0]",
        "preconditions.flows[0].extra",
        "preconditions.where[0].operand",
        "preconditions.where[0].filters[0].field",
        "preconditions.where[0].filters[1].value",
        "preconditions.where[0].filters[2]",
        "preconditions.where[0].filters[3].value",
        "preconditions.timeWindow.deadline",
    ] {
        assert!(paths.contains(&want), "{want} not in {err:#?}");
    }
}
