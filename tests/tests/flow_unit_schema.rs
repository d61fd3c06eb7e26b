//! `baton test --schema`: the JSON Schema of the test file format, printed
//! from the key registry that validates test files. Held by a real JSON
//! Schema validator (`jsonschema`) against what `baton test` itself
//! accepts and refuses: a valid file passes both (its deprecated operator
//! `equalsTo` included, marked `deprecated` in the schema); an assertion
//! with no operator and a misspelt task fixture key are refused by both,
//! `baton test` naming file:line:column. A literal `executionId` (a
//! dangling one) is refused before anything runs, at its position.

use std::process::Command;

use serde_json::Value;

use crate::sched_support::temp_dir;
use crate::support::baton_bin;

const FLOW: &str = "id: greet\nnamespace: company.team\ntasks:\n  - id: fetch\n    type: io.kestra.plugin.core.http.Request\n    uri: http://127.0.0.1:9/never\n  - id: greeting\n    type: io.kestra.plugin.core.debug.Return\n    format: \"Hello {{ outputs.fetch.body }}\"\n";

const VALID: &str = "id: greet_tests\nnamespace: company.team\nflowId: greet\ntestCases:\n  - id: greets\n    type: io.kestra.core.tests.flow.UnitTest\n    fixtures:\n      tasks:\n        - id: fetch\n          outputs:\n            body: you\n    assertions:\n      - value: \"{{ outputs.greeting.value }}\"\n        equalsTo: Hello you\n";

/// `baton test` over `dir` (or with `args`): exit code and output.
fn baton(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(baton_bin())
        .env("BATON_HOME", dir.join("home"))
        .env("NO_COLOR", "1")
        .arg("test")
        .args(args)
        .output()
        .expect("baton runs");
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.code(), text)
}

#[test]
fn the_printed_schema_refuses_what_baton_test_refuses() {
    let dir = temp_dir("baton-unit-schema");
    let (code, out) = baton(&dir, &["--schema"]);
    assert_eq!(code, Some(0), "{out}");
    let schema: Value = serde_json::from_str(&out).expect("the schema is JSON");
    assert_eq!(schema["definitions"]["Assertion"]["properties"]["equalsTo"]["deprecated"], Value::Bool(true));
    assert!(schema["definitions"]["Assertion"]["properties"]["equalTo"].get("deprecated").is_none());
    let validator = jsonschema::draft7::new(&schema).expect("the schema compiles");
    let run = |name: &str, test: &str| {
        let case = temp_dir(&format!("baton-unit-schema-{name}"));
        std::fs::write(case.join("greet.yaml"), FLOW).expect("flow");
        std::fs::write(case.join("greet_test.yaml"), test).expect("test");
        let doc: Value = shared::yaml::parse(test).expect("yaml").0;
        let schema_errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        let (code, out) = baton(&case, &[case.to_str().expect("utf-8")]);
        let _ = std::fs::remove_dir_all(&case);
        (schema_errors, code, out)
    };

    let (errors, code, out) = run("valid", VALID);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(code, Some(0), "{out}");

    // an assertion with no operator
    let (errors, code, out) =
        run("no-operator", &VALID.replace("        equalsTo: Hello you\n", "        taskId: greeting\n"));
    assert!(!errors.is_empty(), "the schema accepted an assertion with no operator");
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("greet_test.yaml:13:") && out.contains("testCases[0].assertions[0]: no assertion to run"),
        "{out}"
    );

    // a misspelt key of a task fixture
    let (errors, code, out) = run("misspelt", &VALID.replace("          outputs:", "          outptus:"));
    assert!(!errors.is_empty(), "the schema accepted 'outptus'");
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("greet_test.yaml:10:11: testCases[0].fixtures.tasks[0].outptus: unknown property 'outptus' of a task fixture (did you mean 'outputs'?)"),
        "{out}"
    );

    // a dangling executionId: a mocked task's literal one, and one as a key
    let (_, code, out) = run(
        "dangling",
        &VALID.replace("            body: you\n", "            body: you\n            executionId: 5oRLxNd3\n"),
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("greet_test.yaml:12:13: testCases[0].fixtures.tasks[0].outputs.executionId: fixture for task 'fetch': outputs.executionId '5oRLxNd3' is dangling"),
        "{out}"
    );
    let (errors, code, out) = run(
        "dangling-key",
        &VALID.replace("        equalsTo: Hello you\n", "        equalsTo: Hello you\n        executionId: 5oRLxNd3\n"),
    );
    assert!(!errors.is_empty(), "the schema accepted an assertion's executionId");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("greet_test.yaml:15:9: testCases[0].assertions[0].executionId: 'executionId' of an assertion points at no execution"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
