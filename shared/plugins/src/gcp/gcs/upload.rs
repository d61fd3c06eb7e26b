//! `io.kestra.plugin.gcp.gcs.Upload`: streams a file from internal storage
//! (`kestra://…`) or a local path to `gs://bucket/object` — single-shot for
//! small files, resumable with a bounded buffer for large ones; memory does
//! not grow with the file. A `to` ending in `/` gets the source's file name.
//! Outputs `uri`, `md5`, `crc32c`.

use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, ReadBuf};

use super::super::common::{GcpProps, gcs_error, parse_gs};
use crate::context::Progress;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_backend::ByteStream;
use baton_gcp::gcs::UploadOptions;

/// Upload a file to GCS.
///
/// Copies a file of the execution to a gs:// URI.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.gcs.Upload",
    group = "gcp",
    example = "id: upload\ntype: io.kestra.plugin.gcp.gcs.Upload\nfrom: \"{{ outputs.extract.uri }}\"\nto: gs://my-bucket/trips/2024-01.csv\n",
    outputs(uri(String, "The gs:// URI written."))
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    /// Where to read from (a gs:// URI or a kestra:// file).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// Where to write to (a gs:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    to: String,
    /// The object's Content-Type.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    content_type: Option<String>,
    /// The object's Content-Encoding.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    content_encoding: Option<String>,
    /// The object's Content-Disposition.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    content_disposition: Option<String>,
    /// The object's Cache-Control.
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

/// Reports bytes read to the terminal progress bar.
struct Counting {
    inner: ByteStream,
    progress: Option<Arc<dyn Progress>>,
    task_id: String,
    done: u64,
    total: Option<u64>,
    reported: u64,
}

impl AsyncRead for Counting {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = self.inner.as_mut().poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        let this = &mut *self;
        this.done += n;
        if let Some(p) = &this.progress
            && (this.done - this.reported >= 1 << 20 || (n == 0 && this.done > this.reported))
        {
            p.update(&this.task_id, this.done, this.total);
            this.reported = this.done;
        }
        r
    }
}

/// Opens `from` (kestra:// or a local path): the reader, its size and its file name.
async fn open(cx: &RunContext, from: &str) -> Result<(ByteStream, Option<u64>, String), TaskError> {
    let from = from.trim();
    let file_name = from.rsplit('/').next().unwrap_or_default().to_string();
    if from.starts_with("kestra://") {
        let path = cx.readable_path("from", from)?;
        let storage = &cx.services.storage;
        let size = storage.size(&path).await.map_err(|e| TaskError::failed(format!("cannot read '{from}': {e}")))?;
        if size.is_none() {
            return Err(TaskError::property("from", format!("'{from}' does not exist in internal storage")));
        }
        let reader = storage.get(&path).await.map_err(|e| TaskError::failed(format!("cannot read '{from}': {e}")))?;
        Ok((reader, size, file_name))
    } else {
        let path = from.strip_prefix("file://").unwrap_or(from);
        let f = tokio::fs::File::open(path)
            .await
            .map_err(|e| TaskError::property("from", format!("cannot open '{path}': {e}")))?;
        let size = f.metadata().await.ok().map(|m| m.len());
        Ok((Box::pin(f), size, file_name))
    }
}

#[async_trait]
impl RunnableTask for Upload {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.gcp.resolve(cx)?;
        let gcs = r.gcs(cx)?;
        let (reader, size, file_name) = open(cx, &self.p.from).await?;
        let name = if self.name.is_empty() || self.name.ends_with('/') {
            format!("{}{}", self.name, file_name)
        } else {
            self.name.clone()
        };
        let target = super::blob::uri(&self.bucket, &name);
        cx.info(&format!("Upload from '{}' to '{target}'", self.p.from.trim()));
        let reader = Counting {
            inner: reader,
            progress: cx.services.progress.clone(),
            task_id: cx.task_id.clone(),
            done: 0,
            total: size,
            reported: 0,
        };
        let opts = UploadOptions {
            content_type: self.p.content_type.clone(),
            content_encoding: self.p.content_encoding.clone(),
            content_disposition: self.p.content_disposition.clone(),
            cache_control: self.p.cache_control.clone(),
            if_generation_match: None,
        };
        let result = gcs.upload(&self.bucket, &name, Box::pin(reader), size, &opts).await;
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

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
