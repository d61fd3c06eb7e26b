//! `http.Trigger` end to end on the embedded runtime, against a local HTTP
//! server whose answer the test changes: `responseCondition` on
//! `response.body`/`statusCode`, the trigger variables an execution gets,
//! one execution per interval slot even when two evaluations race,
//! `stopAfter`, the local poller, and the GCP path (a Cloud Scheduler tick
//! for the trigger through the scheduler function's schedule engine).

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use shared::functions::scheduler::{Schedules, TickRequest};
use shared::functions::schedules::ScheduleEngine;
use shared::model::StateType;
use shared::runtime::events::http::{Evaluated, evaluate};
use shared::triggers::http::HttpTrigger;

use crate::sched_support::{at, executions_of, wait_ended};
use crate::support::harness;

/// A server answering every request with the current (status, body); counts requests.
#[derive(Clone, Default)]
struct Answer(Arc<Mutex<(u16, String, usize)>>);

impl Answer {
    fn set(&self, status: u16, body: &str) {
        let mut a = self.0.lock().expect("lock");
        a.0 = status;
        a.1 = body.to_string();
    }
    fn requests(&self) -> usize {
        self.0.lock().expect("lock").2
    }
}

async fn serve(answer: Answer) -> String {
    async fn reply(State(a): State<Answer>) -> (StatusCode, [(&'static str, &'static str); 1], String) {
        let mut g = a.0.lock().expect("lock");
        g.2 += 1;
        (StatusCode::from_u16(g.0).unwrap_or(StatusCode::OK), [("content-type", "application/json")], g.1.clone())
    }
    let app = axum::Router::new().fallback(reply).with_state(answer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn flow_yaml(url: &str) -> String {
    format!(
        r#"
id: price_alert
namespace: company.team
tasks:
  - id: alert
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.code }}}} {{{{ json(trigger.body).price }}}} {{{{ trigger.uri }}}}"
triggers:
  - id: http
    type: io.kestra.plugin.core.http.Trigger
    uri: "{url}/products/{{{{ flow.id }}}}"
    responseCondition: "{{{{ json(response.body).price <= 110 }}}}"
    interval: PT30S
    stopAfter:
      - SUCCESS
  - id: status
    type: io.kestra.plugin.fs.http.Trigger
    uri: "{url}/status"
    interval: PT10S
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_response_condition_decides_and_stop_after_ends_the_polling() {
    let h = harness();
    let answer = Answer::default();
    answer.set(200, r#"{"price": 150}"#);
    let url = serve(answer.clone()).await;
    let flow = h.flow(&flow_yaml(&url));
    let trig = HttpTrigger::of(&flow.triggers[0]).expect("http").expect("valid");
    let engine = &h.embedded.engine;

    // the price is too high: the request is sent, nothing starts
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:00Z")).await.expect("evaluate");
    assert_eq!(r, Evaluated::ConditionFalse);
    assert_eq!(answer.requests(), 1);
    // the same slot again sends nothing
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:20Z")).await.expect("evaluate");
    assert_eq!(r, Evaluated::Skipped("this interval was evaluated already"));
    assert_eq!(answer.requests(), 1);

    // the price drops: two evaluations of the next slot race, one request, one execution
    answer.set(200, r#"{"price": 99}"#);
    let now = at("2025-01-01T10:00:31Z");
    let (a, b) = tokio::join!(evaluate(engine, &flow, &trig, now), evaluate(engine, &flow, &trig, now));
    assert_eq!(answer.requests(), 2, "the slot's claim lets one of the racing evaluations send its request");
    let started: Vec<String> = [a.expect("a"), b.expect("b")]
        .into_iter()
        .filter_map(|r| match r {
            Evaluated::Started(id) => Some(id),
            _ => None,
        })
        .collect();
    let execs = executions_of(engine, "company.team", "price_alert").await;
    assert_eq!(execs.len(), 1, "one execution for the slot: {started:?}");
    let done = wait_ended(engine, &execs[0].id).await;
    assert_eq!(done.state.current, StateType::Success);
    let t = done.trigger.as_ref().expect("trigger");
    assert_eq!(t.type_, "io.kestra.plugin.core.http.Trigger");
    assert_eq!(t.variables["code"], json!(200));
    assert_eq!(t.variables["uri"], json!(format!("{url}/products/price_alert")));
    assert!(t.variables["headers"]["content-type"].is_array(), "{:?}", t.variables["headers"]);
    let out = done.task_run_list[0].outputs.as_ref().expect("outputs")["value"].clone();
    assert_eq!(out, json!(format!("200 99 {url}/products/price_alert")));

    // stopAfter: SUCCESS — the trigger stops; no more requests
    let before = answer.requests();
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:01:05Z")).await.expect("evaluate");
    assert_eq!(r, Evaluated::Skipped("stopped by stopAfter"));
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:05:00Z")).await.expect("evaluate");
    assert_eq!(r, Evaluated::Skipped("stopped by stopAfter"));
    assert_eq!(answer.requests(), before);
}

/// Kestra's scheduler does not evaluate a polling trigger while the
/// execution it started last is running: no request, no second execution;
/// once it has ended the next slot polls again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_trigger_whose_last_execution_runs_is_not_evaluated_until_it_ends() {
    let h = harness();
    let answer = Answer::default();
    answer.set(200, "{}");
    let url = serve(answer.clone()).await;
    let yaml = format!(
        "id: slow_poll\nnamespace: company.team\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n    pauseDuration: PT4S\ntriggers:\n  - id: status\n    type: io.kestra.plugin.core.http.Trigger\n    uri: \"{url}/status\"\n    interval: PT10S\n"
    );
    let flow = h.flow(&yaml);
    let trig = HttpTrigger::of(&flow.triggers[0]).expect("http").expect("valid");
    let engine = &h.embedded.engine;

    let first = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:00Z")).await.expect("evaluate");
    let Evaluated::Started(id) = first else { panic!("the first slot starts an execution: {first:?}") };
    assert_eq!(answer.requests(), 1);
    // the next slots while it is paused: no request
    for t in ["2025-01-01T10:00:10Z", "2025-01-01T10:00:20Z"] {
        let r = evaluate(engine, &flow, &trig, at(t)).await.expect("evaluate");
        assert_eq!(r, Evaluated::Skipped("the trigger's last execution is still running"), "at {t}");
    }
    assert_eq!(answer.requests(), 1, "no request while the last execution runs");
    assert_eq!(executions_of(engine, "company.team", "slow_poll").await.len(), 1);

    // it ends: the next slot polls and starts the next execution
    assert_eq!(wait_ended(engine, &id).await.state.current, StateType::Success);
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:30Z")).await.expect("evaluate");
    assert!(matches!(r, Evaluated::Started(ref next) if *next != id), "{r:?}");
    assert_eq!(answer.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_default_condition_is_a_status_below_400_and_gcp_ticks_evaluate_once() {
    let h = harness();
    let answer = Answer::default();
    answer.set(503, "down");
    let url = serve(answer.clone()).await;
    h.flow(&flow_yaml(&url));
    let engine = h.embedded.engine.clone();
    let store = engine.trigger_store.as_ref().expect("trigger store").clone();
    let schedules = ScheduleEngine::new(engine.clone(), store, std::time::Duration::from_secs(5));
    let tick = TickRequest {
        namespace: "company.team".into(),
        flow_id: "price_alert".into(),
        trigger_id: "status".into(),
        date: None,
    };
    // a failed status: nothing starts
    let ids = schedules.tick(&tick, at("2025-01-01T10:00:00Z")).await.expect("tick");
    assert!(ids.is_empty());
    // up again: the next minute's tick starts one; the same tick delivered twice starts nothing more
    answer.set(200, r#"{"ok": true, "price": 5}"#);
    let ids = schedules.tick(&tick, at("2025-01-01T10:01:00.2Z")).await.expect("tick");
    assert_eq!(ids.len(), 1);
    let again = schedules.tick(&tick, at("2025-01-01T10:01:00.4Z")).await.expect("duplicate tick");
    assert!(again.is_empty());
    assert_eq!(answer.requests(), 2, "a duplicate tick sends no request");
    let done = wait_ended(&engine, &ids[0]).await;
    assert_eq!(done.state.current, StateType::Success);
    assert_eq!(done.trigger.as_ref().expect("trigger").variables["body"], json!(r#"{"ok": true, "price": 5}"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_local_poller_evaluates_http_triggers() {
    let h = harness();
    let answer = Answer::default();
    answer.set(200, r#"{"price": 1}"#);
    let url = serve(answer.clone()).await;
    h.flow(&flow_yaml(&url));
    let poller = Arc::new(shared::runtime::events::poller::EventPoller::new(h.embedded.engine.clone()));
    poller.pass();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let execs = executions_of(&h.embedded.engine, "company.team", "price_alert").await;
        // both triggers' first evaluations start one each
        if execs.len() == 2 {
            for e in &execs {
                assert_eq!(wait_ended(&h.embedded.engine, &e.id).await.state.current, StateType::Success);
            }
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the poller started {} executions", execs.len());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    poller.abort_all();
}

#[test]
fn encrypt_body_is_refused_and_the_corpus_listener_validates() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let plain = "id: http-listen\nnamespace: io.kestra.tests\ntriggers:\n  - id: http\n    type: io.kestra.plugin.fs.http.Trigger\n    uri: https://api.chucknorris.io/jokes/random\n    responseCondition: \"{{ response.statusCode == 200 }}\"\n    interval: PT10S\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let (_, diags) = shared::validate::validate_source("l.yaml", plain, &registry, &renderer);
    assert!(diags.is_empty(), "{diags:?}");
    let encrypted = plain.replace("    interval: PT10S\n", "    interval: PT10S\n    encryptBody: true\n");
    let (_, diags) = shared::validate::validate_source("l.yaml", &encrypted, &registry, &renderer);
    let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert!(text.iter().any(|d| d.contains("encryptBody") && d.contains("encryption key")), "{text:?}");
}

/// The evaluation that claimed a slot launched its execution and died before
/// saving the trigger's state (a killed scheduler instance): the slot's
/// redelivered tick finds the slot claimed and records its execution from
/// the store, so `stopAfter` stops the trigger once it succeeded instead of
/// the next slot starting another one (a deployed-shape CI run did so).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slot_whose_evaluation_died_after_launching_is_recorded_by_its_redelivery() {
    let h = harness();
    let answer = Answer::default();
    answer.set(200, r#"{"price": 99}"#);
    let url = serve(answer.clone()).await;
    let flow = h.flow(&flow_yaml(&url));
    let trig = HttpTrigger::of(&flow.triggers[0]).expect("http").expect("valid");
    let engine = &h.embedded.engine;
    let store = engine.trigger_store.as_ref().expect("trigger store").clone();
    let key = shared::backend::schedule::TriggerKey {
        namespace: flow.namespace.clone(),
        flow_id: flow.id.clone(),
        trigger_id: trig.id.clone(),
    };

    let before = store.load_trigger_state(&key).await.expect("state");
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:00Z")).await.expect("evaluate");
    let Evaluated::Started(id) = r else { panic!("the slot starts an execution: {r:?}") };
    // the instance died before its state save: the state is as it was before
    match before {
        Some(s) => store.save_trigger_state(&s).await.expect("restore"),
        None => {
            let mut s = store.load_trigger_state(&key).await.expect("state").expect("saved");
            (s.last_tick, s.next_tick, s.last_execution_id) = (None, None, None);
            store.save_trigger_state(&s).await.expect("restore");
        }
    }
    // its tick redelivered: no second request, the execution recorded
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:05Z")).await.expect("evaluate");
    assert_eq!(r, Evaluated::Skipped("this interval was evaluated already"));
    let st = store.load_trigger_state(&key).await.expect("state").expect("saved");
    assert_eq!(st.last_execution_id.as_deref(), Some(id.as_str()));
    assert_eq!(answer.requests(), 1);

    assert_eq!(wait_ended(engine, &id).await.state.current, StateType::Success);
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:31Z")).await.expect("evaluate");
    assert_eq!(r, Evaluated::Skipped("stopped by stopAfter"));
    assert_eq!(answer.requests(), 1, "no poll after the success");
    assert_eq!(executions_of(engine, "company.team", "price_alert").await.len(), 1);
}

/// `allowConcurrent: true`: the trigger is evaluated, and starts the next
/// execution, while the one it started last still runs; and its `labels`
/// go onto each execution it starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn allow_concurrent_evaluates_while_the_last_execution_runs() {
    let h = harness();
    let answer = Answer::default();
    answer.set(200, "{}");
    let url = serve(answer.clone()).await;
    let yaml = format!(
        "id: concurrent_poll\nnamespace: company.team\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n    pauseDuration: PT4S\ntriggers:\n  - id: status\n    type: io.kestra.plugin.core.http.Trigger\n    uri: \"{url}/status\"\n    interval: PT10S\n    allowConcurrent: true\n    labels:\n      - key: code\n        value: \"{{{{ trigger.code }}}}\"\n"
    );
    let flow = h.flow(&yaml);
    let trig = HttpTrigger::of(&flow.triggers[0]).expect("http").expect("valid");
    let engine = &h.embedded.engine;
    let first = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:00Z")).await.expect("evaluate");
    let Evaluated::Started(id) = first else { panic!("{first:?}") };
    let second = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:10Z")).await.expect("evaluate");
    assert!(matches!(second, Evaluated::Started(ref next) if *next != id), "{second:?}");
    assert_eq!(answer.requests(), 2, "evaluated while the first execution runs");
    let e = wait_ended(engine, &id).await;
    assert_eq!(e.labels.iter().find(|l| l.key == "code").map(|l| l.value.as_str()), Some("200"), "{:?}", e.labels);
}

/// `failOnTriggerError: true`: a request that cannot be sent creates a
/// FAILED execution of the slot holding the error (nothing runs); without
/// it the error is only the evaluation's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fail_on_trigger_error_creates_a_failed_execution() {
    let h = harness();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let yaml = |flag: bool| {
        format!(
            "id: broken_poll_{flag}\nnamespace: company.team\ntasks:\n  - id: never\n    type: io.kestra.plugin.core.log.Log\n    message: no\ntriggers:\n  - id: status\n    type: io.kestra.plugin.core.http.Trigger\n    uri: \"http://127.0.0.1:{closed}/status\"\n    interval: PT10S\n    failOnTriggerError: {flag}\n"
        )
    };
    let engine = &h.embedded.engine;
    let flow = h.flow(&yaml(true));
    let trig = HttpTrigger::of(&flow.triggers[0]).expect("http").expect("valid");
    let r = evaluate(engine, &flow, &trig, at("2025-01-01T10:00:00Z")).await.expect("evaluate");
    let Evaluated::Started(id) = r else { panic!("{r:?}") };
    let e = wait_ended(engine, &id).await;
    assert_eq!(e.state.current, StateType::Failed);
    assert!(e.task_run_list.is_empty(), "nothing runs");
    let err = format!("{:?}", e.error);
    assert!(err.contains("trigger 'status' failed") && err.contains(&closed.to_string()), "{err}");

    let flow = h.flow(&yaml(false));
    let trig = HttpTrigger::of(&flow.triggers[0]).expect("http").expect("valid");
    assert!(evaluate(engine, &flow, &trig, at("2025-01-01T10:00:00Z")).await.is_err());
    assert!(executions_of(engine, "company.team", "broken_poll_false").await.is_empty());
}

/// Kestra tests a polling trigger's `conditions` before the poll: while one
/// is false nothing is requested and nothing starts; `date` defaults to the
/// evaluation time (`trigger.date`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conditions_are_tested_before_each_poll() {
    let h = harness();
    let answer = Answer::default();
    answer.set(200, "{}");
    let url = serve(answer.clone()).await;
    let yaml = format!(
        r#"
id: weekday_poll
namespace: company.team
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.code }}}}"
triggers:
  - id: status
    type: io.kestra.plugin.core.http.Trigger
    uri: "{url}/status"
    interval: PT10S
    conditions:
      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - type: io.kestra.plugin.core.condition.Weekend
      - type: io.kestra.plugin.core.condition.TimeBetween
        after: "09:00:00Z"
        before: "18:00:00Z"
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{{{ trigger.date | date('HH') != '12' }}}}"
"#
    );
    let flow = h.flow(&yaml);
    let trig = HttpTrigger::of(&flow.triggers[0]).expect("http").expect("valid");
    let engine = &h.embedded.engine;
    // Saturday: Not(Weekend) is false
    let r = evaluate(engine, &flow, &trig, at("2025-01-04T10:00:00Z")).await.expect("evaluate");
    assert_eq!(r, Evaluated::Skipped("a condition of the trigger is false"));
    // Monday, but before 09:00; then at noon (the Expression)
    let r = evaluate(engine, &flow, &trig, at("2025-01-06T08:00:00Z")).await.expect("evaluate");
    assert_eq!(r, Evaluated::Skipped("a condition of the trigger is false"));
    let r = evaluate(engine, &flow, &trig, at("2025-01-06T12:30:00Z")).await.expect("evaluate");
    assert_eq!(r, Evaluated::Skipped("a condition of the trigger is false"));
    assert_eq!(answer.requests(), 0, "no request while a condition is false");
    assert!(executions_of(engine, "company.team", "weekday_poll").await.is_empty());
    // Monday 10:00: every condition holds, the endpoint is polled
    let r = evaluate(engine, &flow, &trig, at("2025-01-06T10:00:00Z")).await.expect("evaluate");
    assert!(matches!(r, Evaluated::Started(_)), "{r:?}");
    assert_eq!(answer.requests(), 1);
    let execs = executions_of(engine, "company.team", "weekday_poll").await;
    assert_eq!(execs.len(), 1);
    assert_eq!(wait_ended(engine, &execs[0].id).await.state.current, StateType::Success);
}
