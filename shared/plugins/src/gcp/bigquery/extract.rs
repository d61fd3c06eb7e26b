//! `io.kestra.plugin.gcp.bigquery.ExtractToGcs`: an extract job
//! (plugin-gcp `bigquery/ExtractToGcs.java`) from `sourceTable` to
//! `destinationUris` (gs://, wildcards allowed), with `format` (CSV,
//! NEWLINE_DELIMITED_JSON, AVRO, PARQUET: BigQuery's `destinationFormat`),
//! `fieldDelimiter`, `printHeader`, `compression`, `useAvroLogicalTypes`,
//! `jobTimeoutMs` and `labels` (with Kestra's own). Outputs `jobId`,
//! `sourceTable` (the table's name), `destinationUris`, `fileCounts`
//! (files per URI); metrics `output.file_counts` and `duration`.
//!
//! Tested two ways: on bqemulator (a CSV extract with its header lands in
//! the bucket), and — since bqemulator ignores `fieldDelimiter`,
//! `compression` and wildcards and reports no file counts — against a
//! local fake of BigQuery's REST API that holds the `jobs.insert` request
//! to the shape of Google's discovery document
//! (`JobConfigurationExtract`).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::copy::{job_duration, job_tags};
use super::job::{BqProps, Jobs, job_labels};
use super::table_ref::TableRef;
use crate::gcp::common::{one_of, parse_gs};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

const FORMATS: &[&str] = &["CSV", "NEWLINE_DELIMITED_JSON", "AVRO", "PARQUET"];
const COMPRESSIONS: &[&str] = &["NONE", "GZIP", "DEFLATE", "SNAPPY", "ZSTD"];

/// Export a BigQuery table to GCS.
///
/// Extracts a table (or partition) to gs:// files with an extract job.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.ExtractToGcs",
    group = "gcp",
    example = "id: extract\ntype: io.kestra.plugin.gcp.bigquery.ExtractToGcs\nsourceTable: my-project.my_dataset.my_table\ndestinationUris:\n  - gs://my-bucket/exports/my_table-*.csv\nformat: CSV\nfieldDelimiter: ';'\nprintHeader: true\n",
    outputs(
        jobId(String, "The BigQuery job's id."),
        sourceTable(String, "The table extracted (its name)."),
        destinationUris(List, "The gs:// URIs written."),
        fileCounts(List, "Files written per destination URI.")
    )
)]
struct Props {
    #[serde(flatten)]
    bq: BqProps,
    /// The table (or partition) to export: project.dataset.table or dataset.table.
    #[serde(deserialize_with = "de::string_lenient")]
    source_table: String,
    /// Where to write (gs:// URIs; a * makes several files).
    #[serde(deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList", required)]
    destination_uris: Vec<String>,
    /// The files' format.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["CSV", "NEWLINE_DELIMITED_JSON", "AVRO", "PARQUET"], default = "\"CSV\"")]
    format: Option<String>,
    /// CSV: the field delimiter.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\",\"")]
    field_delimiter: Option<String>,
    /// CSV: write a header row.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    print_header: Option<bool>,
    /// The files' compression.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["NONE", "GZIP", "DEFLATE", "SNAPPY", "ZSTD"], default = "\"NONE\"")]
    compression: Option<String>,
    /// AVRO: use logical types for dates and times.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    use_avro_logical_types: Option<bool>,
    /// Cancel the job after this many milliseconds.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    job_timeout_ms: Option<u64>,
    /// Labels set on the resource.
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    labels: Vec<(String, String)>,
}

struct Extract {
    p: Props,
    uris: Vec<String>,
    format: Option<String>,
    compression: Option<String>,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let format = one_of("format", &p.format, FORMATS)?;
    let compression = one_of("compression", &p.compression, COMPRESSIONS)?;
    TableRef::parse("sourceTable", &p.source_table, Some("-"))?;
    let uris: Vec<String> = p.destination_uris.iter().map(|u| u.trim().to_string()).filter(|u| !u.is_empty()).collect();
    if uris.is_empty() {
        return Err(TaskError::property("destinationUris", "no destination"));
    }
    for u in &uris {
        let (_, path) = parse_gs("destinationUris", u)?;
        if path.is_empty() || path.ends_with('/') {
            return Err(TaskError::property("destinationUris", format!("'{u}' names no file")));
        }
    }
    Ok(Box::new(Extract { p, uris, format, compression }))
}

impl Extract {
    fn configuration(&self, cx: &RunContext, project: &str) -> Result<(TableRef, Value), TaskError> {
        let p = &self.p;
        let source = TableRef::parse("sourceTable", &p.source_table, Some(project))?;
        let mut e = Map::new();
        e.insert("sourceTable".into(), source.to_json());
        e.insert("destinationUris".into(), json!(self.uris));
        if let Some(f) = &self.format {
            e.insert("destinationFormat".into(), Value::String(f.clone()));
        }
        if let Some(c) = &self.compression {
            e.insert("compression".into(), Value::String(c.clone()));
        }
        if let Some(d) = &p.field_delimiter {
            e.insert("fieldDelimiter".into(), Value::String(d.clone()));
        }
        if let Some(h) = p.print_header {
            e.insert("printHeader".into(), Value::Bool(h));
        }
        if let Some(a) = p.use_avro_logical_types {
            e.insert("useAvroLogicalTypes".into(), Value::Bool(a));
        }
        let mut c = Map::new();
        c.insert("extract".into(), Value::Object(e));
        c.insert("labels".into(), Value::Object(job_labels(cx, &p.labels)));
        if let Some(t) = p.job_timeout_ms {
            c.insert("jobTimeoutMs".into(), Value::String(t.to_string()));
        }
        Ok((source, Value::Object(c)))
    }
}

#[async_trait]
impl RunnableTask for Extract {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let jobs = Jobs::new(cx, &bq, &r, &self.p.bq)?;
        let (source, configuration) = self.configuration(cx, &jobs.project)?;
        cx.info(&format!("Extracting {source} to {}", self.uris.join(", ")));
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
        let (id, project, location) = job_tags(&job, &jobs.project);
        let counts: Option<Vec<i64>> = job
            .statistics
            .as_ref()
            .and_then(|s| s.extract.as_ref())
            .and_then(|e| e.destination_uri_file_counts.as_ref())
            .map(|c| c.iter().filter_map(|n| n.parse().ok()).collect());
        let tags = [
            ("source_table", self.p.source_table.trim()),
            ("project_id", project.as_str()),
            ("location", location.as_str()),
        ];
        if let Some(c) = &counts {
            cx.counter("output.file_counts", c.iter().sum::<i64>() as f64, &tags);
        }
        if let Some(d) = job_duration(&job) {
            cx.timer("duration", d, &tags);
        }
        let mut out = Map::new();
        out.insert("jobId".into(), Value::String(id));
        out.insert("sourceTable".into(), Value::String(source.table));
        out.insert("destinationUris".into(), json!(self.uris));
        if let Some(c) = counts {
            out.insert("fileCounts".into(), json!(c));
        }
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
