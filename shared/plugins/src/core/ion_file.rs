//! Reads a `kestra://` Ion file of internal storage one value at a time
//! (what Kestra's `Data.From` reads when `from` is a URI), each line
//! bounded, blank lines skipped, every error naming the line and the URI.

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::ion_text;
use crate::{RunContext, TaskError};

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
