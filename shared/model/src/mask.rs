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
