//! CsvToIon over bytes: Kestra's reading rules, bounds and errors.

use serde_json::json;

use super::convert_bytes;

#[test]
fn rows_become_structs_of_strings() {
    let csv = "id,name,price\n1,Alice,12.50\n2,\"Bob, Jr\",\\N\n";
    assert_eq!(
        convert_bytes(csv.as_bytes(), json!({})).unwrap(),
        "{\"id\":\"1\",\"name\":\"Alice\",\"price\":\"12.50\"}\n{\"id\":\"2\",\"name\":\"Bob, Jr\",\"price\":null}\n"
    );
    // without a header: lists; another separator and quote; rows skipped
    let csv = "a;'b;c'\nd;e\nf;g\n";
    let props = json!({"header": false, "fieldSeparator": ";", "textDelimiter": "'", "skipRows": 1});
    assert_eq!(convert_bytes(csv.as_bytes(), props).unwrap(), "[\"d\",\"e\"]\n[\"f\",\"g\"]\n");
}

#[test]
fn empty_lines_are_records_unless_skipped() {
    let csv = "a\n1\n\n2\n";
    assert_eq!(convert_bytes(csv.as_bytes(), json!({})).unwrap(), "{\"a\":\"1\"}\n{\"a\":\"\"}\n{\"a\":\"2\"}\n");
    assert_eq!(
        convert_bytes(csv.as_bytes(), json!({"skipEmptyRows": true})).unwrap(),
        "{\"a\":\"1\"}\n{\"a\":\"2\"}\n"
    );
    // with two columns, an empty line is a bad line, named by its number
    let e = convert_bytes(b"a,b\n1,2\n\n3,4\n", json!({})).unwrap_err();
    assert!(e.contains("on line 3 of kestra:///t/f.csv: Expected 2, got 1 fields"), "{e}");
}

#[test]
fn bad_lines_fail_warn_or_are_skipped() {
    let csv = b"a,b\n1,2\n3\n4,5,6\n7,8\n";
    let e = convert_bytes(csv, json!({})).unwrap_err();
    assert!(e.contains("line 3"), "{e}");
    for mode in ["WARN", "SKIP"] {
        assert_eq!(
            convert_bytes(csv, json!({"onBadLines": mode})).unwrap(),
            "{\"a\":\"1\",\"b\":\"2\"}\n{\"a\":\"7\",\"b\":\"8\"}\n"
        );
    }
    assert!(convert_bytes(csv, json!({"onBadLines": "MAYBE"})).is_err());
}

#[test]
fn unnamed_header_columns_are_dropped_or_renamed() {
    let csv = b"a,,\n1,2,3\n";
    assert_eq!(convert_bytes(csv, json!({})).unwrap(), "{\"a\":\"1\"}\n");
    assert_eq!(
        convert_bytes(csv, json!({"onEmptyHeader": "RENAME"})).unwrap(),
        "{\"a\":\"1\",\"col_1\":\"2\",\"col_2\":\"3\"}\n"
    );
}

#[test]
fn charset_bom_quotes_and_newlines_in_fields() {
    assert_eq!(convert_bytes(b"\xef\xbb\xbfa\n\"x\"\"y\nz\"\n", json!({})).unwrap(), "{\"a\":\"x\\\"y\\nz\"}\n");
    assert_eq!(convert_bytes(b"a\ncaf\xe9\n", json!({"charset": "ISO-8859-1"})).unwrap(), "{\"a\":\"café\"}\n");
    // a quoted field over two lines: the next record's line is still right
    let e = convert_bytes(b"a,b\n\"1\n2\",3\n4\n", json!({})).unwrap_err();
    assert!(e.contains("on line 4 "), "{e}");
}

#[test]
fn fields_and_records_are_bounded() {
    let csv = format!("a,b\n{},1\n", "x".repeat(100));
    let e = convert_bytes(csv.as_bytes(), json!({"maxFieldSize": 50})).unwrap_err();
    assert!(e.contains("field 1 on line 2") && e.contains("maxFieldSize (50 bytes)"), "{e}");
    let big = format!("a\n\"{}\"\n", "y".repeat(200_000));
    let e = convert_bytes(big.as_bytes(), json!({"maxBufferSize": 100_000})).unwrap_err();
    assert!(e.contains("longer than 100000 bytes"), "{e}");
    assert!(convert_bytes(b"a\n1\n", json!({"fieldSeparator": ";;"})).is_err());
}
