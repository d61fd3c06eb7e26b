//! `io.kestra.plugin.gcp.bigquery.Query`: runs `sql` as a query job
//! (standard SQL unless `legacySql`), waits for it, and reads the result as
//! `fetchType` says (FETCH → `rows`, FETCH_ONE → `row`, STORE → an Ion file
//! at `uri`; `size` with each), page by page. `destinationTable` with
//! `writeDisposition`/`createDisposition`, `timePartitioning*`,
//! `clusteringFields`, `labels`, `dryRun`… are passed to the job. Outputs
//! `jobId` and, when the job wrote to a table, `destinationTable`
//! `{project, dataset, table}`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::job::{BqProps, Jobs, job_labels};
use super::table_ref::TableRef;
use crate::jdbc::fetch::{FetchProps, FetchType, ResultWriter};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

const WRITE_DISPOSITIONS: &[&str] = &["WRITE_TRUNCATE", "WRITE_APPEND", "WRITE_EMPTY"];
const CREATE_DISPOSITIONS: &[&str] = &["CREATE_IF_NEEDED", "CREATE_NEVER"];

/// Run a BigQuery SQL query.
///
/// Runs a query job; writes to a destination table or fetches the rows, as Kestra's fetchType says.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.Query",
    group = "gcp",
    example = "id: bq\ntype: io.kestra.plugin.gcp.bigquery.Query\nsql: SELECT count(*) AS n FROM `my-project.zoomcamp.trips`\nfetchType: FETCH_ONE\n",
    outputs(
        jobId(String, "The BigQuery job's id."),
        row(Map, "The first row (FETCH_ONE)."),
        rows(List, "The rows (FETCH)."),
        uri(String, "A file of the rows (STORE)."),
        size(Integer, "The number of rows."),
        destinationTable(Map, "The table written, if any.")
    )
)]
struct Props {
    #[serde(flatten)]
    bq: BqProps,
    /// The SQL (standard SQL unless legacySql).
    #[serde(deserialize_with = "de::string_lenient")]
    sql: String,
    #[serde(flatten)]
    fetch: FetchProps,
    /// Use BigQuery's legacy SQL.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    legacy_sql: Option<bool>,
    /// The older name of legacySql.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    use_legacy_sql: Option<bool>,
    /// The table written: project.dataset.table.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    destination_table: Option<String>,
    /// How rows are written to an existing table.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["WRITE_TRUNCATE", "WRITE_APPEND", "WRITE_EMPTY"])]
    write_disposition: Option<String>,
    /// Whether the table may be created.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["CREATE_IF_NEEDED", "CREATE_NEVER"])]
    create_disposition: Option<String>,
    /// Labels set on the resource.
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    labels: Vec<(String, String)>,
    /// Only validate and estimate the query.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    dry_run: Option<bool>,
    /// The dataset of unqualified table names.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    default_dataset: Option<String>,
    /// The job's priority.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["INTERACTIVE", "BATCH"], default = "\"INTERACTIVE\"")]
    priority: Option<String>,
    /// Use cached results.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    use_query_cache: Option<bool>,
    /// Legacy SQL: allow large results.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    allow_large_results: Option<bool>,
    /// Legacy SQL: flatten nested results.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    flatten_results: Option<bool>,
    /// Fail the job above this many bytes billed.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    maximum_bytes_billed: Option<u64>,
    /// Legacy billing tier limit.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    maximum_billing_tier: Option<u64>,
    /// Cancel the job after this long.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration")]
    job_timeout: Option<chrono::Duration>,
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

struct Query {
    p: Props,
    kind: FetchType,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    if p.sql.trim().is_empty() {
        return Err(TaskError::property("sql", "the query is empty"));
    }
    super::super::common::one_of("writeDisposition", &p.write_disposition, WRITE_DISPOSITIONS)?;
    super::super::common::one_of("createDisposition", &p.create_disposition, CREATE_DISPOSITIONS)?;
    super::super::common::one_of("priority", &p.priority, &["INTERACTIVE", "BATCH"])?;
    super::super::common::one_of("timePartitioningType", &p.time_partitioning_type, &["DAY", "HOUR", "MONTH", "YEAR"])?;
    let kind = p.fetch.resolve();
    Ok(Box::new(Query { p, kind }))
}

impl Query {
    /// The `configuration` of the query job.
    fn configuration(&self, cx: &RunContext, project: &str) -> Result<Value, TaskError> {
        let p = &self.p;
        let mut q = Map::new();
        q.insert("query".into(), Value::String(p.sql.clone()));
        q.insert("useLegacySql".into(), Value::Bool(p.use_legacy_sql.or(p.legacy_sql).unwrap_or(false)));
        if let Some(t) = &p.destination_table {
            q.insert("destinationTable".into(), TableRef::parse("destinationTable", t, Some(project))?.to_json());
        }
        let upper = |v: &Option<String>| v.as_deref().map(|s| Value::String(s.trim().to_ascii_uppercase()));
        for (key, v) in [
            ("writeDisposition", upper(&p.write_disposition)),
            ("createDisposition", upper(&p.create_disposition)),
            ("priority", upper(&p.priority)),
            ("useQueryCache", p.use_query_cache.map(Value::Bool)),
            ("allowLargeResults", p.allow_large_results.map(Value::Bool)),
            ("flattenResults", p.flatten_results.map(Value::Bool)),
            ("maximumBytesBilled", p.maximum_bytes_billed.map(|n| Value::String(n.to_string()))),
            ("maximumBillingTier", p.maximum_billing_tier.map(Value::from)),
        ] {
            if let Some(v) = v {
                q.insert(key.into(), v);
            }
        }
        if let Some(d) = p.default_dataset.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            let (proj, ds) = d.split_once('.').unwrap_or((project, d));
            q.insert("defaultDataset".into(), json!({"projectId": proj, "datasetId": ds}));
        }
        if let Some(f) = &p.time_partitioning_field {
            let ty = p.time_partitioning_type.as_deref().unwrap_or("DAY").to_ascii_uppercase();
            q.insert("timePartitioning".into(), json!({"type": ty, "field": f}));
        }
        if !p.clustering_fields.is_empty() {
            q.insert("clustering".into(), json!({"fields": p.clustering_fields}));
        }
        if !p.schema_update_options.is_empty() {
            q.insert("schemaUpdateOptions".into(), json!(p.schema_update_options));
        }
        let mut c = Map::new();
        c.insert("query".into(), Value::Object(q));
        c.insert("labels".into(), Value::Object(job_labels(cx, &p.labels)));
        if p.dry_run == Some(true) {
            c.insert("dryRun".into(), Value::Bool(true));
        }
        if let Some(t) = p.job_timeout {
            c.insert("jobTimeoutMs".into(), Value::String(t.num_milliseconds().to_string()));
        }
        Ok(Value::Object(c))
    }
}

#[async_trait]
impl RunnableTask for Query {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let jobs = Jobs::new(cx, &bq, &r, &self.p.bq)?;
        let configuration = self.configuration(cx, &jobs.project)?;
        let dry_run = self.p.dry_run == Some(true);
        let (jobs_ref, bq_ref, conf) = (&jobs, &*bq, &configuration);
        let job = jobs
            .run(
                move |job_id: String| async move {
                    let job = json!({"jobReference": jobs_ref.reference(&job_id), "configuration": conf});
                    bq_ref.insert_job(&jobs_ref.project, job).await
                },
                Some(&self.p.sql),
                dry_run,
            )
            .await?;
        let reference = job.job_reference.clone().unwrap_or_default();
        let job_id = reference.job_id.clone().unwrap_or_default();
        let mut out = Map::new();
        out.insert("jobId".into(), Value::String(job_id.clone()));
        let stats = job.statistics.as_ref().and_then(|s| s.query.as_ref());
        if let Some(n) = stats.and_then(|q| q.num_dml_affected_rows.as_deref()) {
            cx.info(&format!("{n} rows affected"));
        }
        let destination = job
            .configuration
            .as_ref()
            .and_then(|c| c.query.as_ref())
            .and_then(|q| q.destination_table.as_ref())
            .map(|t| json!({"project": t.project_id, "dataset": t.dataset_id, "table": t.table_id}));
        if let Some(d) = &destination {
            cx.info(&format!(
                "Query loaded in: {}.{}",
                d["dataset"].as_str().unwrap_or(""),
                d["table"].as_str().unwrap_or("")
            ));
        }

        if self.kind != FetchType::None && !dry_run {
            let location = reference.location.as_deref().or(jobs.location.as_deref());
            let mut writer = ResultWriter::new(cx, self.kind, "result.ion");
            let mut token: Option<String> = None;
            'pages: loop {
                let page = bq
                    .query_results(&jobs.project, &job_id, location, token.as_deref())
                    .await
                    .map_err(super::super::common::bq_error)?;
                let fields = page["schema"]["fields"].as_array().map(Vec::as_slice).unwrap_or_default();
                for row in page["rows"].as_array().map(Vec::as_slice).unwrap_or_default() {
                    if !writer.wants_more() {
                        break 'pages;
                    }
                    writer.push(super::cells::row(fields, row)?).await?;
                }
                match page["pageToken"].as_str() {
                    Some(t) if !t.is_empty() && writer.wants_more() && Some(t) != token.as_deref() => {
                        token = Some(t.to_string())
                    }
                    _ => break,
                }
            }
            let fetched = writer.finish().await?;
            out.extend(fetched);
            if self.kind == FetchType::FetchOne && !out.contains_key("row") {
                out.insert("row".into(), Value::Object(Map::new()));
            }
        }
        if let Some(d) = destination {
            out.insert("destinationTable".into(), d);
        }
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
