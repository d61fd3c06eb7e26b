//! Whole GCP pipelines on the emulators: the zoomcamp's `04_gcp_kv`,
//! `05_gcp_setup` and `06_gcp_taxi` on generated taxi data, and
//! `examples/baywheels_gcp.yaml` on a generated zipped month. bqemulator
//! creates external tables empty, so each flow gets a `LoadFromGcs` of the
//! month's file into that table (the flows are otherwise the seed's and
//! the example's).

use e2e::taxi::{self, Kind};
use e2e::{http, zoomcamp};
use serde_json::json;

use super::{DEFAULTS, assert_success, harness, output, served, unique};
use crate::support::Harness;

/// A structurally valid key (the emulators take no credentials, but the
/// tasks still check it, as they would with Google).
fn fake_key() -> String {
    json!({
        "type": "service_account", "project_id": "test-proj", "private_key_id": "k1",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----\n",
        "client_email": "zoomcamp@test-proj.iam.gserviceaccount.com"
    })
    .to_string()
}

/// The seed's `04_gcp_kv` with this test's values.
fn gcp_kv_flow(bucket: &str, dataset: &str) -> String {
    format!(
        r#"
id: 04_gcp_kv
namespace: zoomcamp
inputs:
  - id: creds
    type: STRING
tasks:
  - id: gcp_creds
    type: io.kestra.plugin.core.kv.Set
    key: GCP_CREDS
    kvType: STRING
    value: "{{{{ inputs.creds }}}}"
  - id: gcp_project_id
    type: io.kestra.plugin.core.kv.Set
    key: GCP_PROJECT_ID
    kvType: STRING
    value: test-proj
  - id: gcp_location
    type: io.kestra.plugin.core.kv.Set
    key: GCP_LOCATION
    kvType: STRING
    value: europe-west2
  - id: gcp_bucket_name
    type: io.kestra.plugin.core.kv.Set
    key: GCP_BUCKET_NAME
    kvType: STRING
    value: {bucket}
  - id: gcp_dataset
    type: io.kestra.plugin.core.kv.Set
    key: GCP_DATASET
    kvType: STRING
    value: {dataset}
"#
    )
}

/// The seed's `05_gcp_setup`, verbatim.
const GCP_SETUP: &str = r#"
id: 05_gcp_setup
namespace: zoomcamp

tasks:
  - id: create_gcs_bucket
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    ifExists: SKIP
    storageClass: REGIONAL
    name: "{{kv('GCP_BUCKET_NAME')}}" # make sure it's globally unique!

  - id: create_bq_dataset
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    name: "{{kv('GCP_DATASET')}}"
    ifExists: SKIP

pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      serviceAccount: "{{kv('GCP_CREDS')}}"
      projectId: "{{kv('GCP_PROJECT_ID')}}"
      location: "{{kv('GCP_LOCATION')}}"
      bucket: "{{kv('GCP_BUCKET_NAME')}}"
"#;

/// `examples/gcp_taxi.yaml` (the seed's `06_gcp_taxi`) downloading from
/// `base`, with one task added after each external-table task: a
/// `LoadFromGcs` of the month's file into that table, because bqemulator
/// creates external tables empty. Everything else is the seed's.
fn gcp_taxi_flow(base: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/gcp_taxi.yaml");
    let mut text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(text.matches("https://github.com/").count(), 1);
    text = text.replace("https://github.com/", &format!("{}/", base.trim_end_matches('/')));
    for kind in ["yellow", "green"] {
        let anchor = format!("      - id: bq_{kind}_table_tmp\n");
        assert_eq!(text.matches(&anchor).count(), 1, "{path} should have {anchor:?}");
        let load = format!(
            "      - id: bq_{kind}_table_ext_load\n\
             \x20       type: io.kestra.plugin.gcp.bigquery.LoadFromGcs\n\
             \x20       from:\n\
             \x20         - \"{{{{render(vars.gcs_file)}}}}\"\n\
             \x20       destinationTable: \"{{{{kv('GCP_PROJECT_ID')}}}}.{{{{render(vars.table)}}}}_ext\"\n\
             \x20       writeDisposition: WRITE_TRUNCATE\n\
             \x20       ignoreUnknownValues: true\n\
             \x20       csvOptions:\n\
             \x20         skipLeadingRows: 1\n\n"
        );
        text = text.replace(&anchor, &format!("{load}{anchor}"));
    }
    text
}

async fn count(h: &Harness, sql: &str) -> i64 {
    let yaml = format!(
        r#"
id: count
namespace: zoomcamp
tasks:
  - id: q
    type: io.kestra.plugin.gcp.bigquery.Query
    fetchOne: true
    sql: "{sql}"
{DEFAULTS}"#
    );
    let e = h.run(&yaml, json!({})).await;
    assert_success(&e);
    output(&e, "q")["row"]["n"].as_i64().unwrap_or_else(|| panic!("{sql}: {:?}", output(&e, "q")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zoomcamp_gcp_setup_and_taxi_flows() {
    let (h, emu) = harness();
    let (bucket, dataset) = (unique("zoomcamp-"), unique("zoomcamp_"));
    let root = std::env::temp_dir().join(unique("baton-gcp-taxi-"));
    let rows = 300;
    for kind in [Kind::Yellow, Kind::Green] {
        taxi::write_csv_gz(kind, 2019, 1, rows, &zoomcamp::asset_path(&root, kind, 2019, 1)).unwrap();
    }
    let base = http::serve_dir(&root);

    let e = h.run(&gcp_kv_flow(&bucket, &dataset), json!({"creds": fake_key()})).await;
    assert_success(&e);

    // 05_gcp_setup: created, then skipped the second time.
    let setup = h.flow(GCP_SETUP);
    let first = h.run_flow(&setup, json!({})).await;
    assert_success(&first);
    assert_eq!(output(&first, "create_gcs_bucket")["created"], json!(true));
    assert_eq!(output(&first, "create_bq_dataset")["location"], json!("europe-west2"));
    let second = h.run_flow(&setup, json!({})).await;
    assert_success(&second);
    assert_eq!(output(&second, "create_gcs_bucket")["created"], json!(false));
    assert_eq!(output(&second, "create_bq_dataset")["dataset"], json!(dataset));
    let logs = h.logs(&second.id).await.join("\n");
    assert!(logs.contains(&format!("Bucket '{bucket}' already exists, skipping")), "{logs}");
    assert!(logs.contains("already exists, skipping"), "{logs}");
    assert!(!logs.contains("MIIBVQ"), "the key is masked: {logs}");

    // 06_gcp_taxi on yellow, twice, then green.
    let taxi_flow = h.flow(&gcp_taxi_flow(&base));
    let inputs = json!({"taxi": "yellow", "year": "2019", "month": "01"});
    let run1 = h.run_flow(&taxi_flow, inputs.clone()).await;
    assert_success(&run1);
    assert_eq!(run1.labels_map()["file"], "yellow_tripdata_2019-01.csv");
    let file = "yellow_tripdata_2019-01.csv";
    assert_eq!(output(&run1, "upload_to_gcs")["uri"], json!(format!("gs://{bucket}/{file}")));
    assert!(emu.gcs_root.join(&bucket).join(file).exists(), "the CSV is in the bucket");
    assert_eq!(output(&run1, "bq_yellow_table_ext_load")["rows"], json!(rows));
    let main = format!("`test-proj.{dataset}.yellow_tripdata`");
    let month = format!("`test-proj.{dataset}.yellow_tripdata_2019_01`");
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {main}")).await, rows as i64);
    assert_eq!(count(&h, &format!("SELECT COUNT(DISTINCT unique_row_id) AS n FROM {main}")).await, rows as i64);
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {month} WHERE filename = '{file}'")).await, rows as i64);

    let run2 = h.run_flow(&taxi_flow, inputs).await;
    assert_success(&run2);
    let merge_logs = h.logs(&run2.id).await.join("\n");
    assert!(merge_logs.contains("0 rows affected"), "the second MERGE inserts nothing: {merge_logs}");
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {main}")).await, rows as i64);

    let green = h.run_flow(&taxi_flow, json!({"taxi": "green", "year": "2019", "month": "01"})).await;
    assert_success(&green);
    let green_main = format!("`test-proj.{dataset}.green_tripdata`");
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {green_main}")).await, rows as i64);
    let _ = std::fs::remove_dir_all(root);
}

// ---------------------------------------------------------- bay wheels ---

/// `rows` Bay Wheels rides of May 2019 in the `ride_id` layout, header first.
fn baywheels_csv(rows: usize) -> String {
    let stations = [
        ("Market St at 10th St", "SF-J23", 37.776_619, -122.417_385),
        ("San Francisco Caltrain (Townsend St at 4th St)", "SF-J29", 37.776_598, -122.395_282),
        ("Powell St BART Station (Market St at 4th St)", "SF-F27", 37.786_375, -122.404_904),
        ("Berry St at 4th St", "SF-K28", 37.775_880, -122.393_170),
        ("Grand Ave at Webster St", "OK-L5", 37.811_377, -122.265_192),
    ];
    let mut csv = String::from(
        "ride_id,rideable_type,started_at,ended_at,start_station_name,start_station_id,end_station_name,\
         end_station_id,start_lat,start_lng,end_lat,end_lng,member_casual\n",
    );
    for i in 0..rows {
        let (from, to) = (stations[i % stations.len()], stations[(i * 3 + 1) % stations.len()]);
        let (day, hour, minute) = (1 + i % 28, 6 + i % 15, (i * 7) % 50);
        csv.push_str(&format!(
            "{:016X},{},2019-05-{day:02} {hour:02}:{minute:02}:{:02},2019-05-{day:02} {hour:02}:{:02}:{:02},\
             {},{},{},{},{},{},{},{},{}\n",
            0xB4E1_0000_0000_0000u64 + i as u64 * 7919,
            if i % 4 == 0 { "electric_bike" } else { "classic_bike" },
            i % 60,
            minute + 3 + i % 7,
            (i * 11) % 60,
            from.0,
            from.1,
            to.0,
            to.1,
            from.2,
            from.3,
            to.2,
            to.3,
            if i % 3 == 0 { "casual" } else { "member" },
        ));
    }
    csv
}

/// One file, deflated into a zip archive.
fn zipped(name: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(name, options).unwrap();
    zip.write_all(data).unwrap();
    zip.finish().unwrap().into_inner()
}

/// `examples/baywheels_gcp.yaml` with one task added after the
/// external-table task: a `LoadFromGcs` of the month's CSV into that table,
/// because bqemulator creates external tables empty. Everything else is the
/// example's.
fn baywheels_flow() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/baywheels_gcp.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let anchor = "  - id: bq_baywheels_table_tmp\n";
    assert_eq!(text.matches(anchor).count(), 1, "{path} should have {anchor:?}");
    let load = "  - id: bq_baywheels_table_ext_load\n\
                \x20   type: io.kestra.plugin.gcp.bigquery.LoadFromGcs\n\
                \x20   from:\n\
                \x20     - \"{{render(vars.gcs_file)}}\"\n\
                \x20   destinationTable: \"{{kv('GCP_PROJECT_ID')}}.{{render(vars.table)}}_ext\"\n\
                \x20   writeDisposition: WRITE_TRUNCATE\n\
                \x20   ignoreUnknownValues: true\n\
                \x20   csvOptions:\n\
                \x20     skipLeadingRows: 1\n\n";
    text.replace(anchor, &format!("{load}{anchor}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bay_wheels_zip_to_bigquery_pipeline() {
    let (h, emu) = harness();
    let (bucket, dataset) = (unique("baywheels-"), unique("baywheels_"));
    let rows = 50;
    let file = "201905-baywheels-tripdata.csv";
    let archive = zipped(file, baywheels_csv(rows).as_bytes());
    let (root, base) = served(&[(&format!("{file}.zip"), archive.as_slice())]);

    // 04_gcp_kv and 05_gcp_setup, in the example's namespace (kv() reads
    // the flow's own namespace).
    let kv = gcp_kv_flow(&bucket, &dataset).replace("namespace: zoomcamp", "namespace: bay_wheels");
    let e = h.run(&kv, json!({"creds": fake_key()})).await;
    assert_success(&e);
    let setup = h.run(&GCP_SETUP.replace("namespace: zoomcamp", "namespace: bay_wheels"), json!({})).await;
    assert_success(&setup);
    assert_eq!(output(&setup, "create_gcs_bucket")["created"], json!(true));

    let flow = h.flow(&baywheels_flow());
    let inputs = json!({"year": "2019", "month": "05", "source_base": base.trim_end_matches('/')});
    let run1 = h.run_flow(&flow, inputs.clone()).await;
    assert_success(&run1);
    assert_eq!(run1.labels_map()["file"], file);
    assert_eq!(output(&run1, "unzip")["files"].as_object().unwrap().len(), 1);
    assert_eq!(output(&run1, "upload_to_gcs")["uri"], json!(format!("gs://{bucket}/{file}")));
    let stored = std::fs::read(emu.gcs_root.join(&bucket).join(file)).expect("the CSV is in the bucket");
    assert_eq!(stored, baywheels_csv(rows).as_bytes(), "the bucket holds the unzipped CSV");
    assert_eq!(output(&run1, "bq_baywheels_table_ext_load")["rows"], json!(rows));
    let main = format!("`test-proj.{dataset}.baywheels_tripdata`");
    let month = format!("`test-proj.{dataset}.baywheels_tripdata_2019_05`");
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {main}")).await, rows as i64);
    assert_eq!(count(&h, &format!("SELECT COUNT(DISTINCT unique_row_id) AS n FROM {main}")).await, rows as i64);
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {month} WHERE filename = '{file}'")).await, rows as i64);

    // The same month again: the MERGE inserts nothing.
    let run2 = h.run_flow(&flow, inputs).await;
    assert_success(&run2);
    let logs = h.logs(&run2.id).await.join("\n");
    assert!(logs.contains("0 rows affected"), "the second MERGE inserts nothing: {logs}");
    assert_eq!(count(&h, &format!("SELECT COUNT(*) AS n FROM {main}")).await, rows as i64);
    let _ = std::fs::remove_dir_all(root);
}
