//! Which Kestra dialect a flow is written in — 1.x or 2.0 — and why.
//!
//! Kestra 2.0 rejects constructs 1.x flows are written in (`pluginDefaults`,
//! `ForEach`, trigger `conditions`…) and adds its own (`Loop`, trigger
//! `when`, `dependsOn`…). Baton runs both, side by side, by this one rule:
//!
//! 1. a flow label `baton.dialect: "1"` or `"2"` decides (Kestra itself
//!    accepts any label and only shows it, so the flow still imports into
//!    either Kestra unchanged; an unknown flow key would be rejected by both);
//! 2. else the server's `--dialect 1|2` (env `BATON_DIALECT`) decides, when set;
//! 3. else the flow's own constructs ([`markers`]): any 2.0-only construct
//!    makes it 2.0, else any 1.x-only construct makes it 1.x;
//! 4. else (it uses neither, so it is valid in both) 1.x, so existing flows
//!    keep the semantics they were written for ([`Policy::default`]).
//!
//! In the dialect chosen, every construct of the other dialect is a
//! validation error naming its replacement ([`DialectInfo::conflicts`]).

pub mod markers;

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

pub use markers::Marker;

/// The flow label that pins a flow's dialect.
pub const LABEL: &str = "baton.dialect";
/// The environment variable the CLI reads for the server-wide `--dialect`.
pub const ENV: &str = "BATON_DIALECT";

/// A Kestra flow dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Dialect {
    /// Kestra 1.x (up to 1.3): what the zoomcamp and most flows are written in.
    #[default]
    V1,
    /// Kestra 2.0.
    V2,
}

impl Dialect {
    /// The other dialect.
    pub fn other(self) -> Dialect {
        match self {
            Dialect::V1 => Dialect::V2,
            Dialect::V2 => Dialect::V1,
        }
    }

    /// The label value that pins this dialect (`"1"` / `"2"`).
    pub fn label_value(self) -> &'static str {
        match self {
            Dialect::V1 => "1",
            Dialect::V2 => "2",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::V1 => "1.x",
            Dialect::V2 => "2.0",
        })
    }
}

/// A dialect name that is neither 1.x nor 2.0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Kestra dialect '{0}': expected 1 (Kestra 1.x) or 2 (Kestra 2.0)")]
pub struct UnknownDialect(pub String);

impl FromStr for Dialect {
    type Err = UnknownDialect;

    /// Accepts `1`, `1.x`, `v1`, `1.3` … and `2`, `2.0`, `v2`, `2.x`.
    fn from_str(s: &str) -> Result<Dialect, UnknownDialect> {
        let t = s.trim().trim_start_matches(['v', 'V']);
        let major = t.split('.').next().unwrap_or("");
        match major {
            "1" => Ok(Dialect::V1),
            "2" => Ok(Dialect::V2),
            _ => Err(UnknownDialect(s.to_string())),
        }
    }
}

/// The server's dialect setting (`--dialect`, `BATON_DIALECT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// Every flow without a `baton.dialect` label is in this dialect.
    pub force: Option<Dialect>,
    /// The dialect of flows that use neither dialect's constructs.
    pub default: Dialect,
}

impl Policy {
    /// Detection, with 1.x for flows valid in both (the built-in default).
    pub const AUTO: Policy = Policy { force: None, default: Dialect::V1 };

    /// Reads `auto`, `1` or `2` (as given to `--dialect` or `BATON_DIALECT`).
    pub fn parse(s: &str) -> Result<Policy, UnknownDialect> {
        if s.trim().eq_ignore_ascii_case("auto") || s.trim().is_empty() {
            return Ok(Policy::AUTO);
        }
        Ok(Policy { force: Some(s.parse()?), default: Dialect::V1 })
    }
}

/// Why a flow is in its dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Its `baton.dialect` label.
    Label,
    /// The server's `--dialect`.
    Server,
    /// A construct only that dialect has.
    Detected,
    /// It uses neither: the server's default.
    Default,
}

/// A flow's dialect and the reason, for `baton validate` and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub dialect: Dialect,
    pub basis: Basis,
    /// One line for humans: "label baton.dialect: \"2\"", "uses trigger `when` (triggers[0].when)"…
    pub reason: String,
}

/// What a flow itself says about its dialect: its label and its
/// dialect-specific constructs. Computed once when the flow is read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DialectInfo {
    /// The `baton.dialect` label's dialect.
    pub label: Option<Dialect>,
    /// Where the label is and what is wrong with its value, when it names no dialect.
    pub label_error: Option<(String, String)>,
    /// Every dialect-specific construct, in document order.
    pub markers: Vec<Marker>,
}

impl DialectInfo {
    /// Reads the label and the markers of a flow as written (a YAML mapping).
    pub fn of(root: &Value) -> DialectInfo {
        let mut info = DialectInfo { markers: markers::scan(root), ..DialectInfo::default() };
        if let Some((path, value)) = label_of(root) {
            match value.parse::<Dialect>() {
                Ok(d) => info.label = Some(d),
                Err(e) => info.label_error = Some((path, e.to_string())),
            }
        }
        info
    }

    /// The flow's dialect under the server's `policy`, by the rule in the module doc.
    pub fn resolve(&self, policy: Policy) -> Resolved {
        if let Some(d) = self.label {
            return Resolved {
                dialect: d,
                basis: Basis::Label,
                reason: format!("label {LABEL}: \"{}\"", d.label_value()),
            };
        }
        if let Some(d) = policy.force {
            return Resolved {
                dialect: d,
                basis: Basis::Server,
                reason: format!("the server's --dialect {}", d.label_value()),
            };
        }
        for d in [Dialect::V2, Dialect::V1] {
            if let Some(m) = self.markers.iter().find(|m| m.dialect == d) {
                let at = if m.path.is_empty() { String::new() } else { format!(" at {}", m.path) };
                return Resolved { dialect: d, basis: Basis::Detected, reason: format!("uses {}{at}", m.what) };
            }
        }
        Resolved {
            dialect: policy.default,
            basis: Basis::Default,
            reason: format!("uses no construct of either dialect, so it runs as {} (the default)", policy.default),
        }
    }

    /// The constructs that do not belong to `dialect`.
    pub fn conflicts(&self, dialect: Dialect) -> impl Iterator<Item = &Marker> {
        self.markers.iter().filter(move |m| m.dialect != dialect)
    }
}

/// The message for a construct of the other dialect in a flow of `resolved`'s dialect.
pub fn conflict_message(m: &Marker, resolved: &Resolved) -> String {
    let hint = match resolved.dialect {
        Dialect::V2 => String::new(),
        Dialect::V1 => format!(" — or run the flow as 2.0 (labels: {{{LABEL}: \"2\"}})"),
    };
    format!(
        "{} is Kestra {} only, and this flow is in the {} dialect ({}): {}{hint}",
        m.what, m.dialect, resolved.dialect, resolved.reason, m.replacement
    )
}

/// The `baton.dialect` label (path, value as a string), from a mapping or a list of `{key, value}`.
fn label_of(root: &Value) -> Option<(String, String)> {
    let as_text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match root.get("labels")? {
        Value::Object(m) => m.get(LABEL).map(|v| (format!("labels.{LABEL}"), as_text(v))),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, l)| {
            (l.get("key").and_then(Value::as_str) == Some(LABEL))
                .then(|| (format!("labels[{i}].value"), l.get("value").map(as_text).unwrap_or_default()))
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
