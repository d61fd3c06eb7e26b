//! Parquet serdes end to end, held to DuckDB as an independent Parquet
//! implementation: a file DuckDB writes (integers, text, an INT32
//! decimal, dates, local and UTC timestamps, lists, structs, maps, nulls)
//! read by `ParquetToIon`; the Ion written back by `IonToParquet` and read
//! by DuckDB with the same values; and without DuckDB, a flow's Ion →
//! Parquet → Ion round trip and a schema with no Parquet form refused at
//! validation naming the field.

use serde_json::{Value, json};
use shared::model::{Execution, StateType};

use crate::support::{harness, runs};

fn out(e: &Execution, task_id: &str) -> Value {
    let r = runs(e, task_id);
    assert_eq!(r.len(), 1, "one run of {task_id}");
    r[0].outputs.as_deref().cloned().map(Value::Object).unwrap_or(Value::Null)
}

#[cfg(feature = "duckdb")]
const DUCK: &str = r#"
id: duck_parquet_serdes
namespace: test.parquet
tasks:
  - id: write
    type: io.kestra.plugin.jdbc.duckdb.Queries
    outputFiles: [out]
    sql: |
      COPY (
        SELECT * FROM (
          SELECT 1::INTEGER AS id, 'a'::VARCHAR AS name, 12.50::DECIMAL(9,2) AS fare, DATE '2024-01-31' AS day,
                 TIMESTAMP '2024-01-31 10:00:00.5' AS local_at, TIMESTAMPTZ '2024-01-31 10:00:00+00' AS at,
                 [1, 2, NULL]::INTEGER[] AS nums, {'zone': 3, 'label': 'x'} AS stop, MAP {'k': 1} AS m, NULL::DOUBLE AS ratio
          UNION ALL
          SELECT 2, NULL, -0.05, DATE '1970-01-01', NULL, NULL, []::INTEGER[], NULL, MAP {'z': 2, 'y': NULL}, 2.5
        ) ORDER BY id
      ) TO '{{ outputFiles.out }}' (FORMAT parquet);
  - id: to_ion
    type: io.kestra.plugin.serdes.parquet.ParquetToIon
    from: "{{ outputs.write.outputFiles.out }}"
  - id: to_parquet
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{ outputs.to_ion.uri }}"
    compressionCodec: SNAPPY
    schema: |
      {"type": "record", "name": "row", "fields": [
        {"name": "id", "type": "int"},
        {"name": "name", "type": ["null", "string"]},
        {"name": "fare", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "local_at", "type": ["null", {"type": "long", "logicalType": "local-timestamp-micros"}]},
        {"name": "at", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]},
        {"name": "nums", "type": {"type": "array", "items": ["null", "int"]}},
        {"name": "stop", "type": ["null", {"type": "record", "name": "stop", "fields": [
          {"name": "zone", "type": "int"}, {"name": "label", "type": "string"}]}]},
        {"name": "m", "type": {"type": "map", "values": ["null", "int"]}},
        {"name": "ratio", "type": ["null", "double"]}]}
  - id: read_back
    type: io.kestra.plugin.jdbc.duckdb.Query
    inputFiles:
      back.parquet: "{{ outputs.to_parquet.uri }}"
    sql: |
      SELECT id, name, fare::VARCHAR AS fare, day::VARCHAR AS day, local_at::VARCHAR AS local_at,
             epoch_ms("at") AS at_ms, nums::VARCHAR AS nums, stop.zone AS zone, stop.label AS label,
             m::VARCHAR AS m, ratio
      FROM read_parquet('{{ workingDir }}/back.parquet') ORDER BY id
    fetchType: FETCH
"#;

#[cfg(feature = "duckdb")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_parquet_reads_as_ion_and_ion_writes_parquet_duckdb_reads() {
    let h = harness();
    let e = h.run(DUCK, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let ion = String::from_utf8(h.read_storage(out(&e, "to_ion")["uri"].as_str().unwrap()).await).unwrap();
    let lines: Vec<&str> = ion.lines().collect();
    assert_eq!(
        lines,
        [
            concat!(
                r#"{"id":1,"name":"a","fare":12.50,"day":"2024-01-31","local_at":"2024-01-31T10:00:00.500","#,
                r#""at":"2024-01-31T10:00:00Z","nums":[1,2,null],"stop":{"zone":3,"label":"x"},"m":{"k":1},"ratio":null}"#
            ),
            concat!(
                r#"{"id":2,"name":null,"fare":-0.05,"day":"1970-01-01","local_at":null,"at":null,"nums":[],"#,
                r#""stop":null,"m":{"z":2,"y":null},"ratio":2.5}"#
            ),
        ],
        "{ion}"
    );
    assert_eq!(out(&e, "to_parquet")["size"], json!(2));
    let rows = &out(&e, "read_back")["rows"];
    assert_eq!(
        rows,
        &json!([
            {"id": 1, "name": "a", "fare": "12.50", "day": "2024-01-31", "local_at": "2024-01-31 10:00:00.5",
             "at_ms": 1_706_695_200_000i64, "nums": "[1, 2, NULL]", "zone": 3, "label": "x", "m": "{k=1}", "ratio": null},
            {"id": 2, "name": null, "fare": "-0.05", "day": "1970-01-01", "local_at": null,
             "at_ms": null, "nums": "[]", "zone": null, "label": null, "m": "{y=NULL, z=2}", "ratio": 2.5}
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_round_trips_ion_through_parquet() {
    let h = harness();
    let e = h
        .run(
            r#"
id: parquet_round_trip
namespace: test.parquet
tasks:
  - id: rows
    type: io.kestra.plugin.core.storage.Write
    extension: .ion
    content: |
      {id:1,zone:"Astoria",fare:12.5,at:"2024-01-31T10:00:00Z"}
      {id:2,zone:null,fare:"3,25",at:"2024-02-01T00:00:00+01:00"}
  - id: to_parquet
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: "{{ outputs.rows.uri }}"
    decimalSeparator: ","
    schema: |
      {"type": "record", "name": "trip", "fields": [
        {"name": "id", "type": "long"},
        {"name": "zone", "type": ["null", "string"]},
        {"name": "fare", "type": "double"},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}
  - id: to_ion
    type: io.kestra.plugin.serdes.parquet.ParquetToIon
    from: "{{ outputs.to_parquet.uri }}"
"#,
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let parquet = out(&e, "to_parquet");
    assert!(parquet["uri"].as_str().unwrap().ends_with(".parquet"), "{parquet}");
    let bytes = h.read_storage(parquet["uri"].as_str().unwrap()).await;
    assert_eq!(&bytes[..4], b"PAR1");
    let ion = String::from_utf8(h.read_storage(out(&e, "to_ion")["uri"].as_str().unwrap()).await).unwrap();
    assert_eq!(
        ion,
        "{\"id\":1,\"zone\":\"Astoria\",\"fare\":12.5,\"at\":\"2024-01-31T10:00:00Z\"}\n\
         {\"id\":2,\"zone\":null,\"fare\":3.25,\"at\":\"2024-01-31T23:00:00Z\"}\n"
    );
    assert_eq!(out(&e, "to_ion")["size"], json!(2));
}

#[test]
fn a_schema_with_no_parquet_form_is_refused_naming_the_field() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let flow = r#"id: f
namespace: n
tasks:
  - id: p
    type: io.kestra.plugin.serdes.parquet.IonToParquet
    from: kestra:///x.ion
    schema: '{"type": "record", "name": "r", "fields": [{"name": "either", "type": ["int", "string"]}]}'
"#;
    let (_, diags) = shared::validate::validate_source("f.yaml", flow, &registry, &renderer);
    let text = format!("{diags:?}");
    assert!(text.contains("field 'either': a union of several types"), "{text}");
}
