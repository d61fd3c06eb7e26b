//! Kestra 2.0 `dependsOn` / `window` / `mode`: parsing, problems named by
//! path, entry matching and the window decisions (all, any, at least,
//! fireOnce, scoped outputs).

use chrono::{DateTime, NaiveTime, Utc};
use serde_json::{Value, json};

use super::*;
use crate::model::{Label, StateType};
use crate::triggers::flow::decide::{WindowRecord, advance};
use crate::triggers::flow::spec::Problems;

fn parse_ok(v: Value) -> DependsOn {
    let mut p = Problems(Vec::new());
    let d = parse(v.as_object().expect("map"), &mut p).expect("dependsOn");
    assert!(p.0.is_empty(), "{:?}", p.0.iter().map(|x| format!("{}: {}", x.path, x.message)).collect::<Vec<_>>());
    d
}

fn problems(v: Value) -> Vec<String> {
    let mut p = Problems(Vec::new());
    parse(v.as_object().expect("map"), &mut p);
    p.0.into_iter().map(|x| format!("{}: {}", x.path, x.message)).collect()
}

fn up<'a>(id: &'a str, flow: &'a str, state: StateType, labels: &'a [Label]) -> Upstream<'a> {
    Upstream { execution_id: id, namespace: "company.team", flow_id: flow, state, labels, transition: 1 }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).expect("date")
}

fn two() -> Value {
    json!([
        {"flowId": "stg_sales", "namespace": "company.team"},
        {"flowId": "stg_marketing", "namespace": "company.team"}
    ])
}

/// One upstream end against the window: whether it fires, and the window after.
fn step(d: &DependsOn, u: &Upstream<'_>, stored: Option<WindowRecord>, now: &str) -> (bool, Option<WindowRecord>) {
    let mut render = |_: &str| -> Result<String, String> { Ok("true".into()) };
    let r = results(d, u, &mut render).expect("results");
    let adv = advance(&d.window, d.rule(), &r, stored.clone(), &u.key(), None, at(now));
    (adv.fire.is_some(), adv.save.or(stored))
}

#[test]
fn entries_default_to_success_and_warning_and_match_exactly() {
    let d =
        parse_ok(json!({"dependsOn": [{"flowId": "extract", "namespace": "company.team", "labels": {"env": "prod"}}]}));
    assert_eq!(d.entries[0].states, vec![StateType::Success, StateType::Warning]);
    assert_eq!(d.mode, Mode::All);
    let prod = [Label { key: "env".into(), value: "prod".into() }];
    let mut render = |_: &str| -> Result<String, String> { Ok("true".into()) };
    let ok = |r: Vec<(String, bool)>| r[0].1;
    assert!(ok(results(&d, &up("e1", "extract", StateType::Success, &prod), &mut render).expect("r")));
    assert!(
        !ok(results(&d, &up("e1", "extract", StateType::Paused, &prod), &mut render).expect("r")),
        "PAUSED not by default"
    );
    assert!(
        !ok(results(&d, &up("e1", "extract", StateType::Success, &[]), &mut render).expect("r")),
        "labels must match"
    );
    let mut sub = up("e1", "extract", StateType::Success, &prod);
    sub.namespace = "company.team.sub";
    assert!(!ok(results(&d, &sub, &mut render).expect("r")), "namespace is an exact match");
}

#[test]
fn an_entry_when_renders_against_the_upstream() {
    let d = parse_ok(json!({"dependsOn": [{"states": ["FAILED"], "when": "{{ namespace | startsWith('company') }}"}]}));
    let mut asked = Vec::new();
    let mut no = |t: &str| -> Result<String, String> {
        asked.push(t.to_string());
        Ok("false".into())
    };
    let r = results(&d, &up("e1", "any", StateType::Failed, &[]), &mut no).expect("r");
    assert!(!r[0].1);
    assert_eq!(asked, vec!["{{ namespace | startsWith('company') }}"]);
    let mut yes = |_: &str| -> Result<String, String> { Ok("true".into()) };
    assert!(results(&d, &up("e1", "any", StateType::Failed, &[]), &mut yes).expect("r")[0].1);
    // not rendered when the states already exclude it
    let mut never = |_: &str| -> Result<String, String> { Err("rendered".into()) };
    assert!(!results(&d, &up("e1", "any", StateType::Success, &[]), &mut never).expect("r")[0].1);
}

#[test]
fn all_fires_once_both_upstreams_ended_and_again_each_time_they_are_met() {
    let d = parse_ok(json!({"dependsOn": two()}));
    let (fired, w) = step(&d, &up("s1", "stg_sales", StateType::Success, &[]), None, "2026-10-01T08:00:00Z");
    assert!(!fired, "sales alone is not enough");
    let (fired, w) = step(&d, &up("s1", "stg_sales", StateType::Success, &[]), w, "2026-10-01T08:01:00Z");
    assert!(!fired, "the same end again counts once");
    let (fired, w) = step(&d, &up("m1", "stg_marketing", StateType::Success, &[]), w, "2026-10-01T08:02:00Z");
    assert!(fired, "both ended");
    let (fired, w) = step(&d, &up("m2", "stg_marketing", StateType::Success, &[]), w, "2026-10-01T08:03:00Z");
    assert!(fired, "without fireOnce, every time the entries are met in the window");
    let (fired, _) = step(&d, &up("m3", "stg_marketing", StateType::Success, &[]), w, "2026-10-02T08:03:00Z");
    assert!(!fired, "a new day is a new window (default every P1D)");
}

#[test]
fn fire_once_any_and_at_least() {
    let mut v = json!({"dependsOn": two(), "window": {"every": "P1D", "fireOnce": true}});
    let d = parse_ok(v.clone());
    let (_, w) = step(&d, &up("s1", "stg_sales", StateType::Success, &[]), None, "2026-10-01T08:00:00Z");
    let (fired, w) = step(&d, &up("m1", "stg_marketing", StateType::Success, &[]), w, "2026-10-01T08:01:00Z");
    assert!(fired);
    let (fired, _) = step(&d, &up("m2", "stg_marketing", StateType::Success, &[]), w, "2026-10-01T08:02:00Z");
    assert!(!fired, "fireOnce: once per window");

    v["mode"] = json!("ANY");
    // a lookback window opens at the first end it counts (times carry
    // sub-seconds, as real ones do)
    v["window"] = json!({"lookback": "PT1H"});
    let d = parse_ok(v.clone());
    let (fired, _) = step(&d, &up("s1", "stg_sales", StateType::Success, &[]), None, "2026-10-01T08:00:00.5Z");
    assert!(fired, "ANY: one entry is enough");

    v["mode"] = json!("AT_LEAST");
    v["minSatisfied"] = json!(2);
    let d = parse_ok(v);
    assert_eq!(d.mode, Mode::AtLeast(2));
    let (fired, w) = step(&d, &up("s1", "stg_sales", StateType::Success, &[]), None, "2026-10-01T08:00:00.5Z");
    assert!(!fired);
    let (fired, _) = step(&d, &up("m1", "stg_marketing", StateType::Success, &[]), w, "2026-10-01T08:01:00.5Z");
    assert!(fired);
}

#[test]
fn windows_map_onto_the_time_window_kinds() {
    let d = parse_ok(json!({"dependsOn": two(), "window": {"deadline": "09:00:00+01:00"}}));
    assert_eq!(d.window.kind, WindowType::DailyTimeDeadline);
    assert_eq!(d.window.deadline, NaiveTime::from_hms_opt(8, 0, 0), "the offset is applied (UTC)");
    let (fired, w) = step(&d, &up("s1", "stg_sales", StateType::Success, &[]), None, "2026-10-01T09:30:00Z");
    assert!(!fired && w.is_none(), "after the deadline nothing counts");
    let d = parse_ok(json!({"dependsOn": two(), "window": {"from": "06:00", "to": "12:00:00"}}));
    assert_eq!((d.window.kind, d.window.start_time), (WindowType::DailyTimeWindow, NaiveTime::from_hms_opt(6, 0, 0)));
    let d = parse_ok(json!({"dependsOn": two(), "window": {"every": "P1D", "offset": "PT6H"}}));
    assert_eq!((d.window.window, d.window.window_advance), (Some(Duration::days(1)), Some(Duration::hours(6))));
    let d = parse_ok(json!({"dependsOn": two(), "window": {"lookback": "PT1H"}}));
    assert_eq!((d.window.kind, d.window.window), (WindowType::SlidingWindow, Some(Duration::hours(1))));
}

#[test]
fn problems_are_named_at_their_path() {
    let errs = problems(json!({"dependsOn": [{"flowId": 3, "bogus": 1, "states": ["DONE"]}], "mode": "SOME"}));
    for want in ["dependsOn[0].flowId: ", "dependsOn[0].bogus: ", "dependsOn[0].states[0]: ", "mode: "] {
        assert!(errs.iter().any(|e| e.starts_with(want)), "{want} in {errs:?}");
    }
    let errs = problems(json!({"dependsOn": two(), "window": {"deadline": "09:00", "every": "P1D"}}));
    assert!(errs.iter().any(|e| e.starts_with("window: ") && e.contains("cannot be combined")), "{errs:?}");
    let errs = problems(json!({"dependsOn": two(), "window": {"from": "06:00", "onMiss": {}}}));
    assert!(errs.iter().any(|e| e.starts_with("window.onMiss: ")), "{errs:?}");
    assert!(errs.iter().any(|e| e.contains("missing 'to'")), "{errs:?}");
    let errs = problems(json!({"dependsOn": two(), "mode": "AT_LEAST", "minSatisfied": 3}));
    assert!(errs.iter().any(|e| e.starts_with("minSatisfied: ")), "{errs:?}");
    let errs = problems(json!({"window": {"every": "P1D"}}));
    assert!(errs.iter().any(|e| e.starts_with("window: ") && e.contains("needs 'dependsOn'")), "{errs:?}");
    let errs = problems(json!({"dependsOn": two(), "window": {"deadline": "25:00"}}));
    assert!(errs.iter().any(|e| e.starts_with("window.deadline: ")), "{errs:?}");
}

#[test]
fn duplicate_entries_keep_distinct_keys() {
    let d = parse_ok(
        json!({"dependsOn": [{"flowId": "a", "namespace": "n"}, {"flowId": "a", "namespace": "n", "states": ["FAILED"]}]}),
    );
    assert_ne!(d.entries[0].key, d.entries[1].key);
}
