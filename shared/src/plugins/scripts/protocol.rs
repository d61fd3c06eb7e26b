//! Kestra's script output protocol: a stdout line `::{json}::` carries
//! `outputs` (merged into the task's `vars` output), `metrics` (ignored
//! here) and `logs` (`[{level, message}]`, emitted as log lines). Any other
//! line is ordinary output.

use serde_json::{Map, Value};

/// What one output line means.
#[derive(Debug, PartialEq)]
pub(crate) enum Line {
    /// An ordinary line, to be logged.
    Text,
    /// A protocol line: outputs to merge and log lines to emit.
    Protocol { outputs: Map<String, Value>, logs: Vec<(String, String)> },
}

/// Classifies a line (without its line break), as Kestra's
/// `^::(\{.*})::$` pattern does.
pub(crate) fn parse(line: &str) -> Line {
    let Some(json) = line.strip_prefix("::").and_then(|r| r.strip_suffix("::")) else {
        return Line::Text;
    };
    if !json.starts_with('{') || !json.ends_with('}') {
        return Line::Text;
    }
    let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(json) else {
        return Line::Text;
    };
    let outputs = match m.remove("outputs") {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    let logs = match m.remove("logs") {
        Some(Value::Array(items)) => items.iter().filter_map(log_entry).collect(),
        _ => Vec::new(),
    };
    Line::Protocol { outputs, logs }
}

fn log_entry(v: &Value) -> Option<(String, String)> {
    let o = v.as_object()?;
    let message = match o.get("message")? {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let level = o.get("level").and_then(Value::as_str).unwrap_or("INFO").to_ascii_uppercase();
    let level = match level.as_str() {
        "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR" => level,
        "WARNING" => "WARN".to_string(),
        _ => "INFO".to_string(),
    };
    Some((level, message))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn outputs_metrics_and_logs() {
        let Line::Protocol { outputs, logs } =
            parse(r#"::{"outputs":{"a":1,"b":{"c":"x"}},"metrics":[{"name":"n","type":"counter","value":1}]}::"#)
        else {
            panic!("not a protocol line");
        };
        assert_eq!(Value::Object(outputs), json!({"a": 1, "b": {"c": "x"}}));
        assert!(logs.is_empty());
        let Line::Protocol { outputs, logs } = parse(r#"::{"logs":[{"level":"warning","message":"careful"}]}::"#)
        else {
            panic!("not a protocol line");
        };
        assert!(outputs.is_empty());
        assert_eq!(logs, vec![("WARN".to_string(), "careful".to_string())]);
    }

    #[test]
    fn ordinary_lines() {
        assert_eq!(parse("hello"), Line::Text);
        assert_eq!(parse("::not json::"), Line::Text);
        assert_eq!(parse(r#"::{"outputs":1"#), Line::Text);
        assert_eq!(parse(r#" ::{"outputs":{}}::"#), Line::Text);
        assert_eq!(parse("::[1]::"), Line::Text);
    }
}
