//! `io.kestra.plugin.gcp.bigquery.Load` (a file from internal storage,
//! uploaded to the load job in a resumable, chunked stream) and
//! `…LoadFromGcs` (`from`: gs:// URIs), with the options they share:
//! `destinationTable`, `format` (CSV, JSON, AVRO, PARQUET, ORC),
//! `csvOptions`, `avroOptions`, `schema`, `autodetect`, `writeDisposition`,
//! `createDisposition`, `ignoreUnknownValues`, `maxBadRecords`,
//! `timePartitioningField`/`Type`, `clusteringFields`,
//! `schemaUpdateOptions`. Outputs `jobId`, `destinationTable`
//! (`project.dataset.table`) and `rows` loaded.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::job::{BqProps, Jobs, job_labels};
use super::table_ref::TableRef;
use crate::gcp::common::one_of;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::storage_path;

/// Kestra's `csvOptions` as BigQuery's (`allowQuotedNewLines` →
/// `allowQuotedNewlines`; numbers as int64 strings).
pub fn csv_options(csv: &Value) -> Map<String, Value> {
    let mut m = Map::new();
    for (from, to) in [
        ("fieldDelimiter", "fieldDelimiter"),
        ("quote", "quote"),
        ("encoding", "encoding"),
        ("allowJaggedRows", "allowJaggedRows"),
        ("allowQuotedNewLines", "allowQuotedNewlines"),
        ("allowQuotedNewlines", "allowQuotedNewlines"),
        ("nullMarker", "nullMarker"),
    ] {
        if let Some(v) = csv.get(from).filter(|v| !v.is_null()) {
            let v = match v {
                Value::String(s) if from.starts_with("allow") => Value::Bool(s.eq_ignore_ascii_case("true")),
                other => other.clone(),
            };
            m.insert(to.into(), v);
        }
    }
    match csv.get("skipLeadingRows") {
        Some(Value::Number(n)) => {
            m.insert("skipLeadingRows".into(), Value::String(n.to_string()));
        }
        Some(Value::String(s)) if !s.trim().is_empty() => {
            m.insert("skipLeadingRows".into(), Value::String(s.trim().to_string()));
        }
        _ => {}
    }
    m
}

/// The options both load tasks share.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct LoadProps {
    #[serde(flatten)]
    bq: BqProps,
    /// The table written: project.dataset.table.
    #[serde(deserialize_with = "de::string_lenient")]
    destination_table: String,
    /// The input format.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["CSV", "JSON", "AVRO", "PARQUET", "ORC"])]
    format: Option<String>,
    /// CSV options: fieldDelimiter, skipLeadingRows, quote, allowJaggedRows…
    #[serde(default)]
    #[prop(kind = "Map")]
    csv_options: Option<Value>,
    /// Avro options: useAvroLogicalTypes.
    #[serde(default)]
    #[prop(kind = "Map")]
    avro_options: Option<Value>,
    /// The table schema: {fields: [{name, type, mode}]}.
    #[serde(default)]
    #[prop(kind = "Map")]
    schema: Option<Value>,
    /// Let BigQuery infer the schema.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    autodetect: Option<bool>,
    /// How rows are written to an existing table.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["WRITE_TRUNCATE", "WRITE_APPEND", "WRITE_EMPTY"])]
    write_disposition: Option<String>,
    /// Whether the table may be created.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["CREATE_IF_NEEDED", "CREATE_NEVER"])]
    create_disposition: Option<String>,
    /// Ignore values not in the schema.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    ignore_unknown_values: Option<bool>,
    /// Bad records tolerated before failing.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "0")]
    max_bad_records: Option<u64>,
    /// The column the table is partitioned on.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    time_partitioning_field: Option<String>,
    /// The partition granularity.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["DAY", "HOUR", "MONTH", "YEAR"])]
    time_partitioning_type: Option<String>,
    /// Columns the table is clustered on.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    clustering_fields: Vec<String>,
    /// Schema changes allowed by the job.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList", values = ["ALLOW_FIELD_ADDITION", "ALLOW_FIELD_RELAXATION"])]
    schema_update_options: Vec<String>,
}

impl LoadProps {
    /// The `load` job configuration (without the data source).
    fn configuration(&self, project: Option<&str>) -> Result<(TableRef, Map<String, Value>), TaskError> {
        let table = TableRef::parse("destinationTable", &self.destination_table, project)?;
        let format =
            one_of("format", &self.format, &["CSV", "JSON", "AVRO", "PARQUET", "ORC"])?.unwrap_or_else(|| "CSV".into());
        let mut l = Map::new();
        l.insert("destinationTable".into(), table.to_json());
        l.insert(
            "sourceFormat".into(),
            json!(if format == "JSON" { "NEWLINE_DELIMITED_JSON" } else { format.as_str() }),
        );
        if format == "CSV"
            && let Some(csv) = &self.csv_options
        {
            let mut opts = csv_options(csv);
            // In a load job skipLeadingRows is an int32.
            if let Some(n) = opts.get("skipLeadingRows").and_then(Value::as_str).and_then(|s| s.parse::<i64>().ok()) {
                opts.insert("skipLeadingRows".into(), Value::from(n));
            }
            l.extend(opts);
        }
        if format == "AVRO"
            && let Some(b) =
                self.avro_options.as_ref().and_then(|a| a.get("useAvroLogicalTypes")).and_then(Value::as_bool)
        {
            l.insert("useAvroLogicalTypes".into(), Value::Bool(b));
        }
        if let Some(s) = &self.schema {
            l.insert("schema".into(), super::table::schema_json("schema", s)?);
        }
        let wd =
            one_of("writeDisposition", &self.write_disposition, &["WRITE_TRUNCATE", "WRITE_APPEND", "WRITE_EMPTY"])?;
        let cd = one_of("createDisposition", &self.create_disposition, &["CREATE_IF_NEEDED", "CREATE_NEVER"])?;
        for (k, v) in [
            ("autodetect", self.autodetect.map(Value::Bool)),
            ("writeDisposition", wd.map(Value::String)),
            ("createDisposition", cd.map(Value::String)),
            ("ignoreUnknownValues", self.ignore_unknown_values.map(Value::Bool)),
            ("maxBadRecords", self.max_bad_records.map(Value::from)),
        ] {
            if let Some(v) = v {
                l.insert(k.into(), v);
            }
        }
        if let Some(f) = &self.time_partitioning_field {
            let ty = one_of("timePartitioningType", &self.time_partitioning_type, &["DAY", "HOUR", "MONTH", "YEAR"])?
                .unwrap_or_else(|| "DAY".into());
            l.insert("timePartitioning".into(), json!({"type": ty, "field": f}));
        }
        if !self.clustering_fields.is_empty() {
            l.insert("clustering".into(), json!({"fields": self.clustering_fields}));
        }
        if !self.schema_update_options.is_empty() {
            l.insert("schemaUpdateOptions".into(), json!(self.schema_update_options));
        }
        Ok((table, l))
    }
}

/// The outputs of a finished load job.
fn outputs(job: &gcp_bigquery_client::model::job::Job, table: &TableRef) -> TaskOutput {
    let mut out = Map::new();
    let id = job.job_reference.as_ref().and_then(|r| r.job_id.clone()).unwrap_or_default();
    out.insert("jobId".into(), Value::String(id));
    out.insert("destinationTable".into(), Value::String(table.to_string()));
    let rows = job
        .statistics
        .as_ref()
        .and_then(|s| s.load.as_ref())
        .and_then(|l| l.output_rows.as_deref())
        .and_then(|r| r.parse::<i64>().ok())
        .unwrap_or(0);
    out.insert("rows".into(), Value::from(rows));
    TaskOutput::with(out)
}

// ------------------------------------------------------------------ Load ---

/// Load a stored file into BigQuery.
///
/// Uploads a file of the execution into a table with a load job.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.Load",
    group = "gcp",
    example = "id: load\ntype: io.kestra.plugin.gcp.bigquery.Load\nfrom: \"{{ outputs.extract.uri }}\"\ndestinationTable: my-project.zoomcamp.trips\nformat: CSV\ncsvOptions:\n  skipLeadingRows: 1\nautodetect: true\n",
    outputs(jobId(String, "The BigQuery job's id."), rows(Integer, "Rows written or loaded."))
)]
struct Props {
    #[serde(flatten)]
    load: LoadProps,
    /// Where to read from (a gs:// URI or a kestra:// file).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// Fail when the file is empty.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    failed_on_empty: Option<bool>,
}

struct Load {
    p: Props,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.load.configuration(Some("-"))?;
    storage_path(p.from.trim()).map_err(|e| TaskError::property("from", e.to_string()))?;
    Ok(Box::new(Load { p }))
}

#[async_trait]
impl RunnableTask for Load {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.load.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let jobs = Jobs::new(cx, &bq, &r, &self.p.load.bq)?;
        let (table, load) = self.p.load.configuration(Some(&jobs.project))?;
        let from = self.p.from.trim();
        let path = cx.readable_path("from", from)?;
        let storage = &cx.services.storage;
        let size = storage.size(&path).await.map_err(|e| TaskError::failed(format!("cannot read '{from}': {e}")))?;
        match size {
            None => return Err(TaskError::property("from", format!("'{from}' does not exist in internal storage"))),
            Some(0) if self.p.failed_on_empty.unwrap_or(true) => {
                return Err(TaskError::failed("Can't load an empty file and this one don't contain any data"));
            }
            Some(0) => {
                cx.warn(&format!("'{from}' is empty: nothing loaded"));
                let mut out = Map::new();
                out.insert("rows".into(), Value::from(0));
                return Ok(TaskOutput::with(out));
            }
            Some(_) => {}
        }
        let configuration = json!({"load": load, "labels": job_labels(cx, &[])});
        cx.info(&format!("Loading '{from}' into {table}"));
        let (jobs_ref, bq_ref, conf, path_ref) = (&jobs, &*bq, &configuration, &path);
        let job = jobs
            .run(
                move |job_id: String| async move {
                    let job = json!({"jobReference": jobs_ref.reference(&job_id), "configuration": conf});
                    let data = storage.get(path_ref).await.map_err(|e| baton_gcp::bigquery::BqError::Other {
                        op: "read the file to load".into(),
                        message: format!("cannot read '{from}': {e}"),
                    })?;
                    bq_ref.upload_load_job(&jobs_ref.project, &job, data).await
                },
                None,
                false,
            )
            .await?;
        let out = outputs(&job, &table);
        cx.info(&format!("Loaded {} rows into {table}", out.outputs["rows"]));
        Ok(out)
    }
}

pub static LOAD: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

// ----------------------------------------------------------- LoadFromGcs ---

/// Load GCS files into BigQuery.
///
/// Loads gs:// objects into a table with a load job.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.LoadFromGcs",
    group = "gcp",
    example = "id: load_gcs\ntype: io.kestra.plugin.gcp.bigquery.LoadFromGcs\nfrom:\n  - gs://my-bucket/trips/*.parquet\ndestinationTable: my-project.zoomcamp.trips\nformat: PARQUET\n",
    outputs(jobId(String, "The BigQuery job's id."), rows(Integer, "Rows written or loaded."))
)]
struct GcsProps {
    #[serde(flatten)]
    load: LoadProps,
    /// Where to read from (a gs:// URI or a kestra:// file).
    #[serde(deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    from: Vec<String>,
}

struct LoadFromGcs {
    p: GcsProps,
}

fn build_gcs(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: GcsProps = parse_props(props)?;
    p.load.configuration(Some("-"))?;
    if p.from.is_empty() {
        return Err(TaskError::property("from", "give at least one gs:// URI"));
    }
    for u in &p.from {
        crate::gcp::common::parse_gs("from", u)?;
    }
    Ok(Box::new(LoadFromGcs { p }))
}

#[async_trait]
impl RunnableTask for LoadFromGcs {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.load.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let jobs = Jobs::new(cx, &bq, &r, &self.p.load.bq)?;
        let (table, mut load) = self.p.load.configuration(Some(&jobs.project))?;
        let uris: Vec<String> = self.p.from.iter().map(|u| u.trim().to_string()).collect();
        load.insert("sourceUris".into(), json!(uris));
        let configuration = json!({"load": load, "labels": job_labels(cx, &[])});
        cx.info(&format!("Loading {} into {table}", uris.join(", ")));
        let (jobs_ref, bq_ref, conf) = (&jobs, &*bq, &configuration);
        let job = jobs
            .run(
                move |job_id: String| async move {
                    let job = json!({"jobReference": jobs_ref.reference(&job_id), "configuration": conf});
                    bq_ref.insert_job(&jobs_ref.project, job).await
                },
                None,
                false,
            )
            .await?;
        let out = outputs(&job, &table);
        cx.info(&format!("Loaded {} rows into {table}", out.outputs["rows"]));
        Ok(out)
    }
}

pub static LOAD_FROM_GCS: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<GcsProps>(build_gcs));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_configuration_follows_kestra_options() {
        let p: LoadProps = serde_json::from_value(json!({
            "destinationTable": "ds.trips", "format": "csv", "autodetect": "true",
            "csvOptions": {"skipLeadingRows": 1, "fieldDelimiter": ";", "allowQuotedNewLines": true},
            "schema": {"fields": [{"name": "id", "type": "INT64"}]}, "writeDisposition": "write_append"
        }))
        .unwrap();
        let (t, l) = p.configuration(Some("p")).unwrap();
        assert_eq!(t.to_string(), "p.ds.trips");
        assert_eq!(
            Value::Object(l),
            json!({"destinationTable": {"projectId": "p", "datasetId": "ds", "tableId": "trips"},
                   "sourceFormat": "CSV", "fieldDelimiter": ";", "allowQuotedNewlines": true, "skipLeadingRows": 1,
                   "schema": {"fields": [{"name": "id", "type": "INT64"}]}, "autodetect": true,
                   "writeDisposition": "WRITE_APPEND"})
        );
        let p: LoadProps = serde_json::from_value(json!({"destinationTable": "ds.t", "format": "XLS"})).unwrap();
        assert!(p.configuration(Some("p")).unwrap_err().to_string().contains("not one of CSV"));
    }
}
