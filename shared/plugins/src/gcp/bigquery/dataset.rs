//! `io.kestra.plugin.gcp.bigquery.CreateDataset` and `…DeleteDataset`.
//! CreateDataset creates `name` (with `location`, `friendlyName`, `labels`,
//! default expirations; `description` is the task's own key in Baton's flow
//! model, so it is not passed on); when it exists,
//! `ifExists` decides: ERROR (default) fails, UPDATE applies the settings,
//! SKIP returns it unchanged. Outputs `dataset`, `project`,
//! `friendlyName`, `description`, `location`. DeleteDataset deletes `name`
//! (with its tables when `deleteContents`); outputs `dataset`, `project`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::job::BqProps;
use crate::gcp::common::{IfExists, bq_error};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// `name` or `project.name` → (project, dataset).
fn split_name(name: &str, project: &str) -> (String, String) {
    match name.trim().split_once('.') {
        Some((p, d)) => (p.to_string(), d.to_string()),
        None => (project.to_string(), name.trim().to_string()),
    }
}

/// Create a BigQuery dataset.
///
/// Creates (or updates, or skips) a dataset.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.CreateDataset",
    group = "gcp",
    example = "id: dataset\ntype: io.kestra.plugin.gcp.bigquery.CreateDataset\nname: zoomcamp\nifExists: SKIP\n",
    outputs(dataset(String, "The dataset's id."))
)]
struct CreateProps {
    #[serde(flatten)]
    bq: BqProps,
    /// The dataset's or bucket's name.
    #[serde(deserialize_with = "de::string_lenient")]
    name: String,
    /// What to do when it already exists.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ERROR", "UPDATE", "SKIP"], default = "\"ERROR\"")]
    if_exists: Option<String>,
    /// A display name.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    friendly_name: Option<String>,
    /// Labels set on the resource.
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    labels: Vec<(String, String)>,
    /// Default lifetime of new tables, in seconds.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    default_table_lifetime: Option<u64>,
    /// Default partition expiration, in milliseconds.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    default_partition_expiration_ms: Option<u64>,
}

struct CreateDataset {
    p: CreateProps,
    if_exists: IfExists,
}

fn build_create(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CreateProps = parse_props(props)?;
    if p.name.trim().is_empty() {
        return Err(TaskError::property("name", "the dataset name is empty"));
    }
    let if_exists = IfExists::parse(p.if_exists.as_deref())?;
    Ok(Box::new(CreateDataset { p, if_exists }))
}

fn output(d: &Value, project: &str, dataset: &str) -> TaskOutput {
    let mut out = Map::new();
    out.insert(
        "dataset".into(),
        Value::String(d["datasetReference"]["datasetId"].as_str().unwrap_or(dataset).to_string()),
    );
    out.insert(
        "project".into(),
        Value::String(d["datasetReference"]["projectId"].as_str().unwrap_or(project).to_string()),
    );
    for key in ["friendlyName", "description", "location"] {
        if let Some(v) = d[key].as_str() {
            out.insert(key.into(), Value::String(v.to_string()));
        }
    }
    TaskOutput::with(out)
}

impl CreateDataset {
    /// The settings as a Dataset resource (without its reference).
    fn settings(&self) -> Map<String, Value> {
        let p = &self.p;
        let mut m = Map::new();
        if let Some(l) = p.bq.location() {
            m.insert("location".into(), Value::String(l.to_string()));
        }
        if let Some(f) = &p.friendly_name {
            m.insert("friendlyName".into(), Value::String(f.clone()));
        }
        if !p.labels.is_empty() {
            m.insert("labels".into(), Value::Object(p.labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect()));
        }
        if let Some(ms) = p.default_table_lifetime {
            m.insert("defaultTableExpirationMs".into(), Value::String(ms.to_string()));
        }
        if let Some(ms) = p.default_partition_expiration_ms {
            m.insert("defaultPartitionExpirationMs".into(), Value::String(ms.to_string()));
        }
        m
    }
}

#[async_trait]
impl RunnableTask for CreateDataset {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let (project, dataset) = split_name(&self.p.name, r.project()?);
        let mut body = self.settings();
        body.insert("datasetReference".into(), json!({"projectId": project, "datasetId": dataset}));
        match bq.create_dataset(&project, &Value::Object(body)).await {
            Ok(d) => {
                cx.info(&format!("Created dataset '{project}.{dataset}'"));
                Ok(output(&d, &project, &dataset))
            }
            Err(e) if e.status() == Some(409) => match self.if_exists {
                IfExists::Error => Err(bq_error(e)),
                IfExists::Skip => {
                    cx.info(&format!("Dataset '{project}.{dataset}' already exists, skipping"));
                    let d = bq.get_dataset(&project, &dataset).await.map_err(bq_error)?.unwrap_or(Value::Null);
                    Ok(output(&d, &project, &dataset))
                }
                IfExists::Update => {
                    cx.info(&format!("Dataset '{project}.{dataset}' already exists, updating it"));
                    let d = bq
                        .patch_dataset(&project, &dataset, &Value::Object(self.settings()))
                        .await
                        .map_err(bq_error)?;
                    Ok(output(&d, &project, &dataset))
                }
            },
            Err(e) => Err(bq_error(e)),
        }
    }
}

pub static CREATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CreateProps>(build_create));

/// Delete a BigQuery dataset.
///
/// Deletes a dataset, with its tables when deleteContents.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.DeleteDataset",
    group = "gcp",
    example = "id: drop\ntype: io.kestra.plugin.gcp.bigquery.DeleteDataset\nname: scratch\ndeleteContents: true\n"
)]
struct DeleteProps {
    #[serde(flatten)]
    bq: BqProps,
    /// The dataset's or bucket's name.
    #[serde(deserialize_with = "de::string_lenient")]
    name: String,
    /// Delete its tables too.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    delete_contents: Option<bool>,
}

struct DeleteDataset {
    p: DeleteProps,
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(DeleteDataset { p: parse_props(props)? }))
}

#[async_trait]
impl RunnableTask for DeleteDataset {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let (project, dataset) = split_name(&self.p.name, r.project()?);
        let deleted =
            bq.delete_dataset(&project, &dataset, self.p.delete_contents.unwrap_or(false)).await.map_err(bq_error)?;
        if !deleted {
            return Err(TaskError::failed(format!("Couldn't find dataset '{project}.{dataset}'")));
        }
        cx.info(&format!("Deleted dataset '{project}.{dataset}'"));
        let mut out = Map::new();
        out.insert("dataset".into(), Value::String(dataset));
        out.insert("project".into(), Value::String(project));
        Ok(TaskOutput::with(out))
    }
}

pub static DELETE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DeleteProps>(build_delete));
