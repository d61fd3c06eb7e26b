//! The `from` of Kestra's ListPush and Publish (plugin-redis): a list of
//! strings, a string holding a JSON list, or a kestra:// Ion file of
//! records — read here one record at a time, so a file of any length is
//! streamed, each line bounded by [`conn::MAX_VALUE_BYTES`].

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::conn::{self, Serde};
use crate::core::ion_text;
use crate::{RunContext, TaskError};

/// Where the records come from.
#[derive(Debug, Clone)]
pub enum From {
    /// Rendered strings, as listed (or parsed from a JSON list).
    Inline(Vec<String>),
    /// A kestra:// Ion file.
    File(String),
}

/// `from` as written, checked at validation.
pub fn from_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::String(_) => Ok(()),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| match item {
            Value::String(_) => Ok(()),
            other => Err(format!("item {} must be a string (Kestra renders each item as text), found {other}", i + 1)),
        }),
        other => Err(format!("expected a kestra:// URI or a list of strings, found {other}")),
    }
}

impl From {
    /// The rendered `from`: a string parsed as a JSON list when it is one
    /// (as Kestra does), else taken as the URI of a file.
    pub fn parse(v: Value) -> Result<From, TaskError> {
        from_ok(&v).map_err(|e| TaskError::property("from", e))?;
        match v {
            Value::String(s) => match serde_json::from_str::<Value>(&s) {
                Ok(list @ Value::Array(_)) => From::parse(list),
                _ => Ok(From::File(s.trim().to_string())),
            },
            Value::Array(items) => {
                Ok(From::Inline(items.into_iter().filter_map(|v| v.as_str().map(str::to_string)).collect()))
            }
            _ => unreachable!("checked by from_ok"),
        }
    }

    /// Opens the records for reading, serialized by `serde`.
    pub async fn open(&self, cx: &RunContext, serde: Serde) -> Result<Records, TaskError> {
        let source = match self {
            From::Inline(items) => Source::Inline(items.clone().into_iter()),
            From::File(uri) => {
                let path = cx.readable_path("from", uri)?;
                let stream = cx
                    .services
                    .storage
                    .get(&path)
                    .await
                    .map_err(|e| TaskError::failed(format!("cannot read {uri}: {e}")))?;
                Source::File { uri: uri.clone(), reader: BufReader::new(stream), line: 0 }
            }
        };
        Ok(Records { source, serde, buf: Vec::new() })
    }
}

enum Source {
    Inline(std::vec::IntoIter<String>),
    File { uri: String, reader: BufReader<baton_backend::ByteStream>, line: usize },
}

/// The records of a `from`, one at a time.
pub struct Records {
    source: Source,
    serde: Serde,
    buf: Vec<u8>,
}

impl Records {
    /// The next record as the text to store, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<String>, TaskError> {
        let (uri, reader, n) = match &mut self.source {
            Source::Inline(items) => {
                return match items.next() {
                    None => Ok(None),
                    Some(item) => {
                        self.serde.serialize(&Value::String(item)).map(Some).map_err(|e| TaskError::property("from", e))
                    }
                };
            }
            Source::File { uri, reader, line } => (uri, reader, line),
        };
        let bound = conn::MAX_VALUE_BYTES as u64;
        loop {
            self.buf.clear();
            let read = (&mut *reader)
                .take(bound + 1)
                .read_until(b'\n', &mut self.buf)
                .await
                .map_err(|e| TaskError::failed(format!("cannot read {uri}: {e}")))?;
            if read == 0 {
                return Ok(None);
            }
            *n += 1;
            if self.buf.last() != Some(&b'\n') && read as u64 > bound {
                return Err(TaskError::failed(format!(
                    "line {n} of {uri} is longer than {bound} bytes, the largest value a Redis task writes"
                )));
            }
            let text = std::str::from_utf8(&self.buf)
                .map_err(|_| TaskError::failed(format!("line {n} of {uri} is not UTF-8")))?
                .trim();
            if text.is_empty() {
                continue;
            }
            let record = ion_text::parse_line(text)
                .map_err(|e| TaskError::failed(format!("line {n} of {uri} is not Ion: {e}")))?;
            let text =
                self.serde.serialize(&record).map_err(|e| TaskError::failed(format!("line {n} of {uri}: {e}")))?;
            return Ok(Some(text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn from_takes_a_list_a_json_list_or_a_uri() {
        assert!(matches!(From::parse(json!(["a", "b"])).unwrap(), From::Inline(v) if v == ["a", "b"]));
        assert!(matches!(From::parse(json!("[\"x\"]")).unwrap(), From::Inline(v) if v == ["x"]));
        assert!(matches!(From::parse(json!("kestra:///f.ion")).unwrap(), From::File(u) if u == "kestra:///f.ion"));
        assert!(from_ok(&json!([1])).unwrap_err().contains("must be a string"));
    }
}
