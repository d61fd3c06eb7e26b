//! A flow's inputs: their types (as Kestra names them), the `Input`
//! declaration with its validation bounds and `dependsOn`, and the values
//! of `SECRET` inputs to mask.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::duration;
use baton_derive::Declare;

/// An input's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InputType {
    String,
    Int,
    Float,
    Boolean,
    Bool,
    Select,
    Enum,
    Multiselect,
    Array,
    Datetime,
    Date,
    Time,
    Duration,
    Json,
    Yaml,
    Uri,
    Email,
    Secret,
    File,
}

impl InputType {
    /// Every type as written in a flow, in the enum's order: what the
    /// validator accepts for an input's `type` (the flow schema's enum,
    /// so the editor offers these and no other).
    pub const NAMES: &[&str] = &[
        "STRING",
        "INT",
        "FLOAT",
        "BOOLEAN",
        "BOOL",
        "SELECT",
        "ENUM",
        "MULTISELECT",
        "ARRAY",
        "DATETIME",
        "DATE",
        "TIME",
        "DURATION",
        "JSON",
        "YAML",
        "URI",
        "EMAIL",
        "SECRET",
        "FILE",
    ];

    /// Its position in [`InputType::NAMES`] (a new variant fails to
    /// compile here until it is listed there).
    pub fn index(self) -> usize {
        use InputType::*;
        match self {
            String => 0,
            Int => 1,
            Float => 2,
            Boolean => 3,
            Bool => 4,
            Select => 5,
            Enum => 6,
            Multiselect => 7,
            Array => 8,
            Datetime => 9,
            Date => 10,
            Time => 11,
            Duration => 12,
            Json => 13,
            Yaml => 14,
            Uri => 15,
            Email => 16,
            Secret => 17,
            File => 18,
        }
    }
}

/// What a `SECRET` input's value is shown as.
pub const SECRET_MASK: &str = "******";

/// An input's `min`/`max`: a number, or an ISO-8601 duration (Kestra's
/// DURATION bounds, e.g. `PT10S`) read as seconds.
fn number_or_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    use serde::de::Error;
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(f) => Some(f),
            Err(_) => {
                let dur = duration::parse_iso(&s).map_err(|e| {
                    D::Error::custom(format!("'{s}' is neither a number nor an ISO-8601 duration ({e})"))
                })?;
                Some(dur.num_milliseconds() as f64 / 1000.0)
            }
        },
        Some(other) => {
            return Err(D::Error::custom(format!("expected a number or an ISO-8601 duration, got {other}")));
        }
    })
}

/// Input `values`: each a string, or a `{label, value}` option (Kestra 2.0).
fn option_values<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    use serde::de::Error;
    let Some(v) = Option::<Value>::deserialize(d)? else { return Ok(None) };
    let items = match v {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        other => return Err(D::Error::custom(format!("values must be a list, got {other}"))),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(s) => out.push(s),
            Value::Object(m) => {
                if let Some(k) = m.keys().find(|k| *k != "label" && *k != "value") {
                    return Err(D::Error::custom(format!("unknown option key '{k}' (an option is {{label, value}})")));
                }
                match m.get("value") {
                    Some(Value::String(s)) => out.push(s.clone()),
                    _ => return Err(D::Error::custom("an option {label, value} needs a string 'value'")),
                }
            }
            other => {
                return Err(D::Error::custom(format!("a value must be a string or {{label, value}}, got {other}")));
            }
        }
    }
    Ok(Some(out))
}

/// The string values of the named inputs (the `SECRET` ones).
pub fn secret_values_of(ids: &[String], inputs: &Map<String, Value>) -> Vec<String> {
    ids.iter()
        .filter_map(|id| inputs.get(id).and_then(Value::as_str))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// One flow input. Its fields are the keys an input may have: the parser,
/// the validator, the flow schema and the editor's completion read them
/// from this one declaration (`Declare`; `type` and `itemType` take
/// [`InputType::NAMES`], added by the schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Declare)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    /// The input's id (`inputs.<id>` in expressions).
    pub id: String,
    /// The input's type (STRING, INT, SELECT, FILE, JSON…).
    #[serde(rename = "type")]
    #[prop(kind = "String")]
    pub type_: InputType,
    /// What the input is for, shown in the execute form.
    #[serde(default)]
    pub description: Option<String>,
    /// The label the execute form shows instead of the id.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Whether an execution must give it (true unless said otherwise, or it has `defaults`).
    #[serde(default)]
    #[prop(default = "true")]
    pub required: Option<bool>,
    /// The value taken when an execution gives none.
    #[serde(default)]
    pub defaults: Option<Value>,
    /// SELECT/MULTISELECT values: strings, or (Kestra 2.0) `{label, value}`
    /// options, of which the value is what the input takes (the label is
    /// what a UI shows).
    #[serde(default, deserialize_with = "option_values")]
    #[prop(kind = "List")]
    pub values: Option<Vec<String>>,
    /// SELECT/MULTISELECT: a value outside `values` is accepted.
    #[serde(default)]
    pub allow_custom_value: bool,
    /// ARRAY/MULTISELECT: the type of each item.
    #[serde(default)]
    #[prop(kind = "String")]
    pub item_type: Option<InputType>,
    /// A regular expression a STRING value must match.
    #[serde(default)]
    pub validator: Option<String>,
    /// The least value: a number, or (DURATION inputs) an ISO-8601 duration, in seconds.
    #[serde(default, deserialize_with = "number_or_duration")]
    #[prop(kind = "Any")]
    pub min: Option<f64>,
    /// The greatest value: a number, or (DURATION inputs) an ISO-8601 duration, in seconds.
    #[serde(default, deserialize_with = "number_or_duration")]
    #[prop(kind = "Any")]
    pub max: Option<f64>,
    /// DATE/DATETIME/TIME: the value must come after this one.
    #[serde(default)]
    pub after: Option<String>,
    /// DATE/DATETIME/TIME: the value must come before this one.
    #[serde(default)]
    pub before: Option<String>,
    /// Kestra's conditional inputs: the input is enabled only when the
    /// inputs it names are, and `condition` renders `true` against them
    /// (`inputs::dynamic`); a disabled input is left out of the execution.
    #[serde(default)]
    #[prop(kind = "Map")]
    pub depends_on: Option<InputDependsOn>,
    /// The value the execute form starts with (the UI's, as Kestra's: an
    /// API or CLI start without the input gets no value from it).
    #[serde(default)]
    pub prefill: Option<Value>,
    /// SELECT/MULTISELECT: a template rendered when the execution's inputs
    /// are resolved (and the execute form drawn) into the list of values.
    #[serde(default)]
    pub expression: Option<String>,
    /// SELECT: drawn as radio buttons in the execute form.
    #[serde(default)]
    pub is_radio: bool,
    /// SELECT/MULTISELECT: with no `defaults`, the first value is the default.
    #[serde(default)]
    pub auto_select_first: bool,
    /// JSON inputs (Kestra 2.0): the JSON Schema the value must match
    /// (`inputs::json_schema`).
    #[serde(default)]
    pub json_schema: Option<Value>,
}

/// An input's `dependsOn` (Kestra's `DependsOn`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputDependsOn {
    /// The inputs this one depends on (resolved first; all must be enabled).
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Rendered against those inputs; the input is enabled when it is `true`.
    #[serde(default)]
    pub condition: Option<String>,
}

impl Input {
    /// Kestra's older spellings, read as the current ones: `name` for `id`
    /// (Kestra before 0.15) and `options` for `values`.
    pub const OLDER_SPELLINGS: [(&str, &str); 2] = [("name", "id"), ("options", "values")];

    /// Reads one input as a flow writes it ([`Input::OLDER_SPELLINGS`]
    /// included; both spellings of one key are refused as an unknown key).
    pub fn read(item: &Value) -> Result<Input, serde_json::Error> {
        let mut v = item.clone();
        if let Some(m) = v.as_object_mut() {
            for (old, new) in Self::OLDER_SPELLINGS {
                if !m.contains_key(new)
                    && let Some(x) = m.remove(old)
                {
                    m.insert(new.to_string(), x);
                }
            }
        }
        serde_json::from_value(v)
    }

    /// Kestra inputs are required unless they say otherwise.
    pub fn is_required(&self) -> bool {
        self.required.unwrap_or(true)
    }
}
