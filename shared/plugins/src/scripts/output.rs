//! Bounds on what a script may write: a line is at most
//! [`MAX_LINE_BYTES`] (the rest is dropped, the line ends with a marker
//! saying how much), and no more is read while the log store is
//! [`MAX_LOG_BACKLOG_BYTES`] behind (counting what each waiting line holds
//! in memory, not only its text), so a script printing without end waits
//! on its pipe instead of growing memory. The outputs of its
//! `::{"outputs":…}::` lines, merged, are at most
//! [`MAX_SCRIPT_OUTPUTS_BYTES`] of JSON: past it the task fails naming the
//! bound. The attempt's log line and volume bounds are its sink's (the
//! runtime's `attempt_logs` and `log_bounds`).

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::RunContext;

/// Bytes of one output line kept; the rest of the line is dropped (1 MiB,
/// so a `::{"outputs":…}::` line of that size still parses).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Bytes of log lines waiting for the store before the script's output is
/// no longer read (8 MiB): the pipe fills and the script waits.
pub const MAX_LOG_BACKLOG_BYTES: usize = 8 * 1024 * 1024;
/// Bytes of JSON the merged `::{"outputs":…}::` of one script may hold
/// (4 MiB): they become the task's `vars` output, stored with the
/// execution.
pub const MAX_SCRIPT_OUTPUTS_BYTES: usize = 4 * 1024 * 1024;
/// The end of a truncated line, followed by how many bytes were dropped.
pub const TRUNCATED: &str = "… [line truncated by Baton: ";

/// Reads lines (lossy UTF-8, without the line break) of at most
/// [`MAX_LINE_BYTES`]; cancel-safe because a partial line stays in `buf`
/// between calls, and memory-bounded because the rest of a long line is
/// discarded as it is read.
pub(crate) struct Lines<R> {
    reader: BufReader<R>,
    buf: Vec<u8>,
    /// Bytes dropped from the current line.
    dropped: u64,
    limit: usize,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    pub fn new(r: R) -> Self {
        Self::with_limit(r, MAX_LINE_BYTES)
    }

    fn with_limit(r: R, limit: usize) -> Self {
        Lines { reader: BufReader::with_capacity(64 * 1024, r), buf: Vec::new(), dropped: 0, limit }
    }

    /// The next line, `None` at the end of the stream.
    pub async fn next(&mut self) -> Option<String> {
        loop {
            let chunk = match self.reader.fill_buf().await {
                Ok(c) => c,
                Err(_) => &[][..],
            };
            if chunk.is_empty() {
                return (!self.buf.is_empty() || self.dropped > 0).then(|| self.take());
            }
            let (part, newline) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (&chunk[..i], Some(i + 1)),
                None => (chunk, None),
            };
            let room = self.limit.saturating_sub(self.buf.len());
            let kept = part.len().min(room);
            self.buf.extend_from_slice(&part[..kept]);
            self.dropped += (part.len() - kept) as u64;
            let used = newline.unwrap_or(chunk.len());
            self.reader.consume(used);
            if newline.is_some() {
                return Some(self.take());
            }
        }
    }

    fn take(&mut self) -> String {
        let mut bytes = std::mem::take(&mut self.buf);
        while matches!(bytes.last(), Some(b'\n' | b'\r')) {
            bytes.pop();
        }
        let mut line = String::from_utf8_lossy(&bytes).into_owned();
        if self.dropped > 0 {
            line.push_str(&format!("{TRUNCATED}{} more bytes, MAX_LINE_BYTES is {}]", self.dropped, self.limit));
            self.dropped = 0;
        }
        line
    }
}

/// The script's lines on their way to the task's logs: no more is read
/// while the log store (or the attempt's log file, past the log volume
/// bound `MAX_TASK_LOG_BYTES` in the runtime's `attempt_logs`) is more than
/// [`MAX_LOG_BACKLOG_BYTES`] behind.
pub(crate) struct LogBudget<'a> {
    cx: &'a RunContext,
    /// The outputs bound's error was logged.
    refused_told: bool,
}

impl<'a> LogBudget<'a> {
    pub fn new(cx: &'a RunContext) -> Self {
        LogBudget { cx, refused_told: false }
    }

    /// Logs `message` (the attempt's sink applies the volume bound).
    pub fn log(&mut self, level: &str, message: &str) {
        self.cx.log(level, message);
    }

    /// Records a script's protocol metrics as the task run's.
    pub fn record(&mut self, metrics: Vec<super::protocol::Metric>) {
        for m in metrics {
            self.cx.metric(m.kind, &m.name, m.value, m.tags);
        }
    }

    /// Waits while the log store is too far behind (backpressure).
    pub async fn wait_for_store(&self) {
        while self.cx.services.logs.backlog_bytes() > MAX_LOG_BACKLOG_BYTES {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Counts the bytes written to it.
struct Counted(usize);

impl std::io::Write for Counted {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn json_len(key: &str, v: &serde_json::Value) -> usize {
    let mut c = Counted(key.len() + 4);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// Merges a protocol line's `outputs` into the script's (a key replaces
/// the same key), under [`MAX_SCRIPT_OUTPUTS_BYTES`]: the first output
/// that would pass it stops the merging and records why the task fails.
pub(crate) fn merge_outputs(
    cx: &mut LogBudget<'_>,
    fin: &mut super::process::Finished,
    outputs: serde_json::Map<String, serde_json::Value>,
) {
    merge_bounded(fin, outputs, MAX_SCRIPT_OUTPUTS_BYTES);
    if let Some(why) = &fin.vars_refused
        && !std::mem::replace(&mut cx.refused_told, true)
    {
        cx.log("ERROR", why);
    }
}

fn merge_bounded(
    fin: &mut super::process::Finished,
    outputs: serde_json::Map<String, serde_json::Value>,
    limit: usize,
) {
    if fin.vars_refused.is_some() {
        return;
    }
    for (k, v) in outputs {
        let old = fin.vars.get(&k).map_or(0, |o| json_len(&k, o));
        let next = fin.vars_bytes - old + json_len(&k, &v);
        if next > limit {
            fin.vars_refused = Some(format!(
                "the script's outputs (its `::{{\"outputs\":…}}::` lines, merged) would hold more than {} bytes of JSON \
                 at output '{k}' (the script outputs bound, MAX_SCRIPT_OUTPUTS_BYTES, {} MiB); write large results \
                 to a file and list it in `outputFiles`",
                limit,
                limit >> 20
            ));
            return;
        }
        fin.vars_bytes = next;
        fin.vars.insert(k, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all(input: &[u8], limit: usize) -> Vec<String> {
        let mut l = Lines::with_limit(input, limit);
        let mut out = Vec::new();
        while let Some(x) = l.next().await {
            out.push(x);
        }
        out
    }

    #[test]
    fn outputs_merge_under_their_bound_counting_replaced_keys_once() {
        let mut fin = super::super::process::Finished::default();
        let one = |k: &str, v: serde_json::Value| {
            let mut m = serde_json::Map::new();
            m.insert(k.to_string(), v);
            m
        };
        for i in 0..1000 {
            merge_bounded(&mut fin, one("same", serde_json::json!(i)), 25);
        }
        assert!(fin.vars_refused.is_none() && fin.vars["same"] == 999, "{:?}", fin.vars_refused);
        merge_bounded(&mut fin, one("b", serde_json::json!("xxxx")), 25);
        merge_bounded(&mut fin, one("c", serde_json::json!("xxxx")), 25);
        let why = fin.vars_refused.clone().expect("refused");
        assert!(why.contains("MAX_SCRIPT_OUTPUTS_BYTES") && why.contains("output 'c'"), "{why}");
        assert!(fin.vars.contains_key("b") && !fin.vars.contains_key("c"));
        merge_bounded(&mut fin, one("d", serde_json::json!(1)), 1000);
        assert!(!fin.vars.contains_key("d"), "nothing merged once refused");
    }

    #[tokio::test]
    async fn long_lines_are_truncated_with_a_marker() {
        let lines = all(b"short\r\n0123456789abcdef\nlast", 10).await;
        assert_eq!(lines[0], "short");
        assert!(lines[1].starts_with("0123456789… [line truncated by Baton: 6 more bytes"), "{}", lines[1]);
        assert_eq!(lines[2], "last");
        // a line without a newline at all, longer than the reader's buffer
        let big = vec![b'x'; 300_000];
        let lines = all(&big, 1000).await;
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("299000 more bytes"), "{}", &lines[0][990..]);
    }
}
