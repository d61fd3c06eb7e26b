//! Tests of reading a flow: input type names, the nearest known key for
//! an unknown one, flowables and pluginDefaults (forced, package
//! boundaries), and problems collected with their paths.

use super::*;
use serde_json::json;

/// Parsed with one legacy task name resolved, as the loader's
/// resolver (the types' declarations) does.
fn parse(v: Value) -> (Flow, Vec<Problem>) {
    let legacy = |t: &str| (t == "io.kestra.core.tasks.log.Log").then_some("io.kestra.plugin.core.log.Log");
    let (f, p) = Flow::from_value_with(&v, "", &legacy);
    (f.unwrap(), p)
}

#[test]
fn input_type_names_are_what_the_reader_accepts() {
    for (i, name) in InputType::NAMES.iter().enumerate() {
        let t: InputType = serde_json::from_value(json!(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.index(), i, "{name}");
        assert_eq!(serde_json::to_value(t).ok(), Some(json!(name)));
    }
    assert!(serde_json::from_value::<InputType>(json!("STRNG")).is_err());
    for k in COMPAT_FLOW_KEYS {
        assert!(FLOW_KEYS.contains(k), "{k}");
    }
    for k in COMPAT_TASK_KEYS {
        assert!(TASK_COMMON_KEYS.contains(k), "{k}");
    }
}

#[test]
fn an_unknown_flow_key_gets_the_nearest_known_one() {
    let (_, p) = Flow::from_value(&json!({"id": "f", "namespace": "n", "tasks": [], "trigers": []}), "");
    assert!(
        p.iter().any(|p| p.path == "trigers"
            && p.message.starts_with("unknown flow property 'trigers': did you mean 'triggers'?")),
        "{p:?}"
    );
}

#[test]
fn reads_flowables_and_defaults() {
    let (f, p) = parse(json!({
        "id": "f", "namespace": "n",
        "pluginDefaults": [{"type": "io.kestra.plugin.core.log", "values": {"level": "WARN"}}],
        "tasks": [
            {"id": "if", "type": "io.kestra.plugin.core.flow.If", "condition": "{{true}}",
             "then": [{"id": "a", "type": "io.kestra.core.tasks.log.Log", "message": "x"}]},
            {"id": "b", "type": "io.kestra.plugin.core.log.Log", "message": "y", "level": "ERROR",
             "retry": {"type": "constant", "interval": "PT1S", "maxAttempts": 3}}
        ]
    }));
    assert!(p.is_empty(), "{p:?}");
    assert_eq!(f.tasks[0].flowable_kind(), Some(FlowableKind::If));
    let Children::If { then, .. } = &f.tasks[0].children else { panic!() };
    assert_eq!(then[0].kind, "io.kestra.plugin.core.log.Log");
    assert_eq!(then[0].props["level"], "WARN");
    assert_eq!(then[0].path, "tasks[0].then[0]");
    assert_eq!(f.tasks[1].props["level"], "ERROR");
    assert_eq!(f.tasks[1].retry.as_ref().unwrap().max_attempt, Some(3));
    assert_eq!(f.all_tasks().len(), 3);
}

#[test]
fn forced_defaults_override() {
    let (f, _) = parse(json!({
        "id": "f", "namespace": "n",
        "pluginDefaults": [{"type": "io.kestra.plugin.core.log.Log", "forced": true, "values": {"level": "ERROR"}}],
        "tasks": [{"id": "b", "type": "io.kestra.plugin.core.log.Log", "message": "y", "level": "INFO"}]
    }));
    assert_eq!(f.tasks[0].props["level"], "ERROR");
}

#[test]
fn prefix_must_end_on_a_package_boundary() {
    let (f, _) = parse(json!({
        "id": "f", "namespace": "n",
        "pluginDefaults": [{"type": "io.kestra.plugin.core.lo", "values": {"level": "ERROR"}}],
        "tasks": [{"id": "b", "type": "io.kestra.plugin.core.log.Log", "message": "y"}]
    }));
    assert!(!f.tasks[0].props.contains_key("level"));
}

#[test]
fn collects_problems() {
    let (_, p) = parse(json!({
        "id": "f", "tasks": [{"id": "a"}, {"type": "x"}], "bogus": 1,
        "concurrency": {"limit": 0}
    }));
    let paths: Vec<_> = p.iter().map(|p| p.path.as_str()).collect();
    assert!(paths.contains(&"namespace"), "{p:?}");
    assert!(paths.contains(&"tasks[0]"));
    assert!(paths.contains(&"tasks[1]"));
    assert!(paths.contains(&"bogus"));
    assert!(paths.contains(&"concurrency.limit"));
}
