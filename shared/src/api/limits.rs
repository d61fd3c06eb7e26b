//! The API's bounds on what a request may make the server hold.
//!
//! Every body an extractor reads whole (`Bytes`, `Json`, YAML sources, KV
//! values, bulk id lists) is bounded by [`MAX_REQUEST_BODY`]; a body over it
//! is refused with 413 before it is read (from `content-length`) or as soon
//! as it passes the bound (chunked). Only the routes that stream their
//! upload to storage without holding it — an execution's FILE inputs, a
//! resume's FILE inputs, namespace files — take any size
//! ([`streamed`]); a flow import is spooled to disk and bounded by
//! [`MAX_IMPORT_UPLOAD`], and the YAML it unpacks by [`MAX_IMPORT_TEXT`].
//! A webhook has its own bound (`webhook::MAX_BODY`).
//!
//! axum answers a body over the bound with a plain-text 413; [`json_413`]
//! turns it into the API's JSON error naming the bound.

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// A request body read whole: 16 MiB.
pub const MAX_REQUEST_BODY: usize = 16 * 1024 * 1024;
/// `POST /flows/import`: the uploaded YAML or ZIP file, 64 MiB.
pub const MAX_IMPORT_UPLOAD: usize = 64 * 1024 * 1024;
/// The YAML a flow import holds at once (the sum of a ZIP's entries), 64 MiB.
pub const MAX_IMPORT_TEXT: usize = 64 * 1024 * 1024;
/// One flow file inside an import ZIP, 4 MiB.
pub const MAX_IMPORT_ENTRY: usize = 4 * 1024 * 1024;

/// The bound every route has unless it says otherwise.
pub fn default() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_REQUEST_BODY)
}

/// For a route that streams its body to storage without holding it.
pub fn streamed() -> DefaultBodyLimit {
    DefaultBodyLimit::disable()
}

/// For `POST /flows/import`.
pub fn import() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_IMPORT_UPLOAD)
}

fn mib(n: usize) -> usize {
    n / (1024 * 1024)
}

/// axum's plain-text 413 as the API's JSON error, naming the bound.
pub async fn json_413(req: Request, next: Next) -> Response {
    let import = req.uri().path().ends_with("/flows/import");
    let res = next.run(req).await;
    let json = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if res.status() != StatusCode::PAYLOAD_TOO_LARGE || json {
        return res;
    }
    let (bound, what) = if import {
        (MAX_IMPORT_UPLOAD, "a flow import (the YAML or ZIP file)")
    } else {
        (MAX_REQUEST_BODY, "a request body read whole (flows, KV values, JSON)")
    };
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is over Baton's bound of {} MiB for {what}", mib(bound)),
    )
    .into_response()
}
