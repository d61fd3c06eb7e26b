//! Unit tests for the validator, with a fake registry of core plugins, and
//! the fixture flows under `tests/fixtures/flows/{valid,invalid}`.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::*;
use crate::plugins::{PluginDef, PropDecl, PropKind as K, PropSpec as P, RunnableTask, TaskError, TypeDecl};

fn fake_build(_: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Err(TaskError::failed("fake plugin"))
}

fn def(type_name: &'static str, aliases: &'static [&'static str], props: &'static [P]) -> PluginDef {
    // a declaration with nothing but the properties' shapes (leaked: tests only)
    let decl = TypeDecl {
        type_name,
        aliases,
        group: "core",
        title: "",
        description: "",
        example: "",
        outputs: vec![],
        props: props
            .iter()
            .map(|p| PropDecl {
                name: p.name,
                kind: p.kind,
                required: p.required,
                doc: "",
                default: None,
                values: &[],
                dynamic: None,
                unrendered: false,
                check: None,
                children: false,
            })
            .collect(),
    };
    PluginDef {
        type_name,
        aliases,
        group: "core",
        props,
        build: fake_build,
        decl: Box::leak(Box::new(decl)),
        parsed: None,
    }
}

const LOG: &[P] = &[P::required("message", K::StringOrList), P::optional("level", K::String)];
const RETURN: &[P] = &[P::optional("format", K::String)];
const OUTPUT_VALUES: &[P] = &[P::optional("values", K::Map)];
const LABELS: &[P] = &[P::required("labels", K::Any)];
const FAIL: &[P] = &[P::optional("condition", K::String), P::optional("errorMessage", K::String)];
const SLEEP: &[P] = &[P::required("duration", K::Duration)];
const KV_SET: &[P] = &[
    P::required("key", K::String),
    P::required("value", K::Any),
    P::optional("namespace", K::String),
    P::optional("overwrite", K::Boolean),
    P::optional("ttl", K::Duration),
    P::optional("kvType", K::String),
];
const KV_READ: &[P] =
    &[P::required("key", K::String), P::optional("namespace", K::String), P::optional("errorOnMissing", K::Boolean)];
const DOWNLOAD: &[P] =
    &[P::required("uri", K::String), P::optional("method", K::String), P::optional("headers", K::Map)];
const REQUEST: &[P] = &[
    P::required("uri", K::String),
    P::optional("method", K::String),
    P::optional("body", K::Any),
    P::optional("headers", K::Map),
    P::optional("contentType", K::String),
];

/// A registry with fake definitions of the core runnable tasks.
fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(def("io.kestra.plugin.core.log.Log", &["io.kestra.core.tasks.log.Log"], LOG));
    r.register(def("io.kestra.plugin.core.debug.Return", &[], RETURN));
    r.register(def("io.kestra.plugin.core.output.OutputValues", &[], OUTPUT_VALUES));
    r.register(def("io.kestra.plugin.core.execution.Labels", &[], LABELS));
    r.register(def("io.kestra.plugin.core.execution.Fail", &[], FAIL));
    r.register(def("io.kestra.plugin.core.flow.Sleep", &[], SLEEP));
    r.register(def("io.kestra.plugin.core.kv.Set", &[], KV_SET));
    r.register(def("io.kestra.plugin.core.kv.Get", &[], KV_READ));
    r.register(def("io.kestra.plugin.core.kv.Delete", &[], KV_READ));
    r.register(def("io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles", &[], &[]));
    r.register(def("io.kestra.plugin.core.http.Download", &[], DOWNLOAD));
    r.register(def("io.kestra.plugin.core.http.Request", &[], REQUEST));
    r
}

fn run(src: &str) -> Vec<String> {
    let (_, d) = validate_source("f.yaml", src, &registry(), &Renderer::new());
    d.iter().map(ToString::to_string).collect()
}

fn has(out: &[String], needle: &str) {
    assert!(out.iter().any(|l| l.contains(needle)), "no line contains {needle:?}:\n{}", out.join("\n"));
}

#[test]
fn valid_flow_has_no_diagnostics() {
    let out = run(
        "id: hello\nnamespace: zoomcamp\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi {{ flow.id }}\n",
    );
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn malformed_yaml_is_located() {
    let out = run("id: a\nnamespace: b\ntasks:\n  - id: [\n");
    assert_eq!(out.len(), 1);
    assert!(out[0].starts_with("f.yaml:"), "{out:?}");
    has(&out, "invalid YAML");
}

#[test]
fn unknown_type_with_suggestion_and_position() {
    let src = "id: x\nnamespace: n\ntasks:\n  - id: i\n    type: io.kestra.plugin.core.flow.If\n    condition: \"{{ true }}\"\n    then:\n      - id: log\n        type: io.kestra.plugin.core.log.Lgo\n";
    let out = run(src);
    assert_eq!(
        out,
        [
            "f.yaml:9:9: tasks[0].then[0] (task 'log'): unknown task type 'io.kestra.plugin.core.log.Lgo' (did you mean io.kestra.plugin.core.log.Log?)"
        ]
    );
}

#[test]
fn reports_everything_at_once_sorted() {
    let src = r#"id: "bad id"
namespace: Zoomcamp
inputs:
  - id: sel
    type: SELECT
tasks:
  - id: t1
    type: io.kestra.plugin.core.log.Log
    mesage: hi
  - id: t1
    type: io.kestra.plugin.core.flow.Sleep
    duration: 15
  - id: t3
    type: io.kestra.plugin.core.log.Log
    message: "{{ broken"
errors:
  - id: t3
    type: io.kestra.core.tasks.log.Log
    message: [1, 2]
    level: {a: 1}
triggers:
  - id: s
    type: io.kestra.plugin.core.trigger.Schedule
  - id: s
    type: io.kestra.plugin.core.trigger.Cron
"#;
    let out = run(src);
    has(&out, "f.yaml:1:1: id: invalid flow id 'bad id'");
    has(&out, "f.yaml:2:1: namespace: invalid namespace 'Zoomcamp'");
    has(&out, "f.yaml:4:5: inputs[0]: input 'sel' of type SELECT needs a non-empty 'values' list");
    has(
        &out,
        "f.yaml:7:5: tasks[0] (task 't1'): missing required property 'message' for io.kestra.plugin.core.log.Log",
    );
    has(
        &out,
        "f.yaml:9:5: tasks[0].mesage (task 't1'): unknown property 'mesage' for io.kestra.plugin.core.log.Log (did you mean 'message'? known: message, level)",
    );
    has(&out, "f.yaml:10:5: tasks[1].id (task 't1'): Duplicate task id with name [t1]");
    has(
        &out,
        "f.yaml:12:5: tasks[1].duration (task 't1'): property 'duration' of io.kestra.plugin.core.flow.Sleep: expected an ISO-8601 duration",
    );
    has(&out, "f.yaml:15:5: tasks[2].message (task 't3'): template error:");
    has(&out, "f.yaml:17:5: errors[0].id (task 't3'): Duplicate task id with name [t3]");
    has(
        &out,
        "f.yaml:20:5: errors[0].level (task 't3'): property 'level' of io.kestra.plugin.core.log.Log: expected a string, got a mapping",
    );
    has(&out, "f.yaml:22:5: triggers[0]: trigger 's': a Schedule needs 'cron'");
    has(&out, "f.yaml:24:5: triggers[1].id: Duplicate trigger id with name [s]");
    has(&out, "f.yaml:25:5: triggers[1]: unknown trigger type 'io.kestra.plugin.core.trigger.Cron'");
    let lines: Vec<usize> = out.iter().map(|l| l.split(':').nth(1).unwrap().parse().unwrap()).collect();
    assert!(lines.is_sorted(), "{out:#?}");
}

#[test]
fn flowables_need_their_properties() {
    let src = r#"id: f
namespace: n
tasks:
  - id: if
    type: io.kestra.plugin.core.flow.If
    then:
      - id: a
        type: io.kestra.plugin.core.debug.Return
  - id: sw
    type: io.kestra.plugin.core.flow.Switch
    cases:
      x:
        - id: b
          type: io.kestra.plugin.core.debug.Return
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    tasks:
      - id: c
        type: io.kestra.plugin.core.debug.Return
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: n
    flowid: typo
"#;
    let out = run(src);
    has(&out, "tasks[0] (task 'if'): missing required property 'condition'");
    has(&out, "tasks[1] (task 'sw'): missing required property 'value'");
    has(&out, "tasks[2] (task 'each'): missing required property 'values' or 'value'");
    has(&out, "tasks[3] (task 'sub'): missing required property 'flowId'");
    has(&out, "tasks[3].flowid (task 'sub'): unknown property 'flowid'");
}

#[test]
fn plugin_defaults_fill_required_props_and_unknown_default_keys_are_silent() {
    let src = r#"id: f
namespace: n
pluginDefaults:
  - type: io.kestra.plugin.core.log
    values:
      message: from defaults
      bucket: ignored
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
"#;
    let out = run(src);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
#[cfg(feature = "gcp")]
fn plugin_defaults_reach_triggers_as_in_kestra() {
    // zoomcamp style: the gcp package's defaults serve tasks and triggers alike
    let src = r#"id: f
namespace: n
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      projectId: my-project
      location: EU
      bucket: my-bucket
  - type: io.kestra.plugin.gcp.pubsub.Trigger
    values:
      subscription: from-defaults
      maxRecords: 5
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: poll
    type: io.kestra.plugin.gcp.pubsub.Trigger
    topic: orders
  - id: watch
    type: io.kestra.plugin.gcp.gcs.Trigger
    from: gs://b/in/
"#;
    let out = run(src);
    assert!(out.is_empty(), "required subscription and maxRecords from pluginDefaults, foreign keys left out: {out:?}");
    let (flow, _) = validate_source("f.yaml", src, &registry(), &Renderer::new());
    let poll = crate::triggers::pubsub::PubSubTrigger::from_trigger(&flow.expect("flow").triggers[0]).expect("valid");
    assert_eq!((poll.subscription.as_str(), poll.max_records), ("from-defaults", Some(5)));
    assert_eq!(poll.auth.project_id.as_deref(), Some("my-project"));
    // without them the same trigger is invalid; a default's bad value names its origin
    let bare = src.replace("      subscription: from-defaults\n", "");
    has(&run(&bare), "triggers[0]: trigger 'poll': a Pub/Sub trigger needs 'subscription'");
    let wrong = src.replace("maxRecords: 5", "maxRecords: [5]");
    has(&run(&wrong), "property 'maxRecords' of io.kestra.plugin.gcp.pubsub.Trigger (from pluginDefaults)");
    // a key written on the trigger itself must still be the trigger's
    let typo = src.replace("    topic: orders\n", "    topic: orders\n    location: EU\n");
    has(&run(&typo), "triggers[0].location: unknown property 'location'");
    // forced defaults override what the trigger says
    let forced = src.replace(
        "  - type: io.kestra.plugin.gcp.pubsub.Trigger\n",
        "  - type: io.kestra.plugin.gcp.pubsub.Trigger\n    forced: true\n",
    );
    let forced = forced.replace("    topic: orders\n", "    topic: orders\n    subscription: written\n");
    let (flow, _) = validate_source("f.yaml", &forced, &registry(), &Renderer::new());
    let t = &flow.expect("flow").triggers[0];
    assert_eq!(t.props["subscription"], "from-defaults");
}

#[test]
fn templates_checked_in_variables_and_triggers_and_trigger_inputs_typed() {
    let src = r#"id: f
namespace: n
inputs:
  - id: taxi
    type: SELECT
    values: [yellow, green]
variables:
  file: "{{ inputs.taxi }"
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: ok
triggers:
  - id: s
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 1 *"
    inputs:
      taxi: red
  - id: w
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{% if %}"
"#;
    let out = run(src);
    has(&out, "f.yaml:8:3: variables.file: template error");
    has(&out, "triggers[0].cron: trigger 's': invalid cron expression '0 9 1 *': expected 5 fields, got 4");
    has(
        &out,
        "triggers[0].inputs.taxi: Invalid value for input 'taxi': expected SELECT (one of: yellow, green), got 'red'",
    );
    has(&out, "triggers[1].key: template error");
}

#[test]
fn missing_tasks_and_empty_file() {
    has(&run("id: f\nnamespace: n\n"), "f.yaml:1:1: tasks: missing required property 'tasks'");
    has(&run(""), "f.yaml:1:1: a flow must be a YAML mapping");
}

#[test]
fn empty_ids_are_invalid() {
    let out = run("id: ''\nnamespace: n\ntasks:\n  - id: ''\n    type: io.kestra.plugin.core.debug.Return\n");
    has(&out, "f.yaml:1:1: id: invalid flow id ''");
    has(&out, "f.yaml:4:5: tasks[0].id: invalid task id ''");
}

#[test]
fn lookup_handles_dotted_keys() {
    let v: Value = serde_json::json!({"tasks": [{"cases": {"a.b": [{"id": "x"}], "a": []}}]});
    assert_eq!(lookup(&v, "tasks[0].cases.a.b[0].id"), Some(&Value::from("x")));
    assert_eq!(lookup(&v, "tasks[0].cases.a"), Some(&Value::Array(vec![])));
    assert_eq!(lookup(&v, "tasks[1]"), None);
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/flows")
}

#[test]
fn valid_fixtures_pass() {
    let results = validate_paths(&[fixtures().join("valid")], &registry(), &Renderer::new());
    assert!(results.len() >= 3, "{results:?}");
    for (path, diags) in results {
        let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert!(diags.is_empty(), "{} should be valid:\n{}", path.display(), lines.join("\n"));
    }
}

#[test]
fn invalid_fixtures_report_the_expected_problem() {
    let results = validate_paths(&[fixtures().join("invalid")], &registry(), &Renderer::new());
    assert!(results.len() >= 10, "{results:?}");
    for (path, diags) in results {
        let expected = std::fs::read_to_string(path.with_extension("expected")).expect("an .expected file");
        let out: Vec<String> = diags.iter().map(ToString::to_string).collect();
        let out = out.join("\n");
        assert_eq!(diags.len(), 1, "{}: one problem per fixture, got:\n{out}", path.display());
        for needle in expected.lines().filter(|l| !l.trim().is_empty()) {
            assert!(out.contains(needle), "{}: expected {needle:?} in:\n{out}", path.display());
        }
    }
}

#[test]
fn paths_accept_files_and_report_unreadable_ones() {
    let file = fixtures().join("valid/01_hello_world.yaml");
    let missing = fixtures().join("nope.yaml");
    let r = validate_paths(&[file.clone(), missing.clone()], &registry(), &Renderer::new());
    assert_eq!(r.len(), 2);
    assert_eq!(r[0], (file, vec![]));
    assert_eq!(r[1].0, missing);
    assert!(r[1].1[0].to_string().contains("nope.yaml: cannot read:"), "{:?}", r[1]);
    let json = serde_json::to_value(&r[1].1[0]).unwrap();
    assert!(json.get("taskId").is_some());
}

/// Prints what the validator says about every fixture:
/// `cargo test -p shared --lib dump_fixtures -- --ignored --nocapture`.
#[test]
#[ignore]
fn dump_fixtures() {
    let reg = if std::env::var_os("BATON_BUILTIN").is_some() { Registry::builtin() } else { registry() };
    let results = validate_paths(&[fixtures()], &reg, &Renderer::new());
    for (path, diags) in results {
        println!("== {}", path.display());
        for d in diags {
            println!("{d}");
        }
    }
}

#[test]
fn flow_keys_items_are_checked_at_their_position() {
    let src = "id: x\nnamespace: n\nsla:\n  - id: s\n    type: MAX_DURATION\n    behavior: FAIL\n  - id: t\n    type: MAX_DURATIONS\n    behavior: NOPE\n    bogus: 1\n  - id: u\n    type: EXECUTION_ASSERTION\n    behavior: NONE\n    duration: PT1S\nchecks:\n  - condition: \"{{ true }}\"\n    message: m\n    style: LOUD\n  - message: m\n    behavior: STOP\nlisteners:\n  - tasks: []\n  - conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in: [NOPE]\n      - type: io.kestra.plugin.core.condition.MultipleCondition\n    tasks:\n      - id: l\n        type: io.kestra.plugin.core.log.Log\n        message: l\nafterExecution:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: a\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let out = run(src);
    has(&out, "f.yaml:4:5: sla[0]: missing required property 'duration' of a MAX_DURATION SLA");
    has(
        &out,
        "f.yaml:8:5: sla[1].type: invalid type 'MAX_DURATIONS' (expected one of MAX_DURATION, EXECUTION_ASSERTION)",
    );
    has(&out, "f.yaml:9:5: sla[1].behavior: invalid behavior 'NOPE' (expected one of FAIL, CANCEL, NONE)");
    has(&out, "f.yaml:10:5: sla[1].bogus: unknown property 'bogus' of an SLA");
    has(&out, "sla[2]: missing required property 'assert'");
    has(&out, "f.yaml:14:5: sla[2].duration: 'duration' belongs to MAX_DURATION SLAs");
    has(&out, "f.yaml:18:5: checks[0].style: invalid style 'LOUD'");
    has(&out, "checks[1]: missing required property 'when' (or its 1.x name 'condition')");
    has(&out, "checks[1].behavior: invalid behavior 'STOP'");
    has(&out, "listeners[0].tasks: 'tasks' must contain at least one task");
    has(&out, "listeners[1].conditions[0].in");
    has(&out, "listeners[1].conditions[1]");
    // afterExecution tasks are tasks of the flow: ids unique across it
    has(&out, "f.yaml:32:5: afterExecution[0].id (task 'log'): Duplicate task id with name [log]");
}

#[test]
fn flow_keys_corpus_sla_files_are_valid() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/kestra-corpus/valids"));
    for f in ["sla-max-duration-fail.yaml", "sla-max-duration-ok.yaml", "sla-execution-condition.yaml"] {
        let Ok(src) = std::fs::read_to_string(dir.join(f)) else { continue };
        let out: Vec<String> = run(&src).into_iter().filter(|l| !l.contains("unknown task type")).collect();
        assert!(out.is_empty(), "{f}: {out:?}");
    }
}

#[test]
fn a_bad_stop_after_is_reported_once_on_every_trigger_type() {
    let out = run(
        "id: f\nnamespace: n\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 * * *\"\n    stopAfter: [DONE]\n  - id: h\n    type: io.kestra.plugin.core.http.Trigger\n    uri: http://localhost/x\n    stopAfter: [DONE]\n  - id: w\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: k\n    stopAfter: [DONE]\n  - id: fl\n    type: io.kestra.plugin.core.trigger.Flow\n    stopAfter: [DONE]\n",
    );
    for t in ["triggers[0]", "triggers[1]", "triggers[2]", "triggers[3]"] {
        let n = out.iter().filter(|l| l.contains("stopAfter") && l.contains(t)).count();
        assert_eq!(n, 1, "{t}: {out:#?}");
    }
}

/// Kestra 1.2's `assets` (Enterprise Edition) is refused on any task with
/// the open-source edition's own message, not as a property of that type.
#[test]
fn assets_are_refused_as_an_enterprise_feature() {
    let src = r#"id: f
namespace: n
tasks:
  - id: t1
    type: io.kestra.plugin.core.log.Log
    message: hi
    assets:
      outputs:
        - id: orders
          type: io.kestra.plugin.ee.assets.Table
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [1]
    assets:
      inputs:
        - id: orders
    tasks:
      - id: t2
        type: io.kestra.plugin.core.log.Log
        message: hi
"#;
    let out = run(src);
    has(
        &out,
        "f.yaml:7:5: tasks[0].assets (task 't1'): property 'assets' of io.kestra.plugin.core.log.Log: assets are only available in Enterprise Edition",
    );
    has(
        &out,
        "tasks[1].assets (task 'each'): property 'assets' of io.kestra.plugin.core.flow.ForEach: assets are only available in Enterprise Edition",
    );
}
