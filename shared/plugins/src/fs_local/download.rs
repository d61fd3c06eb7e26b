//! `io.kestra.plugin.fs.local.Download` and `…local.Downloads`: local files
//! into the execution's internal storage. Download stores one file and
//! outputs its `uri`, `size` and `checksum` (hex, `checksumAlgorithm`:
//! SHA_256 by default, MD5 and SHA_1 warned as weak), refusing to store it
//! when `validateChecksum` finds another sum than `checksumExpected`.
//! Downloads stores what a `List` of `from` takes, then does `action`
//! (MOVE to `moveDirectory`, DELETE, NONE) with each file; it outputs
//! `files` (the `File` models with their stored `uri`) and `outputFiles`
//! (local path → stored URI).

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::Digest;

use super::list::{Listing, ListingProps, file_json};
use super::paths::resolve;
use super::{Action, io_err, on_disk};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Download a local file into internal storage.
///
/// Stores a local file (in the folders BATON_LOCAL_ALLOWED_PATHS allows) in the execution's files and gives its checksum.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.fs.local.Download",
    group = "core",
    example = "id: download\ntype: io.kestra.plugin.fs.local.Download\nfrom: /data/files/report.csv\n",
    outputs(
        uri(String, "The stored file's kestra:// URI."),
        size(Integer, "Its size in bytes."),
        checksum(String, "Its checksum in hex, with checksumAlgorithm.")
    )
)]
struct DownloadProps {
    /// The local file to download.
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// Fail, storing nothing, when the file's checksum is not checksumExpected.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    validate_checksum: Option<bool>,
    /// The checksum validateChecksum expects (hex, any case).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    checksum_expected: Option<String>,
    /// The checksum's algorithm: SHA_256, SHA_512, or the weak MD5 and SHA_1.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["MD5", "SHA_1", "SHA_256", "SHA_512"], default = "\"SHA_256\"")]
    checksum_algorithm: Option<String>,
}

/// Download local files into internal storage.
///
/// Lists a local folder (in the folders BATON_LOCAL_ALLOWED_PATHS allows), stores each file found in the execution's files, then moves or deletes them (action).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.fs.local.Downloads",
    group = "core",
    example = "id: downloads\ntype: io.kestra.plugin.fs.local.Downloads\nfrom: /data/files/incoming\nregExp: \".*\\\\.csv$\"\naction: MOVE\nmoveDirectory: /data/files/archive\n",
    outputs(
        files(List, "The files downloaded: their File model with uri the stored file's kestra:// URI."),
        outputFiles(Map, "Local path → the stored file's URI.")
    )
)]
struct DownloadsProps {
    /// The folder to list.
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// What to do with each file once stored: MOVE (to moveDirectory), DELETE or NONE.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["MOVE", "DELETE", "NONE"], default = "\"NONE\"")]
    action: Option<String>,
    /// The folder action MOVE moves the files to.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    move_directory: Option<String>,
    #[serde(flatten)]
    listing: ListingProps,
}

/// A checksum algorithm as Kestra names it, with the name Java's digests use.
#[derive(Debug, Clone, Copy)]
enum Algorithm {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    fn parse(written: Option<&str>) -> Result<Algorithm, TaskError> {
        match written.map(|w| w.trim().to_ascii_uppercase()).as_deref().unwrap_or("SHA_256") {
            "MD5" => Ok(Algorithm::Md5),
            "SHA_1" => Ok(Algorithm::Sha1),
            "SHA_256" => Ok(Algorithm::Sha256),
            "SHA_512" => Ok(Algorithm::Sha512),
            w => Err(TaskError::property(
                "checksumAlgorithm",
                format!("'{w}' is not one of MD5, SHA_1, SHA_256, SHA_512"),
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha1 => "SHA-1",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha512 => "SHA-512",
        }
    }

    /// The hex digest of the file at `path`, read once.
    fn digest(self, path: &Path) -> Result<String, TaskError> {
        fn sum<D: Digest>(mut r: impl Read) -> std::io::Result<String> {
            let mut d = D::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match r.read(&mut buf)? {
                    0 => break,
                    n => d.update(&buf[..n]),
                }
            }
            Ok(d.finalize().iter().map(|b| format!("{b:02x}")).collect())
        }
        let f = std::fs::File::open(path).map_err(|e| io_err("read", path, e))?;
        match self {
            Algorithm::Md5 => sum::<md5::Md5>(f),
            Algorithm::Sha1 => sum::<sha1::Sha1>(f),
            Algorithm::Sha256 => sum::<sha2::Sha256>(f),
            Algorithm::Sha512 => sum::<sha2::Sha512>(f),
        }
        .map_err(|e| io_err("read", path, e))
    }
}

#[derive(Debug)]
struct Download {
    from: String,
    validate: bool,
    expected: Option<String>,
    algorithm: Algorithm,
}

fn build_download(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: DownloadProps = parse_props(props)?;
    Ok(Box::new(Download {
        from: p.from,
        validate: p.validate_checksum.unwrap_or(false),
        expected: p.checksum_expected,
        algorithm: Algorithm::parse(p.checksum_algorithm.as_deref())?,
    }))
}

#[async_trait]
impl RunnableTask for Download {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (from, validate, expected, algorithm) =
            (self.from.clone(), self.validate, self.expected.clone(), self.algorithm);
        if matches!(algorithm, Algorithm::Md5 | Algorithm::Sha1) {
            cx.warn(&format!(
                "Checksum algorithm '{}' is deprecated and considered weak; use SHA_256 or stronger for integrity verification.",
                algorithm.name()
            ));
        }
        let (path, checksum) = on_disk(cx, move |allowed, _| {
            let path = resolve(allowed, &from)?;
            if !path.exists() {
                return Err(TaskError::failed(format!("Source file '{}' does not exist", path.display())));
            }
            let expected = expected.filter(|e| !e.trim().is_empty());
            let computed = algorithm.digest(&path)?;
            match expected {
                None if validate => Err(TaskError::failed(
                    "Checksum validation is enabled but no `checksumExpected` value was provided.",
                )),
                Some(e) if validate && !computed.eq_ignore_ascii_case(e.trim()) => Err(TaskError::failed(format!(
                    "Checksum mismatch for file '{}' — expected '{e}' but computed '{computed}' using {}.",
                    path.display(),
                    algorithm.name()
                ))),
                _ => Ok((path, computed)),
            }
        })
        .await?;
        let (uri, size) = store(cx, &path, &mut HashSet::new()).await?;
        let mut out = Map::new();
        out.insert("uri".into(), json!(uri));
        out.insert("size".into(), json!(size));
        out.insert("checksum".into(), json!(checksum));
        Ok(TaskOutput::with(out))
    }
}

/// Streams the local file `path` into internal storage under its name
/// (made unique among `used`); the URI and size.
async fn store(cx: &RunContext, path: &Path, used: &mut HashSet<String>) -> Result<(String, u64), TaskError> {
    let base = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    let name = (1..).map(|n| if n == 1 { base.clone() } else { format!("{n}-{base}") }).find(|c| !used.contains(c));
    let name = name.unwrap_or(base);
    used.insert(name.clone());
    let f = tokio::fs::File::open(path).await.map_err(|e| io_err("read", path, e))?;
    cx.put_file(&name, Box::pin(f)).await
}

#[derive(Debug)]
struct Downloads {
    listing: Listing,
    action: Action,
}

fn build_downloads(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: DownloadsProps = parse_props(props)?;
    let action = Action::parse(p.action.as_deref(), p.move_directory.as_deref())?;
    let listing = Listing::new(p.from, &p.listing)?;
    Ok(Box::new(Downloads { listing, action }))
}

#[async_trait]
impl RunnableTask for Downloads {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let listing = self.listing.clone();
        let listed = on_disk(cx, move |allowed, j| listing.files(allowed, j)).await?;
        let (mut files, mut output_files, mut used) = (Vec::new(), Map::new(), HashSet::new());
        for (path, meta) in &listed {
            let (uri, _) = store(cx, path, &mut used).await?;
            let mut file = file_json(path, meta);
            file["uri"] = json!(uri);
            files.push(file);
            output_files.insert(super::paths::absolute(path).display().to_string(), json!(uri));
        }
        let done: Vec<PathBuf> = listed.into_iter().map(|(p, _)| p).collect();
        let action = self.action.clone();
        on_disk(cx, move |allowed, j| action.perform(allowed, &done, j)).await?;
        let mut out = Map::new();
        out.insert("files".into(), Value::Array(files));
        out.insert("outputFiles".into(), Value::Object(output_files));
        Ok(TaskOutput::with(out))
    }
}

pub static DOWNLOAD: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DownloadProps>(build_download));
pub static DOWNLOADS: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DownloadsProps>(build_downloads));
