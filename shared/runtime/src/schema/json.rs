//! The catalogue as JSON, in Kestra's shapes: the JSON Schema (draft-07)
//! of a whole flow (`GET /api/v1/plugins/schemas/flow`, `baton plugins
//! --schema`), of a task or a trigger, one type's documentation
//! (`GET /api/v1/plugins/{cls}`) and the plugin groups (`GET /api/v1/plugins`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Described, Holds, Kind, Prop, common};
use crate::model::decl::DeclaredProps;
use crate::model::flow::{COMPAT_FLOW_KEYS, COMPAT_TASK_KEYS, Input, InputType, RETRY_KEYS};
use crate::plugins::PropKind;

pub const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// What a template looks like: a string the validator accepts for a
/// property of any kind (`crate::template::is_template`).
pub const TEMPLATE_PATTERN: &str = r"\{\{|\{%";

fn refs(catalog: &[Described], kind: Kind) -> Value {
    let any: Vec<Value> = catalog
        .iter()
        .filter(|d| d.kind == kind)
        .map(|d| json!({"$ref": format!("#/definitions/{}", d.type_name)}))
        .collect();
    json!({ "anyOf": any })
}

fn template() -> Value {
    json!({"type": "string", "pattern": TEMPLATE_PATTERN})
}

/// `schema` or a template string.
fn or_template(schema: Value) -> Value {
    json!({"anyOf": [schema, template()]})
}

/// `schema`, or a string the validator reads as it (`pattern`) or a template.
fn or_string(schema: Value, pattern: &str) -> Value {
    json!({"anyOf": [schema, {"type": "string", "pattern": format!("{pattern}|{TEMPLATE_PATTERN}")}]})
}

/// What the validator accepts for a kind (`validate::tasks::kind_ok`):
/// scalars for a string (Jackson coerces them), numeric strings for a
/// number, "true"/"false" for a boolean, a template for anything.
fn kind_schema(kind: PropKind) -> Value {
    match kind {
        PropKind::String => json!({"type": ["string", "number", "boolean"]}),
        PropKind::Integer => or_string(json!({"type": "integer"}), r"^\s*[-+]?[0-9]+\s*$"),
        PropKind::Number => or_string(json!({"type": "number"}), r"^\s*[-+]?[0-9.]+([eE][-+]?[0-9]+)?\s*$"),
        PropKind::Boolean => or_string(json!({"type": "boolean"}), "^(true|false)$"),
        PropKind::Duration => json!({"type": "string", "format": "duration"}),
        PropKind::List => or_template(json!({"type": "array"})),
        PropKind::Map => or_template(json!({"type": "object"})),
        PropKind::StringOrList => json!({"anyOf": [
            {"type": ["string", "number", "boolean"]},
            {"type": "array", "items": {"type": ["string", "number", "boolean"]}}
        ]}),
        PropKind::Any => json!({}),
    }
}

/// The JSON type name of a kind, for outputs.
fn kind_name(kind: PropKind) -> &'static str {
    match kind {
        PropKind::String | PropKind::Duration => "string",
        PropKind::Integer => "integer",
        PropKind::Number => "number",
        PropKind::Boolean => "boolean",
        PropKind::List => "array",
        PropKind::Map => "object",
        PropKind::StringOrList | PropKind::Any => "any",
    }
}

struct Refs {
    tasks: Value,
    conditions: Value,
    runners: Value,
}

/// A list of tasks (null reads as none, as the validator does).
fn tasks_array(r: &Refs) -> Value {
    json!({"type": ["array", "null"], "items": r.tasks})
}

fn prop_schema(p: &Prop, r: &Refs) -> Value {
    let mut s = match p.holds {
        Holds::Value if !p.values.is_empty() => {
            let one = json!({"type": "string", "enum": p.values});
            let s = if p.kind == PropKind::StringOrList {
                json!({"anyOf": [one.clone(), {"type": "array", "items": one}]})
            } else {
                one
            };
            if p.dynamic { json!({"anyOf": [s, template()]}) } else { s }
        }
        Holds::Value => kind_schema(p.kind),
        Holds::Tasks => tasks_array(r),
        Holds::TaskCases => json!({"type": ["object", "null"], "additionalProperties": tasks_array(r)}),
        Holds::DagTasks => json!({"type": "array", "items": {
            "type": "object",
            "properties": {"task": r.tasks, "dependsOn": {"type": "array", "items": {"type": "string"}}},
            "required": ["task"],
            "additionalProperties": false
        }}),
        Holds::Conditions => json!({"anyOf": [
            {"type": "array", "items": r.conditions},
            {"type": "object", "additionalProperties": r.conditions}
        ]}),
        Holds::ConditionMap => json!({"type": "object", "additionalProperties": r.conditions}),
        Holds::TaskRunner => r.runners.clone(),
    };
    annotate(&mut s, p.doc, p.default);
    s["$dynamic"] = json!(p.dynamic);
    s
}

/// A property's words and default on its schema.
fn annotate(s: &mut Value, doc: &str, default: Option<&str>) {
    let m = s.as_object_mut().expect("a schema is an object");
    if !doc.is_empty() {
        m.insert("title".into(), json!(doc));
        m.insert("description".into(), json!(doc));
    }
    if let Some(d) = default {
        m.insert("default".into(), serde_json::from_str(d).unwrap_or_else(|_| json!(d)));
    }
}

/// The markdown of one type: title, description, example, properties, outputs.
pub fn markdown(d: &Described) -> String {
    let mut md = format!("# {}\n\n{}\n\n", d.title, d.description);
    if !d.aliases.is_empty() {
        md.push_str(&format!("Also written: `{}`.\n\n", d.aliases.join("`, `")));
    }
    if !d.example.is_empty() {
        md.push_str(&format!("## Example\n\n```yaml\n{}\n```\n", d.example.trim_end()));
    }
    md
}

/// The definition of one type, as it sits in `definitions`.
fn definition(d: &Described, r: &Refs) -> Value {
    let mut props = Map::new();
    let mut names: Vec<&str> = vec![d.type_name];
    names.extend(d.aliases.iter().copied());
    for p in &d.props {
        let s = if p.name == "type" {
            let mut t = json!({"type": "string", "enum": names, "$dynamic": false});
            if !p.doc.is_empty() {
                t["title"] = json!(p.doc);
                t["description"] = json!(p.doc);
            }
            t
        } else if p.name == "retry" && d.kind == Kind::Task {
            // the common task key, read by the flow reader
            let mut s = retry_schema();
            s["title"] = json!(p.doc);
            s["description"] = json!(p.doc);
            s["$dynamic"] = json!(false);
            s
        } else {
            prop_schema(p, r)
        };
        props.insert(p.name.to_string(), s);
    }
    // pluginDefaults may give any property of a task or trigger: only
    // `id` and `type` must be written (the others are marked `$required`)
    let defaults_apply = matches!(d.kind, Kind::Task | Kind::Trigger);
    let required: Vec<&str> = d
        .props
        .iter()
        .filter(|p| p.required && (!defaults_apply || matches!(p.name, "id" | "type")))
        .map(|p| p.name)
        .collect();
    for p in d.props.iter().filter(|p| p.required) {
        props[p.name]["$required"] = json!(true);
    }
    // one of a group must be written: the preferred name is marked, and the
    // group says which other name also satisfies it
    for group in &d.one_of {
        if let Some(p) = props.get_mut(group[0]) {
            p["$required"] = json!(true);
            p["$requiredOneOf"] = json!(group);
        }
    }
    // keys a task accepts in one form only: read, never offered
    if d.kind == Kind::Task {
        for k in COMPAT_TASK_KEYS {
            if let Some(p) = props.get_mut(*k) {
                p["$compat"] = json!(true);
            }
        }
    }
    let outputs: Map<String, Value> = d
        .outputs
        .iter()
        .map(|o| (o.name.to_string(), json!({"type": kind_name(o.kind), "description": o.doc})))
        .collect();
    let mut def = json!({
        "type": "object",
        "title": d.title,
        "description": d.description,
        "markdownDescription": markdown(d),
        "$group": d.group,
        "$kind": d.kind.as_str(),
        "properties": props,
        "required": required,
        "additionalProperties": false,
        "$outputs": outputs,
    });
    if !d.example.is_empty() {
        def["$examples"] = json!([d.example]);
    }
    if d.deprecated {
        def["$deprecated"] = json!(true);
    }
    def
}

fn refs_of(catalog: &[Described]) -> Refs {
    Refs {
        tasks: refs(catalog, Kind::Task),
        conditions: refs(catalog, Kind::Condition),
        runners: refs(catalog, Kind::TaskRunner),
    }
}

fn definitions(catalog: &[Described], r: &Refs) -> Map<String, Value> {
    catalog.iter().map(|d| (d.type_name.to_string(), definition(d, r))).collect()
}

/// A `retry` block's schema, from the keys the flow reader knows
/// (`model::flow::RETRY_KEYS`); an older spelling is `$compat` (read,
/// never offered).
fn retry_schema() -> Value {
    let mut props = Map::new();
    for k in RETRY_KEYS {
        let mut s = if k.values.is_empty() { kind_schema(k.kind) } else { json!({"type": "string", "enum": k.values}) };
        annotate(&mut s, k.doc, None);
        if !k.offered {
            s["$compat"] = json!(true);
        }
        props.insert(k.name.into(), s);
    }
    json!({"type": "object", "properties": props, "required": ["type"]})
}

/// One input's schema, from its declaration (`model::flow::Input`): every
/// key an input may have, `type` and `itemType` with the input types, and
/// the older spellings the flow reader still reads.
fn input_schema() -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for p in <Input as DeclaredProps>::props() {
        let mut s = match p.name {
            "type" | "itemType" => json!({"type": "string", "enum": InputType::NAMES}),
            _ => kind_schema(p.kind),
        };
        annotate(&mut s, p.doc, p.default);
        if p.required {
            required.push(p.name);
        }
        props.insert(p.name.into(), s);
    }
    // Kestra's older spellings (`name` for `id`): read, never offered; a
    // required key is satisfied by either spelling
    let mut either = Vec::new();
    for (older, current) in Input::OLDER_SPELLINGS {
        if let Some(mut s) = props.get(current).cloned() {
            s["$compat"] = json!(true);
            props.insert(older.into(), s);
        }
        if let Some(i) = required.iter().position(|r| *r == current) {
            required.remove(i);
            props[current]["$required"] = json!(true); // marked in the editor's list
            either.push(json!({"anyOf": [{"required": [current]}, {"required": [older]}]}));
        }
    }
    let mut schema = json!({"type": "object", "properties": props, "required": required});
    if !either.is_empty() {
        schema["allOf"] = Value::Array(either);
    }
    schema
}

/// The schema of a flow-level key.
fn flow_key_schema(k: &common::FlowKey, r: &Refs, triggers: &Value) -> Value {
    let mut s = match (k.name, k.holds) {
        (_, Holds::Tasks) => tasks_array(r),
        ("triggers", _) => json!({"type": "array", "items": triggers}),
        ("labels", _) => json!({"anyOf": [
            {"type": "object"},
            {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "value": {}}}}
        ]}),
        ("inputs", _) => json!({"type": "array", "items": input_schema()}),
        ("retry", _) => retry_schema(),
        ("outputs", _) => json!({"type": "array", "items": {
            "type": "object", "properties": {"id": {"type": "string"}, "type": {"type": "string"}}
        }}),
        ("pluginDefaults" | "taskDefaults", _) => json!({"type": "array", "items": {
            "type": "object",
            "properties": {"type": {"type": "string"}, "forced": {"type": "boolean"}, "values": {"type": "object"}},
            "required": ["type"]
        }}),
        ("concurrency", _) => json!({"type": "object", "properties": {
            "limit": {"type": "integer"},
            "behavior": {"type": "string", "enum": ["QUEUE", "CANCEL", "FAIL"]}
        }}),
        ("deleted", _) => json!({"type": "boolean", "enum": [false]}),
        ("tenantId", _) => json!({"type": "string", "enum": ["main"]}),
        ("workerGroup", _) => json!({"type": "null"}),
        ("id", _) => json!({"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9._-]*$", "maxLength": 100}),
        ("namespace", _) => json!({"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]*$", "maxLength": 150}),
        _ => match k.kind {
            PropKind::String => json!({"type": "string"}),
            PropKind::Integer => json!({"type": "integer"}),
            PropKind::Boolean => json!({"type": "boolean"}),
            PropKind::List => json!({"type": "array"}),
            PropKind::Map => json!({"type": "object"}),
            other => kind_schema(other),
        },
    };
    s["title"] = json!(k.doc);
    s["description"] = json!(k.doc);
    if COMPAT_FLOW_KEYS.contains(&k.name) {
        s["$compat"] = json!(true);
    }
    s
}

/// What `{{ }}` may hold, for the editor's completion: the context's
/// variables (`executor::context::ROOTS`) and the renderer's functions
/// and filters (`template::Renderer::vocabulary`).
pub fn expressions() -> Value {
    let v = crate::template::Renderer::new().vocabulary();
    let roots: Vec<Value> = crate::executor::context::ROOTS
        .iter()
        .map(|r| json!({"name": r.name, "description": r.doc, "fields": r.fields}))
        .collect();
    json!({"roots": roots, "functions": v.functions, "filters": v.filters})
}

/// The JSON Schema of a whole flow.
pub fn flow_schema(catalog: &[Described]) -> Value {
    let r = refs_of(catalog);
    let triggers = refs(catalog, Kind::Trigger);
    let props: Map<String, Value> =
        common::FLOW.iter().map(|k| (k.name.to_string(), flow_key_schema(k, &r, &triggers))).collect();
    json!({
        "$schema": DRAFT_07,
        "$id": "https://baton.local/api/v1/plugins/schemas/flow",
        "title": "Kestra flow (Baton)",
        "type": "object",
        "properties": props,
        "required": ["id", "namespace", "tasks"],
        "additionalProperties": false,
        "definitions": definitions(catalog, &r),
        "$expressions": expressions(),
    })
}

/// The JSON Schema of one task, or one trigger (`kind`).
pub fn kind_schema_of(catalog: &[Described], kind: Kind) -> Value {
    let r = refs_of(catalog);
    let mut s = refs(catalog, kind);
    s["$schema"] = json!(DRAFT_07);
    s["definitions"] = Value::Object(definitions(catalog, &r));
    s
}

/// Kestra's answer for one type (`DocumentationWithSchema`):
/// `{markdown, schema: {properties, outputs, definitions}}`.
pub fn type_doc(catalog: &[Described], d: &Described) -> Value {
    let r = refs_of(catalog);
    let def = definition(d, &r);
    // Kestra's `PluginSchema`: property name → schema (a required one
    // marked `$required`), output name → schema
    let props = def["properties"].clone();
    json!({
        "markdown": markdown(d),
        "schema": {"properties": props, "outputs": def["$outputs"].clone(), "definitions": {}},
    })
}

/// Kestra's plugin list: one entry per group with its types by kind,
/// each as Kestra's `{cls, deprecated}`.
pub fn plugin_list(catalog: &[Described]) -> Value {
    let mut groups: BTreeMap<&str, [Vec<Value>; 4]> = BTreeMap::new();
    for d in catalog {
        let slot = match d.kind {
            Kind::Task => 0,
            Kind::Trigger => 1,
            Kind::Condition => 2,
            Kind::TaskRunner => 3,
        };
        groups.entry(d.group.as_str()).or_default()[slot].push(json!({"cls": d.type_name, "deprecated": d.deprecated}));
    }
    let list: Vec<Value> = groups
        .into_iter()
        .map(|(group, [tasks, triggers, conditions, runners])| {
            let name = group.rsplit('.').next().unwrap_or(group);
            json!({
                "name": name,
                "title": name,
                "group": group,
                "tasks": tasks,
                "triggers": triggers,
                "conditions": conditions,
                "taskRunners": runners,
            })
        })
        .collect();
    Value::Array(list)
}
