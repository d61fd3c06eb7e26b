//! Unit tests for input resolution and definition checks.

use chrono::TimeZone;
use serde_json::json;

use super::*;

/// Input definitions as a flow's reader reads them (older spellings included).
fn inputs(v: Value) -> Vec<Input> {
    v.as_array().expect("a list").iter().map(|i| Input::read(i).expect("valid input definitions")).collect()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, 9).unwrap()
}

fn given(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn ok(defs: Value, g: Value) -> Map<String, Value> {
    resolve_inputs(&inputs(defs), &given(g), now()).expect("resolves")
}

fn errs(defs: Value, g: Value) -> Vec<String> {
    resolve_inputs(&inputs(defs), &given(g), now()).expect_err("fails").iter().map(|e| e.to_string()).collect()
}

#[test]
fn required_by_default_and_missing_is_reported() {
    let e = errs(json!([{"id": "year", "type": "INT"}]), json!({}));
    assert_eq!(e, vec!["Missing required input 'year'"]);
}

#[test]
fn optional_without_value_is_null_and_defaults_apply() {
    let r = ok(
        json!([
            {"id": "a", "type": "STRING", "required": false},
            {"id": "b", "type": "INT", "defaults": 3},
            {"id": "c", "type": "STRING", "defaults": "x"}
        ]),
        json!({"unknown": "ignored"}),
    );
    assert_eq!(r["a"], Value::Null);
    assert_eq!(r["b"], 3);
    assert_eq!(r["c"], "x");
    assert!(!r.contains_key("unknown"));
    assert_eq!(r.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
}

#[test]
fn int_from_cli_string_and_errors() {
    let d = json!([{"id": "year", "type": "INT", "min": 2019, "max": 2021}]);
    assert_eq!(ok(d.clone(), json!({"year": "2019"}))["year"], 2019);
    assert_eq!(ok(d.clone(), json!({"year": 2020}))["year"], 2020);
    assert_eq!(
        errs(d.clone(), json!({"year": "abc"})),
        vec!["Invalid value for input 'year': expected INT, got 'abc'"]
    );
    assert_eq!(
        errs(d, json!({"year": "2030"})),
        vec!["Invalid value for input 'year': expected INT between 2019 and 2021, got '2030'"]
    );
}

#[test]
fn float_bool_string_validator() {
    let d = json!([
        {"id": "f", "type": "FLOAT"},
        {"id": "b", "type": "BOOLEAN"},
        {"id": "b2", "type": "BOOL"},
        {"id": "s", "type": "STRING", "validator": "\\d{4}"}
    ]);
    let r = ok(d.clone(), json!({"f": "1.5", "b": "true", "b2": false, "s": "2019"}));
    assert_eq!(r["f"], 1.5);
    assert_eq!(r["b"], true);
    assert_eq!(r["b2"], false);
    assert_eq!(r["s"], "2019");
    let e = errs(d, json!({"f": "x", "b": "yes", "b2": "no", "s": "20190"}));
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(e[3].contains("expected STRING matching '\\d{4}', got '20190'"), "{e:?}");
}

#[test]
fn select_respects_values_and_custom() {
    let d = json!([
        {"id": "taxi", "type": "SELECT", "values": ["yellow", "green"], "defaults": "yellow"},
        {"id": "month", "type": "SELECT", "values": ["01", "02"], "allowCustomValue": true}
    ]);
    let r = ok(d.clone(), json!({"month": "13"}));
    assert_eq!(r["taxi"], "yellow");
    assert_eq!(r["month"], "13");
    let e = errs(d, json!({"taxi": "red", "month": "01"}));
    assert_eq!(e, vec!["Invalid value for input 'taxi': expected SELECT (one of: yellow, green), got 'red'"]);
}

#[test]
fn multiselect_and_array_forms() {
    let d = json!([
        {"id": "m", "type": "MULTISELECT", "values": ["a", "b", "c"]},
        {"id": "cols", "type": "ARRAY", "itemType": "STRING", "defaults": ["brand", "price"]},
        {"id": "nums", "type": "ARRAY", "itemType": "INT"}
    ]);
    let r = ok(d.clone(), json!({"m": "[\"a\",\"c\"]", "nums": "1, 2,3"}));
    assert_eq!(r["m"], json!(["a", "c"]));
    assert_eq!(r["cols"], json!(["brand", "price"]));
    assert_eq!(r["nums"], json!([1, 2, 3]));
    let r = ok(d.clone(), json!({"m": "a,b", "nums": [4]}));
    assert_eq!(r["m"], json!(["a", "b"]));
    assert_eq!(r["nums"], json!([4]));
    let e = errs(d, json!({"m": ["z"], "nums": "[1, \"x\"]"}));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[1].contains("expected ARRAY of INT (item 1: expected INT), got 'x'"), "{e:?}");
}

#[test]
fn dates_times_durations() {
    let d = json!([
        {"id": "dt", "type": "DATETIME"},
        {"id": "dt2", "type": "DATETIME"},
        {"id": "d", "type": "DATE"},
        {"id": "t", "type": "TIME"},
        {"id": "dur", "type": "DURATION"}
    ]);
    let r = ok(
        d.clone(),
        json!({"dt": "2019-01-01T10:00:00+01:00", "dt2": "2019-01-01T00:00:00.500Z", "d": "2019-03-01",
               "t": "09:30", "dur": "PT90M"}),
    );
    assert_eq!(r["dt"], "2019-01-01T09:00:00Z");
    assert_eq!(r["dt2"], "2019-01-01T00:00:00.500Z");
    assert_eq!(r["d"], "2019-03-01");
    assert_eq!(r["t"], "09:30:00");
    assert_eq!(r["dur"], "PT1H30M");
    let e = errs(
        d,
        json!({"dt": "yesterday", "dt2": "2019-13-01T00:00:00Z", "d": "01/03/2019", "t": "25:00", "dur": "5m"}),
    );
    assert_eq!(e.len(), 5, "{e:?}");
}

#[test]
fn datetime_bounds_and_now_default() {
    let d = json!([
        {"id": "dt", "type": "DATETIME", "after": "2020-01-01T00:00:00Z", "defaults": "{{ now() }}"},
        {"id": "d", "type": "DATE", "defaults": "{{now()}}"},
        {"id": "tpl", "type": "INT", "defaults": "{{ vars.x }}"}
    ]);
    let r = ok(d.clone(), json!({}));
    assert_eq!(r["dt"], "2024-05-06T07:08:09Z");
    assert_eq!(r["d"], "2024-05-06");
    assert_eq!(r["tpl"], "{{ vars.x }}");
    let e = errs(d, json!({"dt": "2019-01-01T00:00:00Z"}));
    assert_eq!(
        e,
        vec!["Invalid value for input 'dt': expected DATETIME after 2020-01-01T00:00:00Z, got '2019-01-01T00:00:00Z'"]
    );
}

#[test]
fn json_yaml_uri_email_secret_file() {
    let d = json!([
        {"id": "j", "type": "JSON"},
        {"id": "y", "type": "YAML"},
        {"id": "u", "type": "URI"},
        {"id": "e", "type": "EMAIL"},
        {"id": "s", "type": "SECRET"},
        {"id": "f", "type": "FILE"}
    ]);
    let r = ok(
        d.clone(),
        json!({"j": "{\"a\": [1]}", "y": "a: 1\nb: [x]", "u": "https://example.com/x.csv",
               "e": "me@example.com", "s": "hunter2", "f": "/tmp/data.csv"}),
    );
    assert_eq!(r["j"], json!({"a": [1]}));
    assert_eq!(r["y"], json!({"a": 1, "b": ["x"]}));
    assert_eq!(r["u"], "https://example.com/x.csv");
    assert_eq!(r["f"], "/tmp/data.csv");
    let r2 = ok(
        d.clone(),
        json!({"j": {"k": true}, "y": "x", "u": "s3://b/k", "e": "a@b.io", "s": "x", "f": "kestra:///a"}),
    );
    assert_eq!(r2["j"], json!({"k": true}));
    let e = errs(d, json!({"j": "{bad", "y": "a: [", "u": "not a uri", "e": "nope", "s": [1], "f": 3}));
    assert_eq!(e.len(), 6, "{e:?}");
}

#[test]
fn empty_string_counts_as_absent_except_for_strings() {
    let d = json!([{"id": "n", "type": "INT", "defaults": 5}, {"id": "s", "type": "STRING"}]);
    let r = ok(d, json!({"n": "", "s": ""}));
    assert_eq!(r["n"], 5);
    assert_eq!(r["s"], "");
}

#[test]
fn all_errors_at_once() {
    let d = json!([{"id": "a", "type": "INT"}, {"id": "b", "type": "INT"}, {"id": "c", "type": "BOOL"}]);
    let e = resolve_inputs(&inputs(d), &given(json!({"b": "x", "c": "maybe"})), now()).unwrap_err();
    assert_eq!(e.iter().map(InputError::id).collect::<Vec<_>>(), ["a", "b", "c"]);
}

#[test]
fn definitions_are_checked() {
    let d = inputs(json!([
        {"id": "a", "type": "STRING"},
        {"id": "a", "type": "STRING"},
        {"id": "-bad", "type": "STRING"},
        {"id": "sel", "type": "SELECT"},
        {"id": "arr", "type": "ARRAY"},
        {"id": "n", "type": "INT", "defaults": "abc"},
        {"id": "taxi", "type": "SELECT", "values": ["yellow"], "defaults": "red"},
        {"id": "re", "type": "STRING", "validator": "(unclosed"},
        {"id": "mm", "type": "INT", "min": 5, "max": 1},
        {"id": "dt", "type": "DATETIME", "after": "soon"},
        {"id": "ok", "type": "SELECT", "values": ["x"], "defaults": "{{ vars.v }}"}
    ]));
    let p = check_definitions(&d);
    let idx: Vec<usize> = p.iter().map(|(i, _)| *i).collect();
    assert_eq!(idx, [1, 2, 3, 4, 5, 6, 7, 8, 9], "{p:?}");
    assert_eq!(p[0].1, "Duplicate input with name [a]");
    assert!(p[2].1.contains("needs a non-empty 'values'"));
    assert!(p[3].1.contains("needs 'itemType'"));
    assert_eq!(p[4].1, "invalid defaults for input 'n': expected INT, got 'abc'");
    assert!(p[5].1.contains("expected SELECT (one of: yellow), got 'red'"));
    assert!(p[6].1.starts_with("invalid validator for input 're': '(unclosed' is not a valid regex"), "{}", p[6].1);
    assert!(!p[6].1.contains('\n'));
}

#[test]
fn valid_definitions_pass() {
    let d = inputs(json!([
        {"id": "taxi", "type": "SELECT", "displayName": "Taxi", "values": ["yellow", "green"], "defaults": "green"},
        {"id": "cols", "type": "ARRAY", "itemType": "STRING", "defaults": ["brand", "price"]},
        {"id": "year", "type": "INT", "defaults": 2019, "min": 2019},
        {"id": "when", "type": "DATETIME", "defaults": "2019-01-01T00:00:00Z"},
        {"name": "legacy.name", "type": "STRING", "required": false}
    ]));
    assert!(check_definitions(&d).is_empty(), "{:?}", check_definitions(&d));
}

#[test]
fn duration_min_and_max_are_iso_durations() {
    let d = json!([{"id": "d", "type": "DURATION", "min": "PT10S", "max": "PT20S"}]);
    assert_eq!(ok(d.clone(), json!({"d": "PT15S"}))["d"], "PT15S");
    let e = errs(d.clone(), json!({"d": "PT5S"}));
    assert!(e[0].contains("DURATION between PT10S and PT20S"), "{e:?}");
    let e = errs(d, json!({"d": "PT1M"}));
    assert!(e[0].contains("between PT10S and PT20S"), "{e:?}");
    let bad: Result<Vec<Input>, _> = serde_json::from_value(json!([{"id": "d", "type": "DURATION", "min": "soon"}]));
    assert!(bad.unwrap_err().to_string().contains("'soon'"));
}

#[test]
fn a_json_input_is_checked_against_its_json_schema_naming_the_failing_path() {
    let defs = json!([{"id": "cfg", "type": "JSON", "jsonSchema": {
        "type": "object", "required": ["zip"], "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}}
    }}]);
    let r = ok(defs.clone(), json!({"cfg": "{\"zip\": \"75001\"}"}));
    assert_eq!(r["cfg"], json!({"zip": "75001"}));
    let e = errs(defs.clone(), json!({"cfg": {"zip": 75001}}));
    assert!(e[0].contains("$.zip: expected string, got 75001"), "{e:?}");
    let e = errs(defs, json!({"cfg": "{}"}));
    assert!(e[0].contains("missing required property 'zip'"), "{e:?}");
    // the definition itself: a JSON input only, supported keywords only
    let bad = inputs(json!([
        {"id": "s", "type": "STRING", "jsonSchema": {"type": "string"}},
        {"id": "j", "type": "JSON", "jsonSchema": {"$ref": "#/x"}}
    ]));
    let problems: Vec<String> = check_definitions(&bad).into_iter().map(|(_, m)| m).collect();
    assert!(problems[0].contains("jsonSchema applies to JSON inputs only"), "{problems:?}");
    assert!(problems[1].contains("keyword '$ref' is not supported"), "{problems:?}");
}

#[test]
fn inputs_over_the_bound_are_refused_naming_the_largest() {
    let inputs: Vec<Input> = serde_json::from_value(serde_json::json!([
        {"id": "small", "type": "STRING"},
        {"id": "big", "type": "STRING"}
    ]))
    .expect("inputs");
    let now = chrono::Utc::now();
    let given = |n: usize| {
        serde_json::Map::from_iter([
            ("small".to_string(), serde_json::json!("x")),
            ("big".to_string(), serde_json::json!("y".repeat(n))),
        ])
    };
    assert!(resolve_inputs(&inputs, &given(MAX_INPUTS_BYTES - 100), now).is_ok());
    let e = resolve_inputs(&inputs, &given(MAX_INPUTS_BYTES), now).expect_err("too large");
    assert_eq!(e.len(), 1);
    let msg = e[0].to_string();
    assert!(msg.contains("Input 'big' is too large") && msg.contains("512 KiB (MAX_INPUTS_BYTES)"), "{msg}");
}
