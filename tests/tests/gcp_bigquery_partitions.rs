//! `bigquery.CopyPartitions` and `DeletePartitions` against the Google
//! APIs fake serving BigQuery's discovery document (`bigquery.v2.json`):
//! bqemulator keeps no partition decorators (`t$20240102`) and no
//! `$__PARTITIONS_SUMMARY__` meta-table, so the emulator cannot show these
//! tasks; the fake checks each call (path, query, body) against Google's
//! document instead and answers as BigQuery does. The summary is read over
//! two pages; only the partitions in range are deleted or copied (one copy
//! job whose sources are the decorated partitions); a partition already
//! gone fails the delete as in Kestra; an empty range fails CopyPartitions
//! unless `skipEmpty`.

use std::sync::{Arc, Mutex};

use e2e::google_apis_fake::FakeGoogleApis;
use serde_json::{Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::plugins::gcp::GcpConfig;

use crate::support::{harness_with_plugins, outputs};

const IDS: [&str; 6] = ["20240101", "20240102", "20240103", "20240104", "20240105", "__NULL__"];

async fn fake() -> (FakeGoogleApis, Arc<Mutex<Vec<String>>>) {
    let fake = FakeGoogleApis::start(&["bigquery.v2.json"]).await;
    fake.on("bigquery.tables.get", |c| {
        (
            200,
            json!({"tableReference": {"projectId": c.params[0], "datasetId": c.params[1], "tableId": c.params[2]},
                   "schema": {"fields": [{"name": "partition_id", "type": "STRING"},
                                         {"name": "creation_time", "type": "INTEGER"}]}}),
        )
    });
    fake.on("bigquery.tabledata.list", |c| {
        let row = |id: &str| json!({"f": [{"v": id}, {"v": "1700000000000"}]});
        match c.query.get("pageToken").map(String::as_str) {
            None => (200, json!({"totalRows": "6", "pageToken": "p2", "rows": IDS[..3].iter().map(|i| row(i)).collect::<Vec<_>>()})),
            Some("p2") => (200, json!({"totalRows": "6", "rows": IDS[3..].iter().map(|i| row(i)).collect::<Vec<_>>()})),
            Some(t) => (400, json!({"error": {"status": "INVALID_ARGUMENT", "message": format!("bad token {t}")}})),
        }
    });
    let deleted = Arc::new(Mutex::new(Vec::new()));
    let d = deleted.clone();
    fake.on("bigquery.tables.delete", move |c| {
        let t = c.params[2].clone();
        if t.ends_with("20240104") {
            return (404, json!({"error": {"status": "NOT_FOUND", "message": format!("Not found: Table {t}")}}));
        }
        d.lock().unwrap().push(t);
        (200, json!({}))
    });
    fake.on("bigquery.jobs.insert", |c| {
        let mut job = c.body.clone();
        job["status"] = json!({"state": "DONE"});
        job["statistics"] = json!({"startTime": "1700000000000", "endTime": "1700000001000"});
        (200, job)
    });
    (fake, deleted)
}

fn harness(fake: &FakeGoogleApis) -> crate::support::Harness {
    harness_with_plugins(PluginConfig { gcp: GcpConfig::emulators(None, Some(&fake.url())), ..PluginConfig::default() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_in_range_are_copied_by_one_job_and_deleted() {
    let (fake, deleted) = fake().await;
    let h = harness(&fake);
    let e = h
        .run_ok(
            r#"
id: partitions
namespace: test.gcp
tasks:
  - id: copy
    type: io.kestra.plugin.gcp.bigquery.CopyPartitions
    projectId: proj
    dataset: ds
    table: trips
    destinationTable: ds.trips_copy
    partitionType: DAY
    from: "2024-01-02T00:00:00Z"
    to: "2024-01-03T12:00"
    writeDisposition: WRITE_TRUNCATE
  - id: nothing
    type: io.kestra.plugin.gcp.bigquery.CopyPartitions
    projectId: proj
    dataset: ds
    table: trips
    destinationTable: ds.trips_copy
    partitionType: DAY
    from: "2030-01-01T00:00"
    to: "2030-12-31T00:00"
    skipEmpty: true
  - id: delete
    type: io.kestra.plugin.gcp.bigquery.DeletePartitions
    projectId: proj
    dataset: ds
    table: trips
    partitionType: DAY
    from: "2024-01-01T00:00"
    to: "2024-01-03T00:00"
"#,
        )
        .await;
    assert_eq!(fake.violations(), Vec::<String>::new());
    let copy = outputs(&e, "copy");
    assert_eq!(copy["partitions"], json!(["20240102", "20240103"]));
    assert_eq!(
        (&copy["projectId"], &copy["datasetId"], &copy["table"]),
        (&json!("proj"), &json!("ds"), &json!("trips"))
    );
    let insert = fake.calls().into_iter().find(|c| c.id == "bigquery.jobs.insert").expect("a copy job");
    let job = &insert.body["configuration"]["copy"];
    let sources: Vec<&Value> = job["sourceTables"].as_array().expect("sources").iter().map(|t| &t["tableId"]).collect();
    assert_eq!(sources, [&json!("trips$20240102"), &json!("trips$20240103")]);
    assert_eq!(job["destinationTable"], json!({"projectId": "proj", "datasetId": "ds", "tableId": "trips_copy"}));
    assert_eq!(job["writeDisposition"], json!("WRITE_TRUNCATE"));
    assert_eq!(copy["jobId"], insert.body["jobReference"]["jobId"]);
    let nothing = outputs(&e, "nothing");
    assert_eq!((nothing["partitions"].clone(), nothing.get("jobId")), (json!([]), None));
    assert_eq!(outputs(&e, "delete")["partitions"], json!(["20240101", "20240102", "20240103"]));
    let mut gone = deleted.lock().unwrap().clone();
    gone.sort();
    assert_eq!(gone, ["trips$20240101", "trips$20240102", "trips$20240103"]);
    let inserts = fake.ids().iter().filter(|i| *i == "bigquery.jobs.insert").count();
    assert_eq!(inserts, 1, "skipEmpty runs no job: {:?}", fake.ids());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_partition_or_an_empty_range_fails_naming_it() {
    let (fake, _) = fake().await;
    let h = harness(&fake);
    let flow = |task: &str| {
        format!(
            r#"
id: partitions_fail
namespace: test.gcp
tasks:
  - id: t
    projectId: proj
    dataset: ds
    table: trips
    partitionType: DAY
{task}"#
        )
    };
    let e = h
        .run(
            &flow("    type: io.kestra.plugin.gcp.bigquery.DeletePartitions\n    from: 2024-01-04T00:00\n    to: 2024-01-04T00:00\n"),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("Couldn't find partition 'proj.ds.trips$20240104'")), "{logs:?}");
    let e = h
        .run(
            &flow("    type: io.kestra.plugin.gcp.bigquery.CopyPartitions\n    destinationTable: ds.c\n    from: 2030-01-01T00:00\n    to: 2030-01-02T00:00\n"),
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.contains("no partition of proj.ds.trips") && l.contains("skipEmpty")), "{logs:?}");
    assert_eq!(fake.violations(), Vec::<String>::new());
}
