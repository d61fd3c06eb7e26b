//! `baton test`: flow unit tests in Kestra's format, run by the `baton`
//! binary. A passing case, a deliberately broken flow whose case fails
//! naming the assertion, the expected and the actual value and the task
//! run; the errors found before anything runs (a fixture for a task the
//! flow lacks, an assertion on an unknown task, an invalid test file);
//! the JUnit report; the zoomcamp taxi example's test, offline; every
//! example flow's test (`baton test examples/tests`, the flows found in the
//! folder above); and 100 cases in parallel, timed.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use crate::sched_support::temp_dir;
use crate::support::baton_bin;

fn baton_test(dir: &Path, args: &[&str]) -> Output {
    Command::new(baton_bin())
        .env("BATON_HOME", dir.join("home"))
        .env("NO_COLOR", "1")
        .arg("test")
        .args(args)
        .output()
        .expect("baton runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

const FLOW: &str = r#"id: greet
namespace: company.team
inputs:
  - id: name
    type: STRING
tasks:
  - id: fetch
    type: io.kestra.plugin.core.http.Request
    uri: http://127.0.0.1:9/never-called
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: notify
        type: io.kestra.plugin.core.http.Request
        uri: http://127.0.0.1:9/never-called-either
  - id: greeting
    type: io.kestra.plugin.core.debug.Return
    format: "Hello {{ inputs.name }} {{ outputs.fetch.body }}"
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "said {{ outputs.greeting.value }}"
"#;

const TESTS: &str = r#"id: greet_tests
namespace: company.team
flowId: greet
testCases:
  - id: greets_with_the_mocked_body
    type: io.kestra.core.tests.flow.UnitTest
    description: the HTTP calls are mocked, the nested one included
    fixtures:
      inputs:
        name: Kestra
      tasks:
        - id: fetch
          outputs:
            body: from-fixture
            code: 200
        - id: notify
    assertions:
      - value: "{{ outputs.greeting.value }}"
        equalTo: Hello Kestra from-fixture
      - value: "{{ outputs.fetch.code }}"
        equalTo: 200
        lessThan: 300
      - value: "{{ test.taskRunCount.notify }}"
        equalTo: 2
      - value: "{{ test.taskLogs.log }}"
        contains: said Hello Kestra
  - id: expects_another_greeting
    type: io.kestra.core.tests.flow.UnitTest
    fixtures:
      inputs:
        name: Kestra
      tasks:
        - id: fetch
          outputs:
            body: from-fixture
        - id: notify
    assertions:
      - value: "{{ outputs.greeting.value }}"
        description: the greeting names the user
        equalTo: Hello Kestra from-fixture
"#;

#[test]
fn a_passing_case_and_a_broken_flows_failing_case_with_the_expected_and_actual_value() {
    let dir = temp_dir("baton-unit-tests");
    std::fs::write(dir.join("greet.yaml"), FLOW).expect("flow");
    std::fs::write(dir.join("greet_test.yaml"), TESTS).expect("tests");
    let junit = dir.join("junit.xml");
    let o = baton_test(&dir, &[dir.to_str().expect("utf-8"), "--junit", junit.to_str().expect("utf-8")]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("PASSED  company.team.greet › greet_tests › greets_with_the_mocked_body"), "{out}");
    assert!(out.contains("2 case(s): 2 passed, 0 failed, 0 skipped"), "{out}");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(xml.contains("<testsuite name=\"company.team.greet.greet_tests\" tests=\"2\" failures=\"0\""), "{xml}");

    // the flow is broken: its greeting changes; the test says what it expected
    std::fs::write(dir.join("greet.yaml"), FLOW.replace("Hello {{", "Bye {{")).expect("flow");
    let o = baton_test(&dir, &[dir.to_str().expect("utf-8"), "--junit", junit.to_str().expect("utf-8")]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("FAILED  company.team.greet › greet_tests › expects_another_greeting"), "{out}");
    assert!(
        out.contains(
            "✗ equalTo (the greeting names the user): expected '{{ outputs.greeting.value }}' to equal 'Hello Kestra from-fixture' but was 'Bye Kestra from-fixture'"
        ),
        "{out}"
    );
    assert!(out.contains("expected:  Hello Kestra from-fixture"), "{out}");
    assert!(out.contains("actual:    Bye Kestra from-fixture"), "{out}");
    assert!(out.contains("from:      task 'greeting' (task run "), "{out}");
    assert!(out.contains("2 case(s): 0 passed, 2 failed"), "{out}");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(xml.contains("failures=\"2\""), "{xml}");
    assert!(
        xml.contains("<failure message=\"equalTo: expected &apos;{{ outputs.greeting.value }}&apos; to equal"),
        "{xml}"
    );
    // the test executions never reach the user's home
    assert!(!dir.join("home").exists(), "baton test wrote into BATON_HOME");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fixtures_and_assertions_on_unknown_tasks_and_invalid_files_are_errors_before_running() {
    let dir = temp_dir("baton-unit-tests-bad");
    std::fs::write(dir.join("greet.yaml"), FLOW).expect("flow");
    let bad = TESTS.replacen("        - id: notify\n", "        - id: notfiy\n", 1).replacen(
        "      - value: \"{{ outputs.fetch.code }}\"",
        "      - value: \"{{ outputs.fetch.code }}\"\n        taskId: ghost",
        1,
    );
    std::fs::write(dir.join("greet_test.yaml"), bad).expect("tests");
    std::fs::write(
        dir.join("other_test.yaml"),
        "id: t\nnamespace: company.team\nflowId: greet\ntestCases:\n  - id: c\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: x\n        equalTo: x\n        shouldBe: y\n",
    )
    .expect("tests");
    std::fs::write(
        dir.join("missing_test.yaml"),
        "id: t\nnamespace: company.team\nflowId: nowhere\ntestCases:\n  - id: c\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: x\n        equalTo: x\n",
    )
    .expect("tests");
    let o = baton_test(&dir, &[dir.to_str().expect("utf-8")]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("greet_test.yaml:16:11: testCases[0].fixtures.tasks[1].id: fixture for task 'notfiy': flow company.team.greet has no such task"),
        "{out}"
    );
    assert!(out.contains("taskId: assertion on task 'ghost': flow company.team.greet has no such task"), "{out}");
    assert!(
        out.contains(
            "other_test.yaml:10:9: testCases[0].assertions[0].shouldBe: unknown property 'shouldBe' of an assertion"
        ),
        "{out}"
    );
    assert!(out.contains("flow company.team.nowhere not found"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_zoomcamp_postgres_taxi_test_runs_offline_in_under_a_second() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = temp_dir("baton-unit-tests-taxi");
    let test = root.join("examples/tests/postgres_taxi.test.yaml");
    // the flow is found in the folder above the test (no --flows: that
    // would run every example's test, strictly)
    let start = Instant::now();
    let o = baton_test(&dir, &[test.to_str().expect("utf-8"), "--strict"]);
    let took = start.elapsed();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("2 case(s): 2 passed, 0 failed"), "{out}");
    eprintln!("the taxi flow's 2 cases took {} ms", took.as_millis());
    assert!(took.as_secs_f64() < 5.0, "the taxi test took {took:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_example_flow_has_a_test_and_all_pass_offline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = temp_dir("baton-unit-tests-examples");
    let tests = root.join("examples/tests");
    // no --flows: the flows are found in the folder above the tests
    let start = Instant::now();
    let o = baton_test(&dir, &[tests.to_str().expect("utf-8")]);
    let took = start.elapsed();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(!out.contains("FAILED") && !out.contains('✗'), "{out}");
    let mut flows = 0;
    for f in std::fs::read_dir(root.join("examples")).expect("examples") {
        let path = f.expect("entry").path();
        if path.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        let src = std::fs::read_to_string(&path).expect("example");
        let (doc, _) = shared::yaml::parse(&src).expect("yaml");
        let (ns, id) = (doc["namespace"].as_str().expect("namespace"), doc["id"].as_str().expect("id"));
        assert!(out.contains(&format!("PASSED  {ns}.{id} › ")), "{} has no passing test case:\n{out}", path.display());
        flows += 1;
    }
    assert!(flows >= 6, "{flows} example flows");
    let summary = out.lines().find(|l| l.contains(" case(s): ")).unwrap_or_default();
    let cases: usize = summary.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(cases >= 14 && summary.contains(&format!("{cases} passed, 0 failed")), "{summary}");
    eprintln!("{cases} example cases took {} ms", took.as_millis());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_hundred_cases_run_in_parallel() {
    let dir = temp_dir("baton-unit-tests-many");
    std::fs::write(dir.join("greet.yaml"), FLOW).expect("flow");
    let mut tests = String::from("id: many\nnamespace: company.team\nflowId: greet\ntestCases:\n");
    for i in 0..100 {
        tests.push_str(&format!(
            "  - id: case_{i}\n    type: io.kestra.core.tests.flow.UnitTest\n    fixtures:\n      inputs:\n        name: user{i}\n      tasks:\n        - id: fetch\n          outputs:\n            body: b{i}\n        - id: notify\n    assertions:\n      - value: \"{{{{ outputs.greeting.value }}}}\"\n        equalTo: Hello user{i} b{i}\n"
        ));
    }
    std::fs::write(dir.join("many_test.yaml"), tests).expect("tests");
    let start = Instant::now();
    let o = baton_test(&dir, &[dir.to_str().expect("utf-8"), "--jobs", "32"]);
    let took = start.elapsed();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("100 case(s): 100 passed, 0 failed"), "{out}");
    eprintln!("100 cases took {} ms", took.as_millis());
    assert!(took.as_secs_f64() < 10.0, "100 cases took {took:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
