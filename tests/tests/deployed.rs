//! The deployed system, as an operator runs it after `terraform apply`,
//! on the emulators (`e2e::deployed`): the four functions as separate
//! processes behind their service URLs, push subscriptions shaped like
//! `terraform/pubsub.tf` (two per topic: every message is delivered
//! twice), flows uploaded under the object names and ticks with the
//! bodies that `terraform/modules/schedules` derives, and the sweep job
//! created paused, as Terraform creates it.
//!
//! One deployment goes through, in order: the first tick a trigger ever
//! receives; NONE, LAST and ALL recovery on a scheduler instance just
//! restarted; a one-message backfill of 3 years for each of two triggers
//! of one flow with `concurrency.limit: 1`, the flow updated in the bucket
//! midway and the scheduler and executor killed midway; a worker killed
//! mid-task and the task retried; and idle time in which no function
//! receives a request.
//!
//! Accelerated against production, and said here: the Cloud Scheduler
//! stand-in ticks the sweep every 5 s instead of every minute, and the
//! subscriptions' retry backoff is Terraform's divided by 10 (1 s to
//! 60 s), because the emulator honours it literally. The lease is the
//! production default (30 s).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use e2e::deployed::{Deployment, PushShape};
use serde_json::{Value, json};
use shared::backend::schedule::{BackfillState, TriggerKey, TriggerState, TriggerStore};
use shared::backend::{ExecutionFilter, StateStore};
use shared::model::{Execution, StateType};

const MINUTELY: &str = r#"id: minutely
namespace: deployed
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "tick {{ trigger.date }}"
triggers:
  - id: all
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * *"
  - id: last
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * *"
    recoverMissedSchedules: LAST
  - id: none
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * *"
    recoverMissedSchedules: NONE
"#;

fn monthly(marker: &str) -> String {
    format!(
        r#"id: monthly
namespace: deployed
concurrency:
  limit: 1
inputs:
  - id: taxi
    type: STRING
    defaults: yellow
tasks:
  - id: extract
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ inputs.taxi }}}} {{{{ trigger.date | date('yyyy-MM') }}}} {marker}"
  - id: load
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.taxi }}}}_tripdata_{{{{ trigger.date | date('yyyy-MM') }}}}.csv"
triggers:
  - id: yellow
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 1 * *"
    inputs:
      taxi: yellow
  - id: green
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 1 * *"
    inputs:
      taxi: green
"#
    )
}

const KILLABLE: &str = r#"id: killable
namespace: deployed
tasks:
  - id: slow
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT15S
    retry:
      type: constant
      interval: PT1S
      maxAttempt: 3
"#;

/// What Terraform gives the push subscriptions, backoff divided by 10.
pub(crate) fn push_shape() -> PushShape {
    let pubsub = crate::terraform::repo().join("terraform/pubsub.tf");
    let parsed = crate::terraform::hcl_json(std::slice::from_ref(&pubsub));
    let file = parsed.values().next().expect("pubsub.tf");
    let resources = file["resource"].as_array().expect("resources");
    let push =
        resources.iter().find_map(|r| r.get("google_pubsub_subscription")?.get("push")).expect("push subscription");
    let ack = push["ack_deadline_seconds"].as_u64().expect("ack deadline");
    let retry = &push["retry_policy"][0];
    let secs = |v: &Value| v.as_str().and_then(|s| s.trim_end_matches('s').parse::<f64>().ok()).expect("a duration");
    let attempts = crate::terraform::variable_default("max_delivery_attempts").as_u64().expect("attempts");
    PushShape {
        ack_deadline_seconds: ack,
        minimum_backoff: format!("{}s", secs(&retry["minimum_backoff"]) / 10.0),
        maximum_backoff: format!("{}s", secs(&retry["maximum_backoff"]) / 10.0),
        max_delivery_attempts: attempts,
    }
}

/// The schedules module's view of a folder of flows: `flows` and `jobs`.
pub(crate) fn terraform_view(flows: &[(&str, &str)]) -> Value {
    let dir = std::env::temp_dir().join(format!("baton-deployed-flows-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("flows dir");
    for (name, yaml) in flows {
        std::fs::write(dir.join(name), yaml).expect("write flow");
    }
    let out = crate::terraform::evaluate_schedules(&[("deployed", dir.clone())]);
    let _ = std::fs::remove_dir_all(&dir);
    out["deployed"].clone()
}

async fn executions_of(d: &Deployment, flow: &str) -> Vec<Execution> {
    executions_in(d, "deployed", flow).await
}

/// Every execution of `namespace.flow`, as stored.
pub(crate) async fn executions_in(d: &Deployment, namespace: &str, flow: &str) -> Vec<Execution> {
    let filter =
        ExecutionFilter { namespace: Some(namespace.into()), flow_id: Some(flow.into()), ..ExecutionFilter::default() };
    let mut out = Vec::new();
    for s in d.backends.state.list_executions(&filter).await.expect("list") {
        out.push(d.backends.state.load_execution(&s.id).await.expect("load").expect("exists"));
    }
    out
}

fn trigger_of(e: &Execution) -> (String, DateTime<Utc>) {
    let t = e.trigger.as_ref().expect("a scheduled execution");
    let date = t.variables["date"].as_str().expect("trigger.date");
    (t.id.clone(), DateTime::parse_from_rfc3339(date).expect("date").with_timezone(&Utc))
}

/// Waits (a guard, not a timing assertion) for `probe`; the functions' logs on failure.
pub(crate) async fn until<T, F, Fut>(d: &Deployment, limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for {what}\n{}", d.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (at most `limit`) until no function got a request for `quiet`:
/// redeliveries of handled messages trail the work by their backoff.
pub(crate) async fn until_quiet(d: &Deployment, quiet: Duration, limit: Duration) {
    let mut quiet_since = (tokio::time::Instant::now(), d.requests());
    until(d, limit, "the last redeliveries", || {
        let now = (tokio::time::Instant::now(), d.requests());
        if now.1 != quiet_since.1 {
            quiet_since = now;
        }
        let done = now.0 - quiet_since.0 >= quiet;
        async move { done.then_some(()) }
    })
    .await;
}

async fn tick(d: &Deployment, jobs: &Value, trigger: &str) {
    let job = &jobs[format!("deployed/minutely/{trigger}")];
    let payload = job["payload"].as_str().expect("the job's payload");
    d.publish("baton-scheduler", payload.as_bytes(), json!({"type": "tick"})).await;
}

fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_second(0).and_then(|t| t.with_nanosecond(0)).expect("minute")
}

async fn dates_of(d: &Deployment, trigger: &str) -> Vec<DateTime<Utc>> {
    let mut v: Vec<DateTime<Utc>> = executions_of(d, "minutely")
        .await
        .iter()
        .map(trigger_of)
        .filter(|(t, _)| t == trigger)
        .map(|(_, date)| date)
        .collect();
    v.sort();
    v
}

// Run alone, after the rest of the suite, by scripts/test.sh (`--ignored`): it
// is timing-sensitive (accelerated Pub/Sub backoff and sweep), and 170 other
// tests loading both cores at once starved it into a hang twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run alone by scripts/test.sh: cargo test -p e2e --test e2e -- --ignored --exact deployed::the_deployed_system_runs_right_through_ticks_backfills_updates_kills_and_idle"]
async fn the_deployed_system_runs_right_through_ticks_backfills_updates_kills_and_idle() {
    let shape = push_shape();
    let view =
        terraform_view(&[("minutely.yml", MINUTELY), ("monthly.yml", &monthly("rev-A")), ("killable.yml", KILLABLE)]);
    let jobs = view["jobs"].clone();
    for k in ["deployed/minutely/all", "deployed/minutely/last", "deployed/minutely/none", "deployed/monthly/yellow"] {
        assert!(jobs.get(k).is_some(), "the schedules module makes a job for {k}: {jobs}");
    }
    let d = Deployment::start(&shape, 2, Duration::from_secs(5)).await;
    // Cloud Run's cpu_idle: no CPU outside requests
    d.throttle_cpu_when_idle(true);
    let object = |key: &str| view["flows"][key]["object"].as_str().expect("object name").to_string();
    d.upload_flow(&object("deployed/minutely"), MINUTELY).await;
    d.upload_flow(&object("deployed/monthly"), &monthly("rev-A")).await;
    d.upload_flow(&object("deployed/killable"), KILLABLE).await;
    assert_eq!(d.cloud_scheduler.state(&d.sweep_job), Some("PAUSED"), "Terraform creates the sweep paused");

    // 1. the first tick a trigger ever receives starts its execution
    let before = Utc::now();
    tick(&d, &jobs, "all").await;
    let first = until(&d, Duration::from_secs(60), "the first tick's execution", || async {
        let v = dates_of(&d, "all").await;
        (!v.is_empty()).then_some(v)
    })
    .await;
    assert_eq!(first.len(), 1);
    assert!(first[0] <= Utc::now() && first[0] >= minute(before) - TimeDelta::minutes(1), "{first:?}");
    // the launcher saves the execution, then publishes its `Created`: the
    // executor resumes the sweep when it handles that, a moment after the
    // execution can be seen
    until(&d, Duration::from_secs(60), "an execution in flight to resume the sweep", || async {
        (d.cloud_scheduler.state(&d.sweep_job) == Some("ENABLED")).then_some(())
    })
    .await;

    // 2. NONE, LAST and ALL on a scheduler instance that never saw the triggers
    d.function("scheduler").kill();
    d.function("scheduler").start().await;
    let seeded = minute(Utc::now()) - TimeDelta::minutes(3);
    for trigger in ["all", "last", "none"] {
        let key = TriggerKey { namespace: "deployed".into(), flow_id: "minutely".into(), trigger_id: trigger.into() };
        let mut st = d.backends.state.load_trigger_state(&key).await.expect("state").unwrap_or(TriggerState {
            key: key.clone(),
            last_tick: None,
            next_tick: None,
            last_execution_id: None,
            stopped: None,
            schedule: None,
            updated: Utc::now(),
        });
        if st.schedule.is_none() {
            st.schedule = Some(shared::schedule::Cron::parse("* * * * *", false, None).expect("cron").signature());
        }
        st.last_tick = Some(seeded);
        d.backends.state.save_trigger_state(&st).await.expect("seed");
    }
    for trigger in ["none", "last", "all"] {
        tick(&d, &jobs, trigger).await;
    }
    let none = until(&d, Duration::from_secs(60), "the NONE tick", || async {
        let v = dates_of(&d, "none").await;
        (!v.is_empty()).then_some(v)
    })
    .await;
    let current = none[0];
    assert!(current > seeded, "NONE runs its on-time tick: {none:?}");
    let last = until(&d, Duration::from_secs(60), "the LAST ticks", || async {
        let v = dates_of(&d, "last").await;
        (v.len() >= 2).then_some(v)
    })
    .await;
    // (the three ticks are published together; should they straddle a minute, each stands for its own)
    let last_current = *last.last().expect("some");
    assert!(last_current == current || last_current == current + TimeDelta::minutes(1), "{last:?} vs {current}");
    assert_eq!(
        last,
        [last_current - TimeDelta::minutes(1), last_current],
        "LAST: the newest missed tick and the on-time one"
    );
    let expected_all = |current: DateTime<Utc>| -> BTreeSet<DateTime<Utc>> {
        first
            .iter()
            .copied()
            .chain((1..).map(|i| seeded + TimeDelta::minutes(i)).take_while(|t| *t <= current))
            .collect()
    };
    let all = until(&d, Duration::from_secs(60), "the ALL ticks", || async {
        let v = dates_of(&d, "all").await;
        (v.len() >= expected_all(current).len()).then_some(v)
    })
    .await;
    let expected_all = expected_all(*all.last().expect("some"));
    assert_eq!(all.iter().copied().collect::<BTreeSet<_>>(), expected_all, "ALL: every missed tick once");
    assert_eq!(all.len(), expected_all.len(), "no tick twice: {all:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(dates_of(&d, "none").await, [current], "duplicates of the ticks start nothing more");

    // 3. one message per backfill: 3 years x 2 triggers, concurrency.limit 1,
    //    the flow updated midway, the scheduler and the executor killed midway
    for trigger in ["yellow", "green"] {
        let msg = json!({"type": "backfill", "namespace": "deployed", "flowId": "monthly", "triggerId": trigger,
            "start": "2019-01-01", "end": "2021-12-31", "labels": [{"key": "backfill", "value": "true"}]});
        d.publish("baton-scheduler", msg.to_string().as_bytes(), json!({})).await;
    }
    until(&d, Duration::from_secs(300), "a third of the backfill", || async {
        (executions_of(&d, "monthly").await.len() >= 24).then_some(())
    })
    .await;
    d.upload_flow(&object("deployed/monthly"), &monthly("rev-B")).await;
    d.function("scheduler").kill();
    d.function("executor").kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    d.function("executor").start().await;
    d.function("scheduler").start().await;
    let backfills = until(&d, Duration::from_secs(900), "both backfills to end", || async {
        let list = d.backends.state.list_backfills(None).await.expect("backfills");
        (!list.is_empty() && list.iter().all(|b| b.state == BackfillState::Success)).then_some(list)
    })
    .await;
    assert_eq!(backfills.len(), 2, "one backfill per message, though each was delivered twice: {backfills:#?}");
    for b in &backfills {
        let p = &b.progress;
        assert_eq!(
            (p.total, p.launched, p.succeeded, p.skipped, p.failed),
            (36, 36, 36, 0, 0),
            "{}: {p:?}",
            b.trigger_id
        );
    }
    let monthly_execs = executions_of(&d, "monthly").await;
    assert_eq!(monthly_execs.len(), 72, "each month of each trigger once");
    let keys: BTreeSet<(String, DateTime<Utc>)> = monthly_execs.iter().map(trigger_of).collect();
    assert_eq!(keys.len(), 72, "no (trigger, month) twice");
    // the limit held at every instant: RUNNING intervals never overlap
    let mut intervals: Vec<(DateTime<Utc>, DateTime<Utc>, String)> = monthly_execs
        .iter()
        .map(|e| {
            assert_eq!(e.state.current, StateType::Success, "{}", e.id);
            let start = e.state.histories.iter().find(|h| h.state == StateType::Running).expect("ran").date;
            (start, e.state.end_date().expect("ended"), e.id.clone())
        })
        .collect();
    intervals.sort();
    for w in intervals.windows(2) {
        assert!(w[1].0 >= w[0].1, "executions {} and {} ran together: {w:?}", w[0].2, w[1].2);
    }
    // every execution ran the revision it was created with
    let mut by_marker: HashMap<&str, usize> = HashMap::new();
    let mut sources: BTreeMap<u32, String> = BTreeMap::new();
    for e in &monthly_execs {
        if let std::collections::btree_map::Entry::Vacant(slot) = sources.entry(e.flow_revision) {
            let stored = d.backends.state.load_flow("deployed", "monthly", Some(e.flow_revision)).await.expect("flow");
            slot.insert(stored.expect("stored").1);
        }
        let marker = if sources[&e.flow_revision].contains("rev-B") { "rev-B" } else { "rev-A" };
        let logs = d.backends.state.logs(&e.id).await.expect("logs");
        let extract: Vec<&str> =
            logs.iter().filter(|l| l.task_id.as_deref() == Some("extract")).map(|l| l.message.as_str()).collect();
        assert!(
            extract.len() == 1 && extract[0].ends_with(marker),
            "execution {} (revision {}) logged {extract:?}, not its revision's {marker}",
            e.id,
            e.flow_revision
        );
        *by_marker.entry(marker).or_default() += 1;
    }
    assert!(
        by_marker.get("rev-B").is_some_and(|n| *n > 0),
        "the update was picked up without a restart: {by_marker:?}"
    );
    assert!(by_marker.get("rev-A").is_some_and(|n| *n >= 24), "{by_marker:?}");
    let slots = d.backends.state.load_record("concurrency", "deployed:monthly").await.expect("slots");
    assert_eq!(slots.map(|(_, s)| s), Some(json!({"running": [], "queued": []})), "every slot freed");

    // 4. a worker killed mid-task: the attempt is taken over and retried
    let resp = d.http.post(format!("{}/api/v1/executions/deployed/killable", d.function("api").url)).send().await;
    let body: Value = resp.expect("start").json().await.expect("json");
    let id = body["id"].as_str().unwrap_or_else(|| panic!("no execution: {body}")).to_string();
    until(&d, Duration::from_secs(60), "the slow task to start", || async {
        let e = d.backends.state.load_execution(&id).await.ok()??;
        e.task_run_list.first().filter(|t| t.state.current == StateType::Running).map(|_| ())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed_at = Utc::now();
    d.function("worker-core").kill();
    d.function("worker-core").start().await;
    let done = until(&d, Duration::from_secs(180), "the killed task's execution to end", || async {
        let e = d.backends.state.load_execution(&id).await.ok()??;
        e.state.is_terminal().then_some(e)
    })
    .await;
    assert_eq!(done.state.current, StateType::Success, "{:?}", done.task_run_list);
    let attempts = &done.task_run_list[0].attempts;
    assert_eq!(attempts.len(), 2, "one lost attempt, one retried: {attempts:?}");
    assert_eq!(attempts[0].state.current, StateType::Failed);
    let retried = attempts[1].state.start_date().expect("retried attempt started");
    let took = retried - killed_at;
    println!("deployed: worker killed -> retried attempt started in {} ms", took.num_milliseconds());
    assert!(took < TimeDelta::seconds(60), "the retry started {took} after the kill (aim: under a minute)");

    // 5. idle: the last sweep pauses its job; then no function gets a request
    until(&d, Duration::from_secs(60), "the sweep job to be paused", || async {
        (d.cloud_scheduler.state(&d.sweep_job) == Some("PAUSED")).then_some(())
    })
    .await;
    // redeliveries of messages already handled may trail the work by their
    // backoff (the held job of the killed worker: 1 s, 2 s, 4 s… then acked):
    // wait until they have stopped before calling it idle
    until_quiet(&d, Duration::from_secs(30), Duration::from_secs(180)).await;
    let (requests, ticks) = (d.requests(), d.cloud_scheduler.ticks());
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(d.cloud_scheduler.ticks(), ticks, "a paused sweep job publishes nothing");
    assert_eq!(d.requests(), requests, "idle: no function received a request for 20 s");
    println!("deployed: idle for 20 s, 0 function requests; the sweep job is PAUSED");

    // 6. what Baton asked Cloud Scheduler is what Google's API offers
    check_against_discovery(&d.cloud_scheduler.requests(), &d.cloud_scheduler.job_shape());
}

/// Google's discovery document of Cloud Scheduler v1 (`scripts/setup/gcp.sh` fetches it).
fn discovery() -> Value {
    let dir = std::env::var("BATON_DISCOVERY_DIR")
        .unwrap_or_else(|_| crate::terraform::repo().join(".cache/discovery").display().to_string());
    let path = std::path::Path::new(&dir).join("cloudscheduler.v1.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/setup/gcp.sh fetches it)", path.display()));
    serde_json::from_str(&text).expect("discovery JSON")
}

/// Every request made to the Cloud Scheduler stand-in is a method of
/// Google's discovery document, and the stand-in's `Job` has only fields
/// the document declares.
fn check_against_discovery(requests: &[(String, String)], job: &Value) {
    let doc = discovery();
    let methods = &doc["resources"]["projects"]["resources"]["locations"]["resources"]["jobs"]["methods"];
    assert!(!requests.is_empty(), "Baton paused and resumed the sweep job");
    let name_pattern =
        regex::Regex::new(methods["pause"]["parameters"]["name"]["pattern"].as_str().expect("pattern")).expect("regex");
    for (method, path) in requests {
        let found = methods.as_object().expect("methods").iter().find(|(_, m)| {
            let template = m["path"].as_str().unwrap_or_default();
            let (prefix, suffix) = template.split_once("{+name}").unwrap_or((template, ""));
            m["httpMethod"] == method.as_str()
                && path.starts_with(prefix)
                && path.ends_with(suffix)
                && name_pattern.is_match(&path[prefix.len()..path.len() - suffix.len()])
        });
        let (id, _) = found.unwrap_or_else(|| panic!("{method} {path} is not a Cloud Scheduler v1 jobs method"));
        assert!(["get", "pause", "resume"].contains(&id.as_str()), "{id}");
    }
    check_job_fields(&doc, job);
}

/// The stand-in's `Job` has only fields the discovery document declares.
pub(crate) fn check_job_against_discovery(job: &Value) {
    check_job_fields(&discovery(), job);
}

fn check_job_fields(doc: &Value, job: &Value) {
    let schema = doc["schemas"]["Job"]["properties"].as_object().expect("Job schema");
    for (field, value) in job.as_object().expect("job") {
        let declared = schema.get(field).unwrap_or_else(|| panic!("Job has no field {field}"));
        if let Some(values) = declared.get("enum").and_then(Value::as_array) {
            assert!(values.contains(value), "{field}={value} is not one of {values:?}");
        }
    }
    let target = doc["schemas"]["PubsubTarget"]["properties"].as_object().expect("PubsubTarget");
    for field in job["pubsubTarget"].as_object().expect("target").keys() {
        assert!(target.contains_key(field), "PubsubTarget has no field {field}");
    }
}
