//! `flow.PurgeFlows` on `baton server local`: old revisions of the flows in
//! scope deleted per `behavior`, the latest always kept, flows outside the
//! namespace untouched, `size` counting what went.

use serde_json::{Map, json};
use shared::model::StateType;

use crate::support::runs;

fn flow(ns: &str, id: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: {ns}\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purge_flows_keeps_the_newest_revisions_in_its_namespace_only() {
    let purge = "id: purge\nnamespace: system\ntasks:\n  - id: purge_flows\n    type: io.kestra.plugin.core.flow.PurgeFlows\n    namespace: company\n    behavior:\n      keepAmount: 2\n";
    let purge_all_old = "id: purge_one\nnamespace: system\ntasks:\n  - id: purge_flows\n    type: io.kestra.plugin.core.flow.PurgeFlows\n    namespace: other\n    flowId: kept\n    behavior: {}\n";
    let current = flow("company.team", "etl", "v4");
    let other = flow("other", "kept", "v3");
    let (local, _dir) = crate::sched_support::api_server(
        "purgeflows",
        &[("purge.yml", purge), ("purge_one.yml", purge_all_old), ("etl.yml", &current), ("kept.yml", &other)],
        None,
    )
    .await;
    let state = local.engine.state.clone();
    for v in ["v1", "v2", "v3", "v4"] {
        state.save_flow("company.team", "etl", &flow("company.team", "etl", v)).await.expect("save");
    }
    for v in ["v1", "v2", "v3"] {
        state.save_flow("other", "kept", &flow("other", "kept", v)).await.expect("save");
    }
    let client = shared::server::client::Client::new(&local.url());
    let revisions = |ns: &'static str, id: &'static str| {
        let state = state.clone();
        async move {
            state.list_flow_revisions(ns, id, 100).await.expect("list").iter().map(|r| r.revision).collect::<Vec<u32>>()
        }
    };

    let e = client.start_execution("system", "purge", &Map::new(), &[], true).await.expect("purge");
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(runs(&e, "purge_flows")[0].outputs.as_ref().expect("outputs")["size"], json!(2));
    assert_eq!(revisions("company.team", "etl").await, [3, 4], "the newest two kept");
    assert_eq!(revisions("other", "kept").await, [1, 2, 3], "another namespace is untouched");
    // the kept latest is still the flow's source
    let latest = state.load_flow("company.team", "etl", None).await.expect("load").expect("flow");
    assert_eq!(latest, (4, current.clone()));

    // one flow, every old revision
    let e = client.start_execution("system", "purge_one", &Map::new(), &[], true).await.expect("purge_one");
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(runs(&e, "purge_flows")[0].outputs.as_ref().expect("outputs")["size"], json!(2));
    assert_eq!(revisions("other", "kept").await, [3]);
    // the API lists what is left, and the flows still run
    let ran = client.start_execution("company.team", "etl", &Map::new(), &[], true).await.expect("etl");
    assert_eq!(ran.state.current, StateType::Success, "{:?}", ran.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purge_flows_without_a_flow_store_fails_saying_so() {
    let h = crate::support::harness();
    let e = h
        .run(
            "id: p\nnamespace: system\ntasks:\n  - id: purge\n    type: io.kestra.plugin.core.flow.PurgeFlows\n",
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = format!("{:?}", h.logs(&e.id).await);
    assert!(logs.contains("flow store"), "{logs}");
}
