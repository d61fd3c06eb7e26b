//! `io.kestra.plugin.gcp.dataproc.batches.PySparkSubmit`, `SparkSubmit`,
//! `SparkSqlSubmit` and `RSparkSubmit` (plugin-gcp
//! `dataproc/batches/`): one Dataproc Serverless batch, created with
//! `POST v1/projects/{project}/locations/{region}/batches?batchId=…` at
//! the region's endpoint, then waited for.
//!
//! As Kestra's: the batch ID is `name`, `-` and the execution ID,
//! slugified and cut to 63 characters ([`super::batch_id`]), logged as
//! "Starting with batch id '…'"; the body is the workload
//! (`pysparkBatch`, `sparkBatch`, `sparkSqlBatch` or `sparkRBatch`, each
//! list sent only when not empty) with the environment and runtime of
//! [`super::environment`]; the output `state` is the batch's final state.
//! Kestra waits for the create operation, whose end is the batch's; Baton
//! reads the batch itself (`batches.get`, at once, then after 1 s, the
//! delay growing ×1.5 up to 45 s), logs each state it enters, and fails
//! with the batch's `stateMessage` when it ends `FAILED` or `CANCELLED`.
//! The wait is bounded as Kestra's client bounds it: 5 minutes from the
//! creation ([`BATCH_WAIT_MAX`]); the batch is left running then.
//!
//! Kestra declares `fileUris`, `archiveUris` and `args` on SparkSqlSubmit
//! and `jarFileUris` on RSparkSubmit but sends none of them (the workloads
//! have no such field): Baton refuses them when they hold anything.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::environment::{Environment, execution_ok, peripherals_ok, runtime_ok};
use super::{batch_id, check_region, host, region_ok, seg};
use crate::gcp::common::GcpProps;
use crate::gcp::rest::Api;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The longest wait for a batch: Kestra's client (the Java
/// `BatchControllerClient`) stops waiting for the create operation after
/// 5 minutes.
pub const BATCH_WAIT_MAX: Duration = Duration::from_secs(5 * 60);
/// The longest delay between two reads of the batch.
const MAX_DELAY: Duration = Duration::from_secs(45);

/// What every batch type declares (Kestra's `AbstractBatch`).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct BatchProps {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The Dataproc region (e.g. europe-west1): its endpoint runs the batch.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = region_ok)]
    region: String,
    /// The batch's base name: the batch ID is it, `-` and the execution ID, slugified and cut to 63 characters.
    #[serde(deserialize_with = "de::string_lenient")]
    name: String,
    /// Network and identity: {networkUri, subnetworkUri, networkTags, serviceAccountEmail, kmsKey}.
    #[serde(default)]
    #[prop(kind = "Map", check = execution_ok)]
    execution: Option<Value>,
    /// {metastoreService, sparkHistoryServer: {dataprocCluster}}.
    #[serde(default)]
    #[prop(kind = "Map", check = peripherals_ok)]
    peripherals: Option<Value>,
    /// The runtime: {version, containerImage, properties (a map of Spark properties)}.
    #[serde(default)]
    #[prop(kind = "Map", check = runtime_ok)]
    runtime: Option<Value>,
}

fn empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.trim().is_empty() || s.trim() == "[]",
        _ => false,
    }
}

fn not_sql(v: &Value) -> Result<(), String> {
    if empty(v) {
        Ok(())
    } else {
        Err("a Spark SQL batch takes no such list: Kestra's SparkSqlSubmit sends nothing of it, Baton refuses it"
            .into())
    }
}

fn not_r(v: &Value) -> Result<(), String> {
    if empty(v) {
        Ok(())
    } else {
        Err("a SparkR batch takes no JARs: Kestra's RSparkSubmit sends nothing of it, Baton refuses it".into())
    }
}

/// Submit a PySpark batch to Dataproc Serverless.
///
/// Runs a PySpark batch from a main Python file and waits for it; fails when the batch fails.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.dataproc.batches.PySparkSubmit",
    group = "gcp",
    example = "id: py_spark_submit\ntype: io.kestra.plugin.gcp.dataproc.batches.PySparkSubmit\nmainPythonFileUri: gs://spark-jobs-kestra/pi.py\nname: test-pyspark\nregion: europe-west3\n",
    outputs(state(String, "The batch's final state (SUCCEEDED)."))
)]
struct PySparkProps {
    #[serde(flatten)]
    batch: BatchProps,
    /// The driver's Python file (gs://, hdfs:// or file:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    main_python_file_uri: String,
    /// JARs added to the driver's and executors' classpaths.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    jar_file_uris: Vec<String>,
    #[serde(flatten)]
    files: SparkFiles,
}

/// Submit a Spark batch to Dataproc Serverless.
///
/// Runs a Spark batch from a main class and waits for it; fails when the batch fails.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.dataproc.batches.SparkSubmit",
    group = "gcp",
    example = "id: spark_submit\ntype: io.kestra.plugin.gcp.dataproc.batches.SparkSubmit\njarFileUris:\n  - gs://spark-jobs-kestra/spark-examples.jar\nmainClass: org.apache.spark.examples.SparkPi\nargs:\n  - 1000\nname: test-spark\nregion: europe-west3\n",
    outputs(state(String, "The batch's final state (SUCCEEDED)."))
)]
struct SparkProps {
    #[serde(flatten)]
    batch: BatchProps,
    /// The driver's main class: its JAR on the classpath or in jarFileUris.
    #[serde(deserialize_with = "de::string_lenient")]
    main_class: String,
    /// JARs added to the driver's and executors' classpaths.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    jar_file_uris: Vec<String>,
    #[serde(flatten)]
    files: SparkFiles,
}

/// Submit a Spark SQL batch to Dataproc Serverless.
///
/// Runs the Spark SQL script of a file and waits for it; fails when the batch fails.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.dataproc.batches.SparkSqlSubmit",
    group = "gcp",
    example = "id: spark_sql_submit\ntype: io.kestra.plugin.gcp.dataproc.batches.SparkSqlSubmit\nqueryFileUri: gs://spark-jobs-kestra/foobar.sql\nname: test-sparksql\nregion: europe-west3\n",
    outputs(state(String, "The batch's final state (SUCCEEDED)."))
)]
struct SparkSqlProps {
    #[serde(flatten)]
    batch: BatchProps,
    /// The Spark SQL script (gs://, hdfs:// or file:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    query_file_uri: String,
    /// JARs added to the Spark classpath (UDFs).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    jar_file_uris: Vec<String>,
    /// Refused: a Spark SQL batch has no files (Kestra sends nothing of it).
    #[serde(default)]
    #[prop(kind = "List", check = not_sql)]
    file_uris: Option<Value>,
    /// Refused: a Spark SQL batch has no archives (Kestra sends nothing of it).
    #[serde(default)]
    #[prop(kind = "List", check = not_sql)]
    archive_uris: Option<Value>,
    /// Refused: a Spark SQL batch has no arguments (Kestra sends nothing of it).
    #[serde(default)]
    #[prop(kind = "List", check = not_sql)]
    args: Option<Value>,
}

/// Submit a SparkR batch to Dataproc Serverless.
///
/// Runs a SparkR batch from a main R file and waits for it; fails when the batch fails.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.dataproc.batches.RSparkSubmit",
    group = "gcp",
    example = "id: r_spark_submit\ntype: io.kestra.plugin.gcp.dataproc.batches.RSparkSubmit\nmainRFileUri: gs://spark-jobs-kestra/dataframe.r\nname: test-rspark\nregion: europe-west3\n",
    outputs(state(String, "The batch's final state (SUCCEEDED)."))
)]
struct RSparkProps {
    #[serde(flatten)]
    batch: BatchProps,
    /// The driver's R file (gs://, hdfs:// or file:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    main_r_file_uri: String,
    /// Refused: a SparkR batch has no JARs (Kestra sends nothing of it).
    #[serde(default)]
    #[prop(kind = "List", check = not_r)]
    jar_file_uris: Option<Value>,
    #[serde(flatten)]
    files: SparkFiles,
}

/// What the PySpark, Spark and SparkR workloads share.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct SparkFiles {
    /// Files copied into each executor's working directory.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    file_uris: Vec<String>,
    /// Archives (.jar, .tar, .tar.gz, .tgz, .zip) extracted into each executor's working directory.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    archive_uris: Vec<String>,
    /// The driver's arguments.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    args: Vec<String>,
}

impl SparkFiles {
    /// The lists as the workload names them.
    fn lists(&self) -> [(&'static str, &[String]); 3] {
        [("fileUris", &self.file_uris), ("archiveUris", &self.archive_uris), ("args", &self.args)]
    }
}

pub static PYSPARK: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<PySparkProps>(build_pyspark));
pub static SPARK: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SparkProps>(build_spark));
pub static SPARK_SQL: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SparkSqlProps>(build_sql));
pub static SPARK_R: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<RSparkProps>(build_r));

/// One batch to submit.
struct Submit {
    gcp: GcpProps,
    region: String,
    name: String,
    env: Environment,
    /// The workload's field in the batch (`pysparkBatch`…) and its value.
    kind: &'static str,
    workload: Map<String, Value>,
}

/// The workload: `main` and the lists that are not empty.
fn workload(main: (&str, &str), lists: &[(&str, &[String])]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(main.0.into(), Value::String(main.1.trim().to_string()));
    for (k, v) in lists {
        if !v.is_empty() {
            m.insert((*k).into(), json!(v));
        }
    }
    m
}

fn submit(b: BatchProps, kind: &'static str, workload: Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    check_region(&b.region).map_err(|e| TaskError::property("region", e))?;
    if b.name.trim().is_empty() {
        return Err(TaskError::property("name", "is required (the batch's base name)"));
    }
    let env = Environment::parse(b.execution, b.peripherals, b.runtime)?;
    Ok(Box::new(Submit { gcp: b.gcp, region: b.region.trim().to_string(), name: b.name, env, kind, workload }))
}

fn refuse(name: &str, v: &Option<Value>, check: fn(&Value) -> Result<(), String>) -> Result<(), TaskError> {
    match v {
        Some(v) => check(v).map_err(|e| TaskError::property(name, e)),
        None => Ok(()),
    }
}

fn build_pyspark(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: PySparkProps = parse_props(props)?;
    let lists = [[("jarFileUris", &p.jar_file_uris[..])].as_slice(), &p.files.lists()].concat();
    let w = workload(("mainPythonFileUri", &p.main_python_file_uri), &lists);
    submit(p.batch, "pysparkBatch", w)
}

fn build_spark(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SparkProps = parse_props(props)?;
    let lists = [[("jarFileUris", &p.jar_file_uris[..])].as_slice(), &p.files.lists()].concat();
    let w = workload(("mainClass", &p.main_class), &lists);
    submit(p.batch, "sparkBatch", w)
}

fn build_sql(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SparkSqlProps = parse_props(props)?;
    refuse("fileUris", &p.file_uris, not_sql)?;
    refuse("archiveUris", &p.archive_uris, not_sql)?;
    refuse("args", &p.args, not_sql)?;
    let w = workload(("queryFileUri", &p.query_file_uri), &[("jarFileUris", &p.jar_file_uris)]);
    submit(p.batch, "sparkSqlBatch", w)
}

fn build_r(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: RSparkProps = parse_props(props)?;
    refuse("jarFileUris", &p.jar_file_uris, not_r)?;
    let w = workload(("mainRFileUri", &p.main_r_file_uri), &p.files.lists());
    submit(p.batch, "sparkRBatch", w)
}

impl Submit {
    /// The `Batch` sent to Dataproc.
    fn body(&self, render: &dyn Fn(&str) -> Result<String, TaskError>) -> Result<Value, TaskError> {
        let mut body = Map::new();
        body.insert(self.kind.into(), Value::Object(self.workload.clone()));
        self.env.apply(render, &mut body)?;
        Ok(Value::Object(body))
    }
}

/// How a batch in `state` ends the wait: `None` while it runs, the
/// output state, or the failure naming the batch's `stateMessage`.
fn outcome(id: &str, batch: &Value) -> Option<Result<String, TaskError>> {
    let state = batch["state"].as_str().unwrap_or("STATE_UNSPECIFIED");
    match state {
        "SUCCEEDED" => Some(Ok(state.to_string())),
        "FAILED" | "CANCELLED" => {
            let why = batch["stateMessage"].as_str().filter(|m| !m.trim().is_empty()).unwrap_or("no message given");
            Some(Err(TaskError::failed(format!("Dataproc batch '{id}' ended {state}: {why}"))))
        }
        _ => None,
    }
}

#[async_trait]
impl RunnableTask for Submit {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let project = r.project()?.to_string();
        let id = batch_id(&cx.render(&format!("{}-{{{{ execution.id}}}}", self.name))?);
        let api = Api::connect(cx, &r, "Dataproc", &host(&self.region)).await?;
        let body = self.body(&|s| cx.render(s))?;
        cx.info(&format!("Starting with batch id '{id}'"));
        let parent = format!("projects/{}/locations/{}", seg(&project), seg(&self.region));
        let started = Instant::now();
        let op = api.post(cx, &format!("/v1/{parent}/batches?batchId={}", seg(&id)), &body).await?;
        if let Some(m) = op["error"]["message"].as_str() {
            return Err(TaskError::failed(format!("Dataproc batch '{id}' failed: {m}")));
        }
        let path = format!("/v1/{parent}/batches/{}", seg(&id));
        let mut delay = Duration::from_secs(1);
        let mut last = String::new();
        loop {
            let batch = api.get(cx, &path).await?;
            let state = batch["state"].as_str().unwrap_or("STATE_UNSPECIFIED");
            if state != last {
                cx.info(&format!("Batch '{id}' is {state}"));
                last = state.to_string();
            }
            if let Some(end) = outcome(&id, &batch) {
                let mut out = Map::new();
                out.insert("state".into(), Value::String(end?));
                return Ok(TaskOutput::with(out));
            }
            if started.elapsed() + delay > BATCH_WAIT_MAX {
                return Err(TaskError::failed(format!(
                    "Dataproc batch '{id}' was still {state} after {} s, the longest Kestra's client waits; \
                     the batch keeps running",
                    BATCH_WAIT_MAX.as_secs()
                )));
            }
            tokio::time::sleep(delay).await;
            delay = delay.mul_f64(1.5).min(MAX_DELAY);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn body_of(task: &Submit) -> Value {
        task.body(&|s| Ok(s.to_string())).unwrap()
    }

    fn built(p: PySparkProps) -> Submit {
        let w = workload(("mainPythonFileUri", &p.main_python_file_uri), &[("args", &p.files.args)]);
        let env = Environment::parse(p.batch.execution, p.batch.peripherals, p.batch.runtime).unwrap();
        Submit { gcp: p.batch.gcp, region: p.batch.region, name: p.batch.name, env, kind: "pysparkBatch", workload: w }
    }

    #[test]
    fn the_workload_carries_only_the_lists_given() {
        let p: PySparkProps = parse_props(&props(json!({
            "region": "europe-west3", "name": "n", "mainPythonFileUri": "gs://b/pi.py", "args": [1000, "x"]
        })))
        .unwrap();
        assert_eq!(
            body_of(&built(p)),
            json!({"pysparkBatch": {"mainPythonFileUri": "gs://b/pi.py", "args": ["1000", "x"]},
                   "environmentConfig": {"executionConfig": {}}})
        );
    }

    #[test]
    fn lists_kestra_does_not_send_are_refused() {
        let base = json!({"region": "europe-west3", "name": "n", "queryFileUri": "gs://b/q.sql"});
        let mut p = props(base.clone());
        p.insert("args".into(), json!(["a"]));
        let e = build_sql(&p).err().expect("refused").to_string();
        assert!(e.contains("'args'") && e.contains("Spark SQL"), "{e}");
        p.insert("args".into(), json!([]));
        assert!(build_sql(&p).is_ok());
        let r = props(json!({"region": "r1", "name": "n", "mainRFileUri": "gs://b/x.r", "jarFileUris": ["gs://j"]}));
        let e = build_r(&r).err().expect("refused").to_string();
        assert!(e.contains("'jarFileUris'"), "{e}");
        let bad = props(json!({"region": "Europe West", "name": "n", "mainClass": "C"}));
        assert!(build_spark(&bad).err().expect("region").to_string().contains("'region'"));
    }

    #[test]
    fn final_states_end_the_wait() {
        assert!(outcome("b", &json!({"state": "RUNNING"})).is_none());
        assert!(outcome("b", &json!({"state": "PENDING"})).is_none());
        assert_eq!(outcome("b", &json!({"state": "SUCCEEDED"})).unwrap().unwrap(), "SUCCEEDED");
        let e = outcome("b", &json!({"state": "FAILED", "stateMessage": "Job failed with exit code 1"}))
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(e.contains("'b' ended FAILED: Job failed with exit code 1"), "{e}");
        let e = outcome("b", &json!({"state": "CANCELLED"})).unwrap().unwrap_err().to_string();
        assert!(e.contains("CANCELLED: no message given"), "{e}");
    }
}
