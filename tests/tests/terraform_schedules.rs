//! The Cloud Scheduler jobs Terraform derives from the flows' Schedule
//! triggers (`modules/schedules`, evaluated for real by `terraform apply`
//! through `terraform::evaluate_schedules`), compared tick by tick with
//! Baton's own reading of the same flows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use shared::model::Flow;
use shared::schedule::{Cron, ScheduleTrigger};

use crate::terraform::{evaluate_schedules, repo};

/// A flow file as Baton reads it (fully validated).
pub(crate) fn baton_flows(dir: &Path) -> Vec<(String, Flow)> {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read flows dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                let src = std::fs::read_to_string(&p).expect("read flow");
                let rel = p.strip_prefix(dir).expect("relative").display().to_string();
                let (flow, diags) = shared::validate::validate_source(&rel, &src, &registry, &renderer);
                assert!(diags.is_empty(), "fixture {rel} is not a valid flow: {diags:?}");
                out.push((rel, flow.expect("flow")));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The first `n` ticks after `from`.
fn ticks(cron: &Cron, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    let mut out = Vec::with_capacity(n);
    let mut t = from;
    while out.len() < n {
        match cron.next_after(t) {
            Some(next) => {
                out.push(next);
                t = next;
            }
            None => break,
        }
    }
    out
}

fn field_uses_quartz_extension(expr: &str) -> bool {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    fields.len() == 5 && (fields[2].contains(['L', 'W']) || fields[4].contains(['L', '#']))
}

/// Checks the module's view of one folder against Baton's; returns (jobs, skipped).
fn compare_with_baton(folder: &Path, derived: &Value) -> (usize, usize) {
    let jobs = derived["jobs"].as_object().expect("jobs output");
    let skipped = derived["skipped"].as_object().expect("skipped output");
    let flows_out = derived["flows"].as_object().expect("flows output");
    let mut seen_jobs = BTreeSet::new();
    let mut seen_skipped = BTreeSet::new();
    let mut names = BTreeSet::new();
    // a year of ticks crosses both daylight-saving changes of every zone
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single().expect("date");

    let flows = baton_flows(folder);
    assert_eq!(flows_out.len(), flows.len(), "flows output {flows_out:?}");
    for (file, flow) in &flows {
        let fkey = format!("{}/{}", flow.namespace, flow.id);
        let f = flows_out.get(&fkey).unwrap_or_else(|| panic!("flow {fkey} ({file}) missing from {flows_out:?}"));
        assert_eq!(f["file"], json!(file), "{fkey}");
        assert_eq!(f["object"], json!(format!("flows/{}/{}.yml", flow.namespace, flow.id)), "{fkey}");
        assert_eq!(f["disabled"], json!(flow.disabled), "{fkey}");
        let prefix =
            format!("{}/{}/executions/", flow.namespace.replace('.', "/"), shared::model::ids::slugify(&flow.id));
        assert_eq!(f["executions_prefix"], json!(prefix), "{fkey}");

        for (trigger, parsed) in flow.triggers.iter().filter_map(|t| {
            ScheduleTrigger::from_trigger(t).transpose().map(|r| (t, r.expect("valid Schedule trigger")))
        }) {
            let key = format!("{}/{}/{}", flow.namespace, flow.id, trigger.id);
            let with_seconds = match trigger.props.get("withSeconds") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
                _ => false,
            };
            let expected_skip = if flow.disabled {
                Some("the flow is disabled")
            } else if parsed.disabled {
                Some("the trigger is disabled")
            } else if with_seconds {
                Some("withSeconds")
            } else if field_uses_quartz_extension(parsed.cron.expr()) {
                Some("L, W or #")
            } else {
                None
            };
            match expected_skip {
                Some(reason) => {
                    let got = skipped.get(&key).and_then(Value::as_str);
                    assert!(
                        got.is_some_and(|g| g.contains(reason)),
                        "{key} ({file}) should be skipped ({reason}); got {got:?}, job {:?}",
                        jobs.get(&key)
                    );
                    assert!(!jobs.contains_key(&key), "{key} is both skipped and a job");
                    seen_skipped.insert(key);
                }
                None => {
                    let job = jobs.get(&key).unwrap_or_else(|| {
                        panic!("{key} ({file}) has no Cloud Scheduler job (skipped: {:?})", skipped.get(&key))
                    });
                    let schedule = job["schedule"].as_str().expect("schedule");
                    let zone = job["time_zone"].as_str().expect("time_zone");
                    assert_eq!(schedule.split(' ').count(), 5, "{key}: Cloud Scheduler takes five fields: {schedule}");
                    // the job fires exactly when Baton's trigger does, in the trigger's zone
                    let as_job = Cron::parse(schedule, false, Some(zone))
                        .unwrap_or_else(|e| panic!("{key}: job cron '{schedule}' in {zone}: {e}"));
                    assert_eq!(
                        ticks(&as_job, start, 400),
                        ticks(&parsed.cron, start, 400),
                        "{key}: job '{schedule}' in {zone} differs from trigger '{}' in {}",
                        parsed.cron.expr(),
                        parsed.cron.timezone()
                    );
                    let written_zone = trigger.props.get("timezone").and_then(Value::as_str).map(str::trim);
                    match written_zone.filter(|z| !z.is_empty()) {
                        Some(z) => assert_eq!(zone, z, "{key}"),
                        None => assert_eq!(zone, "Etc/UTC", "{key}: a trigger without timezone runs in UTC"),
                    }
                    let payload: Value =
                        serde_json::from_str(job["payload"].as_str().expect("payload")).expect("payload is JSON");
                    assert_eq!(
                        payload,
                        json!({"type": "tick", "namespace": flow.namespace, "flowId": flow.id, "triggerId": trigger.id}),
                        "{key}"
                    );
                    assert_eq!(job["namespace"], json!(flow.namespace));
                    assert_eq!(job["flow_id"], json!(flow.id));
                    assert_eq!(job["trigger_id"], json!(trigger.id));
                    let name = job["name"].as_str().expect("name");
                    assert!(
                        !name.is_empty()
                            && name.len() <= 500
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                        "{key}: '{name}' is not a valid Cloud Scheduler job id"
                    );
                    assert!(names.insert(name.to_string()), "job name {name} used twice");
                    seen_jobs.insert(key);
                }
            }
        }
    }
    let job_keys: BTreeSet<String> = jobs.keys().cloned().collect();
    let skipped_keys: BTreeSet<String> = skipped.keys().cloned().collect();
    assert_eq!(job_keys, seen_jobs, "jobs for triggers Baton does not schedule");
    assert_eq!(skipped_keys, seen_skipped, "skipped entries Baton does not know");
    (seen_jobs.len(), seen_skipped.len())
}

#[test]
fn scheduler_jobs_match_the_flows_schedule_triggers() {
    let fixtures = repo().join("tests/fixtures/flows");
    let derived = evaluate_schedules(&[("scheduled", fixtures.join("scheduled")), ("valid", fixtures.join("valid"))]);

    // scheduled/: timezones, a nickname, `?`, a legacy type name,
    // pluginDefaults (prefix, forced), a nested folder; skipped: withSeconds,
    // a disabled trigger, a disabled flow, Quartz's L
    let (jobs, skipped) = compare_with_baton(&fixtures.join("scheduled"), &derived["scheduled"]);
    assert_eq!((jobs, skipped), (7, 4), "{:#}", derived["scheduled"]);
    let s = &derived["scheduled"]["jobs"];
    assert_eq!(s["company.team.nested/with_defaults/quarterly"]["time_zone"], json!("America/New_York"));
    assert_eq!(s["company.team.nested/with_defaults/tokyo_lunch"]["time_zone"], json!("Asia/Tokyo"));
    assert_eq!(s["company.team/daily_report/nightly"]["schedule"], json!("0 0 * * *"));
    assert_eq!(s["company.team/paused_and_legacy/legacy"]["schedule"], json!("30 2 1 * *"));

    // valid/: the zoomcamp flows (two monthly triggers, one @monthly in
    // America/Asuncion, one disabled)
    let (jobs, skipped) = compare_with_baton(&fixtures.join("valid"), &derived["valid"]);
    assert_eq!((jobs, skipped), (3, 1), "{:#}", derived["valid"]);
}

#[test]
fn schedule_on_dates_and_http_triggers_get_utc_jobs() {
    let fixtures = repo().join("tests/fixtures/flows");
    let derived = evaluate_schedules(&[("timed", fixtures.join("timed"))]);
    let d = &derived["timed"];
    let schedules: BTreeMap<String, String> = d["jobs"]
        .as_object()
        .expect("jobs")
        .iter()
        .map(|(k, v)| (k.clone(), v["schedule"].as_str().expect("schedule").to_string()))
        .collect();
    // 18:00+01:00 is 17:00 UTC; 23:59:30+01:00 fires at the minute after it (23:00 UTC)
    let want: BTreeMap<String, String> = [
        ("company.team/holidays/daily", "0 9 * * *"),
        ("company.team/holidays/season#0", "0 17 24 12 *"),
        ("company.team/holidays/season#1", "0 23 31 12 *"),
        // http.Trigger: its interval in whole minutes, as Cloud Scheduler can
        ("company.team/polled/every_minute", "* * * * *"),
        ("company.team/polled/fast", "* * * * *"),
        // a JDBC trigger: polled the same way
        ("company.team/polled/orders", "*/5 * * * *"),
        ("company.team/polled/quarter", "*/15 * * * *"),
        ("company.team/polled/six_hours", "0 */6 * * *"),
        // a BigQuery trigger: polled the same way
        ("company.team/polled/warehouse", "*/10 * * * *"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(schedules, want, "{d:#}");
    assert_eq!(d["jobs"]["company.team/holidays/season#1"]["time_zone"], json!("Etc/UTC"));
    let tick: Value =
        serde_json::from_str(d["jobs"]["company.team/holidays/season#0"]["payload"].as_str().expect("payload"))
            .expect("payload JSON");
    assert_eq!(tick, json!({"type": "tick", "namespace": "company.team", "flowId": "holidays", "triggerId": "season"}));
    assert_eq!(d["skipped"]["company.team/holidays/season#2"], json!("2001-01-01T00:00:00Z has passed"));
    assert_eq!(d["skipped"]["company.team/holidays/paused"], json!("the trigger is disabled"));
    assert_eq!(d["skipped"]["company.team/polled/halted"], json!("the trigger is disabled"));
    assert_eq!(d["skipped"].as_object().map(|m| m.len()), Some(3), "{:#}", d["skipped"]);
    // and Baton reads the same dates as ticks of the trigger
    let (_, flow) = baton_flows(&fixtures.join("timed")).into_iter().next().expect("the flow");
    let t = ScheduleTrigger::find(&flow, "season").expect("trigger").expect("valid");
    let ticks = ticks(&t.cron, "2098-01-01T00:00:00Z".parse().expect("date"), 5);
    assert_eq!(
        ticks.iter().map(|d| d.to_rfc3339()).collect::<Vec<_>>(),
        ["2098-12-24T17:00:00+00:00", "2098-12-31T22:59:30+00:00"]
    );
}

#[test]
fn a_listening_trigger_is_refused_and_a_polled_list_queue_topic_subject_or_stream_gets_a_job() {
    let dir = repo().join("tests/fixtures/flows/listeners");
    assert_eq!(baton_flows(&dir).len(), 9, "the fixtures validate on Baton");
    let derived = evaluate_schedules(&[("listeners", dir)]);
    let d = &derived["listeners"];
    // redis.list.Trigger is polled: one Cloud Scheduler job at its interval
    assert_eq!(d["jobs"]["company.team/queue/batch"]["schedule"], json!("*/2 * * * *"), "{d:#}");
    // so is sqs.Trigger
    assert_eq!(d["jobs"]["company.team/sqs/batch"]["schedule"], json!("*/5 * * * *"), "{d:#}");
    // and mqtt.Trigger
    assert_eq!(d["jobs"]["company.team/mqtt/batch"]["schedule"], json!("*/10 * * * *"), "{d:#}");
    // and nats.Trigger, by its legacy name
    assert_eq!(d["jobs"]["company.team/nats/batch"]["schedule"], json!("*/15 * * * *"), "{d:#}");
    // and kafka.Trigger
    assert_eq!(d["jobs"]["company.team/kafka/batch"]["schedule"], json!("*/20 * * * *"), "{d:#}");
    // and amqp.Trigger
    assert_eq!(d["jobs"]["company.team/amqp/batch"]["schedule"], json!("*/30 * * * *"), "{d:#}");
    // and kinesis.Trigger
    assert_eq!(d["jobs"]["company.team/kinesis/poll"]["schedule"], json!("*/3 * * * *"), "{d:#}");
    assert_eq!(d["jobs"].as_object().map(|m| m.len()), Some(7), "{:#}", d["jobs"]);
    // the enabled RealtimeTrigger is refused, with its file and a way out; the disabled one is not
    let unsupported = d["unsupported"].as_object().expect("unsupported");
    let keys: Vec<&String> = unsupported.keys().collect();
    assert_eq!(
        keys,
        [
            "company.team/amqp/live",
            "company.team/folder/watch",
            "company.team/kafka/live",
            "company.team/mqtt/live",
            "company.team/nats/live",
            "company.team/queue/each",
            "company.team/sockets/tcp",
            "company.team/sqs/live"
        ],
        "{unsupported:#?}"
    );
    let why = unsupported["company.team/queue/each"].as_str().expect("reason");
    for part in ["trigger 'each'", "queue.yaml", "io.kestra.plugin.redis.list.Trigger", "baton server local"] {
        assert!(why.contains(part), "{why}");
    }
    let why = unsupported["company.team/sqs/live"].as_str().expect("reason");
    for part in ["trigger 'live'", "sqs.yaml", "use io.kestra.plugin.aws.sqs.Trigger (polled)", "baton server local"] {
        assert!(why.contains(part), "{why}");
    }
    let why = unsupported["company.team/mqtt/live"].as_str().expect("reason");
    for part in ["trigger 'live'", "mqtt.yaml", "use io.kestra.plugin.mqtt.Trigger (polled)", "baton server local"] {
        assert!(why.contains(part), "{why}");
    }
    let why = unsupported["company.team/nats/live"].as_str().expect("reason");
    for part in ["trigger 'live'", "nats.yaml", "use io.kestra.plugin.nats.core.Trigger (polled)", "baton server local"]
    {
        assert!(why.contains(part), "{why}");
    }
    let why = unsupported["company.team/amqp/live"].as_str().expect("reason");
    for part in ["trigger 'live'", "amqp.yaml", "use io.kestra.plugin.amqp.Trigger (polled)", "baton server local"] {
        assert!(why.contains(part), "{why}");
    }
    let why = unsupported["company.team/kafka/live"].as_str().expect("reason");
    for part in ["trigger 'live'", "kafka.yaml", "use io.kestra.plugin.kafka.Trigger (polled)", "baton server local"] {
        assert!(why.contains(part), "{why}");
    }
    // a TCP listener's way out is a Webhook trigger
    let why = unsupported["company.team/sockets/tcp"].as_str().expect("reason");
    for part in ["trigger 'tcp'", "sockets.yaml", "fs.tcp.RealtimeTrigger", "Webhook", "baton server local"] {
        assert!(why.contains(part), "{why}");
    }
    // a local folder's trigger: the functions share no folder; a bucket is the way out
    let why = unsupported["company.team/folder/watch"].as_str().expect("reason");
    for part in
        ["trigger 'watch'", "folder.yaml", "fs.local.Trigger", "watches a folder", "gcs.Trigger", "baton server local"]
    {
        assert!(why.contains(part), "{why}");
    }
    // and flows.tf turns it into a precondition on the flow's upload
    let flows_tf = std::fs::read_to_string(repo().join("terraform/flows.tf")).expect("flows.tf");
    assert!(flows_tf.contains("module.schedules.unsupported"), "flows.tf no longer refuses these flows");
}
