//! The CLI tasks of Kestra's tool plugins — `terraform.cli.TerraformCLI`,
//! `ansible.cli.AnsibleCLI`, `aws.cli.AwsCLI`, `gcp.cli.GCloudCLI`,
//! `azure.cli.AzCLI`, `trivy.cli.TrivyCLI`, `cloudquery.CloudQueryCLI`,
//! `sqlmesh.cli.SQLMeshCLI`, `spark.SparkCLI`, `modal.cli.ModalCLI` — as
//! Kestra builds them: shell `Commands` tasks (same runners, files, outputs
//! and `::{"outputs"}::` protocol) whose container image defaults to the
//! tool's, plus each plugin's own settings turned into what the tool reads
//! (environment variables, a configuration file, a key file). On the
//! Process runner the tool must be on the worker's PATH. The cloud
//! providers' CLIs, which sign in, are in [`cloud`]; the other tools in
//! [`tools`].

use baton_model::decl::DeclaredProps;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::props::ExecProps;
use super::{Form, Lang};
use crate::{Declare, PropDecl, RunnableTask, TaskError, de};

mod cloud;
mod tools;

pub use cloud::{AWS, AZURE, GCLOUD};
pub use tools::{ANSIBLE, CLOUDQUERY, MODAL, SPARK, SQLMESH, TERRAFORM, TRIVY};

/// A CLI task's own properties, turned into shell-task properties.
type Adapt = fn(&mut Map<String, Value>) -> Result<(), TaskError>;

/// Builds the shell `Commands` task a CLI task is: its own properties
/// (`own`) taken out and adapted, the tool's image as the default.
fn build_cli(
    props: &Map<String, Value>,
    own: &[&str],
    image: &str,
    adapt: Adapt,
) -> Result<Box<dyn RunnableTask>, TaskError> {
    let mut p = props.clone();
    adapt(&mut p)?;
    for k in own {
        p.remove(*k);
    }
    let blank = p.get("containerImage").and_then(Value::as_str).is_none_or(|s| s.trim().is_empty());
    if blank && p.get("docker").and_then(|d| d.get("image")).is_none() {
        p.insert("containerImage".into(), Value::String(image.to_string()));
    }
    super::build(Lang::Shell, Form::Commands, &p)
}

/// Adds `name=value` to the `env` map unless the flow sets it.
fn set_env(p: &mut Map<String, Value>, name: &str, value: Option<&Value>) {
    let Some(v) = value.filter(|v| !v.is_null()) else { return };
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let env = p.entry("env").or_insert_with(|| json!({}));
    if let Value::Object(m) = env {
        m.entry(name.to_string()).or_insert(Value::String(text));
    }
}

/// Puts `line` before the task's `beforeCommands`.
fn prepend(p: &mut Map<String, Value>, line: String) {
    let mut lines = vec![Value::String(line)];
    match p.remove("beforeCommands") {
        Some(Value::Array(a)) => lines.extend(a),
        Some(Value::String(s)) => lines.push(Value::String(s)),
        _ => {}
    }
    p.insert("beforeCommands".into(), Value::Array(lines));
}

/// Adds a file to `inputFiles`.
fn add_input_file(p: &mut Map<String, Value>, name: &str, content: String) {
    let files = p.entry("inputFiles").or_insert_with(|| json!({}));
    if let Value::Object(m) = files {
        m.insert(name.to_string(), Value::String(content));
    }
}

/// `commands`, which every CLI task requires.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct CommandsProp {
    /// The commands, run by a shell.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList", required)]
    commands: Vec<String>,
}

/// The properties of the CLI tasks that have none of their own.
struct PlainCliProps;
impl DeclaredProps for PlainCliProps {
    fn props() -> Vec<PropDecl> {
        [CommandsProp::props(), ExecProps::props()].concat()
    }
}

fn no_adapt(_: &mut Map<String, Value>) -> Result<(), TaskError> {
    Ok(())
}
