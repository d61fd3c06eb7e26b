//! The `task_runs` rows a save writes, encoded before the save is queued
//! (`sqlite_exec.rs`): each row's id and JSON body are copied into one of
//! a few large text chunks rather than into two strings of their own.
//!
//! Why: a step that starts a `ForEach` of 100,000 values creates 100,000
//! task runs, and their rows are held, encoded, from before the save is
//! queued until its statements have run, beside the execution itself. As
//! two strings per row each row also paid two string headers and two
//! allocations rounded up to the allocator's size classes; in chunks it
//! pays 24 bytes of position. A save of a few rows (every step of a chain)
//! allocates one chunk of their size.

use baton_backend::{BackendError, Result};
use baton_model::Execution;

use super::sqlite::json;

/// A chunk holds at most this many bytes, unless one row is longer.
const CHUNK: usize = 1 << 20;

/// Where one row is: its position in the execution, its chunk, and the
/// ranges of its id (`start..split`) and body (`split..end`) there.
struct At {
    seq: usize,
    chunk: u32,
    start: u32,
    split: u32,
    end: u32,
}

/// The encoded rows of some of an execution's task runs.
pub(super) struct Rows {
    chunks: Vec<String>,
    at: Vec<At>,
}

impl Rows {
    /// The rows of the task runs at `positions` (those past the list's
    /// end are skipped).
    pub(super) fn encode(e: &Execution, positions: impl ExactSizeIterator<Item = usize>) -> Result<Rows> {
        let mut rows = Rows { chunks: Vec::new(), at: Vec::with_capacity(positions.len()) };
        let left = positions.len();
        let mut scratch = Vec::with_capacity(1024);
        for (n, seq) in positions.enumerate() {
            let Some(tr) = e.task_run_list.get(seq) else { continue };
            scratch.clear();
            serde_json::to_writer(&mut scratch, tr).map_err(json("save task run (encode)"))?;
            let body = std::str::from_utf8(&scratch)
                .map_err(|e| BackendError::Invalid(format!("save task run (encode): {e}")))?;
            rows.push(seq, &tr.id, body, left - n);
        }
        Ok(rows)
    }

    /// Appends one row; `left` rows (this one among them) remain to be
    /// added, so that a new chunk is sized for them when they are few.
    fn push(&mut self, seq: usize, id: &str, body: &str, left: usize) {
        let need = id.len() + body.len();
        let full = self.chunks.last().is_none_or(|c| c.capacity() - c.len() < need);
        if full {
            let size = need.saturating_mul(left).saturating_add(need / 8).clamp(need, CHUNK.max(need));
            self.chunks.push(String::with_capacity(size));
        }
        let chunk = self.chunks.len() - 1;
        let text = &mut self.chunks[chunk];
        let start = text.len();
        text.push_str(id);
        let split = text.len();
        text.push_str(body);
        // a chunk is at most CHUNK bytes or one row: u32 offsets hold it
        // unless one task run's JSON passes 4 GiB, which the bounds on
        // outputs and values keep far off
        let at = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.at.push(At { seq, chunk: at(chunk), start: at(start), split: at(split), end: at(text.len()) });
    }

    /// Each row as (position, id, JSON body), in the order encoded.
    pub(super) fn iter(&self) -> impl Iterator<Item = (usize, &str, &str)> {
        self.at.iter().map(|a| {
            let text = &self.chunks[a.chunk as usize];
            (a.seq, &text[a.start as usize..a.split as usize], &text[a.split as usize..a.end as usize])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_model::{State, StateType, TaskRun};

    fn execution(n: usize, value_len: usize) -> Execution {
        let now = chrono::Utc::now();
        let mut e = Execution::new("e1".into(), "ns", "f", 1, Default::default(), Vec::new(), now);
        e.task_run_list = (0..n)
            .map(|i| TaskRun {
                id: format!("tr{i}"),
                execution_id: "e1".into(),
                namespace: "ns".into(),
                flow_id: "f".into(),
                task_id: "t".into(),
                parent_task_run_id: None,
                value: Some("v".repeat(value_len)),
                attempts: Default::default(),
                outputs: None,
                state: State::new(StateType::Created, now),
                iteration: Some(i as u32),
                next_retry_date: None,
                error: None,
                evaluated: None,
            })
            .collect();
        e
    }

    /// Every row reads back as its task run's id and JSON, across chunks,
    /// with a row longer than a chunk alone in its own.
    #[test]
    fn rows_read_back_across_chunks() {
        let mut e = execution(5_000, 300);
        e.task_run_list[4_000].value = Some("w".repeat(CHUNK + 10));
        let positions: Vec<usize> = (0..5_000).chain([9_999]).collect();
        let rows = Rows::encode(&e, positions.into_iter()).expect("encode");
        assert!(rows.chunks.len() > 2, "{} chunks", rows.chunks.len());
        assert!(rows.chunks.iter().all(|c| c.len() <= CHUNK || c.len() > CHUNK + 10));
        let read: Vec<(usize, &str, &str)> = rows.iter().collect();
        assert_eq!(read.len(), 5_000, "the position past the end is skipped");
        for (seq, id, body) in read {
            let tr = &e.task_run_list[seq];
            assert_eq!(id, tr.id);
            assert_eq!(body, serde_json::to_string(tr).expect("json"));
        }
    }

    /// A save of two rows allocates one chunk of about their size, not a
    /// whole chunk.
    #[test]
    fn a_small_save_allocates_what_it_needs() {
        let e = execution(10, 10);
        let rows = Rows::encode(&e, [3, 7].into_iter()).expect("encode");
        assert_eq!(rows.chunks.len(), 1);
        let used = rows.chunks[0].len();
        assert!(rows.chunks[0].capacity() < 2 * used + 64, "{} for {used}", rows.chunks[0].capacity());
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec![3, 7]);
    }
}
