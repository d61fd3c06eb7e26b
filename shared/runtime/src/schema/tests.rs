//! The catalogue's own checks: every type described with a title,
//! description and an example that validates; docs that name only real
//! properties; every property the schema lists accepted by the validator
//! and an unknown one refused; the common and flow-level keys the same
//! as the model's.

use serde_json::{Map, Value, json};

use super::*;
use crate::plugins::{PropKind, Registry};
use crate::template::Renderer;
use crate::validate::{Diagnostic, validate_source};

fn cat() -> Vec<Described> {
    catalog(&Registry::builtin())
}

fn example_value(d: &Described) -> Map<String, Value> {
    let (v, _) =
        crate::yaml::parse(d.example).unwrap_or_else(|e| panic!("{}: example is not YAML: {e:?}", d.type_name));
    v.as_object().cloned().unwrap_or_else(|| panic!("{}: example is not a mapping", d.type_name))
}

fn log_task() -> Value {
    json!({"id": "hello", "type": "io.kestra.plugin.core.log.Log", "message": "hi"})
}

/// A flow holding `item` where a type of `kind` sits.
fn flow_with(kind: Kind, item: Value) -> Value {
    let mut flow = json!({"id": "example", "namespace": "baton.examples", "tasks": [log_task()]});
    match kind {
        Kind::Task => flow["tasks"] = json!([item]),
        Kind::Trigger => flow["triggers"] = json!([item]),
        Kind::Condition => {
            flow["triggers"] =
                json!([{"id": "upstream", "type": "io.kestra.plugin.core.trigger.Flow", "conditions": [item]}])
        }
        Kind::TaskRunner => {
            flow["tasks"] = json!([{"id": "run", "type": "io.kestra.plugin.scripts.shell.Commands",
                "commands": ["echo hi"], "taskRunner": item}])
        }
    }
    flow
}

fn validate(flow: &Value) -> Vec<Diagnostic> {
    let src = serde_json::to_string_pretty(flow).expect("json");
    validate_source("example.yaml", &src, &Registry::builtin(), &Renderer::new()).1
}

/// A value of the property's kind (one of its values when it lists them).
fn sample(p: &Prop) -> Value {
    if let Some(v) = p.values.first() {
        return json!(v);
    }
    match p.kind {
        PropKind::Integer | PropKind::Number => json!(1),
        PropKind::Boolean => json!(true),
        PropKind::Duration => json!("PT1M"),
        PropKind::List => json!([]),
        PropKind::Map => json!({}),
        PropKind::String | PropKind::StringOrList | PropKind::Any => json!("x"),
    }
}

#[test]
fn every_type_has_a_title_a_description_and_an_example() {
    let c = cat();
    let missing: Vec<&str> = c
        .iter()
        .filter(|d| d.title.is_empty() || d.description.is_empty() || d.example.is_empty())
        .map(|d| d.type_name)
        .collect();
    assert!(missing.is_empty(), "types without title, description or example: {missing:?}");
    for kind in [Kind::Task, Kind::Trigger, Kind::Condition, Kind::TaskRunner] {
        assert!(c.iter().any(|d| d.kind == kind), "no {kind:?}");
    }
}

#[test]
fn docs_name_only_types_and_properties_that_exist() {
    let c = cat();
    for doc in docs::all() {
        let d = c.iter().find(|d| d.type_name == doc.type_name);
        let d = d.unwrap_or_else(|| panic!("docs of '{}', which Baton does not implement", doc.type_name));
        for p in doc.props {
            assert!(
                d.prop(p.name).is_some(),
                "docs of {} name property '{}', which it does not have",
                d.type_name,
                p.name
            );
        }
        for o in doc.outputs {
            assert!(!o.doc.is_empty(), "{}: output {} has no words", d.type_name, o.name);
        }
    }
}

#[test]
fn every_example_validates() {
    let mut failures = Vec::new();
    for d in cat() {
        let item = Value::Object(example_value(&d));
        let diags = validate(&flow_with(d.kind, item));
        if !diags.is_empty() {
            failures.push(format!("{}: {:?}", d.type_name, diags.iter().map(|x| &x.message).collect::<Vec<_>>()));
        }
        let ty = example_value(&d).get("type").and_then(Value::as_str).map(str::to_string);
        assert!(ty.is_some_and(|t| d.answers_to(&t)), "{}: its example is of another type", d.type_name);
    }
    assert!(failures.is_empty(), "examples that do not validate:\n{}", failures.join("\n"));
}

#[test]
fn every_listed_property_is_accepted_and_an_unknown_one_refused() {
    let mut checked = 0;
    for d in cat() {
        let base = example_value(&d);
        for p in d.props.iter().filter(|p| p.holds == Holds::Value && !base.contains_key(p.name)) {
            let mut item = base.clone();
            item.insert(p.name.to_string(), sample(p));
            let diags = validate(&flow_with(d.kind, Value::Object(item)));
            let refused: Vec<&Diagnostic> = diags
                .iter()
                .filter(|x| x.message.contains(&format!("unknown property '{}'", p.name)))
                .filter(|x| x.path.ends_with(p.name))
                .collect();
            assert!(
                refused.is_empty(),
                "{}: the schema lists '{}' but validate refuses it: {refused:?}",
                d.type_name,
                p.name
            );
            checked += 1;
        }
        let mut item = base.clone();
        item.insert("notAProperty".into(), json!(1));
        let diags = validate(&flow_with(d.kind, Value::Object(item)));
        assert!(
            diags.iter().any(|x| x.message.contains("notAProperty")),
            "{}: an unknown property is not refused: {diags:#?}",
            d.type_name
        );
    }
    assert!(checked > 300, "only {checked} properties checked");
}

#[test]
fn common_and_flow_keys_are_the_models() {
    let names: Vec<&str> = common::TASK.iter().map(|p| p.name).collect();
    assert_eq!(names, crate::model::flow::TASK_COMMON_KEYS);
    let flow: Vec<&str> = common::FLOW.iter().map(|k| k.name).collect();
    assert_eq!(flow, crate::model::flow::FLOW_KEYS);
    for doc in common::TASK_DOCS {
        assert!(names.contains(&doc.name), "{}", doc.name);
    }
}

#[test]
fn the_flow_schema_is_shaped_as_the_contract_says() {
    let c = cat();
    let s = json::flow_schema(&c);
    assert_eq!(s["$schema"], json::DRAFT_07);
    assert_eq!(s["required"], json!(["id", "namespace", "tasks"]));
    assert_eq!(s["additionalProperties"], json!(false));
    let defs = s["definitions"].as_object().expect("definitions");
    assert_eq!(defs.len(), c.len());
    let log = &defs["io.kestra.plugin.core.log.Log"];
    assert_eq!(log["$kind"], "task");
    assert_eq!(log["$group"], "io.kestra.plugin.core");
    assert_eq!(log["additionalProperties"], json!(false));
    let names = log["properties"]["type"]["enum"].as_array().expect("type enum");
    assert!(names.contains(&json!("io.kestra.core.tasks.log.Log")), "{names:?}");
    // a dynamic enum also takes a template
    assert!(log["properties"]["level"]["anyOf"][0]["enum"].as_array().is_some_and(|v| v.contains(&json!("WARN"))));
    assert_eq!(log["properties"]["level"]["$dynamic"], json!(true));
    assert_eq!(log["properties"]["logLevel"]["enum"], json!(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]));
    assert_eq!(log["properties"]["logLevel"]["$dynamic"], json!(false));
    assert!(log["properties"]["timeout"]["format"] == "duration");
    assert!(log["markdownDescription"].as_str().is_some_and(|m| m.contains("```yaml")));
    let ret = &defs["io.kestra.plugin.core.debug.Return"];
    assert_eq!(ret["$outputs"]["value"]["type"], "string");
    let any = s["properties"]["tasks"]["items"]["anyOf"].as_array().expect("tasks anyOf");
    assert!(any.contains(&json!({"$ref": "#/definitions/io.kestra.plugin.core.flow.If"})));
    assert!(!any.contains(&json!({"$ref": "#/definitions/io.kestra.plugin.core.trigger.Schedule"})));
    let trig = s["properties"]["triggers"]["items"]["anyOf"].as_array().expect("triggers anyOf");
    assert_eq!(trig.len(), c.iter().filter(|d| d.kind == Kind::Trigger).count());
    let sched = &defs["io.kestra.plugin.core.trigger.Schedule"];
    let conds = &sched["properties"]["conditions"]["anyOf"][0]["items"]["anyOf"];
    assert!(
        conds
            .as_array()
            .is_some_and(|a| a.contains(&json!({"$ref": "#/definitions/io.kestra.plugin.core.condition.DayWeek"})))
    );
    let then = &defs["io.kestra.plugin.core.flow.If"]["properties"]["then"]["items"]["anyOf"];
    assert_eq!(then.as_array().map(Vec::len), Some(any.len()));
    assert_eq!(defs["io.kestra.plugin.core.flow.EachSequential"]["$deprecated"], json!(true));
    let shell = &defs["io.kestra.plugin.scripts.shell.Commands"]["properties"]["taskRunner"]["anyOf"];
    assert!(shell.as_array().is_some_and(|a| a.len() == 3));
}

/// The editor offers what the validator accepts: the keys read in one
/// form only are marked `$compat` (and refused in any other form), an
/// input's `type` lists exactly the types the reader takes, and
/// `$expressions` names the context's variables, functions and filters.
#[test]
fn the_schema_marks_compat_keys_and_lists_input_types_and_expressions() {
    let s = json::flow_schema(&cat());
    let flow_props = s["properties"].as_object().expect("properties");
    for (k, p) in flow_props {
        let compat = crate::model::flow::COMPAT_FLOW_KEYS.contains(&k.as_str());
        assert_eq!(p.get("$compat") == Some(&json!(true)), compat, "flow key {k}");
    }
    let log = &s["definitions"]["io.kestra.plugin.core.log.Log"]["properties"];
    assert_eq!(log["version"]["$compat"], json!(true));
    assert_eq!(log["workerGroup"]["$compat"], json!(true));
    assert!(log["message"].get("$compat").is_none());
    // each compat key in a form other than its one is refused
    let mut flow = json!({"id": "f", "namespace": "n", "deleted": true, "tenantId": "acme",
        "workerGroup": {"key": "gpu"}, "tasks": [log_task()]});
    flow["tasks"][0]["version"] = json!("1.2.0");
    flow["tasks"][0]["workerGroup"] = json!({"key": "gpu"});
    let said: Vec<String> = validate(&flow).into_iter().map(|d| d.message).collect();
    for bit in ["deleted", "tenant 'acme'", "flow-level workerGroup", "plugin version '1.2.0'", "Worker Group"] {
        assert!(said.iter().any(|m| m.contains(bit)), "{bit}: {said:#?}");
    }
    // input types: the schema's enum is what validates
    let types = s["properties"]["inputs"]["items"]["properties"]["type"]["enum"].as_array().expect("enum").clone();
    assert_eq!(types.len(), crate::model::flow::InputType::NAMES.len());
    for t in &types {
        let mut input = json!({"id": "i", "type": t, "required": false});
        if matches!(t.as_str(), Some("SELECT" | "MULTISELECT" | "ENUM")) {
            input["values"] = json!(["a"]);
        }
        if t.as_str() == Some("ARRAY") {
            input["itemType"] = json!("STRING");
        }
        let f = json!({"id": "f", "namespace": "n", "inputs": [input], "tasks": [log_task()]});
        let d = validate(&f);
        assert!(d.is_empty(), "{t}: {d:#?}");
    }
    let bad = json!({"id": "f", "namespace": "n", "inputs": [{"id": "i", "type": "STRNG"}], "tasks": [log_task()]});
    assert!(!validate(&bad).is_empty());
    // expressions
    let e = &s["$expressions"];
    let roots: Vec<&str> = e["roots"].as_array().expect("roots").iter().filter_map(|r| r["name"].as_str()).collect();
    for r in ["inputs", "outputs", "vars", "taskrun", "trigger", "execution", "flow", "labels", "parents", "task"] {
        assert!(roots.contains(&r), "{r}: {roots:?}");
    }
    let has = |k: &str, n: &str| e[k].as_array().is_some_and(|a| a.contains(&json!(n)));
    assert!(has("functions", "now") && has("functions", "kv") && has("filters", "date") && has("filters", "upper"));
}

#[test]
fn groups_and_one_type_in_kestras_shapes() {
    let c = cat();
    let list = json::plugin_list(&c);
    let core = list.as_array().and_then(|l| l.iter().find(|p| p["group"] == "io.kestra.plugin.core")).expect("core");
    let has =
        |k: &str, cls: &str| core[k].as_array().is_some_and(|t| t.contains(&json!({"cls": cls, "deprecated": false})));
    assert!(has("tasks", "io.kestra.plugin.core.log.Log"));
    assert!(has("triggers", "io.kestra.plugin.core.trigger.Schedule"));
    assert!(has("conditions", "io.kestra.plugin.core.condition.DayWeek"));
    assert!(has("taskRunners", "io.kestra.plugin.core.runner.Process"));
    let d = find(&c, "io.kestra.core.tasks.log.Log").expect("alias found");
    let doc = json::type_doc(&c, d);
    assert!(doc["markdown"].as_str().is_some_and(|m| m.starts_with("# ")));
    assert_eq!(doc["schema"]["properties"]["message"]["$required"], json!(true));
    assert!(doc["schema"]["properties"]["level"]["anyOf"].is_array());
    assert_eq!(group_of("io.kestra.plugin.jdbc.duckdb.Query"), "io.kestra.plugin.jdbc.duckdb");
    assert_eq!(group_of("io.kestra.plugin.gcp.gcs.Upload"), "io.kestra.plugin.gcp");
    assert_eq!(group_of("io.kestra.plugin.scripts.runner.docker.Docker"), "io.kestra.plugin.scripts");
}

#[test]
fn the_validator_reads_enum_values_and_task_runners_from_the_description() {
    let flow = flow_with(
        Kind::Task,
        json!({"id": "l", "type": "io.kestra.plugin.core.log.Log", "message": "m", "level": "LOUD"}),
    );
    let diags = validate(&flow);
    assert!(diags.iter().any(|d| d.message.contains("'LOUD' is not one of")), "{diags:#?}");
    let ok = flow_with(
        Kind::Task,
        json!({"id": "l", "type": "io.kestra.plugin.core.log.Log", "message": "m", "level": "warning"}),
    );
    assert!(validate(&ok).is_empty());
    let runner = flow_with(
        Kind::TaskRunner,
        json!({"type": "io.kestra.plugin.scripts.runner.docker.Docker", "pullPolicy": "SOMETIMES", "colour": "red"}),
    );
    let diags = validate(&runner);
    assert!(diags.iter().any(|d| d.message.contains("'SOMETIMES' is not one of")), "{diags:#?}");
    assert!(diags.iter().any(|d| d.message.contains("unknown property 'colour'")), "{diags:#?}");
    let typo = flow_with(Kind::TaskRunner, json!({"type": "io.kestra.plugin.scripts.runner.docker.Dockr"}));
    assert!(
        validate(&typo)
            .iter()
            .any(|d| d.message.contains("did you mean io.kestra.plugin.scripts.runner.docker.Docker"))
    );
}

/// The editor marks a property required from `$required`, which the
/// validator's own rule sets: ForEach's `values` (one of `values` and its
/// older name `value`) and Log's `message` are marked, `value` is not, and
/// every property marked on any type is one whose absence (with the rest
/// of its group) the validator refuses in that type's example.
#[test]
fn required_marks_are_the_validators_rule() {
    let c = cat();
    let s = json::flow_schema(&c);
    let each = &s["definitions"]["io.kestra.plugin.core.flow.ForEach"]["properties"];
    assert_eq!(each["values"]["$required"], json!(true));
    assert_eq!(each["values"]["$requiredOneOf"], json!(["values", "value"]));
    assert!(each["value"].get("$required").is_none());
    assert_eq!(s["definitions"]["io.kestra.plugin.core.log.Log"]["properties"]["message"]["$required"], json!(true));
    let mut checked = 0;
    for d in &c {
        let props = &s["definitions"][d.type_name]["properties"];
        let example = example_value(d);
        for p in &d.props {
            if matches!(p.name, "id" | "type") || props[p.name]["$required"] != json!(true) {
                continue;
            }
            let group: Vec<String> = match props[p.name]["$requiredOneOf"].as_array() {
                Some(g) => g.iter().filter_map(|n| n.as_str().map(String::from)).collect(),
                None => vec![p.name.to_string()],
            };
            if !group.iter().any(|n| example.contains_key(n)) {
                continue;
            }
            let mut item = example.clone();
            item.retain(|k, _| !group.contains(k));
            let said = validate(&flow_with(d.kind, Value::Object(item)));
            assert!(
                !said.is_empty(),
                "{} without {group:?} was accepted, yet the schema marks it required",
                d.type_name
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} required properties checked");
}
