//! `io.kestra.plugin.gcp.bigquery.Copy`: a copy job (plugin-gcp
//! `bigquery/Copy.java`) from `sourceTables` (partition decorators such as
//! `t$20240101` allowed) to `destinationTable`, with `operationType`
//! (COPY, SNAPSHOT, RESTORE, CLONE), `writeDisposition`,
//! `createDisposition`, `jobTimeout`, `labels` (with Kestra's own) and
//! `dryRun`. Output `jobId`; metrics `num.child.jobs` and `duration`.
//! Runs on bqemulator (COPY), tested there.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::job::{BqProps, Jobs, job_labels};
use super::table_ref::TableRef;
use crate::gcp::common::one_of;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Copy BigQuery tables.
///
/// Copies tables or partitions to a table with a copy job (or snapshots, restores, clones them).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.Copy",
    group = "gcp",
    example = "id: copy\ntype: io.kestra.plugin.gcp.bigquery.Copy\noperationType: COPY\nsourceTables:\n  - my-project.my_dataset.my_table$20130908\ndestinationTable: my-project.my_dataset.my_table\n",
    outputs(jobId(String, "The BigQuery job's id."))
)]
pub(super) struct Props {
    #[serde(flatten)]
    pub(super) bq: BqProps,
    /// The tables (or partitions) to copy: project.dataset.table or dataset.table.
    #[serde(deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList", required)]
    pub(super) source_tables: Vec<String>,
    /// The table written.
    #[serde(deserialize_with = "de::string_lenient")]
    pub(super) destination_table: String,
    /// What the job does.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["COPY", "SNAPSHOT", "RESTORE", "CLONE"], default = "\"COPY\"")]
    pub(super) operation_type: Option<String>,
    #[serde(flatten)]
    pub(super) job: JobOptions,
}

/// The copy job's options (Copy's and CopyPartitions').
#[derive(Debug, Default, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub(super) struct JobOptions {
    /// How rows are written to an existing table.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["WRITE_TRUNCATE", "WRITE_APPEND", "WRITE_EMPTY"])]
    pub(super) write_disposition: Option<String>,
    /// Whether the table may be created.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["CREATE_IF_NEEDED", "CREATE_NEVER"])]
    pub(super) create_disposition: Option<String>,
    /// Cancel the job after this long.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration")]
    pub(super) job_timeout: Option<chrono::Duration>,
    /// Labels set on the resource.
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    pub(super) labels: Vec<(String, String)>,
    /// Only validate the job.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    pub(super) dry_run: Option<bool>,
}

/// A copy job ready to run (CopyPartitions builds one, as Kestra's does).
pub(super) struct Copy {
    p: Props,
    operation: Option<String>,
    write: Option<String>,
    create: Option<String>,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(Copy::new(parse_props(props)?)?))
}

impl Copy {
    /// The job of these properties, its names and enums checked.
    pub(super) fn new(p: Props) -> Result<Copy, TaskError> {
        if p.source_tables.iter().all(|s| s.trim().is_empty()) {
            return Err(TaskError::property("sourceTables", "no table to copy"));
        }
        let operation = one_of("operationType", &p.operation_type, &["COPY", "SNAPSHOT", "RESTORE", "CLONE"])?;
        let write =
            one_of("writeDisposition", &p.job.write_disposition, &["WRITE_TRUNCATE", "WRITE_APPEND", "WRITE_EMPTY"])?;
        let create = one_of("createDisposition", &p.job.create_disposition, &["CREATE_IF_NEEDED", "CREATE_NEVER"])?;
        // names are checked now, projects filled in when the task runs
        for s in &p.source_tables {
            TableRef::parse("sourceTables", s, Some("-"))?;
        }
        TableRef::parse("destinationTable", &p.destination_table, Some("-"))?;
        Ok(Copy { p, operation, write, create })
    }

    fn configuration(&self, cx: &RunContext, project: &str) -> Result<Value, TaskError> {
        let p = &self.p;
        let sources = p
            .source_tables
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| TableRef::parse("sourceTables", s, Some(project)).map(|t| t.to_json()))
            .collect::<Result<Vec<_>, _>>()?;
        let destination = TableRef::parse("destinationTable", &p.destination_table, Some(project))?;
        let mut copy = Map::new();
        copy.insert("sourceTables".into(), Value::Array(sources));
        copy.insert("destinationTable".into(), destination.to_json());
        for (k, v) in
            [("operationType", &self.operation), ("writeDisposition", &self.write), ("createDisposition", &self.create)]
        {
            if let Some(v) = v {
                copy.insert(k.into(), Value::String(v.clone()));
            }
        }
        let mut c = Map::new();
        c.insert("copy".into(), Value::Object(copy));
        c.insert("labels".into(), Value::Object(job_labels(cx, &p.job.labels)));
        if p.job.dry_run == Some(true) {
            c.insert("dryRun".into(), Value::Bool(true));
        }
        if let Some(t) = p.job.job_timeout {
            c.insert("jobTimeoutMs".into(), Value::String(t.num_milliseconds().to_string()));
        }
        Ok(Value::Object(c))
    }
}

/// `duration` (start to end) of a finished job, when its statistics say.
pub fn job_duration(job: &gcp_bigquery_client::model::job::Job) -> Option<Duration> {
    let s = job.statistics.as_ref()?;
    let (start, end) = (s.start_time.as_deref()?.parse::<u64>().ok()?, s.end_time.as_deref()?.parse::<u64>().ok()?);
    Some(Duration::from_millis(end.saturating_sub(start)))
}

/// The job's id and its `project_id` / `location` metric tags.
pub fn job_tags(job: &gcp_bigquery_client::model::job::Job, project: &str) -> (String, String, String) {
    let r = job.job_reference.as_ref();
    (
        r.and_then(|r| r.job_id.clone()).unwrap_or_default(),
        r.and_then(|r| r.project_id.clone()).unwrap_or_else(|| project.to_string()),
        r.and_then(|r| r.location.clone()).unwrap_or_default(),
    )
}

#[async_trait]
impl RunnableTask for Copy {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut out = Map::new();
        out.insert("jobId".into(), Value::String(self.run_job(cx).await?));
        Ok(TaskOutput::with(out))
    }
}

impl Copy {
    /// Runs the job to its end: its id.
    pub(super) async fn run_job(&self, cx: &RunContext) -> Result<String, TaskError> {
        let r = self.p.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let jobs = Jobs::new(cx, &bq, &r, &self.p.bq)?;
        let configuration = self.configuration(cx, &jobs.project)?;
        cx.info(&format!(
            "Copying {} to {}",
            self.p.source_tables.join(", "),
            configuration["copy"]["destinationTable"]["tableId"].as_str().unwrap_or_default()
        ));
        let (jobs_ref, bq_ref, conf) = (&jobs, &*bq, &configuration);
        let job = jobs
            .run(
                move |job_id: String| async move {
                    let job = json!({"jobReference": jobs_ref.reference(&job_id), "configuration": conf});
                    bq_ref.insert_job(&jobs_ref.project, job).await
                },
                None,
                self.p.job.dry_run == Some(true),
            )
            .await?;
        let (id, project, location) = job_tags(&job, &jobs.project);
        let tags = [("project_id", project.as_str()), ("location", location.as_str())];
        let children = job.statistics.as_ref().and_then(|s| s.num_child_jobs.as_deref()).and_then(|n| n.parse().ok());
        if let Some(n) = children {
            cx.counter("num.child.jobs", n, &tags);
        }
        if let Some(d) = job_duration(&job) {
            cx.timer("duration", d, &tags);
        }
        Ok(id)
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
