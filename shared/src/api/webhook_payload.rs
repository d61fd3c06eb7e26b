//! What a webhook request's body becomes in the trigger variables
//! ([`crate::triggers::webhook`]): `trigger.body` (FETCH, the default);
//! `trigger.uri`, the body stored in internal storage (`fetchType:
//! STORE`); or, for a `multipart/form-data` body, `trigger.parts` (each
//! file part stored, name → `kestra://` URI) and `trigger.formFields`
//! (the other fields' texts). Files go under the execution's
//! `trigger/{triggerId}/` folder before the execution exists; the caller
//! removes them ([`Payload::discard`]) when no execution is started.
//!
//! The whole body is bounded by the webhook's `MAX_BODY` before it gets
//! here, so a part is held in memory at most that size.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart};
use axum::http::{Request, header};
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};
use crate::backend::Storage;
use crate::model::Flow;
use crate::triggers::webhook as hook;

/// The trigger variables made from a request's body, and the files stored for it.
#[derive(Default)]
pub struct Payload {
    /// `body`, `uri`, or `parts` and `formFields`.
    pub variables: Map<String, Value>,
    /// Storage paths written for this request.
    pub stored: Vec<String>,
}

impl Payload {
    /// Removes the files stored for a request that starts no execution.
    pub async fn discard(&self, storage: &dyn Storage) {
        super::inputs::discard_uploads(storage, &self.stored).await;
    }
}

/// Where the request's files go for the execution `execution_id` of `flow`
/// started by `trigger_id`.
pub struct Target<'a> {
    pub flow: &'a Flow,
    pub execution_id: &'a str,
    pub trigger_id: &'a str,
}

impl Target<'_> {
    fn path(&self, part: Option<&str>, file_name: &str) -> String {
        let prefix = crate::model::storage::execution_prefix(&self.flow.namespace, &self.flow.id, self.execution_id);
        hook::stored_path(&prefix, self.trigger_id, part, file_name)
    }
}

/// Reads `bytes` (sent as `content_type`) into trigger variables, storing
/// what goes to storage; on an error, what was stored is removed.
pub async fn read(
    storage: &dyn Storage,
    target: &Target<'_>,
    content_type: Option<&str>,
    bytes: Bytes,
    store_body: bool,
) -> ApiResult<Payload> {
    let mut payload = Payload::default();
    let result = if hook::is_multipart(content_type) {
        read_form(storage, target, content_type.unwrap_or_default(), bytes, &mut payload).await
    } else if store_body && !bytes.is_empty() {
        let path = target.path(None, hook::body_file_name(content_type));
        payload.stored.push(path.clone());
        put(storage, &path, bytes).await.map(|()| {
            payload.variables.insert("uri".into(), Value::String(format!("kestra://{path}")));
        })
    } else {
        let body = hook::body(content_type, &bytes);
        if !body.is_null() {
            payload.variables.insert("body".into(), body);
        }
        Ok(())
    };
    match result {
        Ok(()) => Ok(payload),
        Err(e) => {
            payload.discard(storage).await;
            Err(e)
        }
    }
}

async fn read_form(
    storage: &dyn Storage,
    target: &Target<'_>,
    content_type: &str,
    bytes: Bytes,
    payload: &mut Payload,
) -> ApiResult<()> {
    let request = Request::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(bytes))
        .map_err(|e| ApiError::bad_request(format!("the webhook's multipart body cannot be read: {e}")))?;
    let mut form = Multipart::from_request(request, &()).await.map_err(|e| {
        ApiError::bad_request(format!("the webhook's multipart body cannot be read: {}", e.body_text()))
    })?;
    let mut parts = Map::new();
    let mut fields = Vec::new();
    while let Some(field) = form.next_field().await? {
        let Some(name) = field.name().map(str::to_string) else { continue };
        match field.file_name().map(str::to_string) {
            Some(file_name) => {
                let path = target.path(Some(&name), &file_name);
                let data = field.bytes().await?;
                payload.stored.push(path.clone());
                put(storage, &path, data).await?;
                parts.insert(name, Value::String(format!("kestra://{path}")));
            }
            None => {
                let text = field.text().await?;
                fields.push((name, text));
            }
        }
    }
    payload.variables.insert("parts".into(), Value::Object(parts));
    payload.variables.insert("formFields".into(), Value::Object(hook::form_fields(fields)));
    Ok(())
}

async fn put(storage: &dyn Storage, path: &str, data: Bytes) -> ApiResult<()> {
    storage
        .put(path, Box::pin(std::io::Cursor::new(data)))
        .await
        .map(|_| ())
        .map_err(|e| ApiError::internal(format!("cannot store the webhook's body at kestra://{path}: {e}")))
}
