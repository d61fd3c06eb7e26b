//! `io.kestra.plugin.compress.FileDecompress` and `FileCompress`: one file
//! from internal storage through a codec back into internal storage, as a
//! stream (no temporary file, nothing held in memory). Output `uri`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::codec::{self, Compression};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::storage_path;

/// The properties both tasks have.
#[derive(Debug, Deserialize, Declare)]
struct Props {
    /// The file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The compression.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(values = ["GZIP", "BZIP2", "ZSTD", "XZ", "LZMA", "DEFLATE"])]
    compression: String,
}

/// Decompress one file.
///
/// Decompresses a stored file (gzip, bzip2, zstd…).
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.compress.FileDecompress",
    group = "core",
    props = Props,
    example = "id: gunzip\ntype: io.kestra.plugin.compress.FileDecompress\nfrom: \"{{ outputs.download.uri }}\"\ncompression: GZIP\n",
    outputs(
        uri(String, "The decompressed file.")
    ),
)]
struct FileDecompress;

/// Compress one file.
///
/// Compresses a stored file (gzip, bzip2, zstd…).
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.compress.FileCompress",
    group = "core",
    props = Props,
    example = "id: gz\ntype: io.kestra.plugin.compress.FileCompress\nfrom: \"{{ outputs.report.uri }}\"\ncompression: GZIP\n",
    outputs(
        uri(String, "The compressed file.")
    ),
)]
struct FileCompress;

/// Which way the file goes through the codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Decompress,
    Compress,
}

/// The task, built from rendered properties.
#[derive(Debug)]
struct FileCodec {
    from: String,
    path: String,
    compression: Compression,
    direction: Direction,
}

fn build(props: &Map<String, Value>, direction: Direction) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let path = storage_path(&p.from).map_err(|e| TaskError::property("from", e.to_string()))?;
    Ok(Box::new(FileCodec {
        from: p.from,
        path,
        compression: Compression::parse("compression", &p.compression)?,
        direction,
    }))
}

#[async_trait]
impl RunnableTask for FileCodec {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        cx.check_readable("from", &self.path)?;
        let src = cx
            .services
            .storage
            .get(&self.path)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", self.from)))?;
        let (name, stream) = match self.direction {
            Direction::Decompress => {
                (codec::decompressed_name(&self.path), codec::decoder(self.compression, src, &self.from))
            }
            Direction::Compress => {
                let base = self.path.rsplit('/').next().unwrap_or("file");
                (format!("{base}.{}", self.compression.extension()), codec::encoder(self.compression, src))
            }
        };
        let (uri, size) = cx.put_file(&name, stream).await?;
        let verb = match self.direction {
            Direction::Decompress => "Decompressed",
            Direction::Compress => "Compressed",
        };
        cx.info(&format!("{verb} {} ({}) to {uri}: {size} bytes", self.from, self.compression.name()));
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(uri));
        Ok(TaskOutput::with(out))
    }
}

pub static DECOMPRESS: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<FileDecompress>(|p| build(p, Direction::Decompress)).parsed_by::<Props>());

pub static COMPRESS: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<FileCompress>(|p| build(p, Direction::Compress)).parsed_by::<Props>());
