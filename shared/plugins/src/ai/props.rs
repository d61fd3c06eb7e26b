//! The property shapes the AI tasks share, read from rendered values:
//! Kestra's `configuration` / `chatConfiguration` (temperature, topP, topK,
//! seed, maxToken, logRequests, logResponses, responseFormat with a JSON
//! schema), chat `messages` (`type: SYSTEM|USER|AI`, `content`), and small
//! lenient readers (numbers and booleans written as strings are accepted,
//! as Kestra's `Property<T>` does).

use serde_json::{Map, Value};

use super::model::{ChatConfig, Message};
use crate::TaskError;

/// Kestra properties Baton does not carry out yet (an agent's `memory`,
/// `guardrails`, `observability`): declared, so that a flow setting one is
/// refused by name with its position (`#[prop(check = not_carried_out)]`),
/// and refused again when the task is built — never accepted and ignored.
pub fn not_carried_out(v: &Value) -> Result<(), String> {
    if v.is_null() {
        return Ok(());
    }
    Err("Baton does not carry this property out yet, and refuses it rather than ignore it: remove it".into())
}

/// The first of `keys` set in `p` that Baton does not carry out, as an error.
pub fn refuse_not_carried_out(p: &Map<String, Value>, keys: &[&str]) -> Result<(), TaskError> {
    for k in keys {
        if let Some(v) = p.get(*k) {
            not_carried_out(v).map_err(|e| TaskError::property(k, e))?;
        }
    }
    Ok(())
}

/// A number written as a number or a string.
pub fn f64_of(field: &str, v: Option<&Value>) -> Result<Option<f64>, TaskError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            s.trim().parse().map(Some).map_err(|_| TaskError::property(field, format!("'{s}' is not a number")))
        }
        Some(other) => Err(TaskError::property(field, format!("expected a number, got {other}"))),
    }
}

/// An integer written as a number or a string.
pub fn i64_of(field: &str, v: Option<&Value>) -> Result<Option<i64>, TaskError> {
    match f64_of(field, v)? {
        None => Ok(None),
        Some(f) if f.fract() == 0.0 => Ok(Some(f as i64)),
        Some(f) => Err(TaskError::property(field, format!("expected an integer, got {f}"))),
    }
}

/// A boolean written as a boolean or a string.
pub fn bool_of(field: &str, v: Option<&Value>) -> Result<Option<bool>, TaskError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            "" => Ok(None),
            _ => Err(TaskError::property(field, format!("'{s}' is not a boolean"))),
        },
        Some(other) => Err(TaskError::property(field, format!("expected a boolean, got {other}"))),
    }
}

/// A string (numbers accepted); blank is absent.
pub fn str_of(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// A list of strings (a single string is a list of one).
pub fn strings_of(field: &str, v: Option<&Value>) -> Result<Vec<String>, TaskError> {
    match v {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::String(s)) => {
            // A whole-list expression renders to JSON text.
            if s.trim_start().starts_with('[')
                && let Ok(Value::Array(a)) = serde_json::from_str::<Value>(s)
            {
                return strings_of(field, Some(&Value::Array(a)));
            }
            Ok(vec![s.clone()])
        }
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| str_of(Some(x)).ok_or_else(|| TaskError::property(field, format!("expected strings, got {x}"))))
            .collect(),
        Some(other) => Err(TaskError::property(field, format!("expected a list of strings, got {other}"))),
    }
}

/// A map, or a map written as JSON text (a whole-value expression).
pub fn map_of(field: &str, v: Option<&Value>) -> Result<Option<Map<String, Value>>, TaskError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            _ => Err(TaskError::property(field, "expected a mapping")),
        },
        Some(other) => Err(TaskError::property(field, format!("expected a mapping, got {other}"))),
    }
}

/// Kestra's `ChatConfiguration` at property `field`.
pub fn chat_config(field: &str, v: Option<&Value>) -> Result<ChatConfig, TaskError> {
    let Some(m) = map_of(field, v)? else { return Ok(ChatConfig::default()) };
    let f = |k: &str| format!("{field}.{k}");
    let mut c = ChatConfig {
        temperature: f64_of(&f("temperature"), m.get("temperature"))?,
        top_p: f64_of(&f("topP"), m.get("topP"))?,
        top_k: i64_of(&f("topK"), m.get("topK"))?,
        seed: i64_of(&f("seed"), m.get("seed"))?,
        max_tokens: i64_of(&f("maxToken"), m.get("maxToken"))?,
        log_requests: bool_of(&f("logRequests"), m.get("logRequests"))?.unwrap_or(false),
        log_responses: bool_of(&f("logResponses"), m.get("logResponses"))?.unwrap_or(false),
        ..ChatConfig::default()
    };
    if let Some(rf) = map_of(&f("responseFormat"), m.get("responseFormat"))? {
        let t = str_of(rf.get("type")).unwrap_or_else(|| "TEXT".into()).to_ascii_uppercase();
        match t.as_str() {
            "TEXT" => {}
            "JSON" => c.json = true,
            other => {
                return Err(TaskError::property(
                    &f("responseFormat.type"),
                    format!("unknown response format '{other}' (TEXT or JSON)"),
                ));
            }
        }
        c.json_schema = map_of(&f("responseFormat.jsonSchema"), rf.get("jsonSchema"))?.map(Value::Object);
        c.json_schema_description = str_of(rf.get("jsonSchemaDescription"));
    }
    Ok(c)
}

/// Kestra's `messages`: `[{type: SYSTEM|USER|AI, content}]`; the last must be USER.
pub fn messages(v: Option<&Value>) -> Result<Vec<Message>, TaskError> {
    let list = match v {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => a,
            _ => return Err(TaskError::property("messages", "expected a list of {type, content}")),
        },
        _ => return Err(TaskError::property("messages", "at least one message is needed")),
    };
    let mut out = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let field = format!("messages[{i}]");
        let Value::Object(o) = m else { return Err(TaskError::property(&field, "expected {type, content}")) };
        let content = match (o.get("content"), o.get("contentBlocks")) {
            (Some(c), _) => str_of(Some(c)).unwrap_or_default(),
            (None, Some(Value::Array(blocks))) => {
                let mut text = Vec::new();
                for b in blocks {
                    let bt = str_of(b.get("type")).unwrap_or_else(|| "TEXT".into());
                    if !bt.eq_ignore_ascii_case("TEXT") {
                        return Err(TaskError::property(
                            &format!("{field}.contentBlocks"),
                            format!("{bt} blocks are not supported by Baton yet (only TEXT)"),
                        ));
                    }
                    text.push(str_of(b.get("text")).unwrap_or_default());
                }
                text.join("\n")
            }
            _ => return Err(TaskError::property(&field, "a message needs `content`")),
        };
        let t = str_of(o.get("type")).unwrap_or_default().to_ascii_uppercase();
        out.push(match t.as_str() {
            "SYSTEM" => Message::System(content),
            "USER" => Message::User(content),
            "AI" => Message::Ai { text: Some(content), tool_calls: vec![] },
            other => {
                return Err(TaskError::property(
                    &format!("{field}.type"),
                    format!("unknown message type '{other}' (SYSTEM, USER or AI)"),
                ));
            }
        });
    }
    if !matches!(out.last(), Some(Message::User(_))) {
        return Err(TaskError::property("messages", "the last message must be a USER message"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_baton_does_not_carry_out_is_refused_by_name_and_position() {
        // when the task is built (validation: `validate::plugin_tests`)
        let p = json!({"memory": {"type": "KV"}, "observability": null}).as_object().cloned().unwrap_or_default();
        let e = refuse_not_carried_out(&p, &["observability", "memory"]).unwrap_err().to_string();
        assert!(e.contains("'memory'") && e.contains("refuses it"), "{e}");
        let none = json!({"observability": null}).as_object().cloned().unwrap_or_default();
        assert!(refuse_not_carried_out(&none, &["observability"]).is_ok());
    }

    #[test]
    fn configuration_and_messages_read_as_kestra_writes_them() {
        let c = chat_config(
            "configuration",
            Some(&json!({"temperature": "0.3", "maxToken": 50, "responseFormat": {"type": "JSON", "jsonSchema": {"type": "object"}}})),
        )
        .unwrap();
        assert_eq!(c.temperature, Some(0.3));
        assert_eq!(c.max_tokens, Some(50));
        assert!(c.json && c.json_schema.is_some());
        let e = chat_config("configuration", Some(&json!({"responseFormat": {"type": "XML"}}))).unwrap_err();
        assert!(e.to_string().contains("configuration.responseFormat.type"), "{e}");
        let m = messages(Some(&json!([{"type": "SYSTEM", "content": "s"}, {"type": "USER", "content": "u"}]))).unwrap();
        assert_eq!(m.len(), 2);
        assert!(messages(Some(&json!([{"type": "AI", "content": "x"}]))).is_err());
    }
}
