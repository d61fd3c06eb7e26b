//! End-to-end checksums of downloaded objects (`Downloads`'
//! `validateChecksum`): a reader that hashes the bytes passing through —
//! CRC32C (Castagnoli, what GCS reports as `crc32c`: base64 of the
//! big-endian value) and MD5 (`md5Hash`, absent on composite objects) —
//! and the comparison with what GCS reported.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use base64::Engine as _;
use md5::Digest as _;
use tokio::io::{AsyncRead, ReadBuf};

/// The CRC32C table (reflected polynomial 0x82F63B78).
static TABLE: std::sync::LazyLock<[u32; 256]> = std::sync::LazyLock::new(|| {
    let mut t = [0u32; 256];
    for (i, slot) in t.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0x82F6_3B78 } else { c >> 1 };
        }
        *slot = c;
    }
    t
});

/// Running CRC32C and MD5 of a stream.
#[derive(Clone)]
pub struct Sums {
    crc: u32,
    md5: md5::Md5,
}

impl Default for Sums {
    fn default() -> Sums {
        Sums { crc: !0, md5: md5::Md5::new() }
    }
}

impl Sums {
    pub fn update(&mut self, bytes: &[u8]) {
        let t = &*TABLE;
        let mut c = self.crc;
        for b in bytes {
            c = t[((c ^ u32::from(*b)) & 0xff) as usize] ^ (c >> 8);
        }
        self.crc = c;
        self.md5.update(bytes);
    }

    /// The CRC32C as GCS shows it (base64 of the 4 big-endian bytes).
    pub fn crc32c(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode((!self.crc).to_be_bytes())
    }

    /// The MD5 as GCS shows it (base64).
    pub fn md5(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.md5.clone().finalize())
    }

    /// Compares with the object's `crc32c` (else `md5Hash`); the error names both values.
    pub fn check(&self, object: &serde_json::Value) -> Result<&'static str, String> {
        let (what, expected, got) = match (object["crc32c"].as_str(), object["md5Hash"].as_str()) {
            (Some(c), _) => ("CRC32C", c, self.crc32c()),
            (None, Some(m)) => ("MD5", m, self.md5()),
            (None, None) => return Err("GCS reports no checksum (crc32c or md5Hash) to validate against".into()),
        };
        if expected == got {
            Ok(what)
        } else {
            Err(format!("{what} mismatch: GCS reports {expected}, downloaded {got}"))
        }
    }
}

/// A reader hashing what it reads into shared [`Sums`].
pub struct Hashing<R> {
    pub inner: R,
    pub sums: Arc<Mutex<Sums>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Hashing<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Ok(mut s) = self.sums.lock() {
            s.update(&buf.filled()[before..]);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_checksums() {
        let mut s = Sums::default();
        s.update(b"hello-a\n");
        s.update(b"hello-b\n");
        // as fake-gcs-server reported them for the same bytes
        assert_eq!(s.crc32c(), "V7xZ6w==");
        assert_eq!(s.md5(), "ifO/vUUqZqrrRtg42Pj3ag==");
        let mut c = Sums::default();
        c.update(b"123456789");
        assert_eq!(!c.crc, 0xE306_9283, "the CRC32C check value");
        assert_eq!(s.check(&serde_json::json!({"crc32c": "V7xZ6w=="})), Ok("CRC32C"));
        assert!(s.check(&serde_json::json!({"md5Hash": "x"})).unwrap_err().contains("MD5 mismatch"));
    }
}
