//! Model providers (`provider`, `chatProvider`, `embeddingProvider`): the
//! object a flow writes (`type: io.kestra.plugin.ai.provider.GoogleGemini`,
//! `modelName`, `apiKey`, `baseUrl`…, legacy `io.kestra.plugin.langchain4j.*`
//! names accepted) parsed into a [`Provider`] that chats and embeds over the
//! provider's own REST protocol.
//!
//! The protocols are hand-written on reqwest rather than taken from a crate:
//! the Rust clients that exist (async-openai, genai, rig) each cover one
//! vendor or hide `baseUrl`/auth choices Baton needs (Vertex AI with the
//! service's own Google identity, any OpenAI-compatible URL), and the JSON
//! shapes involved are small. Request building is pure (see each
//! provider's `*_body` functions) and tested without a network.

pub mod gemini;
pub mod openai;
pub mod vertex;

use serde_json::Value;

use super::AiError;
use super::http::Callee;
use super::model::{ChatRequest, ChatResponse, Embeddings};
use crate::{RunContext, TaskError};

/// The provider types Baton speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    GoogleGemini,
    GoogleVertexAI,
    OpenAI,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::GoogleGemini => "GoogleGemini",
            Kind::GoogleVertexAI => "GoogleVertexAI",
            Kind::OpenAI => "OpenAI",
        }
    }

    /// The kind for a type name (current or `langchain4j` legacy).
    pub fn from_type(t: &str) -> Option<Kind> {
        let short = t
            .strip_prefix("io.kestra.plugin.ai.provider.")
            .or_else(|| t.strip_prefix("io.kestra.plugin.langchain4j.provider."))?;
        match short {
            "GoogleGemini" => Some(Kind::GoogleGemini),
            "GoogleVertexAI" => Some(Kind::GoogleVertexAI),
            "OpenAI" => Some(Kind::OpenAI),
            _ => None,
        }
    }
}

/// The provider type names Baton accepts, for validation and messages.
pub const TYPES: &[&str] = &[
    "io.kestra.plugin.ai.provider.GoogleGemini",
    "io.kestra.plugin.ai.provider.GoogleVertexAI",
    "io.kestra.plugin.ai.provider.OpenAI",
];

/// A provider as the flow configured it (rendered).
#[derive(Debug, Clone)]
pub struct Provider {
    pub kind: Kind,
    pub model: String,
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    /// Vertex AI: project, location, and an explicit endpoint.
    pub project: Option<String>,
    pub location: Option<String>,
    pub endpoint: Option<String>,
    /// Gemini embeddings: `embeddingModelConfiguration.taskType` / `outputDimensionality`.
    pub task_type: Option<String>,
    pub output_dimensionality: Option<i64>,
}

fn str_field(m: &serde_json::Map<String, Value>, k: &str) -> Option<String> {
    match m.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

impl Provider {
    /// Parses the rendered provider object of property `field`.
    pub fn from_value(field: &str, v: &Value) -> Result<Provider, TaskError> {
        let Value::Object(m) = v else {
            return Err(TaskError::property(field, "expected a provider object with a `type`"));
        };
        let t = str_field(m, "type").ok_or_else(|| TaskError::property(field, "the provider has no `type`"))?;
        let kind = Kind::from_type(&t).ok_or_else(|| {
            TaskError::property(
                &format!("{field}.type"),
                format!("provider '{t}' is not supported by Baton (supported: {})", TYPES.join(", ")),
            )
        })?;
        let model = str_field(m, "modelName").ok_or_else(|| {
            TaskError::property(
                &format!("{field}.modelName"),
                format!("{} needs a modelName (set it here or in pluginDefaults for {t})", kind.name()),
            )
        })?;
        let emc = m.get("embeddingModelConfiguration").and_then(Value::as_object);
        let p = Provider {
            kind,
            model,
            api_key: str_field(m, "apiKey"),
            base_url: str_field(m, "baseUrl"),
            project: str_field(m, "project"),
            location: str_field(m, "location"),
            endpoint: str_field(m, "endpoint"),
            task_type: emc.and_then(|e| str_field(e, "taskType")),
            output_dimensionality: emc.and_then(|e| e.get("outputDimensionality")).and_then(Value::as_i64),
        };
        if matches!(kind, Kind::GoogleGemini | Kind::OpenAI) && p.api_key.is_none() {
            return Err(TaskError::property(
                &format!("{field}.apiKey"),
                format!("{} model '{}' needs an apiKey", kind.name(), p.model),
            ));
        }
        if kind == Kind::GoogleVertexAI && p.location.is_none() {
            return Err(TaskError::property(
                &format!("{field}.location"),
                format!("GoogleVertexAI model '{}' needs a location (e.g. us-central1)", p.model),
            ));
        }
        Ok(p)
    }

    /// For messages: `GoogleGemini model 'gemini-2.5-flash'`, API key masked.
    pub fn callee(&self) -> Callee {
        Callee::new(format!("{} model '{}'", self.kind.name(), self.model)).secret(self.api_key.as_deref())
    }

    /// One chat turn.
    pub async fn chat(&self, cx: &RunContext, req: &ChatRequest) -> Result<ChatResponse, AiError> {
        if req.config.log_requests {
            cx.info(&format!(
                "{}: request with {} messages, {} tools",
                self.callee().what,
                req.messages.len(),
                req.tools.len()
            ));
        }
        let resp = match self.kind {
            Kind::GoogleGemini => gemini::chat(cx, self, req).await,
            Kind::GoogleVertexAI => vertex::chat(cx, self, req).await,
            Kind::OpenAI => openai::chat(cx, self, req).await,
        }?;
        if req.config.log_responses {
            cx.info(&format!("{}: response {:?}", self.callee().what, resp.text));
        }
        Ok(resp)
    }

    /// Embeddings of `texts`, in order.
    pub async fn embed(&self, cx: &RunContext, texts: &[String]) -> Result<Embeddings, AiError> {
        if texts.is_empty() {
            return Ok(Embeddings::default());
        }
        let out = match self.kind {
            Kind::GoogleGemini => gemini::embed(cx, self, texts).await,
            Kind::GoogleVertexAI => vertex::embed(cx, self, texts).await,
            Kind::OpenAI => openai::embed(cx, self, texts).await,
        }?;
        if out.vectors.len() != texts.len() {
            return Err(self.callee().error(format!(
                "asked for {} embeddings, got {}",
                texts.len(),
                out.vectors.len()
            )));
        }
        Ok(out)
    }
}

/// Reads a JSON array of numbers as a vector.
pub(crate) fn vector(v: Option<&Value>) -> Option<Vec<f32>> {
    v?.as_array()?.iter().map(|x| x.as_f64().map(|f| f as f32)).collect()
}
