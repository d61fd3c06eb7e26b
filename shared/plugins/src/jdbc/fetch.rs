//! SQL result handling shared by every JDBC-style engine (PostgreSQL,
//! DuckDB…): Kestra's `fetchType` (with the legacy `fetch`/`fetchOne`/`store`
//! booleans), the row representation, and the writer that turns rows into
//! Kestra's outputs — `row` (FETCH_ONE), `rows` + `size` (FETCH), `uri` +
//! `size` (STORE: one Ion value per line, streamed to internal storage), or
//! nothing (NONE). Engine-agnostic: engines push rows, this module decides.

use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

use crate::{Declare, RunContext, TaskError, de};
use baton_backend::BackendError;

/// One result row: column label → value, in the order of the result's columns.
pub type Row = Map<String, Value>;

/// Kestra's `FetchType`: what a query does with its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FetchType {
    /// Nothing is read (the default).
    #[default]
    None,
    /// The first row as output `row`.
    FetchOne,
    /// Every row as output `rows`, with `size`.
    Fetch,
    /// Every row to an Ion file in internal storage: outputs `uri`, `size`.
    Store,
}

impl FetchType {
    /// Parses `NONE`, `FETCH_ONE`, `FETCH`, `STORE` (any case, `-` for `_`).
    pub fn parse(s: &str) -> Result<FetchType, String> {
        match s.trim().to_ascii_uppercase().replace('-', "_").as_str() {
            "NONE" => Ok(FetchType::None),
            "FETCH_ONE" | "FETCHONE" => Ok(FetchType::FetchOne),
            "FETCH" => Ok(FetchType::Fetch),
            "STORE" => Ok(FetchType::Store),
            _ => Err(format!("'{s}' is not a fetch type: use one of NONE, FETCH_ONE, FETCH, STORE")),
        }
    }

    /// Kestra's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchType::None => "NONE",
            FetchType::FetchOne => "FETCH_ONE",
            FetchType::Fetch => "FETCH",
            FetchType::Store => "STORE",
        }
    }
}

/// A written `fetchType`, checked at validation (a template is read when
/// rendered).
pub fn fetch_type_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if baton_model::expr::is_template(s) => Ok(()),
        Some(s) => FetchType::parse(s).map(|_| ()),
        None => Err(format!("expected STORE, FETCH, FETCH_ONE or NONE, found {v}")),
    }
}

impl<'de> Deserialize<'de> for FetchType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::String(s) => FetchType::parse(s).map_err(serde::de::Error::custom),
            other => {
                Err(serde::de::Error::custom(format!("expected one of NONE, FETCH_ONE, FETCH, STORE, found {other}")))
            }
        }
    }
}

fn opt_fetch_type<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<FetchType>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => FetchType::parse(s).map(Some).map_err(serde::de::Error::custom),
        other => Err(serde::de::Error::custom(format!("expected one of NONE, FETCH_ONE, FETCH, STORE, found {other}"))),
    }
}

/// The fetch properties of a query task. Parse it with `parse_props` on the
/// task's properties, apart from the rest (`#[serde(flatten)]` would lose the
/// property's name in errors), and add its declared properties to the
/// task's (`DeclaredProps::props`).
#[derive(Debug, Clone, Default, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct FetchProps {
    /// What to do with the result rows.
    #[serde(default, deserialize_with = "opt_fetch_type")]
    #[prop(kind = "String", values = ["STORE", "FETCH", "FETCH_ONE", "NONE"], default = "\"NONE\"")]
    pub fetch_type: Option<FetchType>,
    /// Legacy: fetchType FETCH.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    pub fetch: Option<bool>,
    /// Legacy: fetchType FETCH_ONE.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    pub fetch_one: Option<bool>,
    /// Legacy: fetchType STORE.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    pub store: Option<bool>,
}

impl FetchProps {
    /// The effective fetch type, as Kestra resolves it: `fetch`, then
    /// `fetchOne`, then `store`, then `fetchType` (default NONE).
    pub fn resolve(&self) -> FetchType {
        if self.fetch == Some(true) {
            FetchType::Fetch
        } else if self.fetch_one == Some(true) {
            FetchType::FetchOne
        } else if self.store == Some(true) {
            FetchType::Store
        } else {
            self.fetch_type.unwrap_or_default()
        }
    }
}

/// Appends `row` as one line of Ion text (a JSON object is a valid Ion
/// struct) to `out`.
pub fn write_ion_line(row: &Row, out: &mut Vec<u8>) -> Result<(), TaskError> {
    crate::core::ion_text::write_line(row, out)
        .map_err(|e| TaskError::failed(format!("cannot serialize a result row: {e}")))
}

/// Flush to storage once this many bytes are buffered.
const CHUNK: usize = 64 * 1024;

/// A file being streamed into internal storage under a task's prefix
/// (an Ion file here; any bytes for the storage tasks).
pub(crate) struct StoreSink {
    writer: tokio::io::DuplexStream,
    buf: Vec<u8>,
    put: JoinHandle<Result<u64, BackendError>>,
    uri: String,
}

impl StoreSink {
    pub(crate) fn open(cx: &RunContext, file_name: &str) -> StoreSink {
        let path = format!("{}/{}", cx.task_prefix(), file_name);
        let (writer, reader) = tokio::io::duplex(CHUNK);
        let storage = cx.services.storage.clone();
        let put_path = path.clone();
        let put = tokio::spawn(async move { storage.put(&put_path, Box::pin(reader)).await });
        StoreSink { writer, buf: Vec::with_capacity(CHUNK * 2), put, uri: format!("kestra://{path}") }
    }

    async fn flush(&mut self) -> Result<(), TaskError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.writer.write_all(&self.buf).await.is_err() {
            // The storage side stopped reading: its error says why.
            return Err(self.failure().await);
        }
        self.buf.clear();
        Ok(())
    }

    async fn failure(&mut self) -> TaskError {
        match (&mut self.put).await {
            Ok(Err(e)) => TaskError::failed(format!("cannot write {} to internal storage: {e}", self.uri)),
            Ok(Ok(_)) => TaskError::failed(format!("internal storage closed {} early", self.uri)),
            Err(e) => TaskError::failed(format!("writing {} to internal storage failed: {e}", self.uri)),
        }
    }

    /// Appends `bytes`, flushing once a chunk is buffered.
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<(), TaskError> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK { self.flush().await } else { Ok(()) }
    }

    /// Closes the file; its `kestra:///…` URI.
    pub(crate) async fn finish(mut self) -> Result<String, TaskError> {
        self.flush().await?;
        if self.writer.shutdown().await.is_err() {
            return Err(self.failure().await);
        }
        drop(self.writer);
        match self.put.await {
            Ok(Ok(_)) => Ok(self.uri),
            Ok(Err(e)) => Err(TaskError::failed(format!("cannot write {} to internal storage: {e}", self.uri))),
            Err(e) => Err(TaskError::failed(format!("writing {} to internal storage failed: {e}", self.uri))),
        }
    }
}

/// A decimal's JSON (PostgreSQL's `numeric`, Athena's `decimal`): an integer when it is one and fits, a number when it
/// has at most 15 significant digits, otherwise the exact string.
pub fn decimal_value(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    let significant = text.chars().filter(char::is_ascii_digit).collect::<String>();
    let significant = significant.trim_start_matches('0').trim_end_matches('0');
    if significant.len() <= 15
        && let Ok(f) = text.parse::<f64>()
        && f.is_finite()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

/// Turns a stream of rows into Kestra's query outputs. Create one per
/// statement, [`push`](Self::push) rows while [`wants_more`](Self::wants_more),
/// then [`finish`](Self::finish).
pub struct ResultWriter {
    kind: FetchType,
    size: u64,
    first: Option<Row>,
    rows: Vec<Value>,
    store: Option<StoreSink>,
}

impl ResultWriter {
    /// A writer for `kind`; with STORE, rows stream to `file_name` (e.g.
    /// `result.ion`) under the task's prefix in internal storage.
    pub fn new(cx: &RunContext, kind: FetchType, file_name: &str) -> ResultWriter {
        let store = (kind == FetchType::Store).then(|| StoreSink::open(cx, file_name));
        ResultWriter { kind, size: 0, first: None, rows: Vec::new(), store }
    }

    /// The fetch type this writer was made for.
    pub fn kind(&self) -> FetchType {
        self.kind
    }

    /// False once further rows would be ignored (NONE, or FETCH_ONE after
    /// its row): the engine may stop reading the result.
    pub fn wants_more(&self) -> bool {
        match self.kind {
            FetchType::None => false,
            FetchType::FetchOne => self.first.is_none(),
            FetchType::Fetch | FetchType::Store => true,
        }
    }

    /// Adds one row.
    pub async fn push(&mut self, row: Row) -> Result<(), TaskError> {
        match self.kind {
            FetchType::None => {}
            FetchType::FetchOne => {
                if self.first.is_none() {
                    self.first = Some(row);
                    self.size = 1;
                }
            }
            FetchType::Fetch => {
                self.rows.push(Value::Object(row));
                self.size += 1;
            }
            FetchType::Store => {
                if let Some(sink) = self.store.as_mut() {
                    write_ion_line(&row, &mut sink.buf)?;
                    self.size += 1;
                    if sink.buf.len() >= CHUNK {
                        sink.flush().await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The outputs: `row` + `size` (FETCH_ONE; `row` absent when there was
    /// no row), `rows` + `size` (FETCH), `uri` + `size` (STORE), none (NONE).
    pub async fn finish(self) -> Result<Map<String, Value>, TaskError> {
        let mut out = Map::new();
        match self.kind {
            FetchType::None => {}
            FetchType::FetchOne => {
                if let Some(row) = self.first {
                    out.insert("row".into(), Value::Object(row));
                }
                out.insert("size".into(), Value::from(self.size));
            }
            FetchType::Fetch => {
                out.insert("rows".into(), Value::Array(self.rows));
                out.insert("size".into(), Value::from(self.size));
            }
            FetchType::Store => {
                if let Some(sink) = self.store {
                    out.insert("uri".into(), Value::String(sink.finish().await?));
                }
                out.insert("size".into(), Value::from(self.size));
            }
        }
        Ok(out)
    }
}

/// Drains `rows` into a [`ResultWriter`] (stopping early when no more rows
/// are wanted) and returns the outputs.
pub async fn collect<S>(
    cx: &RunContext,
    kind: FetchType,
    file_name: &str,
    rows: S,
) -> Result<Map<String, Value>, TaskError>
where
    S: Stream<Item = Result<Row, TaskError>>,
{
    let mut w = ResultWriter::new(cx, kind, file_name);
    let mut rows = std::pin::pin!(rows);
    while w.wants_more() {
        match rows.next().await {
            Some(row) => w.push(row?).await?,
            None => break,
        }
    }
    w.finish().await
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::core::test_support::Env;
    use baton_backend::Storage;

    fn rows(n: usize) -> Vec<Result<Row, TaskError>> {
        (0..n)
            .map(|i| {
                let mut r = Row::new();
                r.insert("id".into(), json!(i));
                r.insert("name".into(), json!(format!("n\"{i}")));
                r.insert("amount".into(), Value::Null);
                Ok(r)
            })
            .collect()
    }

    #[test]
    fn resolves_like_kestra() {
        let p: FetchProps = serde_json::from_value(json!({"fetchType": "fetch_one"})).unwrap();
        assert_eq!(p.resolve(), FetchType::FetchOne);
        let p: FetchProps = serde_json::from_value(json!({"fetchType": "STORE", "fetch": "true"})).unwrap();
        assert_eq!(p.resolve(), FetchType::Fetch);
        let p: FetchProps = serde_json::from_value(json!({"store": true, "fetchOne": true})).unwrap();
        assert_eq!(p.resolve(), FetchType::FetchOne);
        let p: FetchProps = serde_json::from_value(json!({"store": true})).unwrap();
        assert_eq!(p.resolve(), FetchType::Store);
        let p: FetchProps = serde_json::from_value(json!({})).unwrap();
        assert_eq!(p.resolve(), FetchType::None);
        let e = serde_json::from_value::<FetchProps>(json!({"fetchType": "ALL"})).unwrap_err();
        assert!(e.to_string().contains("NONE, FETCH_ONE, FETCH, STORE"), "{e}");
    }

    #[tokio::test]
    async fn fetch_one_fetch_and_none() {
        let env = Env::new();
        let cx = env.cx(&json!({}));
        let out = collect(&cx, FetchType::FetchOne, "r.ion", futures::stream::iter(rows(3))).await.unwrap();
        assert_eq!(Value::Object(out), json!({"row": {"id": 0, "name": "n\"0", "amount": null}, "size": 1}));
        let out = collect(&cx, FetchType::FetchOne, "r.ion", futures::stream::iter(rows(0))).await.unwrap();
        assert_eq!(Value::Object(out), json!({"size": 0}));
        let out = collect(&cx, FetchType::Fetch, "r.ion", futures::stream::iter(rows(2))).await.unwrap();
        assert_eq!(out["size"], json!(2));
        assert_eq!(out["rows"][1]["id"], json!(1));
        let keys: Vec<&String> = out["rows"][1].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "name", "amount"]);
        let out = collect(&cx, FetchType::None, "r.ion", futures::stream::iter(rows(2))).await.unwrap();
        assert!(out.is_empty());
    }

    #[tokio::test]
    async fn store_streams_ion_lines() {
        let env = Env::new();
        let cx = env.cx(&json!({}));
        let n = 5000; // several chunks
        let out = collect(&cx, FetchType::Store, "result.ion", futures::stream::iter(rows(n))).await.unwrap();
        assert_eq!(out["size"], json!(n));
        let uri = out["uri"].as_str().unwrap();
        assert_eq!(uri, "kestra:///company/team/my-flow/executions/exec1/tasks/t1/tr1/result.ion");
        let mut text = String::new();
        env.storage.get(uri.trim_start_matches("kestra://")).await.unwrap().read_to_string(&mut text).await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), n);
        assert_eq!(lines[7], r#"{"id":7,"name":"n\"7","amount":null}"#);
    }

    #[tokio::test]
    async fn row_errors_stop_the_collection() {
        let env = Env::new();
        let cx = env.cx(&json!({}));
        let mut items = rows(2);
        items.push(Err(TaskError::failed("boom at row 3")));
        let e = collect(&cx, FetchType::Fetch, "r.ion", futures::stream::iter(items)).await.unwrap_err();
        assert_eq!(e.to_string(), "boom at row 3");
    }
}
