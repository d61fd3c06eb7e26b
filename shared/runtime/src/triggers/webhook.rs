//! `io.kestra.plugin.core.trigger.Webhook`: starts an execution when a
//! request reaches `/api/v1/executions/webhook/{namespace}/{flowId}/{key}`
//! (served by `api::webhook`). This module is the pure part: the trigger's
//! properties and checks, and the trigger variables Kestra gives the
//! execution from the request (`trigger.body`, `trigger.headers`,
//! `trigger.parameters`), with no I/O.
//!
//! - `body`: a JSON object or array is parsed; any other text is kept as
//!   text; a binary body (a content type that is not text, JSON, XML,
//!   urlencoded, YAML or CSV, or bytes that are not UTF-8) is base64, as
//!   Kestra does; no body is `null`.
//! - `headers` and `parameters`: every name maps to the list of its values
//!   (`?age=12&age=13` → `{"age": ["12", "13"]}`), as Kestra shapes them.
//! - `responseCode`: with `wait`, the answer's status ([`status_code`]).
//! - `fetchType: STORE`: the body goes to internal storage instead, as
//!   `trigger.uri` ([`Settings::store_body`]).
//! - a `multipart/form-data` body: its file parts go to internal storage,
//!   as `trigger.parts` (part name → `kestra://` URI), its other fields are
//!   `trigger.formFields` (name → text; a name sent more than once → the
//!   list of its texts), and there is no `trigger.body`.

use std::sync::LazyLock;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{InputsProp, StopAfterProp, TriggerDef, TriggerProblem, WhenProp, prop};
use crate::model::{Flow, Trigger};
use crate::plugins::Declare;

pub const TYPE: &str = "io.kestra.plugin.core.trigger.Webhook";

/// The content types a `wait`/`returnOutputs` webhook may answer with.
pub const RESPONSE_CONTENT_TYPES: &[&str] = &["application/json", "text/plain"];

/// Start an execution from an HTTP request.
///
/// Starts an execution when an HTTP request reaches the flow's webhook URL; the key in the URL is the credential.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    aliases = ["io.kestra.core.models.triggers.types.Webhook"],
    example = "id: hook\ntype: io.kestra.plugin.core.trigger.Webhook\nkey: 4wjtkzwVGBM9yKnjm3yv8r\n",
)]
struct WebhookProps {
    /// The secret part of the webhook URL.
    #[prop(kind = "String", required)]
    key: Option<Value>,
    #[serde(flatten)]
    inputs: InputsProp,
    /// Answer the request only once the execution ended.
    #[prop(kind = "Boolean", default = "false")]
    wait: Option<Value>,
    /// With wait: answer with the execution's outputs.
    #[prop(kind = "Boolean", default = "false")]
    return_outputs: Option<Value>,
    /// The Content-Type of the answer.
    #[prop(kind = "String", values = ["application/json", "text/plain"])]
    response_content_type: Option<Value>,
    /// With wait: the answer's HTTP status instead of 200 (500 for a FAILED execution); rendered against the ended execution.
    #[prop(kind = "Integer", dynamic)]
    response_code: Option<Value>,
    /// FETCH: the body is `trigger.body` (base64 when binary); STORE: the body is stored in internal storage as `trigger.uri`. A multipart body's files are always stored (`trigger.parts`).
    #[prop(kind = "String", values = ["FETCH", "STORE"], default = "\"FETCH\"")]
    fetch_type: Option<Value>,
    #[serde(flatten)]
    stop_after: StopAfterProp,
    #[serde(flatten)]
    when: WhenProp,
}

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<WebhookProps>(check, crate::conditions::ConditionUse::Webhook));

fn check(trig: &Trigger, flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = super::check_stop_after(trig);
    if prop(trig, "key").is_none() {
        out.push(TriggerProblem::at("", format!("trigger '{}': a Webhook needs 'key'", trig.id)));
    }
    if let Some(ct) = prop(trig, "responseContentType") {
        match ct.as_str() {
            // as in Kestra, it shapes only a `wait` + `returnOutputs` answer
            Some(s) if RESPONSE_CONTENT_TYPES.contains(&s) => {}
            _ => out.push(TriggerProblem::at(
                "responseContentType",
                format!(
                    "trigger '{}': responseContentType must be one of {}",
                    trig.id,
                    RESPONSE_CONTENT_TYPES.join(", ")
                ),
            )),
        }
    }
    if let Some(code) = prop(trig, "responseCode")
        && !code.as_str().is_some_and(crate::template::is_template)
        && status_code(code).is_none()
    {
        out.push(TriggerProblem::at(
            "responseCode",
            format!("trigger '{}': responseCode must be an HTTP status code (100 to 599), got {code}", trig.id),
        ));
    }
    if let Some(ft) = prop(trig, "fetchType")
        && !matches!(ft.as_str(), Some(FETCH | STORE))
    {
        out.push(TriggerProblem::at(
            "fetchType",
            format!("trigger '{}': fetchType must be FETCH or STORE, got {ft}", trig.id),
        ));
    }
    super::schedule::check_trigger_inputs(flow, prop(trig, "inputs"), &mut out);
    out
}

/// `fetchType` values: the body in the trigger variables, or in storage.
const FETCH: &str = "FETCH";
const STORE: &str = "STORE";

/// `responseCode` (written or rendered) as an HTTP status code: an integer
/// from 100 to 599, or a string of one.
pub fn status_code(v: &Value) -> Option<u16> {
    let n = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    u16::try_from(n).ok().filter(|c| (100..=599).contains(c))
}

/// What a webhook trigger asks of its response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// Answer when the execution ends, not when it is created.
    pub wait: bool,
    /// Answer with the flow's outputs instead of the execution.
    pub return_outputs: bool,
    /// `text/plain` answers outputs as text (a string as it is).
    pub text_response: bool,
    /// `responseCode` as written (rendered against the ended execution).
    pub response_code: Option<Value>,
    /// `fetchType: STORE`: the body is stored, `trigger.uri`, not `trigger.body`.
    pub store_body: bool,
}

impl Settings {
    /// The settings as written on `trig` (validation checked their kinds).
    pub fn of(trig: &Trigger) -> Settings {
        let flag = |k: &str| prop(trig, k).and_then(Value::as_bool).unwrap_or(false);
        Settings {
            wait: flag("wait"),
            return_outputs: flag("returnOutputs"),
            text_response: prop(trig, "responseContentType").and_then(Value::as_str) == Some("text/plain"),
            response_code: prop(trig, "responseCode").cloned(),
            store_body: prop(trig, "fetchType").and_then(Value::as_str) == Some(STORE),
        }
    }
}

/// Whether `content_type` is one Kestra reads as text (else the body is base64).
fn is_textual(content_type: &str) -> bool {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    ct.is_empty()
        || ct.starts_with("text/")
        || ct.ends_with("json")
        || ct.ends_with("xml")
        || ct.ends_with("yaml")
        || ct.ends_with("csv")
        || ct == "application/x-www-form-urlencoded"
}

/// `trigger.body`: `null` without a body, parsed JSON when it is a JSON
/// object or array, base64 for a binary body, the text otherwise.
pub fn body(content_type: Option<&str>, bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) if content_type.is_none_or(is_textual) => t,
        _ => return Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
    };
    match serde_json::from_str::<Value>(text) {
        Ok(v @ (Value::Object(_) | Value::Array(_))) => v,
        _ => Value::String(text.to_string()),
    }
}

/// `name → [values…]`, in order of appearance.
pub fn multimap<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in pairs {
        let slot = out.entry(k.into()).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = slot {
            values.push(Value::String(v.into()));
        }
    }
    out
}

/// The trigger variables of one request: what its body gave (`body`,
/// absent when there is none as Kestra leaves it null; or `uri`; or
/// `parts` and `formFields`), then `headers` and `parameters`.
pub fn variables(
    from_body: Map<String, Value>,
    headers: Map<String, Value>,
    parameters: Map<String, Value>,
) -> Map<String, Value> {
    let mut vars = from_body;
    vars.insert("headers".into(), Value::Object(headers));
    vars.insert("parameters".into(), Value::Object(parameters));
    vars
}

/// Whether `content_type` is a multipart form (`trigger.parts`, `trigger.formFields`).
pub fn is_multipart(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Where a request's stored body or file part goes: Kestra's folder of a
/// trigger's files, `{execution}/trigger/{triggerId}/…`, under a name made
/// safe as one path segment each (no `/`, no `..`).
pub fn stored_path(execution_prefix: &str, trigger_id: &str, part: Option<&str>, file_name: &str) -> String {
    let file = safe_segment(std::path::Path::new(file_name).file_name().and_then(|f| f.to_str()).unwrap_or("body"));
    match part {
        Some(p) => format!("{execution_prefix}/trigger/{trigger_id}/parts/{}/{file}", safe_segment(p)),
        None => format!("{execution_prefix}/trigger/{trigger_id}/{file}"),
    }
}

/// `name` as one path segment: characters other than letters, digits,
/// `.`, `_` and `-` become `_`; an empty name or one of dots only is `_`.
fn safe_segment(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    if s.chars().all(|c| c == '.') { "_".to_string() } else { s }
}

/// The name a stored body takes: `body` with the extension of its content
/// type (`body.json`, `body.txt`, `body.csv`, `body.xml`), else `body.bin`.
pub fn body_file_name(content_type: Option<&str>) -> &'static str {
    let ct = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if ct.ends_with("json") {
        "body.json"
    } else if ct.ends_with("csv") {
        "body.csv"
    } else if ct.ends_with("xml") {
        "body.xml"
    } else if ct.starts_with("text/") {
        "body.txt"
    } else {
        "body.bin"
    }
}

/// `trigger.formFields`: each field's text, or the list of its texts when
/// the form sent the name more than once.
pub fn form_fields(pairs: impl IntoIterator<Item = (String, String)>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in pairs {
        match out.get_mut(&k) {
            None => {
                out.insert(k, Value::String(v));
            }
            Some(Value::Array(values)) => values.push(Value::String(v)),
            Some(first) => *first = Value::Array(vec![first.take(), Value::String(v)]),
        }
    }
    out
}

/// Compares a key given in a URL with a trigger's key in time that does not
/// depend on where they differ (only on the given key's length).
pub fn key_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// The body of a `returnOutputs` answer in `text/plain`: a string output
/// map's text as it is, anything else as JSON.
pub fn text_response(outputs: &Value) -> String {
    match outputs {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_are_shaped_as_kestra_shapes_them() {
        assert_eq!(body(Some("application/json"), br#"{"a":1,"b":true}"#), json!({"a": 1, "b": true}));
        assert_eq!(body(None, br#"[{"a":1}]"#), json!([{"a": 1}]));
        assert_eq!(body(Some("text/plain"), b"bla"), json!("bla"));
        // a JSON scalar or broken JSON stays text
        assert_eq!(body(Some("application/json"), b"42"), json!("42"));
        assert_eq!(body(None, br#"{\"a\":"#), json!(r#"{\"a\":"#));
        assert_eq!(body(Some("text/plain"), b""), Value::Null);
        // binary content types and non-UTF-8 bytes are base64
        assert_eq!(body(Some("application/octet-stream"), b"abc"), json!("YWJj"));
        assert_eq!(body(Some("text/plain"), &[0xff, 0xfe]), json!("//4="));
        assert_eq!(body(Some("application/x-www-form-urlencoded; charset=utf-8"), b"a=1"), json!("a=1"));
    }

    #[test]
    fn repeated_names_keep_every_value_in_order() {
        let m = multimap([("name", "john"), ("age", "12"), ("age", "13")]);
        assert_eq!(Value::Object(m), json!({"name": ["john"], "age": ["12", "13"]}));
    }

    #[test]
    fn stored_files_stay_in_the_trigger_s_folder() {
        let pre = "/ns/f/executions/E1";
        assert_eq!(stored_path(pre, "hook", None, "body.json"), "/ns/f/executions/E1/trigger/hook/body.json");
        assert_eq!(
            stored_path(pre, "hook", Some("doc"), "report 1.pdf"),
            "/ns/f/executions/E1/trigger/hook/parts/doc/report_1.pdf"
        );
        // a part's or file's name cannot climb out of the folder
        assert_eq!(stored_path(pre, "hook", Some(".."), "../../x"), "/ns/f/executions/E1/trigger/hook/parts/_/x");
        assert_eq!(stored_path(pre, "hook", Some("a/b"), ".."), "/ns/f/executions/E1/trigger/hook/parts/a_b/body");
        assert_eq!(body_file_name(Some("application/json; charset=utf-8")), "body.json");
        assert_eq!(body_file_name(Some("text/csv")), "body.csv");
        assert_eq!(body_file_name(Some("application/octet-stream")), "body.bin");
        assert_eq!(body_file_name(None), "body.bin");
        assert!(is_multipart(Some("multipart/form-data; boundary=x")));
        assert!(!is_multipart(Some("application/json")));
    }

    #[test]
    fn form_fields_are_texts_and_lists_when_repeated() {
        let f = form_fields([("a".to_string(), "1".to_string()), ("b".into(), "2".into()), ("b".into(), "3".into())]);
        assert_eq!(Value::Object(f), json!({"a": "1", "b": ["2", "3"]}));
    }

    #[test]
    fn no_body_leaves_body_out() {
        let v = variables(Map::new(), Map::new(), multimap([("a", "1")]));
        assert_eq!(Value::Object(v), json!({"headers": {}, "parameters": {"a": ["1"]}}));
    }

    #[test]
    fn keys_match_exactly() {
        assert!(key_matches("a-secret-key", "a-secret-key"));
        assert!(!key_matches("a-secret-key", "a-secret-kez"));
        assert!(!key_matches("a-secret-key", "a-secret-key-longer"));
        assert!(!key_matches("a-secret-key", "a-secret"));
        assert!(!key_matches("a-secret-key", ""));
    }

    #[test]
    fn response_codes_are_http_statuses() {
        assert_eq!(status_code(&json!(201)), Some(201));
        assert_eq!(status_code(&json!(" 404 ")), Some(404));
        assert_eq!(status_code(&json!(42)), None);
        assert_eq!(status_code(&json!(600)), None);
        assert_eq!(status_code(&json!("created")), None);
        let flow = super::super::tests::flow();
        let trig = |code: Value| Trigger {
            id: "hook".into(),
            type_: TYPE.into(),
            disabled: false,
            props: json!({"key": "k", "wait": true, "responseCode": code}).as_object().cloned().unwrap_or_default(),
            path: "triggers[0]".into(),
        };
        assert!(check(&trig(json!(202)), &flow).is_empty());
        assert!(check(&trig(json!("{{ outputs.code.value }}")), &flow).is_empty());
        let bad = check(&trig(json!(42)), &flow);
        assert!(bad.iter().any(|p| p.path == "responseCode" && p.message.contains("100 to 599")), "{bad:?}");
    }

    #[test]
    fn text_answers_keep_strings_as_they_are() {
        assert_eq!(text_response(&json!("token")), "token");
        assert_eq!(text_response(&json!({"a": 1})), r#"{"a":1}"#);
    }
}
