//! `io.kestra.plugin.gcp.bigquery.CopyPartitions` and `DeletePartitions`
//! (plugin-gcp `AbstractPartition`): the partitions of `dataset.table`
//! between `from` and `to` (inclusive), read as Kestra's client reads
//! them — the table's `$__PARTITIONS_SUMMARY__` meta-table, its first
//! column, every page — then copied with one copy job (the [`Copy`] task,
//! built as Kestra's CopyPartitions builds a Copy) or deleted one by one
//! (`tables.delete` of `table$partition`, eight at a time; a partition
//! that is gone fails the task as in Kestra).
//!
//! `partitionType` says how ids are compared: RANGE ids are integers, the
//! others dates — an id (`YYYYMMDDHH`, `YYYYMMDD`, `YYYYMM`, `YYYY`)
//! completed to `yyyyMMddHHmmss` as Kestra completes it and compared
//! with `from`/`to` read as local date-times (`2024-01-31T00:00`, seconds,
//! fractions and an offset allowed; the offset is ignored, as Kestra's
//! `LocalDateTime.parse` ignores it). `__NULL__` and `__UNPARTITIONED__`
//! are never in a date range. Outputs `projectId`, `datasetId`, `table`,
//! `partitions` (and CopyPartitions' `jobId`); metric `size`.
//!
//! Bound: at most 100,000 partitions are read (BigQuery allows 10,000 per
//! table); more fails naming the bound.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::copy::{Copy, JobOptions, Props as CopyProps};
use super::table_ref::TableProps;
use crate::gcp::common::bq_error;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most partitions read from a summary.
pub const MAX_PARTITIONS: usize = 100_000;
/// Partitions deleted at once.
const PARALLEL_DELETES: usize = 8;

/// The table and the range, what both tasks take.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct RangeProps {
    #[serde(flatten)]
    t: TableProps,
    /// How the table is partitioned.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(values = ["DAY", "HOUR", "MONTH", "YEAR", "RANGE"])]
    partition_type: String,
    /// The first partition (inclusive): an ISO date-time, or an integer for RANGE.
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The last partition (inclusive): an ISO date-time, or an integer for RANGE.
    #[serde(deserialize_with = "de::string_lenient")]
    to: String,
}

/// Copy BigQuery partitions to another table.
///
/// Lists the partitions of a table between from and to and copies them to a destination table with one copy job.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.CopyPartitions",
    group = "gcp",
    example = "id: copy_partitions\ntype: io.kestra.plugin.gcp.bigquery.CopyPartitions\nprojectId: my-project\ndataset: my_dataset\ntable: my_table\ndestinationTable: my_dataset.my_table_copy\npartitionType: DAY\nfrom: \"{{ now() | dateAdd(-30, 'DAYS') }}\"\nto: \"{{ now() | dateAdd(-7, 'DAYS') }}\"\n",
    outputs(
        projectId(String, "The source table's project."),
        datasetId(String, "The source table's dataset."),
        table(String, "The source table."),
        partitions(List, "The partitions copied."),
        jobId(String, "The copy job's id (absent when nothing was copied).")
    )
)]
struct CopyPartitionsProps {
    #[serde(flatten)]
    range: RangeProps,
    /// The table the partitions are copied to: dataset.table or project.dataset.table.
    #[serde(deserialize_with = "de::string_lenient")]
    destination_table: String,
    #[serde(flatten)]
    job: JobOptions,
    /// Succeed without a copy job when no partition is in the range (else the task fails).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    skip_empty: Option<bool>,
}

/// Delete BigQuery partitions.
///
/// Lists the partitions of a table between from and to and deletes them.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.DeletePartitions",
    group = "gcp",
    example = "id: delete_partitions\ntype: io.kestra.plugin.gcp.bigquery.DeletePartitions\nprojectId: my-project\ndataset: my_dataset\ntable: my_table\npartitionType: DAY\nfrom: \"{{ now() | dateAdd(-30, 'DAYS') }}\"\nto: \"{{ now() | dateAdd(-7, 'DAYS') }}\"\n",
    outputs(
        projectId(String, "The table's project."),
        datasetId(String, "The table's dataset."),
        table(String, "The table."),
        partitions(List, "The partitions deleted.")
    )
)]
struct DeletePartitionsProps {
    #[serde(flatten)]
    range: RangeProps,
}

/// How ids are compared with the range.
#[derive(Debug, Clone, PartialEq)]
enum Bounds {
    Range(i64, i64),
    Time { from: NaiveDateTime, to: NaiveDateTime, suffix: &'static str },
}

/// `from`/`to` as Kestra reads them: `yyyy-MM-dd'T'HH:mm[:ss][.S…][offset]`, the offset ignored.
fn local_time(property: &str, s: &str) -> Result<NaiveDateTime, TaskError> {
    let t = s.trim();
    let bad = || {
        TaskError::property(
            property,
            format!("'{t}' is not a date-time like 2024-01-31T00:00 (yyyy-MM-dd'T'HH:mm[:ss])"),
        )
    };
    // the offset (Z, +01:00, -0500) is dropped: a local date-time
    let cut =
        t.char_indices().skip(16).find(|(_, c)| matches!(c, 'Z' | 'z' | '+' | '-')).map(|(i, _)| i).unwrap_or(t.len());
    let local = &t[..cut];
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(local, f).ok())
        .ok_or_else(bad)
}

fn bounds(p: &RangeProps) -> Result<Bounds, TaskError> {
    let kind = p.partition_type.trim().to_ascii_uppercase();
    let suffix = match kind.as_str() {
        "RANGE" => {
            let int = |prop: &str, s: &str| {
                s.trim().parse::<i64>().map_err(|_| {
                    TaskError::property(prop, format!("'{}' is not an integer (partitionType is RANGE)", s.trim()))
                })
            };
            return Ok(Bounds::Range(int("from", &p.from)?, int("to", &p.to)?));
        }
        "HOUR" => "0000",
        "DAY" => "000000",
        "MONTH" => "01000000",
        "YEAR" => "0101000000",
        other => {
            return Err(TaskError::property(
                "partitionType",
                format!("'{other}' is not one of DAY, HOUR, MONTH, YEAR, RANGE"),
            ));
        }
    };
    Ok(Bounds::Time { from: local_time("from", &p.from)?, to: local_time("to", &p.to)?, suffix })
}

impl Bounds {
    /// Whether partition `id` is in the range.
    fn holds(&self, id: &str) -> Result<bool, TaskError> {
        match self {
            Bounds::Range(from, to) => {
                let n: i64 = id.parse().map_err(|_| {
                    TaskError::failed(format!("partition '{id}' is not an integer: is the table RANGE-partitioned?"))
                })?;
                Ok(n >= *from && n <= *to)
            }
            Bounds::Time { from, to, suffix } => {
                if id.starts_with("__") {
                    return Ok(false);
                }
                let t = NaiveDateTime::parse_from_str(&format!("{id}{suffix}"), "%Y%m%d%H%M%S").map_err(|_| {
                    TaskError::failed(format!(
                        "partition '{id}' does not fit partitionType (a {}-digit id expected)",
                        14 - suffix.len()
                    ))
                })?;
                Ok(t >= *from && t <= *to)
            }
        }
    }
}

/// The source table and the partitions in range.
struct Listed {
    project: String,
    dataset: String,
    table: String,
    partitions: Vec<String>,
}

/// Reads the table's partition summary (every page) and keeps those in range.
async fn list(cx: &RunContext, p: &RangeProps, bounds: &Bounds) -> Result<Listed, TaskError> {
    let r = p.t.bq.gcp.resolve(cx)?;
    let project = r.project()?.to_string();
    let bq = r.bigquery(cx).await?;
    let (dataset, table) = (p.t.dataset.trim().to_string(), p.t.table.trim().to_string());
    let summary = format!("{table}$__PARTITIONS_SUMMARY__");
    let not_found = || TaskError::failed(format!("table '{project}.{dataset}.{table}' not found"));
    let meta = bq.get_table(&project, &dataset, &summary).await.map_err(bq_error)?.ok_or_else(not_found)?;
    let column = meta["schema"]["fields"][0]["name"].as_str().unwrap_or("partition_id").to_string();
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = bq
            .list_rows(&project, &dataset, &summary, token.as_deref())
            .await
            .map_err(bq_error)?
            .ok_or_else(not_found)?;
        for row in page["rows"].as_array().into_iter().flatten() {
            if let Some(id) = row["f"][0]["v"].as_str() {
                ids.push(id.to_string());
            }
        }
        if ids.len() > MAX_PARTITIONS {
            return Err(TaskError::failed(format!(
                "table '{project}.{dataset}.{table}' has over {MAX_PARTITIONS} partitions, the most this task reads"
            )));
        }
        token = page["pageToken"].as_str().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut partitions = Vec::new();
    for id in ids {
        if bounds.holds(&id)? {
            partitions.push(id);
        }
    }
    cx.info(&format!("Partitions of {project}.{dataset}.{table} ({column}) in range: {}", partitions.join(", ")));
    cx.counter("size", partitions.len() as f64, &[]);
    Ok(Listed { project, dataset, table, partitions })
}

fn output(l: &Listed) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("projectId".into(), Value::String(l.project.clone()));
    out.insert("datasetId".into(), Value::String(l.dataset.clone()));
    out.insert("table".into(), Value::String(l.table.clone()));
    out.insert("partitions".into(), Value::Array(l.partitions.iter().cloned().map(Value::String).collect()));
    out
}

struct CopyPartitions {
    p: CopyPartitionsProps,
    bounds: Bounds,
}

struct DeletePartitions {
    p: DeletePartitionsProps,
    bounds: Bounds,
}

fn build_copy(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CopyPartitionsProps = parse_props(props)?;
    let bounds = bounds(&p.range)?;
    Ok(Box::new(CopyPartitions { p, bounds }))
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: DeletePartitionsProps = parse_props(props)?;
    let bounds = bounds(&p.range)?;
    Ok(Box::new(DeletePartitions { p, bounds }))
}

#[async_trait]
impl RunnableTask for CopyPartitions {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let l = list(cx, &self.p.range, &self.bounds).await?;
        let mut out = output(&l);
        if l.partitions.is_empty() {
            if self.p.skip_empty == Some(true) {
                cx.info("No partitions found in the specified range, skipping copy (skipEmpty=true)");
                return Ok(TaskOutput::with(out));
            }
            return Err(TaskError::failed(format!(
                "no partition of {}.{}.{} between '{}' and '{}' (skipEmpty: true succeeds without copying)",
                l.project,
                l.dataset,
                l.table,
                self.p.range.from.trim(),
                self.p.range.to.trim()
            )));
        }
        let j = &self.p.job;
        let copy = Copy::new(CopyProps {
            bq: self.p.range.t.bq.clone(),
            source_tables: l
                .partitions
                .iter()
                .map(|s| format!("{}.{}.{}${s}", l.project, l.dataset, l.table))
                .collect(),
            destination_table: self.p.destination_table.clone(),
            operation_type: None,
            job: JobOptions {
                write_disposition: j.write_disposition.clone(),
                create_disposition: j.create_disposition.clone(),
                job_timeout: j.job_timeout,
                labels: j.labels.clone(),
                dry_run: j.dry_run,
            },
        })?;
        out.insert("jobId".into(), Value::String(copy.run_job(cx).await?));
        Ok(TaskOutput::with(out))
    }
}

#[async_trait]
impl RunnableTask for DeletePartitions {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let l = list(cx, &self.p.range, &self.bounds).await?;
        let r = self.p.range.t.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let bq = &*bq;
        let l_ref = &l;
        futures::stream::iter(l.partitions.iter().map(Ok::<_, TaskError>))
            .try_for_each_concurrent(PARALLEL_DELETES, |s| async move {
                let name = format!("{}${s}", l_ref.table);
                if !bq.delete_table(&l_ref.project, &l_ref.dataset, &name).await.map_err(bq_error)? {
                    return Err(TaskError::failed(format!(
                        "Couldn't find partition '{}.{}.{name}'",
                        l_ref.project, l_ref.dataset
                    )));
                }
                Ok(())
            })
            .await?;
        Ok(TaskOutput::with(output(&l)))
    }
}

pub static COPY: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CopyPartitionsProps>(build_copy));
pub static DELETE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DeletePartitionsProps>(build_delete));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn range(kind: &str, from: &str, to: &str) -> Result<Bounds, TaskError> {
        let p: RangeProps = serde_json::from_value(
            json!({"dataset": "d", "table": "t", "partitionType": kind, "from": from, "to": to}),
        )
        .unwrap();
        bounds(&p)
    }

    #[test]
    fn ids_are_compared_as_kestra_completes_them() {
        let day = range("DAY", "2024-01-02T00:00:00Z", "2024-01-04T00:00").unwrap();
        let kept: Vec<&str> = ["20240101", "20240102", "20240104", "20240105", "__NULL__", "__UNPARTITIONED__"]
            .into_iter()
            .filter(|id| day.holds(id).unwrap())
            .collect();
        assert_eq!(kept, ["20240102", "20240104"]);
        let hour = range("HOUR", "2024-01-02T10:00:00.123456+02:00", "2024-01-02T11:30").unwrap();
        assert!(hour.holds("2024010211").unwrap() && !hour.holds("2024010210").unwrap());
        let month = range("month", "2024-02-01T00:00", "2024-03-31T23:59:59").unwrap();
        assert!(month.holds("202402").unwrap() && month.holds("202403").unwrap() && !month.holds("202401").unwrap());
        let year = range("YEAR", "2023-01-01T00:00", "2024-01-01T00:00").unwrap();
        assert!(year.holds("2024").unwrap() && !year.holds("2025").unwrap());
        assert!(day.holds("2024").unwrap_err().to_string().contains("8-digit"));
    }

    #[test]
    fn range_partitions_are_integers() {
        let r = range("RANGE", "10", " 20 ").unwrap();
        assert!(r.holds("10").unwrap() && r.holds("20").unwrap() && !r.holds("30").unwrap());
        assert!(range("RANGE", "a", "2").unwrap_err().to_string().contains("'from'"));
        assert!(range("DAY", "2024-01-01", "2024-01-02T00:00").unwrap_err().to_string().contains("'from'"));
        assert!(range("WEEK", "x", "y").unwrap_err().to_string().contains("partitionType"));
    }
}
