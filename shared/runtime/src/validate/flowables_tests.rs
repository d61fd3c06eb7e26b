//! The validator on Kestra's flowables and its corpus invalids: each
//! refused for Kestra's reason, at its line; the valids accepted.

use crate::plugins::Registry;
use crate::template::Renderer;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/kestra-corpus");

fn diags(src: &str) -> Vec<String> {
    let (_, d) = super::validate_source("f.yaml", src, &Registry::builtin(), &Renderer::new());
    d.iter().map(ToString::to_string).collect()
}

fn corpus(kind: &str, name: &str) -> Vec<String> {
    diags(&std::fs::read_to_string(format!("{CORPUS}/{kind}/{name}")).expect("corpus flow"))
}

fn has(out: &[String], needle: &str) {
    assert!(out.iter().any(|d| d.contains(needle)), "no diagnostic containing {needle:?} in {out:#?}");
}

#[test]
fn kestra_invalids_are_refused_for_kestras_reason() {
    for (file, reason) in [
        (
            "dag-cyclicdependency.yaml",
            "f.yaml:4:5: tasks[0] (task 'dag'): dag: Cyclic dependency detected: task1, task2",
        ),
        ("dag-notexist-task.yaml", "dag: Not existing task id in dependency: taskX"),
        (
            "worker-group.yaml",
            "tasks[0].workerGroup (task 'worker-group'): Worker Group is an Enterprise Edition functionality",
        ),
        (
            "workingdirectory-invalid.yaml",
            "impossible: Only runnable tasks are allowed as children of a WorkingDirectory task",
        ),
    ] {
        let out = corpus("invalids", file);
        has(&out, reason);
        assert_eq!(out.len(), 1, "{file}: one problem, as Kestra: {out:#?}");
    }
}

#[test]
fn kestra_valids_with_the_new_flowables_validate() {
    for file in [
        "allow-failure.yaml",
        "dag.yaml",
        "each-sequential.yaml",
        "waitfor.yaml",
        "waitfor-max-duration.yaml",
        "waitfor-max-iterations.yaml",
        "waitfor-multiple-tasks.yaml",
        "waitfor-multiple-tasks-failed.yaml",
        "waitfor-no-success.yaml",
    ] {
        let out = corpus("valids", file);
        assert!(out.is_empty(), "{file}: {out:#?}");
    }
}

const HEAD: &str = "id: f\nnamespace: n\ntasks:\n";

#[test]
fn flowable_properties_they_do_not_have_are_refused() {
    let out = diags(&format!(
        "{HEAD}  - id: w\n    type: io.kestra.plugin.core.flow.WaitFor\n    condition: x\n    checkFrequency:\n      every: PT1S\n      interval: soon\n    maxLoops: 3\n    tasks:\n      - id: l\n        type: io.kestra.plugin.core.log.Log\n        message: m\n"
    ));
    has(&out, "f.yaml:8:7: tasks[0].checkFrequency.every (task 'w'): unknown property 'every' for checkFrequency");
    has(&out, "f.yaml:9:7: tasks[0].checkFrequency.interval (task 'w'): property 'checkFrequency.interval'");
    has(&out, "f.yaml:10:5: tasks[0].maxLoops (task 'w'): unknown property 'maxLoops'");
    let out = diags(&format!(
        "{HEAD}  - id: w\n    type: io.kestra.plugin.core.flow.WaitFor\n    tasks:\n      - id: l\n        type: io.kestra.plugin.core.log.Log\n        message: m\n"
    ));
    has(&out, "missing required property 'condition'");
    let out = diags(&format!("{HEAD}  - id: e\n    type: io.kestra.plugin.core.execution.Exit\n    state: DONE\n"));
    has(
        &out,
        "f.yaml:6:5: tasks[0].state (task 'e'): property 'state' of io.kestra.plugin.core.execution.Exit: 'DONE' is not one of SUCCESS, WARNING, KILLED, FAILED, CANCELED",
    );
    let out = diags(&format!(
        "{HEAD}  - id: d\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n      - task:\n          id: a\n          type: io.kestra.plugin.core.log.Log\n          message: m\n        needs: [b]\n"
    ));
    has(&out, "f.yaml:11:9: tasks[0].tasks[0].needs (task 'd'): unknown property 'needs' of a Dag entry");
    let out = diags(&format!(
        "{HEAD}  - id: a\n    type: io.kestra.plugin.core.flow.AllowFailure\n    concurrent: 2\n    tasks:\n      - id: l\n        type: io.kestra.plugin.core.log.Log\n        message: m\n"
    ));
    has(&out, "f.yaml:6:5: tasks[0].concurrent (task 'a'): unknown property 'concurrent'");
}

#[test]
fn a_null_worker_group_key_is_no_worker_group() {
    let out = diags(&format!(
        "{HEAD}  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: m\n    workerGroup:\n      key: null\n"
    ));
    assert!(out.is_empty(), "{out:#?}");
}
