//! `io.kestra.plugin.core.templating.TemplatedTask`: `spec`, rendered like
//! any property, is read as the YAML of a runnable task (its `type` and
//! properties; an `id` in it is ignored), which then runs in this task's
//! place with this task's context — its outputs are this task's. A spec
//! naming a flowable task, an unknown type or TemplatedTask itself fails
//! naming it, as Kestra. The rendered spec is bounded by the template
//! engine's output bound.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{Registry, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

pub const TYPE: &str = "io.kestra.plugin.core.templating.TemplatedTask";
const LEGACY: &str = "io.kestra.core.tasks.templating.TemplatedTask";

/// Run a task whose whole definition is a template.
///
/// Renders `spec`, reads it as the YAML of a runnable task (`type` and properties) and runs it in this task's place; its outputs are this task's.
#[derive(Debug, Deserialize, Declare)]
#[plugin(
    type = TYPE,
    aliases = [LEGACY],
    group = "core",
    example = "id: dynamic\ntype: io.kestra.plugin.core.templating.TemplatedTask\nspec: |\n  type: io.kestra.plugin.core.http.Download\n  {{ inputs.property }}: {{ inputs.value }}\n",
)]
struct Props {
    /// The task's YAML, rendered first.
    #[serde(deserialize_with = "de::string_lenient")]
    spec: String,
}

struct Templated {
    inner: Box<dyn RunnableTask>,
}

impl std::fmt::Debug for Templated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TemplatedTask")
    }
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let (doc, _) = baton_model::yaml::parse(&p.spec)
        .map_err(|e| TaskError::property("spec", format!("the rendered spec is not YAML: {e}")))?;
    let Value::Object(mut inner) = doc else {
        return Err(TaskError::property("spec", "the rendered spec must be a task: a map with a `type`"));
    };
    let type_name = match inner.remove("type") {
        Some(Value::String(t)) => t,
        _ => return Err(TaskError::property("spec", "the rendered spec has no `type`")),
    };
    inner.remove("id");
    if type_name == TYPE || type_name == LEGACY {
        return Err(TaskError::property("spec", format!("The templated task cannot be of type '{TYPE}'")));
    }
    if baton_model::types::flowable_kind(baton_model::types::normalize(&type_name)).is_some() {
        return Err(TaskError::property(
            "spec",
            format!("The templated task must be a runnable task, not {type_name}"),
        ));
    }
    let registry = Registry::builtin();
    let def = registry
        .get(&type_name)
        .ok_or_else(|| TaskError::property("spec", format!("the templated task's type {type_name} is unknown")))?;
    for k in inner.keys() {
        let common = ["description", "timeout", "retry", "disabled", "logLevel", "allowFailure", "allowWarning"];
        if !common.contains(&k.as_str()) && !def.props.iter().any(|s| s.name == k) {
            return Err(TaskError::property("spec", format!("{type_name} has no property '{k}'")));
        }
    }
    for s in def.props.iter().filter(|s| s.required) {
        if !inner.contains_key(s.name) {
            return Err(TaskError::property("spec", format!("{type_name} needs its property '{}'", s.name)));
        }
    }
    Ok(Box::new(Templated { inner: (def.build)(&inner)? }))
}

#[async_trait]
impl RunnableTask for Templated {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        self.inner.run(cx).await
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    #[tokio::test]
    async fn the_rendered_spec_runs_as_its_task() {
        let env = Env::new();
        let out = env
            .run(&DEF, json!({"spec": "type: io.kestra.plugin.core.debug.Return\nformat: hello {{ inputs.name }}"}))
            .await
            .expect("runs");
        assert_eq!(out.outputs.get("value"), Some(&json!("hello world")), "{out:?}");
        for (spec, want) in [
            ("type: io.kestra.plugin.core.templating.TemplatedTask\nspec: x", "cannot be of type"),
            ("type: io.kestra.plugin.core.flow.Sequential\ntasks: []", "must be a runnable task"),
            ("type: io.kestra.plugin.core.debug.Nope", "is unknown"),
            ("type: io.kestra.plugin.core.debug.Return\nformatt: x", "no property 'formatt'"),
            ("- a", "must be a task"),
        ] {
            let e = env.run(&DEF, json!({"spec": spec})).await.unwrap_err();
            assert!(e.to_string().contains(want), "{spec}: {e}");
        }
    }
}
