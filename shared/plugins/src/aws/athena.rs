//! `io.kestra.plugin.aws.athena.Query` (plugin-aws `athena/Query.java`):
//! starts `query` on Amazon Athena in `database` (and `catalog`), results
//! written by Athena to `outputLocation`, waits for it (a poll every
//! [`POLL`]) and reads the result's pages as `fetchType` says — STORE (the
//! default: an Ion file, `uri`), FETCH (`rows`), FETCH_ONE (`row`), each
//! with `size`; NONE returns `queryExecutionId` at once, without waiting.
//! `skipHeader` (true by default) drops the first row, where Athena puts
//! the column names.
//!
//! Cells are typed from the result's column types as Kestra types them
//! (boolean; tinyint to bigint as integers; float and double; decimal as a
//! number when it fits a double exactly, else its text; date as
//! `yyyy-MM-dd`; timestamp as an ISO local date-time; anything else as
//! text); a NULL cell is null, where Kestra reads a NULL boolean as false
//! and fails on a NULL number. A cell that does not read as its type fails
//! the task naming the column. Metrics as Kestra's (`data.scanned.bytes`,
//! `engine.execution.duration`, `query.planning.duration`,
//! `query.queue.duration`, `service.processing.duration`,
//! `total.execution.duration`, `total.rows`, `fetch.rows`).
//!
//! Bounds: FETCH keeps at most [`MAX_FETCH_ROWS`] rows in memory and STORE
//! writes at most [`MAX_STORE_ROWS`], each an error naming it. A task
//! killed or timed out while its query runs stops the query
//! (`StopQueryExecution`), where Kestra leaves it running.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_athena::types::{ColumnInfo, QueryExecutionContext, QueryExecutionState, ResultConfiguration, Row};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::aws::AwsProps;
use crate::aws::connection::sdk_error;
use crate::jdbc::fetch::{FetchType, ResultWriter, decimal_value, fetch_type_ok};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// How often a running query's state is asked for (Kestra's pause).
const POLL: Duration = Duration::from_millis(500);
/// The most rows FETCH keeps in memory.
pub const MAX_FETCH_ROWS: u64 = 100_000;
/// The most rows STORE writes.
pub const MAX_STORE_ROWS: u64 = 50_000_000;

/// Run a SQL query on Amazon Athena.
///
/// Starts query in database (and catalog), Athena writing its results to outputLocation; waits for it and reads the result as fetchType says: STORE (an Ion file, uri), FETCH (rows), FETCH_ONE (row), each with size, or NONE (queryExecutionId at once, without waiting). Cells are typed from the result's column types.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.athena.Query",
    group = "aws",
    example = "id: query\ntype: io.kestra.plugin.aws.athena.Query\naccessKeyId: \"{{ secret('AWS_ACCESS_KEY_ID') }}\"\nsecretKeyId: \"{{ secret('AWS_SECRET_KEY_ID') }}\"\nregion: eu-central-1\ndatabase: my_database\noutputLocation: s3://some-s3-bucket\nquery: |\n  select * from cloudfront_logs limit 10\n",
    outputs(
        queryExecutionId(String, "Athena's id of the query (NONE)."),
        uri(String, "The Ion file of the rows (STORE)."),
        rows(List, "The rows (FETCH)."),
        row(Map, "The first row (FETCH_ONE)."),
        size(Integer, "How many rows were fetched or stored.")
    )
)]
struct Props {
    #[serde(flatten)]
    aws: AwsProps,
    /// The data catalog (Athena's default when omitted).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    catalog: Option<String>,
    /// The database the query runs in.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    database: Option<String>,
    /// The S3 URI (s3://bucket/prefix) Athena writes the result files to.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    output_location: Option<String>,
    /// The SQL statement.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    query: Option<String>,
    /// What becomes of the result: STORE (an Ion file), FETCH (rows), FETCH_ONE (row) or NONE (no wait).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["STORE", "FETCH", "FETCH_ONE", "NONE"], default = "\"STORE\"", check = fetch_type_ok)]
    fetch_type: Option<String>,
    /// Drop the result's first row (Athena's header of column names).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    skip_header: Option<bool>,
}

#[derive(Debug)]
struct Query {
    aws: AwsProps,
    catalog: Option<String>,
    database: String,
    output: String,
    query: String,
    kind: FetchType,
    skip_header: bool,
}

fn required(prop: &str, v: Option<String>) -> Result<String, TaskError> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).ok_or_else(|| TaskError::property(prop, "is required"))
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.aws.check()?;
    let kind = match p.fetch_type.as_deref() {
        None => FetchType::Store,
        Some(s) => FetchType::parse(s).map_err(|e| TaskError::property("fetchType", e))?,
    };
    Ok(Box::new(Query {
        catalog: p.catalog.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
        database: required("database", p.database)?,
        output: required("outputLocation", p.output_location)?,
        query: required("query", p.query)?,
        kind,
        skip_header: p.skip_header.unwrap_or(true),
        aws: p.aws,
    }))
}

/// A started query, stopped when dropped before it ended (a killed or
/// timed-out task).
struct Running {
    client: aws_sdk_athena::Client,
    id: String,
    ended: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (client, id) = (self.client.clone(), self.id.clone());
            rt.spawn(async move {
                if let Err(e) = client.stop_query_execution().query_execution_id(&id).send().await {
                    tracing::warn!(query_execution_id = %id, error = %e, "athena: the query could not be stopped");
                }
            });
        }
    }
}

/// One cell as its column's type reads it.
fn cell(column: &ColumnInfo, text: Option<&str>) -> Result<Value, String> {
    let Some(text) = text else { return Ok(Value::Null) };
    let bad = |e: &dyn std::fmt::Display| format!("column '{}' ({}): '{text}' {e}", column.name(), column.r#type());
    Ok(match column.r#type() {
        "boolean" => Value::Bool(text.eq_ignore_ascii_case("true")),
        "tinyint" | "smallint" | "int" | "integer" | "bigint" => {
            Value::from(text.trim().parse::<i64>().map_err(|e| bad(&e))?)
        }
        "double" | "float" | "real" => {
            let f = text.trim().parse::<f64>().map_err(|e| bad(&e))?;
            serde_json::Number::from_f64(f).map_or_else(|| Value::String(text.to_string()), Value::Number)
        }
        "decimal" => decimal_value(text.trim()),
        "date" => {
            let d = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|e| bad(&e))?;
            Value::String(d.format("%Y-%m-%d").to_string())
        }
        "timestamp" => {
            let t = chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f").map_err(|e| bad(&e))?;
            Value::String(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
        }
        _ => Value::String(text.to_string()),
    })
}

/// A row as a map of its columns; `None` for a row without data.
fn row(columns: &[ColumnInfo], r: &Row) -> Result<Option<Map<String, Value>>, TaskError> {
    if r.data().is_empty() {
        return Ok(None);
    }
    let mut out = Map::new();
    for (i, column) in columns.iter().enumerate() {
        let text = r.data().get(i).and_then(|d| d.var_char_value());
        out.insert(column.name().to_string(), cell(column, text).map_err(TaskError::failed)?);
    }
    Ok(Some(out))
}

impl Query {
    /// Waits for the query to end; its statistics as Kestra's metrics.
    async fn wait(&self, cx: &RunContext, run: &mut Running) -> Result<(), TaskError> {
        loop {
            let got = run
                .client
                .get_query_execution()
                .query_execution_id(&run.id)
                .send()
                .await
                .map_err(|e| sdk_error("Athena", &format!("cannot follow query {}", run.id), e))?;
            let execution = got.query_execution();
            let status = execution.and_then(|e| e.status());
            let state = status.and_then(|s| s.state());
            run.ended = !matches!(state, Some(QueryExecutionState::Queued | QueryExecutionState::Running));
            match state {
                Some(QueryExecutionState::Succeeded) => {
                    if let Some(s) = execution.and_then(|e| e.statistics()) {
                        let metrics = [
                            ("data.scanned.bytes", s.data_scanned_in_bytes()),
                            ("engine.execution.duration", s.engine_execution_time_in_millis()),
                            ("query.planning.duration", s.query_planning_time_in_millis()),
                            ("query.queue.duration", s.query_queue_time_in_millis()),
                            ("service.processing.duration", s.service_processing_time_in_millis()),
                            ("total.execution.duration", s.total_execution_time_in_millis()),
                        ];
                        for (name, v) in metrics {
                            if let Some(v) = v {
                                cx.counter(name, v as f64, &[]);
                            }
                        }
                    }
                    return Ok(());
                }
                Some(QueryExecutionState::Failed) => {
                    let why = status.and_then(|s| s.state_change_reason()).unwrap_or("no reason given");
                    return Err(TaskError::failed(format!(
                        "Amazon Athena query failed to run with error message: {why}"
                    )));
                }
                Some(QueryExecutionState::Cancelled) => {
                    return Err(TaskError::failed("Amazon Athena query was cancelled."));
                }
                Some(QueryExecutionState::Queued | QueryExecutionState::Running) => {}
                other => {
                    return Err(TaskError::failed(format!(
                        "Amazon Athena query {} is in a state Baton does not know: {other:?}",
                        run.id
                    )));
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Reads the result's pages into `w`.
    async fn read(&self, run: &Running, w: &mut ResultWriter) -> Result<u64, TaskError> {
        let bound = if self.kind == FetchType::Fetch { MAX_FETCH_ROWS } else { MAX_STORE_ROWS };
        let (mut token, mut first, mut read) = (None::<String>, true, 0u64);
        loop {
            let page = run
                .client
                .get_query_results()
                .query_execution_id(&run.id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| sdk_error("Athena", &format!("cannot read the result of query {}", run.id), e))?;
            let Some(set) = page.result_set() else { break };
            let columns = set.result_set_metadata().map(|m| m.column_info()).unwrap_or_default();
            // the header is the first page's first row
            let skip = usize::from(first && self.skip_header);
            first = false;
            for r in set.rows().iter().skip(skip) {
                let Some(r) = row(columns, r)? else { continue };
                if !w.wants_more() {
                    return Ok(read);
                }
                read += 1;
                if read > bound {
                    return Err(TaskError::failed(format!(
                        "query {} returned more than {bound} rows, the most fetchType {} takes{}",
                        run.id,
                        self.kind.as_str(),
                        if self.kind == FetchType::Fetch { ": use STORE" } else { "" }
                    )));
                }
                w.push(r).await?;
            }
            match page.next_token() {
                Some(t) if w.wants_more() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(read)
    }
}

#[async_trait]
impl RunnableTask for Query {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.aws.athena().await?;
        let context =
            QueryExecutionContext::builder().set_catalog(self.catalog.clone()).database(&self.database).build();
        let started = client
            .start_query_execution()
            .query_string(&self.query)
            .query_execution_context(context)
            .result_configuration(ResultConfiguration::builder().output_location(&self.output).build())
            .send()
            .await
            .map_err(|e| sdk_error("Athena", &format!("cannot start the query in {}", self.database), e))?;
        let id = started.query_execution_id().unwrap_or_default().to_string();
        cx.info(&format!("Query created with Athena execution identifier {id}"));
        let mut out = Map::new();
        if self.kind == FetchType::None {
            out.insert("queryExecutionId".into(), Value::String(id));
            return Ok(TaskOutput::with(out));
        }
        let mut run = Running { client, id, ended: false };
        self.wait(cx, &mut run).await?;
        let mut w = ResultWriter::new(cx, self.kind, "result.ion");
        let read = self.read(&run, &mut w).await?;
        cx.counter("total.rows", read as f64, &[]);
        let out = w.finish().await?;
        let size = out.get("size").and_then(Value::as_u64).unwrap_or(0);
        cx.counter("fetch.rows", size as f64, &[]);
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn column(name: &str, ty: &str) -> ColumnInfo {
        ColumnInfo::builder().name(name).r#type(ty).build().expect("column")
    }

    #[test]
    fn cells_are_typed_as_their_columns_say() {
        let read = |ty: &str, text: Option<&str>| cell(&column("c", ty), text);
        assert_eq!(read("boolean", Some("true")), Ok(json!(true)));
        assert_eq!(read("bigint", Some("9007199254740993")), Ok(json!(9007199254740993_i64)));
        assert_eq!(read("double", Some("1.5")), Ok(json!(1.5)));
        assert_eq!(read("decimal", Some("12.50")), Ok(json!(12.5)));
        assert_eq!(read("decimal", Some("99999999999999999999.99")), Ok(json!("99999999999999999999.99")));
        assert_eq!(read("date", Some("2024-02-29")), Ok(json!("2024-02-29")));
        assert_eq!(read("timestamp", Some("2024-02-29 10:11:12.123")), Ok(json!("2024-02-29T10:11:12.123")));
        assert_eq!(read("varchar", Some("x")), Ok(json!("x")));
        assert_eq!(read("integer", None), Ok(Value::Null), "NULL");
        let e = read("integer", Some("ten")).unwrap_err();
        assert!(e.contains("column 'c' (integer): 'ten'"), "{e}");
    }

    #[test]
    fn the_query_s_properties_are_checked() {
        let built = |v: Value| build(v.as_object().expect("map")).map(|_| ()).map_err(|e| e.to_string());
        let ok = json!({"database": "d", "outputLocation": "s3://b/p", "query": "select 1"});
        assert!(built(ok.clone()).is_ok());
        let mut bad = ok.clone();
        bad["fetchType"] = json!("ALL");
        assert!(built(bad).unwrap_err().contains("fetchType"));
        assert!(built(json!({"database": "d", "query": "q"})).unwrap_err().contains("outputLocation"));
    }
}
