//! Kestra's `AIOutput`: `textOutput` (TEXT format) or `jsonOutput` (JSON
//! format, the answer parsed — an answer that is not a JSON object fails
//! the task), `tokenUsage`, `finishReason`, `toolExecutions`,
//! `intermediateResponses`, `requestDuration`, `sources`, and
//! `guardrailViolated`. Absent values are left out, as Kestra does.

use serde_json::{Map, Value};

use super::agent_loop::Run;
use super::model::ChatConfig;
use super::providers::Provider;
use super::retrievers;
use crate::TaskError;

/// The outputs of a finished conversation.
pub fn outputs(run: &Run, config: &ChatConfig, provider: &Provider) -> Result<Map<String, Value>, TaskError> {
    let mut o = Map::new();
    let text = run.response.text.clone().unwrap_or_default();
    if config.json {
        let parsed: Value = serde_json::from_str(strip_fences(&text)).map_err(|e| {
            TaskError::failed(format!(
                "{}: the answer is not valid JSON for the requested response format: {e}; answer: {}",
                provider.callee().what,
                text.chars().take(300).collect::<String>()
            ))
        })?;
        if !parsed.is_object() {
            return Err(TaskError::failed(format!(
                "{}: the answer is JSON but not an object as the response format asks: {}",
                provider.callee().what,
                text.chars().take(300).collect::<String>()
            )));
        }
        o.insert("jsonOutput".into(), parsed);
    } else {
        o.insert("textOutput".into(), Value::String(text));
    }
    o.insert("tokenUsage".into(), run.usage.to_json());
    if let Some(f) = run.response.finish_reason {
        o.insert("finishReason".into(), Value::String(f.as_str().into()));
    }
    o.insert("toolExecutions".into(), Value::Array(run.tool_executions.clone()));
    o.insert("intermediateResponses".into(), Value::Array(run.intermediate.clone()));
    o.insert("requestDuration".into(), Value::from(run.duration_ms));
    if !run.sources.is_empty() {
        o.insert("sources".into(), retrievers::sources(&run.sources));
    }
    o.insert("guardrailViolated".into(), Value::Bool(false));
    Ok(o)
}

/// The JSON inside a ```json fence, when a model adds one.
fn strip_fences(s: &str) -> &str {
    let t = s.trim();
    let Some(rest) = t.strip_prefix("```") else { return t };
    let rest = rest.trim_start_matches("json").trim_start_matches("JSON");
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_are_ignored() {
        assert_eq!(strip_fences("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(strip_fences(" {} "), "{}");
    }
}
