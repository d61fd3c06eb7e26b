//! `baton test --record` and `--watch`, run by the `baton` binary:
//! recording the zoomcamp Postgres taxi flow against the test PostgreSQL
//! and a local copy of the release download, then running the recorded
//! test with the database and the download out of reach (it passes
//! offline); a case whose FILE inputs name a local file and a file of the
//! user's home, and whose flow downloads over HTTP from a local server,
//! recorded with every file inlined (the namespace file of the home it
//! read too, not the one it left unread), then run with the files, the
//! home and the server gone; and a watcher that re-runs a case as its test file
//! changes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use e2e::taxi::{self, Kind};
use e2e::{http, pg, zoomcamp};

use crate::sched_support::temp_dir;
use crate::support::baton_bin;

fn baton(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(baton_bin())
        .env("BATON_HOME", dir.join("home"))
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("baton runs");
    (o.status.code(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

const TAXI_TESTS: &str = r#"# the taxi flow's tests: the first case is recorded from a real run
id: taxi_recorded
namespace: zoomcamp
flowId: 02_postgres_taxi
testCases:
  # green, January 2019
  - id: green_january
    type: io.kestra.core.tests.flow.UnitTest
    fixtures:
      inputs:
        taxi: green
        year: "2019"
        month: "01"
    assertions:
      - value: "{{ outputs.green_copy_in_to_staging_table.rowCount }}"
        equalTo: 40
      - value: "{{ render(vars.data) }}"
        startsWith: "kestra://"
        endsWith: /green_tripdata_2019-01.csv
      - value: "{{ labels.file }}"
        equalTo: green_tripdata_2019-01.csv

  # kept as written
  - id: yellow_untouched
    type: io.kestra.core.tests.flow.UnitTest
    disabled: true
    assertions:
      - value: "{{ labels.taxi }}"
        equalTo: yellow
"#;

#[test]
fn a_recorded_taxi_case_passes_with_the_database_and_the_download_out_of_reach() {
    let dir = temp_dir("baton-unit-record");
    let served = dir.join("served");
    taxi::write_csv_gz(Kind::Green, 2019, 1, 40, &zoomcamp::asset_path(&served, Kind::Green, 2019, 1)).expect("csv");
    let base = http::serve_dir(&served);
    let db = pg::shared().create_database("record");
    let flow = dir.join("postgres_taxi.yaml");
    std::fs::write(&flow, zoomcamp::postgres_taxi_flow(&base, &pg::shared().jdbc_url(&db), pg::USER, pg::PASSWORD))
        .expect("flow");
    std::fs::create_dir_all(dir.join("tests")).expect("tests dir");
    let test = dir.join("tests/postgres_taxi.test.yaml");
    std::fs::write(&test, TAXI_TESTS).expect("tests");
    let test_s = test.to_str().expect("utf-8");

    let started = Instant::now();
    let (code, out) = baton(&dir, &["test", "--record", "green_january", test_s]);
    assert_eq!(code, Some(0), "{out}");
    eprintln!("recording took {} ms", started.elapsed().as_millis());
    assert!(out.contains("recorded extract: Success"), "{out}");
    assert!(out.contains("recorded green_copy_in_to_staging_table: Success, outputs rowCount"), "{out}");
    assert!(out.contains("captured file green_tripdata_2019-01.csv ("), "{out}");
    assert!(out.contains("not recorded (no outside effect): set_label"), "{out}");
    assert_eq!(pg::shared().count(&db, "SELECT count(*) FROM green_tripdata"), 40, "the recording ran for real");
    let written = std::fs::read_to_string(&test).expect("test file");
    assert!(written.starts_with("# the taxi flow's tests: the first case is recorded from a real run\n"), "{written}");
    assert!(written.contains("  # kept as written\n  - id: yellow_untouched\n    type: io.kestra.core.tests.flow.UnitTest\n    disabled: true\n"), "{written}");
    assert!(written.contains("        - id: green_copy_in_to_staging_table\n"), "{written}");
    assert!(written.contains("            rowCount: 40\n"), "{written}");
    assert!(written.contains("green_tripdata_2019-01.csv: \"{{ files['green_tripdata_2019-01.csv'] }}\""), "{written}");
    assert!(
        written.contains("        green_tripdata_2019-01.csv: |\n          VendorID,lpep_pickup_datetime"),
        "{written}"
    );
    assert!(!written.contains("id: purge_files"), "only the tasks that reach outside are recorded:\n{written}");

    // the download and the database out of reach: the test still passes
    std::fs::write(
        &flow,
        zoomcamp::postgres_taxi_flow("http://127.0.0.1:9", "jdbc:postgresql://127.0.0.1:9/nowhere", "nobody", "wrong"),
    )
    .expect("flow");
    let started = Instant::now();
    let (code, out) = baton(&dir, &["test", dir.join("tests").to_str().expect("utf-8"), "--strict"]);
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("PASSED  zoomcamp.02_postgres_taxi › taxi_recorded › green_january"), "{out}");
    assert!(out.contains("2 case(s): 1 passed, 0 failed, 1 skipped"), "{out}");
    eprintln!("the recorded case ran offline in {} ms", took.as_millis());

    // without the fixtures the same flow fails: the test was hermetic, not lucky
    std::fs::write(&test, TAXI_TESTS).expect("tests");
    let (code, out) = baton(&dir, &["test", dir.join("tests").to_str().expect("utf-8"), "--timeout", "30"]);
    assert_eq!(code, Some(1), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn recording_a_case_no_test_file_has_is_an_error() {
    let dir = temp_dir("baton-unit-record-none");
    std::fs::write(dir.join("t.test.yaml"), TAXI_TESTS).expect("tests");
    let (code, out) = baton(&dir, &["test", "--record", "nope", dir.to_str().expect("utf-8")]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no test file under"), "{out}");
    assert!(out.contains("has a case 'nope'"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn report_flow(base: &str) -> String {
    format!(
        "id: report\nnamespace: company.team\ninputs:\n  - id: data\n    type: FILE\n  - id: lookup\n    type: FILE\ntasks:\n  - id: download\n    type: io.kestra.plugin.core.http.Download\n    uri: {base}/prices.csv\n  - id: combine\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ read(inputs.data) | trim }}}}+{{{{ read(inputs.lookup) | trim }}}}+{{{{ read(outputs.download.uri) | trim }}}}+{{{{ read('notes/n.txt') | trim }}}}\"\n"
    )
}

fn report_test(data: &Path) -> String {
    format!(
        "id: report_tests\nnamespace: company.team\nflowId: report\ntestCases:\n  - id: combines\n    type: io.kestra.core.tests.flow.UnitTest\n    fixtures:\n      inputs:\n        data: {}\n        lookup: kestra:///company/team/lookup.txt\n    assertions:\n      - value: \"{{{{ outputs.combine.value }}}}\"\n        equalTo: local+home+served+note\n",
        data.display()
    )
}

#[test]
fn a_recorded_case_inlines_the_files_it_read_and_runs_with_them_and_the_server_gone() {
    let dir = temp_dir("baton-unit-record-files");
    let served = dir.join("served");
    std::fs::create_dir_all(&served).expect("served");
    std::fs::write(served.join("prices.csv"), "served\n").expect("served file");
    let base = http::serve_dir(&served);
    std::fs::write(dir.join("report.yaml"), report_flow(&base)).expect("flow");
    let data = dir.join("data.txt");
    std::fs::write(&data, "local\n").expect("local file");
    let in_home = dir.join("home/storage/company/team/lookup.txt");
    std::fs::create_dir_all(in_home.parent().expect("parent")).expect("home storage");
    std::fs::write(&in_home, "home\n").expect("home file");
    // namespace files of the home: one the flow reads, one it does not
    let ns_files = dir.join("home/storage/company/team/_files");
    std::fs::create_dir_all(ns_files.join("notes")).expect("namespace files");
    std::fs::write(ns_files.join("notes/n.txt"), "note\n").expect("namespace file");
    std::fs::write(ns_files.join("unread.txt"), "unread\n").expect("namespace file");
    let test = dir.join("report.test.yaml");
    std::fs::write(&test, report_test(&data)).expect("test");
    let test_s = test.to_str().expect("utf-8");

    let (code, out) = baton(&dir, &["test", "--record", "combines", test_s]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("inlined input data as file data.txt (6 bytes)"), "{out}");
    assert!(out.contains("inlined input lookup as file lookup.txt (5 bytes)"), "{out}");
    assert!(out.contains("recorded download: Success"), "{out}");
    assert!(out.contains("captured file "), "{out}");
    assert!(out.contains("captured namespace file notes/n.txt (5 bytes)"), "{out}");
    let written = std::fs::read_to_string(&test).expect("test file");
    assert!(written.contains("data: \"{{ files['data.txt'] }}\""), "{written}");
    assert!(written.contains("lookup: \"{{ files['lookup.txt'] }}\""), "{written}");
    assert!(!written.contains(&data.display().to_string()), "the local path is gone:\n{written}");
    assert!(!written.contains("kestra:///company/team/lookup.txt"), "the home's URI is gone:\n{written}");
    assert!(written.contains("namespaceFiles:") && written.contains("notes/n.txt"), "{written}");
    assert!(!written.contains("unread.txt"), "a namespace file the run did not read is left out:\n{written}");

    // the local file, the home's file and the server's file gone, the flow pointing nowhere
    std::fs::remove_file(&data).expect("rm");
    std::fs::remove_dir_all(dir.join("home")).expect("rm home");
    std::fs::remove_file(served.join("prices.csv")).expect("rm served");
    std::fs::write(dir.join("report.yaml"), report_flow("http://127.0.0.1:9")).expect("flow");
    let started = Instant::now();
    let (code, out) = baton(&dir, &["test", test_s, "--strict"]);
    assert_eq!(code, Some(0), "{written}\n{out}");
    assert!(out.contains("PASSED  company.team.report › report_tests › combines"), "{out}");
    eprintln!("the recorded case ran hermetically in {} ms", started.elapsed().as_millis());

    // a file past the bound: the recording stops, naming it
    let big = dir.join("big.txt");
    std::fs::write(&big, "x".repeat(1024 * 1024 + 1)).expect("big file");
    std::fs::write(&test, report_test(&big)).expect("test");
    let (code, out) = baton(&dir, &["test", "--record", "combines", test_s]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("input 'data':") && out.contains("(MAX_RECORDED_FILE)"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

const FLOW: &str = "id: hello\nnamespace: company.team\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.debug.Return\n    format: hello\n";

fn watched_test(expected: &str) -> String {
    format!(
        "id: hello_tests\nnamespace: company.team\nflowId: hello\ntestCases:\n  - id: says_hello\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: \"{{{{ outputs.say.value }}}}\"\n        equalTo: {expected}\n"
    )
}

/// Reads lines from `rx` until one contains `what`; all lines read.
fn wait_for(rx: &mpsc::Receiver<String>, what: &str, seen: &mut String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(what) {
                return;
            }
        }
    }
    panic!("no line with {what:?} within 60 s:\n{seen}");
}

#[test]
fn watch_reruns_a_case_when_its_test_or_flow_changes_and_ctrl_c_exits_0() {
    let dir = temp_dir("baton-unit-watch");
    std::fs::write(dir.join("hello.yaml"), FLOW).expect("flow");
    let test = dir.join("hello.test.yaml");
    std::fs::write(&test, watched_test("hello")).expect("test");
    let mut child = Command::new(baton_bin())
        .env("BATON_HOME", dir.join("home"))
        .env("NO_COLOR", "1")
        .args(["test", "--watch", dir.to_str().expect("utf-8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("baton starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    wait_for(&rx, "1 case(s): 1 passed, 0 failed", &mut seen);
    wait_for(&rx, "watching", &mut seen);

    // the test now expects something else: the case fails
    std::fs::write(&test, watched_test("goodbye")).expect("test");
    wait_for(&rx, "hello.test.yaml changed: re-running", &mut seen);
    wait_for(&rx, "1 case(s): 0 passed, 1 failed", &mut seen);
    // the flow changes to match: the case passes again
    std::fs::write(dir.join("hello.yaml"), FLOW.replace("format: hello", "format: goodbye")).expect("flow");
    wait_for(&rx, "hello.yaml changed: re-running", &mut seen);
    wait_for(&rx, "1 case(s): 1 passed, 0 failed", &mut seen);

    // Ctrl-C ends it with 0
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("--watch did not stop on SIGINT:\n{seen}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0), "{seen}");
    let _ = std::fs::remove_dir_all(&dir);
}
