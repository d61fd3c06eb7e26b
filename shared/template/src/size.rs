//! The bound on the bytes one render may produce: its output (written
//! through [`BoundedOut`]) and every string a Baton filter or operator
//! builds on the way (`~`, `join`, `replace`, `indent`…), checked before
//! the string is allocated, so a one-line template can not exhaust memory.

use minijinja::{Error, ErrorKind};

/// Bytes one render may produce, and the size of any string built while
/// rendering (32 MiB). Each `{{ }}` emission, captured or not, counts.
pub const MAX_RENDER_BYTES: usize = 32 * 1024 * 1024;

/// Bytes of one file `read()` loads into a template (32 MiB, as much as a
/// render may produce): a larger file fails the function naming the bound.
pub const MAX_READ_BYTES: u64 = 32 * 1024 * 1024;

/// The message of a `read()` past [`MAX_READ_BYTES`].
pub fn read_too_large(path: &str) -> String {
    format!(
        "read('{path}'): the file is larger than {} MiB, the bound on a file read into a template \
         (MAX_READ_BYTES); give its URI to a task that streams it instead (a script task's `inputFiles`, \
         `io.kestra.plugin.core.storage.Split`, `ForEachItem`)",
        MAX_READ_BYTES >> 20
    )
}

/// ERROR lines of an execution `errorLogs()` loads into a template
/// (10,000); their messages are held to [`MAX_READ_BYTES`] together. Past
/// either the function fails naming the bound, having read one line more.
pub const MAX_ERROR_LOG_LINES: usize = 10_000;

/// The message of an `errorLogs()` past [`MAX_ERROR_LOG_LINES`] (`lines`)
/// or [`MAX_READ_BYTES`].
pub fn error_logs_too_large(execution_id: &str, lines: bool) -> String {
    let bound = if lines {
        format!("{MAX_ERROR_LOG_LINES} lines (MAX_ERROR_LOG_LINES)")
    } else {
        format!("{} MiB of messages (MAX_READ_BYTES)", MAX_READ_BYTES >> 20)
    };
    format!(
        "errorLogs(): execution {execution_id} has more ERROR lines than a template loads, {bound}; \
         read them from the logs download (GET /api/v1/logs/{execution_id}/download) or with \
         `io.kestra.plugin.core.log.Fetch`, which writes them to a file"
    )
}

/// The message naming the bound, shared by every place that checks it.
pub fn too_large(what: &str) -> String {
    format!(
        "{what} would produce more than {} MiB (the template output bound, MAX_RENDER_BYTES)",
        MAX_RENDER_BYTES >> 20
    )
}

/// Fails when a string of `len` bytes (already saturated on overflow)
/// would break the bound.
pub fn check(len: usize, what: &str) -> Result<(), Error> {
    if len > MAX_RENDER_BYTES { Err(Error::new(ErrorKind::InvalidOperation, too_large(what))) } else { Ok(()) }
}

/// A `String` sink for a whole render that refuses to grow past the bound.
#[derive(Default)]
pub struct BoundedOut {
    /// What was written so far.
    pub buf: Vec<u8>,
    /// Set once a write was refused.
    pub overflowed: bool,
}

impl std::io::Write for BoundedOut {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > MAX_RENDER_BYTES {
            self.overflowed = true;
            return Err(std::io::Error::other(too_large("the template")));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_writer_refuses_past_the_bound() {
        let mut out = BoundedOut::default();
        assert!(out.write_all(&vec![b'x'; MAX_RENDER_BYTES]).is_ok());
        assert!(out.write_all(b"y").is_err());
        assert!(out.overflowed);
        assert!(check(MAX_RENDER_BYTES + 1, "join").unwrap_err().to_string().contains("MAX_RENDER_BYTES"));
    }
}
