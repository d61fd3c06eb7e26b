//! Google's Gemini API (`generativelanguage.googleapis.com/v1beta`):
//! `models/{model}:generateContent` for chat and
//! `models/{model}:batchEmbedContents` for embeddings, the key sent in the
//! `x-goog-api-key` header (never in the URL, so it cannot leak through a
//! transport error). The request and response bodies are the same
//! `GenerateContent` shapes Vertex AI uses, so [`generate_body`] and
//! [`parse_generate`] serve both.

use serde_json::{Map, Value, json};

use super::{Provider, vector};
use crate::RunContext;
use crate::ai::AiError;
use crate::ai::http::{call_json, trim_base};
use crate::ai::model::{ChatRequest, ChatResponse, Embeddings, FinishReason, Message, TokenUsage, ToolCall};

/// The public endpoint.
pub const DEFAULT_BASE: &str = "https://generativelanguage.googleapis.com";

fn base(cx: &RunContext, p: &Provider) -> String {
    let b = p.base_url.clone().or_else(|| cx.services.config.ai.gemini_base_url.clone());
    let b = b.unwrap_or_else(|| DEFAULT_BASE.to_string());
    let b = trim_base(&b);
    // Accept a base with or without the version.
    if b.ends_with("/v1beta") || b.ends_with("/v1") { b.to_string() } else { format!("{b}/v1beta") }
}

/// `models/x` from `x` or `models/x`.
pub fn model_path(model: &str) -> String {
    if model.starts_with("models/") || model.starts_with("tunedModels/") {
        model.to_string()
    } else {
        format!("models/{model}")
    }
}

/// The `GenerateContentRequest` body for a conversation.
pub fn generate_body(req: &ChatRequest) -> Value {
    let mut contents: Vec<Value> = Vec::new();
    let mut system: Vec<Value> = Vec::new();
    for m in &req.messages {
        match m {
            Message::System(t) => system.push(json!({"text": t})),
            Message::User(t) => contents.push(json!({"role": "user", "parts": [{"text": t}]})),
            Message::Ai { text, tool_calls } => {
                let mut parts: Vec<Value> = Vec::new();
                if let Some(t) = text.as_ref().filter(|t| !t.is_empty()) {
                    parts.push(json!({"text": t}));
                }
                for c in tool_calls {
                    parts.push(json!({"functionCall": {"name": c.name, "args": c.arguments}}));
                }
                contents.push(json!({"role": "model", "parts": parts}));
            }
            Message::ToolResult { name, result, .. } => {
                let part = json!({"functionResponse": {"name": name, "response": {"name": name, "content": result}}});
                // The answers to one turn's calls go back together, in one user turn.
                let merge = contents.last().is_some_and(|c| {
                    c["role"] == "user"
                        && c["parts"].as_array().is_some_and(|p| p.iter().all(|x| x.get("functionResponse").is_some()))
                });
                if merge {
                    if let Some(Value::Array(parts)) = contents.last_mut().and_then(|c| c.get_mut("parts")) {
                        parts.push(part);
                    }
                } else {
                    contents.push(json!({"role": "user", "parts": [part]}));
                }
            }
        }
    }
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    if !req.tools.is_empty() {
        let decls: Vec<Value> = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "parametersJsonSchema": t.parameters}))
            .collect();
        body.insert("tools".into(), json!([{"functionDeclarations": decls}]));
    }
    let c = &req.config;
    let mut gc = Map::new();
    if let Some(v) = c.temperature {
        gc.insert("temperature".into(), json!(v));
    }
    if let Some(v) = c.top_p {
        gc.insert("topP".into(), json!(v));
    }
    if let Some(v) = c.top_k {
        gc.insert("topK".into(), json!(v));
    }
    if let Some(v) = c.seed {
        gc.insert("seed".into(), json!(v));
    }
    if let Some(v) = c.max_tokens {
        gc.insert("maxOutputTokens".into(), json!(v));
    }
    if c.json {
        gc.insert("responseMimeType".into(), json!("application/json"));
        if let Some(s) = &c.json_schema {
            gc.insert("responseJsonSchema".into(), s.clone());
        }
    }
    if !gc.is_empty() {
        body.insert("generationConfig".into(), Value::Object(gc));
    }
    Value::Object(body)
}

fn finish(s: &str) -> FinishReason {
    match s {
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

/// Reads a `GenerateContentResponse`.
pub fn parse_generate(v: &Value) -> Result<ChatResponse, String> {
    let Some(cand) = v.pointer("/candidates/0") else {
        let why = v
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str)
            .map(|r| format!("the prompt was blocked ({r})"))
            .unwrap_or_else(|| "the response has no candidates".to_string());
        return Err(why);
    };
    let mut text = String::new();
    let mut has_text = false;
    let mut calls = Vec::new();
    for (i, part) in cand.pointer("/content/parts").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if part.get("thought").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(t) = part.get("text").and_then(Value::as_str) {
            text.push_str(t);
            has_text = true;
        }
        if let Some(fc) = part.get("functionCall") {
            let name = fc.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            let id =
                fc.get("id").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("call_{i}_{name}"));
            calls.push(ToolCall { id, name, arguments: fc.get("args").cloned().unwrap_or_else(|| json!({})) });
        }
    }
    let u = v.get("usageMetadata");
    let n = |k: &str| u.and_then(|u| u.get(k)).and_then(Value::as_i64);
    let mut finish_reason = cand.get("finishReason").and_then(Value::as_str).map(finish);
    if !calls.is_empty() {
        finish_reason = Some(FinishReason::ToolExecution);
    }
    Ok(ChatResponse {
        text: has_text.then_some(text),
        tool_calls: calls,
        usage: TokenUsage {
            input: n("promptTokenCount"),
            output: n("candidatesTokenCount"),
            total: n("totalTokenCount"),
        },
        finish_reason,
        id: v.get("responseId").and_then(Value::as_str).map(str::to_string),
    })
}

pub async fn chat(cx: &RunContext, p: &Provider, req: &ChatRequest) -> Result<ChatResponse, AiError> {
    let url = format!("{}/{}:generateContent", base(cx, p), model_path(&p.model));
    let body = generate_body(req);
    let key = p.api_key.clone().unwrap_or_default();
    let callee = p.callee();
    let http = &cx.services.http;
    let v =
        call_json(cx, &cx.services.config.ai, &callee, || http.post(&url).header("x-goog-api-key", &key).json(&body))
            .await?;
    parse_generate(&v).map_err(|e| callee.error(e))
}

/// The `BatchEmbedContentsRequest` body.
pub fn embed_body(p: &Provider, texts: &[String]) -> Value {
    let model = model_path(&p.model);
    let reqs: Vec<Value> = texts
        .iter()
        .map(|t| {
            let mut r = json!({"model": model, "content": {"parts": [{"text": t}]}});
            if let Some(tt) = &p.task_type {
                r["taskType"] = json!(tt);
            }
            if let Some(d) = p.output_dimensionality {
                r["outputDimensionality"] = json!(d);
            }
            r
        })
        .collect();
    json!({"requests": reqs})
}

/// How many texts one `batchEmbedContents` call carries (the API's limit is 100).
const EMBED_BATCH: usize = 100;

pub async fn embed(cx: &RunContext, p: &Provider, texts: &[String]) -> Result<Embeddings, AiError> {
    let url = format!("{}/{}:batchEmbedContents", base(cx, p), model_path(&p.model));
    let key = p.api_key.clone().unwrap_or_default();
    let callee = p.callee();
    let http = &cx.services.http;
    let mut out = Embeddings::default();
    for chunk in texts.chunks(EMBED_BATCH) {
        let body = embed_body(p, chunk);
        let v = call_json(cx, &cx.services.config.ai, &callee, || {
            http.post(&url).header("x-goog-api-key", &key).json(&body)
        })
        .await?;
        for e in v.get("embeddings").and_then(Value::as_array).into_iter().flatten() {
            out.vectors.push(vector(e.get("values")).ok_or_else(|| callee.error("an embedding has no values"))?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::model::{ChatConfig, ToolSpec};

    #[test]
    fn a_conversation_with_tools_becomes_generate_content() {
        let req = ChatRequest {
            messages: vec![
                Message::System("be brief".into()),
                Message::User("hi".into()),
                Message::Ai {
                    text: None,
                    tool_calls: vec![
                        ToolCall { id: "a".into(), name: "search".into(), arguments: json!({"q": "x"}) },
                        ToolCall { id: "b".into(), name: "search".into(), arguments: json!({"q": "y"}) },
                    ],
                },
                Message::ToolResult { id: "a".into(), name: "search".into(), result: "r1".into() },
                Message::ToolResult { id: "b".into(), name: "search".into(), result: "r2".into() },
            ],
            tools: vec![ToolSpec {
                name: "search".into(),
                description: "d".into(),
                parameters: json!({"type": "object"}),
            }],
            config: ChatConfig {
                temperature: Some(0.2),
                max_tokens: Some(100),
                json: true,
                json_schema: Some(json!({"type": "object"})),
                ..ChatConfig::default()
            },
        };
        let b = generate_body(&req);
        assert_eq!(b["systemInstruction"]["parts"][0]["text"], "be brief");
        assert_eq!(b["contents"].as_array().unwrap().len(), 3, "{b}");
        assert_eq!(b["contents"][1]["role"], "model");
        assert_eq!(b["contents"][2]["parts"].as_array().unwrap().len(), 2, "both answers in one turn");
        assert_eq!(b["tools"][0]["functionDeclarations"][0]["name"], "search");
        assert_eq!(b["generationConfig"]["maxOutputTokens"], 100);
        assert_eq!(b["generationConfig"]["responseMimeType"], "application/json");
    }

    #[test]
    fn responses_give_text_calls_usage_and_finish_reason() {
        let r = parse_generate(&json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "a"}, {"text": "b"}]}, "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7}
        }))
        .unwrap();
        assert_eq!(r.text.as_deref(), Some("ab"));
        assert_eq!(r.finish_reason, Some(FinishReason::Length));
        assert_eq!(r.usage.total, Some(7));
        let r = parse_generate(&json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {"x": 1}}}]}, "finishReason": "STOP"}]})).unwrap();
        assert_eq!(r.tool_calls[0].name, "f");
        assert_eq!(r.finish_reason, Some(FinishReason::ToolExecution));
        assert!(parse_generate(&json!({"promptFeedback": {"blockReason": "SAFETY"}})).unwrap_err().contains("SAFETY"));
    }
}
