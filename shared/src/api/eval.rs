//! Kestra's expression evaluation on an execution: `POST
//! /executions/{id}/eval` (the execution's context) and `POST
//! /executions/{id}/eval/{taskRunId}` (a task run's: `taskrun`, `task`,
//! `parents`…), and 2.0's `…/actions/eval[/{taskRunId}]`. The body is the
//! expression as text (`{{ outputs.t.value }}`); the answer is Kestra's
//! `EvalResult`: `{"result": …}`, or `{"error": …}` when it cannot be
//! rendered (200 either way, as Kestra answers).
//!
//! The template engine's bounds apply (its fuel, recursion and output
//! limits); the body is at most [`MAX_EXPRESSION`] bytes. Secrets never
//! appear in clear: `secret()` renders `******` here, and any secret value
//! met in the result (an output, a KV value) is masked too.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ApiState;
use super::error::{ApiError, ApiResult};
use super::executions::load;
use super::query::Params;
use crate::template::TemplateHost;

/// The longest expression evaluated (bytes).
pub const MAX_EXPRESSION: usize = 64 * 1024;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/executions/{id}/eval", post(eval_execution))
        .route("/executions/{id}/eval/{task_run_id}", post(eval_task_run))
        .route("/executions/{id}/actions/eval", post(eval_execution))
        .route("/executions/{id}/actions/eval/{task_run_id}", post(eval_task_run))
}

async fn eval_execution(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "POST /executions/{id}/eval", &[])?;
    eval(&s, &id, None, &body).await
}

async fn eval_task_run(
    State(s): State<ApiState>,
    Path((id, task_run_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    Params::parse(raw.as_deref(), "POST /executions/{id}/eval/{taskRunId}", &[])?;
    eval(&s, &id, Some(&task_run_id), &body).await
}

async fn eval(s: &ApiState, id: &str, task_run_id: Option<&str>, body: &[u8]) -> ApiResult<Json<Value>> {
    if body.len() > MAX_EXPRESSION {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("the expression is {} bytes: at most {MAX_EXPRESSION} are evaluated", body.len()),
        ));
    }
    let expression =
        std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the expression (the body) is not UTF-8 text"))?;
    let exec = load(&s.engine, id).await?;
    let task_run = match task_run_id {
        None => None,
        Some(t) => {
            Some(exec.task_run(t).ok_or_else(|| ApiError::not_found(format!("execution {id} has no task run {t}")))?)
        }
    };
    let flow = crate::runtime::flows::at_revision(&s.engine, &exec.namespace, &exec.flow_id, exec.flow_revision)
        .await
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    let by_id = crate::executor::context::runs_by_id(&exec);
    let runs = |id: &str| by_id.get(id).copied();
    let mut ctx = crate::executor::context::build(&flow, &exec, task_run, &runs, true);
    ctx["envs"] = Value::Object(s.engine.envs.clone());
    let host = Masked(s.engine.host.as_ref());
    let secrets = s.engine.host.secret_values();
    let out = match s.engine.renderer.render_str(expression, &ctx, &host) {
        Ok(text) => json!({"result": crate::plugins::context::mask_secrets(&text, &secrets)}),
        Err(e) => json!({"error": crate::plugins::context::mask_secrets(&e.to_string(), &secrets)}),
    };
    Ok(Json(out))
}

/// The runtime's template host with `secret()` masked.
struct Masked<'a>(&'a dyn TemplateHost);

impl TemplateHost for Masked<'_> {
    fn kv(&self, namespace: &str, key: &str) -> Result<Option<Value>, String> {
        self.0.kv(namespace, key)
    }
    fn secret(&self, key: &str) -> Result<String, String> {
        // an unknown secret is still an error, a known one is not shown
        self.0.secret(key).map(|_| "******".to_string())
    }
    fn read(&self, namespace: &str, path: &str) -> Result<String, String> {
        self.0.read(namespace, path)
    }
    fn read_revision(&self, namespace: &str, path: &str, revision: u32) -> Result<String, String> {
        self.0.read_revision(namespace, path, revision)
    }
    fn secret_values(&self) -> Vec<String> {
        self.0.secret_values()
    }
    fn file_size(&self, namespace: &str, path: &str) -> Result<Option<u64>, String> {
        self.0.file_size(namespace, path)
    }
    fn error_logs(&self, id: &str) -> Result<Vec<Value>, String> {
        self.0.error_logs(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct OneSecret;
    impl TemplateHost for OneSecret {
        fn kv(&self, _: &str, _: &str) -> Result<Option<Value>, String> {
            Ok(None)
        }
        fn secret(&self, key: &str) -> Result<String, String> {
            if key == "TOKEN" { Ok("s3cr3t-value".into()) } else { Err(format!("no secret {key}")) }
        }
        fn read(&self, _: &str, p: &str) -> Result<String, String> {
            Err(p.to_string())
        }
        fn secret_values(&self) -> Vec<String> {
            vec!["s3cr3t-value".into()]
        }
    }

    #[test]
    fn secrets_render_masked_and_unknown_ones_fail() {
        let r = crate::template::Renderer::new();
        let host = Masked(&OneSecret);
        let out = r.render_str("{{ secret('TOKEN') }}", &json!({}), &host).expect("renders");
        assert_eq!(out, "******");
        assert!(r.render_str("{{ secret('NOPE') }}", &json!({}), &host).is_err());
    }
}
