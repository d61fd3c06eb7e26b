//! The test format read and checked, and cases run on an embedded engine
//! with mocked tasks (including one inside a flowable).

use std::time::Duration;

use super::model::Operator;
use super::run::CaseState;
use super::*;
use crate::model::StateType;
use crate::runtime::embedded::{Embedded, LocalOptions};

const FLOW: &str = r#"id: greet
namespace: company.team
inputs:
  - id: name
    type: STRING
tasks:
  - id: fetch
    type: io.kestra.plugin.core.execution.Fail
  - id: branch
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.name == 'Kestra' }}"
    then:
      - id: inner
        type: io.kestra.plugin.core.execution.Fail
    else:
      - id: other
        type: io.kestra.plugin.core.log.Log
        message: never
  - id: greeting
    type: io.kestra.plugin.core.debug.Return
    format: "Hello {{ inputs.name }} {{ outputs.fetch.value }} {{ outputs.inner.value }} {{ read(outputs.fetch.uri) }}"
"#;

const SUITE: &str = r#"id: suite
namespace: company.team
flowId: greet
testCases:
  - id: mocked
    type: io.kestra.core.tests.flow.UnitTest
    description: fetch and the nested task are mocked
    fixtures:
      inputs:
        name: Kestra
      files:
        data.txt: from-file
      tasks:
        - id: fetch
          outputs:
            value: from-fixture
            uri: "{{ files['data.txt'] }}"
        - id: inner
          outputs:
            value: nested
        - id: other
    assertions:
      - value: "{{ outputs.greeting.value }}"
        equalTo: Hello Kestra from-fixture nested from-file
      - value: "{{ outputs.greeting.value }}"
        startsWith: Hello
        contains: nested
      - value: "{{ test.taskRunCount.greeting }}"
        equalTo: 1
      - value: "{{ outputs.other.value }}"
        isNull: true
  - id: wrong
    type: io.kestra.core.tests.flow.UnitTest
    fixtures:
      inputs:
        name: Kestra
      tasks:
        - id: fetch
          outputs:
            value: v
            uri: "{{ files['none'] ?? 'kestra:///x' }}"
        - id: inner
          state: FAILED
    assertions:
      - value: "{{ outputs.inner.value }}"
        taskId: inner
        equalTo: Something else
  - id: off
    type: io.kestra.core.tests.flow.UnitTest
    disabled: true
    assertions:
      - value: x
        equalTo: y
"#;

#[test]
fn a_kestra_test_file_is_read() {
    let (suite, diags) = parse_source("t.yaml", SUITE);
    assert!(diags.is_empty(), "{diags:?}");
    let suite = suite.expect("suite");
    assert_eq!((suite.id.as_str(), suite.flow_id.as_str(), suite.test_cases.len()), ("suite", "greet", 3));
    let c = &suite.test_cases[0];
    assert_eq!(c.fixtures.tasks.len(), 3);
    assert_eq!(c.fixtures.files, vec![("data.txt".to_string(), "from-file".to_string())]);
    assert_eq!(
        c.assertions[1].checks.iter().map(|c| c.operator).collect::<Vec<_>>(),
        vec![Operator::StartsWith, Operator::Contains]
    );
    assert_eq!(suite.test_cases[1].fixtures.tasks[1].state, StateType::Failed);
    assert!(suite.test_cases[2].disabled);
    assert!(is_test_document(&crate::yaml::parse(SUITE).expect("yaml").0));
    assert!(!is_test_document(&crate::yaml::parse(FLOW).expect("yaml").0));
}

#[test]
fn kestras_older_operator_names_are_read() {
    let src = "id: s\nnamespace: n\nflowId: f\ntestCases:\n  - id: c\n    type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: a\n        equalsTo: a\n        notEqualsTo: b\n";
    let (suite, diags) = parse_source("t.yaml", src);
    assert!(diags.is_empty(), "{diags:?}");
    let ops: Vec<_> = suite.expect("suite").test_cases[0].assertions[0].checks.iter().map(|c| c.operator).collect();
    assert_eq!(ops, vec![Operator::EqualTo, Operator::NotEqualTo]);
}

#[test]
fn unknown_and_missing_properties_are_errors_with_positions() {
    let src = "id: s\nnamespace: n\nflowId: f\nowner: me\ntestCases:\n  - id: c\n    type: io.kestra.core.tests.flow.Other\n    fixtures:\n      inputs: {}\n      mocks: []\n      tasks:\n        - id: t\n          state: RUNNING\n          outpts: {}\n    assertions:\n      - value: a\n        equals: a\n      - equalTo: b\n";
    let (_, diags) = parse_source("t.yaml", src);
    let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
    let has = |needle: &str| text.iter().any(|t| t.contains(needle));
    assert!(has("t.yaml:4:1: owner: unknown property 'owner' of a test suite"), "{text:#?}");
    assert!(has("unknown test case type 'io.kestra.core.tests.flow.Other'"), "{text:#?}");
    assert!(has("t.yaml:10:7: testCases[0].fixtures.mocks: unknown property 'mocks' of fixtures"), "{text:#?}");
    assert!(has("state 'RUNNING' cannot end a mocked task"), "{text:#?}");
    assert!(has("unknown property 'outpts' of a task fixture (did you mean 'outputs'?)"), "{text:#?}");
    assert!(has("unknown property 'equals' of an assertion"), "{text:#?}");
    assert!(has("testCases[0].assertions[0]: no assertion to run"), "{text:#?}");
    assert!(has("testCases[0].assertions[1]: missing required property 'value'"), "{text:#?}");
    let (_, diags) = parse_source("t.yaml", "id: s\nnamespace: n\ntestCases: []\n");
    let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert!(text.iter().any(|t| t.contains("missing required property 'flowId'")), "{text:#?}");
    assert!(text.iter().any(|t| t.contains("must hold at least one test case")), "{text:#?}");
}

#[test]
fn a_suite_is_checked_against_its_flow() {
    let registry = crate::plugins::Registry::builtin();
    let renderer = crate::template::Renderer::new();
    let (flow, d) = crate::validate::validate_source("f.yaml", FLOW, &registry, &renderer);
    assert!(d.is_empty(), "{d:?}");
    let flow = flow.expect("flow");
    let src = "id: s\nnamespace: company.team\nflowId: greet\ntestCases:\n  - id: c\n    type: io.kestra.core.tests.flow.UnitTest\n    fixtures:\n      inputs:\n        nom: x\n      tasks:\n        - id: ghost\n        - id: branch\n    assertions:\n      - value: \"{{ outputs.nope.value }}\"\n        taskId: missing\n        isNull: true\n";
    let (suite, d) = parse_source("t.yaml", src);
    assert!(d.is_empty(), "{d:?}");
    let diags = check::check("t.yaml", src, &suite.expect("suite"), &flow);
    let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
    let has = |needle: &str| text.iter().any(|t| t.contains(needle));
    assert!(
        has("t.yaml:9:9: testCases[0].fixtures.inputs.nom: input 'nom': flow company.team.greet has no such input"),
        "{text:#?}"
    );
    assert!(
        has(
            "t.yaml:11:11: testCases[0].fixtures.tasks[0].id: fixture for task 'ghost': flow company.team.greet has no such task"
        ),
        "{text:#?}"
    );
    assert!(has("fixture for task 'branch': it is a flowable"), "{text:#?}");
    assert!(has("assertion on task 'missing': flow company.team.greet has no such task"), "{text:#?}");
    assert!(has("assertion reads outputs.nope: flow company.team.greet has no task 'nope'"), "{text:#?}");
}

#[test]
fn a_dangling_execution_id_is_an_error_with_its_position() {
    // as a key of an assertion and of a task fixture: refused by the parser
    let src = "id: s\nnamespace: company.team\nflowId: greet\ntestCases:\n  - id: c\n    type: io.kestra.core.tests.flow.UnitTest\n    fixtures:\n      tasks:\n        - id: fetch\n          executionId: 4Xs9aQ\n    assertions:\n      - value: \"{{ outputs.greeting.value }}\"\n        executionId: 4Xs9aQ\n        isNotNull: true\n";
    let (_, diags) = parse_source("t.yaml", src);
    let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
    let has = |needle: &str| text.iter().any(|t| t.contains(needle));
    assert!(
        has(
            "t.yaml:10:11: testCases[0].fixtures.tasks[0].executionId: 'executionId' of a task fixture points at no execution"
        ),
        "{text:#?}"
    );
    assert!(
        has(
            "t.yaml:13:9: testCases[0].assertions[0].executionId: 'executionId' of an assertion points at no execution"
        ),
        "{text:#?}"
    );
    // as a mocked (subflow) task's output: refused against the flow
    let registry = crate::plugins::Registry::builtin();
    let renderer = crate::template::Renderer::new();
    let flow = crate::validate::validate_source("f.yaml", FLOW, &registry, &renderer).0.expect("flow");
    let src = "id: s\nnamespace: company.team\nflowId: greet\ntestCases:\n  - id: c\n    type: io.kestra.core.tests.flow.UnitTest\n    fixtures:\n      tasks:\n        - id: fetch\n          outputs:\n            executionId: 4Xs9aQ\n        - id: inner\n          outputs:\n            executionId: \"{{ execution.id }}\"\n    assertions:\n      - value: \"{{ outputs.greeting.value }}\"\n        isNotNull: true\n";
    let (suite, d) = parse_source("t.yaml", src);
    assert!(d.is_empty(), "{d:?}");
    let diags = check::check("t.yaml", src, &suite.expect("suite"), &flow);
    let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 1, "only the literal id: {text:#?}");
    assert!(
        text[0].starts_with(
            "t.yaml:11:13: testCases[0].fixtures.tasks[0].outputs.executionId: fixture for task 'fetch': outputs.executionId '4Xs9aQ' is dangling"
        ),
        "{text:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_run_with_mocked_tasks_nested_ones_included() {
    let home = std::env::temp_dir().join(format!("baton-unittest-{}", uuid::Uuid::new_v4()));
    let embedded = Embedded::open_local(LocalOptions::throwaway(home.clone(), 2)).expect("embedded");
    let (flow, d) =
        crate::validate::validate_source("f.yaml", FLOW, &embedded.engine.registry, &embedded.engine.renderer);
    assert!(d.is_empty(), "{d:?}");
    let flow = embedded.engine.flows.insert(flow.expect("flow"));
    let suite = parse_source("t.yaml", SUITE).0.expect("suite");
    let t = Duration::from_secs(30);

    let ok = run_case(&embedded, &flow, &suite, &suite.test_cases[0], t).await;
    assert_eq!(ok.state, CaseState::Success, "{ok:#?}");
    assert_eq!(ok.execution_state, Some(StateType::Success));
    assert_eq!(ok.assertions.len(), 5);
    assert!(ok.warnings.iter().any(|w| w.contains("'other'") && w.contains("never reached")), "{ok:#?}");
    assert!(ok.assertions[0].task_run.as_deref().unwrap_or_default().starts_with("task 'greeting' (task run "));

    let bad = run_case(&embedded, &flow, &suite, &suite.test_cases[1], t).await;
    assert_eq!(bad.state, CaseState::Failed, "{bad:#?}");
    assert_eq!(bad.execution_state, Some(StateType::Failed));
    let a = &bad.assertions[0];
    assert!(!a.result.is_success);
    assert_eq!(a.result.expected, serde_json::json!("Something else"));
    assert!(a.task_run.as_deref().unwrap_or_default().contains("FAILED"), "{a:#?}");

    let off = run_case(&embedded, &flow, &suite, &suite.test_cases[2], t).await;
    assert_eq!(off.state, CaseState::Skipped);
    embedded.shutdown();
    let _ = std::fs::remove_dir_all(&home);
}
