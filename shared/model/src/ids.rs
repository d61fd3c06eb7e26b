//! Identifiers: Kestra-style short ids for executions and task runs (22
//! base62 characters), and the slug used in internal-storage paths.
//!
//! Kestra's ids are random. A process whose state is in SQLite asks for
//! ids that begin with the time they were made ([`order_ids_by_time`]):
//! every execution and task run is a key of several B-trees (the tables'
//! primary keys, claims, metrics), and a random key lands on a random page,
//! so each commit wrote a page per tree per row; keys in time order land on
//! the few rightmost pages. That cut the commit's cost by a third and
//! raised `baton server local`'s throughput by a tenth (measured then).
//! Firestore wants the opposite (monotonic document ids make hot spots), so
//! the functions keep random ids. Task-run ids, derived from their
//! execution's, follow the same choice (`executor::ids`). Either kind is 22 base62 characters, and
//! an ordered one still holds 80 random bits.

use std::sync::atomic::{AtomicBool, Ordering};

use rand_like::{ordered_id, random_id};

/// Whether new ids begin with their time (see the module's header).
static ORDERED: AtomicBool = AtomicBool::new(false);

/// From now on, [`new_id`] makes ids that sort in the order they were made
/// (to the millisecond; random within it). For stores whose keys live in
/// B-trees (SQLite); never for Firestore.
pub fn order_ids_by_time() {
    ORDERED.store(true, Ordering::Relaxed);
}

/// Whether this process makes ids in time order ([`order_ids_by_time`]);
/// task-run ids follow (`executor::ids`).
pub fn ids_ordered() -> bool {
    #[cfg(any(test, feature = "testing"))]
    if let Some(ordered) = THREAD_ORDER.with(std::cell::Cell::get) {
        return ordered;
    }
    ORDERED.load(Ordering::Relaxed)
}

#[cfg(any(test, feature = "testing"))]
thread_local! {
    static THREAD_ORDER: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Tests: this thread makes ids of one shape whatever another test (a
/// local store's) asks of the process, so a step taken twice derives the
/// same ids.
#[cfg(any(test, feature = "testing"))]
pub fn pin_id_order_for_this_thread(ordered: bool) {
    THREAD_ORDER.with(|c| c.set(Some(ordered)));
}

/// A new 22-character base62 id, like Kestra's `IdUtils.create()`.
pub fn new_id() -> String {
    if ids_ordered() { ordered_id() } else { random_id() }
}

/// A Kestra-style id (22 base62 characters) derived from `seed`: the same
/// seed always gives the same id (idempotency keys of deliveries).
pub fn derived_id(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let mut n = u128::from_be_bytes(bytes);
    let mut out = String::with_capacity(22);
    for _ in 0..22 {
        out.push(ALPHABET[(n % 62) as usize] as char);
        n /= 62;
    }
    out
}

/// Kestra's slugify for storage paths and the `slugify` filter: lowercase,
/// non-alphanumerics collapsed to `-`, trimmed of `-`.
pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            dash = false;
        } else if c == '_' || c == '.' {
            out.push(c);
            dash = false;
        } else if !dash && !out.is_empty() {
            out.push('-');
            dash = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

mod rand_like {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// 22 base62 characters, most significant first, of the milliseconds
    /// since 1970 (48 bits) followed by 80 random bits: in string order
    /// as in time order (the alphabet is in ASCII order).
    pub fn ordered_id() -> String {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let random = uuid::Uuid::new_v4().as_u128() & ((1u128 << 80) - 1);
        let mut n = ((ms & ((1u128 << 48) - 1)) << 80) | random;
        let mut out = [b'0'; 22];
        for c in out.iter_mut().rev() {
            *c = ALPHABET[(n % 62) as usize];
            n /= 62;
        }
        String::from_utf8(out.to_vec()).expect("ascii")
    }

    /// 22 base62 characters from a v4 UUID (122 random bits).
    pub fn random_id() -> String {
        let mut n = uuid::Uuid::new_v4().as_u128();
        let mut out = Vec::with_capacity(22);
        for _ in 0..22 {
            out.push(ALPHABET[(n % 62) as usize]);
            n /= 62;
        }
        String::from_utf8(out).expect("ascii")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_22_chars_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
    }

    #[test]
    fn ordered_ids_sort_in_the_order_they_were_made() {
        let alphabet = |id: &str| id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric());
        let first = rand_like::ordered_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let many: Vec<String> = (0..100).map(|_| rand_like::ordered_id()).collect();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let last = rand_like::ordered_id();
        assert!(alphabet(&first) && alphabet(&last) && many.iter().all(|i| alphabet(i)));
        assert!(many.iter().all(|id| first < *id && *id < last), "{first} < … < {last}");
        let distinct: std::collections::HashSet<&String> = many.iter().collect();
        assert_eq!(distinct.len(), 100, "random within a millisecond");
        // the time is in front: ids a day apart differ in their first characters
        assert_eq!(first[..4], many[0][..4]);
    }

    #[test]
    fn slugify_like_kestra() {
        assert_eq!(slugify("Hello World!"), "hello-world");
        assert_eq!(slugify("02_postgres_taxi"), "02_postgres_taxi");
    }
}
