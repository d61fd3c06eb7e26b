//! Vertex AI (`{location}-aiplatform.googleapis.com/v1`): Gemini models'
//! `publishers/google/models/{model}:generateContent` (the same body as the
//! Gemini API, see [`super::gemini`]) and text-embedding models' `:predict`.
//! No API key: the call carries an OAuth token of Application Default
//! Credentials — on Cloud Run the service's own identity from the metadata
//! server, elsewhere `GOOGLE_APPLICATION_CREDENTIALS` or gcloud's ADC —
//! through the same credential cache the GCP tasks use.

use serde_json::{Value, json};

use super::{Provider, gemini, vector};
use crate::RunContext;
use crate::ai::AiError;
use crate::ai::http::{Callee, call_json, trim_base};
use crate::ai::model::{ChatRequest, ChatResponse, Embeddings, TokenUsage};
#[cfg(feature = "gcp")]
use baton_gcp::AuthSpec;

/// The service root for a location (`global` has no regional host).
pub fn default_base(location: &str) -> String {
    if location == "global" {
        "https://aiplatform.googleapis.com".to_string()
    } else {
        format!("https://{location}-aiplatform.googleapis.com")
    }
}

fn base(cx: &RunContext, p: &Provider, location: &str) -> String {
    let b = p
        .base_url
        .clone()
        .or_else(|| p.endpoint.clone().map(|e| if e.contains("://") { e } else { format!("https://{e}") }))
        .or_else(|| cx.services.config.ai.vertex_base_url.clone())
        .unwrap_or_else(|| default_base(location));
    let b = trim_base(&b).trim_end_matches(":443").to_string();
    if b.ends_with("/v1") { b } else { format!("{b}/v1") }
}

/// `projects/{p}/locations/{l}/publishers/google/models/{m}`.
pub fn model_resource(project: &str, location: &str, model: &str) -> String {
    if model.starts_with("projects/") {
        model.to_string()
    } else {
        let m = model.strip_prefix("publishers/google/models/").unwrap_or(model);
        format!("projects/{project}/locations/{location}/publishers/google/models/{m}")
    }
}

struct Target {
    url_base: String,
    resource: String,
}

#[cfg(feature = "gcp")]
fn default_project(cx: &RunContext) -> Option<String> {
    cx.services.config.gcp.default_project.clone()
}

#[cfg(not(feature = "gcp"))]
fn default_project(_cx: &RunContext) -> Option<String> {
    None
}

fn target(cx: &RunContext, p: &Provider, callee: &Callee) -> Result<Target, AiError> {
    let location = p.location.clone().unwrap_or_else(|| "us-central1".into());
    let project = p
        .project
        .clone()
        .or_else(|| default_project(cx))
        .ok_or_else(|| callee.error("no project: set `project` on the provider (or GOOGLE_CLOUD_PROJECT)"))?;
    Ok(Target { url_base: base(cx, p, &location), resource: model_resource(&project, &location, &p.model) })
}

/// The bearer token of the service's own identity (Application Default Credentials).
#[cfg(feature = "gcp")]
async fn token(cx: &RunContext, callee: &Callee) -> Result<Option<String>, AiError> {
    token_of(cx, &AuthSpec::default(), callee).await
}

/// The bearer token of `spec`'s credentials (a task's `serviceAccount`,
/// `scopes`, `impersonatedServiceAccount`, or the default ones).
#[cfg(feature = "gcp")]
async fn token_of(cx: &RunContext, spec: &AuthSpec, callee: &Callee) -> Result<Option<String>, AiError> {
    let cfg = &cx.services.config.gcp;
    let creds = cfg
        .cache
        .credentials(spec, false, &cfg.endpoints, &cx.services.http)
        .map_err(|e| callee.error(e.to_string()))?;
    let t = creds.bearer().await.map_err(|e| callee.error(e.to_string()))?;
    if let Some(t) = &t {
        cx.mask(t);
    }
    Ok(t)
}

/// Without the `gcp` feature there are no Google credentials to call
/// Vertex AI with: the task fails saying so.
#[cfg(not(feature = "gcp"))]
async fn token(_cx: &RunContext, callee: &Callee) -> Result<Option<String>, AiError> {
    Err(callee.error(
        "GoogleVertexAI needs Google credentials, which this baton is built without (build it with `--features gcp`)",
    ))
}

fn authorized(rb: reqwest::RequestBuilder, token: &Option<String>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => rb.bearer_auth(t),
        None => rb,
    }
}

pub async fn chat(cx: &RunContext, p: &Provider, req: &ChatRequest) -> Result<ChatResponse, AiError> {
    let callee = p.callee();
    let t = target(cx, p, &callee)?;
    let tok = token(cx, &callee).await?;
    let callee = callee.secret(tok.as_deref());
    let url = format!("{}/{}:generateContent", t.url_base, t.resource);
    let body = gemini::generate_body(req);
    let http = &cx.services.http;
    let v = call_json(cx, &cx.services.config.ai, &callee, || authorized(http.post(&url), &tok).json(&body)).await?;
    gemini::parse_generate(&v).map_err(|e| callee.error(e))
}

/// One `:generateContent` call of `p`'s model with `spec`'s credentials
/// and a body already in the API's shape; the answer as it came (the
/// `io.kestra.plugin.gcp.vertexai` tasks read safety ratings and citations
/// from it, which [`ChatResponse`] does not carry).
#[cfg(feature = "gcp")]
pub async fn generate_raw(cx: &RunContext, p: &Provider, spec: &AuthSpec, body: &Value) -> Result<Value, AiError> {
    let callee = p.callee();
    let t = target(cx, p, &callee)?;
    let tok = token_of(cx, spec, &callee).await?;
    let callee = callee.secret(tok.as_deref());
    let url = format!("{}/{}:generateContent", t.url_base, t.resource);
    let http = &cx.services.http;
    call_json(cx, &cx.services.config.ai, &callee, || authorized(http.post(&url), &tok).json(body)).await
}

/// The `:predict` body for text-embedding models.
pub fn predict_body(p: &Provider, texts: &[String]) -> Value {
    let instances: Vec<Value> = texts
        .iter()
        .map(|t| {
            let mut i = json!({"content": t});
            if let Some(tt) = &p.task_type {
                i["task_type"] = json!(tt);
            }
            i
        })
        .collect();
    let mut body = json!({"instances": instances});
    if let Some(d) = p.output_dimensionality {
        body["parameters"] = json!({"outputDimensionality": d});
    }
    body
}

pub async fn embed(cx: &RunContext, p: &Provider, texts: &[String]) -> Result<Embeddings, AiError> {
    let callee = p.callee();
    let t = target(cx, p, &callee)?;
    let tok = token(cx, &callee).await?;
    let callee = callee.secret(tok.as_deref());
    let url = format!("{}/{}:predict", t.url_base, t.resource);
    // gemini-embedding-* models take one instance per request on Vertex AI.
    let batch = if p.model.contains("gemini-embedding") { 1 } else { 100 };
    let http = &cx.services.http;
    let mut out = Embeddings::default();
    let mut tokens = 0i64;
    for chunk in texts.chunks(batch) {
        let body = predict_body(p, chunk);
        let v =
            call_json(cx, &cx.services.config.ai, &callee, || authorized(http.post(&url), &tok).json(&body)).await?;
        for pred in v.get("predictions").and_then(Value::as_array).into_iter().flatten() {
            let e = pred.get("embeddings");
            out.vectors.push(
                vector(e.and_then(|e| e.get("values")))
                    .ok_or_else(|| callee.error("a prediction has no embeddings.values"))?,
            );
            tokens +=
                e.and_then(|e| e.pointer("/statistics/token_count")).and_then(Value::as_f64).unwrap_or(0.0) as i64;
        }
    }
    if tokens > 0 {
        out.usage = TokenUsage { input: Some(tokens), output: None, total: Some(tokens) };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_and_hosts_follow_the_location() {
        assert_eq!(
            model_resource("p", "europe-west1", "gemini-2.5-flash"),
            "projects/p/locations/europe-west1/publishers/google/models/gemini-2.5-flash"
        );
        assert_eq!(default_base("europe-west1"), "https://europe-west1-aiplatform.googleapis.com");
        assert_eq!(default_base("global"), "https://aiplatform.googleapis.com");
    }
}
