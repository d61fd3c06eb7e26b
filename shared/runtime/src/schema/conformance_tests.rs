//! The generated JSON Schema against a real JSON Schema validator
//! (`jsonschema`, tests only): every Kestra corpus flow and every seed flow
//! (`examples/`, `tests/fixtures/flows`) that `baton validate` accepts
//! validates against it; each type's example does, and an unknown
//! property is refused by the schema as by the validator.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{Kind, catalog, json as schema_json};
use crate::plugins::Registry;
use crate::template::Renderer;
use crate::validate::{collect_yaml, validate_source};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/kestra-corpus/valids");

fn validator() -> jsonschema::Validator {
    let schema = schema_json::flow_schema(&catalog(&Registry::builtin()));
    jsonschema::draft7::new(&schema).expect("the flow schema compiles")
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).take(5).collect()
}

/// Each flow file under `dirs` that `baton validate` accepts, checked
/// against the schema: (accepted, failures).
fn check_dirs(dirs: &[PathBuf]) -> (usize, Vec<String>) {
    let v = validator();
    let registry = Registry::builtin();
    let renderer = Renderer::new();
    let mut files = Vec::new();
    for d in dirs {
        collect_yaml(d, &mut files).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
    }
    let (mut accepted, mut failures) = (0, Vec::new());
    for f in files {
        let Ok(src) = std::fs::read_to_string(&f) else { continue };
        let (flow, diags) = validate_source(&f.display().to_string(), &src, &registry, &renderer);
        if flow.is_none() || !diags.is_empty() {
            continue;
        }
        accepted += 1;
        let (value, _) = crate::yaml::parse(&src).expect("validated YAML parses");
        let errs = errors(&v, &value);
        if !errs.is_empty() {
            failures.push(format!("{}: {}", f.display(), errs.join("; ")));
        }
    }
    (accepted, failures)
}

#[test]
fn every_corpus_flow_baton_accepts_validates_against_the_schema() {
    assert!(Path::new(CORPUS).is_dir(), "{CORPUS} is missing");
    let (accepted, failures) = check_dirs(&[PathBuf::from(CORPUS)]);
    assert!(accepted >= 150, "only {accepted} corpus flows validate with baton");
    assert!(failures.is_empty(), "{} of {accepted} fail the schema:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_seed_flow_validates_against_the_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (accepted, failures) = check_dirs(&[root.join("examples"), root.join("tests/fixtures/flows")]);
    assert!(accepted >= 7, "only {accepted} seed flows validate with baton");
    assert!(failures.is_empty(), "{} of {accepted} fail the schema:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn examples_validate_against_the_schema_and_unknown_properties_do_not() {
    let c = catalog(&Registry::builtin());
    let v = validator();
    for d in &c {
        let (example, _) = crate::yaml::parse(d.example).expect("example parses");
        let mut flow = json!({"id": "example", "namespace": "baton.examples",
            "tasks": [{"id": "hello", "type": "io.kestra.plugin.core.log.Log", "message": "hi"}]});
        let place = |flow: &mut Value, item: Value| match d.kind {
            Kind::Task => flow["tasks"] = json!([item]),
            Kind::Trigger => flow["triggers"] = json!([item]),
            Kind::Condition => {
                flow["triggers"] =
                    json!([{"id": "up", "type": "io.kestra.plugin.core.trigger.Flow", "conditions": [item]}])
            }
            Kind::TaskRunner => {
                flow["tasks"] = json!([{"id": "run", "type": "io.kestra.plugin.scripts.shell.Commands",
                    "commands": ["echo hi"], "taskRunner": item}])
            }
        };
        place(&mut flow, example.clone());
        let errs = errors(&v, &flow);
        assert!(errs.is_empty(), "{}: its example fails the schema: {errs:?}", d.type_name);
        let mut bad = example.clone();
        bad["notAProperty"] = json!(1);
        place(&mut flow, bad);
        assert!(!v.is_valid(&flow), "{}: the schema accepts an unknown property", d.type_name);
    }
}
