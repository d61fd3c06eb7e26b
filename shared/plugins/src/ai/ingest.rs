//! `io.kestra.plugin.ai.rag.IngestDocument`: documents from `fromDocuments`
//! (inline), `fromInternalURIs` (internal storage), `fromExternalURLs`
//! (fetched over HTTP, at most [`MAX_DOCUMENT`] bytes each) and `fromPath`
//! (a file or folder under the task's working directory) are cut by
//! `documentSplitter` (whole documents without one, as langchain4j does),
//! embedded with `provider` in batches of `bulkSize` documents and stored
//! in `embeddings` (`drop: true` empties it first). Outputs
//! `ingestedDocuments`, the token counts and `embeddingStoreOutputs`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;

use super::embeddings::{self, Segment};
use super::model::TokenUsage;
use super::props::{bool_of, i64_of, map_of, str_of, strings_of};
use super::providers::Provider;
use super::split::{Level, split};
use super::tools::list_of;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput};

/// The largest document read (URL, internal file or local file).
pub const MAX_DOCUMENT: u64 = 50 * 1024 * 1024;

// The task reads its rendered properties itself, with the lenient readers
// of `super::props` (numbers and booleans written as strings, as Kestra's
// `Property<T>`): this struct only declares them, serde naming them.
/// Put documents in an embedding store.
///
/// Splits documents, embeds the pieces and writes them to an embedding store. Each document (a stored file, a URL, a file under `fromPath`) is read whole: at most 50 MiB (`MAX_DOCUMENT`), past which the task fails naming the bound.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.ai.rag.IngestDocument",
    aliases = ["io.kestra.plugin.langchain4j.rag.IngestDocument"],
    group = "core",
    example = "id: ingest\ntype: io.kestra.plugin.ai.rag.IngestDocument\nprovider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: text-embedding-3-small\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nembeddings:\n  type: io.kestra.plugin.ai.embeddings.KestraKVStore\nfromDocuments:\n  - content: Baton runs Kestra flows.\n",
    outputs(
        ingestedDocuments(Integer, "Documents ingested.")
    ),
)]
struct Props {
    /// The model provider: {type, modelName, apiKey, baseUrl…}.
    #[prop(kind = "Map", required)]
    provider: Option<Value>,
    /// The embedding store: {type, …}.
    #[prop(kind = "Map", required)]
    embeddings: Option<Value>,
    /// Ingest the files under this working-directory path.
    #[prop(kind = "String")]
    from_path: Option<Value>,
    /// Ingest these stored files.
    #[serde(rename = "fromInternalURIs")]
    #[prop(kind = "StringOrList")]
    from_internal_uris: Option<Value>,
    /// Ingest these URLs.
    #[serde(rename = "fromExternalURLs")]
    #[prop(kind = "StringOrList")]
    from_external_urls: Option<Value>,
    /// Ingest these inline documents: [{content, metadata}].
    #[prop(kind = "List")]
    from_documents: Option<Value>,
    /// Metadata added to every ingested document.
    #[prop(kind = "Map")]
    metadata: Option<Value>,
    /// How documents are split: {splitter, maxSegmentSizeInChars, maxOverlapSizeInChars}.
    #[prop(kind = "Map")]
    document_splitter: Option<Value>,
    /// Empty the store before ingesting.
    #[prop(kind = "Boolean", default = "false")]
    drop: Option<Value>,
    /// Segments written per batch.
    #[prop(kind = "Integer")]
    bulk_size: Option<Value>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

struct Splitter {
    level: Level,
    max: usize,
    overlap: usize,
}

struct Doc {
    text: String,
    metadata: Map<String, Value>,
}

struct IngestDocument {
    provider: Provider,
    embeddings: Value,
    from_path: Option<String>,
    internal: Vec<String>,
    external: Vec<String>,
    inline: Vec<Doc>,
    metadata: Map<String, Value>,
    splitter: Option<Splitter>,
    drop: bool,
    bulk: usize,
}

fn build(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let mut inline = Vec::new();
    for (i, d) in list_of("fromDocuments", p.get("fromDocuments"))?.iter().enumerate() {
        let f = format!("fromDocuments[{i}]");
        let text = str_of(d.get("content")).ok_or_else(|| TaskError::property(&format!("{f}.content"), "required"))?;
        inline.push(Doc { text, metadata: map_of(&format!("{f}.metadata"), d.get("metadata"))?.unwrap_or_default() });
    }
    let splitter = match map_of("documentSplitter", p.get("documentSplitter"))? {
        None => None,
        Some(s) => {
            let name = str_of(s.get("splitter")).unwrap_or_else(|| "RECURSIVE".into());
            let level = Level::from_name(&name).ok_or_else(|| {
                TaskError::property(
                    "documentSplitter.splitter",
                    format!("unknown splitter '{name}' (RECURSIVE, PARAGRAPH, LINE, SENTENCE, WORD)"),
                )
            })?;
            let max = i64_of("documentSplitter.maxSegmentSizeInChars", s.get("maxSegmentSizeInChars"))?
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    TaskError::property("documentSplitter.maxSegmentSizeInChars", "a positive number is required")
                })?;
            let overlap =
                i64_of("documentSplitter.maxOverlapSizeInChars", s.get("maxOverlapSizeInChars"))?.unwrap_or(0);
            Some(Splitter { level, max: max as usize, overlap: overlap.max(0) as usize })
        }
    };
    Ok(Box::new(IngestDocument {
        provider: Provider::from_value("provider", p.get("provider").unwrap_or(&Value::Null))?,
        embeddings: p.get("embeddings").cloned().unwrap_or(Value::Null),
        from_path: str_of(p.get("fromPath")),
        internal: strings_of("fromInternalURIs", p.get("fromInternalURIs"))?,
        external: strings_of("fromExternalURLs", p.get("fromExternalURLs"))?,
        inline,
        metadata: map_of("metadata", p.get("metadata"))?.unwrap_or_default(),
        splitter,
        drop: bool_of("drop", p.get("drop"))?.unwrap_or(false),
        bulk: i64_of("bulkSize", p.get("bulkSize"))?.unwrap_or(500).max(1) as usize,
    }))
}

async fn read_limited(mut r: impl tokio::io::AsyncRead + Unpin, what: &str) -> Result<String, TaskError> {
    let mut buf = Vec::new();
    let n = (&mut r)
        .take(MAX_DOCUMENT + 1)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| TaskError::failed(format!("cannot read {what}: {e}")))?;
    if n as u64 > MAX_DOCUMENT {
        return Err(TaskError::failed(format!(
            "{what} is larger than {} MiB, the most Baton reads of one document (MAX_DOCUMENT)",
            MAX_DOCUMENT / (1024 * 1024)
        )));
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

async fn fetch_url(cx: &RunContext, url: &str) -> Result<String, TaskError> {
    let fail = |cause: String| TaskError::failed(format!("cannot fetch document {url}: {cause}"));
    let resp = cx.services.http.get(url).send().await.map_err(|e| fail(baton_backend::causes(&e)))?;
    if !resp.status().is_success() {
        return Err(fail(format!("HTTP {}", resp.status().as_u16())));
    }
    if resp.content_length().is_some_and(|n| n > MAX_DOCUMENT) {
        return Err(fail(format!("larger than {} MiB (MAX_DOCUMENT)", MAX_DOCUMENT / (1024 * 1024))));
    }
    let mut text = Vec::new();
    let mut resp = resp;
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(baton_backend::causes(&e)))? {
        if (text.len() + chunk.len()) as u64 > MAX_DOCUMENT {
            return Err(fail(format!("larger than {} MiB (MAX_DOCUMENT)", MAX_DOCUMENT / (1024 * 1024))));
        }
        text.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Files under `path` (a file, or a folder walked recursively), sorted.
fn local_files(root: &std::path::Path, rel: &str) -> Result<Vec<std::path::PathBuf>, TaskError> {
    if std::path::Path::new(rel).is_absolute() || rel.split(['/', '\\']).any(|s| s == "..") {
        return Err(TaskError::property(
            "fromPath",
            format!("'{rel}' must be a relative path inside the working directory"),
        ));
    }
    let start = root.join(rel);
    if !start.exists() {
        return Err(TaskError::property("fromPath", format!("'{rel}' does not exist in the working directory")));
    }
    let mut out = Vec::new();
    let mut stack = vec![start];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            let rd =
                std::fs::read_dir(&p).map_err(|e| TaskError::failed(format!("cannot list {}: {e}", p.display())))?;
            stack.extend(rd.flatten().map(|e| e.path()));
        } else {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

impl IngestDocument {
    async fn documents(&self, cx: &RunContext) -> Result<Vec<Doc>, TaskError> {
        let mut docs = Vec::new();
        if let Some(rel) = &self.from_path {
            for f in local_files(&cx.working_dir()?, rel)? {
                let file = tokio::fs::File::open(&f)
                    .await
                    .map_err(|e| TaskError::failed(format!("cannot open {}: {e}", f.display())))?;
                let text = read_limited(file, &f.display().to_string()).await?;
                let mut metadata = Map::new();
                if let Some(n) = f.file_name() {
                    metadata.insert("file_name".into(), Value::String(n.to_string_lossy().into_owned()));
                }
                docs.push(Doc { text, metadata });
            }
        }
        for d in &self.inline {
            docs.push(Doc { text: d.text.clone(), metadata: d.metadata.clone() });
        }
        for uri in &self.internal {
            let path = cx.readable_path("fromInternalURIs", uri)?;
            let r = cx
                .services
                .storage
                .get(&path)
                .await
                .map_err(|e| TaskError::failed(format!("cannot read {uri}: {e}")))?;
            docs.push(Doc { text: read_limited(r, uri).await?, metadata: Map::new() });
        }
        for url in &self.external {
            let text = fetch_url(cx, url).await?;
            let mut metadata = Map::new();
            metadata.insert("url".into(), Value::String(url.clone()));
            docs.push(Doc { text, metadata });
        }
        for d in &mut docs {
            for (k, v) in &self.metadata {
                d.metadata.entry(k.clone()).or_insert(v.clone());
            }
        }
        Ok(docs)
    }

    fn segments(&self, doc: &Doc) -> Vec<(String, Map<String, Value>)> {
        let texts = match &self.splitter {
            Some(s) => split(&doc.text, s.level, s.max, s.overlap),
            None if doc.text.trim().is_empty() => vec![],
            None => vec![doc.text.clone()],
        };
        texts
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let mut m = doc.metadata.clone();
                if self.splitter.is_some() {
                    m.insert("index".into(), Value::String(i.to_string()));
                }
                (t, m)
            })
            .collect()
    }
}

#[async_trait]
impl RunnableTask for IngestDocument {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let docs = self.documents(cx).await?;
        let mut store = embeddings::open(cx, "embeddings", &self.embeddings, self.drop).await?;
        let mut usage = TokenUsage::default();
        let mut segments_total = 0usize;
        for batch in docs.chunks(self.bulk) {
            let segs: Vec<(String, Map<String, Value>)> = batch.iter().flat_map(|d| self.segments(d)).collect();
            if segs.is_empty() {
                continue;
            }
            let texts: Vec<String> = segs.iter().map(|(t, _)| t.clone()).collect();
            let e = self.provider.embed(cx, &texts).await?;
            usage.add(e.usage);
            segments_total += segs.len();
            let rows = segs
                .into_iter()
                .zip(e.vectors)
                .map(|((text, metadata), vector)| Segment {
                    id: uuid::Uuid::new_v4().to_string(),
                    text,
                    metadata,
                    vector,
                })
                .collect();
            store.add(rows).await?;
        }
        let store_out = store.finish(cx).await?;
        cx.info(&format!("ingested {} documents as {segments_total} segments", docs.len()));
        let mut out = Map::new();
        out.insert("ingestedDocuments".into(), Value::from(docs.len()));
        let nz = |n: Option<i64>| n.filter(|n| *n > 0).map(Value::from);
        for (k, v) in
            [("inputTokenCount", usage.input), ("outputTokenCount", usage.output), ("totalTokenCount", usage.total)]
        {
            if let Some(v) = nz(v) {
                out.insert(k.into(), v);
            }
        }
        if let Some(s) = store_out {
            out.insert("embeddingStoreOutputs".into(), Value::Object(s));
        }
        Ok(TaskOutput::with(out))
    }
}
