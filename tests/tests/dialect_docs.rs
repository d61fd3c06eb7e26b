//! Proof by running (issue 25): small Kestra 2.0 flows written from Kestra
//! 2.0's documentation examples (the `Loop` plugin page and its best
//! practices, the checks `when` migration page, the Schedule `when` date
//! helpers, SELECT `{label, value}`, JSON `jsonSchema`, namespace-file
//! revisions), each run on the embedded runtime and checked against the
//! outputs those pages describe. 1.x's spelling (`read(…, version=)`) is
//! run beside them.

use serde_json::json;
use shared::dialect::{Dialect, Policy};
use shared::model::StateType;
use shared::runtime::launcher::{LaunchError, LaunchRequest};
use shared::runtime::scheduler::Scheduler;

use crate::sched_support::{at, sched, trigger_date};
use crate::support::{Harness, harness, runs};

/// The `value` outputs of every run of `task`, sorted.
fn values(e: &shared::model::Execution, task: &str) -> Vec<String> {
    let mut v: Vec<String> = runs(e, task)
        .iter()
        .filter_map(|r| r.outputs.as_ref()?.get("value").map(|v| v.as_str().map_or(v.to_string(), str::to_string)))
        .collect();
    v.sort();
    v
}

async fn run_ok(h: &Harness, yaml: &str, inputs: serde_json::Value) -> shared::model::Execution {
    let flow = h.flow(yaml);
    assert_eq!(flow.dialect.resolve(Policy::AUTO).dialect, Dialect::V2, "a 2.0 flow");
    let e = h.run_flow(&flow, inputs).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    e
}

// The Loop plugin page's first example: `item.value` in every child, even
// nested in an If.
const LOOP_LIST: &str = r#"
id: for_loop_example
namespace: company.team
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.Loop
    values: ["value 1", "value 2", "value 3"]
    tasks:
      - id: before_if
        type: io.kestra.plugin.core.debug.Return
        format: "Before if {{ item.value }}"
      - id: if
        type: io.kestra.plugin.core.flow.If
        condition: '{{ item.value == "value 2" }}'
        then:
          - id: after_if
            type: io.kestra.plugin.core.debug.Return
            format: "After if {{ item.value }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_loop_over_a_list_reaches_item_value_inside_an_if() {
    let h = harness();
    let e = run_ok(&h, LOOP_LIST, json!({})).await;
    assert_eq!(values(&e, "before_if"), ["Before if value 1", "Before if value 2", "Before if value 3"]);
    assert_eq!(values(&e, "after_if"), ["After if value 2"], "only the second iteration takes the If");
    let out = runs(&e, "loop")[0].outputs.as_deref().cloned().unwrap_or_default();
    assert_eq!(out["iterationCount"], json!(3));
}

// Best practices for the Loop task: `item.index` is zero-based; an object's
// `item.value` is a JSON string read with `fromJson(item.value).field`.
const LOOP_OBJECTS: &str = r#"
id: loop_objects
namespace: company.team
tasks:
  - id: regions
    type: io.kestra.plugin.core.flow.Loop
    values: ["north", "south", "west"]
    concurrencyLimit: 1
    tasks:
      - id: log
        type: io.kestra.plugin.core.debug.Return
        format: "region={{ item.value }} index={{ item.index }}"
  - id: users
    type: io.kestra.plugin.core.flow.Loop
    values:
      - {"name": "Ana", "role": "admin"}
      - {"name": "Bo", "role": "viewer"}
    tasks:
      - id: role
        type: io.kestra.plugin.core.debug.Return
        format: "{{ fromJson(item.value).name }} is {{ fromJson(item.value).role }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_loop_index_is_zero_based_and_objects_are_json_strings() {
    let h = harness();
    let e = run_ok(&h, LOOP_OBJECTS, json!({})).await;
    assert_eq!(values(&e, "log"), ["region=north index=0", "region=south index=1", "region=west index=2"]);
    assert_eq!(values(&e, "role"), ["Ana is admin", "Bo is viewer"]);
}

// A map: `item.key` and `item.value`; an expression rendering to a JSON
// array (from an input) iterates its elements.
const LOOP_MAP_AND_EXPRESSION: &str = r#"
id: loop_map
namespace: company.team
inputs:
  - id: ids
    type: JSON
    defaults: [3, 5, 8]
tasks:
  - id: envs
    type: io.kestra.plugin.core.flow.Loop
    values:
      dev: "https://dev.example.com"
      prod: "https://example.com"
    tasks:
      - id: url
        type: io.kestra.plugin.core.debug.Return
        format: "{{ item.key }} -> {{ item.value }}"
  - id: expr
    type: io.kestra.plugin.core.flow.Loop
    values: "{{ inputs.ids }}"
    outputs:
      - id: doubled
        type: INT
        value: "{{ outputs.double.value }}"
    tasks:
      - id: double
        type: io.kestra.plugin.core.debug.Return
        format: "{{ (item.value | number) * 2 }}"
  - id: total
    type: io.kestra.plugin.core.debug.Return
    format: "{{ loopOutputs(outputs.expr.outputs, 'doubled') | join(',') }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_loop_over_a_map_and_an_expression_with_loop_outputs() {
    let h = harness();
    let e = run_ok(&h, LOOP_MAP_AND_EXPRESSION, json!({})).await;
    assert_eq!(values(&e, "url"), ["dev -> https://dev.example.com", "prod -> https://example.com"]);
    assert_eq!(values(&e, "total"), ["6,10,16"], "loopOutputs in iteration order");
}

// The migration page "Rename Check.condition to when": a check written
// with `when` blocks the execution when false.
const CHECKS_WHEN: &str = r#"
id: production_only
namespace: company.team
inputs:
  - id: environment
    type: STRING
checks:
  - when: "{{ inputs.environment == 'production' }}"
    message: "This flow can only run in production"
    behavior: BLOCK_EXECUTION
    style: ERROR
tasks:
  - id: deploy
    type: io.kestra.plugin.core.debug.Return
    format: "deploying to {{ inputs.environment }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_checks_when_blocks_outside_production() {
    let h = harness();
    let flow = h.flow(CHECKS_WHEN);
    assert_eq!(flow.dialect.resolve(Policy::AUTO).dialect, Dialect::V2);
    let req = LaunchRequest {
        inputs: json!({"environment": "staging"}).as_object().cloned().unwrap_or_default(),
        ..LaunchRequest::default()
    };
    match h.embedded.launch(&flow, req).await {
        Err(e @ LaunchError::Blocked { .. }) => {
            assert!(e.to_string().contains("This flow can only run in production"), "{e}")
        }
        other => panic!("expected the check to block, got {other:?}"),
    }
    let e = h.run_flow(&flow, json!({"environment": "production"})).await;
    assert_eq!(e.state.current, StateType::Success);
    assert_eq!(values(&e, "deploy"), ["deploying to production"]);
}

// SELECT / MULTISELECT options as `{label, value}`: the input takes the value.
const SELECT_LABELS: &str = r#"
id: select_labels
namespace: company.team
inputs:
  - id: region
    type: SELECT
    values:
      - label: Europe (Paris)
        value: europe-west9
      - label: US (Iowa)
        value: us-central1
    defaults: europe-west9
    required: true
  - id: sizes
    type: MULTISELECT
    values:
      - label: Small
        value: S
      - label: Large
        value: L
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.region }} {{ inputs.sizes | join('+') }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_select_label_value_options_give_the_value() {
    let h = harness();
    let e = run_ok(&h, SELECT_LABELS, json!({"sizes": ["S", "L"]})).await;
    assert_eq!(values(&e, "show"), ["europe-west9 S+L"]);
    let flow = h.flow(SELECT_LABELS);
    let req = LaunchRequest {
        inputs: json!({"region": "Europe (Paris)", "sizes": ["S"]}).as_object().cloned().unwrap_or_default(),
        ..LaunchRequest::default()
    };
    assert!(h.embedded.launch(&flow, req).await.is_err(), "a label is not a value");
}

// A JSON input with `jsonSchema`: a matching value runs, another is refused
// naming the failing path.
const JSON_SCHEMA: &str = r#"
id: json_schema
namespace: company.team
inputs:
  - id: customer
    type: JSON
    jsonSchema:
      type: object
      required: [name, address]
      properties:
        name:
          type: string
        address:
          type: object
          required: [zip]
          properties:
            zip:
              type: string
              pattern: "^[0-9]{5}$"
tasks:
  - id: greet
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.customer.name }} {{ inputs.customer.address.zip }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_json_input_json_schema_accepts_and_refuses() {
    let h = harness();
    let good = json!({"customer": {"name": "Ana", "address": {"zip": "75001"}}});
    let e = run_ok(&h, JSON_SCHEMA, good).await;
    assert_eq!(values(&e, "greet"), ["Ana 75001"]);
    let flow = h.flow(JSON_SCHEMA);
    let req = LaunchRequest {
        inputs: json!({"customer": {"name": "Ana", "address": {"zip": 12}}}).as_object().cloned().unwrap_or_default(),
        ..LaunchRequest::default()
    };
    let err = h.embedded.launch(&flow, req).await.expect_err("a zip that is a number is refused").to_string();
    assert!(err.contains("$.address.zip"), "{err}");
}

// A Schedule's `when` with the date helpers: the first Monday of each month.
const FIRST_MONDAY: &str = r#"
id: first_monday
namespace: company.team
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ dayOfWeek(trigger.date) }} {{ dayOfMonth(trigger.date) }}/{{ monthOfYear(trigger.date) }} {{ hourOfDay(trigger.date) }}h"
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 6 * * *"
    when: "{{ isDayWeekInMonth(trigger.date, 'MONDAY', 'FIRST') }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_schedule_when_first_monday_runs_once_a_month() {
    let s = sched();
    let flow = s.flow(FIRST_MONDAY);
    assert_eq!(flow.dialect.resolve(Policy::AUTO).dialect, Dialect::V2);
    let flows: std::sync::Arc<dyn shared::runtime::scheduler::FlowSource> = s.embedded.engine.flows.clone();
    let sch = Scheduler::new(s.embedded.engine.clone(), s.store.clone(), flows);
    sch.evaluate(at("2026-11-29T05:00:00Z")).await;
    // 2026-11-30 … 2026-12-10: Monday 7 December is the first Monday of December
    for day in 0..=10 {
        let d = at("2026-11-30T06:00:00Z") + chrono::Duration::days(day);
        sch.evaluate(d).await;
    }
    let execs = s.executions("company.team", "first_monday").await;
    let dates: Vec<String> = execs.iter().map(trigger_date).collect();
    assert_eq!(dates, ["2026-12-07T06:00:00Z"], "Monday 30 November is the last, not the first");
    let done = crate::sched_support::wait_ended(&s.embedded.engine, &execs[0].id).await;
    let out = done.task_run_list[0].outputs.as_ref().and_then(|o| o.get("value")).cloned();
    assert_eq!(out, Some(json!("MONDAY 7/12 6h")));
}

// Namespace-file revisions: each write keeps one; a 2.0 flow reads one with
// `read(path, revision=N)`, a 1.x flow with Kestra 1.x's `version=N`.
const READ_REVISION: &str = r#"
id: read_revision
namespace: company.team
tasks:
  - id: now
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read('queries/q.sql') }}"
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read('queries/q.sql', revision=1) }}"
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read('queries/q.sql', revision=2) }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_file_revisions_read_by_revision_in_2_0_and_version_in_1x() {
    let h = harness();
    let files = shared::backend::nsfiles::namespace_files(h.embedded.engine.storage.clone());
    for sql in ["select 1", "select 2", "select 3"] {
        files
            .put("company.team", "queries/q.sql", Box::pin(std::io::Cursor::new(sql.as_bytes().to_vec())))
            .await
            .unwrap();
    }
    let e = run_ok(&h, READ_REVISION, json!({})).await;
    assert_eq!(
        (values(&e, "now"), values(&e, "first"), values(&e, "second")),
        (vec!["select 3".to_string()], vec!["select 1".to_string()], vec!["select 2".to_string()])
    );

    let v1 = READ_REVISION.replace("revision=", "version=").replace("id: read_revision", "id: read_version");
    let flow = h.flow(&v1);
    assert_eq!(flow.dialect.resolve(Policy::AUTO).dialect, Dialect::V1, "version= is 1.x");
    let e = h.run_flow(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    assert_eq!(values(&e, "first"), ["select 1"]);

    // a revision never written fails the task, naming it
    let bad = READ_REVISION.replace("revision=2", "revision=9").replace("id: read_revision", "id: read_missing");
    let e = h.run(&bad, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("revision 9") && logs.contains("its revisions are 1 to 3"), "{logs}");
}

/// Kestra 2.0's API shapes on `baton server local`: a KV GET answers
/// `{type, value, revision, updated}` (1.x's `{type, value}` and more); a
/// namespace file's revisions are listed and read by number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_kv_detail_and_namespace_file_revisions() {
    let (server, dir) = crate::sched_support::api_server("baton-dialect-api", &[], None).await;
    let api = format!("{}/api/v1/main", server.url());
    let http = reqwest::Client::new();
    for v in ["\"first\"", "\"second\""] {
        let r = http
            .put(format!("{api}/namespaces/company.team/kv/greeting"))
            .header("content-type", "application/json")
            .body(v)
            .send()
            .await
            .expect("put kv");
        assert!(r.status().is_success(), "{}", r.status());
    }
    let v: serde_json::Value =
        http.get(format!("{api}/namespaces/company.team/kv/greeting")).send().await.unwrap().json().await.unwrap();
    assert_eq!((&v["type"], &v["value"], &v["revision"]), (&json!("STRING"), &json!("second"), &json!(2)), "{v}");
    assert!(v["updated"].as_str().is_some_and(|u| chrono::DateTime::parse_from_rfc3339(u).is_ok()), "{v}");

    let b = "XbatonX";
    for content in ["select 1", "select 2"] {
        let body = format!(
            "--{b}\r\ncontent-disposition: form-data; name=\"fileContent\"; filename=\"q.sql\"\r\n\r\n{content}\r\n--{b}--\r\n"
        );
        let r = http
            .post(format!("{api}/namespaces/company.team/files?path=/q.sql"))
            .header("content-type", format!("multipart/form-data; boundary={b}"))
            .body(body)
            .send()
            .await
            .expect("upload");
        assert!(r.status().is_success(), "{}", r.status());
    }
    let listed: serde_json::Value = http
        .get(format!("{api}/namespaces/company.team/files/revisions?path=/q.sql"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([{"revision": 2}, {"revision": 1}]));
    let first = http.get(format!("{api}/namespaces/company.team/files?path=/q.sql&revision=1")).send().await.unwrap();
    assert_eq!(first.text().await.unwrap(), "select 1");
    let gone = http.get(format!("{api}/namespaces/company.team/files?path=/q.sql&revision=5")).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
