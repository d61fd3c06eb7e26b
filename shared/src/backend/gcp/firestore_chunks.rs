//! Chunks of finished task runs: what lets an instance that kept nothing
//! (a cold one) load a large execution from a few documents instead of one
//! document per task run.
//!
//! Every task run keeps its own document (`taskRuns`, rewritten by each
//! save that changes it; warm loads read those written since their copy).
//! Besides them a save may write *chunks*,
//! `executions/{id}/taskRunChunks/{version}-{part}`: up to [`CHUNK_RUNS`]
//! finished task runs each, as zlib-compressed JSON `[[seq, taskRun], …]`,
//! and set the head's `chunkedTo` to that save's version V. What every save
//! keeps true: **a task run in a terminal state whose document was last
//! written at a version ≤ V is, with that content, in the chunk of the
//! highest version holding it.** So a save chunks only when it knows every
//! position written since V (the store's copy at the version it saves on,
//! [`Chunking::unchunked`]) and then writes all the finished ones at once;
//! it does so once at least [`CHUNK_RUNS`] task-run writes happened since
//! V, in the same atomic commit as the head.
//!
//! A cold load reads, in one read-only transaction: the head (`chunkedTo`,
//! `taskRunCount`), every chunk, the task runs written after V
//! (`version > V`) and the unfinished ones (`state in [CREATED, RUNNING, …]`;
//! one finished later than V is in the first set). Later chunks override
//! earlier ones; documents override chunks (an unfinished document written
//! before V is newer than any chunk holding that position: chunks hold only
//! finished contents, and a changed task run is rewritten). A position left
//! empty means the pieces do not fit: the load then reads every document
//! (`firestore.rs`). A finished ForEach of 10,000 iterations loads from its
//! head and about 20 chunks instead of 10,001 documents; an unfinished one
//! reads its unfinished iterations too. It still reads every task run's
//! bytes (compressed) and builds the whole list: what the executor steps on.
//!
//! Bounds: a part ≤ [`PART_BYTES`] compressed (a part over it is split;
//! Firestore's document limit is 1 MiB), the chunks of one save ≤
//! [`SAVE_BYTES`] and [`MAX_CHUNKED`] task runs. A save that would pass them
//! stops chunking in that copy (`unchunked: None`; loads stay right, reading
//! documents). A save whose own writes leave less room in its commit
//! ([`COMMIT_BYTES`] in all) than its chunks need chunks nothing; the next
//! one tries again. Chunks are never rewritten; they are deleted with the
//! execution.

use std::io::{Read, Write as _};

use firestore::gcloud_sdk::google::firestore::v1::{Document, Write};
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use super::firestore::{TASK_RUNS, execution_path};
use super::fs_client::{
    FsClient, any_of, bytes, doc_id, document, get_bytes, get_int, get_json, gt, int, select, set, string,
};
use crate::backend::{BackendError, Result};
use crate::model::{Execution, StateType, TaskRun};

/// Sub-collection of an execution's chunks.
pub const CHUNKS: &str = "taskRunChunks";
/// Task runs in one chunk document (fewer when a part is split) and the
/// task-run writes since the last chunking that make a save chunk.
pub(super) const CHUNK_RUNS: usize = 500;
/// Largest compressed part (Firestore's document limit is 1 MiB).
pub(super) const PART_BYTES: usize = 900_000;
/// Largest compressed chunks of one save (a commit's request is at most 10 MiB).
pub(super) const SAVE_BYTES: usize = 6_000_000;
/// What a save's commit may hold in all, its own writes and its chunks
/// (Firestore refuses a request over 10 MiB).
pub(super) const COMMIT_BYTES: usize = 9_000_000;
/// Most finished task runs one save chunks.
pub(super) const MAX_CHUNKED: usize = 16 * CHUNK_RUNS;

/// The unfinished states: a task run in one of them is read from its own
/// document by a cold load.
const OPEN_STATES: [StateType; 7] = [
    StateType::Created,
    StateType::Running,
    StateType::Paused,
    StateType::Restarted,
    StateType::Killing,
    StateType::Queued,
    StateType::Retrying,
];

/// What a store knows of an execution's chunks at one version.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Chunking {
    /// The head's `chunkedTo` (0: never chunked).
    pub chunked_to: u64,
    /// Every position whose document was written after `chunked_to`
    /// (repeats allowed); `None` when not known, and then no chunking.
    pub unchunked: Option<Vec<u32>>,
}

impl Chunking {
    /// Known to have chunked nothing yet, with `written` positions written.
    pub fn fresh(written: usize) -> Chunking {
        Chunking { chunked_to: 0, unchunked: Some((0..written as u32).collect()) }
    }

    /// Positions `changed` written at a version after this one: chunking
    /// unchanged, the positions noted.
    pub fn written(mut self, changed: impl IntoIterator<Item = u32>) -> Chunking {
        if let Some(u) = self.unchunked.as_mut() {
            u.extend(changed);
        }
        self
    }
}

/// `executions/{id}/taskRunChunks/{version}-{part}`.
pub fn chunk_path(execution_id: &str, version: u64, part: usize) -> String {
    format!("{}/{CHUNKS}/{}", execution_path(execution_id), doc_id(&format!("{version:012}-{part:04}")))
}

/// A compressed chunk document's content: how many task runs, and the bytes.
pub(super) type Part = (usize, Vec<u8>);

/// The chunks a save writes (compressed parts) and the chunking after it,
/// for a save at `version` from `before` (the chunking at the version it
/// replaces) and the positions it writes (`changed`), its chunks within
/// `room()` bytes (what its commit leaves, asked only when it chunks: when
/// they pass it, this save chunks nothing and a later one will). Pure: no
/// I/O.
pub(super) fn plan(
    e: &Execution,
    version: u64,
    before: Chunking,
    changed: &[usize],
    room: impl FnOnce() -> usize,
) -> Result<(Vec<Part>, Chunking)> {
    let n = e.task_run_list.len();
    let chunked_to = before.chunked_to;
    let after = before.written(changed.iter().filter(|&&s| s < n).map(|&s| s as u32));
    let Some(written) = after.unchunked.as_ref().filter(|w| w.len() >= CHUNK_RUNS) else { return Ok((vec![], after)) };
    let mut seqs = written.clone();
    seqs.sort_unstable();
    seqs.dedup();
    let done: Vec<u32> =
        seqs.into_iter().filter(|&s| e.task_run_list.get(s as usize).is_some_and(|t| t.state.is_terminal())).collect();
    let gave_up = || Ok((vec![], Chunking { chunked_to, unchunked: None }));
    if done.len() > MAX_CHUNKED {
        return gave_up();
    }
    let mut parts = Vec::new();
    for group in done.chunks(CHUNK_RUNS) {
        if !encode_parts(e, group, &mut parts)? {
            return gave_up();
        }
    }
    let total = parts.iter().map(|(_, b)| b.len()).sum::<usize>();
    if total > SAVE_BYTES {
        return gave_up();
    }
    if total > room() {
        return Ok((vec![], after));
    }
    Ok((parts, Chunking { chunked_to: version, unchunked: Some(Vec::new()) }))
}

/// The writes of the `parts` a save of execution `id` at `version` chunks.
pub(super) fn part_writes(fs: &FsClient, id: &str, version: u64, parts: Vec<Part>) -> Vec<Write> {
    parts
        .into_iter()
        .enumerate()
        .map(|(i, (count, b))| {
            set(document(
                fs.name(&chunk_path(id, version, i)),
                vec![
                    ("version", int(i64::try_from(version).unwrap_or(i64::MAX))),
                    ("count", int(count as i64)),
                    ("runs", bytes(b)),
                ],
            ))
        })
        .collect()
}

/// Compresses the task runs at `seqs` into one part, or into halves when
/// over [`PART_BYTES`]; `false` when a single task run is over it.
fn encode_parts(e: &Execution, seqs: &[u32], out: &mut Vec<Part>) -> Result<bool> {
    let entries: Vec<(u32, &TaskRun)> = seqs.iter().map(|&s| (s, &e.task_run_list[s as usize])).collect();
    let b = compress(&entries)?;
    if b.len() <= PART_BYTES {
        out.push((seqs.len(), b));
        return Ok(true);
    }
    if seqs.len() == 1 {
        return Ok(false);
    }
    let (a, z) = seqs.split_at(seqs.len() / 2);
    Ok(encode_parts(e, a, out)? && encode_parts(e, z, out)?)
}

fn codec_error(what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Database { what: format!("Firestore {what}"), message: e.to_string() }
}

fn compress(entries: &[(u32, &TaskRun)]) -> Result<Vec<u8>> {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::fast());
    serde_json::to_writer(&mut z, entries).map_err(|e| codec_error("encode task run chunk", e))?;
    z.flush().map_err(|e| codec_error("encode task run chunk", e))?;
    z.finish().map_err(|e| codec_error("encode task run chunk", e))
}

fn decompress(doc: &Document) -> Result<Vec<(u32, TaskRun)>> {
    const WHAT: &str = "load task run chunk";
    let mut text = Vec::new();
    ZlibDecoder::new(get_bytes(doc, "runs", WHAT)?)
        .read_to_end(&mut text)
        .map_err(|e| codec_error(WHAT, format!("{}: {e}", doc.name)))?;
    serde_json::from_slice(&text).map_err(|e| codec_error(WHAT, format!("{}: {e}", doc.name)))
}

/// The task runs of execution `id` (`count` of them, chunked to version
/// `chunked_to`) from its chunks, its unfinished task runs and those written
/// after `chunked_to`, read in transaction `tx`, with the positions written
/// after `chunked_to`; `None` when they do not make positions `0..count`.
pub(super) async fn load_chunked(
    fs: &FsClient,
    id: &str,
    tx: &[u8],
    chunked_to: u64,
    count: usize,
) -> Result<Option<(Vec<TaskRun>, Vec<u32>)>> {
    let parent = execution_path(id);
    let open = any_of("state", OPEN_STATES.iter().map(|s| string(s.as_str())).collect());
    let since = gt("version", int(i64::try_from(chunked_to).unwrap_or(i64::MAX)));
    // three queries at once, in the one transaction: one round trip's wait
    let (chunks, open, later) = futures::try_join!(
        fs.query("load task run chunks", &parent, select(CHUNKS, None, vec![], None), tx),
        fs.query("load unfinished task runs", &parent, select(TASK_RUNS, Some(open), vec![], None), tx),
        fs.query("load task runs", &parent, select(TASK_RUNS, Some(since), vec![], None), tx),
    )?;
    let mut pieces = Vec::with_capacity(chunks.len());
    for c in &chunks {
        let v = get_int(c, "version", "load task run chunk")?;
        // a chunk is written with its head: none is newer than `chunked_to`
        if u64::try_from(v).is_ok_and(|v| v <= chunked_to) {
            pieces.push((v, c.name.clone(), decompress(c)?));
        }
    }
    let runs = |docs: &[Document]| -> Result<Vec<(i64, TaskRun)>> {
        docs.iter().map(|d| Ok((get_int(d, "seq", "load task run")?, get_json(d, "body", "load task run")?))).collect()
    };
    Ok(assemble(count, pieces, runs(&open)?, runs(&later)?))
}

/// A chunk as read: its version, its document name and its `(seq, task run)` entries.
pub(super) type Piece = (i64, String, Vec<(u32, TaskRun)>);

/// The list of `count` task runs from `chunks` (`(version, name, entries)`;
/// a later one overrides an earlier one), then the unfinished documents
/// (`open`), then those written after the chunks (`later`, whose positions
/// are returned too); `None` when a position is out of range or left empty.
pub(super) fn assemble(
    count: usize,
    mut chunks: Vec<Piece>,
    open: Vec<(i64, TaskRun)>,
    later: Vec<(i64, TaskRun)>,
) -> Option<(Vec<TaskRun>, Vec<u32>)> {
    let mut list: Vec<Option<TaskRun>> = vec![None; count];
    chunks.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    for (_, _, entries) in chunks {
        for (seq, tr) in entries {
            *list.get_mut(seq as usize)? = Some(tr);
        }
    }
    let unchunked = later.iter().map(|(seq, _)| u32::try_from(*seq).ok()).collect::<Option<Vec<u32>>>()?;
    for (seq, tr) in open.into_iter().chain(later) {
        *list.get_mut(usize::try_from(seq).ok()?)? = Some(tr);
    }
    Some((list.into_iter().collect::<Option<Vec<_>>>()?, unchunked))
}

#[cfg(test)]
#[path = "firestore_chunks_tests.rs"]
mod tests;
