//! Runs a converter over bytes in memory, for the unit tests.

use std::io::Cursor;

use tokio::io::AsyncReadExt;

use super::common::Report;
use crate::bridge::{SyncReader, SyncWriter};

/// The bytes `f` writes reading `input`, or its error.
pub fn run_bytes<F>(input: Vec<u8>, f: F) -> Result<Vec<u8>, String>
where
    F: FnOnce(SyncReader, &mut SyncWriter) -> Result<Report, String> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let reader = SyncReader::pump(Box::pin(Cursor::new(input)));
        let (mut w, mut stream) = SyncWriter::open();
        let job = tokio::task::spawn_blocking(move || {
            let r = f(reader, &mut w);
            match &r {
                Ok(_) => w.finish().map_err(|e| e.to_string()),
                Err(e) => {
                    w.fail(e);
                    Ok(())
                }
            }?;
            r
        });
        let mut out = Vec::new();
        let read = stream.read_to_end(&mut out).await;
        job.await.map_err(|e| e.to_string())??;
        read.map_err(|e| e.to_string())?;
        Ok(out)
    })
}

/// The same, as text.
pub fn run_job<F>(input: Vec<u8>, f: F) -> Result<String, String>
where
    F: FnOnce(SyncReader, &mut SyncWriter) -> Result<Report, String> + Send + 'static,
{
    run_bytes(input, f).map(|b| String::from_utf8_lossy(&b).into_owned())
}
