//! Flow inputs, with Kestra's semantics: every declared input gets a typed
//! value from what was given (CLI strings or API JSON) or from its
//! `defaults`; required inputs (the default in Kestra) must get one.
//! Input definitions are also checked statically for `baton validate`.

mod coerce;
pub mod dynamic;
pub mod json_schema;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::{Map, Value};

use crate::is_template;
use baton_model::flow::{Input, InputType};
pub use coerce::{display, format_datetime, type_name};

static INPUT_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9][.a-zA-Z0-9_-]*$").expect("static regex"));
static NOW: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\{\{\s*now\(\)\s*\}\}$").expect("static regex"));

/// Why an input could not be resolved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    /// A required input got no value and has no default.
    #[error("Missing required input '{id}'")]
    Missing { id: String },
    /// The value (given or default) does not fit the input's type.
    #[error("Invalid value for input '{id}': expected {expected}, got '{got}'")]
    Invalid { id: String, expected: String, got: String },
    /// The inputs an execution holds are over [`MAX_INPUTS_BYTES`].
    #[error(
        "Input '{id}' is too large: the execution's inputs take {bytes} bytes, more than Baton's bound of \
         {} KiB (MAX_INPUTS_BYTES); pass large values as FILE inputs", MAX_INPUTS_BYTES >> 10
    )]
    TooLarge { id: String, bytes: usize },
    /// Its `dependsOn` condition or `expression` could not be rendered.
    #[error("Invalid input '{id}': {message}")]
    Render { id: String, message: String },
}

/// Bytes (as JSON) the inputs of one execution may take: 512 KiB. They are
/// kept in the execution's document, rewritten at each step (and a
/// Firestore document holds at most 1 MiB): a 15 MB STRING input once made
/// a three-task flow take a minute. Files go as FILE inputs.
pub const MAX_INPUTS_BYTES: usize = 512 * 1024;

impl InputError {
    /// The id of the input concerned.
    pub fn id(&self) -> &str {
        match self {
            InputError::Missing { id }
            | InputError::Invalid { id, .. }
            | InputError::TooLarge { id, .. }
            | InputError::Render { id, .. } => id,
        }
    }
}

/// True if a given value counts as "no value": null, or an empty string for
/// a type where an empty string means nothing (everything but STRING/SECRET).
fn is_absent(input: &Input, v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) if s.is_empty() => !matches!(input.type_, InputType::String | InputType::Secret),
        _ => false,
    }
}

/// Resolves every declared input from `given` or its default.
///
/// The result holds the declared inputs in order. An optional input with
/// no value is `null` (so `{{ inputs.x ?? 'd' }}` works). A default that is
/// a template is returned unrendered, except `{{ now() }}`, which becomes
/// `now` for DATETIME/DATE/TIME/STRING inputs. Given keys that are not
/// declared are ignored, as in Kestra. Every error is reported at once.
pub fn resolve_inputs(
    flow_inputs: &[Input],
    given: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, Vec<InputError>> {
    let mut cannot = |t: &str, _: &Map<String, Value>| Err(format!("'{t}' cannot be rendered here"));
    resolve_inputs_with(flow_inputs, given, now, &mut cannot)
}

/// [`resolve_inputs`], with dynamic inputs (`dependsOn`, a SELECT's
/// `expression`) rendered by `render` ([`dynamic`]): a disabled input is
/// left out of the result.
pub fn resolve_inputs_with(
    flow_inputs: &[Input],
    given: &Map<String, Value>,
    now: DateTime<Utc>,
    render: &mut dynamic::RenderFn<'_>,
) -> Result<Map<String, Value>, Vec<InputError>> {
    let mut out = Map::new();
    let mut errors = Vec::new();
    let pick = |input: &Input| match given.get(&input.id).filter(|v| !is_absent(input, v)) {
        Some(v) => Some(v.clone()),
        None => input.defaults.clone().filter(|v| !is_absent(input, v)).map(|d| expand_now(input, d, now)),
    };
    let rendered;
    let resolved: Vec<(&Input, Option<Value>)> = if flow_inputs.iter().any(dynamic::is_dynamic) {
        rendered = dynamic::resolve(flow_inputs, &pick, render);
        let mut v = Vec::new();
        for r in &rendered {
            if let Some(e) = &r.error {
                errors.push(e.clone());
            } else if r.enabled {
                v.push((&r.input, r.value.clone()));
            }
        }
        v
    } else {
        flow_inputs.iter().map(|i| (i, pick(i))).collect()
    };
    for (input, value) in resolved {
        let Some(value) = value else {
            if input.is_required() {
                errors.push(InputError::Missing { id: input.id.clone() });
            } else {
                out.insert(input.id.clone(), Value::Null);
            }
            continue;
        };
        if value.as_str().is_some_and(is_template) {
            out.insert(input.id.clone(), value);
            continue;
        }
        match coerce::coerce(input, &value) {
            Ok(v) => {
                out.insert(input.id.clone(), v);
            }
            Err(m) => errors.push(InputError::Invalid { id: input.id.clone(), expected: m.expected, got: m.got }),
        }
    }
    if errors.is_empty() {
        let size = |v: &Value| serde_json::to_vec(v).map_or(0, |b| b.len());
        let bytes: usize = out.iter().map(|(k, v)| k.len() + size(v)).sum();
        if bytes > MAX_INPUTS_BYTES {
            let largest = out.iter().max_by_key(|(_, v)| size(v)).map(|(k, _)| k.clone()).unwrap_or_default();
            return Err(vec![InputError::TooLarge { id: largest, bytes }]);
        }
        Ok(out)
    } else {
        Err(errors)
    }
}

/// One input as the execute form shows it (Kestra's `InputAndValue`):
/// rendered (`values` from its `expression`), enabled or not, its value
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct InputReport {
    pub input: Input,
    pub value: Option<Value>,
    pub enabled: bool,
    pub errors: Vec<String>,
}

/// Every declared input checked against `given` without starting anything
/// (Kestra's `validateExecutionInputs`), for the execute form.
pub fn report_inputs(
    flow_inputs: &[Input],
    given: &Map<String, Value>,
    now: DateTime<Utc>,
    render: &mut dynamic::RenderFn<'_>,
) -> Vec<InputReport> {
    let pick = |input: &Input| match given.get(&input.id).filter(|v| !is_absent(input, v)) {
        Some(v) => Some(v.clone()),
        None => input.defaults.clone().filter(|v| !is_absent(input, v)).map(|d| expand_now(input, d, now)),
    };
    dynamic::resolve(flow_inputs, &pick, render)
        .into_iter()
        .map(|r| {
            let mut errors: Vec<String> = r.error.iter().map(ToString::to_string).collect();
            let mut value = r.value.clone();
            if r.enabled && r.error.is_none() {
                match &r.value {
                    None if r.input.is_required() => {
                        errors.push(InputError::Missing { id: r.input.id.clone() }.to_string())
                    }
                    Some(v) if !v.as_str().is_some_and(is_template) => match coerce::coerce(&r.input, v) {
                        Ok(typed) => value = Some(typed),
                        Err(m) => errors.push(
                            InputError::Invalid { id: r.input.id.clone(), expected: m.expected, got: m.got }
                                .to_string(),
                        ),
                    },
                    _ => {}
                }
            }
            InputReport { input: r.input, value, enabled: r.enabled, errors }
        })
        .collect()
}

/// Replaces a `{{ now() }}` default with the resolution time.
fn expand_now(input: &Input, d: Value, now: DateTime<Utc>) -> Value {
    let is_now = d.as_str().is_some_and(|s| NOW.is_match(s.trim()));
    if !is_now {
        return d;
    }
    match input.type_ {
        InputType::Datetime | InputType::String => Value::String(format_datetime(now)),
        InputType::Date => Value::String(now.format("%Y-%m-%d").to_string()),
        InputType::Time => Value::String(now.format("%H:%M:%S%.f").to_string()),
        _ => d,
    }
}

/// Coerces one value for an input, as `resolve_inputs` does. Useful to
/// check values written elsewhere (e.g. a Schedule trigger's `inputs`).
pub fn check_value(input: &Input, v: &Value) -> Result<Value, InputError> {
    coerce::coerce(input, v).map_err(|m| InputError::Invalid { id: input.id.clone(), expected: m.expected, got: m.got })
}

/// Checks input definitions statically. Returns `(index, message)` for
/// each problem: duplicate or malformed ids, SELECT/MULTISELECT without
/// `values`, ARRAY without `itemType`, an invalid `validator`, `min` above
/// `max`, unparsable `after`/`before`, and defaults that do not fit.
pub fn check_definitions(inputs: &[Input]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (i, input) in inputs.iter().enumerate() {
        let id = &input.id;
        let ty = type_name(input.type_);
        if !seen.insert(id.as_str()) {
            out.push((i, format!("Duplicate input with name [{id}]")));
        }
        if !INPUT_ID.is_match(id) {
            out.push((i, format!("invalid input id '{id}': it must match ^[a-zA-Z0-9][.a-zA-Z0-9_-]*$")));
        }
        let needs_values = matches!(input.type_, InputType::Select | InputType::Enum | InputType::Multiselect);
        let no_values = needs_values && input.expression.is_none() && input.values.as_ref().is_none_or(Vec::is_empty);
        if no_values {
            out.push((i, format!("input '{id}' of type {ty} needs a non-empty 'values' list")));
        }
        match (input.type_, input.item_type) {
            (InputType::Array, None) => out.push((i, format!("input '{id}' of type ARRAY needs 'itemType'"))),
            (InputType::Array, Some(t @ (InputType::Array | InputType::File | InputType::Multiselect))) => {
                out.push((i, format!("input '{id}': itemType {} is not allowed in an ARRAY", type_name(t))))
            }
            _ => {}
        }
        let no_item_type = input.type_ == InputType::Array && input.item_type.is_none();
        let mut defaults_checkable = !no_values && !no_item_type && input.expression.is_none();
        if let Some(p) = &input.validator
            && let Err(e) = coerce::compile_validator(p)
        {
            defaults_checkable = false;
            out.push((i, format!("invalid validator for input '{id}': '{p}' is not a valid regex: {e}")));
        }
        if let Some(schema) = &input.json_schema {
            if input.type_ != InputType::Json {
                out.push((i, format!("input '{id}': jsonSchema applies to JSON inputs only, not {ty}")));
            } else if let Err(e) = json_schema::check_schema(schema) {
                defaults_checkable = false;
                out.push((i, format!("input '{id}': invalid jsonSchema: {e}")));
            }
        }
        if let (Some(lo), Some(hi)) = (input.min, input.max)
            && lo > hi
        {
            out.push((i, format!("input '{id}': min ({lo}) is greater than max ({hi})")));
        }
        for (key, bound) in [("after", &input.after), ("before", &input.before)] {
            let Some(b) = bound else { continue };
            let ok = match input.type_ {
                InputType::Datetime => coerce::parse_datetime(b).is_some(),
                InputType::Date => coerce::parse_date(b).is_some(),
                InputType::Time => coerce::parse_time(b).is_some(),
                _ => true,
            };
            if !ok {
                out.push((i, format!("input '{id}': '{key}' value '{b}' is not a valid {ty}")));
            }
        }
        if let Some(d) = &input.defaults
            && defaults_checkable
            && !d.is_null()
            && !d.as_str().is_some_and(is_template)
            && let Err(m) = coerce::coerce(input, d)
        {
            out.push((i, format!("invalid defaults for input '{id}': expected {}, got '{}'", m.expected, m.got)));
        }
    }
    out.extend(dynamic::check(inputs));
    out
}
