//! The GCS client — the one the GCS tasks, the GCS trigger and internal
//! storage (`store::GcsStorage`) all use — for one credential: object data
//! through Google's `google-cloud-storage` data plane (streamed uploads —
//! single-shot for objects under [`SINGLE_SHOT`], resumable with a bounded
//! buffer for larger ones — and streamed reads), buckets and listings
//! through the JSON API with `reqwest` (the gRPC control plane has no
//! emulator). Only `send_buffered` is used (a small `send_unbuffered`
//! upload is stored corrupted by fake-gcs-server).

use bytes::{Bytes, BytesMut};
use futures::Stream;
use google_cloud_storage::client::Storage;
use google_cloud_storage::streaming_source::{SizeHint, StreamingSource};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::OnceCell;

use super::auth::{AuthError, GcpCredentials};
use super::percent::encode;

/// Bytes read from the source per chunk handed to the upload.
const READ_CHUNK: usize = 1024 * 1024;
/// The resumable-upload buffer (memory held per upload).
pub const UPLOAD_BUFFER: usize = 16 * 1024 * 1024;
/// An upload of unknown size that ends within this many bytes is sent in
/// one request (the bytes are read first); a longer one is resumable.
pub const SINGLE_SHOT: usize = 8 * 1024 * 1024;

/// A failed GCS call.
#[derive(Debug, thiserror::Error)]
pub enum GcsError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{op}: cannot reach {url}: {message}")]
    Transport { op: String, url: String, message: String },
    #[error("{op}: HTTP {status}: {message}")]
    Http { op: String, status: u16, message: String },
    #[error("{op}: {message}")]
    Other { op: String, message: String },
}

impl GcsError {
    /// The HTTP status, when the service answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            GcsError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// One page of an object listing.
#[derive(Debug, Default)]
pub struct ObjectPage {
    /// Object resources (JSON API `storage#object`).
    pub items: Vec<Value>,
    /// "Directories" under the prefix, with a delimiter.
    pub prefixes: Vec<String>,
    pub next_page_token: Option<String>,
}

/// Metadata for an uploaded object.
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub cache_control: Option<String>,
    /// A precondition: `Some(0)` writes only if no object is
    /// there (a failed precondition is `GcsError::Http` with status 412).
    pub if_generation_match: Option<i64>,
}

/// What an upload stored.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub size: u64,
    /// Base64 MD5, as GCS reports it (`md5Hash`).
    pub md5: Option<String>,
    /// Base64 big-endian CRC32C, as GCS reports it (`crc32c`).
    pub crc32c: Option<String>,
}

/// A GCS client bound to one endpoint and one set of credentials.
#[derive(Debug)]
pub struct GcsClient {
    root: String,
    creds: GcpCredentials,
    http: reqwest::Client,
    storage: OnceCell<Storage>,
}

/// `projects/_/buckets/{bucket}`: the data plane's bucket name.
fn bucket_resource(bucket: &str) -> String {
    format!("projects/_/buckets/{bucket}")
}

/// Google's error message from a JSON error body, else the body's start.
pub fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| {
            let t: String = body.trim().chars().take(300).collect();
            if t.is_empty() { "(no details)".to_string() } else { t }
        })
}

impl GcsClient {
    /// A client for `root` (e.g. `https://storage.googleapis.com`).
    pub fn new(root: &str, creds: GcpCredentials, http: reqwest::Client) -> GcsClient {
        GcsClient { root: root.trim_end_matches('/').to_string(), creds, http, storage: OnceCell::new() }
    }

    fn api(&self) -> String {
        format!("{}/storage/v1", self.root)
    }

    async fn data_plane(&self, op: &str) -> Result<&Storage, GcsError> {
        self.storage
            .get_or_try_init(|| async {
                Storage::builder()
                    .with_endpoint(self.root.clone())
                    .with_credentials(self.creds.for_client_libraries())
                    .with_resumable_upload_buffer_size(UPLOAD_BUFFER)
                    .build()
                    .await
                    .map_err(|e| GcsError::Other {
                        op: op.to_string(),
                        message: format!("cannot create the GCS client: {e}"),
                    })
            })
            .await
    }

    /// Sends a JSON API request; returns the status and the parsed body (`Null` if empty).
    async fn call(
        &self,
        op: &str,
        method: reqwest::Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(u16, Value), GcsError> {
        let mut rb = self.http.request(method, url).query(query);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        rb = self.creds.authorize(rb).await?;
        let span = baton_backend::io_span!(
            "gcs.request",
            otel.kind = "client",
            gcp.gcs.operation = %op,
            http.response.status_code = tracing::field::Empty,
        );
        let resp = tracing::Instrument::instrument(rb.send(), span.clone()).await;
        if let Ok(r) = &resp {
            span.record("http.response.status_code", r.status().as_u16());
        }
        let resp = resp.map_err(|e| GcsError::Transport {
            op: op.to_string(),
            url: self.root.clone(),
            message: super::causes(&e),
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| GcsError::Transport {
            op: op.to_string(),
            url: self.root.clone(),
            message: e.to_string(),
        })?;
        let value =
            if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) };
        if (200..300).contains(&status) || status == 404 {
            Ok((status, value))
        } else {
            Err(GcsError::Http { op: op.to_string(), status, message: error_message(&text) })
        }
    }

    fn not_found(op: &str, status: u16, v: Value) -> Result<Value, GcsError> {
        if status == 404 {
            Err(GcsError::Http { op: op.to_string(), status, message: error_message(&v.to_string()) })
        } else {
            Ok(v)
        }
    }

    /// The bucket resource, or `None` if it does not exist.
    pub async fn get_bucket(&self, name: &str) -> Result<Option<Value>, GcsError> {
        let op = format!("get bucket '{name}'");
        let (status, v) =
            self.call(&op, reqwest::Method::GET, &format!("{}/b/{}", self.api(), encode(name)), &[], None).await?;
        Ok((status != 404).then_some(v))
    }

    /// Creates a bucket (`body` is a JSON API bucket resource with `name`).
    pub async fn insert_bucket(&self, project: &str, body: &Value) -> Result<Value, GcsError> {
        let op = format!("create bucket '{}'", body["name"].as_str().unwrap_or_default());
        let (status, v) = self
            .call(
                &op,
                reqwest::Method::POST,
                &format!("{}/b", self.api()),
                &[("project", project.to_string())],
                Some(body),
            )
            .await?;
        Self::not_found(&op, status, v)
    }

    /// Updates the given fields of a bucket.
    pub async fn patch_bucket(&self, name: &str, body: &Value) -> Result<Value, GcsError> {
        let op = format!("update bucket '{name}'");
        let (status, v) = self
            .call(&op, reqwest::Method::PATCH, &format!("{}/b/{}", self.api(), encode(name)), &[], Some(body))
            .await?;
        Self::not_found(&op, status, v)
    }

    /// Deletes an (empty) bucket; false if it did not exist.
    pub async fn delete_bucket(&self, name: &str) -> Result<bool, GcsError> {
        let op = format!("delete bucket '{name}'");
        let (status, _) =
            self.call(&op, reqwest::Method::DELETE, &format!("{}/b/{}", self.api(), encode(name)), &[], None).await?;
        Ok(status != 404)
    }

    /// One page of objects in `bucket` under `prefix`.
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        versions: bool,
        page_token: Option<&str>,
    ) -> Result<ObjectPage, GcsError> {
        let op = format!("list gs://{bucket}/{prefix}");
        let mut query = vec![("prefix", prefix.to_string())];
        if let Some(d) = delimiter {
            query.push(("delimiter", d.to_string()));
        }
        if versions {
            query.push(("versions", "true".to_string()));
        }
        if let Some(t) = page_token {
            query.push(("pageToken", t.to_string()));
        }
        let (status, v) = self
            .call(&op, reqwest::Method::GET, &format!("{}/b/{}/o", self.api(), encode(bucket)), &query, None)
            .await?;
        let v = Self::not_found(&op, status, v)?;
        Ok(ObjectPage {
            items: v["items"].as_array().cloned().unwrap_or_default(),
            prefixes: v["prefixes"]
                .as_array()
                .map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
            next_page_token: v["nextPageToken"].as_str().filter(|t| !t.is_empty()).map(str::to_string),
        })
    }

    /// Every object under `prefix` (all pages).
    pub async fn list_all(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        versions: bool,
    ) -> Result<ObjectPage, GcsError> {
        let mut all = ObjectPage::default();
        let mut token: Option<String> = None;
        loop {
            let page = self.list_objects(bucket, prefix, delimiter, versions, token.as_deref()).await?;
            all.items.extend(page.items);
            all.prefixes.extend(page.prefixes);
            match page.next_page_token {
                Some(t) if Some(&t) != token.as_ref() => token = Some(t),
                _ => break,
            }
        }
        Ok(all)
    }

    /// The object resource, or `None` if it does not exist.
    pub async fn get_object(&self, bucket: &str, name: &str) -> Result<Option<Value>, GcsError> {
        let op = format!("get gs://{bucket}/{name}");
        let url = format!("{}/b/{}/o/{}", self.api(), encode(bucket), encode(name));
        let (status, v) = self.call(&op, reqwest::Method::GET, &url, &[], None).await?;
        Ok((status != 404).then_some(v))
    }

    /// Deletes an object; false if it did not exist.
    pub async fn delete_object(&self, bucket: &str, name: &str) -> Result<bool, GcsError> {
        let op = format!("delete gs://{bucket}/{name}");
        let url = format!("{}/b/{}/o/{}", self.api(), encode(bucket), encode(name));
        let (status, _) = self.call(&op, reqwest::Method::DELETE, &url, &[], None).await?;
        Ok(status != 404)
    }

    /// Copies an object server-side (`rewriteTo`, repeated until done);
    /// returns the new object's resource.
    pub async fn copy_object(&self, from: (&str, &str), to: (&str, &str)) -> Result<Value, GcsError> {
        self.copy_generation(from, None, to).await
    }

    /// Concatenates `sources` (object names of `bucket`, at most 32 — GCS's
    /// limit) into `bucket/destination`; returns the new object's resource.
    pub async fn compose(&self, bucket: &str, sources: &[String], destination: &str) -> Result<Value, GcsError> {
        let op = format!("compose {} objects into gs://{bucket}/{destination}", sources.len());
        let url = format!("{}/b/{}/o/{}/compose", self.api(), encode(bucket), encode(destination));
        let body = json!({
            "sourceObjects": sources.iter().map(|n| json!({"name": n})).collect::<Vec<_>>(),
            "destination": {"bucket": bucket, "name": destination},
        });
        let (status, v) = self.call(&op, reqwest::Method::POST, &url, &[], Some(&body)).await?;
        Self::not_found(&op, status, v)
    }

    /// Deletes generation `generation` of an object (`ifGenerationMatch`);
    /// false if it is gone or was replaced by a newer generation (which stays).
    pub async fn delete_generation(&self, bucket: &str, name: &str, generation: &str) -> Result<bool, GcsError> {
        let op = format!("delete gs://{bucket}/{name}#{generation}");
        let url = format!("{}/b/{}/o/{}", self.api(), encode(bucket), encode(name));
        let query = [("ifGenerationMatch", generation.to_string())];
        match self.call(&op, reqwest::Method::DELETE, &url, &query, None).await {
            Ok((status, _)) => Ok(status != 404),
            Err(GcsError::Http { status: 412, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// [`copy_object`](Self::copy_object) of one generation of the source
    /// (`sourceGeneration`; the live one when `None`).
    pub async fn copy_generation(
        &self,
        from: (&str, &str),
        generation: Option<&str>,
        to: (&str, &str),
    ) -> Result<Value, GcsError> {
        let op = format!("copy gs://{}/{} to gs://{}/{}", from.0, from.1, to.0, to.1);
        let url = format!(
            "{}/b/{}/o/{}/rewriteTo/b/{}/o/{}",
            self.api(),
            encode(from.0),
            encode(from.1),
            encode(to.0),
            encode(to.1)
        );
        let mut token: Option<String> = None;
        for _ in 0..10_000 {
            let mut query: Vec<(&str, String)> = token.iter().map(|t| ("rewriteToken", t.clone())).collect();
            query.extend(generation.map(|g| ("sourceGeneration", g.to_string())));
            let (status, v) = self.call(&op, reqwest::Method::POST, &url, &query, Some(&json!({}))).await?;
            let v = Self::not_found(&op, status, v)?;
            if v["done"].as_bool().unwrap_or(true) {
                return Ok(v["resource"].clone());
            }
            token = v["rewriteToken"].as_str().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Err(GcsError::Other { op, message: "the rewrite did not finish".to_string() })
    }

    /// Streams `data` (`size` bytes if known) into `gs://bucket/name`. Of
    /// a stream of unknown size up to [`SINGLE_SHOT`] bytes are read first:
    /// one that ends by then goes in one request.
    pub async fn upload(
        &self,
        bucket: &str,
        name: &str,
        mut data: Reader,
        size: Option<u64>,
        opts: &UploadOptions,
    ) -> Result<Uploaded, GcsError> {
        let op = format!("upload to gs://{bucket}/{name}");
        let storage = self.data_plane(&op).await?;
        let mut head = BytesMut::new();
        let mut size = size;
        if size.is_none() {
            head.reserve(64 * 1024);
            while head.len() < SINGLE_SHOT {
                match data.read_buf(&mut head).await {
                    Ok(0) => {
                        size = Some(head.len() as u64);
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        return Err(GcsError::Other { op, message: format!("reading the data failed: {e}") });
                    }
                }
            }
        }
        let head = if head.is_empty() { None } else { Some(head.freeze()) };
        let source = ReaderSource { head, reader: tokio::sync::Mutex::new(data), size, buf: BytesMut::new() };
        let mut w = storage.write_object(bucket_resource(bucket), name, source);
        if let Some(v) = &opts.content_type {
            w = w.set_content_type(v.clone());
        }
        if let Some(v) = &opts.content_encoding {
            w = w.set_content_encoding(v.clone());
        }
        if let Some(v) = &opts.content_disposition {
            w = w.set_content_disposition(v.clone());
        }
        if let Some(v) = &opts.cache_control {
            w = w.set_cache_control(v.clone());
        }
        if let Some(g) = opts.if_generation_match {
            w = w.set_if_generation_match(g);
        }
        let span = baton_backend::io_span!("gcs.upload", otel.kind = "client", gcp.gcs.operation = %op);
        let obj = tracing::Instrument::instrument(w.send_buffered(), span).await;
        let obj = obj.map_err(|e| match e.http_status_code() {
            Some(status) => GcsError::Http { op: op.clone(), status, message: e.to_string() },
            None => GcsError::Other { op: op.clone(), message: e.to_string() },
        })?;
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let checks = obj.checksums.as_ref();
        Ok(Uploaded {
            size: obj.size.max(0) as u64,
            md5: checks.filter(|c| !c.md5_hash.is_empty()).map(|c| b64.encode(&c.md5_hash)),
            crc32c: checks.and_then(|c| c.crc32c).map(|c| b64.encode(c.to_be_bytes())),
        })
    }

    /// Streams the content of `gs://bucket/name`.
    pub async fn download(
        &self,
        bucket: &str,
        name: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, GcsError> {
        let op = format!("download gs://{bucket}/{name}");
        let storage = self.data_plane(&op).await?;
        let span = baton_backend::io_span!("gcs.download", otel.kind = "client", gcp.gcs.operation = %op);
        let resp = tracing::Instrument::instrument(storage.read_object(bucket_resource(bucket), name).send(), span);
        let resp = resp.await.map_err(|e| {
            let status = e.http_status_code().unwrap_or(0);
            if status > 0 {
                GcsError::Http { op: op.clone(), status, message: e.to_string() }
            } else {
                GcsError::Other { op: op.clone(), message: e.to_string() }
            }
        })?;
        Ok(futures::stream::unfold(resp, move |mut r| async move {
            r.next()
                .await
                .map(|chunk| (chunk.map_err(|e| std::io::Error::other(format!("reading the object failed: {e}"))), r))
        }))
    }
}

/// The data of an upload.
pub type Reader = std::pin::Pin<Box<dyn AsyncRead + Send>>;

/// Adapts a byte reader to the upload API: the bytes already read, then
/// the rest in `READ_CHUNK` pieces.
struct ReaderSource {
    head: Option<Bytes>,
    // The upload API wants a `Sync` source; the lock is never contended.
    reader: tokio::sync::Mutex<Reader>,
    size: Option<u64>,
    buf: BytesMut,
}

impl StreamingSource for ReaderSource {
    type Error = std::io::Error;

    async fn next(&mut self) -> Option<Result<Bytes, Self::Error>> {
        if let Some(head) = self.head.take() {
            return Some(Ok(head));
        }
        let reader = self.reader.get_mut();
        self.buf.reserve(READ_CHUNK);
        while self.buf.len() < READ_CHUNK {
            match reader.read_buf(&mut self.buf).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        if self.buf.is_empty() { None } else { Some(Ok(self.buf.split().freeze())) }
    }

    async fn size_hint(&self) -> Result<SizeHint, Self::Error> {
        Ok(match self.size {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::new(),
        })
    }
}
