//! The properties of the script tasks (Kestra's `AbstractExecScript` and
//! its shell/python subclasses), parsed from rendered values into a
//! validated `ScriptSpec`.

use baton_model::decl::DeclaredProps;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::files::NamespaceFiles;
use super::runner::{self, Runner};
use crate::de::{self, value_to_string};
use crate::{Declare, PropDecl, TaskError, parse_props};

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

/// What every script task and dbt's `DbtCLI` accept (Kestra's
/// `AbstractExecScript`): environment, files and runner.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecProps {
    /// Commands run before the main ones, in the same shell.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    before_commands: Vec<String>,
    /// Environment variables of the process.
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    env: Vec<(String, String)>,
    #[serde(flatten)]
    files: FilesProps,
    /// End in WARNING when the process wrote to stderr.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    warning_on_std_err: Option<bool>,
    /// Stop at the first failing command (set -e).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    fail_fast: Option<bool>,
    /// Where the process runs: a Process or a container.
    #[serde(default)]
    #[prop(kind = "Map", fixed)]
    task_runner: Value,
    /// The image, when the runner is a container.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    container_image: Option<String>,
    /// Legacy runner choice.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["PROCESS", "DOCKER"], fixed)]
    runner: Option<String>,
    /// Legacy Docker options (image, pullPolicy…).
    #[serde(default)]
    #[prop(kind = "Map")]
    docker: Value,
    /// The system the commands are written for: Baton runs them on Linux (a process or a Linux container), so LINUX or AUTO; WINDOWS is refused.
    #[serde(default, rename = "targetOS", deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["LINUX", "AUTO"], default = "\"AUTO\"")]
    #[allow(dead_code)]
    target_os: Option<String>,
}

/// The files of the working directory, as every script task, dbt's
/// `DbtCLI` and `docker.Run` declare them (Kestra's `inputFiles`,
/// `outputFiles`, `namespaceFiles`): one declaration, flattened into each.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilesProps {
    /// Files put in the working directory: name → content or kestra:// URI.
    #[serde(default)]
    input_files: Value,
    /// Files (globs) of the working directory kept as outputs.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    output_files: Vec<String>,
    /// Copy the namespace's files in: {enabled, include, exclude}.
    #[serde(default)]
    #[prop(kind = "Map")]
    namespace_files: Value,
}

/// The parsed files of [`FilesProps`]: input files (name, content or
/// URI), output globs (blank ones dropped), namespace files.
pub(crate) type Files = (Vec<(String, String)>, Vec<String>, NamespaceFiles);

impl FilesProps {
    /// Checks and parses the three properties, naming the one at fault.
    pub(crate) fn parse(self) -> Result<Files, TaskError> {
        let inputs = input_files(&self.input_files)?;
        let outputs = self.output_files.into_iter().filter(|g| !g.trim().is_empty()).collect();
        Ok((inputs, outputs, namespace_files(&self.namespace_files)?))
    }
}

/// What the script tasks accept besides [`ExecProps`] (not `DbtCLI`).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct ScriptOptions {
    /// Keep every file written under the output directory.
    // read from the task's properties by `RunContext::output_dir_path`
    #[serde(default)]
    #[allow(dead_code)]
    #[prop(kind = "Boolean", default = "false")]
    output_directory: Option<Value>,
    /// The interpreter and its flags.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList", default = "[\"/bin/sh\", \"-c\"]")]
    interpreter: Vec<String>,
    /// Write the execution's context (inputs, outputs, flow, execution…) to .kestra-execution-context.json in the working directory, for the commands to read.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    execution_context: Option<bool>,
}

/// `commands` of the `Commands` tasks.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct CommandsProps {
    /// The commands, run one after another.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList", required)]
    commands: Vec<String>,
}

/// `script` of the `Script` tasks.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct ScriptProps {
    /// The script's text.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(required)]
    script: Option<String>,
}

/// `dependencies` of the Python tasks.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct DependenciesProps {
    /// Python packages installed (with uv or pip) before it runs.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    dependencies: Vec<String>,
}

/// The properties of a script task of `lang` and `form`, each group parsed
/// apart (so that an error names its property).
fn props_of(lang: Lang, form: Form) -> Vec<PropDecl> {
    let mut v = match form {
        Form::Commands => CommandsProps::props(),
        Form::Script => ScriptProps::props(),
    };
    if lang == Lang::Python {
        v.extend(DependenciesProps::props());
    }
    v.extend(ExecProps::props());
    v.extend(ScriptOptions::props());
    v
}

/// The properties of `shell.Commands`.
pub(crate) struct ShellCommandsProps;
/// The properties of `shell.Script`.
pub(crate) struct ShellScriptProps;
/// The properties of `python.Commands`.
pub(crate) struct PythonCommandsProps;
/// The properties of `python.Script`.
pub(crate) struct PythonScriptProps;

impl DeclaredProps for ShellCommandsProps {
    fn props() -> Vec<PropDecl> {
        props_of(Lang::Shell, Form::Commands)
    }
}

impl DeclaredProps for ShellScriptProps {
    fn props() -> Vec<PropDecl> {
        props_of(Lang::Shell, Form::Script)
    }
}

impl DeclaredProps for PythonCommandsProps {
    fn props() -> Vec<PropDecl> {
        props_of(Lang::Python, Form::Commands)
    }
}

impl DeclaredProps for PythonScriptProps {
    fn props() -> Vec<PropDecl> {
        props_of(Lang::Python, Form::Script)
    }
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
    /// `docker.Run`: `commands` are the container's arguments as written
    /// (no shell), after the image's own entrypoint unless `entryPoint` is
    /// given; a container engine is required (no Process fallback).
    pub argv: bool,
    /// DbtCLI: lines read as dbt's logs (`dbt_log`), not as a script's.
    pub dbt_logs: bool,
}

impl ScriptSpec {
    pub fn parse(lang: Lang, form: Form, props: &Map<String, Value>) -> Result<ScriptSpec, TaskError> {
        let p: ExecProps = parse_props(props)?;
        let options: ScriptOptions = parse_props(props)?;
        let (commands, script) = match form {
            Form::Commands => (expand_json_list(parse_props::<CommandsProps>(props)?.commands), String::new()),
            Form::Script => (Vec::new(), parse_props::<ScriptProps>(props)?.script.unwrap_or_default()),
        };
        let dependencies = match lang {
            Lang::Python => parse_props::<DependenciesProps>(props)?.dependencies,
            Lang::Shell => Vec::new(),
        };
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
        let (input_files, output_files, namespace_files) = p.files.parse()?;
        let mut interpreter = options.interpreter;
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
            input_files,
            output_files,
            namespace_files,
            interpreter,
            warning_on_std_err: p.warning_on_std_err.unwrap_or(true),
            fail_fast: p.fail_fast.unwrap_or(true),
            runner,
            image,
            dependencies: dependencies.into_iter().filter(|d| !d.trim().is_empty()).collect(),
            execution_context: options.execution_context.unwrap_or(false),
            argv: false,
            dbt_logs: false,
        })
    }
}

/// A single command that renders to a JSON list of strings (e.g.
/// `commands: "{{ inputs.commands }}"`) is that list.
pub(super) fn expand_json_list(commands: Vec<String>) -> Vec<String> {
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
pub(super) fn input_files(v: &Value) -> Result<Vec<(String, String)>, TaskError> {
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
pub(super) fn namespace_files(v: &Value) -> Result<NamespaceFiles, TaskError> {
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
