//! Bounds on what a script may write: a line is at most
//! [`MAX_LINE_BYTES`] (the rest is dropped, the line ends with a marker
//! saying how much), and no more is read while the log store is
//! [`MAX_LOG_BACKLOG_BYTES`] behind, so a script printing without end
//! waits on its pipe instead of growing memory. The attempt's log volume
//! bound is its sink's (the runtime's `attempt_logs`).

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::RunContext;

/// Bytes of one output line kept; the rest of the line is dropped (1 MiB,
/// so a `::{"outputs":…}::` line of that size still parses).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Bytes of log lines waiting for the store before the script's output is
/// no longer read (8 MiB): the pipe fills and the script waits.
pub const MAX_LOG_BACKLOG_BYTES: usize = 8 * 1024 * 1024;
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
}

impl<'a> LogBudget<'a> {
    pub fn new(cx: &'a RunContext) -> Self {
        LogBudget { cx }
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
