//! Unit tests of the conditions: each type against Kestra's documented
//! behaviour, parsing problems with their paths, use per trigger type,
//! public holidays (validation of flows with conditions: shared's `validate` tests).

use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::{NoHost, Renderer};
use baton_model::{Attempt, Execution, State, StateType, TaskRun};

fn one(v: Value) -> Condition {
    let mut list = parse_list(&json!([v])).expect("parses");
    list.remove(0)
}

fn problems(v: Value) -> Vec<String> {
    parse_list(&v).expect_err("must not parse").into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect()
}

/// Tests `c` with `trigger.date` = `date` and an optional upstream execution.
fn test_at(c: &Condition, date: &str, execution: Option<&Execution>) -> Result<bool, ConditionError> {
    let renderer = Renderer::new();
    let vars = json!({"trigger": {"date": date}, "flow": {"namespace": "company.team", "id": "f"}});
    let cx = ConditionContext {
        namespace: "company.team",
        flow_id: "f",
        execution,
        variables: &vars,
        renderer: &renderer,
        host: &NoHost,
        now: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    };
    c.test(&cx)
}

fn holds(c: &Condition, date: &str) -> bool {
    test_at(c, date, None).expect("evaluates")
}

const T: &str = "io.kestra.plugin.core.condition.";

#[test]
fn day_week_tests_the_trigger_date_in_its_own_zone() {
    let c = one(json!({"type": format!("{T}DayWeek"), "dayOfWeek": "MONDAY"}));
    assert!(holds(&c, "2026-11-02T11:00:00Z"));
    assert!(!holds(&c, "2026-11-03T11:00:00Z"));
    // Monday 00:30 in Paris is Sunday 23:30 UTC: the day is the date's own
    assert!(holds(&c, "2026-11-02T00:30:00+01:00"));
    assert!(holds(&c, "2026-11-02"), "a plain ISO date is a LocalDate, as Kestra's DateUtils");
    let explicit = one(json!({"type": format!("{T}DayWeek"), "dayOfWeek": "FRIDAY", "date": "2026-11-06T10:00:00Z"}));
    assert!(holds(&explicit, "2026-11-02T11:00:00Z"), "an explicit date wins over trigger.date");
    let legacy = one(json!({"type": "io.kestra.core.models.conditions.types.DayWeekCondition", "dayOfWeek": "MONDAY"}));
    assert_eq!(legacy.type_name(), super::catalog::names::DAY_WEEK);
}

#[test]
fn day_week_in_month_first_to_fourth_and_last() {
    let c =
        |which: &str| one(json!({"type": format!("{T}DayWeekInMonth"), "dayOfWeek": "MONDAY", "dayInMonth": which}));
    // November 2026: Mondays are 2, 9, 16, 23, 30
    let mondays: Vec<u32> = (1..=30).filter(|d| holds(&c("FIRST"), &format!("2026-11-{d:02}T11:00:00Z"))).collect();
    assert_eq!(mondays, [2]);
    assert!(holds(&c("SECOND"), "2026-11-09T11:00:00Z"));
    assert!(holds(&c("THIRD"), "2026-11-16T11:00:00Z"));
    assert!(holds(&c("FOURTH"), "2026-11-23T11:00:00Z"));
    assert!(holds(&c("LAST"), "2026-11-30T11:00:00Z"));
    assert!(!holds(&c("LAST"), "2026-11-23T11:00:00Z"));
    // a month starting on the weekday itself: June 2026 starts on a Monday
    assert!(holds(&c("FIRST"), "2026-06-01T11:00:00Z"));
}

#[test]
fn date_time_between_is_inclusive_and_needs_a_bound() {
    let c = one(
        json!({"type": format!("{T}DateTimeBetween"), "after": "2025-01-01T00:00:00Z", "before": "2025-12-31T23:59:59Z"}),
    );
    assert!(holds(&c, "2025-01-01T00:00:00Z"), "after is inclusive");
    assert!(holds(&c, "2025-12-31T23:59:59Z"), "before is inclusive");
    assert!(!holds(&c, "2026-01-01T00:00:00Z"));
    assert!(holds(&c, "2025-06-01T02:00:00+02:00"));
    let after = one(json!({"type": format!("{T}DateTimeBetween"), "after": "2025-12-31T23:59:59Z"}));
    assert!(!holds(&after, "2025-06-01T00:00:00Z"));
    let p = problems(json!([{"type": format!("{T}DateTimeBetween")}]));
    assert!(p[0].contains("'after'") && p[0].contains("before"), "{p:?}");
    let p = problems(json!([{"type": format!("{T}DateTimeBetween"), "after": "yesterday"}]));
    assert!(p[0].starts_with("[0].after:"), "{p:?}");
}

#[test]
fn time_between_is_strict_and_compares_offsets() {
    let c = one(json!({"type": format!("{T}TimeBetween"), "after": "16:00:00+02:00", "before": "20:00:00+02:00"}));
    assert!(holds(&c, "2026-03-03T17:00:00+02:00"));
    assert!(holds(&c, "2026-03-03T15:00:00Z"), "15:00Z is 17:00+02:00");
    assert!(!holds(&c, "2026-03-03T16:00:00+02:00"), "after is exclusive (isAfter)");
    assert!(!holds(&c, "2026-03-03T20:00:00+02:00"), "before is exclusive (isBefore)");
    assert!(!holds(&c, "2026-03-03T21:00:00+02:00"));
}

#[test]
fn weekend_is_saturday_and_sunday() {
    let c = one(json!({"type": format!("{T}Weekend")}));
    assert!(holds(&c, "2026-11-07T10:00:00Z") && holds(&c, "2026-11-08T10:00:00Z"));
    assert!(!holds(&c, "2026-11-09T10:00:00Z"));
}

#[test]
fn not_is_none_of_and_or_is_any_of() {
    // Kestra's example: work days in France
    let work_day = one(json!({"type": format!("{T}Not"), "conditions": [
        {"type": format!("{T}PublicHoliday"), "country": "FR"},
        {"type": format!("{T}Weekend")}
    ]}));
    assert!(holds(&work_day, "2026-07-13T11:00:00+02:00"));
    assert!(!holds(&work_day, "2026-07-14T11:00:00+02:00"), "Bastille Day");
    assert!(!holds(&work_day, "2026-07-12T11:00:00+02:00"), "a Sunday");
    let or = one(json!({"type": format!("{T}Or"), "conditions": [
        {"type": format!("{T}DayWeek"), "dayOfWeek": "MONDAY"},
        {"type": format!("{T}DayWeek"), "dayOfWeek": "FRIDAY"}
    ]}));
    assert!(holds(&or, "2026-11-06T00:00:00Z") && holds(&or, "2026-11-02T00:00:00Z"));
    assert!(!holds(&or, "2026-11-04T00:00:00Z"));
    assert!(problems(json!([{"type": format!("{T}Or"), "conditions": []}]))[0].contains("non-empty"));
}

#[test]
fn expression_is_true_unless_blank_or_false() {
    let c = |e: &str| one(json!({"type": format!("{T}Expression"), "expression": e}));
    assert!(holds(&c("{{ trigger.date | date('EEEE') == 'Monday' }}"), "2026-11-02T11:00:00Z"));
    assert!(!holds(&c("{{ trigger.date | date('EEEE') == 'Monday' }}"), "2026-11-03T11:00:00Z"));
    assert!(holds(&c("{{ 0 }}"), "2026-11-03T11:00:00Z"), "Kestra: only blank and 'false' are false");
    assert!(!holds(&c("  "), "2026-11-03T11:00:00Z"));
    let legacy = one(json!({"type": "io.kestra.core.models.conditions.types.VariableCondition", "expression": "true"}));
    assert_eq!(legacy.short_name(), "Expression");
    let err = test_at(&c("{{ nope.x }}"), "2026-11-03T11:00:00Z", None).expect_err("undefined");
    assert!(err.to_string().contains("Expression") && err.to_string().contains("expression"), "{err}");
}

#[test]
fn public_holidays_follow_jollyday() {
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let h = |c: &str, sub: Option<&str>, d: &str| holidays::is_holiday(c, sub, day(d)).expect("supported");
    assert_eq!(holidays::easter(2026), Some(day("2026-04-05")));
    assert_eq!(holidays::easter(2024), Some(day("2024-03-31")));
    assert_eq!(holidays::easter(2019), Some(day("2019-04-21")));
    // France: Easter Monday, Ascension, Whit Monday; no Good Friday except in Alsace-Moselle
    assert!(h("FR", None, "2026-04-06") && h("FR", None, "2026-05-14") && h("FR", None, "2026-05-25"));
    assert!(!h("FR", None, "2026-04-03") && h("FR", Some("br"), "2026-04-03") && h("FR", Some("FR-BR"), "2026-12-26"));
    assert!(!h("FR", None, "2005-05-16"), "no Whit Monday 2004-2007");
    // Germany: national Good Friday and Unity day; Corpus Christi in Bavaria only
    assert!(h("DE", None, "2026-04-03") && h("DE", None, "2026-10-03"));
    assert!(!h("DE", None, "2026-06-04") && h("DE", Some("by"), "2026-06-04"));
    assert!(h("DE", Some("sn"), "2026-11-18"), "Buß- und Bettag in Saxony");
    // US: Thanksgiving, Juneteenth moved from a Saturday to the Friday, Election Day in even years
    assert!(h("US", None, "2026-11-26") && h("US", None, "2026-06-19") && h("US", None, "2027-06-18"));
    assert!(h("US", None, "2026-11-03") && !h("US", None, "2027-11-02"));
    assert!(!h("US", None, "2026-11-27"));
    // GB: Christmas on a Saturday moves to Monday, Boxing Day to Tuesday; Easter Monday only in England etc.
    assert!(h("GB", None, "2021-12-27") && h("GB", None, "2021-12-28") && !h("GB", None, "2021-12-25"));
    assert!(!h("GB", None, "2026-04-06") && h("GB", Some("en"), "2026-04-06"));
    let err = holidays::check("JP", None).expect_err("unsupported");
    assert!(err.contains("JP") && err.contains("US, FR, DE, GB"), "{err}");
    assert!(holidays::check("US", Some("ca")).expect_err("no US subdivisions").starts_with("subDivision"));
    let p = problems(json!([{"type": format!("{T}PublicHoliday"), "country": "JP"}]));
    assert!(p[0].starts_with("[0].country:") && p[0].contains("supported"), "{p:?}");
}

fn execution(namespace: &str, flow: &str, state: StateType) -> Execution {
    let mut e: Execution = serde_json::from_value(json!({
        "id": "e1", "namespace": namespace, "flowId": flow, "flowRevision": 1, "originalId": "e1",
        "state": {"current": "CREATED", "histories": []},
        "labels": [{"key": "owner", "value": "john.doe"}, {"key": "env", "value": "prod"}]
    }))
    .expect("execution");
    e.state.current = state;
    e
}

#[test]
fn execution_conditions_test_the_upstream_execution() {
    let e = execution("company.engineering.data", "upstream", StateType::Failed);
    let t = |c: Value| test_at(&one(c), "2026-11-02T11:00:00Z", Some(&e)).expect("evaluates");
    assert!(t(
        json!({"type": format!("{T}ExecutionFlow"), "namespace": "company.engineering.data", "flowId": "upstream"})
    ));
    assert!(!t(
        json!({"type": format!("{T}ExecutionFlow"), "namespace": "company.engineering.data", "flowId": "other"})
    ));
    assert!(t(
        json!({"type": format!("{T}ExecutionNamespace"), "namespace": "company.engineering", "comparison": "PREFIX"})
    ));
    assert!(t(json!({"type": format!("{T}ExecutionNamespace"), "namespace": "company.engineering", "prefix": true})));
    assert!(!t(json!({"type": format!("{T}ExecutionNamespace"), "namespace": "company.engineering"})));
    assert!(t(json!({"type": format!("{T}ExecutionNamespace"), "namespace": ".data", "comparison": "SUFFIX"})));
    assert!(t(json!({"type": format!("{T}ExecutionStatus"), "in": ["FAILED", "WARNING"]})));
    assert!(!t(json!({"type": format!("{T}ExecutionStatus"), "notIn": ["FAILED"]})));
    assert!(t(json!({"type": format!("{T}ExecutionLabels"), "labels": {"owner": "john.doe"}})));
    assert!(!t(json!({"type": format!("{T}ExecutionLabels"), "labels": [{"key": "env", "value": "dev"}]})));
    assert!(!t(json!({"type": format!("{T}ExecutionOutputs"), "expression": "{{ true }}"})), "no outputs: false");
    let mut with_out = e.clone();
    with_out.outputs = Some(serde_json::from_value(json!({"flow_a_output": "hello"})).expect("map"));
    let c = one(
        json!({"type": format!("{T}ExecutionOutputs"), "expression": "{{ trigger.outputs.flow_a_output == 'hello' }}"}),
    );
    assert!(test_at(&c, "2026-11-02T11:00:00Z", Some(&with_out)).expect("evaluates"));
    let status = one(json!({"type": format!("{T}ExecutionStatus"), "in": ["SUCCESS"]}));
    let err = test_at(&status, "2026-11-02T11:00:00Z", None).expect_err("no execution");
    assert!(err.to_string().contains("null execution"), "{err}");
}

#[test]
fn flow_conditions_test_the_flow_owning_the_trigger() {
    let t = |c: Value| holds(&one(c), "2026-11-02T11:00:00Z");
    assert!(t(json!({"type": format!("{T}FlowCondition"), "namespace": "company.team", "flowId": "f"})));
    assert!(!t(json!({"type": format!("{T}FlowCondition"), "namespace": "company.team", "flowId": "g"})));
    assert!(t(json!({"type": format!("{T}FlowNamespaceCondition"), "namespace": "company", "prefix": true})));
    assert!(!t(json!({"type": format!("{T}FlowNamespaceCondition"), "namespace": "company"})));
}

#[test]
fn has_retry_attempt_looks_at_retried_task_runs_only() {
    let mut e = execution("n", "f", StateType::Success);
    let attempt = |s: StateType| Attempt { state: State::new(s, Utc::now()), worker_id: None, log_file: None };
    let run: TaskRun = serde_json::from_value(json!({
        "id": "t1", "executionId": "e1", "namespace": "n", "flowId": "f", "taskId": "a",
        "state": {"current": "SUCCESS", "histories": []}
    }))
    .expect("task run");
    let mut retried = run.clone();
    retried.attempts = [attempt(StateType::Failed), attempt(StateType::Success)].into_iter().collect();
    let mut once = run;
    once.attempts = [attempt(StateType::Killed)].into_iter().collect();
    e.task_run_list = vec![once, retried];
    let t = |c: Value| test_at(&one(c), "2026-11-02T11:00:00Z", Some(&e)).expect("evaluates");
    assert!(t(json!({"type": format!("{T}HasRetryAttempt"), "in": ["FAILED"]})));
    assert!(!t(json!({"type": format!("{T}HasRetryAttempt"), "in": ["KILLED"]})), "a single attempt is no retry");
    assert!(!t(json!({"type": format!("{T}HasRetryAttempt")})), "Kestra: no 'in' matches nothing");
}

#[test]
fn multiple_condition_is_kept_raw_for_the_flow_trigger() {
    let raw = json!({"id": "multiple", "type": format!("{T}MultipleCondition"), "window": "P1D", "windowAdvance": "P0D",
        "conditions": {"flow-a": {"type": format!("{T}ExecutionFlow"), "namespace": "n", "flowId": "a"}}});
    assert_eq!(one(raw.clone()), Condition::Multiple { raw });
    let p = problems(json!([{"type": format!("{T}MultipleCondition"), "window": "P1D",
        "conditions": {"flow-a": {"type": format!("{T}ExecutionFlow"), "namespace": "n"}}}]));
    assert!(p.iter().any(|p| p.starts_with("[0].conditions.flow-a:") && p.contains("flowId")), "{p:?}");
}

#[test]
fn parse_problems_name_the_condition_and_the_property() {
    let p = problems(json!([
        {"type": format!("{T}DayWeek"), "dayOfWeek": "MONDAY"},
        {"type": format!("{T}DayWeek"), "dayOfWeek": "monday"},
        {"type": format!("{T}DayWek"), "dayOfWeek": "MONDAY"},
        {"type": format!("{T}DayWeek"), "dayOfWeek": "MONDAY", "bogus": 1},
        {"type": format!("{T}DayWeekInMonth"), "dayOfWeek": "MONDAY"},
        {"type": format!("{T}ExecutionStatus"), "in": ["DONE"]}
    ]));
    assert_eq!(p.len(), 5, "{p:?}");
    assert!(p[0].starts_with("[1].dayOfWeek:") && p[0].contains("MONDAY"), "{p:?}");
    assert!(
        p[1].starts_with("[2].type:") && p[1].contains("did you mean io.kestra.plugin.core.condition.DayWeek?"),
        "{p:?}"
    );
    assert!(p[2].starts_with("[3].bogus:") && p[2].contains("unknown property"), "{p:?}");
    assert!(p[3].starts_with("[4]:") && p[3].contains("missing required property 'dayInMonth'"), "{p:?}");
    assert!(p[4].starts_with("[5].in[0]:"), "{p:?}");
    // Kestra's older map of id -> condition
    let map = parse_list(&json!({"monday": {"type": format!("{T}DayWeek"), "dayOfWeek": "MONDAY"}})).expect("map");
    assert_eq!(map.len(), 1);
    let p = problems(json!({"monday": {"type": format!("{T}DayWeek")}}));
    assert!(p[0].starts_with("monday:"), "{p:?}");
    // nesting is bounded
    let mut deep = json!({"type": format!("{T}Weekend")});
    for _ in 0..=MAX_DEPTH {
        deep = json!({"type": format!("{T}Not"), "conditions": [deep]});
    }
    assert!(problems(json!([deep])).iter().any(|p| p.contains("deeper than")));
}

#[test]
fn check_use_rejects_conditions_a_trigger_type_cannot_test() {
    let list = parse_list(&json!([
        {"type": format!("{T}DayWeek"), "dayOfWeek": "MONDAY"},
        {"type": format!("{T}ExecutionStatus"), "in": ["SUCCESS"]},
        {"type": format!("{T}Not"), "conditions": [{"type": format!("{T}ExecutionFlow"), "namespace": "n", "flowId": "f"}]}
    ]))
    .expect("parses");
    let on_schedule = check_use(&list, ConditionUse::Schedule);
    assert_eq!(on_schedule.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["[1]", "[2]"]);
    assert!(on_schedule[0].message.contains("ExecutionStatus"));
    assert!(check_use(&list, ConditionUse::Flow).is_empty());
    assert_eq!(check_use(&list, ConditionUse::Webhook).len(), 2);
    let on_poll = check_use(&list, ConditionUse::Polling);
    assert_eq!(on_poll.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["[1]", "[2]"]);
    assert!(on_poll[0].message.contains("polling trigger"));
}
