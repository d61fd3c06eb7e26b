//! Identifiers: Kestra-style short random ids for executions and task runs,
//! and the slug used in internal-storage paths.

use rand_like::random_id;

/// A new 22-character base62 id, like Kestra's `IdUtils.create()`.
pub fn new_id() -> String {
    random_id()
}

/// Kestra's slugify for storage paths and the `slugify` filter: lowercase,
/// non-alphanumerics collapsed to `-`, trimmed of `-`.
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
    fn slugify_like_kestra() {
        assert_eq!(slugify("Hello World!"), "hello-world");
        assert_eq!(slugify("02_postgres_taxi"), "02_postgres_taxi");
    }
}
