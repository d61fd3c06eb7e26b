//! `io.kestra.plugin.core.execution.SetVariables` and `UnsetVariables`:
//! change the current execution's variables (what `{{ vars.* }}` reads in
//! the tasks after them), as Kestra's execution-updating tasks do.
//!
//! - SetVariables: `variables` (a map, or a template rendering to a JSON
//!   map) deep-merged into the execution's variables; with
//!   `overwrite: false` the task fails naming the variables that already
//!   exist, and changes nothing.
//! - UnsetVariables: `variables` (names; `a.b` reaches into map `a`)
//!   removed. A name that is not set changes nothing, as in Kestra; a
//!   dotted name whose parent is missing fails unless `ignoreMissing`.
//!
//! The task computes the change against the variables its context holds;
//! the executor applies it to the stored execution
//! (`model::variables`). No outputs.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::de::bool_lenient;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, parse_props};
use baton_model::variables::{VariablesChange, check_unset};

/// Set variables of the running execution.
///
/// Deep-merges the rendered `variables` into the execution's variables (an execution starts with its flow's `variables`); the tasks after it read them as `{{ vars.<name> }}`. With `overwrite: false` it fails naming the variables that already exist.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.execution.SetVariables",
    group = "core",
    example = "id: set_vars\ntype: io.kestra.plugin.core.execution.SetVariables\nvariables:\n  message: Hello\n  name: \"{{ inputs.name }}\"\n"
)]
struct SetProps {
    /// The variables to set, by name (maps are merged key by key).
    #[prop(kind = "Map")]
    variables: Value,
    /// Replace variables that already exist.
    #[serde(default = "yes", deserialize_with = "bool_lenient")]
    #[prop(default = "true")]
    overwrite: bool,
}

/// Remove variables of the running execution.
///
/// Removes each named variable (`a.b` removes `b` from map `a`) from the execution's variables; a name that is not set changes nothing.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.execution.UnsetVariables",
    group = "core",
    example = "id: unset\ntype: io.kestra.plugin.core.execution.UnsetVariables\nvariables:\n  - message\n  - name\n"
)]
struct UnsetProps {
    /// The names to remove.
    #[prop(kind = "List")]
    variables: Value,
    /// Do not fail when the parent map of a dotted name is missing.
    #[serde(default, deserialize_with = "bool_lenient")]
    #[prop(default = "false")]
    ignore_missing: bool,
}

fn yes() -> bool {
    true
}

/// A map, or a string holding a JSON map (a rendered template).
fn as_map(v: Value) -> Result<Map<String, Value>, TaskError> {
    match v {
        Value::Object(m) => Ok(m),
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(TaskError::property("variables", format!("expected a map of variables, found \"{s}\""))),
        },
        other => Err(TaskError::property("variables", format!("expected a map of variables, found {other}"))),
    }
}

/// A list of names, or a string holding a JSON list (a rendered template).
fn as_names(v: Value) -> Result<Vec<String>, TaskError> {
    let list = match v {
        Value::Array(a) => a,
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Array(a)) => a,
            _ => vec![Value::String(s)],
        },
        other => return Err(TaskError::property("variables", format!("expected a list of names, found {other}"))),
    };
    list.into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            other => {
                Err(TaskError::property(&format!("variables[{i}]"), format!("expected a variable name, found {other}")))
            }
        })
        .collect()
}

struct SetVariables {
    variables: Map<String, Value>,
    overwrite: bool,
}

struct UnsetVariables {
    names: Vec<String>,
    ignore_missing: bool,
}

fn build_set(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SetProps = parse_props(props)?;
    Ok(Box::new(SetVariables { variables: as_map(p.variables)?, overwrite: p.overwrite }))
}

fn build_unset(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: UnsetProps = parse_props(props)?;
    Ok(Box::new(UnsetVariables { names: as_names(p.variables)?, ignore_missing: p.ignore_missing }))
}

/// The variables the task's context holds (the execution's, else the flow's).
fn current(cx: &RunContext) -> Map<String, Value> {
    cx.get("vars").and_then(Value::as_object).cloned().unwrap_or_default()
}

#[async_trait]
impl RunnableTask for SetVariables {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        if !self.overwrite {
            let vars = current(cx);
            let existing: Vec<&str> =
                self.variables.keys().filter(|k| vars.contains_key(*k)).map(String::as_str).collect();
            if !existing.is_empty() {
                return Err(TaskError::failed(format!(
                    "`overwrite` is false and these variables already exist: {}",
                    existing.join(", ")
                )));
            }
        }
        Ok(TaskOutput {
            variables: Some(VariablesChange::Set { variables: self.variables.clone() }),
            ..TaskOutput::default()
        })
    }
}

#[async_trait]
impl RunnableTask for UnsetVariables {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        check_unset(&current(cx), &self.names, self.ignore_missing).map_err(|e| TaskError::failed(e.to_string()))?;
        Ok(TaskOutput {
            variables: Some(VariablesChange::Unset { names: self.names.clone() }),
            ..TaskOutput::default()
        })
    }
}

pub static SET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SetProps>(build_set));

pub static UNSET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<UnsetProps>(build_unset));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    fn env_with_vars(vars: Value) -> Env {
        let mut env = Env::new();
        env.context["vars"] = vars;
        env
    }

    #[tokio::test]
    async fn set_renders_and_returns_the_change() {
        let env = env_with_vars(json!({"name": "World"}));
        let out =
            env.run(&SET, json!({"variables": {"message": "Hello {{ inputs.name }}", "name": "Loïc"}})).await.unwrap();
        assert!(out.outputs.is_empty());
        assert_eq!(
            out.variables,
            Some(VariablesChange::Set {
                variables: json!({"message": "Hello world", "name": "Loïc"}).as_object().cloned().unwrap()
            })
        );
        // a template rendering to a JSON map
        let out = env.run(&SET, json!({"variables": "{{ {'n': inputs.n} | toJson }}"})).await.unwrap();
        assert_eq!(
            out.variables,
            Some(VariablesChange::Set { variables: json!({"n": 42}).as_object().cloned().unwrap() })
        );
    }

    #[tokio::test]
    async fn set_without_overwrite_fails_on_existing_names() {
        let env = env_with_vars(json!({"name": "World", "other": 1}));
        let err = env.run(&SET, json!({"variables": {"name": "x", "fresh": 1}, "overwrite": false})).await.unwrap_err();
        assert!(err.to_string().contains("already exist: name"), "{err}");
        let ok = env.run(&SET, json!({"variables": {"fresh": 1}, "overwrite": "false"})).await.unwrap();
        assert!(ok.variables.is_some());
        let err = env.run(&SET, json!({"variables": [1, 2]})).await.unwrap_err();
        assert!(err.to_string().contains("map of variables"), "{err}");
    }

    #[tokio::test]
    async fn unset_checks_dotted_parents() {
        let env = env_with_vars(json!({"a": 1, "db": {"host": "h"}, "s": "text"}));
        let out = env.run(&UNSET, json!({"variables": ["a", "db.host", "not_there"]})).await.unwrap();
        assert_eq!(
            out.variables,
            Some(VariablesChange::Unset { names: vec!["a".into(), "db.host".into(), "not_there".into()] })
        );
        let err = env.run(&UNSET, json!({"variables": ["s.x"]})).await.unwrap_err();
        assert!(err.to_string().contains("'s' is not a map"), "{err}");
        let err = env.run(&UNSET, json!({"variables": ["gone.x"]})).await.unwrap_err();
        assert!(err.to_string().contains("'gone'"), "{err}");
        assert!(env.run(&UNSET, json!({"variables": ["gone.x"], "ignoreMissing": true})).await.is_ok());
        let err = env.run(&UNSET, json!({"variables": [3]})).await.unwrap_err();
        assert!(err.to_string().contains("variables[0]"), "{err}");
    }
}
