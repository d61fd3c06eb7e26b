//! Chunks of task runs: what lets an instance that kept nothing (a cold
//! one) load a large execution from a few documents instead of one
//! document per task run.
//!
//! Every task run keeps its own document (`taskRuns`, rewritten by each
//! save that changes it; warm loads read those written since their copy).
//! Besides them a save may write *chunks*,
//! `executions/{id}/taskRunChunks/{version}-{part}`: up to [`CHUNK_RUNS`]
//! task runs each, finished or not, as zlib-compressed JSON
//! `[[seq, taskRun], …]` with their positions beside (`seqs`, so a load can
//! pass over a chunk that newer pieces cover without inflating it), and set
//! the head's `chunkedTo` to a version V. What every save keeps true:
//! **a task run whose document was last written at a version ≤ V is, with
//! that content, in the chunk of the highest version ≤ V holding it.**
//!
//! A save chunks once at least [`CHUNK_RUNS`] task-run writes are pending
//! (written and not chunked since), in the same atomic commit as the head,
//! and only from a copy that knows every pending position (the store's copy
//! at the version it saves on, [`Chunking::unchunked`]). It chunks what one
//! commit can carry — at most [`MAX_CHUNKED`] task runs and [`SAVE_BYTES`],
//! within the room its own writes leave ([`COMMIT_BYTES`]) — and moves V to
//! its version only when nothing is left pending; otherwise the rest waits
//! for the next saves (a fan-out of 10,000 iterations is chunked over two).
//! Chunks of versions above V are passed over by loads until V reaches
//! them: a task run written again before then is pending again, so the
//! chunk that settles it is newer.
//!
//! A cold load reads, in one read-only transaction: the head (`chunkedTo`,
//! `taskRunCount`), every chunk and the task runs written after V
//! (`version > V`). Documents override chunks, newer chunks older ones. A
//! position left empty means the pieces do not fit: the load then reads
//! every document (`firestore.rs`). A ForEach of 10,000 iterations loads,
//! running or ended, from its head, its chunks (about one per 500 task-run
//! writes; a task run written three times is in up to three) and at most a
//! few hundred recent documents, instead of 10,001 documents. It still reads
//! every task run's bytes (compressed) and builds the whole list: what the
//! executor steps on.
//!
//! Bounds: a part ≤ [`PART_BYTES`] compressed (a part over it is split;
//! Firestore's document limit is 1 MiB); a task run alone over it stops
//! chunking in that copy (`unchunked: None`; loads stay right, reading
//! documents). Chunks are never rewritten; they are deleted with the
//! execution.

use std::io::{Read, Write as _};

use firestore::gcloud_sdk::google::firestore::v1::Write;
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use super::firestore::{TASK_RUNS, execution_path};
use super::fs_client::{FsClient, bytes, doc_id, document, get_bytes, get_int, get_json, gt, int, select, set};
use baton_backend::{BackendError, Result};
use baton_model::{Execution, TaskRun};

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
/// Most task runs one save chunks (the rest wait for the next saves).
pub(super) const MAX_CHUNKED: usize = 16 * CHUNK_RUNS;

/// What a store knows of an execution's chunks at one version.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Chunking {
    /// The head's `chunkedTo` (0: never chunked).
    pub chunked_to: u64,
    /// Every position written and not chunked since (repeats allowed; one
    /// chunked again meanwhile may be among them); `None` when not known,
    /// and then no chunking.
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

    /// What a load of a head chunked to `chunked_to` knows: from the copy's
    /// chunking (`kept`; `None` for a cold load) and the positions it read
    /// documents of written after `chunked_to` (`since`). When the head was
    /// chunked after the copy, those are all that is pending.
    pub fn loaded(kept: Option<Chunking>, chunked_to: u64, since: Vec<u32>) -> Chunking {
        match kept {
            Some(k) if k.chunked_to == chunked_to => k.written(since),
            _ => Chunking { chunked_to, unchunked: Some(since) },
        }
    }
}

/// `executions/{id}/taskRunChunks/{version}-{part}`.
pub fn chunk_path(execution_id: &str, version: u64, part: usize) -> String {
    format!("{}/{CHUNKS}/{}", execution_path(execution_id), doc_id(&format!("{version:012}-{part:04}")))
}

/// A compressed chunk document's content: its positions and the bytes.
pub(super) type Part = (Vec<u32>, Vec<u8>);

/// The chunks a save writes (compressed parts) and the chunking after it,
/// for a save at `version` from `before` (the chunking at the version it
/// replaces) and the positions it writes (`changed`), its chunks within
/// `room()` bytes (what its commit leaves, asked only when it chunks). What
/// does not fit stays pending for a later save. Pure: no I/O.
pub(super) fn plan(
    e: &Execution,
    version: u64,
    before: Chunking,
    changed: &[usize],
    room: impl FnOnce() -> usize,
) -> Result<(Vec<Part>, Chunking)> {
    let n = e.task_run_list.len();
    let after = before.written(changed.iter().filter(|&&s| s < n).map(|&s| s as u32));
    match after.unchunked.as_ref().filter(|w| w.len() >= CHUNK_RUNS) {
        Some(written) => chunk_now(e, version, after.chunked_to, written, room),
        None => Ok((vec![], after)),
    }
}

/// [`plan`] once it is time to chunk: the task runs at `written` (repeats
/// allowed) chunked, within `room()` bytes and [`MAX_CHUNKED`] task runs,
/// the rest pending; `chunked_to` moves to `version` when none is left.
pub(super) fn chunk_now(
    e: &Execution,
    version: u64,
    chunked_to: u64,
    written: &[u32],
    room: impl FnOnce() -> usize,
) -> Result<(Vec<Part>, Chunking)> {
    let n = e.task_run_list.len();
    let mut seqs: Vec<u32> = written.iter().copied().filter(|&s| (s as usize) < n).collect();
    seqs.sort_unstable();
    seqs.dedup();
    let budget = room().min(SAVE_BYTES);
    let (mut parts, mut total, mut taken) = (Vec::new(), 0, 0);
    for group in seqs.chunks(CHUNK_RUNS).take(MAX_CHUNKED / CHUNK_RUNS) {
        let mut these = Vec::new();
        if !encode_parts(e, group, &mut these)? {
            // a task run too large for any chunk: this copy stops chunking
            return Ok((vec![], Chunking { chunked_to, unchunked: None }));
        }
        let size = these.iter().map(|(_, b)| b.len()).sum::<usize>();
        if total + size > budget {
            break;
        }
        total += size;
        taken += group.len();
        parts.extend(these);
    }
    let rest = seqs.split_off(taken);
    let chunked_to = if rest.is_empty() { version } else { chunked_to };
    Ok((parts, Chunking { chunked_to, unchunked: Some(rest) }))
}

/// The writes of the `parts` a save of execution `id` at `version` chunks.
pub(super) fn part_writes(fs: &FsClient, id: &str, version: u64, parts: Vec<Part>) -> Vec<Write> {
    parts
        .into_iter()
        .enumerate()
        .map(|(i, (seqs, b))| {
            set(document(
                fs.name(&chunk_path(id, version, i)),
                vec![
                    ("version", int(i64::try_from(version).unwrap_or(i64::MAX))),
                    ("seqs", bytes(pack(&seqs))),
                    ("runs", bytes(b)),
                ],
            ))
        })
        .collect()
}

/// Positions as little-endian `u32`s.
fn pack(seqs: &[u32]) -> Vec<u8> {
    seqs.iter().flat_map(|s| s.to_le_bytes()).collect()
}

fn unpack(b: &[u8]) -> Option<Vec<u32>> {
    b.len().is_multiple_of(4).then(|| b.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// Compresses the task runs at `seqs` into one part, or into halves when
/// over [`PART_BYTES`]; `false` when a single task run is over it.
fn encode_parts(e: &Execution, seqs: &[u32], out: &mut Vec<Part>) -> Result<bool> {
    let entries: Vec<(u32, &TaskRun)> = seqs.iter().map(|&s| (s, &e.task_run_list[s as usize])).collect();
    let b = compress(&entries)?;
    if b.len() <= PART_BYTES {
        out.push((seqs.to_vec(), b));
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

fn decompress(name: &str, runs: &[u8]) -> Result<Vec<(u32, TaskRun)>> {
    const WHAT: &str = "load task run chunk";
    let mut text = Vec::new();
    ZlibDecoder::new(runs).read_to_end(&mut text).map_err(|e| codec_error(WHAT, format!("{name}: {e}")))?;
    serde_json::from_slice(&text).map_err(|e| codec_error(WHAT, format!("{name}: {e}")))
}

/// The task runs of execution `id` (`count` of them, chunked to version
/// `chunked_to`) from its chunks and the task runs written after
/// `chunked_to`, read in transaction `tx`, with the positions written after
/// `chunked_to`; `None` when they do not make positions `0..count`.
pub(super) async fn load_chunked(
    fs: &FsClient,
    id: &str,
    tx: &[u8],
    chunked_to: u64,
    count: usize,
) -> Result<Option<(Vec<TaskRun>, Vec<u32>)>> {
    const WHAT: &str = "load task run chunk";
    let parent = execution_path(id);
    let since = gt("version", int(i64::try_from(chunked_to).unwrap_or(i64::MAX)));
    // both queries at once, in the one transaction: one round trip's wait
    let (chunks, later) = futures::try_join!(
        fs.query("load task run chunks", &parent, select(CHUNKS, None, vec![], None), tx),
        fs.query("load task runs", &parent, select(TASK_RUNS, Some(since), vec![], None), tx),
    )?;
    let mut pieces = Vec::with_capacity(chunks.len());
    for c in chunks {
        let v = get_int(&c, "version", WHAT)?;
        // chunks above `chunked_to` are not settled yet (see the module's header)
        if u64::try_from(v).is_ok_and(|v| v <= chunked_to) {
            let seqs = unpack(get_bytes(&c, "seqs", WHAT)?)
                .ok_or_else(|| codec_error(WHAT, format!("{}: its positions are not whole 4-byte numbers", c.name)))?;
            let runs = get_bytes(&c, "runs", WHAT)?.to_vec();
            pieces.push(Piece { version: v, name: c.name, seqs, runs });
        }
    }
    let later = later
        .iter()
        .map(|d| Ok((get_int(d, "seq", "load task run")?, get_json(d, "body", "load task run")?)))
        .collect::<Result<Vec<_>>>()?;
    assemble(count, pieces, later)
}

/// A chunk as read: its version, its document's name, its positions and
/// its compressed task runs.
#[derive(Clone, Debug)]
pub(super) struct Piece {
    pub version: i64,
    pub name: String,
    pub seqs: Vec<u32>,
    pub runs: Vec<u8>,
}

/// The list of `count` task runs from the documents written after the
/// chunks (`later`, whose positions are returned too), then the `chunks`
/// from the newest down, each filling the positions still empty (one whose
/// positions are all filled is not inflated); `None` when a position is out
/// of range or left empty. Pure: no I/O.
pub(super) fn assemble(
    count: usize,
    mut chunks: Vec<Piece>,
    later: Vec<(i64, TaskRun)>,
) -> Result<Option<(Vec<TaskRun>, Vec<u32>)>> {
    let mut list: Vec<Option<TaskRun>> = vec![None; count];
    let mut unchunked = Vec::with_capacity(later.len());
    for (seq, tr) in later {
        let Some(slot) = usize::try_from(seq).ok().and_then(|s| list.get_mut(s)) else { return Ok(None) };
        *slot = Some(tr);
        unchunked.push(seq as u32);
    }
    chunks.sort_by(|a, b| (b.version, &b.name).cmp(&(a.version, &a.name)));
    for c in chunks {
        if c.seqs.iter().any(|&s| s as usize >= count) {
            return Ok(None);
        }
        if c.seqs.iter().all(|&s| list[s as usize].is_some()) {
            continue;
        }
        for (seq, tr) in decompress(&c.name, &c.runs)? {
            match list.get_mut(seq as usize) {
                Some(slot @ None) => *slot = Some(tr),
                Some(Some(_)) => {}
                None => return Ok(None),
            }
        }
    }
    Ok(list.into_iter().collect::<Option<Vec<_>>>().map(|l| (l, unchunked)))
}

#[cfg(test)]
mod tests;
