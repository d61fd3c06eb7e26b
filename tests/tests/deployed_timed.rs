//! The two timed triggers whose ticks come from Cloud Scheduler jobs,
//! `ScheduleOnDates` and `http.Trigger`, on the deployed shape
//! (`e2e::deployed`: the functions as separate processes on the emulators,
//! two push subscriptions per topic so every message is delivered twice).
//!
//! The flows go through `terraform/modules/schedules` (offline apply) as
//! an operator deploys them: uploaded under the module's object names, and
//! every job of its `jobs` output created on the Cloud Scheduler stand-in,
//! which ticks each on its own cron in real time (not accelerated) and
//! publishes each instant twice, as Cloud Scheduler may. After the first
//! minute's ticks the scheduler function is killed and started again, and
//! late copies of those ticks (a Cloud Scheduler retry) reach the new
//! instance, which decides from the stored state alone.
//!
//! - `ScheduleOnDates`: one date past at deploy (no job, never run: the
//!   first tick a trigger receives has missed nothing), one on the next
//!   whole minute, one 20 s after it written with a `+02:00` offset (its
//!   job fires on the minute after). Each date runs once, `trigger.date`
//!   the date with its own offset.
//! - `http.Trigger` against a local axum server: `up` (default condition)
//!   gets 503 on its first poll and 200 after: one request per slot
//!   however many copies of the tick arrive, one execution per slot whose
//!   status is under 400, none for the 503 one, `trigger.code` and
//!   `trigger.body` in the execution; `price` (`stopAfter: [SUCCESS]`,
//!   condition on the body) starts one execution and sends no request
//!   after it succeeded (a second request only when the restart killed
//!   the first minute's evaluation between its request and its launch).
//!
//! - `gcp.bigquery.Trigger` against bqemulator (`BIGQUERY_EMULATOR_HOST`
//!   given to the functions), its job ticking every minute: each slot's
//!   query starts one execution holding the rows, whatever the copies of
//!   the tick and the restart; its execution id is the slot's.
//!
//! The sweep ticks every 5 s and Pub/Sub backoff is Terraform's divided by
//! 10, as in `deployed.rs`. About two minutes: the ticks are real minutes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use chrono::{DateTime, DurationRound, FixedOffset, TimeDelta, Utc};
use e2e::cloud_scheduler::FakeJob;
use e2e::deployed::Deployment;
use e2e::emulators::emulators;
use serde_json::{Value, json};
use shared::model::{Execution, StateType};

use crate::deployed::{push_shape, terraform_view, until, until_quiet};
use crate::gcp_bigquery_trigger::{orders_dataset, watch};

const NS: &str = "deployed.timed";

fn on_dates(past: &str, next: &str, later: &str) -> String {
    format!(
        "id: on_dates\nnamespace: {NS}\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"date {{{{ trigger.date }}}}\"\ntriggers:\n  - id: dates\n    type: io.kestra.plugin.core.trigger.ScheduleOnDates\n    dates:\n      - {past}\n      - {next}\n      - {later}\n"
    )
}

fn polled(url: &str) -> String {
    format!(
        r#"id: polled
namespace: {NS}
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.code }}}} {{{{ trigger.body }}}}"
triggers:
  - id: up
    type: io.kestra.plugin.core.http.Trigger
    uri: "{url}/status"
  - id: price
    type: io.kestra.plugin.core.http.Trigger
    uri: "{url}/price"
    responseCondition: "{{{{ json(response.body).price <= 110 }}}}"
    stopAfter:
      - SUCCESS
"#
    )
}

/// One request the polled server answered: path, when, status.
type Poll = (String, DateTime<Utc>, u16);

/// What the polled server answered.
#[derive(Clone, Default)]
struct Polls(Arc<Mutex<Vec<Poll>>>);

impl Polls {
    fn of(&self, path: &str) -> Vec<(DateTime<Utc>, u16)> {
        let g = self.0.lock().expect("polls");
        g.iter().filter(|(p, _, _)| p == path).map(|(_, t, s)| (*t, *s)).collect()
    }
}

/// `/status` answers 503 to its first request and 200 after; `/price` 99.
async fn serve(polls: Polls) -> String {
    async fn reply(State(p): State<Polls>, uri: Uri) -> (StatusCode, String) {
        let mut g = p.0.lock().expect("polls");
        let path = uri.path().to_string();
        let (status, body) = match path.as_str() {
            "/status" if g.iter().all(|(p, _, _)| p != "/status") => (503, "warming up".to_string()),
            "/status" => (200, r#"{"up":true}"#.to_string()),
            "/price" => (200, r#"{"price":99}"#.to_string()),
            _ => (404, String::new()),
        };
        g.push((path, Utc::now(), status));
        (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body)
    }
    let app = axum::Router::new().fallback(reply).with_state(polls);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn executions_of(d: &Deployment, flow: &str) -> Vec<Execution> {
    crate::deployed::executions_in(d, NS, flow).await
}

fn of_trigger<'e>(execs: &'e [Execution], trigger: &str) -> Vec<&'e Execution> {
    execs.iter().filter(|e| e.trigger.as_ref().is_some_and(|t| t.id == trigger)).collect()
}

fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(1)).expect("minute")
}

/// Creates every job of the module's `jobs` output on the stand-in (each instant published twice).
fn create_jobs(d: &Deployment, jobs: &Value) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for (key, job) in jobs.as_object().expect("jobs") {
        let name =
            format!("projects/{}/locations/europe-west1/jobs/{}", d.project, job["name"].as_str().expect("name"));
        let text = |f: &str| job[f].as_str().unwrap_or_else(|| panic!("job {key}: no {f}")).to_string();
        d.cloud_scheduler.create_job(
            FakeJob {
                name: name.clone(),
                state: "ENABLED",
                topic: format!("projects/{}/topics/baton-scheduler", d.project),
                data: text("payload").into_bytes(),
                // Terraform's pubsub_target attributes (terraform/scheduler.tf)
                attributes: json!({"type": "tick"}),
                schedule: text("schedule"),
                time_zone: text("time_zone"),
                description: text("description"),
            },
            2,
        );
        names.insert(key.clone(), name);
    }
    names
}

// Run in a process of its own by scripts/test.sh, beside tests that count
// rather than time what they check: it idles until real whole minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run in a process of its own by scripts/test.sh: cargo test -p e2e --test e2e -- --ignored --exact deployed_timed::dates_and_http_polls_tick_from_their_cloud_scheduler_jobs_once_each"]
async fn dates_and_http_polls_tick_from_their_cloud_scheduler_jobs_once_each() {
    let bq_host = emulators().bigquery_host.clone();
    let d =
        Deployment::start_with(&push_shape(), 2, Duration::from_secs(5), &[("BIGQUERY_EMULATOR_HOST", &bq_host)]).await;
    let bq_yaml = watch(NS, &orders_dataset().await, "bq_polled", "status = 'NEW'", "PT1M");
    let polls = Polls::default();
    let url = serve(polls.clone()).await;

    // the dates, from now: the next whole minute at least 20 s away (the
    // offline apply and the uploads take a few seconds), 20 s after it
    let next = minute(Utc::now() + TimeDelta::seconds(80));
    let later = next + TimeDelta::seconds(20);
    let past = next - TimeDelta::hours(3);
    let plus2 = FixedOffset::east_opt(2 * 3600).expect("offset");
    let later_text = later.with_timezone(&plus2).to_rfc3339();
    let dates_yaml = on_dates(&past.to_rfc3339(), &next.to_rfc3339(), &later_text);
    let polled_yaml = polled(&url);
    let view =
        terraform_view(&[("on_dates.yml", &dates_yaml), ("polled.yml", &polled_yaml), ("bq_polled.yml", &bq_yaml)]);
    let jobs = &view["jobs"];
    let key = |k: &str| format!("{NS}/{k}");
    let job = |k: &str| jobs.get(key(k)).unwrap_or_else(|| panic!("no job {k}: {jobs:#}"));
    assert!(jobs.get(key("on_dates/dates#0")).is_none(), "a past date gets no job: {jobs:#}");
    let skipped = view["skipped"].to_string();
    assert!(skipped.contains("has passed"), "the past date is listed as skipped: {skipped}");
    let cron = |t: DateTime<Utc>| t.format("%-M %-H %-d %-m *").to_string();
    assert_eq!(job("on_dates/dates#1")["schedule"], cron(next), "a whole-minute date fires on its minute");
    assert_eq!(
        job("on_dates/dates#2")["schedule"],
        cron(later + TimeDelta::seconds(40)),
        "a date with seconds fires on the minute after, in UTC"
    );
    assert_eq!(job("polled/up")["schedule"], "* * * * *", "PT60S: every minute");
    assert_eq!(job("polled/price")["schedule"], "* * * * *");
    assert_eq!(job("bq_polled/watch")["schedule"], "* * * * *", "a BigQuery trigger's PT1M: every minute");

    let object = |k: &str| view["flows"][key(k)]["object"].as_str().expect("object").to_string();
    d.upload_flow(&object("on_dates"), &dates_yaml).await;
    d.upload_flow(&object("polled"), &polled_yaml).await;
    d.upload_flow(&object("bq_polled"), &bq_yaml).await;
    let names = create_jobs(&d, jobs);
    let setup_done = Utc::now();
    assert!(setup_done + TimeDelta::seconds(3) < next, "setup took until {setup_done}, past the first date {next}");

    // 1. the first date's minute: its ticks (four copies) start one execution
    let first = until(&d, Duration::from_secs(100), "the first date's execution", || async {
        let execs = executions_of(&d, "on_dates").await;
        (!execs.is_empty()).then_some(execs)
    })
    .await;
    assert_eq!(first.len(), 1, "{first:?}");

    // 2. the scheduler restarted; late copies of the first minute's ticks
    //    (as a Cloud Scheduler retry) reach the new instance: they change nothing
    let killed = Utc::now();
    d.function("scheduler").kill();
    d.function("scheduler").start().await;
    let restarted = Utc::now();
    assert!(minute(restarted) == next, "the restart ran past the first date's minute ({restarted})");
    let before = d.function("scheduler").requests();
    for k in ["on_dates/dates#1", "polled/up", "polled/price", "bq_polled/watch"] {
        let payload = job(k)["payload"].as_str().expect("payload").to_string();
        d.publish("baton-scheduler", payload.as_bytes(), json!({"type": "tick"})).await;
    }
    until(&d, Duration::from_secs(30), "the late copies to reach the new instance", || async {
        (d.function("scheduler").requests() >= before + 8).then_some(())
    })
    .await;

    // 3. the later date's minute: its job fires on the minute after it
    let execs = until(&d, Duration::from_secs(100), "the later date's execution", || async {
        let execs = executions_of(&d, "on_dates").await;
        (execs.len() >= 2 && execs.iter().all(|e| e.state.is_terminal())).then_some(execs)
    })
    .await;
    // nothing in flight pauses the sweep; the redeliveries of the ticks trail by their backoff
    until(&d, Duration::from_secs(60), "the sweep job to pause", || async {
        (d.cloud_scheduler.state(&d.sweep_job) == Some("PAUSED")).then_some(())
    })
    .await;
    until_quiet(&d, Duration::from_secs(8), Duration::from_secs(50)).await;
    assert_eq!(execs.len(), 2, "{execs:?}");

    // ScheduleOnDates: each date once, with its own offset; the past one never
    let execs = executions_of(&d, "on_dates").await;
    let mut seen: Vec<(String, DateTime<Utc>)> = execs
        .iter()
        .map(|e| {
            assert_eq!(e.state.current, StateType::Success, "{}: {:?}", e.id, e.task_run_list);
            let date = e.trigger.as_ref().expect("trigger").variables["date"].as_str().expect("date").to_string();
            let at = DateTime::parse_from_rfc3339(&date).expect("rfc3339").with_timezone(&Utc);
            (date, at)
        })
        .collect();
    seen.sort_by_key(|(_, at)| *at);
    let instants: Vec<DateTime<Utc>> = seen.iter().map(|(_, at)| *at).collect();
    assert_eq!(instants, [next, later], "each date to come once, the past one never: {seen:?}\n{}", d.logs());
    assert!(seen[1].0.ends_with("+02:00"), "trigger.date keeps the date's own offset: {}", seen[1].0);
    let published = d.cloud_scheduler.published(&names[&key("on_dates/dates#2")]);
    assert_eq!(published.len(), 2, "the later date's job fired once (published twice): {published:?}");
    assert!(published.iter().all(|t| minute(*t) == later + TimeDelta::seconds(40)), "{published:?}");

    // The polled jobs tick every minute for ever: wait for the price execution
    // to end and its job to tick after that (no tick evaluates the trigger
    // while its execution runs, so waiting cannot add a second one), then pause
    // both jobs and let the last ticks' work finish, so the checks below see
    // every poll's execution (a tick arriving mid-check would not be)
    let price_name = names[&key("polled/price")].clone();
    until(&d, Duration::from_secs(150), "the price execution to end and its job to tick after", || async {
        let all = executions_of(&d, "polled").await;
        let price = of_trigger(&all, "price");
        let ended = price.first().and_then(|e| e.state.end_date().filter(|_| e.state.is_terminal()))?;
        d.cloud_scheduler.published(&price_name).iter().any(|t| *t > ended).then_some(())
    })
    .await;
    // the BigQuery job's slots: the restart may have lost the one it
    // interrupted, so wait for two executions before pausing its job (with
    // only two slots ticked by now, one lost left one)
    until(&d, Duration::from_secs(130), "two executions of the BigQuery trigger", || async {
        (executions_of(&d, "bq_polled").await.len() >= 2).then_some(())
    })
    .await;
    d.cloud_scheduler.pause(&names[&key("polled/up")]);
    d.cloud_scheduler.pause(&price_name);
    let bq_name = names[&key("bq_polled/watch")].clone();
    d.cloud_scheduler.pause(&bq_name);
    until_quiet(&d, Duration::from_secs(8), Duration::from_secs(60)).await;

    // http.Trigger `up`: one request per slot, an execution for each 200 and none for the 503
    let polled_flow = crate::sched_support::parse_flow(&polled_yaml);
    let mut slots: BTreeMap<DateTime<Utc>, Vec<u16>> = BTreeMap::new();
    for (at, status) in polls.of("/status") {
        slots.entry(minute(at)).or_default().push(status);
    }
    assert!(slots.len() >= 2, "polled at two minutes at least: {slots:?}");
    for (slot, statuses) in &slots {
        assert_eq!(statuses.len(), 1, "slot {slot}: one request for its four tick copies: {statuses:?}");
    }
    assert_eq!(slots.values().next(), Some(&vec![503]), "the first poll is the 503: {slots:?}");
    let all = executions_of(&d, "polled").await;
    let up = of_trigger(&all, "up");
    let expected: BTreeSet<String> = slots
        .iter()
        .filter(|(_, s)| s[0] == 200)
        .map(|(slot, _)| shared::triggers::http::execution_id(&polled_flow, "up", *slot))
        .collect();
    let got: BTreeSet<String> = up.iter().map(|e| e.id.clone()).collect();
    assert_eq!(got, expected, "one execution per slot answered 200: {slots:?}");
    for e in &up {
        assert_eq!(e.state.current, StateType::Success, "{:?}", e.task_run_list);
        let t = &e.trigger.as_ref().expect("trigger").variables;
        assert_eq!((&t["code"], &t["body"]), (&json!(200), &json!(r#"{"up":true}"#)), "{t:?}");
        assert_eq!(t["uri"], json!(format!("{url}/status")));
        let out = &e.task_run_list[0].outputs.as_ref().expect("outputs")["value"];
        assert_eq!(out, &json!(r#"200 {"up":true}"#));
    }

    // http.Trigger `price`: one execution, then stopAfter SUCCESS: no request after it
    let price = of_trigger(&all, "price");
    assert_eq!(price.len(), 1, "{price:?}");
    assert_eq!(price[0].state.current, StateType::Success);
    assert_eq!(price[0].task_run_list[0].outputs.as_ref().expect("outputs")["value"], json!(r#"200 {"price":99}"#));
    // One poll, or two when the kill above interrupted the first minute's
    // evaluation after its request and before its launch: that slot is
    // lost and the next one polls again (`runtime::events::http`: a slot is
    // polled at most once). Never two in one slot, none after the end.
    let price_polls = polls.of("/price");
    let ended = price[0].state.end_date().expect("ended");
    let interrupted = price_polls.len() == 2 && price_polls[0].0 <= killed;
    assert!(price_polls.len() == 1 || interrupted, "one poll (killed at {killed}): {price_polls:?}");
    let slots: BTreeSet<DateTime<Utc>> = price_polls.iter().map(|(t, _)| minute(*t)).collect();
    assert_eq!(slots.len(), price_polls.len(), "at most one poll a slot: {price_polls:?}");
    assert!(price_polls.iter().all(|(t, _)| *t < ended), "no poll after the execution succeeded: {price_polls:?}");
    let price_job = d.cloud_scheduler.published(&names[&key("polled/price")]);
    assert!(price_job.iter().any(|t| *t > ended), "the price job ticked after the execution ended: {price_job:?}");

    // the jobs as the stand-in answers them have Google's Job fields
    let shape = d.cloud_scheduler.job(&names[&key("on_dates/dates#2")]).expect("job");
    crate::deployed::check_job_against_discovery(&shape);

    // gcp.bigquery.Trigger: one execution per slot its job ticked (two
    // copies published, two subscriptions each), at least two slots, each
    // with the query's rows; the restart may lose the slot it interrupted
    let bq_flow = crate::sched_support::parse_flow(&bq_yaml);
    let ticked: BTreeSet<DateTime<Utc>> = d.cloud_scheduler.published(&bq_name).iter().map(|t| minute(*t)).collect();
    let slot_ids: BTreeSet<String> =
        ticked.iter().map(|slot| shared::triggers::http::execution_id(&bq_flow, "watch", *slot)).collect();
    let bq = executions_of(&d, "bq_polled").await;
    let ids: BTreeSet<String> = bq.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids.len(), bq.len(), "{bq:?}");
    assert!(ids.is_subset(&slot_ids), "one execution per ticked slot, with the slot's id: {ids:?} vs {ticked:?}");
    assert!(bq.len() >= 2 && bq.len() + 1 >= ticked.len(), "{} executions for {ticked:?}\n{}", bq.len(), d.logs());
    for e in &bq {
        assert_eq!(e.state.current, StateType::Success, "{:?}", e.task_run_list);
        let t = &e.trigger.as_ref().expect("trigger").variables;
        assert_eq!(t["rows"], json!([{"id": 1, "name": "tea"}, {"id": 2, "name": "cake"}]), "{t:?}");
        assert_eq!(t["size"], json!(2));
        assert_eq!(e.task_run_list[0].outputs.as_ref().expect("outputs")["value"], json!("2:tea,cake"));
    }
}
