//! Bridges between async storage streams and synchronous crates (`tar`,
//! `zip`, `csv`, `apache-avro`…), which run on a blocking thread: a
//! `SyncReader` pulls chunks an async task reads, a `SyncWriter` pushes
//! chunks the async side streams into storage, and archive entries leave
//! the blocking thread as `Entry` chunk channels. All channels are bounded,
//! so memory stays at a few chunks whatever the size.

#![cfg_attr(not(feature = "compress"), allow(dead_code))]
use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::sync::mpsc;

use baton_backend::ByteStream;

/// Chunk size moved across a bridge.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight per channel.
const DEPTH: usize = 4;

type Chunk = std::io::Result<Vec<u8>>;

/// A blocking `Read` over an async stream (read by a spawned task).
pub(crate) struct SyncReader {
    rx: mpsc::Receiver<Chunk>,
    current: Vec<u8>,
    pos: usize,
}

impl SyncReader {
    /// Starts reading `src` on the runtime; must be called inside it.
    pub fn pump(mut src: ByteStream) -> SyncReader {
        let (tx, rx) = mpsc::channel::<Chunk>(DEPTH);
        tokio::spawn(async move {
            loop {
                let mut buf = vec![0u8; CHUNK];
                match src.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.send(Ok(buf)).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        break;
                    }
                }
            }
        });
        SyncReader { rx, current: Vec::new(), pos: 0 }
    }
}

impl Read for SyncReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.current.len() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Err(e)) => return Err(e),
                Some(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A blocking `Write` whose bytes an async reader ([`SyncWriter::open`]'s
/// stream) receives in chunks: what a converter on a blocking thread
/// writes straight into internal storage.
#[cfg_attr(not(feature = "serdes"), allow(dead_code))]
pub(crate) struct SyncWriter {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
}

#[cfg_attr(not(feature = "serdes"), allow(dead_code))]
impl SyncWriter {
    /// A writer and the stream of what is written to it.
    pub fn open() -> (SyncWriter, ByteStream) {
        let (tx, rx) = mpsc::channel::<Chunk>(DEPTH);
        let reader = ChunkReader { rx, current: Vec::new(), pos: 0 };
        (SyncWriter { tx, buf: Vec::with_capacity(CHUNK) }, Box::pin(reader))
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| std::io::Error::other(STOPPED))
    }

    /// Sends what is buffered and ends the stream.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.send()
    }

    /// Ends the stream with an error, so the upload fails too.
    pub fn fail(self, message: &str) {
        let _ = self.tx.blocking_send(Err(std::io::Error::other(message.to_string())));
    }
}

impl std::io::Write for SyncWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The error of a sender whose receiving side went away.
pub(crate) const STOPPED: &str = "the upload stopped";

/// One file leaving an archive: its path and its bytes as they are read.
pub(crate) struct Entry {
    pub name: String,
    chunks: mpsc::Receiver<Chunk>,
}

impl Entry {
    /// The entry's bytes as an async stream (for `Storage::put`).
    pub fn into_stream(self) -> ByteStream {
        Box::pin(ChunkReader { rx: self.chunks, current: Vec::new(), pos: 0 })
    }
}

/// Sends `r`'s bytes as entry `name` (on the blocking thread). Fails if
/// the receiving side stopped or `r` fails.
pub(crate) fn send_entry(tx: &mpsc::Sender<Entry>, name: String, r: &mut dyn Read) -> Result<(), String> {
    let (ctx, crx) = mpsc::channel::<Chunk>(DEPTH);
    let shown = name.clone();
    tx.blocking_send(Entry { name, chunks: crx }).map_err(|_| STOPPED.to_string())?;
    loop {
        let mut buf = vec![0u8; CHUNK];
        match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                buf.truncate(n);
                ctx.blocking_send(Ok(buf)).map_err(|_| STOPPED.to_string())?;
            }
            Err(e) => {
                let msg = format!("cannot read entry '{shown}': {e}");
                let _ = ctx.blocking_send(Err(std::io::Error::other(msg.clone())));
                return Err(msg);
            }
        }
    }
}

/// Async reading of an entry's chunks.
struct ChunkReader {
    rx: mpsc::Receiver<Chunk>,
    current: Vec<u8>,
    pos: usize,
}

impl AsyncRead for ChunkReader {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        while this.pos >= this.current.len() {
            match this.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(Some(Ok(chunk))) => {
                    this.current = chunk;
                    this.pos = 0;
                }
            }
        }
        let n = buf.remaining().min(this.current.len() - this.pos);
        buf.put_slice(&this.current[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bytes_cross_both_bridges_unchanged() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
        let reader = SyncReader::pump(Box::pin(std::io::Cursor::new(data.clone())));
        let (tx, mut rx) = mpsc::channel::<Entry>(1);
        let job = tokio::task::spawn_blocking(move || {
            let mut reader = reader;
            send_entry(&tx, "a.bin".into(), &mut reader)
        });
        let entry = rx.recv().await.unwrap();
        assert_eq!(entry.name, "a.bin");
        let mut out = Vec::new();
        entry.into_stream().read_to_end(&mut out).await.unwrap();
        job.await.unwrap().unwrap();
        assert_eq!(out, data);
    }
}
