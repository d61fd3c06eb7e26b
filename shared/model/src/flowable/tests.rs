//! The flowable declarations against the loader and the executor's reading.

use serde_json::{Value, json};

use super::*;

fn props(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[test]
fn each_declaration_names_the_child_lists_the_loader_parses() {
    for def in defs() {
        let declared: Vec<&str> = def.decl.child_lists().map(|p| p.name).collect();
        assert_eq!(declared, FlowableKind::child_keys(Some(def.kind)), "{}", def.decl.type_name);
        assert!(def.props.iter().all(|p| !declared.contains(&p.name)), "{}", def.decl.type_name);
    }
}

#[test]
fn every_flowable_type_parses_to_its_kind() {
    for def in defs() {
        let f = parse(def.decl.type_name, &Map::new()).expect("declared");
        assert_eq!(f.kind(), def.kind, "{}", def.decl.type_name);
        for alias in def.decl.aliases {
            assert_eq!(crate::types::normalize(alias), def.decl.type_name);
        }
    }
    assert!(parse("io.kestra.plugin.core.log.Log", &Map::new()).is_none());
}

#[test]
fn properties_are_read_as_the_executor_always_read_them() {
    let f = parse("io.kestra.plugin.core.flow.ForEach", &props(json!({"value": [1], "concurrencyLimit": "3"})));
    let Some(Flowable::ForEach(each)) = &f else { panic!("{f:?}") };
    assert_eq!(*each.raw_values(), json!([1]));
    assert_eq!(f.as_ref().map(Flowable::concurrency), Some(3));
    // a value of the wrong shape reads as absent (the validator names it)
    let f = parse("io.kestra.plugin.core.flow.ForEach", &props(json!({"concurrencyLimit": [2]})));
    assert_eq!(f.as_ref().map(Flowable::concurrency), Some(1));
    let f = parse("io.kestra.plugin.core.flow.EachSequential", &props(json!({"concurrent": 4})));
    assert_eq!(f.map(|f| f.concurrency()), Some(1));
    let f = parse(
        "io.kestra.plugin.core.flow.Subflow",
        &props(json!({"namespace": "a", "flowId": 7, "wait": "false", "labels": {"k": 1}, "revision": "3"})),
    );
    let Some(Flowable::Subflow(s)) = f else { panic!() };
    assert_eq!((s.target.namespace.as_deref(), s.target.flow_id.as_deref()), (Some("a"), Some("7")));
    assert!(!s.target.waits());
    assert_eq!(s.target.revision(), Some(3));
    assert_eq!(s.target.labels()[0].value, "1");
    let f = parse("io.kestra.plugin.core.flow.Loop", &props(json!({"values": "x", "transmitFailed": "false"})));
    let Some(Flowable::Loop(l)) = f else { panic!() };
    assert!(!l.transmits_failed());
    assert_eq!(Flowable::Loop(l).concurrency(), 0);
}

#[test]
fn required_properties_and_alternatives_come_from_the_declarations() {
    let req = |t: &str| find(t).map(|d| d.required_any.to_vec()).unwrap_or_default();
    assert_eq!(req("io.kestra.plugin.core.flow.If"), vec![&["condition"][..]]);
    assert_eq!(req("io.kestra.plugin.core.flow.ForEach"), vec![&["values", "value"][..]]);
    assert_eq!(req("io.kestra.plugin.core.flow.Subflow"), vec![&["namespace"][..], &["flowId"][..]]);
    assert_eq!(
        req("io.kestra.plugin.core.flow.ForEachItem"),
        vec![&["items"][..], &["namespace"][..], &["flowId"][..]]
    );
    assert!(find("io.kestra.plugin.core.flow.EachParallel").is_some_and(|d| d.deprecated));
}
