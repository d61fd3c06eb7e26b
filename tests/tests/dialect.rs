//! Kestra 2.0 beside 1.x (issue 25) end to end: each flow's dialect is
//! detected and reported, a construct of the other dialect is an error at
//! its file:line:column naming the replacement, and a Schedule's `when`
//! (with the 2.0 date helpers) decides which ticks run — a week of daily
//! ticks through the local scheduler gives the five weekdays.

use shared::dialect::{Basis, Dialect, Policy};
use shared::runtime::backfill::{BackfillRequest, create_backfill, run_backfill};
use shared::runtime::scheduler::Scheduler;

use crate::sched_support::{at, sched, trigger_date, wait_ended};

const WEEKDAYS: &str = r#"
id: weekdays
namespace: company.team
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ dayOfWeek(trigger.date) }}"
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    timezone: Europe/Paris
    when: "{{ not isWeekend(trigger.date) }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_of_ticks_with_when_not_weekend_gives_five_executions() {
    let s = sched();
    let flow = s.flow(WEEKDAYS);
    assert_eq!(flow.dialect.resolve(Policy::AUTO).dialect, Dialect::V2);
    let flows: std::sync::Arc<dyn shared::runtime::scheduler::FlowSource> = s.embedded.engine.flows.clone();
    let sch = Scheduler::new(s.embedded.engine.clone(), s.store.clone(), flows);
    // 2026-11-02 is a Monday; 09:00 Paris is 08:00 UTC
    sch.evaluate(at("2026-11-01T07:00:00Z")).await;
    for day in 2..=8 {
        sch.evaluate(at(&format!("2026-11-{day:02}T08:00:00Z"))).await;
    }
    let mut execs = s.executions("company.team", "weekdays").await;
    execs.sort_by_key(trigger_date);
    let dates: Vec<String> = execs.iter().map(trigger_date).collect();
    assert_eq!(
        dates,
        [
            "2026-11-02T09:00:00+01:00",
            "2026-11-03T09:00:00+01:00",
            "2026-11-04T09:00:00+01:00",
            "2026-11-05T09:00:00+01:00",
            "2026-11-06T09:00:00+01:00"
        ],
        "Saturday 7 and Sunday 8 do not run"
    );
    let done = wait_ended(&s.embedded.engine, &execs[0].id).await;
    let out = done.task_run_list[0].outputs.as_ref().and_then(|o| o.get("value")).cloned();
    assert_eq!(out, Some(serde_json::Value::String("MONDAY".into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_counts_the_ticks_when_refuses() {
    let s = sched();
    s.flow(&WEEKDAYS.replace(
        "{{ not isWeekend(trigger.date) }}",
        "{{ not isPublicHoliday(trigger.date, 'US') and dayOfWeek(trigger.date) != 'SUNDAY' }}",
    ));
    // 2026-07-01 (Wednesday) … 07-07: the 4th is Independence Day, the 5th a Sunday
    let req = BackfillRequest {
        namespace: "company.team".into(),
        flow_id: "weekdays".into(),
        trigger_id: "daily".into(),
        start: at("2026-07-01T00:00:00Z"),
        end: Some(at("2026-07-07T23:59:59Z")),
        ..BackfillRequest::default()
    };
    let b = create_backfill(&s.embedded.engine, s.store.as_ref(), req).await.expect("create");
    let b = run_backfill(&s.embedded.engine, s.store.as_ref(), &b.id, &mut |_| {}).await.expect("run");
    let p = &b.progress;
    assert_eq!((p.total, p.launched, p.conditions_false), (7, 5, 2), "{p:?}");
}

fn validate(yaml: &str, policy: Policy) -> shared::validate::Report {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    shared::validate::validate_source_with("flow.yaml", yaml, &registry, &renderer, policy)
}

#[test]
fn a_1x_construct_in_a_2_0_flow_is_an_error_at_its_position_naming_the_replacement() {
    let yaml = "id: mixed\nnamespace: company.team\npluginDefaults:\n  - type: io.kestra.plugin.core.log.Log\n    values:\n      level: WARN\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: daily\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 * * *\"\n    when: \"{{ not isWeekend(trigger.date) }}\"\n";
    let r = validate(yaml, Policy::AUTO);
    let d = r.dialect.expect("dialect");
    assert_eq!((d.dialect, d.basis), (Dialect::V2, Basis::Detected));
    assert!(d.reason.contains("triggers[0].when"), "{}", d.reason);
    assert_eq!(r.diagnostics.len(), 1, "{:?}", r.diagnostics);
    let text = r.diagnostics[0].to_string();
    assert!(text.starts_with("flow.yaml:3:1: pluginDefaults: `pluginDefaults` is Kestra 1.x only"), "{text}");
    assert!(text.contains("set the values on each task"), "{text}");

    // pinned to 1.x by its label, the 2.0 constructs are the errors
    let pinned =
        yaml.replace("namespace: company.team\n", "namespace: company.team\nlabels:\n  baton.dialect: \"1\"\n");
    let r = validate(&pinned, Policy::AUTO);
    assert_eq!(r.dialect.as_ref().map(|d| d.basis), Some(Basis::Label));
    let texts: Vec<String> = r.diagnostics.iter().map(ToString::to_string).collect();
    assert!(
        texts.iter().any(|t| t.starts_with("flow.yaml:17:5: triggers[0].when") && t.contains("conditions")),
        "{texts:?}"
    );
}

#[test]
fn a_flow_using_neither_dialect_runs_as_1x_unless_the_server_says_2() {
    let yaml = "id: plain\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let r = validate(yaml, Policy::AUTO);
    assert!(r.diagnostics.is_empty());
    assert_eq!(r.dialect.map(|d| (d.dialect, d.basis)), Some((Dialect::V1, Basis::Default)));
    let r = validate(yaml, Policy::parse("2").expect("policy"));
    assert_eq!(r.dialect.map(|d| (d.dialect, d.basis)), Some((Dialect::V2, Basis::Server)));
    // a 1.x flow under a 2.0 server: every 1.x construct is an error
    let old = "id: old\nnamespace: company.team\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [a, b]\n    tasks:\n      - id: log\n        type: io.kestra.plugin.core.log.Log\n        message: \"{{ taskrun.value }}\"\n";
    assert!(validate(old, Policy::AUTO).diagnostics.is_empty());
    let r = validate(old, Policy::parse("2").expect("policy"));
    assert_eq!(r.diagnostics.len(), 1);
    assert!(r.diagnostics[0].to_string().contains("io.kestra.plugin.core.flow.Loop"));
}

const STG_SALES: &str = r#"
id: stg_sales
namespace: company.team
tasks:
  - id: count
    type: io.kestra.plugin.core.debug.Return
    format: "120"
outputs:
  - id: row_count
    type: STRING
    value: "{{ outputs.count.value }}"
"#;

const STG_MARKETING: &str = r#"
id: stg_marketing
namespace: company.team
tasks:
  - id: count
    type: io.kestra.plugin.core.debug.Return
    format: "7"
outputs:
  - id: row_count
    type: STRING
    value: "{{ outputs.count.value }}"
"#;

const REPORT: &str = r#"
id: report
namespace: company.team
inputs:
  - id: rows
    type: STRING
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.rows }}"
triggers:
  - id: after_staging
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      rows: "{{ trigger.outputs.stg_sales.row_count }}+{{ trigger.outputs.stg_marketing.row_count }}"
    dependsOn:
      - flowId: stg_sales
        namespace: company.team
      - flowId: stg_marketing
        namespace: company.team
    window:
      every: P1D
      fireOnce: true
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depends_on_two_upstreams_starts_the_downstream_once_with_scoped_outputs() {
    use crate::flow_triggers::{ended, executions};
    let h = crate::support::harness();
    let report = h.flow(REPORT);
    assert_eq!(report.dialect.resolve(Policy::AUTO).dialect, Dialect::V2);
    let sales = h.flow(STG_SALES);
    let marketing = h.flow(STG_MARKETING);
    h.run_flow(&sales, serde_json::json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(executions(&h, "company.team", "report").await.is_empty(), "stg_sales alone is not enough");
    let m = h.run_flow(&marketing, serde_json::json!({})).await;
    let down = ended(&h, "company.team", "report", 1).await;
    assert_eq!(down.len(), 1, "both ended: one downstream");
    let d = &down[0];
    assert_eq!(d.state.current, shared::model::StateType::Success, "{d:#?}");
    assert_eq!(d.inputs["rows"], serde_json::json!("120+7"), "trigger.outputs scoped by flow id");
    assert_eq!(d.trigger.as_ref().expect("trigger").variables["executionId"], serde_json::json!(m.id));
    // the same end handled again, and both upstreams again in the same
    // window: fireOnce keeps it at one
    shared::runtime::flow_triggers::on_state_change(&h.embedded.engine, &m).await.expect("again");
    h.run_flow(&sales, serde_json::json!({})).await;
    h.run_flow(&marketing, serde_json::json!({})).await;
    assert_eq!(ended(&h, "company.team", "report", 1).await.len(), 1, "fireOnce: once per window");
}

#[test]
fn depends_on_problems_are_validation_errors_at_their_position() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let bad = REPORT
        .replace("      fireOnce: true", "      fireOnce: true\n      deadline: \"09:00\"")
        .replace("    window:", "    onMiss:\n      behavior: FAIL\n    window:");
    let (_, diags) = shared::validate::validate_source("report.yaml", &bad, &registry, &renderer);
    let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert!(text.iter().any(|t| t.contains("onMiss")), "onMiss is refused, not ignored: {text:?}");
    assert!(text.iter().any(|t| t.contains("cannot be combined")), "{text:?}");
}
