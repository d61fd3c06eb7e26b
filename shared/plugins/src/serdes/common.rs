//! What every serdes task shares: running a converter on a blocking thread
//! between a `from` file of internal storage and a new file streamed back
//! into it ([`convert`]), the Ion side of the conversions (one value a
//! line, read with [`crate::core::ion_text`], written with its
//! `write_line`: Baton's one Ion implementation), the bounds, and the
//! outputs `uri` + `size` Kestra gives.

use std::cell::Cell;
use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::rc::Rc;

use serde_json::{Map, Value};

use crate::bridge::{STOPPED, SyncReader, SyncWriter};
use crate::core::ion_text;
use crate::{RunContext, TaskError, TaskOutput};

/// The longest Ion line or JSON value (one record) read, in bytes: the
/// bound the item tasks apply too.
pub const MAX_RECORD_BYTES: u64 = crate::core::items::MAX_ITEM_BYTES;
/// Warnings kept for the task's log (the rest are counted).
const MAX_WARNINGS: usize = 20;

/// What a converter reports: records written and warnings to log.
#[derive(Debug, Default)]
pub struct Report {
    pub records: u64,
    warnings: Vec<String>,
    dropped_warnings: u64,
}

impl Report {
    /// Keeps a warning for the log (the first [`MAX_WARNINGS`]).
    pub fn warn(&mut self, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(message);
        } else {
            self.dropped_warnings += 1;
        }
    }
}

/// A converter: reads the source, writes the result, on a blocking thread.
pub type Job = Box<dyn FnOnce(SyncReader, &mut SyncWriter) -> Result<Report, String> + Send>;

/// Runs `job` from the file `from` to a new file `name` under the task's
/// prefix; logs its warnings and returns Kestra's outputs `uri` and `size`.
pub async fn convert(cx: &RunContext, from: &str, name: &str, job: Job) -> Result<TaskOutput, TaskError> {
    let path = cx.readable_path("from", from)?;
    let src = cx
        .services
        .storage
        .get(&path)
        .await
        .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", from.trim())))?;
    let reader = SyncReader::pump(src);
    write_file(cx, from, name, move |writer| job(reader, writer)).await
}

/// Runs `job` on a blocking thread, streaming what it writes into the new
/// file `name`; outputs as [`convert`].
async fn write_file(
    cx: &RunContext,
    from: &str,
    name: &str,
    job: impl FnOnce(&mut SyncWriter) -> Result<Report, String> + Send + 'static,
) -> Result<TaskOutput, TaskError> {
    let (mut writer, stream) = SyncWriter::open();
    let work = tokio::task::spawn_blocking(move || match job(&mut writer) {
        Ok(report) => writer.finish().map(|()| report).map_err(|e| e.to_string()),
        Err(e) => {
            writer.fail(&e);
            Err(e)
        }
    });
    let put = cx.put_file(name, stream).await;
    finish(cx, from, work.await, put)
}

/// A converter whose library reads the source with random access: it gets
/// the path of a local copy.
pub type LocalJob = Box<dyn FnOnce(&Path, &mut SyncWriter) -> Result<Report, String> + Send>;

/// Runs `job` on a copy of the file `from` in the task's working directory
/// (at most `max` bytes; `what` names the format in that error), writing a
/// new file `name`; outputs as [`convert`].
pub async fn convert_local(
    cx: &RunContext,
    from: &str,
    name: &str,
    (max, what): (u64, &str),
    job: LocalJob,
) -> Result<TaskOutput, TaskError> {
    let dir = cx.working_dir()?;
    let local = dir.join("source");
    let out = async {
        copy_local(cx, from.trim(), &local, max, what).await?;
        write_file(cx, from, name, move |writer| job(&local, writer)).await
    }
    .await;
    if !cx.shares_working_dir() {
        let _ = tokio::fs::remove_dir_all(&dir).await;
    }
    out
}

/// A converter's end: its error, or its warnings logged and Kestra's
/// outputs `uri` and `size`.
fn finish(
    cx: &RunContext,
    from: &str,
    done: Result<Result<Report, String>, tokio::task::JoinError>,
    put: Result<(String, u64), TaskError>,
) -> Result<TaskOutput, TaskError> {
    let done = done.map_err(|e| TaskError::failed(format!("the conversion stopped: {e}")))?;
    let (uri, report) = match (done, put) {
        (Err(e), Err(put)) if e == STOPPED => return Err(put),
        (Err(e), _) => return Err(TaskError::failed(e)),
        (Ok(_), Err(put)) => return Err(put),
        (Ok(report), Ok((uri, _))) => (uri, report),
    };
    for w in &report.warnings {
        cx.warn(w);
    }
    if report.dropped_warnings > 0 {
        cx.warn(&format!("… and {} more warnings", report.dropped_warnings));
    }
    cx.counter("records", report.records as f64, &[]);
    cx.info(&format!("Converted {} to {uri}: {} records", from.trim(), report.records));
    let mut out = Map::new();
    out.insert("uri".into(), Value::String(uri));
    out.insert("size".into(), Value::from(report.records));
    Ok(TaskOutput::with(out))
}

/// Copies the `kestra://` file `uri` to `target` (a converter whose
/// library reads with random access: Excel, Parquet), refusing one larger
/// than `max` bytes; `what` names the format in that error.
pub async fn copy_local(cx: &RunContext, uri: &str, target: &Path, max: u64, what: &str) -> Result<(), TaskError> {
    use tokio::io::AsyncReadExt;
    let path = cx.readable_path("from", uri)?;
    let src = cx.services.storage.get(&path).await.map_err(|e| TaskError::failed(format!("cannot read {uri}: {e}")))?;
    let mut file = tokio::fs::File::create(target)
        .await
        .map_err(|e| TaskError::failed(format!("cannot create {}: {e}", target.display())))?;
    let n = tokio::io::copy(&mut src.take(max + 1), &mut file)
        .await
        .map_err(|e| TaskError::failed(format!("cannot copy {uri}: {e}")))?;
    if n > max {
        return Err(TaskError::property(
            "from",
            format!("{uri} is larger than {max} bytes, the largest {what} Baton reads"),
        ));
    }
    Ok(())
}

/// An I/O error on the output side as a converter's error.
pub fn write_err(e: std::io::Error) -> String {
    if e.to_string() == STOPPED { STOPPED.to_string() } else { format!("cannot write the result: {e}") }
}

/// Writes one value as an Ion line.
pub fn write_ion(value: &Value, out: &mut impl Write) -> Result<(), String> {
    ion_text::write_line(value, out).map_err(write_err)
}

/// Reads an Ion file one value a line (blank lines skipped), each line
/// bounded by [`MAX_RECORD_BYTES`].
pub struct IonLines<R> {
    reader: R,
    uri: String,
    buf: Vec<u8>,
    /// 1-based number of the line last read.
    pub line: u64,
    /// What the reader makes of Ion date-times (kept as text without it).
    dates: Option<Box<DateFn>>,
    /// Decimals and big integers kept as their text ([`super::exact`]).
    exact: bool,
}

/// A reader's handling of Ion date-times ([`ion_text::parse_line_with`]).
pub type DateFn = dyn Fn(ion_text::DateToken) -> Option<Value> + Send;

impl<R: BufRead> IonLines<R> {
    pub fn new(reader: R, uri: &str) -> IonLines<R> {
        IonLines { reader, uri: uri.trim().to_string(), buf: Vec::new(), line: 0, dates: None, exact: false }
    }

    /// The same reader, keeping Ion decimals and integers past 64 bits
    /// exact (marked strings, written back by [`super::exact`]): for the
    /// writers that print them as Kestra does.
    pub fn exact(mut self) -> IonLines<R> {
        self.exact = true;
        self
    }

    /// The same reader, passing each Ion date-time through `dates`.
    pub fn with_dates(mut self, dates: Box<DateFn>) -> IonLines<R> {
        self.dates = Some(dates);
        self
    }

    /// The next value, or `None` at the end.
    pub fn next_value(&mut self) -> Result<Option<Value>, String> {
        loop {
            self.buf.clear();
            let n = (&mut self.reader)
                .take(MAX_RECORD_BYTES + 1)
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| format!("cannot read {}: {e}", self.uri))?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            if self.buf.last() != Some(&b'\n') && n as u64 > MAX_RECORD_BYTES {
                return Err(format!(
                    "line {} of {} is longer than {MAX_RECORD_BYTES} bytes, the longest record Baton reads",
                    self.line, self.uri
                ));
            }
            let text = std::str::from_utf8(&self.buf)
                .map_err(|_| format!("line {} of {} is not UTF-8", self.line, self.uri))?
                .trim();
            if text.is_empty() {
                continue;
            }
            let dates = self.dates.as_deref().map(|d| d as &dyn Fn(ion_text::DateToken) -> Option<Value>);
            let parsed = if self.exact {
                ion_text::parse_line_exact(text, dates)
            } else {
                ion_text::parse_line_with(text, dates)
            };
            return parsed.map(Some).map_err(|e| format!("line {} of {} is not Ion: {e}", self.line, self.uri));
        }
    }
}

/// A `Read` that fails once more than `limit` bytes were read since the
/// last [`Bounded::reset`]: bounds what a parser may buffer for one record.
pub struct Bounded<R> {
    inner: R,
    read: Rc<Cell<u64>>,
    limit: u64,
    what: &'static str,
}

impl<R: Read> Bounded<R> {
    pub fn new(inner: R, limit: u64, what: &'static str) -> Bounded<R> {
        Bounded { inner, read: Rc::new(Cell::new(0)), limit, what }
    }

    /// A record ended: the count starts again.
    pub fn reset(&mut self) {
        self.read.set(0);
    }

    /// The count, to reset while a parser owns the reader.
    pub fn counter(&self) -> Rc<Cell<u64>> {
        self.read.clone()
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        if self.read.get() > self.limit {
            return Err(std::io::Error::other(format!(
                "one {} is longer than {} bytes, the most Baton reads at once",
                self.what, self.limit
            )));
        }
        Ok(n)
    }
}

/// A `{prop}` of one character (Kestra's `Character` properties).
pub fn one_char(prop: &str, s: &str) -> Result<u8, TaskError> {
    match s.as_bytes() {
        [c] if c.is_ascii() => Ok(*c),
        _ => Err(TaskError::property(prop, format!("'{s}' is not one ASCII character"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ion_lines_read_values_and_name_a_bad_line() {
        let data = b"{a:1}\n\n{\"b\":\"x\"}\r\n[1,2]\n{bad\n";
        let mut r = IonLines::new(&data[..], "kestra:///f.ion");
        assert_eq!(r.next_value().unwrap(), Some(serde_json::json!({"a": 1})));
        assert_eq!(r.next_value().unwrap(), Some(serde_json::json!({"b": "x"})));
        assert_eq!(r.next_value().unwrap(), Some(serde_json::json!([1, 2])));
        let e = r.next_value().unwrap_err();
        assert!(e.starts_with("line 5 of kestra:///f.ion is not Ion"), "{e}");
    }

    #[test]
    fn bounded_refuses_past_its_limit_until_reset() {
        let data = [b'x'; 100];
        let mut b = Bounded::new(&data[..], 60, "field");
        let mut buf = [0u8; 50];
        assert_eq!(b.read(&mut buf).unwrap(), 50);
        b.reset();
        assert_eq!(b.read(&mut buf).unwrap(), 50);
        let mut b = Bounded::new(&data[..], 60, "field");
        let mut all = Vec::new();
        let e = b.read_to_end(&mut all).unwrap_err().to_string();
        assert!(e.contains("longer than 60 bytes"), "{e}");
    }
}
