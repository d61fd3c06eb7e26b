//! A secret a script writes into an output file is masked before the file
//! reaches internal storage, as it is in the script's logs and outputs:
//! the file is scanned once (Aho-Corasick over a buffered stream, so a
//! large file costs a read and a bounded buffer, never its size in memory);
//! only a file that holds a secret is rewritten, into a masked copy beside
//! it that is stored in its place.

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use aho_corasick::AhoCorasick;

use crate::TaskError;

/// The secrets masked (`mask_secrets` masks those of 3 characters or more).
fn maskable(secrets: Vec<String>) -> Vec<String> {
    let mut s: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 3).collect();
    s.sort();
    s.dedup();
    s
}

/// A masked copy of `file` (in its folder) when it holds one of `secrets`;
/// `None` when it holds none (the file is stored as it is).
pub(crate) async fn masked_copy(file: &Path, rel: &str, secrets: Vec<String>) -> Result<Option<PathBuf>, TaskError> {
    let secrets = maskable(secrets);
    if secrets.is_empty() {
        return Ok(None);
    }
    let file = file.to_path_buf();
    let rel = rel.to_string();
    tokio::task::spawn_blocking(move || mask_blocking(&file, &secrets))
        .await
        .map_err(|e| TaskError::failed(format!("cannot mask secrets in output file '{rel}': {e}")))?
        .map_err(|e| TaskError::failed(format!("cannot mask secrets in output file '{rel}': {e}")))
}

/// Masks `secrets` in a file already in internal storage at `path` (a
/// Cloud Run Job's output file, written by the container straight into
/// the bucket): streamed to a temporary file, scanned, and written back
/// masked in its place only when it holds a secret (its URI is kept).
/// True when it was rewritten.
pub async fn mask_stored(
    storage: &dyn baton_backend::Storage,
    path: &str,
    secrets: Vec<String>,
) -> Result<bool, String> {
    if maskable(secrets.clone()).is_empty() {
        return Ok(false);
    }
    let fail = |e: &dyn std::fmt::Display| format!("cannot mask secrets in output file '{path}': {e}");
    let tmp = std::env::temp_dir().join(format!("baton-mask-{}", uuid::Uuid::new_v4().simple()));
    let copied = async {
        let mut from = storage.get(path).await.map_err(|e| fail(&e))?;
        let mut to = tokio::fs::File::create(&tmp).await.map_err(|e| fail(&e))?;
        tokio::io::copy(&mut from, &mut to).await.map_err(|e| fail(&e))?;
        to.sync_all().await.map_err(|e| fail(&e))
    }
    .await;
    let masked = match copied {
        Ok(()) => masked_copy(&tmp, path, secrets).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let _ = tokio::fs::remove_file(&tmp).await;
    let Some(copy) = masked? else { return Ok(false) };
    let put = async {
        let file = tokio::fs::File::open(&copy).await.map_err(|e| fail(&e))?;
        storage.put(path, Box::pin(file)).await.map_err(|e| fail(&e))
    }
    .await;
    let _ = tokio::fs::remove_file(&copy).await;
    put.map(|_| true)
}

fn mask_blocking(file: &Path, secrets: &[String]) -> std::io::Result<Option<PathBuf>> {
    let ac = AhoCorasick::new(secrets).map_err(std::io::Error::other)?;
    let found = ac
        .try_stream_find_iter(BufReader::new(std::fs::File::open(file)?))
        .map_err(std::io::Error::other)?
        .next()
        .transpose()?;
    if found.is_none() {
        return Ok(None);
    }
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let copy = file.with_file_name(format!(".baton-masked-{}-{name}", uuid::Uuid::new_v4().simple()));
    match write_masked(&ac, secrets.len(), file, &copy) {
        Ok(()) => Ok(Some(copy)),
        Err(e) => {
            let _ = std::fs::remove_file(&copy);
            Err(e)
        }
    }
}

/// `file` with every match of `ac` (of `n` patterns) replaced, into `copy`.
fn write_masked(ac: &AhoCorasick, n: usize, file: &Path, copy: &Path) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(copy)?);
    let masks = vec![baton_model::flow::SECRET_MASK; n];
    ac.try_stream_replace_all(BufReader::new(std::fs::File::open(file)?), &mut out, &masks)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_holding_a_secret_is_copied_masked_and_others_are_left_alone() {
        let dir = std::env::temp_dir().join(format!("baton-mask-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let secrets = || vec!["s3cr3t-value".to_string(), "ab".to_string()];
        // a secret across the stream's buffer boundary is found too
        let big = format!("{}s3cr3t-value and ab\n", "x".repeat(64 * 1024 - 5));
        std::fs::write(dir.join("out.txt"), &big).expect("write");
        let copy = masked_copy(&dir.join("out.txt"), "out.txt", secrets()).await.expect("mask").expect("a copy");
        let masked = std::fs::read_to_string(&copy).expect("read");
        assert_eq!(
            masked,
            format!("{}****** and ab\n", "x".repeat(64 * 1024 - 5)),
            "a 2-character secret is not masked"
        );
        assert_eq!(std::fs::read_to_string(dir.join("out.txt")).expect("read"), big, "the original is left");
        std::fs::write(dir.join("plain.txt"), "nothing to hide ab").expect("write");
        assert!(masked_copy(&dir.join("plain.txt"), "plain.txt", secrets()).await.expect("scan").is_none());
        assert!(masked_copy(&dir.join("plain.txt"), "plain.txt", Vec::new()).await.expect("scan").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
