//! Amazon Athena (`io.kestra.plugin.aws.athena.Query`) in flows, against
//! moto's server (`crate::moto`), one per test: moto answers every query
//! as SUCCEEDED with the result set through its `/moto-api` (one per query,
//! in order), so the tests check what Baton does with a result — the
//! header row skipped, each cell typed from its column's type (NULL as
//! null), STORE, FETCH, FETCH_ONE and NONE — and a cell that does not read
//! as its type failing the task naming the column.

use serde_json::{Value, json};
use shared::model::StateType;

use crate::moto::{Moto, moto};
use crate::sched_support::read_uri;
use crate::support::{harness, runs};

/// Queues the result sets moto gives the next queries, in order.
async fn results(aws: &Moto, sets: Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/moto-api/static/athena/query-results", aws.url))
        .json(&json!({"region": "us-east-1", "results": sets}))
        .send()
        .await
        .expect("moto-api");
    assert!(r.status().is_success(), "{}", r.status());
}

fn out(e: &shared::model::Execution, task: &str) -> serde_json::Map<String, Value> {
    runs(e, task).first().and_then(|t| t.outputs.clone()).map(|o| (*o).clone()).unwrap_or_default()
}

fn varchars(cells: &[Option<&str>]) -> Value {
    let data: Vec<Value> = cells.iter().map(|c| c.map_or_else(|| json!({}), |s| json!({"VarCharValue": s}))).collect();
    json!({"Data": data})
}

fn task(id: &str, fetch: &str) -> String {
    format!(
        "  - id: {id}\n    type: io.kestra.plugin.aws.athena.Query\n    database: logs\n    \
         outputLocation: s3://results/athena/\n    query: select * from visits\n    fetchType: {fetch}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_query_s_rows_are_typed_from_their_columns_for_every_fetch_type() {
    let aws = moto().await;
    let columns = json!([
        {"Name": "id", "Type": "bigint"}, {"Name": "ok", "Type": "boolean"}, {"Name": "price", "Type": "decimal"},
        {"Name": "day", "Type": "date"}, {"Name": "at", "Type": "timestamp"}, {"Name": "who", "Type": "varchar"},
        {"Name": "score", "Type": "double"}
    ]);
    let header =
        varchars(&[Some("id"), Some("ok"), Some("price"), Some("day"), Some("at"), Some("who"), Some("score")]);
    let rows = json!([
        header,
        varchars(&[
            Some("1"),
            Some("true"),
            Some("12.50"),
            Some("2024-02-29"),
            Some("2024-02-29 10:11:12.123"),
            Some("ann"),
            Some("0.5")
        ]),
        varchars(&[
            Some("2"),
            Some("false"),
            None,
            Some("2024-03-01"),
            Some("2024-03-01 00:00:00.000"),
            None,
            Some("2")
        ])
    ]);
    let set = json!({"rows": rows, "column_info": columns});
    results(&aws, json!([set, set, set])).await;
    let h = harness();
    let flow = format!(
        "id: athena\nnamespace: company.team\ntasks:\n{}{}{}{}{}",
        task("store", "STORE"),
        task("fetch", "FETCH"),
        task("one", "FETCH_ONE"),
        task("none", "NONE"),
        aws.defaults()
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    let first = json!({"id": 1, "ok": true, "price": 12.5, "day": "2024-02-29", "at": "2024-02-29T10:11:12.123",
        "who": "ann", "score": 0.5});
    let second = json!({"id": 2, "ok": false, "price": null, "day": "2024-03-01", "at": "2024-03-01T00:00:00",
        "who": null, "score": 2.0});
    let store = out(&e, "store");
    assert_eq!(store["size"], json!(2), "the header row is skipped: {store:?}");
    let text = read_uri(&h.embedded.engine, &store["uri"]).await;
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("an Ion line")).collect();
    assert_eq!(lines, [first.clone(), second.clone()]);
    let fetch = out(&e, "fetch");
    assert_eq!((fetch["rows"].clone(), fetch["size"].clone()), (json!([first, second]), json!(2)));
    let one = out(&e, "one");
    assert_eq!((one["row"].clone(), one["size"].clone()), (first, json!(1)));
    let none = out(&e, "none");
    assert!(none["queryExecutionId"].as_str().is_some_and(|s| !s.is_empty()), "{none:?}");
    assert!(!none.contains_key("size"), "NONE does not wait for the result: {none:?}");
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Query created with Athena execution identifier"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cell_that_does_not_read_as_its_type_fails_the_query_naming_the_column() {
    let aws = moto().await;
    let set = json!({
        "rows": [varchars(&[Some("n")]), varchars(&[Some("ten")])],
        "column_info": [{"Name": "n", "Type": "integer"}]
    });
    results(&aws, json!([set])).await;
    let h = harness();
    let flow = format!("id: athena_bad\nnamespace: company.team\ntasks:\n{}{}", task("q", "FETCH"), aws.defaults());
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("column 'n' (integer): 'ten'"), "{logs}");
}
