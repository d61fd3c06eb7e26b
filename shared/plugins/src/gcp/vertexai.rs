//! `io.kestra.plugin.gcp.vertexai.ChatCompletion` and `TextCompletion`
//! (plugin-gcp `vertexai/`): Gemini models on Vertex AI, called through
//! `publishers/google/models/{modelId}:generateContent` in `region` of
//! `projectId` with the task's Google credentials (`serviceAccount`,
//! `scopes`, `impersonatedServiceAccount`, else Application Default
//! Credentials) — the call itself is the AI providers' Vertex AI client
//! ([`crate::ai::providers::vertex::generate_raw`]), with its retries and
//! bounds.
//!
//! As Kestra's, `ChatCompletion` is a chat session: `history` first (each
//! a user turn), then `context` sent as a first message (its answer kept
//! in the session, not in the outputs), then each of `messages` sent in
//! turn, every answer added to the session; `predictions` holds the
//! answers to `messages`. `author` and `examples` are accepted and unused,
//! as Kestra's Gemini migration left them. Each prediction: `content` (the
//! first part's text), `safetyAttributes` (`scores`, `categories`,
//! `blocked` of the candidate's safety ratings) and `citationMetadata`
//! (`citations`: each citation's title). The metrics `prompt.token.count`,
//! `candidate.token.count` and `total.token.count` sum the calls' usage;
//! Kestra's `serialized.size` (a protobuf size) has no JSON equivalent and
//! is not emitted.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::GcpProps;
use crate::ai::providers::{Kind, Provider, vertex};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Kestra's default model.
pub(super) const DEFAULT_MODEL: &str = "gemini-pro";

/// `parameters`: Kestra's `ModelParameter`, its defaults and bounds.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Parameters {
    temperature: f64,
    max_output_tokens: i64,
    top_k: i64,
    top_p: f64,
}

pub(super) fn parameters(v: Option<&Value>) -> Result<Parameters, TaskError> {
    let mut p = Parameters { temperature: 0.2, max_output_tokens: 128, top_k: 40, top_p: 0.95 };
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(p) };
    let Value::Object(m) = v else {
        return Err(TaskError::property("parameters", "expected temperature, maxOutputTokens, topK and topP"));
    };
    let num = |k: &str| -> Result<Option<f64>, TaskError> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| TaskError::property(&format!("parameters.{k}"), format!("'{s}' is not a number"))),
            Some(other) => Err(TaskError::property(&format!("parameters.{k}"), format!("{other} is not a number"))),
        }
    };
    for k in m.keys() {
        if !["temperature", "maxOutputTokens", "topK", "topP"].contains(&k.as_str()) {
            return Err(TaskError::property(
                &format!("parameters.{k}"),
                "unknown parameter (known: temperature, maxOutputTokens, topK, topP)",
            ));
        }
    }
    let bounded = |k: &str, v: f64, ok: bool, what: &str| {
        if ok { Ok(v) } else { Err(TaskError::property(&format!("parameters.{k}"), format!("{v} is not {what}"))) }
    };
    if let Some(t) = num("temperature")? {
        p.temperature = bounded("temperature", t, t > 0.0 && t <= 1.0, "in (0, 1]")?;
    }
    if let Some(t) = num("maxOutputTokens")? {
        p.max_output_tokens = bounded(
            "maxOutputTokens",
            t,
            t.fract() == 0.0 && (1.0..=1024.0).contains(&t),
            "a whole number in 1..1024",
        )? as i64;
    }
    if let Some(t) = num("topK")? {
        p.top_k = bounded("topK", t, t.fract() == 0.0 && (1.0..=40.0).contains(&t), "a whole number in 1..40")? as i64;
    }
    if let Some(t) = num("topP")? {
        p.top_p = bounded("topP", t, t > 0.0 && t <= 1.0, "in (0, 1]")?;
    }
    Ok(p)
}

pub(super) fn parameters_ok(v: &Value) -> Result<(), String> {
    if v.as_object().is_some_and(|m| m.values().any(|x| x.as_str().is_some_and(baton_model::expr::is_template))) {
        return Ok(());
    }
    parameters(Some(v)).map(|_| ()).map_err(|e| e.to_string())
}

/// The texts of a `messages` / `history` list (`content` of each).
fn contents(field: &str, v: Option<&Value>) -> Result<Vec<String>, TaskError> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
    let Value::Array(items) = v else {
        return Err(TaskError::property(field, "expected a list of {author, content}"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, m)| match m.get("content") {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Null) | None => Err(TaskError::property(&format!("{field}[{i}].content"), "is required")),
            Some(other) => Ok(other.to_string()),
        })
        .collect()
}

/// What both tasks declare (Kestra's `AbstractGenerativeAi`): credentials,
/// region, model and generation settings.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub(super) struct ModelProps {
    #[serde(flatten)]
    pub(super) gcp: GcpProps,
    /// The Vertex AI region of the endpoint.
    #[serde(deserialize_with = "de::string_lenient")]
    pub(super) region: String,
    /// The Vertex AI model.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"gemini-pro\"")]
    pub(super) model_id: Option<String>,
    /// Generation settings: temperature (0.2), maxOutputTokens (128), topK (40), topP (0.95).
    #[serde(default)]
    #[prop(kind = "Map", check = parameters_ok)]
    pub(super) parameters: Option<Value>,
}

/// Complete a chat with Gemini on Vertex AI.
///
/// Sends the messages in turn in one chat session on a Vertex AI Gemini model; outputs the model's predictions.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.vertexai.ChatCompletion",
    group = "gcp",
    example = "id: chat_completion\ntype: io.kestra.plugin.gcp.vertexai.ChatCompletion\nregion: us-central1\nprojectId: my-project\ncontext: I love jokes that talk about sport\nmessages:\n  - author: user\n    content: Please tell me a joke\n",
    outputs(predictions(List, "The answers to `messages`: content, safetyAttributes, citationMetadata."))
)]
struct ChatProps {
    #[serde(flatten)]
    model: ModelProps,
    /// Sent as the session's first message (deprecated in Kestra).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    context: Option<String>,
    /// Not used since Kestra's move to Gemini: accepted and unused, as in Kestra.
    #[serde(default)]
    #[prop(kind = "List")]
    #[allow(dead_code)] // declared so that it is accepted; Kestra does nothing with it either
    examples: Option<Value>,
    /// The messages, each sent in turn: [{author (unused), content}].
    #[serde(default)]
    #[prop(kind = "List", required)]
    messages: Option<Value>,
    /// The conversation so far: [{content}], each a user turn.
    #[serde(default)]
    #[prop(kind = "List")]
    history: Option<Value>,
}

/// Complete a text prompt with Gemini on Vertex AI.
///
/// Sends one prompt to a Vertex AI Gemini model; outputs the model's predictions.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.vertexai.TextCompletion",
    group = "gcp",
    example = "id: text_completion\ntype: io.kestra.plugin.gcp.vertexai.TextCompletion\nregion: us-central1\nprojectId: my-project\nprompt: Please tell me a joke\n",
    outputs(predictions(List, "The answer: content, safetyAttributes, citationMetadata."))
)]
struct TextProps {
    #[serde(flatten)]
    model: ModelProps,
    /// The prompt.
    #[serde(deserialize_with = "de::string_lenient")]
    prompt: String,
}

pub static CHAT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ChatProps>(build_chat));
pub static TEXT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<TextProps>(build_text));

/// What both tasks run: a session of turns on one model.
struct Completion {
    gcp: GcpProps,
    region: String,
    model: String,
    parameters: Parameters,
    /// User turns already in the session (history), not answered.
    history: Vec<String>,
    /// A first turn whose answer stays in the session only.
    context: Option<String>,
    /// The turns whose answers are the outputs.
    turns: Vec<String>,
}

fn build_chat(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ChatProps = parse_props(props)?;
    let turns = contents("messages", p.messages.as_ref())?;
    if turns.is_empty() {
        return Err(TaskError::property("messages", "at least one message is required"));
    }
    Ok(Box::new(Completion {
        parameters: parameters(p.model.parameters.as_ref())?,
        history: contents("history", p.history.as_ref())?,
        context: p.context,
        turns,
        model: p.model.model_id.unwrap_or_else(|| DEFAULT_MODEL.into()),
        region: p.model.region,
        gcp: p.model.gcp,
    }))
}

fn build_text(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: TextProps = parse_props(props)?;
    Ok(Box::new(Completion {
        parameters: parameters(p.model.parameters.as_ref())?,
        history: Vec::new(),
        context: None,
        turns: vec![p.prompt],
        model: p.model.model_id.unwrap_or_else(|| DEFAULT_MODEL.into()),
        region: p.model.region,
        gcp: p.model.gcp,
    }))
}

fn turn(role: &str, text: &str) -> Value {
    json!({"role": role, "parts": [{"text": text}]})
}

/// A candidate as Kestra's `Prediction`.
fn prediction(cand: &Value) -> Value {
    let ratings: Vec<&Value> = cand.get("safetyRatings").and_then(Value::as_array).into_iter().flatten().collect();
    let citations: Vec<Value> = cand
        .pointer("/citationMetadata/citations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| json!({"citations": [c.get("title").cloned().unwrap_or(json!(""))]}))
        .collect();
    json!({
        "safetyAttributes": {
            "scores": ratings.iter().map(|r| r.get("severityScore").cloned().unwrap_or(json!(0.0))).collect::<Vec<_>>(),
            "categories": ratings.iter().map(|r| r.get("category").cloned().unwrap_or(json!(""))).collect::<Vec<_>>(),
            "blocked": ratings.iter().any(|r| r.get("blocked").and_then(Value::as_bool) == Some(true)),
        },
        "citationMetadata": {"citations": citations},
        "content": cand.pointer("/content/parts/0/text").cloned().unwrap_or(Value::Null),
    })
}

/// The Vertex AI model `model` in `region` of `project`, as the AI providers' client calls it.
pub(super) fn provider(region: &str, model: &str, project: &str) -> Provider {
    Provider {
        kind: Kind::GoogleVertexAI,
        model: model.to_string(),
        api_key: None,
        base_url: None,
        project: Some(project.to_string()),
        location: Some(region.to_string()),
        endpoint: None,
        task_type: None,
        output_dimensionality: None,
    }
}

/// `generationConfig` of a `generateContent` body, as Kestra's `buildModel` sets it.
pub(super) fn generation_config(p: &Parameters) -> Value {
    json!({
        "temperature": p.temperature,
        "maxOutputTokens": p.max_output_tokens,
        "topK": p.top_k,
        "topP": p.top_p,
    })
}

#[async_trait]
impl RunnableTask for Completion {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let provider = provider(&self.region, &self.model, r.project()?);
        let config = generation_config(&self.parameters);
        let mut session: Vec<Value> = self.history.iter().map(|t| turn("user", t)).collect();
        let mut predictions = Vec::new();
        let (mut prompt, mut candidates, mut total) = (0i64, 0i64, 0i64);
        let sends = self.context.iter().map(|c| (c, false)).chain(self.turns.iter().map(|t| (t, true)));
        for (text, kept) in sends {
            session.push(turn("user", text));
            let body = json!({"contents": session, "generationConfig": config});
            let answer = vertex::generate_raw(cx, &provider, &r.spec, &body).await?;
            let Some(cands) = answer.get("candidates").and_then(Value::as_array).filter(|c| !c.is_empty()) else {
                let why = answer.pointer("/promptFeedback/blockReason").and_then(Value::as_str).unwrap_or("none given");
                return Err(TaskError::failed(format!(
                    "Vertex AI model '{}' gave no candidate (block reason: {why})",
                    self.model
                )));
            };
            let u = |k: &str| answer.pointer(&format!("/usageMetadata/{k}")).and_then(Value::as_i64).unwrap_or(0);
            prompt += u("promptTokenCount");
            candidates += u("candidatesTokenCount");
            total += u("totalTokenCount");
            session.push(cands[0].get("content").cloned().unwrap_or_else(|| turn("model", "")));
            if kept {
                predictions.extend(cands.iter().map(prediction));
            }
        }
        cx.counter("candidate.token.count", candidates as f64, &[]);
        cx.counter("prompt.token.count", prompt as f64, &[]);
        cx.counter("total.token.count", total as f64, &[]);
        let mut out = Map::new();
        out.insert("predictions".into(), Value::Array(predictions));
        Ok(TaskOutput::with(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_have_kestra_s_defaults_and_bounds() {
        let d = parameters(None).expect("defaults");
        assert_eq!(d, Parameters { temperature: 0.2, max_output_tokens: 128, top_k: 40, top_p: 0.95 });
        let p = parameters(Some(&json!({"temperature": "0.5", "maxOutputTokens": 256}))).expect("set");
        assert_eq!((p.temperature, p.max_output_tokens, p.top_k), (0.5, 256, 40));
        for (bad, field) in [
            (json!({"temperature": 0}), "parameters.temperature"),
            (json!({"maxOutputTokens": 2000}), "parameters.maxOutputTokens"),
            (json!({"topK": 41}), "parameters.topK"),
            (json!({"topP": 1.5}), "parameters.topP"),
            (json!({"seed": 1}), "parameters.seed"),
        ] {
            let e = parameters(Some(&bad)).expect_err("refused").to_string();
            assert!(e.contains(field), "{bad}: {e}");
        }
    }

    #[test]
    fn a_candidate_becomes_kestra_s_prediction() {
        let cand = json!({
            "content": {"role": "model", "parts": [{"text": "A joke."}]},
            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "severityScore": 0.1, "blocked": false}],
            "citationMetadata": {"citations": [{"title": "Jokes", "uri": "https://example.com"}]}
        });
        assert_eq!(
            prediction(&cand),
            json!({"safetyAttributes": {"scores": [0.1], "categories": ["HARM_CATEGORY_HARASSMENT"], "blocked": false},
                   "citationMetadata": {"citations": [{"citations": ["Jokes"]}]}, "content": "A joke."})
        );
    }

    #[test]
    fn messages_need_content() {
        let e = contents("messages", Some(&json!([{"author": "user"}]))).expect_err("no content").to_string();
        assert!(e.contains("messages[0].content"), "{e}");
        let props = json!({"region": "us-central1", "messages": []}).as_object().cloned().unwrap_or_default();
        let e = build_chat(&props).err().expect("empty").to_string();
        assert!(e.contains("'messages'"), "{e}");
    }
}
