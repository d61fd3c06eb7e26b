//! `io.kestra.plugin.gcp.gcs.Upload`: streams a file from internal storage
//! (`kestra://…`) or a local path to `gs://bucket/object` — one request for
//! small files, a resumable session for large ones (one streamed PUT when
//! the file is local, which internal storage on a folder is; a bounded
//! buffer otherwise); memory does not grow with the file. A `to` ending in
//! `/` gets the source's file name. Outputs `uri`, `md5`, `crc32c`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::super::common::{GcpProps, gcp_props, gcs_error, parse_gs};
use crate::backend::{ByteStream, storage_path};
use crate::gcp::gcs::{OnProgress, UploadOptions};
use crate::plugins::registry::{PluginDef, PropKind, PropSpec};
use crate::plugins::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    #[serde(deserialize_with = "de::string_lenient")]
    to: String,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    content_type: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    content_encoding: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    content_disposition: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    cache_control: Option<String>,
}

struct Upload {
    p: Props,
    bucket: String,
    name: String,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let (bucket, name) = parse_gs("to", &p.to)?;
    Ok(Box::new(Upload { p, bucket, name }))
}

/// Where the bytes come from.
enum Source {
    /// A local file (a path, or internal storage kept in a local folder).
    File(PathBuf),
    /// A stream from internal storage.
    Stream(ByteStream),
}

/// Opens `from` (kestra:// or a local path): the source, its size and its file name.
async fn open(cx: &RunContext, from: &str) -> Result<(Source, Option<u64>, String), TaskError> {
    let from = from.trim();
    let file_name = from.rsplit('/').next().unwrap_or_default().to_string();
    if from.starts_with("kestra://") {
        let path = storage_path(from).map_err(|e| TaskError::property("from", e.to_string()))?;
        let storage = &cx.services.storage;
        let size = storage.size(&path).await.map_err(|e| TaskError::failed(format!("cannot read '{from}': {e}")))?;
        if size.is_none() {
            return Err(TaskError::property("from", format!("'{from}' does not exist in internal storage")));
        }
        if let Some(local) = storage.local_path(&path).filter(|p| p.is_file()) {
            return Ok((Source::File(local), size, file_name));
        }
        let reader = storage.get(&path).await.map_err(|e| TaskError::failed(format!("cannot read '{from}': {e}")))?;
        Ok((Source::Stream(reader), size, file_name))
    } else {
        let path = PathBuf::from(from.strip_prefix("file://").unwrap_or(from));
        let meta = std::fs::metadata(&path)
            .map_err(|e| TaskError::property("from", format!("cannot open '{}': {e}", path.display())))?;
        Ok((Source::File(path), Some(meta.len()), file_name))
    }
}

/// Reports bytes sent to the terminal progress bar, about every MiB.
fn progress(cx: &RunContext, total: Option<u64>) -> Option<OnProgress> {
    let bar = cx.services.progress.clone()?;
    let task_id = cx.task_id.clone();
    let last = Arc::new(AtomicU64::new(0));
    Some(Arc::new(move |done: u64| {
        let prev = last.load(Ordering::Relaxed);
        if done < prev || done - prev >= 1 << 20 || Some(done) == total {
            last.store(done, Ordering::Relaxed);
            bar.update(&task_id, done, total);
        }
    }))
}

#[async_trait]
impl RunnableTask for Upload {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.gcp.resolve(cx)?;
        let gcs = r.gcs(cx)?;
        let (source, size, file_name) = open(cx, &self.p.from).await?;
        let name = if self.name.is_empty() || self.name.ends_with('/') {
            format!("{}{}", self.name, file_name)
        } else {
            self.name.clone()
        };
        let target = super::blob::uri(&self.bucket, &name);
        cx.info(&format!("Upload from '{}' to '{target}'", self.p.from.trim()));
        let opts = UploadOptions {
            content_type: self.p.content_type.clone(),
            content_encoding: self.p.content_encoding.clone(),
            content_disposition: self.p.content_disposition.clone(),
            cache_control: self.p.cache_control.clone(),
        };
        let on_progress = progress(cx, size);
        // Spawned with owned data: the storage client's upload futures are
        // only `Send` for 'static borrows.
        let (bucket, object) = (self.bucket.clone(), name.clone());
        let result = tokio::spawn(async move {
            match source {
                Source::File(path) => gcs.upload_file(&bucket, &object, &path, &opts, on_progress).await,
                Source::Stream(reader) => gcs.upload(&bucket, &object, reader, size, &opts, on_progress).await,
            }
        })
        .await
        .map_err(|e| TaskError::failed(format!("the upload task failed: {e}")))?;
        if let Some(p) = &cx.services.progress {
            p.finish(&cx.task_id);
        }
        let up = result.map_err(gcs_error)?;
        cx.info(&format!("Uploaded {} bytes to '{target}'", up.size));
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(target));
        if let Some(m) = up.md5 {
            out.insert("md5".into(), Value::String(m));
        }
        if let Some(c) = up.crc32c {
            out.insert("crc32c".into(), Value::String(c));
        }
        Ok(TaskOutput::with(out))
    }
}

pub const DEF: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.gcp.gcs.Upload",
    aliases: &[],
    group: "gcp",
    props: gcp_props![
        PropSpec::required("from", PropKind::String),
        PropSpec::required("to", PropKind::String),
        PropSpec::optional("contentType", PropKind::String),
        PropSpec::optional("contentEncoding", PropKind::String),
        PropSpec::optional("contentDisposition", PropKind::String),
        PropSpec::optional("cacheControl", PropKind::String),
    ],
    build,
};
