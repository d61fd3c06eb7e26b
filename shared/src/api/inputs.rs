//! The inputs of an execution start, by content type: a JSON object, a
//! urlencoded form, or Kestra's multipart form (one field per input, FILE
//! inputs as file parts). File parts are streamed into the execution's
//! internal storage chunk by chunk, whatever their size; a part that fails
//! halfway leaves no partial file, and [`discard_uploads`] removes what was
//! stored when the launch then fails. [`spool_field`] streams an uploaded
//! part to a temporary file (flow imports).

use std::path::{Path, PathBuf};

use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use super::error::{ApiError, ApiResult};
use super::query::query_pairs;
use crate::backend::Storage;
use crate::model::flow::Input;
use crate::model::{Flow, InputType};
use crate::runtime::launcher::input_file_path;

/// The largest JSON or form body of inputs (files go in multipart parts).
pub const MAX_INPUTS_BODY: usize = 16 * 1024 * 1024;

/// Inputs read from a request, and the storage paths of its uploaded files.
#[derive(Default)]
pub struct ReadInputs {
    pub inputs: Map<String, Value>,
    pub uploaded: Vec<String>,
}

/// Reads the inputs of a start request for `flow`'s execution `execution_id`.
/// On an error, files already stored are removed.
pub async fn read_inputs(
    storage: &dyn Storage,
    flow: &Flow,
    execution_id: &str,
    request: Request,
) -> ApiResult<ReadInputs> {
    let what = format!("flow {}.{}", flow.namespace, flow.id);
    read_declared(storage, &flow.inputs, &what, &|name, file| input_file_path(flow, execution_id, name, file), request)
        .await
}

/// Reads inputs declared by `declared` (a flow's inputs, a Pause's
/// `onResume`): a file part for a FILE input is stored at `path_of(input,
/// file name)`; `what` names the declaring flow or task in errors.
pub async fn read_declared(
    storage: &dyn Storage,
    declared: &[Input],
    what: &str,
    path_of: &(dyn Fn(&str, &str) -> String + Sync),
    request: Request,
) -> ApiResult<ReadInputs> {
    let content_type =
        request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut read = ReadInputs::default();
        match read_multipart(storage, declared, what, path_of, request, &mut read).await {
            Ok(()) => return Ok(read),
            Err(e) => {
                discard_uploads(storage, &read.uploaded).await;
                return Err(e);
            }
        }
    }
    let body = axum::body::to_bytes(request.into_body(), MAX_INPUTS_BODY).await.map_err(|e| {
        ApiError::bad_request(format!("cannot read the inputs (at most 16 MB; send files as multipart parts): {e}"))
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ReadInputs::default());
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let text = String::from_utf8_lossy(&body);
        let inputs = query_pairs(&text).into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        return Ok(ReadInputs { inputs, uploaded: Vec::new() });
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(inputs)) => Ok(ReadInputs { inputs, uploaded: Vec::new() }),
        Ok(other) => Err(ApiError::unprocessable(format!("inputs must be a JSON object, got {other}"))),
        Err(e) => Err(ApiError::bad_request(format!("the body is not JSON: {e}"))),
    }
}

async fn read_multipart(
    storage: &dyn Storage,
    declared: &[Input],
    what: &str,
    path_of: &(dyn Fn(&str, &str) -> String + Sync),
    request: Request,
    read: &mut ReadInputs,
) -> ApiResult<()> {
    let mut multipart =
        Multipart::from_request(request, &()).await.map_err(|e| ApiError::bad_request(e.body_text()))?;
    // the parts that are not files are held whole: all of them together
    // are bounded as a JSON body of inputs is
    let mut held = 0usize;
    while let Some(mut field) = multipart.next_field().await? {
        let Some(name) = field.name().map(str::to_string) else { continue };
        let Some(file_name) = field.file_name().map(str::to_string) else {
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await? {
                held += chunk.len();
                if held > MAX_INPUTS_BODY {
                    return Err(ApiError::new(
                        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "the inputs of {what} that are not files (multipart part '{name}' and those before it) \
                             are over Baton's bound of {} MiB (MAX_INPUTS_BODY); send large values as FILE inputs",
                            MAX_INPUTS_BODY >> 20
                        ),
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(bytes)
                .map_err(|_| ApiError::bad_request(format!("multipart part '{name}' is not UTF-8 text")))?;
            read.inputs.insert(name, Value::String(text));
            continue;
        };
        if !declared.iter().any(|i| i.id == name && i.type_ == InputType::File) {
            return Err(ApiError::unprocessable(format!("file part '{name}' is not a FILE input of {what}")));
        }
        let path = path_of(&name, &file_name);
        read.uploaded.push(path.clone());
        store_field(storage, &path, field).await?;
        read.inputs.insert(name, Value::String(format!("kestra://{path}")));
    }
    Ok(())
}

/// Streams one part into storage at `path`.
async fn store_field(storage: &dyn Storage, path: &str, field: Field<'_>) -> ApiResult<()> {
    stream_field(field, |r| storage.put(path, r)).await
}

/// Streams a multipart part into `sink` (a storage write taking the read
/// half). The writer half is owned by the copy, so a failing part ends the
/// sink's stream rather than leaving it waiting for bytes that never come;
/// the part's error wins over the sink's.
pub async fn stream_field<F, T>(
    mut field: Field<'_>,
    sink: impl FnOnce(crate::backend::ByteStream) -> F,
) -> ApiResult<()>
where
    F: std::future::Future<Output = Result<T, crate::backend::BackendError>>,
{
    let (mut w, r) = tokio::io::duplex(64 * 1024);
    let copy = async move {
        while let Some(chunk) = field.chunk().await? {
            w.write_all(&chunk).await.map_err(|e| ApiError::internal(format!("cannot store the upload: {e}")))?;
        }
        w.shutdown().await.map_err(|e| ApiError::internal(format!("cannot store the upload: {e}")))?;
        Ok::<(), ApiError>(())
    };
    let (stored, copied) = tokio::join!(sink(Box::pin(r)), copy);
    copied?;
    stored?;
    Ok(())
}

/// Removes uploaded files (a failed launch must not leave them behind).
pub async fn discard_uploads(storage: &dyn Storage, paths: &[String]) {
    for p in paths {
        if let Err(e) = storage.delete_prefix(p).await {
            tracing::warn!(path = %p, error = %e, "uploaded file not removed");
        }
    }
}

/// A temporary file removed when dropped.
pub struct Spooled {
    path: PathBuf,
}

impl Spooled {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Streams a multipart part into a temporary file.
pub async fn spool_field(mut field: Field<'_>) -> ApiResult<Spooled> {
    let path = std::env::temp_dir().join(format!("baton-upload-{}", uuid::Uuid::new_v4().simple()));
    let spooled = Spooled { path };
    let mut f = tokio::fs::File::create(spooled.path())
        .await
        .map_err(|e| ApiError::internal(format!("cannot spool the upload: {e}")))?;
    while let Some(chunk) = field.chunk().await? {
        f.write_all(&chunk).await.map_err(|e| ApiError::internal(format!("cannot spool the upload: {e}")))?;
    }
    f.flush().await.map_err(|e| ApiError::internal(format!("cannot spool the upload: {e}")))?;
    Ok(spooled)
}
