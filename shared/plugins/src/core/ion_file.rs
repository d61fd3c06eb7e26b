//! Reads a `kestra://` Ion file of internal storage one value at a time
//! (what Kestra's `Data.From` reads when `from` is a URI), each line
//! bounded, blank lines skipped, every error naming the line and the URI;
//! and [`DataFrom`], the whole of Kestra's `Data.From` (a value, a list, a
//! JSON string of either, or such a file), read the same way.

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::ion_text;
use crate::{RunContext, TaskError};

/// Kestra's `Data.From`, rendered: one value (a map), a list of them, a
/// JSON string of either, or the `kestra://` URI of an Ion file of them.
#[derive(Debug, Clone)]
pub enum DataFrom {
    Values(Vec<Value>),
    File(String),
}

impl DataFrom {
    /// Reads property `property`'s rendered value.
    pub fn parse(property: &str, v: Option<Value>) -> Result<DataFrom, TaskError> {
        let err = |e: String| TaskError::property(property, e);
        match v {
            None | Some(Value::Null) => Err(err("is required".into())),
            Some(Value::String(s)) if s.trim().starts_with("kestra://") => Ok(DataFrom::File(s.trim().to_string())),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
                Ok(Value::Array(items)) => Ok(DataFrom::Values(items)),
                Ok(v @ Value::Object(_)) => Ok(DataFrom::Values(vec![v])),
                _ => Err(err(format!("'{s}' is neither a kestra:// URI nor a JSON map or list of maps"))),
            },
            Some(Value::Array(items)) => Ok(DataFrom::Values(items)),
            Some(v) => Ok(DataFrom::Values(vec![v])),
        }
    }

    /// Opens the values for reading, one at a time; a file's lines are at
    /// most `max_line` bytes.
    pub async fn open<'a>(
        &'a self,
        cx: &RunContext,
        property: &str,
        max_line: u64,
    ) -> Result<DataValues<'a>, TaskError> {
        Ok(match self {
            DataFrom::Values(items) => DataValues::Values(items.iter().enumerate()),
            DataFrom::File(uri) => DataValues::File(Box::new(IonFile::open(cx, property, uri, max_line).await?)),
        })
    }
}

/// The values of a [`DataFrom`], read as they are asked for.
pub enum DataValues<'a> {
    Values(std::iter::Enumerate<std::slice::Iter<'a, Value>>),
    File(Box<IonFile>),
}

impl DataValues<'_> {
    /// The next value with its 1-based number (item or line) and whether
    /// it was written in the flow (not read from a file).
    pub async fn next(&mut self) -> Result<Option<(usize, Value, bool)>, TaskError> {
        match self {
            DataValues::Values(items) => Ok(items.next().map(|(i, v)| (i + 1, v.clone(), true))),
            DataValues::File(file) => Ok(file.next().await?.map(|v| (file.line, v, false))),
        }
    }

    /// An error about value `n` (as [`Self::next`] numbered it).
    pub fn error(&self, property: &str, n: usize, what: &str) -> TaskError {
        match self {
            DataValues::Values(_) => TaskError::property(property, format!("item {n}: {what}")),
            DataValues::File(file) => file.error(what),
        }
    }
}

/// The values of one Ion file, read as they are asked for.
pub struct IonFile {
    reader: BufReader<baton_backend::ByteStream>,
    uri: String,
    buf: Vec<u8>,
    max_line: u64,
    /// 1-based number of the line last read.
    pub line: usize,
}

impl IonFile {
    /// Opens `uri` (property `property`'s value) with lines of at most `max_line` bytes.
    pub async fn open(cx: &RunContext, property: &str, uri: &str, max_line: u64) -> Result<IonFile, TaskError> {
        let path = cx.readable_path(property, uri)?;
        let stream =
            cx.services.storage.get(&path).await.map_err(|e| TaskError::failed(format!("cannot read {uri}: {e}")))?;
        Ok(IonFile { reader: BufReader::new(stream), uri: uri.trim().to_string(), buf: Vec::new(), max_line, line: 0 })
    }

    /// The next value, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Value>, TaskError> {
        loop {
            self.buf.clear();
            let read = (&mut self.reader)
                .take(self.max_line + 1)
                .read_until(b'\n', &mut self.buf)
                .await
                .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", self.uri)))?;
            if read == 0 {
                return Ok(None);
            }
            self.line += 1;
            if self.buf.last() != Some(&b'\n') && read as u64 > self.max_line {
                return Err(
                    self.error(&format!("is longer than {} bytes, the longest Baton reads here", self.max_line))
                );
            }
            let text = std::str::from_utf8(&self.buf).map_err(|_| self.error("is not UTF-8"))?.trim();
            if text.is_empty() {
                continue;
            }
            return ion_text::parse_line(text).map(Some).map_err(|e| self.error(&format!("is not Ion: {e}")));
        }
    }

    /// An error about the line last read.
    pub fn error(&self, what: &str) -> TaskError {
        TaskError::failed(format!("line {} of {} {what}", self.line, self.uri))
    }
}
