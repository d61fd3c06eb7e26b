//! Kestra's `KESTRAENC` file format, written by `FileEncrypt` with the key
//! derivations `PBKDF2_SHA512`, `ARGON2ID` and `SCRYPT` and read back by
//! `FileDecrypt` (plugin-compress's `AbstractFileCrypt`):
//!
//! ```text
//! "KESTRAENC" · version 0x01 · algorithm (0x02 PBKDF2-SHA512, 0x03 Argon2id, 0x04 scrypt)
//!   · salt (16 bytes) · GCM nonce (12 bytes) · parameters, big-endian:
//!       PBKDF2-SHA512  iterations (i32)
//!       Argon2id       iterations (i32) · memory KiB (i32) · parallelism (u16)
//!       scrypt         N (i32) · r (u8, always 8) · p (u8)
//!   · AES-256-GCM ciphertext, its 16-byte tag last; the whole header is the
//!     additional authenticated data, so a changed header fails decryption.
//! ```
//!
//! The key is 32 bytes from the derivation, with Kestra's parameter ranges
//! checked on both sides. AES-GCM authenticates the file as a whole, so the
//! ciphertext is sealed and opened in memory, at most [`MAX_GCM_BYTES`]
//! (Kestra's Java cipher buffers a GCM decryption whole too). Written with
//! RustCrypto's `aes-gcm`, `argon2`, `scrypt` and `pbkdf2` crates: only the
//! framing above is Baton's.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

pub const MAGIC: &[u8] = b"KESTRAENC";
const VERSION: u8 = 0x01;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;
const SCRYPT_R: u8 = 8;
/// Kestra's floor for PBKDF2 iterations.
pub const MIN_PBKDF2_ITERATIONS: u32 = 100_000;
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// Kestra's cap on Argon2id memory and scrypt's N (1 GiB).
const MAX_MEMORY: u32 = 1_048_576;
/// The most plaintext (encrypting) or ciphertext (decrypting) a KESTRAENC
/// file may hold: GCM is sealed and opened whole, in memory.
pub const MAX_GCM_BYTES: u64 = 256 * 1024 * 1024;

/// A key derivation of the KESTRAENC format, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    Pbkdf2Sha512 { iterations: u32 },
    Argon2id { iterations: u32, memory_kib: u32, parallelism: u32 },
    Scrypt { n: u32, parallelism: u32 },
}

impl Kdf {
    /// Kestra's ranges (`validateKdfParams` and `FileDecrypt`'s checks), as
    /// an error naming the property.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        match *self {
            Kdf::Pbkdf2Sha512 { iterations } => {
                if !(MIN_PBKDF2_ITERATIONS..=MAX_PBKDF2_ITERATIONS).contains(&iterations) {
                    return Err((
                        "iterations",
                        format!(
                            "PBKDF2 iterations must be in [{MIN_PBKDF2_ITERATIONS}, {MAX_PBKDF2_ITERATIONS}], got {iterations}"
                        ),
                    ));
                }
            }
            Kdf::Argon2id { iterations, memory_kib, parallelism } => {
                if !(1..=MAX_PBKDF2_ITERATIONS).contains(&iterations) {
                    return Err(("argon2TimeCost", format!("Argon2id iterations out of range: {iterations}")));
                }
                if !(8..=MAX_MEMORY).contains(&memory_kib) {
                    return Err((
                        "memory",
                        format!("Argon2id memory must be in [8, {MAX_MEMORY}] KiB, got {memory_kib}"),
                    ));
                }
                if !(1..=64).contains(&parallelism) {
                    return Err(("parallelism", format!("Argon2id parallelism must be in [1, 64], got {parallelism}")));
                }
            }
            Kdf::Scrypt { n, parallelism } => {
                if !(2..=MAX_MEMORY).contains(&n) || !n.is_power_of_two() {
                    return Err(("memory", format!("scrypt N must be a power of 2 in [2, {MAX_MEMORY}], got {n}")));
                }
                if !(1..=255).contains(&parallelism) {
                    return Err(("parallelism", format!("scrypt parallelism must be in [1, 255], got {parallelism}")));
                }
            }
        }
        Ok(())
    }

    pub fn name(&self) -> &'static str {
        match self {
            Kdf::Pbkdf2Sha512 { .. } => "PBKDF2_SHA512",
            Kdf::Argon2id { .. } => "ARGON2ID",
            Kdf::Scrypt { .. } => "SCRYPT",
        }
    }

    /// The 32-byte key.
    fn derive(&self, password: &[u8], salt: &[u8]) -> Result<[u8; KEY_LEN], String> {
        let mut key = [0u8; KEY_LEN];
        match *self {
            Kdf::Pbkdf2Sha512 { iterations } => {
                pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, iterations, &mut key);
            }
            Kdf::Argon2id { iterations, memory_kib, parallelism } => {
                let params = argon2::Params::new(memory_kib, iterations, parallelism, Some(KEY_LEN))
                    .map_err(|e| format!("Argon2id parameters: {e}"))?;
                argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                    .hash_password_into(password, salt, &mut key)
                    .map_err(|e| format!("Argon2id: {e}"))?;
            }
            Kdf::Scrypt { n, parallelism } => {
                let params = scrypt::Params::new(n.trailing_zeros() as u8, u32::from(SCRYPT_R), parallelism, KEY_LEN)
                    .map_err(|e| format!("scrypt parameters: {e}"))?;
                scrypt::scrypt(password, salt, &params, &mut key).map_err(|e| format!("scrypt: {e}"))?;
            }
        }
        Ok(key)
    }

    /// The header, as Kestra's `writeKestraHeader` lays it out.
    fn header(&self, salt: &[u8; SALT_LEN], nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
        let mut h = Vec::with_capacity(MAGIC.len() + 2 + SALT_LEN + NONCE_LEN + 10);
        h.extend_from_slice(MAGIC);
        h.push(VERSION);
        h.push(match self {
            Kdf::Pbkdf2Sha512 { .. } => 0x02,
            Kdf::Argon2id { .. } => 0x03,
            Kdf::Scrypt { .. } => 0x04,
        });
        h.extend_from_slice(salt);
        h.extend_from_slice(nonce);
        match *self {
            Kdf::Pbkdf2Sha512 { iterations } => h.extend_from_slice(&iterations.to_be_bytes()),
            Kdf::Argon2id { iterations, memory_kib, parallelism } => {
                h.extend_from_slice(&iterations.to_be_bytes());
                h.extend_from_slice(&memory_kib.to_be_bytes());
                h.extend_from_slice(&(parallelism as u16).to_be_bytes());
            }
            Kdf::Scrypt { n, parallelism } => {
                h.extend_from_slice(&n.to_be_bytes());
                h.push(SCRYPT_R);
                h.push(parallelism as u8);
            }
        }
        h
    }
}

/// `plain` encrypted into a KESTRAENC file with a fresh salt and nonce.
pub fn seal(plain: &[u8], password: &str, kdf: Kdf) -> Result<Vec<u8>, String> {
    kdf.check().map_err(|(_, e)| e)?;
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut salt).map_err(|e| format!("no random salt: {e}"))?;
    getrandom::fill(&mut nonce).map_err(|e| format!("no random nonce: {e}"))?;
    let mut out = kdf.header(&salt, &nonce);
    let key = kdf.derive(password.as_bytes(), &salt)?;
    let cipher = Aes256Gcm::new_from_slice(&key).map_err(|e| e.to_string())?;
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad: &out })
        .map_err(|_| "AES-GCM encryption failed".to_string())?;
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Reads `n` bytes at `*at`, or says the file is truncated.
fn take<'a>(data: &'a [u8], at: &mut usize, n: usize, what: &str) -> Result<&'a [u8], String> {
    let got = data.get(*at..*at + n).ok_or_else(|| format!("the file is truncated: expected {what}"))?;
    *at += n;
    Ok(got)
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The plaintext of a whole KESTRAENC file, and the derivation it names.
pub fn open(data: &[u8], password: &str) -> Result<(Vec<u8>, &'static str), String> {
    let mut at = 0;
    if take(data, &mut at, MAGIC.len(), "the KESTRAENC header")? != MAGIC {
        return Err("not a KESTRAENC file".into());
    }
    let version = take(data, &mut at, 1, "the format version")?[0];
    if version != VERSION {
        return Err(format!("unsupported KESTRAENC format version: {version}"));
    }
    let algorithm = take(data, &mut at, 1, "the key derivation")?[0];
    let salt = take(data, &mut at, SALT_LEN, "a 16-byte salt")?;
    let nonce = take(data, &mut at, NONCE_LEN, "a 12-byte GCM nonce")?;
    let kdf = match algorithm {
        0x02 => Kdf::Pbkdf2Sha512 { iterations: be_u32(take(data, &mut at, 4, "the iterations")?) },
        0x03 => {
            let p = take(data, &mut at, 10, "the Argon2id parameters")?;
            Kdf::Argon2id {
                iterations: be_u32(&p[..4]),
                memory_kib: be_u32(&p[4..8]),
                parallelism: u32::from(u16::from_be_bytes([p[8], p[9]])),
            }
        }
        0x04 => {
            let p = take(data, &mut at, 6, "the scrypt parameters")?;
            if p[4] != SCRYPT_R {
                return Err(format!("unsupported scrypt r parameter: {}, expected {SCRYPT_R}", p[4]));
            }
            Kdf::Scrypt { n: be_u32(&p[..4]), parallelism: u32::from(p[5]) }
        }
        other => return Err(format!("unknown key derivation byte 0x{other:02x}")),
    };
    kdf.check().map_err(|(_, e)| format!("KESTRAENC: {e}"))?;
    let (header, sealed) = data.split_at(at);
    let key = kdf.derive(password.as_bytes(), salt)?;
    let cipher = Aes256Gcm::new_from_slice(&key).map_err(|e| e.to_string())?;
    let plain = cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: header })
        .map_err(|_| "incorrect password or a damaged file (the GCM tag does not check)".to_string())?;
    Ok((plain, kdf.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: [Kdf; 3] = [
        Kdf::Pbkdf2Sha512 { iterations: MIN_PBKDF2_ITERATIONS },
        Kdf::Argon2id { iterations: 1, memory_kib: 8192, parallelism: 1 },
        Kdf::Scrypt { n: 1024, parallelism: 1 },
    ];

    #[test]
    fn each_derivation_round_trips_and_a_wrong_password_or_a_changed_byte_fails() {
        for kdf in CHEAP {
            let sealed = seal(b"taxi rows", "pw", kdf).unwrap();
            let (plain, name) = open(&sealed, "pw").unwrap();
            assert_eq!((plain.as_slice(), name), (b"taxi rows".as_slice(), kdf.name()));
            assert!(open(&sealed, "other").unwrap_err().contains("incorrect password"), "{kdf:?}");
            // the header is authenticated: a changed salt byte fails too
            let mut bad = sealed.clone();
            bad[MAGIC.len() + 2] ^= 1;
            assert!(open(&bad, "pw").is_err(), "{kdf:?}");
            assert!(open(&sealed[..sealed.len() - 20], "pw").is_err(), "{kdf:?}");
        }
    }

    /// The layout of Kestra's `writeKestraHeader`, byte for byte.
    #[test]
    fn the_header_is_kestra_s() {
        let (salt, nonce) = ([7u8; SALT_LEN], [9u8; NONCE_LEN]);
        let h = Kdf::Argon2id { iterations: 3, memory_kib: 65536, parallelism: 1 }.header(&salt, &nonce);
        let mut want = b"KESTRAENC\x01\x03".to_vec();
        want.extend_from_slice(&salt);
        want.extend_from_slice(&nonce);
        want.extend_from_slice(&[0, 0, 0, 3, 0, 1, 0, 0, 0, 1]);
        assert_eq!(h, want);
        let h = Kdf::Scrypt { n: 65536, parallelism: 2 }.header(&salt, &nonce);
        assert_eq!(&h[9..11], &[1, 4]);
        assert_eq!(&h[h.len() - 6..], &[0, 1, 0, 0, 8, 2]);
        let h = Kdf::Pbkdf2Sha512 { iterations: 600_000 }.header(&salt, &nonce);
        assert_eq!((h[10], &h[h.len() - 4..]), (2, &600_000u32.to_be_bytes()[..]));
    }

    #[test]
    fn kestra_s_ranges_are_checked_naming_the_property() {
        assert_eq!(Kdf::Pbkdf2Sha512 { iterations: 1000 }.check().unwrap_err().0, "iterations");
        assert_eq!(Kdf::Argon2id { iterations: 1, memory_kib: 4, parallelism: 1 }.check().unwrap_err().0, "memory");
        assert_eq!(Kdf::Scrypt { n: 1000, parallelism: 1 }.check().unwrap_err().0, "memory");
        assert_eq!(Kdf::Scrypt { n: 1024, parallelism: 0 }.check().unwrap_err().0, "parallelism");
    }
}
