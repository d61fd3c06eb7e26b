//! The properties of the script tasks (Kestra's `AbstractExecScript` and
//! its shell/python subclasses), parsed from rendered values into a
//! validated `ScriptSpec`.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::files::NamespaceFiles;
use super::runner::{self, Runner};
use crate::plugins::de::{self, value_to_string};
use crate::plugins::{TaskError, parse_props};

/// The language of the task (decides the default image and how a `script`
/// is run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Shell,
    Python,
}

/// `Commands` (a list of shell commands) or `Script` (one script body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Commands,
    Script,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Props {
    #[serde(default, deserialize_with = "de::string_or_list")]
    commands: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    script: Option<String>,
    #[serde(default, deserialize_with = "de::string_or_list")]
    before_commands: Vec<String>,
    #[serde(default, deserialize_with = "de::string_map")]
    env: Vec<(String, String)>,
    #[serde(default)]
    input_files: Value,
    #[serde(default, deserialize_with = "de::string_or_list")]
    output_files: Vec<String>,
    #[serde(default)]
    namespace_files: Value,
    #[serde(default, deserialize_with = "de::string_or_list")]
    interpreter: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    warning_on_std_err: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    fail_fast: Option<bool>,
    #[serde(default)]
    task_runner: Value,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    container_image: Option<String>,
    #[serde(default, deserialize_with = "de::string_or_list")]
    dependencies: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    runner: Option<String>,
    #[serde(default)]
    docker: Value,
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    execution_context: Option<bool>,
}

/// A script task, ready to run.
#[derive(Debug, Clone)]
pub(crate) struct ScriptSpec {
    pub lang: Lang,
    pub form: Form,
    /// `commands`, or the `script` body.
    pub commands: Vec<String>,
    pub script: String,
    pub before_commands: Vec<String>,
    pub env: Vec<(String, String)>,
    pub input_files: Vec<(String, String)>,
    pub output_files: Vec<String>,
    pub namespace_files: NamespaceFiles,
    pub interpreter: Vec<String>,
    pub warning_on_std_err: bool,
    pub fail_fast: bool,
    pub runner: Runner,
    /// `containerImage`, else the legacy `docker.image`, else the
    /// language's default image.
    pub image: String,
    pub dependencies: Vec<String>,
    /// Kestra 2.0's `executionContext`: write the context file for the script.
    pub execution_context: bool,
}

impl ScriptSpec {
    pub fn parse(lang: Lang, form: Form, props: &Map<String, Value>) -> Result<ScriptSpec, TaskError> {
        let p: Props = parse_props(props)?;
        let commands = expand_json_list(p.commands);
        let script = p.script.unwrap_or_default();
        match form {
            Form::Commands if commands.is_empty() => {
                return Err(TaskError::property("commands", "at least one command is required"));
            }
            Form::Script if script.trim().is_empty() => {
                return Err(TaskError::property("script", "the script is empty"));
            }
            _ => {}
        }
        let runner = runner::resolve(Some(&p.task_runner), p.runner.as_deref(), Some(&p.docker))?;
        let legacy_image = match &runner {
            Runner::Docker(o) => o.image.clone(),
            Runner::Process => None,
        };
        let image = p.container_image.filter(|i| !i.trim().is_empty()).or(legacy_image).unwrap_or_else(|| {
            match lang {
                Lang::Shell => "ubuntu",
                Lang::Python => "python:3.13-slim",
            }
            .to_string()
        });
        let mut interpreter = p.interpreter;
        if interpreter.is_empty() {
            interpreter = vec!["/bin/sh".into(), "-c".into()];
        }
        Ok(ScriptSpec {
            lang,
            form,
            commands,
            script,
            before_commands: p.before_commands,
            env: p.env,
            input_files: input_files(&p.input_files)?,
            output_files: p.output_files.into_iter().filter(|g| !g.trim().is_empty()).collect(),
            namespace_files: namespace_files(&p.namespace_files)?,
            interpreter,
            warning_on_std_err: p.warning_on_std_err.unwrap_or(true),
            fail_fast: p.fail_fast.unwrap_or(true),
            runner,
            image,
            dependencies: p.dependencies.into_iter().filter(|d| !d.trim().is_empty()).collect(),
            execution_context: p.execution_context.unwrap_or(false),
        })
    }
}

/// A single command that renders to a JSON list of strings (e.g.
/// `commands: "{{ inputs.commands }}"`) is that list.
fn expand_json_list(commands: Vec<String>) -> Vec<String> {
    if let [one] = commands.as_slice()
        && one.trim_start().starts_with('[')
        && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(one)
        && items.iter().all(Value::is_string)
    {
        return items.iter().map(value_to_string).collect();
    }
    commands
}

/// `inputFiles`: a map, or a string holding a JSON map.
fn input_files(v: &Value) -> Result<Vec<(String, String)>, TaskError> {
    let parsed;
    let map = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Object(m) => m,
        Value::String(s) if s.trim().is_empty() => return Ok(Vec::new()),
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok();
            match &parsed {
                Some(Value::Object(m)) => m,
                _ => return Err(TaskError::property("inputFiles", "expected a map of file name to content or URI")),
            }
        }
        other => return Err(TaskError::property("inputFiles", format!("expected a map, found {other}"))),
    };
    Ok(map.iter().map(|(k, v)| (k.clone(), value_to_string(v))).collect())
}

/// `namespaceFiles: {enabled, include, exclude}`.
fn namespace_files(v: &Value) -> Result<NamespaceFiles, TaskError> {
    let m = match v {
        Value::Null => return Ok(NamespaceFiles::default()),
        Value::Object(m) => m,
        other => return Err(TaskError::property("namespaceFiles", format!("expected a map, found {other}"))),
    };
    let list = |key: &str| -> Result<Vec<String>, TaskError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.iter().map(value_to_string).collect()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(other) => {
                Err(TaskError::property(&format!("namespaceFiles.{key}"), format!("expected a list, found {other}")))
            }
        }
    };
    let enabled = match m.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => match value_to_string(other).trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            s => {
                return Err(TaskError::property(
                    "namespaceFiles.enabled",
                    format!("expected true or false, found '{s}'"),
                ));
            }
        },
    };
    Ok(NamespaceFiles { enabled, include: list("include")?, exclude: list("exclude")? })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(lang: Lang, form: Form, v: Value) -> Result<ScriptSpec, TaskError> {
        ScriptSpec::parse(lang, form, v.as_object().unwrap())
    }

    #[test]
    fn defaults_follow_kestra() {
        let s = parse(Lang::Shell, Form::Commands, json!({"commands": ["echo hi"]})).unwrap();
        assert_eq!(s.interpreter, vec!["/bin/sh", "-c"]);
        assert!(s.warning_on_std_err && s.fail_fast);
        assert_eq!(s.image, "ubuntu");
        assert!(matches!(s.runner, Runner::Docker(_)));
        let s =
            parse(Lang::Python, Form::Script, json!({"script": "print(1)", "containerImage": "python:3.11"})).unwrap();
        assert_eq!(s.image, "python:3.11");
    }

    #[test]
    fn required_bodies_and_shapes() {
        assert!(parse(Lang::Shell, Form::Commands, json!({})).is_err());
        assert!(parse(Lang::Python, Form::Script, json!({"script": "  "})).is_err());
        let s = parse(Lang::Shell, Form::Commands, json!({"commands": "[\"a\",\"b\"]"})).unwrap();
        assert_eq!(s.commands, vec!["a", "b"]);
        let s = parse(
            Lang::Shell,
            Form::Commands,
            json!({"commands": "x", "inputFiles": "{\"a.txt\": \"hello\"}", "namespaceFiles": {"enabled": "true", "include": "*.sql"}}),
        )
        .unwrap();
        assert_eq!(s.input_files, vec![("a.txt".to_string(), "hello".to_string())]);
        assert!(s.namespace_files.enabled);
        assert_eq!(s.namespace_files.include, vec!["*.sql"]);
        let e = parse(Lang::Shell, Form::Commands, json!({"commands": "x", "inputFiles": [1]})).unwrap_err();
        assert!(e.to_string().contains("inputFiles"), "{e}");
    }
}
