//! `io.kestra.plugin.jdbc.postgresql.CopyIn` (a `kestra://` file streamed
//! from internal storage into `COPY … FROM STDIN`; output `rowCount`) and
//! `CopyOut` (`COPY (sql) | table TO STDOUT` streamed into internal storage;
//! outputs `uri`, `rowCount`). The COPY statement is built as Kestra's
//! `AbstractCopy.query` builds it: `COPY table (cols) FROM STDIN WITH (…)`.

use std::sync::LazyLock;
use std::time::Instant;

use async_trait::async_trait;
use baton_model::decl::DeclaredProps;
use futures::{SinkExt, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio_util::io::{ReaderStream, StreamReader};

use super::connect::{Conn, ConnProps};
use super::errors::sql_error;
use crate::jdbc::split::one_line;
use crate::registry::{PluginDef, PropDecl};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::{ByteStream, storage_path};

/// Read from storage / sent to the server in chunks of this size.
const CHUNK: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Csv,
    Binary,
}

impl Format {
    fn parse(s: &str) -> Result<Format, TaskError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "TEXT" => Ok(Format::Text),
            "CSV" => Ok(Format::Csv),
            "BINARY" => Ok(Format::Binary),
            _ => Err(TaskError::property("format", format!("'{s}' is not a COPY format: use TEXT, CSV or BINARY"))),
        }
    }
}

/// The COPY options both directions share.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct CopyProps {
    /// The table to copy into or from.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    table: Option<String>,
    /// The columns copied.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    columns: Vec<String>,
    /// The COPY format.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["TEXT", "CSV", "BINARY"], default = "\"TEXT\"")]
    format: Option<String>,
    /// Copy the OID of each row (old servers).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    oids: Option<bool>,
    /// COPY FREEZE.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    freeze: Option<bool>,
    /// The column delimiter.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    delimiter: Option<String>,
    /// The text of a NULL.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    null_string: Option<String>,
    /// The file has (or gets) a header line.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    header: Option<bool>,
    /// The quote character (CSV).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    quote: Option<String>,
    /// The escape character (CSV).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    escape: Option<String>,
    /// Columns always quoted (CSV out).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    force_quote: Vec<String>,
    /// Columns never read as NULL (CSV in).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    force_not_null: Vec<String>,
    /// Columns whose quoted empty value is NULL (CSV in).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    force_null: Vec<String>,
    /// The file's encoding.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    encoding: Option<String>,
    /// Socket timeout in seconds.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[allow(dead_code)]
    socket_timeout: Option<u64>,
}

/// `CopyIn`'s own property.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct FromProps {
    /// The file to copy in (kestra:// URI).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(required)]
    from: Option<String>,
}

/// `CopyOut`'s own property.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct SqlProps {
    /// The SQL to run.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    sql: Option<String>,
}

/// The properties of `CopyIn`: the connection's, `from` and the COPY
/// options, each parsed apart (so that an error names its property).
pub struct CopyInProps;

impl DeclaredProps for CopyInProps {
    fn props() -> Vec<PropDecl> {
        [ConnProps::props(), FromProps::props(), CopyProps::props()].concat()
    }
}

/// The properties of `CopyOut`: the connection's, `sql` and the COPY
/// options, each parsed apart.
pub struct CopyOutProps;

impl DeclaredProps for CopyOutProps {
    fn props() -> Vec<PropDecl> {
        [ConnProps::props(), SqlProps::props(), CopyProps::props()].concat()
    }
}

/// `'text'` as an SQL literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A one-character option; `\t`, `\n`… written as escapes are accepted.
fn one_char(name: &str, s: &str) -> Result<String, TaskError> {
    let c = match s {
        "\\t" => "\t".to_string(),
        "\\n" => "\n".to_string(),
        "\\r" => "\r".to_string(),
        "\\\\" => "\\".to_string(),
        other => other.to_string(),
    };
    if c.len() != 1 {
        return Err(TaskError::property(name, format!("'{s}' must be a single one-byte character")));
    }
    Ok(c)
}

/// Builds `COPY target dest WITH (…)` and returns it with the format.
fn copy_sql(p: &CopyProps, query: Option<&str>, dest: &str) -> Result<(String, Format), TaskError> {
    let mut sql = vec!["COPY".to_string()];
    match query {
        Some(q) => sql.push(format!("({})", q.trim().trim_end_matches(';'))),
        None => {
            let table = p.table.as_deref().map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
                TaskError::property("table", "a table is required (the name, optionally schema-qualified)")
            })?;
            sql.push(table.to_string());
            if !p.columns.is_empty() {
                sql.push(format!("({})", p.columns.join(", ")));
            }
        }
    }
    sql.push(dest.to_string());
    let format = Format::parse(p.format.as_deref().unwrap_or("TEXT"))?;
    let mut options = Vec::new();
    match format {
        Format::Text => {}
        Format::Csv => options.push("FORMAT CSV".to_string()),
        Format::Binary => options.push("FORMAT BINARY".to_string()),
    }
    if p.oids == Some(true) {
        options.push("OIDS".into());
    }
    if p.freeze == Some(true) {
        options.push("FREEZE".into());
    }
    if let Some(d) = &p.delimiter {
        options.push(format!("DELIMITER {}", literal(&one_char("delimiter", d)?)));
    }
    if let Some(n) = &p.null_string {
        options.push(format!("NULL {}", literal(n)));
    }
    if let Some(h) = p.header {
        options.push(format!("HEADER {}", if h { "TRUE" } else { "FALSE" }));
    }
    if let Some(q) = &p.quote {
        options.push(format!("QUOTE {}", literal(&one_char("quote", q)?)));
    }
    if let Some(e) = &p.escape {
        options.push(format!("ESCAPE {}", literal(&one_char("escape", e)?)));
    }
    if !p.force_quote.is_empty() {
        if p.force_quote.len() == 1 && p.force_quote[0] == "*" {
            options.push("FORCE_QUOTE *".into());
        } else {
            options.push(format!("FORCE_QUOTE ({})", p.force_quote.join(", ")));
        }
    }
    if !p.force_not_null.is_empty() {
        options.push(format!("FORCE_NOT_NULL ({})", p.force_not_null.join(", ")));
    }
    if !p.force_null.is_empty() {
        options.push(format!("FORCE_NULL ({})", p.force_null.join(", ")));
    }
    if let Some(e) = &p.encoding {
        options.push(format!("ENCODING {}", literal(e)));
    }
    if !options.is_empty() {
        sql.push(format!("WITH ({})", options.join(", ")));
    }
    Ok((sql.join(" "), format))
}

fn rate(rows: u64, bytes: u64, started: Instant) -> String {
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    format!("{rows} row(s), {:.1} MB in {secs:.2} s ({:.0} rows/s)", bytes as f64 / 1e6, rows as f64 / secs)
}

// ------------------------------------------------------------------ CopyIn ---

/// Load a file into a PostgreSQL table with COPY.
///
/// Streams a stored file into a table with COPY FROM STDIN.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.jdbc.postgresql.CopyIn",
    group = "jdbc",
    props = CopyInProps,
    example = "id: load\ntype: io.kestra.plugin.jdbc.postgresql.CopyIn\nurl: jdbc:postgresql://localhost:5432/postgres\nusername: postgres\npassword: \"{{ secret('PG_PASSWORD') }}\"\nfrom: \"{{ outputs.extract.uri }}\"\ntable: trips\nformat: CSV\nheader: true\n",
    outputs(
        rowCount(Integer, "The rows copied.")
    ),
)]
pub struct CopyIn {
    conn: Conn,
    from: String,
    table: String,
    sql: String,
}

fn build_copy_in(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CopyProps = parse_props(props)?;
    let from: FromProps = parse_props(props)?;
    let from = from
        .from
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| TaskError::property("from", "missing: the kestra:// URI of the file to load"))?;
    storage_path(from.trim()).map_err(|e| TaskError::property("from", e.to_string()))?;
    let (sql, _) = copy_sql(&p, None, "FROM STDIN")?;
    let table = p.table.clone().unwrap_or_default().trim().to_string();
    let conn: ConnProps = parse_props(props)?;
    Ok(Box::new(CopyIn { conn: conn.resolve()?, from: from.trim().to_string(), table, sql }))
}

#[async_trait]
impl RunnableTask for CopyIn {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let session = self.conn.connect(cx).await?;
        let span = baton_backend::io_span!(
            "postgresql.copy",
            otel.kind = "client",
            db.system = "postgresql",
            db.statement = %cx.mask_text(&one_line(&self.sql, 200)),
        );
        let result = tracing::Instrument::instrument(self.work(cx, &session), span).await;
        session.close();
        result
    }
}

impl CopyIn {
    async fn work(&self, cx: &RunContext, client: &tokio_postgres::Client) -> Result<TaskOutput, TaskError> {
        let path = cx.readable_path("from", &self.from)?;
        let reader = cx
            .services
            .storage
            .get(&path)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read {} from internal storage: {e}", self.from)))?;
        cx.info(&format!("{} (from {}, into {})", one_line(&self.sql, 200), self.from, self.conn.display()));
        let started = Instant::now();
        let file = self.from.rsplit('/').next().unwrap_or(&self.from);
        let fail = |e: tokio_postgres::Error| {
            TaskError::failed(format!(
                "COPY of {file} into {} failed: {}\n  file: {}",
                self.table,
                sql_error(&e, Some(&self.sql)),
                self.from
            ))
        };
        let sink = client.copy_in(&self.sql).await.map_err(fail)?;
        let mut sink = std::pin::pin!(sink);
        let mut bytes: u64 = 0;
        let mut read_error: Option<std::io::Error> = None;
        let mut chunks = ReaderStream::with_capacity(reader, CHUNK);
        let mut send_error = None;
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(b) => {
                    bytes += b.len() as u64;
                    if let Err(e) = sink.send(b).await {
                        send_error = Some(e);
                        break;
                    }
                }
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = read_error {
            // dropping the sink aborts the COPY (CopyFail)
            return Err(TaskError::failed(format!("cannot read {} from internal storage: {e}", self.from)));
        }
        if let Some(e) = send_error {
            return Err(fail(e));
        }
        let rows = sink.as_mut().finish().await.map_err(fail)?;
        cx.info(&format!("Copied {}", rate(rows, bytes, started)));
        let mut out = Map::new();
        out.insert("rowCount".into(), Value::from(rows));
        Ok(TaskOutput::with(out))
    }
}

// ----------------------------------------------------------------- CopyOut ---

/// Export a PostgreSQL table or query with COPY.
///
/// Streams COPY TO STDOUT into a stored file.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.jdbc.postgresql.CopyOut",
    group = "jdbc",
    props = CopyOutProps,
    example = "id: export\ntype: io.kestra.plugin.jdbc.postgresql.CopyOut\nurl: jdbc:postgresql://localhost:5432/postgres\nusername: postgres\npassword: \"{{ secret('PG_PASSWORD') }}\"\nsql: SELECT * FROM trips\nformat: CSV\nheader: true\n",
    outputs(
        uri(String, "The exported file."),
        rowCount(Integer, "The rows copied.")
    ),
)]
pub struct CopyOut {
    conn: Conn,
    sql: String,
    format: Format,
    header: bool,
}

fn build_copy_out(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CopyProps = parse_props(props)?;
    let q: SqlProps = parse_props(props)?;
    let query = q.sql.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if query.is_none() && p.table.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return Err(TaskError::property("sql", "set `sql` (a query) or `table` to copy out"));
    }
    let (sql, format) = copy_sql(&p, query, "TO STDOUT")?;
    let conn: ConnProps = parse_props(props)?;
    Ok(Box::new(CopyOut { conn: conn.resolve()?, sql, format, header: p.header == Some(true) }))
}

#[async_trait]
impl RunnableTask for CopyOut {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let session = self.conn.connect(cx).await?;
        let span = baton_backend::io_span!(
            "postgresql.copy",
            otel.kind = "client",
            db.system = "postgresql",
            db.statement = %cx.mask_text(&one_line(&self.sql, 200)),
        );
        let result = tracing::Instrument::instrument(self.work(cx, &session), span).await;
        session.close();
        result
    }
}

impl CopyOut {
    async fn work(&self, cx: &RunContext, client: &tokio_postgres::Client) -> Result<TaskOutput, TaskError> {
        cx.info(&format!("{} (from {})", one_line(&self.sql, 200), self.conn.display()));
        let started = Instant::now();
        let stream = client.copy_out(&self.sql).await.map_err(|e| TaskError::failed(sql_error(&e, Some(&self.sql))))?;
        // The server sends one CopyData message per row (plus the CSV
        // header line, or the binary trailer): count them as they pass.
        let messages = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = messages.clone();
        let sql = self.sql.clone();
        let bytes = stream
            .inspect_ok(move |_| {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            })
            .map_err(move |e| std::io::Error::other(sql_error(&e, Some(&sql))));
        let reader: ByteStream = Box::pin(StreamReader::new(Box::pin(bytes)));
        let name = match self.format {
            Format::Csv => "result.csv",
            Format::Text => "result.txt",
            Format::Binary => "result.bin",
        };
        let (uri, size) = cx.put_file(name, reader).await?;
        let n = messages.load(std::sync::atomic::Ordering::Relaxed);
        let extra = match self.format {
            Format::Csv if self.header => 1,
            Format::Binary => 1,
            _ => 0,
        };
        let rows = n.saturating_sub(extra);
        cx.info(&format!("Copied {} to {uri}", rate(rows, size, started)));
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(uri));
        out.insert("rowCount".into(), Value::from(rows));
        Ok(TaskOutput::with(out))
    }
}

pub static COPY_IN: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<CopyIn>(build_copy_in));

pub static COPY_OUT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<CopyOut>(build_copy_out));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn props(v: Value) -> CopyProps {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn builds_copy_statements_like_kestra() {
        let p = props(json!({
            "url": "jdbc:postgresql://h/db", "format": "CSV", "table": "public.green_tripdata_staging",
            "header": true, "columns": ["VendorID", "lpep_pickup_datetime"], "delimiter": "\\t",
            "nullString": "", "quote": "'", "forceNotNull": ["VendorID"]
        }));
        let (sql, f) = copy_sql(&p, None, "FROM STDIN").unwrap();
        assert_eq!(f, Format::Csv);
        assert_eq!(
            sql,
            "COPY public.green_tripdata_staging (VendorID, lpep_pickup_datetime) FROM STDIN \
             WITH (FORMAT CSV, DELIMITER '\t', NULL '', HEADER TRUE, QUOTE '''', FORCE_NOT_NULL (VendorID))"
        );
        let p = props(json!({"url": "jdbc:postgresql://h/db", "sql": "SELECT 1;"}));
        let q: SqlProps = serde_json::from_value(json!({"url": "jdbc:postgresql://h/db", "sql": "SELECT 1;"})).unwrap();
        assert_eq!(copy_sql(&p, q.sql.as_deref(), "TO STDOUT").unwrap().0, "COPY (SELECT 1) TO STDOUT");
        let p = props(json!({"url": "jdbc:postgresql://h/db", "format": "parquet", "table": "t"}));
        assert!(copy_sql(&p, None, "FROM STDIN").unwrap_err().to_string().contains("TEXT, CSV or BINARY"));
        let p = props(json!({"url": "jdbc:postgresql://h/db", "table": "t", "delimiter": ";;"}));
        assert!(copy_sql(&p, None, "FROM STDIN").unwrap_err().to_string().contains("delimiter"));
    }
}
