//! dbt's structured log lines (`--log-format json`), read as Kestra's
//! DbtCLI reads every line its commands print (its `LogService`), on
//! stdout and stderr alike: a JSON line with a `level` is logged at that
//! level as `[Date: ts] [Thread: thread] [Type: name] msg {rest}`; a
//! `warn` line ends the task in WARNING; the counts of `data.stats` (dbt's
//! closing "PASS=… WARN=…" line) become counter metrics. Any other line
//! (text, `--log-format text`, a shell command's output) is logged at INFO,
//! trimmed, whichever stream it came on. Kestra's script protocol lines
//! (`::{…}::`) are read before this, as for every script task.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::protocol::Metric;
use baton_backend::metrics::MetricType;

/// What one line of a dbt command means.
#[derive(Debug, PartialEq)]
pub(crate) struct DbtLine {
    /// `DEBUG`, `INFO`, `WARN` or `ERROR`.
    pub level: &'static str,
    pub message: String,
    /// dbt logged a warning: the task ends in WARNING.
    pub warn: bool,
    pub metrics: Vec<Metric>,
}

/// The keys of a log's `info` that are shown in their own place, or not
/// at all (Kestra's list).
const SHOWN: &[&str] = &[
    "category",
    "code",
    "invocation_id",
    "level",
    "log_version",
    "msg",
    "thread",
    "thread_name",
    "type",
    "name",
    "ts",
    "pid",
    "extra",
];

/// Reads one line (without its line break).
pub(crate) fn read(line: &str) -> DbtLine {
    let plain = || DbtLine { level: "INFO", message: line.trim().to_string(), warn: false, metrics: Vec::new() };
    let Ok(Value::Object(log)) = serde_json::from_str::<Value>(line) else {
        return plain();
    };
    // dbt >= 1.5 nests the event under `info`; older versions are flat
    let (fields, thread_key, type_key, rest) = match log.get("info") {
        Some(Value::Object(info)) => {
            let rest: Map<String, Value> = info
                .iter()
                .filter(|(k, _)| !SHOWN.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (info, "thread", "name", rest)
        }
        _ => (&log, "thread_name", "type", Map::new()),
    };
    let Some(level) = fields.get("level").and_then(Value::as_str) else {
        return plain();
    };
    let text = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or("null").to_string();
    let msg = fields.get("msg").and_then(Value::as_str).map(|m| format!("{m} ")).unwrap_or_default();
    let rest = if rest.is_empty() { String::new() } else { java_text(&Value::Object(rest)) };
    let message =
        format!("[Date: {}] [Thread: {}] [Type: {}] {msg}{rest}", text("ts"), text(thread_key), text(type_key));
    let mut metrics = Vec::new();
    if let Some(Value::Object(stats)) = log.get("data").and_then(|d| d.get("stats")) {
        for (name, v) in stats {
            if let Some(n) = v.as_f64() {
                metrics.push(Metric { kind: MetricType::Counter, name: name.clone(), value: n, tags: BTreeMap::new() });
            }
        }
    }
    let (level, warn) = match level {
        "debug" => ("DEBUG", false),
        "info" => ("INFO", false),
        "warn" => ("WARN", true),
        _ => ("ERROR", false),
    };
    DbtLine { level, message, warn, metrics }
}

/// A value as Java prints a map of it (`{k=v, l=[a, b]}`).
fn java_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => {
            let items: Vec<String> = m.iter().map(|(k, v)| format!("{k}={}", java_text(v))).collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(java_text).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_of_dbt_1_5_on_is_logged_at_its_level_as_kestra_writes_it() {
        let l = read(
            r#"{"data": {"log_version": 3, "version": "=1.8.0"}, "info": {"category": "", "code": "A001", "extra": {}, "invocation_id": "x", "level": "info", "msg": "Running with dbt=1.8.0", "name": "MainReportVersion", "pid": 7, "thread": "MainThread", "ts": "2026-11-29T05:00:00.1Z"}}"#,
        );
        assert_eq!(l.level, "INFO");
        assert_eq!(
            l.message,
            "[Date: 2026-11-29T05:00:00.1Z] [Thread: MainThread] [Type: MainReportVersion] Running with dbt=1.8.0 "
        );
        assert!(!l.warn && l.metrics.is_empty());
    }

    #[test]
    fn a_warning_ends_in_warning_and_unknown_info_keys_are_shown_after_the_message() {
        let l = read(
            r#"{"info": {"level": "warn", "msg": "Deprecated", "name": "Dep", "thread": "T", "ts": "t", "node": "m1"}}"#,
        );
        assert_eq!((l.level, l.warn), ("WARN", true));
        assert_eq!(l.message, "[Date: t] [Thread: T] [Type: Dep] Deprecated {node=m1}");
        assert_eq!(read(r#"{"info": {"level": "error", "msg": "x"}}"#).level, "ERROR");
        assert_eq!(
            read(r#"{"level": "debug", "msg": "old", "type": "log_line", "thread_name": "M", "ts": "t"}"#).message,
            "[Date: t] [Thread: M] [Type: log_line] old "
        );
    }

    #[test]
    fn the_closing_stats_are_counters() {
        let l = read(
            r#"{"data": {"stats": {"pass": 5, "warn": 1, "error": 0}}, "info": {"level": "info", "msg": "Done.", "name": "StatsLine", "thread": "M", "ts": "t"}}"#,
        );
        let got: Vec<(String, f64)> = l.metrics.iter().map(|m| (m.name.clone(), m.value)).collect();
        assert_eq!(got, vec![("pass".into(), 5.0), ("warn".into(), 1.0), ("error".into(), 0.0)]);
        assert!(l.metrics.iter().all(|m| m.kind == MetricType::Counter));
    }

    #[test]
    fn text_and_json_without_a_level_are_info_trimmed() {
        assert_eq!(
            read("  12:00:00  Running with dbt=1.8.0  "),
            DbtLine { level: "INFO", message: "12:00:00  Running with dbt=1.8.0".into(), warn: false, metrics: vec![] }
        );
        assert_eq!(read(r#"{"a": 1}"#).message, r#"{"a": 1}"#);
    }
}
