//! Masking what a user marked secret (secrets, `SECRET` inputs) in text
//! and JSON before it is logged, stored or shown.

use serde_json::Value;

/// Replaces each secret (3 characters or more) found in `text` by `******`.
pub fn mask_secrets(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.len() >= 3 && out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "******");
        }
    }
    out
}

/// [`mask_secrets`] on every string (and key) of a JSON value.
pub fn mask_json(v: Value, secrets: &[String]) -> Value {
    if secrets.iter().all(|s| s.len() < 3) {
        return v;
    }
    match v {
        Value::String(s) => Value::String(mask_secrets(&s, secrets)),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| mask_json(x, secrets)).collect()),
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, x)| (mask_secrets(&k, secrets), mask_json(x, secrets))).collect())
        }
        other => other,
    }
}

/// The keys of `inputs` whose value holds one of `secrets` (3 characters
/// or more), anywhere inside it: a subflow's inputs rendered from its
/// parent's `secret()` values or `SECRET` inputs, which the child then
/// treats as its own `SECRET` inputs (masked wherever shown, sealed where
/// stored).
pub fn holding_secrets(inputs: &serde_json::Map<String, Value>, secrets: &[String]) -> Vec<String> {
    let secrets: Vec<&String> = secrets.iter().filter(|s| s.len() >= 3).collect();
    if secrets.is_empty() {
        return Vec::new();
    }
    inputs.iter().filter(|(_, v)| holds(v, &secrets)).map(|(k, _)| k.clone()).collect()
}

fn holds(v: &Value, secrets: &[&String]) -> bool {
    match v {
        Value::String(s) => secrets.iter().any(|x| s.contains(x.as_str())),
        Value::Array(a) => a.iter().any(|x| holds(x, secrets)),
        Value::Object(m) => m.iter().any(|(k, x)| secrets.iter().any(|s| k.contains(s.as_str())) || holds(x, secrets)),
        _ => false,
    }
}

#[cfg(test)]
mod holding_tests {
    use super::*;

    #[test]
    fn an_input_holding_a_secret_anywhere_is_found() {
        let inputs = serde_json::json!({
            "whole": "s3cret", "inside": "Bearer s3cret", "deep": {"a": ["x", "s3cret"]},
            "plain": "nothing", "n": 3, "short": "ab"
        });
        let found = holding_secrets(inputs.as_object().expect("map"), &["s3cret".into(), "ab".into()]);
        assert_eq!(found, vec!["whole", "inside", "deep"]);
    }
}
