//! Namespace file routes, over the [`NamespaceFiles`] store of the engine's
//! internal storage (Kestra's `_files` layout, local folder or bucket):
//! `GET /namespaces/{namespace}/files/directory?path=` (Kestra's
//! `FileAttributes` list of one folder), `GET|POST|DELETE
//! /namespaces/{namespace}/files?path=` (read, write from the multipart
//! part `fileContent` streamed to storage, delete a file or folder),
//! `GET …/files/stats?path=` and `GET …/files/search?q=`; a file's kept
//! revisions: `GET …/files/revisions?path=` and `GET …/files?path=&revision=N`.

use axum::body::Body;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::inputs::stream_field;
use super::query::Params;
use crate::backend::nsfiles::{NamespaceFile, NamespaceFiles, check_namespace, directory_entries, namespace_files};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/namespaces/{namespace}/files", get(read).post(write).delete(remove).layer(super::limits::streamed()))
        .route("/namespaces/{namespace}/files/directory", get(directory))
        .route("/namespaces/{namespace}/files/stats", get(stats))
        .route("/namespaces/{namespace}/files/search", get(search))
        .route("/namespaces/{namespace}/files/revisions", get(revisions))
}

fn store(s: &ApiState, namespace: &str) -> ApiResult<std::sync::Arc<dyn NamespaceFiles>> {
    check_namespace(namespace)?;
    Ok(namespace_files(s.engine.storage.clone()))
}

fn attributes(name: &str, size: Option<u64>) -> Value {
    json!({
        "fileName": name,
        "type": if size.is_some() { "File" } else { "Directory" },
        "size": size.unwrap_or(0),
        "lastModifiedTime": null,
        "creationTime": null,
    })
}

/// The `path` of a file to read, write or delete, refused (422, naming it)
/// when it has a `..` segment, a backslash or a NUL, before any byte of an
/// upload is read.
fn file_path(p: &Params, allow_root: bool) -> ApiResult<String> {
    let path = path_param(p, true)?;
    crate::backend::nsfiles::normalise_path(&path, allow_root)?;
    Ok(path)
}

fn path_param(p: &Params, required: bool) -> ApiResult<String> {
    match p.get("path") {
        Some(path) => Ok(path.to_string()),
        None if required => Err(ApiError::bad_request("the 'path' parameter is required")),
        None => Ok(String::new()),
    }
}

async fn directory(
    State(s): State<ApiState>,
    Path(ns): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /namespaces/{namespace}/files/directory", &["path"])?;
    let dir = path_param(&p, false)?;
    let store = store(&s, &ns)?;
    let files = store.list(&ns, "").await?;
    let kept = store.folders(&ns, "").await?;
    let entries = directory_entries(&files, &kept, &dir);
    Ok(Json(Value::Array(entries.iter().map(|(n, size)| attributes(n, *size)).collect())))
}

async fn stats(State(s): State<ApiState>, Path(ns): Path<String>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /namespaces/{namespace}/files/stats", &["path"])?;
    let path = path_param(&p, false)?;
    let wanted = path.trim_matches('/');
    let files: Vec<NamespaceFile> = store(&s, &ns)?.list(&ns, "").await?;
    if wanted.is_empty() {
        return Ok(Json(attributes("", None)));
    }
    let name = wanted.rsplit('/').next().unwrap_or(wanted);
    if let Some(f) = files.iter().find(|f| f.path == wanted) {
        return Ok(Json(attributes(name, Some(f.size))));
    }
    if files.iter().any(|f| f.path.starts_with(&format!("{wanted}/"))) {
        return Ok(Json(attributes(name, None)));
    }
    Err(ApiError::not_found(format!("no namespace file or folder '{path}' in {ns}")))
}

async fn search(State(s): State<ApiState>, Path(ns): Path<String>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /namespaces/{namespace}/files/search", &["q"])?;
    let q = p.get("q").unwrap_or("").to_lowercase();
    let files = store(&s, &ns)?.list(&ns, "").await?;
    Ok(Json(json!(
        files.iter().filter(|f| f.path.to_lowercase().contains(&q)).map(|f| format!("/{}", f.path)).collect::<Vec<_>>()
    )))
}

async fn read(State(s): State<ApiState>, Path(ns): Path<String>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let p = Params::parse(raw.as_deref(), "GET /namespaces/{namespace}/files", &["path", "revision"])?;
    let path = file_path(&p, false)?;
    let reader = match p.get("revision").filter(|r| !r.is_empty()) {
        None => store(&s, &ns)?.get(&ns, &path).await?,
        Some(r) => {
            let r = r.parse::<u32>().map_err(|_| {
                ApiError::bad_request(format!("the 'revision' parameter must be a revision number, got '{r}'"))
            })?;
            store(&s, &ns)?.get_revision(&ns, &path, r).await?
        }
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(reader));
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}

/// `GET …/files/revisions?path=`: the kept revisions of a file, newest first.
async fn revisions(
    State(s): State<ApiState>,
    Path(ns): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(raw.as_deref(), "GET /namespaces/{namespace}/files/revisions", &["path"])?;
    let path = path_param(&p, true)?;
    let mut kept = store(&s, &ns)?.revisions(&ns, &path).await?;
    if kept.is_empty() {
        return Err(crate::backend::BackendError::NotFound {
            what: format!("namespace file '{path}' in namespace '{ns}'"),
        }
        .into());
    }
    kept.reverse();
    Ok(Json(Value::Array(kept.into_iter().map(|r| json!({"revision": r})).collect())))
}

async fn write(
    State(s): State<ApiState>,
    Path(ns): Path<String>,
    RawQuery(raw): RawQuery,
    mut multipart: Multipart,
) -> ApiResult<Response> {
    let p = Params::parse(raw.as_deref(), "POST /namespaces/{namespace}/files", &["path"])?;
    let path = file_path(&p, false)?;
    let files = store(&s, &ns)?;
    let mut written = false;
    while let Some(field) = multipart.next_field().await? {
        if field.name() != Some("fileContent") {
            let name = field.name().unwrap_or("").to_string();
            return Err(ApiError::bad_request(format!(
                "unexpected form field '{name}': the file goes in 'fileContent'"
            )));
        }
        if let Err(e) = stream_field(field, |r| files.put(&ns, &path, r)).await {
            // a part cut short must not leave half a file behind
            let _ = files.delete(&ns, &path).await;
            return Err(e);
        }
        written = true;
    }
    if !written {
        return Err(ApiError::bad_request("no 'fileContent' part: send the file as -F fileContent=@file"));
    }
    Ok(StatusCode::OK.into_response())
}

async fn remove(State(s): State<ApiState>, Path(ns): Path<String>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let p = Params::parse(raw.as_deref(), "DELETE /namespaces/{namespace}/files", &["path"])?;
    let path = file_path(&p, true)?;
    let deleted = store(&s, &ns)?.delete(&ns, &path).await?;
    if deleted.is_empty() {
        return Err(ApiError::not_found(format!("no namespace file or folder '{path}' in {ns}")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
