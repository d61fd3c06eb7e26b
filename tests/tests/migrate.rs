//! `baton migrate` proved by running: every seed flow (the examples, the
//! test fixtures, the zoomcamp Postgres taxi flow) migrates, migrates again
//! to the same text, and leaves no 1.x construct behind except what it
//! reports for a human, and validates as Kestra 2.0 with the real
//! validator (or is listed with what 2.0 still lacks); the migrated zoomcamp taxi flow loads the same rows
//! into PostgreSQL as the original; a migrated flow runs beside its
//! original with the same outputs; `--check`, `--diff` and `-o` behave
//! through the binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::taxi::Kind;
use e2e::{http, pg, taxi, zoomcamp};
use serde_json::json;
use shared::migrate::migrate;
use shared::migrate::verify::validate_v2;
use shared::model::StateType;

use crate::support::{baton_bin, harness, runs};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn seed_flows() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["examples", "tests/fixtures/flows"] {
        shared::validate::collect_yaml(&Path::new(ROOT).join(dir), &mut out).expect("seed folder");
    }
    // the invalid fixtures are not flows to migrate (some are not even YAML),
    // nor are the unit test files beside the examples (`baton test`)
    out.retain(|p| {
        let rel = p.strip_prefix(Path::new(ROOT).join("examples")).ok();
        !p.components().any(|c| c.as_os_str() == "invalid") && !rel.is_some_and(|r| r.starts_with("tests"))
    });
    out
}

/// Migrates `src`, checks idempotence, and returns the output, the rules
/// left for a human and the 2.0 validator's diagnostics on the output.
fn migrated(name: &str, src: &str) -> (String, Vec<String>, Vec<String>) {
    let m = migrate(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again = migrate(&m.output).unwrap_or_else(|e| panic!("{name} (migrated): {e}"));
    assert_eq!(again.output, m.output, "{name}: a second migration changed the flow");
    let rewritten: Vec<_> = again.findings.iter().filter(|f| !f.manual).collect();
    assert!(rewritten.is_empty(), "{name}: 1.x left after migrating: {rewritten:?}");
    // nothing the migration kept is a 1.x construct it would rewrite
    for key in ["pluginDefaults:", "taskDefaults:", "conditions:", "preconditions:", "EachSequential", "EachParallel"] {
        if m.manual().all(|f| !f.message.contains(key.trim_end_matches(':'))) {
            assert!(!m.output.contains(key), "{name}: {key} survived:\n{}", m.output);
        }
    }
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let invalid = validate_v2(name, &m.output, &registry, &renderer).iter().map(ToString::to_string).collect();
    (m.output.clone(), m.manual().map(|f| format!("{}:{}", f.rule, f.position.line)).collect(), invalid)
}

#[test]
fn every_seed_flow_migrates_to_a_fixpoint_validates_as_2_0_and_reports_what_it_cannot_rewrite() {
    let flows = seed_flows();
    assert!(flows.len() >= 20, "{flows:?}");
    let mut manual = Vec::new();
    let mut invalid = Vec::new();
    let mut changed = 0;
    for f in &flows {
        let name = f.strip_prefix(ROOT).unwrap_or(f).display().to_string();
        let src = std::fs::read_to_string(f).unwrap();
        let (out, left, bad) = migrated(&name, &src);
        if out != src {
            changed += 1;
        }
        for l in left {
            manual.push(format!("{name}:{l}"));
        }
        invalid.extend(bad);
    }
    let zoomcamp_flow = zoomcamp::postgres_taxi_flow("http://127.0.0.1:1", "jdbc:postgresql://x/y", "u", "p");
    let (out, left, bad) = migrated("zoomcamp", &zoomcamp_flow);
    assert!(left.is_empty(), "{left:?}");
    assert!(bad.is_empty(), "{bad:#?}\n{out}");
    assert!(!out.contains("\npluginDefaults:"));
    // what the seed flows need a human for, exactly (a change here is a
    // rule that started or stopped rewriting something)
    manual.sort();
    assert_eq!(
        manual,
        ["examples/hello_world.yaml:loop:70", "examples/hello_world.yaml:loop:78"],
        "changed {changed} of {}",
        flows.len()
    );
    assert!(changed >= 8, "{changed}");
    // every migrated seed flow is a valid Kestra 2.0 flow for the real validator
    assert!(invalid.is_empty(), "not valid as 2.0 once migrated:\n{}", invalid.join("\n"));
}

/// Rows of the two taxi tables, as `count:sum(total_amount)` strings.
fn table_digest(db: &str) -> Vec<String> {
    ["yellow_tripdata", "green_tripdata"]
        .iter()
        .map(|t| {
            let n = pg::shared().count(db, &format!("SELECT count(*) FROM {t}"));
            let ids = pg::shared().count(db, &format!("SELECT count(DISTINCT unique_row_id) FROM {t}"));
            let cents =
                pg::shared().count(db, &format!("SELECT coalesce(round(sum(total_amount) * 100), 0)::bigint FROM {t}"));
            format!("{t}: {n} rows, {ids} ids, {cents} cents")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migrated_zoomcamp_taxi_flow_loads_the_same_rows_as_the_original() {
    let root = std::env::temp_dir().join(format!("baton-migrate-taxi-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&root).unwrap();
    let base = http::serve_dir(&root);
    for (kind, rows) in [(Kind::Yellow, 700), (Kind::Green, 400)] {
        taxi::write_csv_gz(kind, 2019, 3, rows, &zoomcamp::asset_path(&root, kind, 2019, 3)).unwrap();
    }
    let mut digests = Vec::new();
    for migrate_it in [false, true] {
        let db = pg::shared().create_database(if migrate_it { "mig_v2" } else { "mig_v1" });
        let mut text = zoomcamp::postgres_taxi_flow(&base, &pg::shared().jdbc_url(&db), pg::USER, pg::PASSWORD);
        if migrate_it {
            let m = migrate(&text).unwrap();
            assert!(text.contains("\npluginDefaults:") && !m.output.contains("\npluginDefaults:"));
            assert_eq!(m.manual().count(), 0, "{:?}", m.findings);
            text = m.output;
        }
        let h = harness();
        let flow = h.flow(&text);
        for kind in [Kind::Yellow, Kind::Green] {
            let e = h.run_flow(&flow, json!({"taxi": kind.name(), "year": "2019", "month": "03"})).await;
            assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, h.logs(&e.id).await);
            let copy = runs(&e, &format!("{}_copy_in_to_staging_table", kind.name()))[0];
            assert_eq!(copy.outputs.as_ref().unwrap()["rowCount"], json!(if kind == Kind::Yellow { 700 } else { 400 }));
        }
        digests.push(table_digest(&db));
    }
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(digests[0], digests[1]);
    assert!(digests[0][0].starts_with("yellow_tripdata: 700 rows, 700 ids"), "{:?}", digests[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_flow_runs_beside_its_original_with_the_same_outputs() {
    // what Baton's engine runs today in both dialects: inlined
    // pluginDefaults (prefix, forced, nested maps), aliases, json, Echo
    let src = r#"
id: beside
namespace: test.migrate
# a comment that stays
inputs:
  - id: who
    type: STRING
    defaults: Kestra
    required: false
tasks:
  - id: greet
    type: io.kestra.core.tasks.debugs.Return
    format: "{{ {'who': inputs.who} | json }}"
  - id: echo
    type: io.kestra.plugin.core.debug.Echo
    format: "hello {{ fromJson(outputs.greet.value).who }}"
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      a: "{{ outputs.greet.value }}"
pluginDefaults:
  - type: io.kestra.plugin.core.output
    values:
      values:
        b: from a default
  - type: io.kestra.plugin.core.log.Log
    forced: true
    values:
      level: WARN
"#;
    let m = migrate(src).unwrap();
    assert!(m.output.contains("# a comment that stays"));
    assert!(m.output.contains("| toJson }}") && m.output.contains("type: io.kestra.plugin.core.log.Log"));
    assert!(!m.output.contains("pluginDefaults") && !m.output.contains("required: false"));
    let h = harness();
    let mut results = Vec::new();
    for text in [src, m.output.as_str()] {
        let e = h.run(text, json!({})).await;
        assert_eq!(e.state.current, StateType::Success, "{:?}\n{text}", e.error);
        let out = runs(&e, "out")[0].outputs.clone().unwrap();
        results.push((
            out,
            runs(&e, "greet")[0].outputs.clone(),
            h.logs(&e.id).await.into_iter().filter(|l| l.contains("hello")).collect::<Vec<_>>(),
        ));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0].0["values"]["b"], "from a default", "{:?}", results[0]);
    assert_eq!(results[0].2, ["hello Kestra"]);
}

fn baton(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(baton_bin()).args(args).output().expect("baton runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn check_diff_and_out_through_the_binary() {
    let dir = std::env::temp_dir().join(format!("baton-migrate-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("in/sub")).unwrap();
    let v1 = "id: f\nnamespace: n\ntasks:\n  - id: each # keep\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [a, b]\n    tasks:\n      - id: l\n        type: io.kestra.plugin.core.log.Log\n        message: \"{{ taskrun.value }}\"\n";
    std::fs::write(dir.join("in/sub/f.yaml"), v1).unwrap();
    let file = dir.join("in/sub/f.yaml");
    let f = file.to_str().unwrap();

    let (code, out, _) = baton(&["migrate", "--check", f]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("{f}:5:11: loop (rewritten): ForEach is removed in 2.0")), "{out}");

    let (code, out, _) = baton(&["migrate", "--diff", f]);
    assert_eq!(code, 0);
    assert!(
        out.contains("-    type: io.kestra.plugin.core.flow.ForEach\n+    type: io.kestra.plugin.core.flow.Loop\n"),
        "{out}"
    );
    assert!(out.contains("+        message: \"{{ item.value }}\"\n"), "{out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), v1, "--diff writes nothing");

    let outdir = dir.join("out");
    let (code, _, err) = baton(&["migrate", dir.join("in").to_str().unwrap(), "-o", outdir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let migrated = std::fs::read_to_string(outdir.join("sub/f.yaml")).unwrap();
    assert!(migrated.contains("  - id: each # keep\n    type: io.kestra.plugin.core.flow.Loop\n"), "{migrated}");

    let (code, out, _) = baton(&["migrate", "--check", outdir.to_str().unwrap()]);
    assert_eq!(code, 0, "a migrated flow needs nothing: {out}");

    let (code, _, _) = baton(&["migrate", "--in-place", f]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), migrated);

    // what the migration leaves is checked as 2.0 by the validator, located in the migrated text
    let left = dir.join("left.yaml");
    std::fs::write(
        &left,
        "id: left\nnamespace: n\ntasks:\n  - id: l\n    type: io.kestra.core.tasks.log.Log\n    message: hi\ntriggers:\n  - id: up\n    type: io.kestra.plugin.core.trigger.Flow\n    conditions:\n      - type: io.kestra.plugin.core.condition.HasRetryAttempt\n",
    )
    .unwrap();
    let l = left.to_str().unwrap();
    let (code, out, err) = baton(&["migrate", "--check", l]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains(&format!("{l}:10:5: conditions (manual)")), "{out}");
    assert!(out.contains(&format!("{l} (migrated):10:5: triggers[0].conditions")), "{out}");
    assert!(out.contains("(not valid as Kestra 2.0)") && err.contains("1 not valid as Kestra 2.0"), "{out}{err}");
    // printing the migrated flow still works, and says it is not valid yet
    let (code, out, err) = baton(&["migrate", l]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("type: io.kestra.plugin.core.log.Log"), "{out}");
    assert!(err.contains(&format!("{l} (migrated):10:5:")), "{err}");

    std::fs::write(dir.join("bad.yaml"), "id: [\n").unwrap();
    let (code, _, err) = baton(&["migrate", "--check", dir.join("bad.yaml").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not valid YAML"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run reduced to what must not change with the dialect: every task
/// run's (task, iteration value, state), sorted, the `outputs` of `task`
/// with the execution's id masked, and the log lines.
async fn digest(
    h: &crate::support::Harness,
    e: &shared::model::Execution,
    task: &str,
) -> (Vec<(String, String, StateType)>, serde_json::Value, Vec<String>) {
    let mut trs: Vec<_> = e
        .task_run_list
        .iter()
        .map(|t| (t.task_id.clone(), t.value.clone().unwrap_or_default(), t.state.current))
        .collect();
    trs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let out = runs(e, task).first().and_then(|t| t.outputs.as_deref().cloned()).map(serde_json::Value::Object);
    let out = serde_json::from_str(&serde_json::to_string(&out).unwrap().replace(&e.id, "<id>")).unwrap();
    let mut logs = h.logs(&e.id).await;
    logs.sort();
    (trs, out, logs)
}

fn seed(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_world_runs_as_loop_beside_its_foreach_original() {
    let src = seed("examples/hello_world.yaml");
    let m = migrate(&src).unwrap();
    assert!(m.output.contains("type: io.kestra.plugin.core.flow.Loop") && m.output.contains("{{ item.value }}"));
    // a Loop's iterations are isolated (as Kestra 2.0): the two reads of
    // file_name after the loop are reported, and fixed as the report says
    let manual: Vec<String> = m.manual().map(|f| f.message.clone()).collect();
    assert_eq!(
        manual.iter().filter(|f| f.contains("outputs.file_name is read outside its loop")).count(),
        2,
        "{manual:?}"
    );
    let fixed = m
        .output
        .replacen(
            "    concurrencyLimit: 0\n",
            "    concurrencyLimit: 0\n    outputs:\n      - id: file\n        type: STRING\n        value: \"{{ outputs.file_name.value }}\"\n",
            1,
        )
        .replace("{{ outputs.file_name['02'].value }}", "{{ loopOutputs(outputs.each_month.outputs, 'file')[1] }}")
        .replace("{{ outputs.file_name | length }}", "{{ outputs.each_month.outputs | length }}");
    assert!(fixed.contains("outputs:\n      - id: file") && !fixed.contains("outputs.file_name |"), "{fixed}");
    // unfixed, the read after the loop fails as on Kestra 2.0
    let h = harness();
    let e = h.run(&m.output, json!({"name": "Baton"})).await;
    assert_eq!(e.state.current, StateType::Failed, "{:?}", e.error);
    let mut digests = Vec::new();
    for text in [src.as_str(), fixed.as_str()] {
        let h = harness();
        let e = h.run(text, json!({"name": "Baton"})).await;
        assert_eq!(e.state.current, StateType::Success, "{:?}\n{text}", e.error);
        digests.push(digest(&h, &e, "summary").await);
    }
    assert_eq!(digests[0], digests[1]);
    let (trs, summary, logs) = &digests[0];
    assert_eq!(trs.iter().filter(|t| t.0 == "file_name").count(), 3, "{trs:?}");
    assert_eq!(summary["values"]["files"], "3 files", "{summary}");
    assert!(logs.iter().any(|l| l.contains("February file: yellow_tripdata_2019-02.csv")), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_years_runs_as_loop_beside_its_foreach_original() {
    // the subflow it calls, and its HTTP call served locally
    const LOAD: &str = "id: 02_load_data\nnamespace: bay-wheels.ingestion\ninputs:\n  - id: year\n    type: STRING\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"loading {{ inputs.year }}\"\n";
    let base = crate::support::serve(b"ok".to_vec(), 200).await;
    let src = seed("tests/fixtures/flows/valid/03_by_years.yaml").replace("https://example.com/api", &base);
    let m = migrate(&src).unwrap();
    assert!(m.output.contains("type: io.kestra.plugin.core.flow.Loop") && m.output.contains("maxAttempts: 3"));
    let mut digests = Vec::new();
    for text in [src.as_str(), m.output.as_str()] {
        let h = harness();
        h.flow(LOAD);
        let e = h.run(text, json!({"dry_run": true})).await;
        assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, h.logs(&e.id).await);
        let (trs, out, logs) = digest(&h, &e, "results").await;
        // what each subflow run logged, by the year it was given
        let mut sub = Vec::new();
        for r in runs(&e, "load_year") {
            let id = r.outputs.as_ref().and_then(|o| o.get("executionId")).and_then(|v| v.as_str()).expect("id");
            sub.extend(h.logs(id).await);
        }
        sub.sort();
        digests.push((trs, out, logs, sub));
    }
    assert_eq!(digests[0], digests[1]);
    assert_eq!(digests[0].3, ["loading 2019", "loading 2020"]);
    assert_eq!(digests[0].1["values"]["last"], "<id>", "{:?}", digests[0].1);
    assert!(digests[0].2.contains(&"dry run".to_string()), "{:?}", digests[0].2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_conditions_and_their_when_fire_on_the_same_ticks() {
    use shared::runtime::backfill::{BackfillRequest, create_backfill, run_backfill};
    // Kestra's every-monday blueprint, plus a Not(Weekend) and a DayWeek on a daily cron
    let src = r#"
id: first_monday
namespace: company.team
tasks:
  - id: out
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date }}"
triggers:
  - id: monday
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 11 * * MON"
    conditions:
      - type: io.kestra.plugin.core.condition.DayWeekInMonth
        dayOfWeek: MONDAY
        dayInMonth: FIRST
  - id: weekdays
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    timezone: Europe/Paris
    conditions:
      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - type: io.kestra.plugin.core.condition.Weekend
      - type: io.kestra.core.models.conditions.types.DayWeekCondition
        dayOfWeek: TUESDAY
"#;
    let m = migrate(src).unwrap();
    assert!(!m.output.contains("conditions:") && m.output.matches("when: ").count() == 2, "{}", m.output);
    let mut seen = Vec::new();
    for text in [src, m.output.as_str()] {
        let s = crate::sched_support::sched();
        s.flow(text);
        let mut counts = Vec::new();
        for trigger in ["monday", "weekdays"] {
            let req = BackfillRequest {
                namespace: "company.team".into(),
                flow_id: "first_monday".into(),
                trigger_id: trigger.into(),
                start: crate::sched_support::at("2026-11-01T00:00:00Z"),
                end: Some(crate::sched_support::at("2026-11-30T23:59:59Z")),
                ..BackfillRequest::default()
            };
            let b = create_backfill(&s.embedded.engine, s.store.as_ref(), req).await.expect("create");
            let b = run_backfill(&s.embedded.engine, s.store.as_ref(), &b.id, &mut |_| {}).await.expect("run");
            let p = &b.progress;
            counts.push((trigger, p.total, p.launched, p.conditions_false, p.failed));
        }
        let mut dates: Vec<String> =
            s.executions("company.team", "first_monday").await.iter().map(crate::sched_support::trigger_date).collect();
        dates.sort();
        seen.push((counts, dates));
    }
    assert_eq!(seen[0], seen[1]);
    let (counts, dates) = &seen[0];
    assert_eq!(counts, &[("monday", 5, 1, 4, 0), ("weekdays", 30, 4, 26, 0)], "{dates:?}");
    assert!(dates.contains(&"2026-11-02T11:00:00Z".to_string()), "{dates:?}");
}
