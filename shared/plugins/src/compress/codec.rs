//! Kestra's `compression` values and the streaming codecs behind them
//! (async-compression over internal-storage byte streams, never buffered
//! whole), with the file-name extension each one uses.

use std::pin::Pin;
use std::task::{Context, Poll};

use async_compression::tokio::bufread as codecs;
use tokio::io::{AsyncRead, BufReader, ReadBuf};

use crate::TaskError;
use baton_backend::ByteStream;

/// Read buffer in front of a codec.
const BUFFER: usize = 256 * 1024;

/// A single-file compression (Kestra's `CompressionAlgorithm`, the part
/// Baton implements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    Gzip,
    Bzip2,
    Zstd,
    Xz,
    Lzma,
    /// zlib-wrapped deflate, as Commons Compress writes it.
    Deflate,
}

/// Names Kestra accepts that Baton does not implement yet.
const NOT_YET: &[&str] = &["BROTLI", "DEFLATE64", "LZ4BLOCK", "LZ4FRAME", "SNAPPY", "SNAPPYFRAME", "Z"];
const SUPPORTED: &str = "GZIP, BZIP2, ZSTD, XZ, LZMA, DEFLATE";

impl Compression {
    /// Parses Kestra's name (any case) for `property`.
    pub fn parse(property: &str, s: &str) -> Result<Compression, TaskError> {
        let up = s.trim().to_ascii_uppercase();
        Ok(match up.as_str() {
            "GZIP" => Compression::Gzip,
            "BZIP2" => Compression::Bzip2,
            "ZSTD" => Compression::Zstd,
            "XZ" => Compression::Xz,
            "LZMA" => Compression::Lzma,
            "DEFLATE" => Compression::Deflate,
            other if NOT_YET.contains(&other) => {
                return Err(TaskError::property(
                    property,
                    format!("compression '{other}' is not supported by Baton yet; supported: {SUPPORTED}"),
                ));
            }
            _ => {
                return Err(TaskError::property(
                    property,
                    format!("'{s}' is not a compression algorithm; supported: {SUPPORTED}"),
                ));
            }
        })
    }

    /// The usual file-name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Gzip => "gz",
            Compression::Bzip2 => "bz2",
            Compression::Zstd => "zst",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Deflate => "zz",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "GZIP",
            Compression::Bzip2 => "BZIP2",
            Compression::Zstd => "ZSTD",
            Compression::Xz => "XZ",
            Compression::Lzma => "LZMA",
            Compression::Deflate => "DEFLATE",
        }
    }
}

/// Decompresses `src` as it is read. Concatenated members (as `gunzip`
/// accepts) are read through. Errors name `what` and the algorithm.
pub(crate) fn decoder(c: Compression, src: ByteStream, what: &str) -> ByteStream {
    let r = BufReader::with_capacity(BUFFER, src);
    let inner: ByteStream = match c {
        Compression::Gzip => {
            let mut d = codecs::GzipDecoder::new(r);
            d.multiple_members(true);
            Box::pin(d)
        }
        Compression::Bzip2 => {
            let mut d = codecs::BzDecoder::new(r);
            d.multiple_members(true);
            Box::pin(d)
        }
        Compression::Zstd => {
            let mut d = codecs::ZstdDecoder::new(r);
            d.multiple_members(true);
            Box::pin(d)
        }
        Compression::Xz => {
            let mut d = codecs::XzDecoder::new(r);
            d.multiple_members(true);
            Box::pin(d)
        }
        Compression::Lzma => Box::pin(codecs::LzmaDecoder::new(r)),
        Compression::Deflate => Box::pin(codecs::ZlibDecoder::new(r)),
    };
    Box::pin(Explained { inner, context: format!("cannot decompress {what} as {}", c.name()) })
}

/// Compresses `src` as it is read.
pub(crate) fn encoder(c: Compression, src: ByteStream) -> ByteStream {
    let r = BufReader::with_capacity(BUFFER, src);
    match c {
        Compression::Gzip => Box::pin(codecs::GzipEncoder::new(r)),
        Compression::Bzip2 => Box::pin(codecs::BzEncoder::new(r)),
        Compression::Zstd => Box::pin(codecs::ZstdEncoder::new(r)),
        Compression::Xz => Box::pin(codecs::XzEncoder::new(r)),
        Compression::Lzma => Box::pin(codecs::LzmaEncoder::new(r)),
        Compression::Deflate => Box::pin(codecs::ZlibEncoder::new(r)),
    }
}

/// Prefixes read errors with what was being decoded.
struct Explained {
    inner: ByteStream,
    context: String,
}

impl AsyncRead for Explained {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.inner.as_mut().poll_read(cx, buf) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(std::io::Error::new(e.kind(), format!("{}: {e}", self.context)))),
            other => other,
        }
    }
}

/// The name of the decompressed file: the source's name without its
/// compression extension (`x.csv.gz` → `x.csv`).
pub(crate) fn decompressed_name(source: &str) -> String {
    let name = source.rsplit('/').next().unwrap_or(source);
    let lower = name.to_ascii_lowercase();
    for ext in [".gz", ".gzip", ".bz2", ".zst", ".zstd", ".xz", ".lzma", ".zz", ".deflate", ".z"] {
        if lower.ends_with(ext) && name.len() > ext.len() {
            return name[..name.len() - ext.len()].to_string();
        }
    }
    if name.is_empty() { "file".to_string() } else { name.to_string() }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    async fn roundtrip(c: Compression, data: &[u8]) -> Vec<u8> {
        let owned = data.to_vec();
        let compressed = encoder(c, Box::pin(std::io::Cursor::new(owned)));
        let mut out = Vec::new();
        decoder(c, compressed, "test").read_to_end(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn every_codec_roundtrips() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        for c in [
            Compression::Gzip,
            Compression::Bzip2,
            Compression::Zstd,
            Compression::Xz,
            Compression::Lzma,
            Compression::Deflate,
        ] {
            assert_eq!(roundtrip(c, &data).await, data, "{c:?}");
        }
    }

    #[tokio::test]
    async fn corrupt_input_is_explained() {
        let mut out = Vec::new();
        let e = decoder(Compression::Gzip, Box::pin(&b"not gzip at all"[..]), "kestra:///a.gz")
            .read_to_end(&mut out)
            .await
            .unwrap_err();
        assert!(e.to_string().starts_with("cannot decompress kestra:///a.gz as GZIP: "), "{e}");
    }

    #[test]
    fn names_and_parsing() {
        assert_eq!(decompressed_name("/a/b/yellow_tripdata_2019-01.csv.gz"), "yellow_tripdata_2019-01.csv");
        assert_eq!(decompressed_name("data.BZ2"), "data");
        assert_eq!(decompressed_name("plain"), "plain");
        assert_eq!(Compression::parse("compression", "gzip").unwrap(), Compression::Gzip);
        let e = Compression::parse("compression", "SNAPPY").unwrap_err().to_string();
        assert!(e.contains("not supported by Baton yet"), "{e}");
        assert!(Compression::parse("compression", "RAR").is_err());
    }
}
