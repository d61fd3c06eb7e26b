//! Kestra's open-source secrets: every `SECRET_<NAME>` environment variable,
//! base64-decoded, looked up case-insensitively by `secret('name')`. The
//! map is built once by the binary and passed down (no global config).

use std::collections::HashMap;

use base64::Engine;

/// Decoded secrets by upper-cased name.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    map: HashMap<String, String>,
    /// Variables that were not valid base64, for a startup warning.
    pub invalid: Vec<String>,
}

impl Secrets {
    /// Reads `SECRET_*` variables from an iterator of (name, value).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Secrets {
        let mut s = Secrets::default();
        for (k, v) in vars {
            let Some(name) = k.strip_prefix("SECRET_") else { continue };
            let cleaned: String = v.chars().filter(|c| !c.is_whitespace()).collect();
            match base64::engine::general_purpose::STANDARD.decode(cleaned.as_bytes()) {
                Ok(bytes) => {
                    s.map.insert(name.to_ascii_uppercase(), String::from_utf8_lossy(&bytes).into_owned());
                }
                Err(_) => s.invalid.push(k),
            }
        }
        s
    }

    /// The secret `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(&key.to_ascii_uppercase()).map(String::as_str)
    }

    /// The secrets' names (upper-cased, sorted), never their values: what
    /// the UI's Namespaces page lists.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.map.keys().cloned().collect();
        v.sort();
        v
    }

    /// Every secret value, for masking.
    pub fn values(&self) -> Vec<String> {
        self.map.values().cloned().collect()
    }
}

/// Kestra's `envs`: `ENV_FOO=x` → `envs.foo`. Only `ENV_` variables are
/// exposed (Kestra's default `envVarsPrefix`): the rest of the process
/// environment (cloud credentials, tokens) stays out of templates.
pub fn envs_map(vars: impl IntoIterator<Item = (String, String)>) -> serde_json::Map<String, serde_json::Value> {
    vars.into_iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("ENV_").map(|name| (name.to_ascii_lowercase(), serde_json::Value::String(v)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64_case_insensitively() {
        let s = Secrets::from_vars([
            ("SECRET_GCP_CREDS".to_string(), "aGVs\nbG8=".to_string()),
            ("SECRET_BAD".to_string(), "***".to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ]);
        assert_eq!(s.get("gcp_creds"), Some("hello"));
        assert_eq!(s.invalid, ["SECRET_BAD"]);
        assert_eq!(s.get("HOME"), None);
    }

    #[test]
    fn envs_are_only_env_prefixed_variables() {
        let m = envs_map([("ENV_FOO".into(), "a".into()), ("FOO".into(), "b".into()), ("BAR".into(), "c".into())]);
        assert_eq!(m["foo"], "a");
        assert_eq!(m.get("bar"), None, "only ENV_ variables are exposed");
    }
}
