//! Kestra's dynamic inputs, resolved when an execution is created (and when
//! the execute form is drawn): an input's `dependsOn` (enabled only when
//! the inputs it names are enabled and its `condition` renders `true`
//! against them; a disabled input is left out of the execution, required or
//! not) and a SELECT/MULTISELECT `expression` (rendered into its `values`
//! before the given value is checked against them), `autoSelectFirst`.
//!
//! Pure: rendering is the caller's (`render(template, inputs)` returns the
//! typed value of the template against the given inputs), so the launcher
//! renders with the runtime's template host (`kv()`, `subflow()`…) and the
//! tests with a closure. As in Kestra (`FlowInputOutput.resolveInputs`), a
//! template sees the inputs its `dependsOn` names, resolved first.

use serde_json::{Map, Value};

use super::InputError;
use baton_model::flow::{Input, InputType};

/// Renders a template to a typed value against the given inputs.
pub type RenderFn<'a> = dyn FnMut(&str, &Map<String, Value>) -> Result<Value, String> + 'a;

/// One input after resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The input as rendered (`values` from its `expression`).
    pub input: Input,
    /// False when its `dependsOn` disables it.
    pub enabled: bool,
    /// The raw value it takes (given, default, or first value), unchecked.
    pub value: Option<Value>,
    /// Why it cannot be enabled or rendered.
    pub error: Option<InputError>,
}

#[derive(Clone)]
enum Slot {
    Todo,
    Busy,
    Done(Box<Resolved>),
}

/// True when an input needs this module (`dependsOn`, `expression`,
/// `autoSelectFirst`).
pub fn is_dynamic(input: &Input) -> bool {
    input.depends_on.is_some() || input.expression.is_some() || input.auto_select_first
}

/// Static problems of the inputs' `dependsOn` and `expression`, as
/// `(index, message)`: an unknown or self dependency, a cycle, an
/// `expression` on a type that has no values.
pub fn check(inputs: &[Input]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let id = &input.id;
        let selects = matches!(input.type_, InputType::Select | InputType::Multiselect);
        if input.expression.is_some() && !selects {
            out.push((i, format!("input '{id}': 'expression' applies to SELECT and MULTISELECT inputs only")));
        }
        if input.auto_select_first && !selects {
            out.push((i, format!("input '{id}': 'autoSelectFirst' applies to SELECT and MULTISELECT inputs only")));
        }
        if input.is_radio && input.type_ != InputType::Select {
            out.push((i, format!("input '{id}': 'isRadio' applies to SELECT inputs only")));
        }
        for dep in input.depends_on.iter().flat_map(|d| &d.inputs) {
            if dep == id {
                out.push((i, format!("input '{id}': dependsOn names the input itself")));
            } else if !inputs.iter().any(|x| &x.id == dep) {
                out.push((i, format!("input '{id}': dependsOn names the unknown input '{dep}'")));
            }
        }
    }
    // a cycle through dependsOn: walk each input's dependencies back to it
    fn deps_of(x: &Input) -> Vec<&str> {
        x.depends_on.iter().flat_map(|d| d.inputs.iter().map(String::as_str)).filter(|d| *d != x.id).collect()
    }
    for (i, input) in inputs.iter().enumerate() {
        let mut todo = deps_of(input);
        let mut seen = std::collections::HashSet::new();
        while let Some(d) = todo.pop() {
            if d == input.id {
                out.push((i, format!("input '{}': its dependsOn inputs form a cycle", input.id)));
                break;
            }
            if seen.insert(d)
                && let Some(x) = inputs.iter().find(|x| x.id == d)
            {
                todo.extend(deps_of(x));
            }
        }
    }
    out
}

/// Resolves every input's `dependsOn` and `expression`, in dependency
/// order; `pick(input)` gives the raw value the input takes (given or
/// default). Returns the inputs in declared order.
pub fn resolve(inputs: &[Input], pick: &dyn Fn(&Input) -> Option<Value>, render: &mut RenderFn<'_>) -> Vec<Resolved> {
    let mut slots = vec![Slot::Todo; inputs.len()];
    for i in 0..inputs.len() {
        visit(i, inputs, pick, render, &mut slots);
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(i, s)| match s {
            Slot::Done(r) => *r,
            _ => error(&inputs[i], "could not be resolved"),
        })
        .collect()
}

fn error(input: &Input, message: &str) -> Resolved {
    Resolved {
        input: input.clone(),
        enabled: false,
        value: None,
        error: Some(InputError::Render { id: input.id.clone(), message: message.to_string() }),
    }
}

fn visit(
    i: usize,
    inputs: &[Input],
    pick: &dyn Fn(&Input) -> Option<Value>,
    render: &mut RenderFn<'_>,
    slots: &mut Vec<Slot>,
) {
    match &slots[i] {
        Slot::Done(_) => return,
        Slot::Busy => {
            // a cycle (validation refuses it; a flow stored before is still answered)
            slots[i] = Slot::Done(Box::new(error(&inputs[i], "its dependsOn inputs form a cycle")));
            return;
        }
        Slot::Todo => slots[i] = Slot::Busy,
    }
    let input = &inputs[i];
    let deps: Vec<String> = input.depends_on.as_ref().map(|d| d.inputs.clone()).unwrap_or_default();
    let mut scope = Map::new();
    let mut enabled = true;
    for dep in &deps {
        let Some(j) = inputs.iter().position(|x| &x.id == dep) else {
            slots[i] = Slot::Done(Box::new(error(input, &format!("dependsOn names the unknown input '{dep}'"))));
            return;
        };
        visit(j, inputs, pick, render, slots);
        if let Slot::Done(r) = &slots[j] {
            enabled &= r.enabled && r.error.is_none();
            if r.enabled {
                scope.insert(dep.clone(), r.value.clone().unwrap_or(Value::Null));
            }
        }
    }
    if matches!(slots[i], Slot::Done(_)) {
        return; // found on a cycle while its dependencies were resolved
    }
    let done = resolve_one(input, enabled, &scope, pick, render);
    slots[i] = Slot::Done(Box::new(done));
}

fn resolve_one(
    input: &Input,
    mut enabled: bool,
    scope: &Map<String, Value>,
    pick: &dyn Fn(&Input) -> Option<Value>,
    render: &mut RenderFn<'_>,
) -> Resolved {
    let condition = input.depends_on.as_ref().and_then(|d| d.condition.as_deref());
    if let (Some(c), true) = (condition, enabled) {
        match render(c, scope) {
            Ok(v) => enabled = v == Value::Bool(true) || v.as_str().is_some_and(|s| s.trim() == "true"),
            Err(e) => return error(input, &format!("Invalid condition: {e}")),
        }
    }
    if !enabled {
        return Resolved { input: input.clone(), enabled: false, value: None, error: None };
    }
    let mut input = input.clone();
    if let Some(expr) = input.expression.clone() {
        let rendered = match render(expr.trim(), scope) {
            Ok(v) => v,
            Err(e) => return error(&input, &format!("Cannot render 'expression'. Cause: {e}")),
        };
        match values_of(rendered) {
            Some(values) => input.values = Some(values),
            None => return error(&input, "Invalid expression result. Expected a list of values"),
        }
    }
    let mut value = pick(&input);
    if value.is_none() && input.auto_select_first && input.defaults.is_none() {
        value = input.values.as_ref().and_then(|v| v.first()).map(|v| match input.type_ {
            InputType::Multiselect => Value::Array(vec![Value::String(v.clone())]),
            _ => Value::String(v.clone()),
        });
    }
    Resolved { input, enabled: true, value, error: None }
}

/// The values an `expression` rendered to: a list of strings, numbers or
/// `{label, value}` options (a JSON text of one is parsed first).
fn values_of(v: Value) -> Option<Vec<String>> {
    let v = match v {
        Value::String(s) => serde_json::from_str::<Value>(s.trim()).ok()?,
        v => v,
    };
    let Value::Array(items) = v else { return None };
    Some(
        items
            .into_iter()
            .filter(|x| !x.is_null())
            .map(|x| match x {
                Value::String(s) => s,
                Value::Object(m) => match m.get("value") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => Value::Object(m).to_string(),
                },
                other => other.to_string(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inputs(v: Value) -> Vec<Input> {
        v.as_array().expect("a list").iter().map(|i| Input::read(i).expect("inputs")).collect()
    }

    /// A renderer for tests: `{{ inputs.X == 'V' }}` and `{{ list }}` forms.
    fn fake(template: &str, scope: &Map<String, Value>) -> Result<Value, String> {
        if let Some(rest) = template.strip_prefix("{{ inputs.") {
            let (name, rest) = rest.split_once(" == '").ok_or("bad test template")?;
            let want = rest.trim_end_matches("' }}");
            return Ok(Value::Bool(scope.get(name).and_then(Value::as_str) == Some(want)));
        }
        if template == "{{ regions }}" {
            let cloud = scope.get("cloud").and_then(Value::as_str).unwrap_or("none");
            return Ok(json!([format!("{cloud}-east"), {"label": "West", "value": format!("{cloud}-west")}]));
        }
        Err(format!("cannot render {template}"))
    }

    fn flow() -> Vec<Input> {
        inputs(json!([
            {"id": "cloud", "type": "SELECT", "values": ["aws", "gcp"]},
            {"id": "region", "type": "SELECT", "expression": "{{ regions }}", "autoSelectFirst": true,
             "dependsOn": {"inputs": ["cloud"]}},
            {"id": "project", "type": "STRING",
             "dependsOn": {"inputs": ["cloud"], "condition": "{{ inputs.cloud == 'gcp' }}"}}
        ]))
    }

    #[test]
    fn a_disabled_input_is_left_out_and_an_expression_gives_the_values() {
        let given = json!({"cloud": "aws"});
        let pick = |i: &Input| given.get(&i.id).cloned();
        let out = resolve(&flow(), &pick, &mut fake);
        assert_eq!(out[1].input.values, Some(vec!["aws-east".to_string(), "aws-west".to_string()]));
        assert_eq!(out[1].value, Some(json!("aws-east")), "autoSelectFirst");
        assert!(!out[2].enabled, "project depends on cloud == gcp");
        assert!(out.iter().all(|r| r.error.is_none()));
        let given = json!({"cloud": "gcp", "region": "gcp-west", "project": "p"});
        let pick = |i: &Input| given.get(&i.id).cloned();
        let out = resolve(&flow(), &pick, &mut fake);
        assert!(out[2].enabled);
        assert_eq!(out[1].value, Some(json!("gcp-west")));
    }

    #[test]
    fn a_disabled_dependency_disables_its_dependents_and_errors_name_the_input() {
        let flow = json!([
            {"id": "a", "type": "STRING", "dependsOn": {"inputs": [], "condition": "{{ nope }}"}},
            {"id": "b", "type": "SELECT", "expression": "{{ regions }}", "dependsOn": {"inputs": ["c"]}},
            {"id": "c", "type": "BOOLEAN", "dependsOn": {"inputs": ["b"]}}
        ]);
        let pick = |_: &Input| None;
        let out = resolve(&inputs(flow), &pick, &mut fake);
        let msg = out[0].error.as_ref().expect("a fails").to_string();
        assert!(msg.contains("'a'") && msg.contains("Invalid condition"), "{msg}");
        assert!(out[1].error.is_some() || out[2].error.is_some(), "the cycle b <-> c is reported");
    }

    #[test]
    fn an_expression_that_is_not_a_list_is_refused_naming_it() {
        let flow = json!([{"id": "x", "type": "SELECT", "expression": "{{ inputs.y == 'z' }}"}]);
        let pick = |_: &Input| None;
        let out = resolve(&inputs(flow), &pick, &mut fake);
        let msg = out[0].error.as_ref().expect("refused").to_string();
        assert!(msg.contains("Expected a list of values"), "{msg}");
    }
}
