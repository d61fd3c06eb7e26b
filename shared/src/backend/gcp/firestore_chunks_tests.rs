//! Unit tests of `firestore_chunks.rs`: when a save chunks, what goes in,
//! the bounds, and how a cold load puts the pieces together.

use chrono::Utc;
use serde_json::json;

use super::*;
use crate::model::State;

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

fn decoded(parts: &[Part]) -> Vec<u32> {
    let mut seqs = Vec::new();
    for (count, b) in parts {
        let mut text = Vec::new();
        ZlibDecoder::new(&b[..]).read_to_end(&mut text).expect("zlib");
        let entries: Vec<(u32, TaskRun)> = serde_json::from_slice(&text).expect("json");
        assert_eq!(entries.len(), *count);
        seqs.extend(entries.into_iter().map(|(s, _)| s));
    }
    seqs
}

#[test]
fn a_save_chunks_every_finished_task_run_written_since_once_enough_were_written() {
    let e = execution(CHUNK_RUNS + 10, CHUNK_RUNS - 3);
    let before = Chunking { chunked_to: 0, unchunked: Some((0..CHUNK_RUNS as u32 - 2).collect()) };
    // one write short: nothing chunked, the position noted
    let (parts, after) = plan(&e, 7, before, &[CHUNK_RUNS - 2], || usize::MAX).expect("plan");
    assert!(parts.is_empty());
    assert_eq!(after.chunked_to, 0);
    assert_eq!(after.unchunked.as_ref().map(Vec::len), Some(CHUNK_RUNS - 1));
    // the next save reaches CHUNK_RUNS writes (one repeated): every finished one goes in
    let (parts, after) = plan(&e, 8, after, &[3, CHUNK_RUNS + 5], || usize::MAX).expect("plan");
    assert_eq!(after, Chunking { chunked_to: 8, unchunked: Some(vec![]) });
    assert_eq!(decoded(&parts), (0..CHUNK_RUNS as u32 - 3).collect::<Vec<_>>(), "the finished ones, in order, once");
    // nothing chunked, but everything written was unfinished: chunked_to moves on
    let e = execution(CHUNK_RUNS, 0);
    let (parts, after) = plan(&e, 9, Chunking::fresh(CHUNK_RUNS), &[], || usize::MAX).expect("plan");
    assert!(parts.is_empty());
    assert_eq!(after, Chunking { chunked_to: 9, unchunked: Some(vec![]) });
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
fn a_save_with_too_much_to_chunk_gives_up_chunking_in_that_copy() {
    let e = execution(MAX_CHUNKED + 1, MAX_CHUNKED + 1);
    let (parts, after) = plan(&e, 2, Chunking::fresh(MAX_CHUNKED + 1), &[], || usize::MAX).expect("plan");
    assert!(parts.is_empty());
    assert_eq!(after, Chunking { chunked_to: 0, unchunked: None });
    let e = execution(MAX_CHUNKED, MAX_CHUNKED);
    let (parts, after) = plan(&e, 2, Chunking::fresh(MAX_CHUNKED), &[], || usize::MAX).expect("plan");
    assert_eq!(parts.len(), MAX_CHUNKED / CHUNK_RUNS, "at the bound: parts of CHUNK_RUNS");
    assert_eq!(after.chunked_to, 2);
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
        tr.outputs = Some(json!({ "text": noise(PART_BYTES / 3, i as u64 + 1) }).as_object().cloned().expect("map"));
    }
    let (parts, after) = plan(&e, 3, Chunking::fresh(CHUNK_RUNS), &[], || usize::MAX).expect("plan");
    assert!(parts.len() > 1, "split");
    assert!(parts.iter().all(|(_, b)| b.len() <= PART_BYTES));
    assert_eq!(decoded(&parts), (0..CHUNK_RUNS as u32).collect::<Vec<_>>());
    assert_eq!(after.chunked_to, 3);
    e.task_run_list[7].outputs =
        Some(json!({ "text": noise(PART_BYTES * 3 / 2, 9) }).as_object().cloned().expect("map"));
    let (parts, after) = plan(&e, 3, Chunking::fresh(CHUNK_RUNS), &[], || usize::MAX).expect("plan");
    assert!(parts.is_empty());
    assert_eq!(after.unchunked, None);
}

#[test]
fn a_cold_load_takes_later_chunks_over_earlier_and_documents_over_chunks() {
    let e = execution(4, 4);
    let mut restarted = e.task_run_list[1].clone();
    restarted.state = State::new(StateType::Restarted, Utc::now());
    let mut again = e.task_run_list[1].clone();
    again.value = Some("again".into());
    let chunks = vec![
        (9, "b".to_string(), vec![(1, again.clone())]),
        (5, "a".to_string(), vec![(0, e.task_run_list[0].clone()), (1, e.task_run_list[1].clone())]),
    ];
    let later = vec![(3, e.task_run_list[3].clone())];
    let open = vec![(2, e.task_run_list[2].clone())];
    let (list, unchunked) = assemble(4, chunks.clone(), open.clone(), later.clone()).expect("fits");
    assert_eq!(list[1], again, "the chunk of version 9 wins over version 5");
    assert_eq!(list[2], e.task_run_list[2]);
    assert_eq!(unchunked, vec![3]);
    let open_too = vec![(1, restarted), open[0].clone()];
    let (list, _) = assemble(4, chunks.clone(), open_too, later.clone()).expect("fits");
    assert_eq!(list[1].state.current, StateType::Restarted, "an unfinished document wins over any chunk");
    assert_eq!(assemble(4, chunks.clone(), vec![], later.clone()), None, "position 2 missing");
    assert_eq!(assemble(3, chunks, open, later), None, "position 3 out of range");
}

#[test]
fn a_save_whose_commit_has_no_room_for_its_chunks_leaves_them_to_a_later_one() {
    let e = execution(CHUNK_RUNS, CHUNK_RUNS);
    let (parts, after) = plan(&e, 5, Chunking::fresh(CHUNK_RUNS), &[1], || 10).expect("plan");
    assert!(parts.is_empty());
    assert_eq!(after.chunked_to, 0, "nothing chunked");
    assert_eq!(after.unchunked.as_ref().map(Vec::len), Some(CHUNK_RUNS + 1), "the positions kept for the next save");
    let (parts, after) = plan(&e, 6, after, &[], || usize::MAX).expect("plan");
    assert_eq!(decoded(&parts), (0..CHUNK_RUNS as u32).collect::<Vec<_>>());
    assert_eq!(after.chunked_to, 6);
}
