//! Kestra's `charset` property (a Java charset name, UTF-8 by default) on
//! top of `encoding_rs`: [`Decode`] turns a source in that charset into
//! UTF-8 as it is read (malformed bytes become U+FFFD, as Java's readers
//! do), [`Encode`] turns what is written into it (a character the charset
//! cannot hold becomes `?`, as Java's writers do). Both stream.
//!
//! Labels follow the WHATWG Encoding Standard, which `encoding_rs`
//! implements: `ISO-8859-1` and `US-ASCII` read as windows-1252, which
//! differs from Java's only in bytes 0x80–0x9F. UTF-16 can be read, not
//! written (the standard has no UTF-16 encoder): refused by name.

use std::io::{Read, Write};

use encoding_rs::{CoderResult, Decoder, Encoder, EncoderResult, Encoding, UTF_8};

use crate::TaskError;

/// The encoding a `charset` property names.
pub fn parse(prop: &str, label: &str) -> Result<&'static Encoding, TaskError> {
    Encoding::for_label(label.trim().as_bytes())
        .ok_or_else(|| TaskError::property(prop, format!("'{label}' is not a charset Baton knows")))
}

/// The same, for a file Baton writes.
pub fn parse_output(prop: &str, label: &str) -> Result<&'static Encoding, TaskError> {
    let enc = parse(prop, label)?;
    if enc.output_encoding() != enc {
        return Err(TaskError::property(prop, format!("Baton cannot write files in {}", enc.name())));
    }
    Ok(enc)
}

const BUF: usize = 64 * 1024;

/// UTF-8 read from a source in another charset (or UTF-8, checked).
pub struct Decode<R> {
    inner: R,
    decoder: Decoder,
    input: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> Decode<R> {
    /// `strip_bom`: a leading UTF-8 byte-order mark is dropped (only when
    /// the charset is UTF-8; other charsets keep their bytes).
    pub fn new(inner: R, enc: &'static Encoding, strip_bom: bool) -> Decode<R> {
        let decoder = if strip_bom && enc == UTF_8 {
            UTF_8.new_decoder_with_bom_removal()
        } else {
            enc.new_decoder_without_bom_handling()
        };
        Decode { inner, decoder, input: vec![0; BUF], out: Vec::new(), pos: 0, done: false }
    }
}

impl<R: Read> Read for Decode<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            let n = self.inner.read(&mut self.input)?;
            let last = n == 0;
            self.out.clear();
            self.pos = 0;
            let need = self.decoder.max_utf8_buffer_length(n).unwrap_or(n * 3 + 16);
            self.out.resize(need, 0);
            let (result, _read, written, _) = self.decoder.decode_to_utf8(&self.input[..n], &mut self.out, last);
            debug_assert!(matches!(result, CoderResult::InputEmpty));
            self.out.truncate(written);
            self.done = last;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A writer taking UTF-8 and writing `enc` to `inner`.
pub struct Encode<W> {
    inner: W,
    encoder: Option<Encoder>,
    /// An incomplete UTF-8 sequence left from the last write.
    pending: Vec<u8>,
    out: Vec<u8>,
}

impl<W: Write> Encode<W> {
    pub fn new(inner: W, enc: &'static Encoding) -> Encode<W> {
        let encoder = (enc != UTF_8).then(|| enc.new_encoder());
        Encode { inner, encoder, pending: Vec::new(), out: Vec::with_capacity(BUF) }
    }

    /// The writer underneath (after the last write).
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for Encode<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let Some(encoder) = self.encoder.as_mut() else { return self.inner.write_all(data).map(|()| data.len()) };
        self.pending.extend_from_slice(data);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => return Err(std::io::Error::other("the text written is not UTF-8")),
        };
        let text = std::str::from_utf8(&self.pending[..valid]).map_err(std::io::Error::other)?;
        let mut rest = text;
        while !rest.is_empty() {
            self.out.clear();
            self.out.resize(BUF, 0);
            let (result, read, written) = encoder.encode_from_utf8_without_replacement(rest, &mut self.out, false);
            self.inner.write_all(&self.out[..written])?;
            rest = &rest[read..];
            if let EncoderResult::Unmappable(_) = result {
                self.inner.write_all(b"?")?;
            }
        }
        self.pending.drain(..valid);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_latin1_and_strips_a_utf8_bom() {
        let mut s = String::new();
        Decode::new(&b"caf\xe9"[..], parse("charset", "ISO-8859-1").unwrap(), true).read_to_string(&mut s).unwrap();
        assert_eq!(s, "café");
        let mut s = String::new();
        Decode::new(&b"\xef\xbb\xbfa,b"[..], UTF_8, true).read_to_string(&mut s).unwrap();
        assert_eq!(s, "a,b");
        let mut s = String::new();
        Decode::new(&b"a\xffb"[..], UTF_8, true).read_to_string(&mut s).unwrap();
        assert_eq!(s, "a\u{fffd}b");
        assert!(parse("charset", "klingon").is_err());
        assert!(parse_output("charset", "UTF-16").is_err());
    }

    #[test]
    fn encodes_split_sequences_and_replaces_the_unmappable() {
        let mut w = Encode::new(Vec::new(), parse("charset", "windows-1252").unwrap());
        let bytes = "café ✓".as_bytes();
        w.write_all(&bytes[..4]).unwrap();
        w.write_all(&bytes[4..]).unwrap();
        assert_eq!(w.into_inner(), b"caf\xe9 ?");
    }
}
