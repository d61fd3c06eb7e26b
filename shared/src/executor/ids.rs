//! Deterministic ids: a task run's id is derived from its execution, task,
//! parent and iteration value, so recomputing a step never invents a second
//! task run for the same slot, and a replayed step yields the same ids.

use sha2::{Digest, Sha256};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A 22-character base62 id from the given parts.
pub(crate) fn derive(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let mut n = u128::from_be_bytes(digest[..16].try_into().unwrap_or([0u8; 16]));
    let mut out = String::with_capacity(22);
    for _ in 0..22 {
        out.push(ALPHABET[(n % 62) as usize] as char);
        n /= 62;
    }
    out
}

/// The id of the task run of `task_id` under `parent` for `value`.
pub(crate) fn task_run_id(execution_id: &str, task_id: &str, parent: Option<&str>, value: Option<&str>) -> String {
    derive(&[execution_id, task_id, parent.unwrap_or("-"), value.unwrap_or("\u{1}")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_distinct() {
        let a = task_run_id("e", "t", None, None);
        assert_eq!(a, task_run_id("e", "t", None, None));
        assert_ne!(a, task_run_id("e", "t", None, Some("1")));
        assert_ne!(a, task_run_id("e", "u", None, None));
        assert_eq!(a.len(), 22);
    }
}
