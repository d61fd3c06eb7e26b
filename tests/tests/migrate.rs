//! `baton migrate` proved by running: every seed flow (the examples, the
//! test fixtures, the zoomcamp Postgres taxi flow) migrates, migrates again
//! to the same text, and leaves no 1.x construct behind except what it
//! reports for a human; the migrated zoomcamp taxi flow loads the same rows
//! into PostgreSQL as the original; a migrated flow runs beside its
//! original with the same outputs; `--check`, `--diff` and `-o` behave
//! through the binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::taxi::Kind;
use e2e::{http, pg, taxi, zoomcamp};
use serde_json::json;
use shared::migrate::migrate;
use shared::model::StateType;

use crate::support::{baton_bin, harness, runs};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn seed_flows() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["examples", "tests/fixtures/flows"] {
        shared::validate::collect_yaml(&Path::new(ROOT).join(dir), &mut out).expect("seed folder");
    }
    // the invalid fixtures are not flows to migrate (some are not even YAML)
    out.retain(|p| !p.components().any(|c| c.as_os_str() == "invalid"));
    out
}

/// Migrates `src`, checks idempotence, and returns the output and the
/// rules left for a human.
fn migrated(name: &str, src: &str) -> (String, Vec<String>) {
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
    (m.output.clone(), m.manual().map(|f| format!("{}:{}", f.rule, f.position.line)).collect())
}

#[test]
fn every_seed_flow_migrates_to_a_fixpoint_and_reports_what_it_cannot_rewrite() {
    let flows = seed_flows();
    assert!(flows.len() >= 20, "{flows:?}");
    let mut manual = Vec::new();
    let mut changed = 0;
    for f in &flows {
        let name = f.strip_prefix(ROOT).unwrap_or(f).display().to_string();
        let src = std::fs::read_to_string(f).unwrap();
        let (out, left) = migrated(&name, &src);
        if out != src {
            changed += 1;
        }
        for l in left {
            manual.push(format!("{name}:{l}"));
        }
    }
    let zoomcamp_flow = zoomcamp::postgres_taxi_flow("http://127.0.0.1:1", "jdbc:postgresql://x/y", "u", "p");
    let (out, left) = migrated("zoomcamp", &zoomcamp_flow);
    assert!(left.is_empty(), "{left:?}");
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

    std::fs::write(dir.join("bad.yaml"), "id: [\n").unwrap();
    let (code, _, err) = baton(&["migrate", "--check", dir.join("bad.yaml").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not valid YAML"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
