//! Conditions on the upstream execution (`ExecutionFlow`,
//! `ExecutionNamespace`, `ExecutionStatus`, `ExecutionLabels`,
//! `ExecutionOutputs`, `HasRetryAttempt`), on the flow owning the trigger
//! (`FlowCondition`, `FlowNamespaceCondition`) and `Expression`.

use serde_json::{Map, Value};

use super::eval_dates::resolve;
use super::{Comparison, Condition, ConditionContext, ConditionError, Prop};
use baton_model::{Execution, StateType};

/// `Expression`: the rendered expression is neither blank nor `false` (as Kestra).
pub(super) fn expression(name: &'static str, expr: &str, cx: &ConditionContext) -> Result<bool, ConditionError> {
    let out = cx.renderer.render_str(expr, cx.variables, cx.host).map_err(|e| ConditionError::Property {
        condition: name,
        property: "expression",
        message: e.to_string(),
    })?;
    Ok(is_truthy(&out))
}

/// Kestra's `Expression` test on a rendered string: not blank, not `false`.
pub fn is_truthy(s: &str) -> bool {
    let t = s.trim();
    !(t.is_empty() || t == "false")
}

/// Tests an execution or flow condition.
pub(super) fn test(c: &Condition, cx: &ConditionContext) -> Result<bool, ConditionError> {
    let name = c.short_name();
    let exec = || {
        cx.execution.ok_or(ConditionError::Invalid {
            condition: name,
            message: "Invalid condition with null execution (it needs the execution that triggered)".into(),
        })
    };
    match c {
        Condition::ExecutionFlow { namespace, flow_id } => {
            let e = exec()?;
            let ns = resolve(name, "namespace", namespace, cx, ok)?;
            let id = resolve(name, "flowId", flow_id, cx, ok)?;
            Ok(e.namespace == ns && e.flow_id == id)
        }
        Condition::ExecutionNamespace { namespace, comparison } => {
            let e = exec()?;
            Ok(match comparison {
                Comparison::Equals => e.namespace == *namespace,
                Comparison::Prefix => e.namespace.starts_with(namespace.as_str()),
                Comparison::Suffix => e.namespace.ends_with(namespace.as_str()),
            })
        }
        Condition::ExecutionStatus { in_, not_in } => {
            let e = exec()?;
            let state = e.state.current;
            let ins = states(name, "in", in_, cx)?;
            let outs = states(name, "notIn", not_in, cx)?;
            Ok(ins.is_none_or(|l| l.contains(&state)) && outs.is_none_or(|l| !l.contains(&state)))
        }
        Condition::ExecutionLabels { labels } => {
            let e = exec()?;
            Ok(labels.iter().all(|l| e.labels.contains(l)))
        }
        Condition::ExecutionOutputs { expression } => {
            let e = exec()?;
            let Some(outputs) = e.outputs.as_ref().filter(|o| !o.is_empty()) else { return Ok(false) };
            let vars = with_trigger_outputs(cx.variables, outputs);
            let v = cx.renderer.render_typed(&Value::String(expression.clone()), &vars, cx.host).map_err(|e| {
                ConditionError::Property { condition: name, property: "expression", message: e.to_string() }
            })?;
            as_bool(&v).ok_or_else(|| ConditionError::Property {
                condition: name,
                property: "expression",
                message: format!("must render to true or false, got {v}"),
            })
        }
        Condition::HasRetryAttempt { in_, not_in } => {
            let e = exec()?;
            let ins = states(name, "in", in_, cx)?.unwrap_or_default();
            let outs = states(name, "notIn", not_in, cx)?.unwrap_or_default();
            Ok(retried_attempts(e).any(|s| ins.contains(&s) && !outs.contains(&s)))
        }
        Condition::Flow { namespace, flow_id } => {
            Ok(cx.namespace == namespace.as_str() && cx.flow_id == flow_id.as_str())
        }
        Condition::FlowNamespace { namespace, prefix } => {
            let ns = resolve(name, "namespace", namespace, cx, ok)?;
            let prefix = resolve(name, "prefix", prefix, cx, |s| match s {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(format!("must be true or false, got '{s}'")),
            })?;
            // Kestra: with prefix, the namespace itself or any below it.
            Ok(if prefix { cx.namespace.starts_with(ns.as_str()) } else { cx.namespace == ns })
        }
        _ => Err(ConditionError::Invalid { condition: name, message: "not an execution condition".into() }),
    }
}

/// The states of the attempts of every task run that was retried (more than one attempt).
fn retried_attempts(e: &Execution) -> impl Iterator<Item = StateType> + '_ {
    e.task_run_list.iter().filter(|t| t.attempts.len() > 1).flat_map(|t| t.attempts.iter().map(|a| a.state.current))
}

fn ok(s: &str) -> Result<String, String> {
    Ok(s.to_string())
}

fn states(
    name: &'static str,
    property: &'static str,
    p: &Option<Prop<Vec<StateType>>>,
    cx: &ConditionContext,
) -> Result<Option<Vec<StateType>>, ConditionError> {
    let Some(p) = p else { return Ok(None) };
    resolve(name, property, p, cx, parse_state_list).map(Some)
}

/// A rendered list of states: JSON (`["FAILED"]`) or comma-separated names.
fn parse_state_list(s: &str) -> Result<Vec<StateType>, String> {
    let items: Vec<String> = match serde_json::from_str::<Value>(s) {
        Ok(Value::Array(a)) => a.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect(),
        _ => s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect(),
    };
    items.iter().map(|x| baton_model::conditions::parse::parse_state(x)).collect()
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim() == "true" => Some(true),
        Value::String(s) if s.trim() == "false" => Some(false),
        _ => None,
    }
}

/// `variables` with `trigger.outputs` set to the upstream execution's outputs.
fn with_trigger_outputs(vars: &Value, outputs: &Map<String, Value>) -> Value {
    let mut vars = vars.clone();
    if !vars.is_object() {
        vars = Value::Object(Map::new());
    }
    if let Some(root) = vars.as_object_mut() {
        let trigger = root.entry("trigger").or_insert_with(|| Value::Object(Map::new()));
        if !trigger.is_object() {
            *trigger = Value::Object(Map::new());
        }
        if let Some(t) = trigger.as_object_mut() {
            t.insert("outputs".into(), Value::Object(outputs.clone()));
        }
    }
    vars
}
