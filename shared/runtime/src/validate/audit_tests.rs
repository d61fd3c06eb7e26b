//! Nothing accepted that is not done: walks the trigger types and the
//! common task keys with the real registry, and checks that what Baton
//! does not honour is refused, named and located — never accepted.

use crate::plugins::Registry;
use crate::template::Renderer;

fn diags(src: &str) -> Vec<String> {
    let (_, d) = super::validate_source("f.yaml", src, &Registry::builtin(), &Renderer::new());
    d.iter().map(ToString::to_string).collect()
}

fn has(out: &[String], needle: &str) {
    assert!(out.iter().any(|d| d.contains(needle)), "no diagnostic containing {needle:?} in {out:#?}");
}

/// A minimal valid trigger of each type, to which a stray property is added.
fn minimal(type_name: &str) -> String {
    let required: Vec<String> = crate::triggers::find(type_name)
        .map(|d| {
            d.props.iter().filter(|p| p.required).map(|p| format!("    {}: {}\n", p.name, sample(p.name))).collect()
        })
        .unwrap_or_default();
    format!("  - id: t\n    type: {type_name}\n{}", required.concat())
}

fn sample(prop: &str) -> &'static str {
    match prop {
        "cron" => "\"0 * * * *\"",
        _ => "x",
    }
}

#[test]
fn every_trigger_type_refuses_a_property_it_does_not_list() {
    for def in crate::triggers::defs() {
        let src = format!(
            "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n{}    bogusProperty: 1\n",
            minimal(def.type_name)
        );
        let out = diags(&src);
        has(&out, &format!("unknown property 'bogusProperty' for {}", def.type_name));
        // located on the property's own line: after id (8), type (9) and the required ones
        let line = 10 + def.props.iter().filter(|p| p.required).count();
        has(&out, &format!("f.yaml:{line}:5: triggers[0].bogusProperty"));
    }
}

#[test]
fn task_keys_baton_does_not_honour_are_refused() {
    let src = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n    logToFile: maybe\n    version: \"0.19.0\"\n    logLevel: LOUD\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    cache:\n      ttl: 1h\n      keep: true\n    tasks:\n      - id: b\n        type: io.kestra.plugin.core.log.Log\n        message: hi\n";
    let out = diags(src);
    has(&out, "f.yaml:7:5: tasks[0].logToFile (task 'a'): 'logToFile' must be true or false");
    has(&out, "tasks[0].version (task 'a'): plugin version '0.19.0' cannot be chosen");
    has(&out, "tasks[0].logLevel (task 'a'): logLevel 'LOUD' is not one of");
    // a WorkingDirectory's cache: only Kestra's keys, `patterns` required, `ttl` a duration
    has(&out, "tasks[1].cache.keep (task 'wd'): unknown property 'keep' in cache");
    has(&out, "tasks[1].cache (task 'wd'): missing required property 'patterns' in cache");
    has(&out, "tasks[1].cache.ttl (task 'wd'): cache.ttl of");
}

#[test]
fn honoured_task_keys_stay_valid() {
    let src = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n    logLevel: WARN\n    logToFile: false\n    version: LATEST\n";
    assert_eq!(diags(src), Vec::<String>::new());
}

#[test]
fn flow_keys_baton_honours_in_one_form_only_are_refused_otherwise() {
    let base = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let out = diags(&format!("{base}deleted: true\ntenantId: acme\nworkerGroup:\n  key: gpu\n"));
    has(&out, "f.yaml:7:1: deleted: a flow marked 'deleted' cannot be loaded");
    has(&out, "f.yaml:8:1: tenantId: tenant 'acme' is unknown");
    has(&out, "f.yaml:9:1: workerGroup: a flow-level workerGroup is not supported");
    assert_eq!(diags(&format!("{base}deleted: false\ntenantId: main\n")), Vec::<String>::new());
}

#[test]
fn purge_batch_sizes_are_positive_and_located() {
    let src = "id: f\nnamespace: n\ntasks:\n  - id: logs\n    type: io.kestra.plugin.core.log.PurgeLogs\n    endDate: \"2026-01-01T00:00:00Z\"\n    batchSize: 0\n  - id: execs\n    type: io.kestra.plugin.core.execution.PurgeExecutions\n    endDate: \"2026-01-01T00:00:00Z\"\n    batchSize: 5000\n  - id: ok\n    type: io.kestra.plugin.core.log.PurgeLogs\n    endDate: \"2026-01-01T00:00:00Z\"\n    batchSize: 250\n";
    let out = diags(src);
    has(&out, "f.yaml:7:5: tasks[0].batchSize (task 'logs'): property 'batchSize' of");
    has(&out, "must be a positive integer, got 0");
    has(&out, "f.yaml:11:5: tasks[1].batchSize (task 'execs'): property 'batchSize' of");
    has(&out, "must be between 1 and 1000, got 5000");
    assert_eq!(out.len(), 2, "{out:#?}");
}

/// A misspelt property is answered with the nearest accepted key: one of
/// the type's own, a common task key, or a flowable's.
#[test]
fn a_misspelt_property_gets_a_did_you_mean() {
    let head = "id: f\nnamespace: n\ntasks:\n";
    let out = diags(&format!(
        "{head}  - id: a\n    type: io.kestra.plugin.core.log.Log\n    mesage: hi\n    message: hi\n    alowFailure: true\n"
    ));
    has(
        &out,
        "f.yaml:6:5: tasks[0].mesage (task 'a'): unknown property 'mesage' for io.kestra.plugin.core.log.Log (did you mean 'message'? known:",
    );
    has(&out, "unknown property 'alowFailure' for io.kestra.plugin.core.log.Log (did you mean 'allowFailure'?");
    let each = diags(&format!(
        "{head}  - id: e\n    type: io.kestra.plugin.core.flow.ForEach\n    vallues: [1]\n    values: [1]\n    tasks:\n      - id: l\n        type: io.kestra.plugin.core.log.Log\n        message: m\n"
    ));
    has(&each, "unknown property 'vallues' for io.kestra.plugin.core.flow.ForEach (did you mean 'values'?");
    // nothing near: no guess
    let far =
        diags(&format!("{head}  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n    zzzzzzzz: 1\n"));
    assert!(far.iter().any(|d| d.contains("unknown property 'zzzzzzzz'") && !d.contains("did you mean")), "{far:#?}");
}
