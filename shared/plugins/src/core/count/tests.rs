//! Tests of `execution.Count` on an in-memory SQLite store, and of its
//! declaration (what validation, the docs and the schema read).

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::core::test_support::Env;
use baton_model::Execution;

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).single().unwrap_or_default()
}

/// An execution of `ns`.`flow` started on `day`, in `state`.
async fn seed(env: &Env, id: &str, ns: &str, flow: &str, day: u32, state: StateType) {
    let mut e = Execution::new(id.into(), ns, flow, 1, Map::new(), vec![], at(day));
    e.state.set(StateType::Running, at(day));
    if state != StateType::Running {
        e.state.set(state, at(day));
    }
    env.state().create_execution(&e).await.unwrap();
}

async fn seeded() -> Env {
    let env = Env::with_state_store();
    seed(&env, "a1", "company.team", "logs", 2, StateType::Success).await;
    seed(&env, "a2", "company.team", "logs", 3, StateType::Failed).await;
    seed(&env, "a3", "company.team", "logs", 9, StateType::Success).await;
    seed(&env, "b1", "company.team", "etl", 3, StateType::Success).await;
    seed(&env, "c1", "company.team.child", "etl", 3, StateType::Success).await;
    seed(&env, "d1", "other", "x", 3, StateType::Running).await;
    env
}

fn rows(out: &TaskOutput) -> Vec<(String, Option<String>, u64)> {
    out.outputs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
            (s("namespace").unwrap(), s("flowId"), r["count"].as_u64().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn counts_each_flow_in_the_window_and_keeps_the_rows_the_expression_keeps() {
    let env = seeded().await;
    let out = env
        .run(
            &DEF,
            json!({"expression": "{{ count >= 0 }}", "startDate": "2026-03-01T00:00:00Z", "endDate": "2026-03-05T00:00:00Z",
                   "flows": [{"namespace": "company.team", "flowId": "logs"}, {"namespace": "company.team", "flowId": "etl"},
                             {"namespace": "company.team", "flowId": "idle"}]}),
        )
        .await
        .unwrap();
    // a3 is after the window; `idle` has a row at 0
    let want = [("company.team", "logs", 2), ("company.team", "etl", 1), ("company.team", "idle", 0)];
    assert_eq!(rows(&out), want.map(|(n, f, c)| (n.to_string(), Some(f.to_string()), c)));
    assert_eq!(out.outputs["total"], json!(3));

    // Kestra's example: the flows with no execution
    let idle = env
        .run(
            &DEF,
            json!({"expression": "{{ count == 0 }}", "startDate": "2026-03-01T00:00:00Z", "endDate": "2026-03-05T00:00:00Z",
                   "flows": [{"namespace": "company.team", "flowId": "logs"}, {"namespace": "company.team", "flowId": "idle"}]}),
        )
        .await
        .unwrap();
    assert_eq!(rows(&idle), [("company.team".to_string(), Some("idle".to_string()), 0)]);
    assert_eq!(idle.outputs["total"], json!(0));
}

#[tokio::test]
async fn states_and_namespaces_filter_as_kestra_does() {
    let env = seeded().await;
    let out = env
        .run(
            &DEF,
            json!({"expression": "{{ count > 0 }}", "startDate": "2026-03-01T00:00:00Z", "states": ["SUCCESS"],
                   "namespaces": ["company.team", "nobody"], "flows": [{"namespace": "company.team", "flowId": "logs"}]}),
        )
        .await
        .unwrap();
    // flows first, then namespaces (exactly: not company.team.child; no row for an empty one)
    assert_eq!(
        rows(&out),
        [("company.team".to_string(), Some("logs".to_string()), 2), ("company.team".to_string(), None, 3)]
    );
    assert_eq!(out.outputs["total"], json!(5));
}

#[tokio::test]
async fn refusals_name_the_property() {
    let env = Env::with_state_store();
    let e = env.run(&DEF, json!({"expression": "{{ true }}", "startDate": "2026-03-01T00:00:00Z"})).await.unwrap_err();
    assert!(e.to_string().contains("flows or namespaces"), "{e}");
    let e = env.run(&DEF, json!({"expression": "x", "startDate": "yesterday", "namespaces": ["a"]})).await.unwrap_err();
    assert!(e.to_string().contains("startDate") && e.to_string().contains("'yesterday'"), "{e}");
    let e = env
        .run(
            &DEF,
            json!({"expression": "x", "startDate": "2026-03-01T00:00:00Z", "namespaces": ["a"], "states": ["DONE"]}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("states") && e.to_string().contains("'DONE'"), "{e}");
    let e = env.run(&DEF, json!({"startDate": "2026-03-01T00:00:00Z", "namespaces": ["a"]})).await.unwrap_err();
    assert!(e.to_string().contains("expression"), "{e}");
    // no state store in this runtime: said, not ignored
    let e = Env::new()
        .run(&DEF, json!({"expression": "x", "startDate": "2026-03-01T00:00:00Z", "namespaces": ["a"]}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("state store"), "{e}");
}

#[test]
fn the_declaration_is_the_struct() {
    let d = DEF.decl;
    assert_eq!(d.type_name, "io.kestra.plugin.core.execution.Count");
    assert_eq!(d.aliases, ["io.kestra.core.tasks.executions.Counts"]);
    let props: Vec<(&str, PropKind, bool)> = d.props.iter().map(|p| (p.name, p.kind, p.required)).collect();
    assert_eq!(
        props,
        [
            ("flows", PropKind::List, false),
            ("states", PropKind::StringOrList, false),
            ("startDate", PropKind::String, true),
            ("endDate", PropKind::String, false),
            ("expression", PropKind::String, true),
            ("namespaces", PropKind::StringOrList, false),
        ]
    );
    assert_eq!(d.unrendered().collect::<Vec<_>>(), ["expression"]);
    assert!(d.title.starts_with("Count the executions") && d.description.contains("startDate"));
    assert_eq!(d.outputs.iter().map(|o| o.name).collect::<Vec<_>>(), ["results", "total"]);
    assert!(d.props.iter().all(|p| !p.doc.is_empty()), "every property has its line of docs");
}
