//! `io.kestra.plugin.gcp.dataflow.LaunchTemplate` and `LaunchFlexTemplate`
//! (plugin-gcp `dataflow/LaunchTemplate.java`, `LaunchFlexTemplate.java`):
//! start a Dataflow job from a Classic Template (`templates.launch` with
//! `gcsPath` as its query parameter, a `LaunchTemplateParameters` body) or a
//! Flex Template (`flexTemplates.launch` with `{launchParameter: …}`), both
//! with `jobName`, `parameters` and `environment` as Kestra maps them:
//! each parameter's value as a string (nulls dropped; a list or map as its
//! JSON), `environment` as the API's `RuntimeEnvironment` (or
//! `FlexTemplateRuntimeEnvironment`). Outputs `jobId` and `jobState` of the
//! job Google answers; an answer without a job fails, as in Kestra.
//!
//! `environment` is checked against the fields of Google's environment
//! (a key it does not have, a value of the wrong type or not one of an
//! enum's values is refused, naming `environment.<key>`); a rendered number
//! or boolean written as a string is sent typed.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Conn, text};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The type of one environment field, as Google's document declares it.
#[derive(Debug, Clone, Copy)]
enum Field {
    Str,
    Int,
    Bool,
    StrList,
    StrMap,
    Enum(&'static [&'static str]),
}

const IP: Field = Field::Enum(&["WORKER_IP_UNSPECIFIED", "WORKER_IP_PUBLIC", "WORKER_IP_PRIVATE"]);
const STREAMING: Field =
    Field::Enum(&["STREAMING_MODE_UNSPECIFIED", "STREAMING_MODE_EXACTLY_ONCE", "STREAMING_MODE_AT_LEAST_ONCE"]);

/// The fields both environments have.
const COMMON: &[(&str, Field)] = &[
    ("additionalExperiments", Field::StrList),
    ("additionalPipelineOptions", Field::StrList),
    ("additionalUserLabels", Field::StrMap),
    ("diskSizeGb", Field::Int),
    ("enableStreamingEngine", Field::Bool),
    ("ipConfiguration", IP),
    ("kmsKeyName", Field::Str),
    ("machineType", Field::Str),
    ("maxWorkers", Field::Int),
    ("network", Field::Str),
    ("numWorkers", Field::Int),
    ("serviceAccountEmail", Field::Str),
    ("streamingMode", STREAMING),
    ("subnetwork", Field::Str),
    ("tempLocation", Field::Str),
    ("workerRegion", Field::Str),
    ("workerZone", Field::Str),
    ("zone", Field::Str),
];

/// `RuntimeEnvironment`'s own fields (Classic Templates).
const CLASSIC: &[(&str, Field)] = &[("bypassTempDirValidation", Field::Bool)];

/// `FlexTemplateRuntimeEnvironment`'s own fields.
const FLEX_ONLY: &[(&str, Field)] = &[
    (
        "autoscalingAlgorithm",
        Field::Enum(&["AUTOSCALING_ALGORITHM_UNKNOWN", "AUTOSCALING_ALGORITHM_NONE", "AUTOSCALING_ALGORITHM_BASIC"]),
    ),
    ("dumpHeapOnOom", Field::Bool),
    ("enableLauncherVmSerialPortLogging", Field::Bool),
    ("flexrsGoal", Field::Enum(&["FLEXRS_UNSPECIFIED", "FLEXRS_SPEED_OPTIMIZED", "FLEXRS_COST_OPTIMIZED"])),
    ("launcherMachineType", Field::Str),
    ("saveHeapDumpsToGcsPath", Field::Str),
    ("sdkContainerImage", Field::Str),
    ("stagingLocation", Field::Str),
];

fn field(own: &[(&'static str, Field)], key: &str) -> Option<Field> {
    COMMON.iter().chain(own).find(|(k, _)| *k == key).map(|(_, f)| *f)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One environment value as the field's JSON type.
fn typed(f: Field, v: &Value) -> Result<Value, String> {
    let bad = |what: &str| format!("{v} is not {what}");
    match f {
        Field::Str => scalar(v).map(Value::String).ok_or_else(|| bad("a string")),
        Field::Int => match v {
            Value::Number(n) if n.is_i64() => Ok(v.clone()),
            Value::String(s) => s.trim().parse::<i64>().map(Value::from).map_err(|_| bad("a whole number")),
            _ => Err(bad("a whole number")),
        },
        Field::Bool => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(bad("a boolean")),
        },
        Field::StrList => match v {
            Value::Array(a) => a.iter().map(|x| scalar(x).map(Value::String)).collect::<Option<Vec<_>>>(),
            _ => None,
        }
        .map(Value::Array)
        .ok_or_else(|| bad("a list of strings")),
        Field::StrMap => match v {
            Value::Object(m) => {
                m.iter().map(|(k, x)| scalar(x).map(|s| (k.clone(), Value::String(s)))).collect::<Option<Map<_, _>>>()
            }
            _ => None,
        }
        .map(Value::Object)
        .ok_or_else(|| bad("a map of strings")),
        Field::Enum(values) => {
            let s = scalar(v).map(|s| s.trim().to_ascii_uppercase()).unwrap_or_default();
            match values.iter().find(|x| **x == s) {
                Some(x) => Ok(Value::String(x.to_string())),
                None => Err(format!("{v} is not one of {}", values.join(", "))),
            }
        }
    }
}

/// `environment` as Google's environment of that kind: each key checked
/// and its value typed; nulls dropped.
fn environment(own: &[(&'static str, Field)], env: &Map<String, Value>) -> Result<Map<String, Value>, TaskError> {
    let mut out = Map::new();
    for (k, v) in env.iter().filter(|(_, v)| !v.is_null()) {
        let at = format!("environment.{k}");
        let f = field(own, k).ok_or_else(|| {
            TaskError::property(&at, "not a field of Dataflow's runtime environment (see the API's RuntimeEnvironment)")
        })?;
        out.insert(k.clone(), typed(f, v).map_err(|e| TaskError::property(&at, e))?);
    }
    Ok(out)
}

fn env_check(own: &[(&'static str, Field)], v: &Value) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            let literal: Map<String, Value> =
                m.iter().filter(|(_, x)| !templated(x)).map(|(k, x)| (k.clone(), x.clone())).collect();
            environment(own, &literal).map(|_| ()).map_err(|e| e.to_string())
        }
        Value::String(s) if baton_model::expr::is_template(s) => Ok(()),
        other => Err(format!("{other} is not a map")),
    }
}

fn templated(v: &Value) -> bool {
    match v {
        Value::String(s) => baton_model::expr::is_template(s),
        Value::Array(a) => a.iter().any(templated),
        Value::Object(m) => m.values().any(templated),
        _ => false,
    }
}

fn classic_env_ok(v: &Value) -> Result<(), String> {
    env_check(CLASSIC, v)
}

fn flex_env_ok(v: &Value) -> Result<(), String> {
    env_check(FLEX_ONLY, v)
}

/// `parameters` as Kestra sends them: each value as a string, nulls dropped.
fn parameters(p: &Option<Map<String, Value>>) -> Option<Value> {
    let p = p.as_ref()?;
    let m: Map<String, Value> = p
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), Value::String(de::value_to_string(v))))
        .collect();
    Some(Value::Object(m))
}

/// Launch a Classic Template Dataflow job from a GCS path.
///
/// Starts the Classic Template at gcsPath as job jobName, with parameters and the runtime environment; outputs the job's jobId and jobState.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.dataflow.LaunchTemplate",
    group = "gcp",
    example = "id: launch\ntype: io.kestra.plugin.gcp.dataflow.LaunchTemplate\nprojectId: my-project\nlocation: us-central1\njobName: my-etl-job\ngcsPath: gs://my-bucket/templates/my-template\nparameters:\n  inputFile: gs://my-bucket/input.csv\n",
    outputs(jobId(String, "The launched job's ID."), jobState(String, "The job's state when launched."))
)]
struct TemplateProps {
    #[serde(flatten)]
    conn: Conn,
    /// The unique job name.
    #[serde(deserialize_with = "de::string_lenient")]
    job_name: String,
    /// The Cloud Storage path of the Classic Template.
    #[serde(deserialize_with = "de::string_lenient")]
    gcs_path: String,
    /// The template's parameters (each value sent as a string).
    #[serde(default)]
    #[prop(kind = "Map")]
    parameters: Option<Map<String, Value>>,
    /// The runtime environment (maxWorkers, tempLocation, machineType…: the API's RuntimeEnvironment).
    #[serde(default)]
    #[prop(kind = "Map", check = classic_env_ok)]
    environment: Option<Map<String, Value>>,
}

/// Launch a Flex Template Dataflow job.
///
/// Starts the Flex Template whose container spec is at containerSpecGcsPath as job jobName, with parameters and the runtime environment; outputs the job's jobId and jobState.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.dataflow.LaunchFlexTemplate",
    group = "gcp",
    example = "id: launch\ntype: io.kestra.plugin.gcp.dataflow.LaunchFlexTemplate\nprojectId: my-project\nlocation: us-central1\njobName: my-flex-job\ncontainerSpecGcsPath: gs://my-bucket/flex-templates/spec.json\nparameters:\n  outputTable: my-project:my_dataset.my_table\nenvironment:\n  maxWorkers: 10\n",
    outputs(jobId(String, "The launched job's ID."), jobState(String, "The job's state when launched."))
)]
struct FlexProps {
    #[serde(flatten)]
    conn: Conn,
    /// The unique job name.
    #[serde(deserialize_with = "de::string_lenient")]
    job_name: String,
    /// The Cloud Storage path of the Flex Template's container spec (JSON).
    #[serde(deserialize_with = "de::string_lenient")]
    container_spec_gcs_path: String,
    /// The template's parameters (each value sent as a string).
    #[serde(default)]
    #[prop(kind = "Map")]
    parameters: Option<Map<String, Value>>,
    /// The runtime environment (maxWorkers, tempLocation, sdkContainerImage…: the API's FlexTemplateRuntimeEnvironment).
    #[serde(default)]
    #[prop(kind = "Map", check = flex_env_ok)]
    environment: Option<Map<String, Value>>,
}

/// One launch: where, and the body.
struct Launch {
    conn: Conn,
    /// Classic: the template's `gcsPath`; Flex: none (it is in the body).
    gcs_path: Option<String>,
    body: Value,
    what: &'static str,
}

fn required(property: &str, v: &str) -> Result<String, TaskError> {
    let t = v.trim();
    if t.is_empty() { Err(TaskError::property(property, "is required")) } else { Ok(t.to_string()) }
}

fn build_template(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: TemplateProps = parse_props(props)?;
    let mut body = json!({"jobName": required("jobName", &p.job_name)?});
    if let Some(params) = parameters(&p.parameters) {
        body["parameters"] = params;
    }
    if let Some(env) = &p.environment {
        body["environment"] = Value::Object(environment(CLASSIC, env)?);
    }
    let gcs_path = Some(required("gcsPath", &p.gcs_path)?);
    Ok(Box::new(Launch { conn: p.conn, gcs_path, body, what: "Classic Template" }))
}

fn build_flex(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: FlexProps = parse_props(props)?;
    let mut lp = json!({
        "jobName": required("jobName", &p.job_name)?,
        "containerSpecGcsPath": required("containerSpecGcsPath", &p.container_spec_gcs_path)?,
    });
    if let Some(params) = parameters(&p.parameters) {
        lp["parameters"] = params;
    }
    if let Some(env) = &p.environment {
        lp["environment"] = Value::Object(environment(FLEX_ONLY, env)?);
    }
    Ok(Box::new(Launch { conn: p.conn, gcs_path: None, body: json!({"launchParameter": lp}), what: "Flex Template" }))
}

#[async_trait]
impl RunnableTask for Launch {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let df = self.conn.connect(cx).await?;
        let path = match &self.gcs_path {
            Some(g) => format!("{}/templates:launch?gcsPath={}", df.base, baton_gcp::percent::encode(g)),
            None => format!("{}/flexTemplates:launch", df.base),
        };
        let answer = df.api.post(cx, &path, &self.body).await?;
        let job = answer.get("job").filter(|j| j.is_object()).ok_or_else(|| {
            TaskError::failed(format!("Dataflow: the {} launch answered no job: {answer}", self.what))
        })?;
        let (id, state) = (text(job, "id"), text(job, "currentState"));
        cx.info(&format!("Dataflow {} job '{id}' launched ({state})", self.what));
        let mut out = Map::new();
        out.insert("jobId".into(), Value::String(id));
        out.insert("jobState".into(), job.get("currentState").cloned().unwrap_or(Value::Null));
        Ok(TaskOutput::with(out))
    }
}

pub static TEMPLATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<TemplateProps>(build_template));
pub static FLEX: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<FlexProps>(build_flex));

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn parameters_are_strings_and_environment_is_typed() {
        let p = props(json!({"a": 1, "b": true, "c": "x", "d": null, "e": [1, 2]}));
        assert_eq!(parameters(&Some(p)), Some(json!({"a": "1", "b": "true", "c": "x", "e": "[1,2]"})));
        let env =
            props(json!({"maxWorkers": "10", "enableStreamingEngine": "true", "ipConfiguration": "worker_ip_private",
            "additionalExperiments": ["a"], "additionalUserLabels": {"team": "data", "n": 1}, "zone": null}));
        assert_eq!(
            Value::Object(environment(CLASSIC, &env).unwrap()),
            json!({"maxWorkers": 10, "enableStreamingEngine": true, "ipConfiguration": "WORKER_IP_PRIVATE",
                   "additionalExperiments": ["a"], "additionalUserLabels": {"team": "data", "n": "1"}})
        );
    }

    #[test]
    fn environment_keys_and_values_are_checked_by_name() {
        let e = environment(CLASSIC, &props(json!({"launcherMachineType": "n1"}))).unwrap_err().to_string();
        assert!(e.contains("environment.launcherMachineType"), "{e}");
        assert!(environment(FLEX_ONLY, &props(json!({"launcherMachineType": "n1"}))).is_ok());
        let e = environment(FLEX_ONLY, &props(json!({"maxWorkers": "many"}))).unwrap_err().to_string();
        assert!(e.contains("environment.maxWorkers") && e.contains("whole number"), "{e}");
        let e = environment(FLEX_ONLY, &props(json!({"flexrsGoal": "FAST"}))).unwrap_err().to_string();
        assert!(e.contains("FLEXRS_SPEED_OPTIMIZED"), "{e}");
        assert!(classic_env_ok(&json!({"maxWorkers": "{{ inputs.n }}"})).is_ok());
        assert!(classic_env_ok(&json!({"workers": 1})).is_err());
    }

    #[test]
    fn the_flex_body_is_a_launch_parameter() {
        let t = build_flex(&props(
            json!({"location": "us-central1", "jobName": "j", "containerSpecGcsPath": "gs://b/s.json",
            "parameters": {"p": 2}, "environment": {"maxWorkers": 3}}),
        ));
        assert!(t.is_ok());
        let e = build_template(&props(json!({"location": "l", "jobName": " ", "gcsPath": "gs://b/t"}))).err().unwrap();
        assert!(e.to_string().contains("'jobName'"), "{e}");
    }
}
