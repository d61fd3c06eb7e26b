//! `io.kestra.plugin.compress.ArchiveDecompress` (output `files`: path in
//! the archive → `kestra://` URI) and `ArchiveCompress` (output `uri`), for
//! `algorithm` TAR and ZIP (JAR), optionally wrapped in a `compression`
//! (tar.gz…). Entries stream one by one between the blocking `tar`/`zip`
//! readers and internal storage; a ZIP is first spooled to the working
//! directory (its index is at the end). Entries whose path would leave the
//! archive's folder (`../`, absolute) fail the task.

use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::codec::{self, Compression};
use crate::bridge::{self, Entry, SyncReader};
use crate::de::value_to_string;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::{ByteStream, storage_path};

/// Kestra's `ArchiveAlgorithm`, the part Baton implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Tar,
    Zip,
}

impl Algorithm {
    fn parse(s: &str) -> Result<Algorithm, TaskError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "TAR" => Ok(Algorithm::Tar),
            "ZIP" | "JAR" => Ok(Algorithm::Zip),
            other @ ("AR" | "ARJ" | "CPIO" | "DUMP" | "SEVENZ" | "7Z") => Err(TaskError::property(
                "algorithm",
                format!("archive algorithm '{other}' is not supported by Baton yet; supported: TAR, ZIP, JAR"),
            )),
            _ => Err(TaskError::property("algorithm", format!("'{s}' is not an archive algorithm (TAR, ZIP, JAR)"))),
        }
    }
}

/// A relative, `/`-separated entry path that stays inside the folder.
fn entry_path(name: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return Err(format!("archive entry '{name}' points outside the archive's folder")),
        }
    }
    if parts.is_empty() {
        return Err(format!("archive entry '{name}' has no file name"));
    }
    Ok(parts.join("/"))
}

/// Removes a task's scratch directory when the attempt ends.
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn opt_compression(v: Option<String>) -> Result<Option<Compression>, TaskError> {
    v.filter(|s| !s.trim().is_empty()).map(|s| Compression::parse("compression", &s)).transpose()
}

// ------------------------------------------------------------ decompress ---

/// Unpack an archive.
///
/// Unpacks a tar or zip archive into stored files.
#[derive(Debug, Deserialize, Declare)]
#[plugin(
    type = "io.kestra.plugin.compress.ArchiveDecompress",
    group = "core",
    example = "id: unpack\ntype: io.kestra.plugin.compress.ArchiveDecompress\nfrom: \"{{ outputs.download.uri }}\"\nalgorithm: ZIP\n",
    outputs(files(Map, "The files, by name."))
)]
struct DecompressProps {
    /// The archive (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The archive format.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(values = ["TAR", "ZIP", "JAR"])]
    algorithm: String,
    /// The compression of the archive.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["GZIP", "BZIP2", "ZSTD", "XZ", "LZMA", "DEFLATE"])]
    compression: Option<String>,
}

#[derive(Debug)]
struct ArchiveDecompress {
    from: String,
    path: String,
    algorithm: Algorithm,
    compression: Option<Compression>,
}

fn build_decompress(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: DecompressProps = parse_props(props)?;
    let path = storage_path(&p.from).map_err(|e| TaskError::property("from", e.to_string()))?;
    Ok(Box::new(ArchiveDecompress {
        from: p.from,
        path,
        algorithm: Algorithm::parse(&p.algorithm)?,
        compression: opt_compression(p.compression)?,
    }))
}

/// Reads a tar stream entry by entry (regular files only).
fn read_tar(reader: impl Read, tx: mpsc::Sender<Entry>) -> Result<usize, String> {
    let mut archive = tar::Archive::new(reader);
    let mut n = 0;
    for entry in archive.entries().map_err(|e| format!("not a TAR archive: {e}"))? {
        let mut entry = entry.map_err(|e| format!("cannot read the TAR archive: {e}"))?;
        if !matches!(entry.header().entry_type(), tar::EntryType::Regular | tar::EntryType::Continuous) {
            continue;
        }
        let raw = entry.path().map_err(|e| format!("invalid TAR entry name: {e}"))?.to_string_lossy().into_owned();
        let name = entry_path(&raw)?;
        bridge::send_entry(&tx, name, &mut entry)?;
        n += 1;
    }
    Ok(n)
}

/// Reads a zip file entry by entry (files only).
fn read_zip(file: &Path, tx: mpsc::Sender<Entry>) -> Result<usize, String> {
    let f = std::fs::File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(f)).map_err(|e| format!("not a ZIP archive: {e}"))?;
    let mut n = 0;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| format!("cannot read ZIP entry #{i}: {e}"))?;
        if entry.is_dir() || entry.is_symlink() {
            continue;
        }
        let raw = entry.name().map_err(|e| format!("invalid ZIP entry name (#{i}): {e}"))?.into_owned();
        if entry.enclosed_name().is_none() {
            return Err(format!("archive entry '{raw}' points outside the archive's folder"));
        }
        let name = entry_path(&raw)?;
        bridge::send_entry(&tx, name, &mut entry)?;
        n += 1;
    }
    Ok(n)
}

#[async_trait]
impl RunnableTask for ArchiveDecompress {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        cx.check_readable("from", &self.path)?;
        let mut src: ByteStream = cx
            .services
            .storage
            .get(&self.path)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", self.from)))?;
        if let Some(c) = self.compression {
            src = codec::decoder(c, src, &self.from);
        }
        let (tx, mut rx) = mpsc::channel::<Entry>(1);
        let mut _scratch = None;
        let job = match self.algorithm {
            Algorithm::Tar => {
                let reader = SyncReader::pump(src);
                tokio::task::spawn_blocking(move || read_tar(BufReader::with_capacity(256 * 1024, reader), tx))
            }
            Algorithm::Zip => {
                let dir = cx.working_dir()?;
                _scratch = Some(ScratchDir(dir.clone()));
                let file = dir.join("archive.zip");
                let mut out = tokio::fs::File::create(&file)
                    .await
                    .map_err(|e| TaskError::failed(format!("cannot create {}: {e}", file.display())))?;
                tokio::io::copy(&mut src, &mut out)
                    .await
                    .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", self.from)))?;
                drop(out);
                tokio::task::spawn_blocking(move || read_zip(&file, tx))
            }
        };
        let mut files = Map::new();
        let mut upload_error = None;
        while let Some(entry) = rx.recv().await {
            let name = entry.name.clone();
            match cx.put_file(&name, entry.into_stream()).await {
                Ok((uri, _)) => {
                    files.insert(name, Value::String(uri));
                }
                Err(e) => {
                    upload_error = Some(e);
                    break;
                }
            }
        }
        drop(rx);
        let read = job.await.map_err(|e| TaskError::failed(format!("archive reader stopped: {e}")))?;
        let what = match (self.algorithm, self.compression) {
            (Algorithm::Tar, Some(c)) => format!("TAR ({})", c.name()),
            (Algorithm::Zip, Some(c)) => format!("ZIP ({})", c.name()),
            (Algorithm::Tar, None) => "TAR".to_string(),
            (Algorithm::Zip, None) => "ZIP".to_string(),
        };
        match (read, upload_error) {
            (Err(e), upload) if upload.is_none() || e != bridge::STOPPED => {
                return Err(TaskError::failed(format!("cannot extract {} as {what}: {e}", self.from)));
            }
            (_, Some(e)) => return Err(e),
            (Err(e), None) => return Err(TaskError::failed(e)),
            (Ok(n), None) => cx.info(&format!("Extracted {n} file(s) from {} ({what})", self.from)),
        }
        let mut out = Map::new();
        out.insert("files".into(), Value::Object(files));
        Ok(TaskOutput::with(out))
    }
}

// -------------------------------------------------------------- compress ---

/// Make an archive of files.
///
/// Packs files (name → kestra:// URI) into a tar or zip archive, optionally compressed.
#[derive(Debug, Deserialize, Declare)]
#[plugin(
    type = "io.kestra.plugin.compress.ArchiveCompress",
    group = "core",
    example = "id: pack\ntype: io.kestra.plugin.compress.ArchiveCompress\nalgorithm: TAR\ncompression: GZIP\nfrom:\n  report.csv: \"{{ outputs.report.uri }}\"\n",
    outputs(uri(String, "The archive."))
)]
struct CompressProps {
    /// The files: name → kestra:// URI (or a JSON mapping as a string).
    from: Value,
    /// The archive format.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(values = ["TAR", "ZIP", "JAR"])]
    algorithm: String,
    /// The compression of the archive.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["GZIP", "BZIP2", "ZSTD", "XZ", "LZMA", "DEFLATE"])]
    compression: Option<String>,
}

#[derive(Debug)]
struct ArchiveCompress {
    /// (path in the archive, storage path)
    files: Vec<(String, String)>,
    algorithm: Algorithm,
    compression: Option<Compression>,
}

fn build_compress(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CompressProps = parse_props(props)?;
    let parsed;
    let map = match &p.from {
        Value::Object(m) => m,
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok();
            match &parsed {
                Some(Value::Object(m)) => m,
                _ => return Err(TaskError::property("from", "expected a map of archive path to kestra:// URI")),
            }
        }
        other => return Err(TaskError::property("from", format!("expected a map, found {other}"))),
    };
    let mut files = Vec::new();
    for (name, uri) in map {
        let name = entry_path(name).map_err(|e| TaskError::property("from", e))?;
        let path = storage_path(&value_to_string(uri)).map_err(|e| TaskError::property("from", e.to_string()))?;
        files.push((name, path));
    }
    Ok(Box::new(ArchiveCompress {
        files,
        algorithm: Algorithm::parse(&p.algorithm)?,
        compression: opt_compression(p.compression)?,
    }))
}

/// One input of the archive writer: its path, size and bytes.
struct Input {
    name: String,
    size: u64,
    reader: SyncReader,
}

fn write_tar(file: &Path, rx: &mut mpsc::Receiver<Input>) -> Result<(), String> {
    let out = std::fs::File::create(file).map_err(|e| format!("cannot create {}: {e}", file.display()))?;
    let mut builder = tar::Builder::new(std::io::BufWriter::new(out));
    while let Some(mut input) = rx.blocking_recv() {
        let mut header = tar::Header::new_gnu();
        header.set_size(input.size);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, &input.name, &mut input.reader)
            .map_err(|e| format!("cannot add '{}': {e}", input.name))?;
    }
    builder.into_inner().and_then(|mut w| std::io::Write::flush(&mut w)).map_err(|e| e.to_string())
}

fn write_zip(file: &Path, rx: &mut mpsc::Receiver<Input>) -> Result<(), String> {
    let out = std::fs::File::create(file).map_err(|e| format!("cannot create {}: {e}", file.display()))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(out));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    while let Some(mut input) = rx.blocking_recv() {
        zip.start_file(input.name.as_str(), options).map_err(|e| format!("cannot add '{}': {e}", input.name))?;
        std::io::copy(&mut input.reader, &mut zip).map_err(|e| format!("cannot add '{}': {e}", input.name))?;
    }
    zip.finish().map_err(|e| e.to_string())?;
    Ok(())
}

#[async_trait]
impl RunnableTask for ArchiveCompress {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        for (_, path) in &self.files {
            cx.check_readable("from", path)?;
        }
        let dir = cx.working_dir()?;
        let _scratch = ScratchDir(dir.clone());
        let (ext, file) = match self.algorithm {
            Algorithm::Tar => ("tar", dir.join("archive.tar")),
            Algorithm::Zip => ("zip", dir.join("archive.zip")),
        };
        let (tx, mut rx) = mpsc::channel::<Input>(1);
        let algorithm = self.algorithm;
        let target = file.clone();
        let job = tokio::task::spawn_blocking(move || match algorithm {
            Algorithm::Tar => write_tar(&target, &mut rx),
            Algorithm::Zip => write_zip(&target, &mut rx),
        });
        let storage = &cx.services.storage;
        for (name, path) in &self.files {
            let size = storage
                .size(path)
                .await
                .map_err(|e| TaskError::failed(format!("cannot read kestra://{path}: {e}")))?
                .ok_or_else(|| TaskError::failed(format!("kestra://{path} does not exist")))?;
            let src =
                storage.get(path).await.map_err(|e| TaskError::failed(format!("cannot read kestra://{path}: {e}")))?;
            let input = Input { name: name.clone(), size, reader: SyncReader::pump(src) };
            if tx.send(input).await.is_err() {
                break; // the writer failed: its error is reported below
            }
        }
        drop(tx);
        job.await
            .map_err(|e| TaskError::failed(format!("archive writer stopped: {e}")))?
            .map_err(|e| TaskError::failed(format!("cannot write the archive: {e}")))?;
        let f = tokio::fs::File::open(&file)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", file.display())))?;
        let mut stream: ByteStream = Box::pin(f);
        let mut name = format!("archive.{ext}");
        if let Some(c) = self.compression {
            stream = codec::encoder(c, stream);
            name = format!("{name}.{}", c.extension());
        }
        let (uri, size) = cx.put_file(&name, stream).await?;
        cx.info(&format!("Archived {} file(s) into {uri} ({size} bytes)", self.files.len()));
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(uri));
        Ok(TaskOutput::with(out))
    }
}

pub static DECOMPRESS: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DecompressProps>(build_decompress));

pub static COMPRESS: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CompressProps>(build_compress));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_stay_inside() {
        assert_eq!(entry_path("./a/b.csv").unwrap(), "a/b.csv");
        assert!(entry_path("../evil").is_err());
        assert!(entry_path("a/../../evil").is_err());
        assert!(entry_path("/etc/passwd").is_err());
        assert!(entry_path("./").is_err());
    }

    #[test]
    fn algorithms() {
        assert_eq!(Algorithm::parse("tar").unwrap(), Algorithm::Tar);
        assert_eq!(Algorithm::parse("JAR").unwrap(), Algorithm::Zip);
        assert!(Algorithm::parse("SEVENZ").unwrap_err().to_string().contains("not supported by Baton yet"));
        assert!(Algorithm::parse("RAR").is_err());
    }
}
