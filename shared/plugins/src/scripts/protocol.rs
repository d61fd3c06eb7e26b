//! Kestra's script output protocol (what its Python library writes): a
//! line `::{json}::`, on stdout or stderr, carries `outputs` (merged into
//! the task's `vars` output), `logs` (`[{level, message}]`, emitted as log
//! lines at their levels) and `metrics` (`[{name, type, value, tags}]`,
//! recorded as the task run's metrics: a `counter` as counted, a `timer`'s
//! value in seconds — what the library writes and Kestra reads as a
//! duration — kept in milliseconds as Kestra stores timers). A metric of
//! another type (the library's `gauge`) or without a name or a numeric
//! value is not recorded and logged at WARN instead. Any other line is
//! ordinary output.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use baton_backend::metrics::MetricType;

/// A metric read from a protocol line.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub kind: MetricType,
    pub name: String,
    /// A counter's count; a timer's milliseconds.
    pub value: f64,
    pub tags: BTreeMap<String, String>,
}

/// What one output line means.
#[derive(Debug, PartialEq)]
pub(crate) enum Line {
    /// An ordinary line, to be logged.
    Text,
    /// A protocol line: outputs to merge, log lines to emit, metrics to record.
    Protocol { outputs: Map<String, Value>, logs: Vec<(String, String)>, metrics: Vec<Metric> },
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
    let mut metrics = Vec::new();
    if let Some(Value::Array(items)) = m.remove("metrics") {
        for v in &items {
            match metric(v) {
                Ok(x) => metrics.push(x),
                Err(why) => logs.push(("WARN".to_string(), why)),
            }
        }
    }
    Line::Protocol { outputs, logs, metrics }
}

/// One element of `metrics`, or why it is not recorded.
fn metric(v: &Value) -> Result<Metric, String> {
    let name = v.get("name").and_then(Value::as_str).filter(|n| !n.is_empty());
    let shown = name.map_or_else(|| v.to_string(), str::to_string);
    let Some(name) = name else {
        return Err(format!("metric {shown} not recorded: it has no name"));
    };
    let kind_name = v.get("type").and_then(Value::as_str).unwrap_or("");
    let Some(kind) = MetricType::parse(kind_name) else {
        return Err(format!(
            "metric '{name}' not recorded: its type '{kind_name}' is not one Kestra keeps (counter, timer)"
        ));
    };
    let value = match v.get("value") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let Some(value) = value else {
        return Err(format!("metric '{name}' not recorded: its value is not a number"));
    };
    let value = match kind {
        MetricType::Counter => value,
        // seconds, as the library writes and Kestra reads a duration
        MetricType::Timer => value * 1000.0,
    };
    let tags = match v.get("tags") {
        Some(Value::Object(t)) => t
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect(),
        _ => BTreeMap::new(),
    };
    Ok(Metric { kind, name: name.to_string(), value, tags })
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
        let Line::Protocol { outputs, logs, metrics } =
            parse(r#"::{"outputs":{"a":1,"b":{"c":"x"}},"metrics":[{"name":"n","type":"counter","value":1}]}::"#)
        else {
            panic!("not a protocol line");
        };
        assert_eq!(Value::Object(outputs), json!({"a": 1, "b": {"c": "x"}}));
        assert!(logs.is_empty(), "a metric is recorded, not logged: {logs:?}");
        assert_eq!(
            metrics,
            vec![Metric { kind: MetricType::Counter, name: "n".into(), value: 1.0, tags: BTreeMap::new() }]
        );
        let Line::Protocol { logs, metrics, .. } = parse(
            r#"::{"metrics":[{"name":"t","type":"timer","value":1.5,"tags":{"k":"v","n":2}}],"logs":[{"level":"ERROR","message":"x"}]}::"#,
        ) else {
            panic!("not a protocol line");
        };
        assert_eq!(logs, vec![("ERROR".to_string(), "x".to_string())]);
        assert_eq!(metrics[0].value, 1500.0, "a timer's seconds are kept in milliseconds");
        assert_eq!(metrics[0].tags, BTreeMap::from([("k".into(), "v".into()), ("n".into(), "2".into())]));
        let Line::Protocol { outputs, logs, .. } = parse(r#"::{"logs":[{"level":"warning","message":"careful"}]}::"#)
        else {
            panic!("not a protocol line");
        };
        assert!(outputs.is_empty());
        assert_eq!(logs, vec![("WARN".to_string(), "careful".to_string())]);
    }

    #[test]
    fn metrics_kestra_does_not_keep_are_warned_about() {
        let Line::Protocol { logs, metrics, .. } = parse(
            r#"::{"metrics":[{"name":"g","type":"gauge","value":1},{"type":"counter","value":1},{"name":"c","type":"counter","value":"x"},{"name":"ok","type":"counter","value":"2"}]}::"#,
        ) else {
            panic!("not a protocol line");
        };
        assert_eq!(metrics.len(), 1, "{metrics:?}");
        assert_eq!(metrics[0].value, 2.0);
        let text: Vec<&str> = logs
            .iter()
            .map(|(l, m)| {
                assert_eq!(l, "WARN");
                m.as_str()
            })
            .collect();
        assert!(text[0].contains("'g' not recorded: its type 'gauge' is not one Kestra keeps"), "{text:?}");
        assert!(text[1].contains("has no name"), "{text:?}");
        assert!(text[2].contains("'c' not recorded: its value is not a number"), "{text:?}");
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
