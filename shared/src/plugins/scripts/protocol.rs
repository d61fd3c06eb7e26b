//! Kestra's script output protocol (what its Python library writes): a
//! line `::{json}::`, on stdout or stderr, carries `outputs` (merged into
//! the task's `vars` output), `logs` (`[{level, message}]`, emitted as log
//! lines at their levels) and `metrics` (`[{name, type, value, tags}]`:
//! Baton has no metrics store yet, so each metric becomes a DEBUG log line
//! saying so). Any other line is ordinary output.

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
    let mut logs: Vec<(String, String)> = match m.remove("logs") {
        Some(Value::Array(items)) => items.iter().filter_map(log_entry).collect(),
        _ => Vec::new(),
    };
    if let Some(Value::Array(metrics)) = m.remove("metrics") {
        logs.extend(metrics.iter().map(metric_line));
    }
    Line::Protocol { outputs, logs }
}

/// A metric as a DEBUG log line (there is no metrics store to keep it in).
fn metric_line(v: &Value) -> (String, String) {
    let field = |k: &str| v.get(k).map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string));
    let mut msg = format!(
        "metric {} ({}) = {}",
        field("name").unwrap_or_else(|| "?".into()),
        field("type").unwrap_or_else(|| "?".into()),
        field("value").unwrap_or_else(|| "?".into())
    );
    if let Some(tags) = v.get("tags").and_then(Value::as_object).filter(|t| !t.is_empty()) {
        msg.push_str(&format!(" {}", Value::Object(tags.clone())));
    }
    msg.push_str(" (Baton keeps no metrics yet: logged only)");
    ("DEBUG".to_string(), msg)
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
        assert_eq!(
            logs,
            vec![("DEBUG".to_string(), "metric n (counter) = 1 (Baton keeps no metrics yet: logged only)".to_string())]
        );
        let Line::Protocol { logs, .. } = parse(
            r#"::{"metrics":[{"name":"t","type":"timer","value":1.5,"tags":{"k":"v"}}],"logs":[{"level":"ERROR","message":"x"}]}::"#,
        ) else {
            panic!("not a protocol line");
        };
        assert_eq!(logs[0], ("ERROR".to_string(), "x".to_string()));
        assert!(logs[1].1.starts_with(r#"metric t (timer) = 1.5 {"k":"v"}"#), "{:?}", logs[1]);
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
