//! Inputs in 2.0: `name` is `id`; the `BOOLEAN` type is `BOOL` and `ENUM`
//! is `SELECT`; a `MULTISELECT`'s `options` are its `values`; an input with
//! `defaults` must be required, so `required: false` goes (the default
//! still fills an absent value, as in 1.x). And a Schedule or Webhook
//! trigger must supply every required input that has no `defaults`: that
//! cannot be invented, so it is reported.

use crate::migrate::Cx;
use crate::migrate::walk;

pub fn apply(cx: &mut Cx) {
    let Some(inputs) = cx.root.get("inputs") else { return };
    for i in inputs.items() {
        if i.get("id").is_none()
            && let Some((k, _)) = i.entry("name")
        {
            cx.replace(k, "id");
            cx.changed(k.start, "input name is id in 2.0");
        }
        let ty = i.get("type");
        if let Some(t) = ty {
            let new = match t.str() {
                Some("BOOLEAN") => Some("BOOL"),
                Some("ENUM") => Some("SELECT"),
                _ => None,
            };
            if let Some(new) = new {
                let raw = cx.src[t.start..t.end].replace(t.str().unwrap_or_default(), new);
                cx.replace(t, raw);
                cx.changed(t.start, format!("input type {} is {new} in 2.0", t.str().unwrap_or_default()));
            }
        }
        if ty.and_then(|t| t.str()) == Some("MULTISELECT")
            && i.get("values").is_none()
            && let Some((k, _)) = i.entry("options")
        {
            cx.replace(k, "values");
            cx.changed(k.start, "MULTISELECT options are values in 2.0");
        }
        if i.get("defaults").is_some()
            && let Some((k, v)) = i.entry("required")
            && v.str() == Some("false")
        {
            cx.remove_entry(k, v);
            cx.changed(
                k.start,
                "an input with defaults must be required in 2.0: required: false removed (the default still applies)",
            );
        }
        if let Some(d) = i.get("defaults") {
            let mut s = Vec::new();
            d.scalars(&mut s);
            if s.iter().any(|s| s.str().is_some_and(|v| v.contains("{{"))) {
                cx.manual(d.start, "a Pebble expression in defaults: 2.0 wants a constant; move the expression into the tasks (e.g. {{ inputs.x ?? … }})");
            }
        }
    }
}

/// Schedule and Webhook triggers that do not supply a required input
/// without `defaults`.
pub fn trigger_inputs(cx: &mut Cx) {
    let root = cx.root;
    let Some(inputs) = root.get("inputs") else { return };
    let needed: Vec<&str> = inputs
        .items()
        .iter()
        .filter(|i| i.get("defaults").is_none() && i.get_str("required") != Some("false"))
        .filter_map(|i| i.get_str("id").or_else(|| i.get_str("name")))
        .collect();
    for t in walk::triggers(root) {
        let ty = t.get_str("type").unwrap_or_default();
        if !(ty.ends_with("trigger.Schedule") || ty.ends_with("trigger.Webhook")) {
            continue;
        }
        let given = t.get("inputs");
        let missing: Vec<&str> = needed.iter().copied().filter(|n| given.and_then(|g| g.get(n)).is_none()).collect();
        if !missing.is_empty() {
            cx.manual(
                t.start,
                format!(
                    "2.0 rejects a {} trigger that does not supply required input(s) {}: add them under the trigger's inputs",
                    ty.rsplit('.').next().unwrap_or(ty),
                    missing.join(", ")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, found};

    #[test]
    fn inputs_are_renamed_and_made_required() {
        let src = "\
id: f
namespace: n
inputs:
  - name: a
    type: BOOLEAN
    defaults: false
    required: false # was optional
  - id: m
    type: MULTISELECT
    options: [x, y]
  - id: r
    type: STRING
tasks:
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: s
    type: io.kestra.plugin.core.trigger.Schedule
    cron: '@daily'
";
        let out = "\
id: f
namespace: n
inputs:
  - id: a
    type: BOOL
    defaults: false
  - id: m
    type: MULTISELECT
    values: [x, y]
  - id: r
    type: STRING
tasks:
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: s
    type: io.kestra.plugin.core.trigger.Schedule
    cron: '@daily'
";
        let m = check(src, out);
        assert_eq!(found(&m), ["inputs:4", "inputs:5", "inputs:7", "inputs:10", "trigger-inputs:18!"]);
    }
}
