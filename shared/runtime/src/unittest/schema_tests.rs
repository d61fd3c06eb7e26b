//! The test file's JSON Schema against a real JSON Schema validator
//! (`jsonschema`, as the flow schema's conformance tests): every example
//! test file (`examples/tests/`) validates, as the parser reads it; an
//! unknown key at any level, a case with no assertion operator and an
//! unknown case type are refused by the schema as by the parser; every
//! declared key and operator is in the schema.

use std::path::Path;

use serde_json::{Value, json};

use super::super::keys::SUITE;
use super::super::model::Operator;
use super::super::parse_source;
use super::test_schema;

fn validator() -> jsonschema::Validator {
    jsonschema::draft7::new(&test_schema()).expect("the test schema compiles")
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).take(5).collect()
}

const VALID: &str = "id: s\nnamespace: company.team\nflowId: f\ntestCases:\n  - id: c\n    type: io.kestra.core.tests.flow.UnitTest\n    fixtures:\n      inputs: {n: 1}\n      files: {a.txt: x}\n      tasks:\n        - id: t\n          state: FAILED\n          outputs: {value: 1}\n      trigger: {id: s, type: io.kestra.plugin.core.trigger.Schedule, variables: {date: x}}\n    assertions:\n      - value: \"{{ outputs.t.value }}\"\n        taskId: t\n        equalTo: 1\n        in: [1, 2]\n        isNull: false\n";

#[test]
fn every_example_test_file_validates_against_the_schema() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tests");
    let v = validator();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            continue;
        }
        let src = std::fs::read_to_string(&path).expect("read");
        let name = path.display().to_string();
        let (suite, diags) = parse_source(&name, &src);
        assert!(suite.is_some() && diags.is_empty(), "{name}: {diags:?}");
        let (doc, _) = crate::yaml::parse(&src).expect("yaml");
        let errs = errors(&v, &doc);
        assert!(errs.is_empty(), "{name} fails the schema: {errs:?}");
        n += 1;
    }
    assert!(n >= 6, "only {n} example test files");
}

#[test]
fn unknown_keys_and_missing_operators_are_refused_as_the_parser_refuses_them() {
    let v = validator();
    let (good, _) = crate::yaml::parse(VALID).expect("yaml");
    assert!(parse_source("t.yaml", VALID).1.is_empty());
    assert_eq!(errors(&v, &good), Vec::<String>::new());
    let case = "/testCases/0";
    for at in ["", case, "/testCases/0/fixtures", "/testCases/0/fixtures/tasks/0", "/testCases/0/fixtures/trigger"]
        .into_iter()
        .chain(["/testCases/0/assertions/0"])
    {
        let mut bad = good.clone();
        bad.pointer_mut(at).expect("pointer")["notAKey"] = json!(1);
        assert!(!v.is_valid(&bad), "the schema accepts an unknown key at '{at}'");
        let yaml = bad.to_string(); // JSON is YAML
        assert!(
            parse_source("t.yaml", &yaml).1.iter().any(|d| d.message.contains("unknown property 'notAKey'")),
            "the parser accepts an unknown key at '{at}'"
        );
    }
    let mut no_op = good.clone();
    let a = no_op.pointer_mut("/testCases/0/assertions/0").expect("assertion");
    for o in ["equalTo", "in", "isNull"] {
        a.as_object_mut().expect("map").remove(o);
    }
    assert!(!v.is_valid(&no_op), "the schema accepts an assertion without an operator");
    let mut typed = good.clone();
    typed["testCases"][0]["type"] = json!("io.kestra.core.tests.flow.Other");
    assert!(!v.is_valid(&typed), "the schema accepts an unknown case type");
    let mut state = good;
    state["testCases"][0]["fixtures"]["tasks"][0]["state"] = json!("RUNNING");
    assert!(!v.is_valid(&state), "the schema accepts a state a mock cannot end in");
}

#[test]
fn every_declared_key_and_operator_is_in_the_schema() {
    let s = test_schema();
    for shape in SUITE.all() {
        let def = if std::ptr::eq(shape, &SUITE) { &s } else { &s["definitions"][shape.name] };
        for name in shape.names() {
            assert!(def["properties"].get(name).is_some(), "{}.{name} is not in the schema", shape.name);
        }
        for k in shape.keys.iter().filter(|k| k.required) {
            assert!(def["required"].as_array().is_some_and(|r| r.contains(&json!(k.name))), "{}", k.name);
        }
    }
    let ops = &s["definitions"]["Assertion"]["properties"];
    for o in Operator::ALL {
        assert_eq!(ops[o.key()]["description"], json!(o.doc()), "{o}");
    }
}
