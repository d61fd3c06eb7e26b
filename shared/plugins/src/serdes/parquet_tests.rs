//! Ion → Parquet → Ion: the levels of optional, repeated and nested values,
//! logical types, codecs and versions, row groups, bad lines, and what the
//! reader refuses.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::avro::{OnBad, write_options};
use super::parquet_read::read;
use super::parquet_write::{Props, options, write};
use super::test_support::{run_bytes, run_job};
use crate::parse_props;

const SCHEMA: &str = r#"{"type":"record","name":"trip","fields":[
    {"name":"id","type":"long"},
    {"name":"vendor","type":["null","string"]},
    {"name":"fare","type":["null",{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}]},
    {"name":"tip","type":"double"},
    {"name":"day","type":{"type":"int","logicalType":"date"}},
    {"name":"at","type":["null",{"type":"long","logicalType":"timestamp-micros"}]},
    {"name":"local","type":["null",{"type":"long","logicalType":"local-timestamp-millis"}]},
    {"name":"clock","type":["null",{"type":"int","logicalType":"time-millis"}]},
    {"name":"tags","type":{"type":"array","items":["null","string"]}},
    {"name":"stops","type":["null",{"type":"array","items":{"type":"record","name":"stop","fields":[
        {"name":"zone","type":"int"},{"name":"names","type":{"type":"array","items":"string"}}]}}]},
    {"name":"extra","type":{"type":"map","values":["null","long"]}},
    {"name":"driver","type":["null",{"type":"record","name":"driver","fields":[
        {"name":"name","type":"string"},{"name":"rating","type":["null","float"]}]}]},
    {"name":"kind","type":{"type":"enum","name":"kind","symbols":["CASH","CARD"]}},
    {"name":"ref","type":{"type":"string","logicalType":"uuid"}},
    {"name":"code","type":{"type":"fixed","name":"code","size":2,"logicalType":"decimal","precision":4,"scale":1}}]}"#;

/// Writes `ion` as Parquet with `props` (plus `from` and, unless given, `schema`).
fn to_parquet(ion: &str, props: Value) -> Result<Vec<u8>, String> {
    let mut map = props.as_object().cloned().unwrap_or_default();
    map.insert("from".into(), "kestra:///f.ion".into());
    map.entry("schema").or_insert(SCHEMA.into());
    let p: Props = parse_props(&map).map_err(|e| e.to_string())?;
    let (schema, convert, on_bad) = write_options(&p.schema, &p.convert).map_err(|e| e.to_string())?;
    let opts = options(&p).map_err(|e| e.to_string())?;
    run_bytes(ion.as_bytes().to_vec(), move |src, out| {
        write(src, out, &schema, &convert, on_bad, &opts, "kestra:///f.ion")
    })
}

/// A file removed on drop.
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Reads Parquet bytes back as Ion text.
fn to_ion(parquet: &[u8], on_bad: OnBad) -> Result<String, String> {
    let file = Temp(std::env::temp_dir().join(format!("baton-parquet-{}.parquet", uuid::Uuid::new_v4())));
    std::fs::File::create(&file.0).and_then(|mut f| f.write_all(parquet)).map_err(|e| e.to_string())?;
    let path = file.0.clone();
    run_job(Vec::new(), move |_, out| read(&path, out, on_bad, "kestra:///f.parquet"))
}

const ROW1: &str = r#"{id:1,vendor:"VeriFone",fare:12.50,tip:1.5,day:"2024-01-31",at:"2024-01-31T10:00:00.123456Z",local:"2024-01-31T10:00:00",clock:"10:30:00",tags:["a",null,"b"],stops:[{zone:3,names:["x","y"]},{zone:4,names:[]}],extra:{b:2,a:null},driver:{name:"Ann",rating:4.5},kind:"CARD",ref:"123e4567-e89b-12d3-a456-426614174000",code:"-1.5"}"#;
const ROW2: &str = r#"{id:2,vendor:null,fare:null,tip:0,day:"2024-02-01",at:null,local:null,clock:null,tags:[],stops:null,extra:{},driver:null,kind:"CASH",ref:"00000000-0000-0000-0000-000000000001",code:"99.9"}"#;

#[test]
fn every_shape_round_trips_through_parquet() {
    let parquet = to_parquet(&format!("{ROW1}\n{ROW2}\n"), json!({})).unwrap();
    assert_eq!(&parquet[..4], b"PAR1");
    assert_eq!(&parquet[parquet.len() - 4..], b"PAR1");
    let ion = to_ion(&parquet, OnBad::Error).unwrap();
    let lines: Vec<&str> = ion.lines().collect();
    assert_eq!(lines.len(), 2, "{ion}");
    assert_eq!(
        lines[0],
        concat!(
            r#"{"id":1,"vendor":"VeriFone","fare":12.50,"tip":1.5,"day":"2024-01-31","at":"2024-01-31T10:00:00.123456Z","#,
            r#""local":"2024-01-31T10:00:00","clock":"10:30:00","tags":["a",null,"b"],"#,
            r#""stops":[{"zone":3,"names":["x","y"]},{"zone":4,"names":[]}],"extra":{"a":null,"b":2},"#,
            r#""driver":{"name":"Ann","rating":4.5},"kind":"CARD","ref":"123e4567-e89b-12d3-a456-426614174000","code":-1.5}"#
        )
    );
    assert_eq!(
        lines[1],
        concat!(
            r#"{"id":2,"vendor":null,"fare":null,"tip":0.0,"day":"2024-02-01","at":null,"local":null,"clock":null,"#,
            r#""tags":[],"stops":null,"extra":{},"driver":null,"kind":"CASH","ref":"00000000-0000-0000-0000-000000000001","code":99.9}"#
        )
    );
}

#[test]
fn codecs_versions_and_small_row_groups_read_back_the_same() {
    let mut ion = String::new();
    for i in 0..3_000 {
        ion.push_str(&ROW1.replace("id:1,", &format!("id:{i},")));
        ion.push('\n');
    }
    let mut expected = None;
    for (codec, version) in [("UNCOMPRESSED", "V1"), ("SNAPPY", "V2"), ("GZIP", "V1"), ("ZSTD", "V2")] {
        let parquet = to_parquet(
            &ion,
            json!({"compressionCodec": codec, "parquetVersion": version, "rowGroupSize": 65536, "pageSize": 4096}),
        )
        .unwrap();
        let meta = parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(parquet.clone())).unwrap();
        let groups = parquet::file::reader::FileReader::metadata(&meta).num_row_groups();
        assert!(groups > 1, "{codec}: a 64 KiB row group bound gives several groups, got {groups}");
        let back = to_ion(&parquet, OnBad::Error).unwrap();
        assert_eq!(back.lines().count(), 3_000, "{codec}");
        match &expected {
            None => expected = Some(back),
            Some(e) => assert!(e == &back, "{codec} {version} reads back differently"),
        }
    }
}

#[test]
fn a_bad_line_fails_naming_it_or_is_skipped() {
    let schema = r#"{"type":"record","name":"r","fields":[{"name":"id","type":"long"}]}"#;
    let ion = "{id:1}\n{id:\"x\"}\n{id:3}\n";
    let e = to_parquet(ion, json!({"schema": schema})).unwrap_err();
    assert_eq!(e, "line 2 of kestra:///f.ion: field 'id': \"x\" is not a long");
    let parquet = to_parquet(ion, json!({"schema": schema, "onBadLines": "SKIP"})).unwrap();
    assert_eq!(to_ion(&parquet, OnBad::Error).unwrap(), "{\"id\":1}\n{\"id\":3}\n");
    // no record: a valid file with no row group
    let empty = to_parquet("", json!({"schema": schema})).unwrap();
    assert_eq!(to_ion(&empty, OnBad::Error).unwrap(), "");
}

#[test]
fn properties_are_checked() {
    let e = to_parquet("", json!({"compressionCodec": "LZO"})).unwrap_err();
    assert!(e.contains("compressionCodec") && e.contains("UNCOMPRESSED, SNAPPY, GZIP, ZSTD"), "{e}");
    let e = to_parquet("", json!({"parquetVersion": "V3"})).unwrap_err();
    assert!(e.contains("parquetVersion"), "{e}");
    let e = to_parquet("", json!({"rowGroupSize": 0})).unwrap_err();
    assert!(e.contains("rowGroupSize"), "{e}");
}

#[test]
fn the_reader_refuses_what_is_not_parquet_and_bytes_it_cannot_hold() {
    let e = to_ion(b"not parquet at all", OnBad::Error).unwrap_err();
    assert!(e.starts_with("kestra:///f.parquet is not a Parquet file"), "{e}");
    let schema = r#"{"type":"record","name":"r","fields":[{"name":"id","type":"int"},{"name":"blob","type":"bytes"}]}"#;
    let parquet = to_parquet("{id:1,blob:\"ab\"}\n{id:2,blob:\"cd\"}\n", json!({"schema": schema})).unwrap();
    let e = to_ion(&parquet, OnBad::Error).unwrap_err();
    assert_eq!(
        e,
        "row 1 of kestra:///f.parquet: field 'blob' holds bytes, which Baton's Ion files cannot hold (Ion blobs)"
    );
    assert_eq!(to_ion(&parquet, OnBad::Skip).unwrap(), "");
}
