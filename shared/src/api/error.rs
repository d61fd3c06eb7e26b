//! The API's error: a status and a message for humans, answered as
//! `{"message": …}`, and how each layer's error maps to a status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::backend::BackendError;
use crate::runtime::backfill::BackfillError;
use crate::runtime::launcher::LaunchError;
use crate::runtime::logs::LogQueryError;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }
    pub fn unprocessable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
    /// A Kestra feature Baton does not have (501), saying what instead.
    pub fn unsupported(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    /// Back-pressure (429): answered with `Retry-After` ([`RETRY_AFTER_SECONDS`]).
    pub fn too_many(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, message)
    }
}

/// The `Retry-After` of a 429, in seconds.
pub const RETRY_AFTER_SECONDS: u64 = 1;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry = self.status == StatusCode::TOO_MANY_REQUESTS;
        let mut r = (self.status, Json(json!({"message": self.message}))).into_response();
        if retry {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        r
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> ApiError {
        match &e {
            BackendError::NotFound { .. } => ApiError::not_found(e.to_string()),
            BackendError::Invalid(m) => ApiError::unprocessable(m.clone()),
            BackendError::Conflict { .. } => ApiError::conflict(e.to_string()),
            _ => {
                tracing::error!(error = %e, "API backend failure");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
        }
    }
}

impl From<BackfillError> for ApiError {
    fn from(e: BackfillError) -> ApiError {
        let status = match &e {
            BackfillError::FlowNotFound(_) | BackfillError::TriggerNotFound { .. } | BackfillError::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            BackfillError::TriggerDisabled { .. } | BackfillError::FlowDisabled(_) | BackfillError::State { .. } => {
                StatusCode::CONFLICT
            }
            BackfillError::NotSchedule { .. } | BackfillError::Schedule(_) | BackfillError::Plan(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            BackfillError::Backend(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<LaunchError> for ApiError {
    fn from(e: LaunchError) -> ApiError {
        match e {
            LaunchError::Disabled { .. } | LaunchError::Exists(_) => ApiError::conflict(e.to_string()),
            LaunchError::Inputs { .. } => ApiError::unprocessable(e.to_string()),
            // Kestra: an IllegalArgumentException, answered 422 "Illegal argument: …"
            LaunchError::Blocked { .. } => ApiError::unprocessable(format!("Illegal argument: {e}")),
            LaunchError::Backend(b) => b.into(),
        }
    }
}

impl From<LogQueryError> for ApiError {
    fn from(e: LogQueryError) -> ApiError {
        match e {
            LogQueryError::BadParameter(m) => ApiError::bad_request(m),
            e @ LogQueryError::NotFound(_) => ApiError::not_found(e.to_string()),
            LogQueryError::Backend(b) => b.into(),
        }
    }
}

impl From<axum::extract::multipart::MultipartError> for ApiError {
    fn from(e: axum::extract::multipart::MultipartError) -> ApiError {
        ApiError::new(e.status(), format!("cannot read the multipart body: {}", e.body_text()))
    }
}

/// Kestra's 422 for a `ConstraintViolationException` (an invalid flow):
/// `{message: "Invalid entity: …", _links.self, _embedded.errors[{message,
/// path}]}`, each violation as `(path, message)`.
pub fn invalid_entity(uri: &str, violations: &[(String, String)]) -> Response {
    let summary = violations.iter().map(|(p, m)| format!("{p}: {m}")).collect::<Vec<_>>().join(", ");
    let errors: Vec<serde_json::Value> = violations.iter().map(|(p, m)| json!({"message": m, "path": p})).collect();
    let body = json!({
        "message": format!("Invalid entity: {summary}"),
        "_links": {"self": {"href": uri, "templated": false}},
        "_embedded": {"errors": errors},
    });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// The violations of a flow's diagnostics: `(path, "file:line:col: message")`.
pub fn flow_violations(diagnostics: &[crate::validate::Diagnostic]) -> Vec<(String, String)> {
    diagnostics
        .iter()
        .map(|d| (if d.path.is_empty() { "flow".to_string() } else { d.path.clone() }, d.to_string()))
        .collect()
}
