//! `io.kestra.plugin.gcp.bigquery.TableMetadata` and `…UpdateTable`
//! (plugin-gcp `TableMetadata.java`, `UpdateTable.java`). TableMetadata
//! reads a table (`dataset`, `table`); missing, it fails, or with
//! `ifNotExists: SKIP` outputs nothing. UpdateTable patches an existing
//! table with what CreateTable takes (`tableDefinition`, `friendlyName`,
//! `labels`, `requirePartitionFilter`, `expirationDuration` from now): what
//! is not given stays. Both output the table's metadata as CreateTable
//! does (`projectId`, `datasetId`, `table`, `numRows`, `definition`…).
//! Both run on bqemulator, tested there.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::table::{CreateProps, table_output};
use super::table_ref::TableProps;
use crate::gcp::common::{bq_error, one_of};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Read a BigQuery table's metadata.
///
/// Outputs a table's metadata (schema, rows, bytes, labels…).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.TableMetadata",
    group = "gcp",
    example = "id: meta\ntype: io.kestra.plugin.gcp.bigquery.TableMetadata\ndataset: zoomcamp\ntable: trips\nifNotExists: SKIP\n",
    outputs(
        projectId(String, "The table's project."),
        datasetId(String, "The table's dataset."),
        table(String, "The table's name."),
        numRows(Integer, "Its rows."),
        definition(Map, "Its type and schema.")
    )
)]
struct MetaProps {
    #[serde(flatten)]
    t: TableProps,
    /// What to do when the table does not exist: fail, or output nothing.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ERROR", "SKIP"], default = "\"ERROR\"")]
    if_not_exists: Option<String>,
}

struct TableMetadata {
    p: MetaProps,
    skip: bool,
}

fn build_meta(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: MetaProps = parse_props(props)?;
    let skip = one_of("ifNotExists", &p.if_not_exists, &["ERROR", "SKIP"])?.as_deref() == Some("SKIP");
    Ok(Box::new(TableMetadata { p, skip }))
}

#[async_trait]
impl RunnableTask for TableMetadata {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.t.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let project = r.project()?.to_string();
        let (dataset, table) = (self.p.t.dataset.trim(), self.p.t.table.trim());
        match bq.get_table(&project, dataset, table).await.map_err(bq_error)? {
            Some(t) => Ok(TaskOutput::with(table_output(&t))),
            None if self.skip => {
                cx.info(&format!("Table '{project}:{dataset}.{table}' does not exist, skipping"));
                Ok(TaskOutput::empty())
            }
            None => Err(TaskError::failed(format!("Unable to find table '{project}:{dataset}.{table}'"))),
        }
    }
}

pub static METADATA: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<MetaProps>(build_meta));

/// Update a BigQuery table.
///
/// Updates a table's labels, friendly name, expiration, partition filter requirement or definition; what is not given stays.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.UpdateTable",
    group = "gcp",
    props = CreateProps,
    example = "id: expire\ntype: io.kestra.plugin.gcp.bigquery.UpdateTable\ndataset: zoomcamp\ntable: trips_staging\nexpirationDuration: PT48H\n",
    outputs(
        projectId(String, "The table's project."),
        datasetId(String, "The table's dataset."),
        table(String, "The table's name."),
        numRows(Integer, "Its rows."),
        definition(Map, "Its type and schema.")
    )
)]
struct UpdateDecl;

struct UpdateTable {
    p: CreateProps,
    body: Map<String, Value>,
}

fn build_update(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CreateProps = parse_props(props)?;
    let body = p.body()?;
    Ok(Box::new(UpdateTable { p, body }))
}

#[async_trait]
impl RunnableTask for UpdateTable {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let project = r.project()?.to_string();
        let (dataset, table) = (self.p.dataset.trim(), self.p.table.trim());
        let mut body = self.body.clone();
        if let Some(d) = self.p.expiration_duration {
            body.insert("expirationTime".into(), Value::String((Utc::now() + d).timestamp_millis().to_string()));
        }
        let updated = bq.patch_table(&project, dataset, table, &Value::Object(body)).await.map_err(bq_error)?;
        cx.info(&format!("Updated table '{project}.{dataset}.{table}'"));
        Ok(TaskOutput::with(table_output(&updated)))
    }
}

pub static UPDATE: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<UpdateDecl>(build_update).parsed_by::<CreateProps>());
