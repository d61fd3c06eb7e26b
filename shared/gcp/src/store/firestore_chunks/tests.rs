//! Unit tests of `firestore_chunks.rs`: when a save chunks, what goes in,
//! the bounds, and how a cold load puts the pieces together.

use chrono::Utc;
use serde_json::json;

use super::*;
use baton_model::{State, StateType};

fn run(e: &Execution, n: usize, state: StateType) -> TaskRun {
    serde_json::from_value(json!({
        "id": format!("{}-tr{n}", e.id), "executionId": e.id, "namespace": e.namespace, "flowId": e.flow_id,
        "taskId": "item", "value": format!("v{n}"), "state": State::new(state, Utc::now()), "iteration": n,
    }))
    .expect("a task run")
}

/// An execution of `n` task runs, the first `done` of them finished.
fn execution(n: usize, done: usize) -> Execution {
    let mut e = Execution::new("ex".into(), "test", "flow", 1, Default::default(), vec![], Utc::now());
    e.task_run_list =
        (0..n).map(|i| run(&e, i, if i < done { StateType::Success } else { StateType::Running })).collect();
    e
}

/// The positions in `parts`, checked against the positions each says it holds.
fn decoded(parts: &[Part]) -> Vec<u32> {
    let mut seqs = Vec::new();
    for (said, b) in parts {
        let entries = decompress("part", b).expect("a part");
        let held: Vec<u32> = entries.into_iter().map(|(s, _)| s).collect();
        assert_eq!(&held, said);
        assert_eq!(unpack(&pack(said)).as_ref(), Some(said));
        seqs.extend(held);
    }
    seqs
}

#[test]
fn a_save_chunks_every_task_run_written_since_once_enough_were_written() {
    let e = execution(CHUNK_RUNS + 10, CHUNK_RUNS - 3);
    let before = Chunking { chunked_to: 0, unchunked: Some((0..CHUNK_RUNS as u32 - 2).collect()) };
    // one write short: nothing chunked, the position noted
    let (parts, after) = plan(&e, 7, before, &[CHUNK_RUNS - 2], || usize::MAX).expect("plan");
    assert!(parts.is_empty());
    assert_eq!(after.chunked_to, 0);
    assert_eq!(after.unchunked.as_ref().map(Vec::len), Some(CHUNK_RUNS - 1));
    // the next save reaches CHUNK_RUNS writes (one repeated): each goes in once, finished or not
    let (parts, after) = plan(&e, 8, after, &[3, CHUNK_RUNS + 5], || usize::MAX).expect("plan");
    assert_eq!(after, Chunking { chunked_to: 8, unchunked: Some(vec![]) });
    let mut want: Vec<u32> = (0..CHUNK_RUNS as u32 - 1).collect();
    want.push(CHUNK_RUNS as u32 + 5);
    assert_eq!(decoded(&parts), want, "in order, once");
    assert!(e.task_run_list[CHUNK_RUNS + 5].state.current == StateType::Running, "an unfinished one is chunked too");
}

#[test]
fn a_copy_that_does_not_know_what_was_written_never_chunks() {
    let e = execution(3 * CHUNK_RUNS, 3 * CHUNK_RUNS);
    let before = Chunking { chunked_to: 4, unchunked: None };
    let changed: Vec<usize> = (0..2 * CHUNK_RUNS).collect();
    let (parts, after) = plan(&e, 9, before.clone(), &changed, || usize::MAX).expect("plan");
    assert!(parts.is_empty());
    assert_eq!(after, before, "chunked_to kept, still unknown");
}

#[test]
fn a_fan_out_larger_than_one_save_chunks_is_chunked_over_the_next_saves() {
    let n = MAX_CHUNKED + 700;
    let e = execution(n, 0);
    // the save that creates them chunks MAX_CHUNKED and leaves the rest pending
    let (parts, after) = plan(&e, 2, Chunking::fresh(n), &[], || usize::MAX).expect("plan");
    assert_eq!(parts.len(), MAX_CHUNKED / CHUNK_RUNS, "parts of CHUNK_RUNS");
    assert_eq!(decoded(&parts), (0..MAX_CHUNKED as u32).collect::<Vec<_>>());
    assert_eq!(after, Chunking { chunked_to: 0, unchunked: Some((MAX_CHUNKED as u32..n as u32).collect()) });
    // a later save rewrites two chunked ones: pending again, chunked with the rest; chunked_to moves
    let (parts, after) = plan(&e, 3, after, &[0, 1], || usize::MAX).expect("plan");
    let mut want = vec![0, 1];
    want.extend(MAX_CHUNKED as u32..n as u32);
    assert_eq!(decoded(&parts), want);
    assert_eq!(after, Chunking { chunked_to: 3, unchunked: Some(vec![]) });
}

/// Output text that compresses badly: `len` bytes of base64 of a
/// pseudo-random sequence.
fn noise(len: usize, seed: u64) -> String {
    use base64::Engine as _;
    let mut x = seed | 1;
    let raw: Vec<u8> = (0..len * 3 / 4)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[test]
fn a_part_over_the_document_limit_is_split_and_a_task_run_over_it_stops_chunking() {
    let mut e = execution(CHUNK_RUNS, CHUNK_RUNS);
    for (i, tr) in e.task_run_list.iter_mut().enumerate().take(4) {
        tr.outputs =
            Some(Box::new(json!({ "text": noise(PART_BYTES / 3, i as u64 + 1) }).as_object().cloned().expect("map")));
    }
    let (parts, after) = plan(&e, 3, Chunking::fresh(CHUNK_RUNS), &[], || usize::MAX).expect("plan");
    assert!(parts.len() > 1, "split");
    assert!(parts.iter().all(|(_, b)| b.len() <= PART_BYTES));
    assert_eq!(decoded(&parts), (0..CHUNK_RUNS as u32).collect::<Vec<_>>());
    assert_eq!(after.chunked_to, 3);
    e.task_run_list[7].outputs =
        Some(Box::new(json!({ "text": noise(PART_BYTES * 3 / 2, 9) }).as_object().cloned().expect("map")));
    let (parts, after) = plan(&e, 3, Chunking::fresh(CHUNK_RUNS), &[], || usize::MAX).expect("plan");
    assert!(parts.is_empty());
    assert_eq!(after.unchunked, None);
}

fn piece(version: i64, name: &str, entries: &[(u32, TaskRun)]) -> Piece {
    let refs: Vec<(u32, &TaskRun)> = entries.iter().map(|(s, t)| (*s, t)).collect();
    Piece {
        version,
        name: name.into(),
        seqs: entries.iter().map(|(s, _)| *s).collect(),
        runs: compress(&refs).expect("compress"),
    }
}

#[test]
fn a_cold_load_takes_documents_over_chunks_and_newer_chunks_over_older() {
    let e = execution(4, 4);
    let t = |i: usize| e.task_run_list[i].clone();
    let mut again = t(1);
    again.value = Some("again".into());
    let mut restarted = t(2);
    restarted.state = State::new(StateType::Restarted, Utc::now());
    let chunks =
        vec![piece(9, "b", &[(1, again.clone()), (2, t(2))]), piece(5, "a", &[(0, t(0)), (1, t(1)), (2, t(2))])];
    let later = vec![(3, t(3)), (2, restarted.clone())];
    let (list, unchunked) = assemble(4, chunks.clone(), later.clone()).expect("inflates").expect("fits");
    assert_eq!(list[0], t(0));
    assert_eq!(list[1], again, "the chunk of version 9 wins over version 5");
    assert_eq!(list[2], restarted, "a document written after the chunks wins over any chunk");
    assert_eq!(list[3], t(3));
    assert_eq!(unchunked, vec![3, 2]);
    // a chunk whose positions are all covered by newer pieces is not inflated
    let mut covered = chunks.clone();
    covered.push(Piece { version: 1, name: "old".into(), seqs: vec![1, 2], runs: b"not zlib".to_vec() });
    assert!(assemble(4, covered.clone(), later.clone()).expect("not inflated").is_some());
    covered.last_mut().expect("old").seqs = vec![0, 1];
    covered.remove(1);
    assert!(assemble(4, covered, later.clone()).is_err(), "one needed is inflated, and says what is wrong");
    assert_eq!(assemble(4, vec![chunks[0].clone()], later.clone()).expect("inflates"), None, "position 0 missing");
    let four = vec![piece(3, "c", &[(0, t(0)), (1, t(1)), (2, t(2)), (3, t(3))])];
    assert_eq!(assemble(3, four, vec![]).expect("inflates"), None, "a chunk's position 3 out of range");
    assert_eq!(assemble(4, chunks, vec![(7, t(3))]).expect("inflates"), None, "a document out of range");
}

#[test]
fn a_save_whose_commit_has_little_room_chunks_what_fits_and_leaves_the_rest() {
    let e = execution(2 * CHUNK_RUNS, CHUNK_RUNS);
    let (parts, after) = plan(&e, 5, Chunking::fresh(2 * CHUNK_RUNS), &[1], || 10).expect("plan");
    assert!(parts.is_empty());
    assert_eq!(after.chunked_to, 0, "nothing chunked");
    assert_eq!(after.unchunked.as_ref().map(Vec::len), Some(2 * CHUNK_RUNS), "the positions kept for the next save");
    let (all, _) = plan(&e, 6, after.clone(), &[], || usize::MAX).expect("plan");
    let first = all[0].1.len();
    let (parts, after) = plan(&e, 6, after, &[], || first + 10).expect("plan");
    assert_eq!(decoded(&parts), (0..CHUNK_RUNS as u32).collect::<Vec<_>>(), "the first part fits");
    assert_eq!(
        after,
        Chunking { chunked_to: 0, unchunked: Some((CHUNK_RUNS as u32..2 * CHUNK_RUNS as u32).collect()) }
    );
    let (parts, after) = plan(&e, 7, after, &[], || usize::MAX).expect("plan");
    assert_eq!(decoded(&parts), (CHUNK_RUNS as u32..2 * CHUNK_RUNS as u32).collect::<Vec<_>>());
    assert_eq!(after.chunked_to, 7);
}

/// A store's copy as `firestore.rs` keeps it: the version and the chunking there.
type Copy = Option<(u64, Chunking)>;

/// The chunking a writer holding `kept` knows after loading the head at
/// `version` (chunked to `chunked_to`), as `FirestoreStore::load` derives
/// it: its copy when at that version, else [`Chunking::loaded`] from the
/// documents it reads (written after its copy, or, cold, after
/// `chunked_to`).
fn loaded(kept: Copy, version: u64, chunked_to: u64, docs: &[(u64, TaskRun)]) -> Chunking {
    if let Some((v, c)) = &kept
        && *v == version
    {
        return c.clone();
    }
    let read_after = kept.as_ref().map_or(chunked_to, |(v, _)| *v).max(chunked_to);
    let since = docs.iter().enumerate().filter(|(_, (w, _))| *w > read_after).map(|(s, _)| s as u32).collect();
    Chunking::loaded(kept.map(|(_, c)| c), chunked_to, since)
}

#[test]
fn whatever_saves_chunk_and_whoever_saves_a_cold_load_is_the_execution() {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rand = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut e = execution(600, 0);
    // the stored state: each position's document (its version, its content), the chunks, the head
    let mut docs: Vec<(u64, TaskRun)> = e.task_run_list.iter().map(|t| (1, t.clone())).collect();
    let mut chunks: Vec<Piece> = Vec::new();
    let (mut version, mut chunked_to) = (1u64, 0u64);
    // two instances saving in turn, each forgetting its copy now and then (a cold one)
    let mut copies: [Copy; 2] = [Some((1, Chunking::fresh(600))), None];
    let (mut partial, mut settled) = (0, 0);
    for _ in 0..70 {
        let w = rand(2) as usize;
        if rand(6) == 0 {
            copies[w] = None;
        }
        let before = loaded(copies[w].take(), version, chunked_to, &docs);
        // change some task runs, now and then a fan-out of new ones
        let new_version = version + 1;
        let mut changed: Vec<usize> = (0..rand(400)).map(|_| rand(e.task_run_list.len() as u64) as usize).collect();
        if rand(8) == 0 {
            let n = e.task_run_list.len();
            for i in n..n + 300 + rand(700) as usize {
                let tr = run(&e, i, StateType::Created);
                e.task_run_list.push(tr);
                changed.push(i);
            }
        }
        for &s in &changed {
            e.task_run_list[s].value = Some(format!("v{s}@{new_version}"));
        }
        // a commit with room for everything, for nothing, or for a part or two (a part is about 15 KB)
        let room = match rand(4) {
            0 => 0,
            1 | 2 => 16_500 + rand(20_000) as usize,
            _ => usize::MAX,
        };
        let (parts, after) = plan(&e, new_version, before, &changed, || room).expect("plan");
        if !parts.is_empty() {
            if after.chunked_to == new_version { settled += 1 } else { partial += 1 }
        }
        // the commit: the head, the changed documents, the chunks
        docs.resize_with(e.task_run_list.len(), || (0, e.task_run_list[0].clone()));
        for &s in &changed {
            docs[s] = (new_version, e.task_run_list[s].clone());
        }
        for (i, (seqs, runs)) in parts.into_iter().enumerate() {
            chunks.push(Piece { version: new_version as i64, name: format!("{i}"), seqs, runs });
        }
        version = new_version;
        chunked_to = after.chunked_to;
        copies[w] = Some((version, after));
        // a cold load: the settled chunks and the documents written after them
        let pieces: Vec<Piece> = chunks.iter().filter(|c| c.version as u64 <= chunked_to).cloned().collect();
        let later: Vec<(i64, TaskRun)> = docs
            .iter()
            .enumerate()
            .filter(|(_, (v, _))| *v > chunked_to)
            .map(|(s, (_, t))| (s as i64, t.clone()))
            .collect();
        let (list, _) = assemble(e.task_run_list.len(), pieces, later).expect("inflates").expect("fits");
        assert!(list == e.task_run_list, "a cold load after version {version} (chunked to {chunked_to}) differs");
    }
    assert!(settled > 3 && partial > 3, "the saves chunked whole ({settled}) and in part ({partial})");
}
