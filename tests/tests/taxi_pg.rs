//! The zoomcamp's Postgres taxi pipeline (`examples/postgres_taxi.yaml`, the
//! seed flow with only the download host and pluginDefaults changed) end to
//! end: Labels, a shell `extract` with `wget … | gunzip`, If yellow/green,
//! create tables, truncate staging, CopyIn, md5 `unique_row_id`, MERGE,
//! PurgeCurrentExecutionFiles — against the test PostgreSQL, on generated
//! TLC-layout `.csv.gz` files served by a local HTTP server.

use std::path::{Path, PathBuf};

use e2e::taxi::{self, Kind};
use e2e::{http, pg, zoomcamp};
use serde_json::json;
use shared::model::{Execution, StateType};

use crate::support::{Harness, harness, runs};

fn asset(root: &Path, kind: Kind, year: u32, month: u32) -> PathBuf {
    zoomcamp::asset_path(root, kind, year, month)
}

/// The example flow downloading from `base` into database `db`.
fn flow_text(base: &str, db: &str) -> String {
    zoomcamp::postgres_taxi_flow(base, &pg::shared().jdbc_url(db), pg::USER, pg::PASSWORD)
}

struct Pipeline {
    h: Harness,
    flow: std::sync::Arc<shared::model::Flow>,
    db: String,
    root: PathBuf,
}

impl Pipeline {
    fn new(prefix: &str) -> Pipeline {
        let root = std::env::temp_dir().join(format!("baton-taxi-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&root).unwrap();
        let base = http::serve_dir(&root);
        let db = pg::shared().create_database(prefix);
        let h = harness();
        let flow = h.flow(&flow_text(&base, &db));
        Pipeline { h, flow, db, root }
    }

    fn publish(&self, kind: Kind, year: u32, month: u32, rows: usize) {
        taxi::write_csv_gz(kind, year, month, rows, &asset(&self.root, kind, year, month)).unwrap();
    }

    async fn run(&self, kind: Kind, year: u32, month: u32) -> Execution {
        let inputs = json!({"taxi": kind.name(), "year": year.to_string(), "month": format!("{month:02}")});
        self.h.run_flow(&self.flow, inputs).await
    }

    fn count(&self, sql: &str) -> i64 {
        pg::shared().count(&self.db, sql)
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Generated lines whose first field (VendorID) is empty.
fn empty_vendor_rows(kind: Kind, year: u32, month: u32, rows: usize) -> i64 {
    (0..rows).filter(|i| taxi::csv_line(kind, year, month, rows, *i).starts_with(',')).count() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yellow_and_green_months_land_in_their_own_tables_and_reruns_add_nothing() {
    let p = Pipeline::new("taxi");
    p.publish(Kind::Yellow, 2019, 1, 3000);
    p.publish(Kind::Green, 2019, 1, 2000);
    p.publish(Kind::Yellow, 2019, 2, 1500);

    let e = p.run(Kind::Yellow, 2019, 1).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, p.h.logs(&e.id).await);
    assert_eq!(e.labels_map()["file"], "yellow_tripdata_2019-01.csv");
    assert_eq!(e.labels_map()["taxi"], "yellow");
    assert!(runs(&e, "green_create_table").is_empty());
    let copy = runs(&e, "yellow_copy_in_to_staging_table")[0];
    assert_eq!(copy.outputs.as_ref().unwrap()["rowCount"], json!(3000));
    let purged = runs(&e, "purge_files")[0].outputs.as_ref().unwrap()["uris"].as_array().unwrap().len();
    assert!(purged >= 1, "the extracted CSV is purged");
    assert_eq!(p.count("SELECT count(*) FROM yellow_tripdata"), 3000);
    assert_eq!(p.count("SELECT count(DISTINCT unique_row_id) FROM yellow_tripdata"), 3000);
    assert_eq!(p.count("SELECT count(*) FROM yellow_tripdata WHERE filename = 'yellow_tripdata_2019-01.csv'"), 3000);
    assert_eq!(
        p.count("SELECT count(*) FROM yellow_tripdata WHERE vendorid IS NULL"),
        empty_vendor_rows(Kind::Yellow, 2019, 1, 3000),
        "empty CSV fields load as NULL"
    );
    assert_eq!(p.count("SELECT count(*) FROM yellow_tripdata WHERE congestion_surcharge IS NOT NULL"), 0);

    let e = p.run(Kind::Green, 2019, 1).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, p.h.logs(&e.id).await);
    assert!(runs(&e, "yellow_create_table").is_empty());
    assert_eq!(p.count("SELECT count(*) FROM green_tripdata"), 2000);
    assert_eq!(p.count("SELECT count(*) FROM green_tripdata WHERE ehail_fee IS NOT NULL"), 0);
    assert_eq!(p.count("SELECT count(*) FROM yellow_tripdata"), 3000, "green lands in its own table");

    // the same month again: the MERGE matches every row
    let e = p.run(Kind::Yellow, 2019, 1).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(p.count("SELECT count(*) FROM yellow_tripdata"), 3000, "no duplicates on a rerun");
    assert_eq!(p.count("SELECT count(*) FROM yellow_tripdata_staging"), 3000, "staging was truncated first");

    let e = p.run(Kind::Yellow, 2019, 2).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(p.count("SELECT count(*) FROM yellow_tripdata"), 4500);
    assert_eq!(p.count("SELECT count(DISTINCT filename) FROM yellow_tripdata"), 2);
    assert_eq!(p.count("SELECT count(*) FROM green_tripdata"), 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_csv_fails_with_its_line_and_leaves_the_main_table_untouched() {
    let p = Pipeline::new("taxi_bad");
    p.publish(Kind::Green, 2020, 1, 500);
    let bad = asset(&p.root, Kind::Green, 2020, 2);
    taxi::write_malformed_csv_gz(Kind::Green, 2020, 2, 800, 5, &bad).unwrap();

    let e = p.run(Kind::Green, 2020, 1).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}\n{:?}", e.error, p.h.logs(&e.id).await);
    assert_eq!(p.count("SELECT count(*) FROM green_tripdata"), 500);

    let e = p.run(Kind::Green, 2020, 2).await;
    assert_eq!(e.state.current, StateType::Failed);
    let copy = runs(&e, "green_copy_in_to_staging_table")[0];
    assert_eq!(copy.state.current, StateType::Failed);
    let err = e.error.clone().unwrap_or_default();
    assert!(err.contains("invalid input syntax for type double precision: \"abc\""), "{err}");
    assert!(err.contains("COPY green_tripdata_staging, line 5, column fare_amount: \"abc\""), "{err}");
    assert!(runs(&e, "green_merge_data").is_empty(), "nothing runs after the failed COPY");
    assert_eq!(p.count("SELECT count(*) FROM green_tripdata"), 500, "the main table is untouched");
    assert_eq!(p.count("SELECT count(*) FROM green_tripdata WHERE filename LIKE '%2020-02%'"), 0);
}
