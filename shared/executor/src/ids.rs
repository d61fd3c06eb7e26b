//! Deterministic ids: a task run's id is derived from its execution, task,
//! parent and iteration value, so recomputing a step never invents a second
//! task run for the same slot, and a replayed step yields the same ids.
//!
//! Two shapes, both 22 base62 characters, chosen with the execution ids
//! (`model::ids`): where ids are random (Firestore, which wants keys spread)
//! the whole id is a hash of those parts. Where ids are in time order
//! (SQLite, whose B-trees want keys that land on few pages) the id is
//! `execution prefix (8) · position (4) · hash (10)`: the first 8 characters
//! of the execution's id (its time, to ~10 ms), the task run's position in
//! the execution's list when it was made, then 60 bits of the hash. So an
//! execution's task runs sort in the order they were made, right after those
//! of the executions made before it: a step's claim, task-run and metric
//! rows go to the rightmost leaf of each B-tree instead of a random one (a
//! chain of 10,000 wrote ~12 WAL pages per task run with hashed ids). The
//! position is read from the stored execution, so a step computed again
//! from the same state derives the same id; the executor finds a slot's task
//! run by task, parent and value, never by recomputing its id, so either
//! shape, and executions begun under the other, work alike.

use sha2::{Digest, Sha256};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The hash of `parts` as a number.
fn hash(parts: &[&str]) -> u128 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    u128::from_be_bytes(digest[..16].try_into().unwrap_or([0u8; 16]))
}

/// `len` base62 digits of `n`, least significant first (the hashed shape).
fn push_low_first(out: &mut String, mut n: u128, len: usize) {
    for _ in 0..len {
        out.push(ALPHABET[(n % 62) as usize] as char);
        n /= 62;
    }
}

/// `len` (at most 22) base62 digits of `n` (mod 62^len), most significant
/// first, so that the strings sort as the numbers do.
fn push_high_first(out: &mut String, mut n: u128, len: usize) {
    let mut digits = [b'0'; 22];
    for d in digits[..len].iter_mut().rev() {
        *d = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out.extend(digits[..len].iter().map(|&b| b as char));
}

/// A 22-character base62 id from the given parts.
pub(crate) fn derive(parts: &[&str]) -> String {
    let mut out = String::with_capacity(22);
    push_low_first(&mut out, hash(parts), 22);
    out
}

/// The id of the child execution a Subflow's task run `task_run_id` of
/// execution `execution_id` starts: derived, so every copy of the start
/// names one child (the launcher creates an absent id only).
pub fn subflow_child_id(execution_id: &str, task_run_id: &str) -> String {
    derive(&[execution_id, task_run_id, "subflow"])
}

/// The id of the task run of `task_id` under `parent` for `value`, made at
/// `position` in its execution's list.
pub fn task_run_id(
    execution_id: &str,
    position: usize,
    task_id: &str,
    parent: Option<&str>,
    value: Option<&str>,
) -> String {
    let parts = [execution_id, task_id, parent.unwrap_or("-"), value.unwrap_or("\u{1}")];
    if baton_model::ids::ids_ordered() { ordered(&parts, position) } else { derive(&parts) }
}

/// The position an ordered id (see the module's header) was made at,
/// modulo 62⁴ (its characters 8..12), or `None` when those are not base62.
/// Any 22-character id reads as some number: a caller checks that the task
/// run at that position has this id before trusting it (the executor's
/// index finds a task run by id this way, without a hash table, where ids
/// are ordered).
pub(crate) fn position_in(id: &str) -> Option<usize> {
    if id.len() != 22 {
        return None;
    }
    id.as_bytes()[8..12].iter().try_fold(0usize, |n, &b| {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A' + 10,
            b'a'..=b'z' => b - b'a' + 36,
            _ => return None,
        };
        Some(n * 62 + usize::from(d))
    })
}

/// The time-ordered shape (see the module's header).
pub(super) fn ordered(parts: &[&str; 4], position: usize) -> String {
    let mut out = String::with_capacity(22);
    match parts[0].get(..8) {
        Some(prefix) if prefix.bytes().all(|b| b.is_ascii_alphanumeric()) => out.push_str(prefix),
        _ => {
            // an execution id of another shape: its hash stands in
            push_high_first(&mut out, hash(&parts[..1]), 8)
        }
    }
    push_high_first(&mut out, position as u128, 4);
    push_high_first(&mut out, hash(parts), 10);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_distinct() {
        let a = task_run_id("e", 0, "t", None, None);
        assert_eq!(a, task_run_id("e", 0, "t", None, None));
        assert_ne!(a, task_run_id("e", 0, "t", None, Some("1")));
        assert_ne!(a, task_run_id("e", 0, "u", None, None));
        assert_eq!(a.len(), 22);
    }

    /// The ordered shape: the execution's prefix, then the position, so
    /// one execution's task runs sort in the order they were made; still
    /// distinct by task, parent and value at one position.
    #[test]
    fn ordered_ids_sort_by_execution_then_position() {
        let (e1, e2) = ("03545ab27p7pWuqWNwCwq3", "03545ab3xxxxxxxxxxxxxx");
        let ids: Vec<String> = (0..200).map(|p| ordered(&[e1, "t", "-", "\u{1}"], p)).collect();
        assert!(ids.iter().all(|i| i.len() == 22 && i.bytes().all(|b| b.is_ascii_alphanumeric())));
        assert!(ids.iter().all(|i| i.starts_with("03545ab2")), "{}", ids[0]);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "in the order they were made");
        assert!(ids.last() < Some(&ordered(&[e2, "t", "-", "\u{1}"], 0)), "before a later execution's");
        let a = ordered(&[e1, "t", "-", "\u{1}"], 7);
        assert_eq!(a, ordered(&[e1, "t", "-", "\u{1}"], 7));
        assert_ne!(a, ordered(&[e1, "t", "-", "1"], 7));
        assert_ne!(a, ordered(&[e1, "t", "p", "\u{1}"], 7));
        assert_ne!(a, ordered(&[e1, "u", "-", "\u{1}"], 7));
        // the position reads back (modulo 62^4)
        for p in [0, 7, 61, 62, 199, 100_000, 62usize.pow(4) - 1] {
            assert_eq!(position_in(&ordered(&[e1, "t", "-", "\u{1}"], p)), Some(p));
        }
        assert_eq!(position_in(&ordered(&[e1, "t", "-", "\u{1}"], 62usize.pow(4) + 5)), Some(5));
        assert_eq!(position_in("short"), None);
        assert_eq!(position_in("03545ab2-_-_xxxxxxxxxx"), None);
        // a short or odd execution id still gives 22 base62 characters
        let odd = ordered(&["e-1", "t", "-", "\u{1}"], 3);
        assert!(odd.len() == 22 && odd.bytes().all(|b| b.is_ascii_alphanumeric()), "{odd}");
    }
}
