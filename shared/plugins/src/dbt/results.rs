//! dbt's `run_results.json`, read after a run: one log line per node as
//! Kestra's dbt plugin writes it (`model.p.m => success in 0.12s`, with the
//! failure count and dbt's message), and a summary of failed nodes for the
//! task's error.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct RunResults {
    #[serde(default)]
    results: Vec<NodeResult>,
}

/// One node's result.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeResult {
    pub unique_id: String,
    pub status: String,
    #[serde(default)]
    pub execution_time: Option<f64>,
    #[serde(default)]
    pub failures: Option<u64>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub adapter_response: serde_json::Map<String, serde_json::Value>,
}

impl NodeResult {
    /// `error`, `fail` and `runtime error` fail the node; `warn` warns.
    pub fn level(&self) -> &'static str {
        match self.status.as_str() {
            "error" | "fail" | "runtime error" => "ERROR",
            "warn" => "WARN",
            _ => "INFO",
        }
    }

    /// Kestra's summary line for the node.
    pub fn summary(&self) -> String {
        let mut s = format!("{} => {}", self.unique_id, self.status);
        if let Some(t) = self.execution_time {
            s.push_str(&format!(" in {t:.2}s"));
        }
        if let Some(n) = self.failures.filter(|n| *n > 0) {
            s.push_str(&format!(" ({n} {})", if n == 1 { "failure" } else { "failures" }));
        }
        s
    }

    /// Rows the node wrote, when the adapter says.
    pub fn rows_affected(&self) -> Option<u64> {
        self.adapter_response.get("rows_affected").and_then(serde_json::Value::as_u64)
    }
}

/// Logs the nodes of a run as Kestra's dbt tasks do (a line each, then
/// dbt's message); returns them.
pub fn log_nodes(cx: &crate::RunContext, text: &str) -> Vec<NodeResult> {
    match parse(text) {
        Ok(nodes) => {
            for n in &nodes {
                cx.log(n.level(), &n.summary());
                if let Some(m) = n.message.as_deref().filter(|m| !m.is_empty()) {
                    cx.log(n.level(), m);
                }
            }
            nodes
        }
        Err(e) => {
            cx.warn(&e);
            Vec::new()
        }
    }
}

/// Parses `run_results.json`.
pub fn parse(text: &str) -> Result<Vec<NodeResult>, String> {
    serde_json::from_str::<RunResults>(text).map(|r| r.results).map_err(|e| format!("unreadable run_results.json: {e}"))
}

/// The failed nodes as one sentence, or `None` when none failed.
pub fn failures(nodes: &[NodeResult]) -> Option<String> {
    let failed: Vec<String> = nodes
        .iter()
        .filter(|n| n.level() == "ERROR")
        .map(|n| match n.message.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => format!("{} ({}: {})", n.unique_id, n.status, m.lines().next().unwrap_or(m)),
            None => format!("{} ({})", n.unique_id, n.status),
        })
        .collect();
    (!failed.is_empty()).then(|| format!("failed dbt nodes: {}", failed.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_become_kestra_log_lines() {
        let text = r#"{"results": [
          {"unique_id": "model.taxi.stg_green", "status": "success", "execution_time": 0.123,
           "adapter_response": {"rows_affected": 40}, "message": "SELECT 40"},
          {"unique_id": "test.taxi.not_null_x", "status": "fail", "execution_time": 0.05, "failures": 2,
           "message": "Got 2 results, configured to fail if != 0"}
        ]}"#;
        let nodes = parse(text).unwrap();
        assert_eq!(nodes[0].summary(), "model.taxi.stg_green => success in 0.12s");
        assert_eq!(nodes[0].rows_affected(), Some(40));
        assert_eq!(nodes[1].summary(), "test.taxi.not_null_x => fail in 0.05s (2 failures)");
        assert_eq!(nodes[1].level(), "ERROR");
        let f = failures(&nodes).unwrap();
        assert!(f.contains("test.taxi.not_null_x (fail: Got 2 results"), "{f}");
        assert!(failures(&nodes[..1]).is_none());
        assert!(parse("{").is_err());
    }
}
