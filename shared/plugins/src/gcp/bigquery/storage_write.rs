//! `io.kestra.plugin.gcp.bigquery.StorageWrite` (plugin-gcp
//! `StorageWrite.java`): the records of a `kestra://` Ion file (`from`,
//! each a map) written to an existing table (`destinationTable`,
//! `project.dataset.table`) with the BigQuery Storage Write API. As Kestra:
//! `writeStreamType` DEFAULT appends to the table's default stream,
//! COMMITTED and PENDING to a stream created for the task; records go in
//! appends of `bufferSize`, at most 20 unanswered; an append's error fails
//! the task ("Failed to append records with error: …"); PENDING then
//! finalizes the stream (`rowsCount`) and commits it (`commitTime`; no
//! commit time fails with the stream errors). Outputs `rows`; metrics
//! `rows` and `rows_count` (PENDING), tagged `write_stream_type`,
//! `project_id`, `dataset`. The row type comes from the table's schema
//! ([`super::storage_rows`]); the wire is [`super::storage_grpc`]. An
//! append also closes at 9 MB, under the API's 10 MB per request.

use std::sync::LazyLock;

use async_trait::async_trait;
use gcp_bigquery_client::google::cloud::bigquery::storage::v1::{ProtoSchema, write_stream};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::storage_grpc::WriteApi;
use super::storage_rows::RowSchema;
use super::table_ref::TableRef;
use crate::core::ion_file::IonFile;
use crate::gcp::common::{GcpProps, auth_error, bq_error, one_of};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The longest line (one record) read from `from`: a row is at most 10 MB.
pub const MAX_LINE_BYTES: u64 = 10 * 1024 * 1024;
/// An append's rows, at most this many bytes (the API takes 10 MB a request).
const MAX_APPEND_BYTES: usize = 9 * 1024 * 1024;
const KINDS: [&str; 3] = ["DEFAULT", "COMMITTED", "PENDING"];

fn kind_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => {
            one_of("writeStreamType", &Some(s.to_string()), &KINDS).map(|_| ()).map_err(|e| e.to_string())
        }
        _ => Ok(()),
    }
}

fn buffer_ok(v: &Value) -> Result<(), String> {
    match v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())) {
        Some(0) => Err("must be at least 1".into()),
        _ => Ok(()),
    }
}

/// Stream a file to BigQuery via the Storage Write API.
///
/// Writes the records of an Ion file of internal storage (each a map) to an existing table with the BigQuery Storage Write API: to its default stream, or to a COMMITTED or PENDING stream (committed at the end).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.StorageWrite",
    group = "gcp",
    example = "id: storage_write\ntype: io.kestra.plugin.gcp.bigquery.StorageWrite\nfrom: \"{{ outputs.read_data.uri }}\"\ndestinationTable: my-project.my_dataset.my_table\nwriteStreamType: DEFAULT\n",
    outputs(
        rows(Integer, "The records written."),
        rowsCount(Integer, "The rows BigQuery counted in the stream (PENDING only)."),
        commitTime(String, "When BigQuery committed the stream (PENDING only).")
    )
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The kestra:// Ion file of records (one map a line).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The table written, project.dataset.table; it must exist.
    #[serde(deserialize_with = "de::string_lenient")]
    destination_table: String,
    /// The write stream: the table's default stream, or a COMMITTED or PENDING stream (its rows appear at the commit, when all are written).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["DEFAULT", "COMMITTED", "PENDING"], default = "\"DEFAULT\"", check = kind_ok)]
    write_stream_type: Option<String>,
    /// The records sent in each append.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "1000", check = buffer_ok)]
    buffer_size: Option<u64>,
    /// The BigQuery location of the client (Kestra hands it to the client that reads the table; the write does not use it).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[allow(dead_code)]
    // Kestra's only use is its client's default location, which tables.get and the write ignore
    location: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Default,
    Committed,
    Pending,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Default => "DEFAULT",
            Kind::Committed => "COMMITTED",
            Kind::Pending => "PENDING",
        }
    }
}

struct StorageWrite {
    p: Props,
    kind: Kind,
    buffer: usize,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let kind = match one_of("writeStreamType", &p.write_stream_type, &KINDS)?.as_deref() {
        Some("COMMITTED") => Kind::Committed,
        Some("PENDING") => Kind::Pending,
        _ => Kind::Default,
    };
    let buffer = p.buffer_size.unwrap_or(1000);
    if buffer == 0 {
        return Err(TaskError::property("bufferSize", "must be at least 1"));
    }
    let buffer = usize::try_from(buffer).unwrap_or(usize::MAX);
    // Kestra refuses a table name without its project ("Invalid destinationTable").
    TableRef::parse("destinationTable", &p.destination_table, None)?;
    Ok(Box::new(StorageWrite { p, kind, buffer }))
}

/// A value's JSON type, for the "not a map" error.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn append_failed(e: String) -> TaskError {
    TaskError::failed(format!("Failed to append records with error: {e}"))
}

#[async_trait]
impl RunnableTask for StorageWrite {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.gcp.resolve(cx)?;
        let table = TableRef::parse("destinationTable", &self.p.destination_table, None)?;
        let bq = r.bigquery(cx).await?;
        let found = bq.get_table(&table.project, &table.dataset, &table.table).await.map_err(bq_error)?;
        let found = found.ok_or_else(|| TaskError::failed(format!("No table '{table}' exists")))?;
        let schema =
            RowSchema::from_table(&found["schema"]).map_err(|e| TaskError::failed(format!("table {table}: {e}")))?;

        let cfg = &cx.services.config.gcp;
        let emulator = cfg.endpoints.bigquery_storage_emulator.as_deref();
        if emulator.is_none() && cfg.endpoints.bigquery_emulator {
            return Err(TaskError::failed(
                "BIGQUERY_EMULATOR_HOST names an emulator and BIGQUERY_STORAGE_EMULATOR_HOST does not: \
                 set it to the emulator's gRPC host:port for the Storage Write API",
            ));
        }
        let creds = cfg
            .cache
            .credentials(&r.spec, emulator.is_some(), &cfg.endpoints, &cx.services.http)
            .map_err(auth_error)?;
        let token = creds.bearer().await.map_err(auth_error)?;
        let api = WriteApi::connect(emulator, token, r.project.clone()).await.map_err(TaskError::failed)?;

        let parent = format!("projects/{}/datasets/{}/tables/{}", table.project, table.dataset, table.table);
        let stream = match self.kind {
            Kind::Default => Ok(format!("{parent}/streams/_default")),
            Kind::Committed => api.create_stream(&parent, write_stream::Type::Committed).await,
            Kind::Pending => api.create_stream(&parent, write_stream::Type::Pending).await,
        }
        .map_err(TaskError::failed)?;
        cx.info(&format!("Writing {} to {table} ({} stream)", self.p.from.trim(), self.kind.name()));

        let rows = self.append(cx, &api, &stream, &schema).await?;
        let mut out = Map::new();
        out.insert("rows".into(), Value::from(rows));
        let tags = [
            ("write_stream_type", self.kind.name()),
            ("project_id", table.project.as_str()),
            ("dataset", table.dataset.as_str()),
        ];
        if self.kind == Kind::Pending {
            let count = api.finalize(&stream).await.map_err(TaskError::failed)?;
            out.insert("rowsCount".into(), Value::from(count));
            match api.commit(&parent, &stream).await.map_err(TaskError::failed)? {
                Ok(seconds) => {
                    let at = chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default();
                    out.insert("commitTime".into(), Value::from(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
                }
                Err(errors) => {
                    return Err(TaskError::failed(format!("Error on commit with error: {}", errors.join("\n- "))));
                }
            }
            cx.counter("rows", rows as f64, &tags);
            cx.counter("rows_count", count as f64, &tags);
        } else {
            cx.counter("rows", rows as f64, &tags);
        }
        cx.info(&format!("Wrote {rows} rows to {table}"));
        Ok(TaskOutput::with(out))
    }
}

impl StorageWrite {
    /// Reads `from` and appends its records; the records written.
    async fn append(
        &self,
        cx: &RunContext,
        api: &WriteApi,
        stream: &str,
        schema: &RowSchema,
    ) -> Result<u64, TaskError> {
        let mut file = IonFile::open(cx, "from", self.p.from.trim(), MAX_LINE_BYTES).await?;
        let mut appender = api.appender(stream, ProtoSchema { proto_descriptor: Some(schema.descriptor()) });
        let (mut batch, mut bytes, mut rows) = (Vec::new(), 0usize, 0u64);
        while let Some(v) = file.next().await? {
            let Value::Object(record) = v else {
                return Err(file.error(&format!("is not a map: Unable to map with type '{}'", type_name(&v))));
            };
            let row = schema.encode(&record).map_err(|e| file.error(&format!("cannot be written: {e}")))?;
            if !batch.is_empty() && bytes + row.len() > MAX_APPEND_BYTES {
                appender.send(std::mem::take(&mut batch)).await.map_err(append_failed)?;
                bytes = 0;
            }
            bytes += row.len();
            batch.push(row);
            rows += 1;
            if batch.len() >= self.buffer {
                appender.send(std::mem::take(&mut batch)).await.map_err(append_failed)?;
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            appender.send(batch).await.map_err(append_failed)?;
        }
        appender.finish().await.map_err(append_failed)?;
        if rows == 0 {
            // Kestra's sum of an empty file is null, and its `rows` metric fails on it.
            return Err(TaskError::failed(format!(
                "{} holds no records: Kestra's StorageWrite fails on an empty file",
                self.p.from.trim()
            )));
        }
        Ok(rows)
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn built(v: Value) -> Result<Box<dyn RunnableTask>, TaskError> {
        build(v.as_object().unwrap())
    }

    #[test]
    fn build_checks_kestra_s_properties() {
        let ok = json!({"from": "kestra://x.ion", "destinationTable": "p.d.t", "writeStreamType": "pending"});
        assert!(built(ok).is_ok());
        let e = built(json!({"from": "kestra://x.ion", "destinationTable": "d.t"})).err().unwrap().to_string();
        assert!(e.contains("names no project"), "{e}");
        let e = built(json!({"from": "kestra://x", "destinationTable": "p.d.t", "writeStreamType": "BUFFERED"}))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("'BUFFERED' is not one of DEFAULT, COMMITTED, PENDING"), "{e}");
        let e = built(json!({"from": "kestra://x", "destinationTable": "p.d.t", "bufferSize": 0})).err().unwrap();
        assert!(e.to_string().contains("bufferSize"), "{e}");
        assert!(kind_ok(&json!("{{ vars.kind }}")).is_ok());
        assert!(buffer_ok(&json!("0")).is_err());
    }
}
