//! OpenAI's API and every server that speaks it (Ollama's `/v1`, vLLM,
//! LiteLLM, LocalAI…, by `baseUrl`): `POST {base}/chat/completions` and
//! `POST {base}/embeddings`, the key as `Authorization: Bearer`.

use serde_json::{Map, Value, json};

use super::{Provider, vector};
use crate::RunContext;
use crate::ai::AiError;
use crate::ai::http::{call_json, trim_base};
use crate::ai::model::{ChatRequest, ChatResponse, Embeddings, FinishReason, Message, TokenUsage, ToolCall};

/// The public endpoint (Kestra's default `baseUrl`).
pub const DEFAULT_BASE: &str = "https://api.openai.com/v1";

fn base(cx: &RunContext, p: &Provider) -> String {
    let b = p.base_url.clone().or_else(|| cx.services.config.ai.openai_base_url.clone());
    trim_base(&b.unwrap_or_else(|| DEFAULT_BASE.to_string())).to_string()
}

/// The `chat/completions` body.
pub fn chat_body(model: &str, req: &ChatRequest) -> Value {
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| match m {
            Message::System(t) => json!({"role": "system", "content": t}),
            Message::User(t) => json!({"role": "user", "content": t}),
            Message::Ai { text, tool_calls } => {
                let mut o = json!({"role": "assistant", "content": text});
                if !tool_calls.is_empty() {
                    o["tool_calls"] = Value::Array(
                        tool_calls
                            .iter()
                            .map(|c| {
                                json!({"id": c.id, "type": "function",
                                       "function": {"name": c.name, "arguments": c.arguments.to_string()}})
                            })
                            .collect(),
                    );
                }
                o
            }
            Message::ToolResult { id, result, .. } => json!({"role": "tool", "tool_call_id": id, "content": result}),
        })
        .collect();
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages));
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    let c = &req.config;
    if let Some(v) = c.temperature {
        body.insert("temperature".into(), json!(v));
    }
    if let Some(v) = c.top_p {
        body.insert("top_p".into(), json!(v));
    }
    if let Some(v) = c.seed {
        body.insert("seed".into(), json!(v));
    }
    if let Some(v) = c.max_tokens {
        body.insert("max_completion_tokens".into(), json!(v));
    }
    if c.json {
        let rf = match &c.json_schema {
            Some(s) => {
                let mut js = json!({"name": "response", "schema": s, "strict": true});
                if let Some(d) = &c.json_schema_description {
                    js["description"] = json!(d);
                }
                json!({"type": "json_schema", "json_schema": js})
            }
            None => json!({"type": "json_object"}),
        };
        body.insert("response_format".into(), rf);
    }
    Value::Object(body)
}

fn finish(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolExecution,
        "content_filter" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

/// Reads a chat completion.
pub fn parse_chat(v: &Value) -> Result<ChatResponse, String> {
    let choice = v.pointer("/choices/0").ok_or("the response has no choices")?;
    let msg = choice.get("message").ok_or("the choice has no message")?;
    let mut calls = Vec::new();
    for c in msg.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        let name = c.pointer("/function/name").and_then(Value::as_str).unwrap_or_default().to_string();
        let args = c.pointer("/function/arguments").and_then(Value::as_str).unwrap_or("{}");
        let arguments = serde_json::from_str(args)
            .map_err(|e| format!("the arguments of the call to tool '{name}' are not JSON: {e}"))?;
        calls.push(ToolCall {
            id: c.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
            name,
            arguments,
        });
    }
    let u = v.get("usage");
    let n = |k: &str| u.and_then(|u| u.get(k)).and_then(Value::as_i64);
    Ok(ChatResponse {
        text: msg.get("content").and_then(Value::as_str).map(str::to_string),
        tool_calls: calls,
        usage: TokenUsage { input: n("prompt_tokens"), output: n("completion_tokens"), total: n("total_tokens") },
        finish_reason: choice.get("finish_reason").and_then(Value::as_str).map(finish),
        id: v.get("id").and_then(Value::as_str).map(str::to_string),
    })
}

pub async fn chat(cx: &RunContext, p: &Provider, req: &ChatRequest) -> Result<ChatResponse, AiError> {
    let url = format!("{}/chat/completions", base(cx, p));
    let body = chat_body(&p.model, req);
    let key = p.api_key.clone().unwrap_or_default();
    let callee = p.callee();
    let http = &cx.services.http;
    let v = call_json(cx, &cx.services.config.ai, &callee, || http.post(&url).bearer_auth(&key).json(&body)).await?;
    parse_chat(&v).map_err(|e| callee.error(e))
}

pub async fn embed(cx: &RunContext, p: &Provider, texts: &[String]) -> Result<Embeddings, AiError> {
    let url = format!("{}/embeddings", base(cx, p));
    let key = p.api_key.clone().unwrap_or_default();
    let callee = p.callee();
    let http = &cx.services.http;
    let mut out = Embeddings::default();
    for chunk in texts.chunks(256) {
        let body = json!({"model": p.model, "input": chunk, "encoding_format": "float"});
        let v =
            call_json(cx, &cx.services.config.ai, &callee, || http.post(&url).bearer_auth(&key).json(&body)).await?;
        let mut data: Vec<&Value> = v.get("data").and_then(Value::as_array).into_iter().flatten().collect();
        data.sort_by_key(|d| d.get("index").and_then(Value::as_u64).unwrap_or(0));
        for d in data {
            out.vectors
                .push(vector(d.get("embedding")).ok_or_else(|| callee.error("an embedding is not a list of numbers"))?);
        }
        let n = |k: &str| v.pointer(&format!("/usage/{k}")).and_then(Value::as_i64);
        out.usage.add(TokenUsage { input: n("prompt_tokens"), output: None, total: n("total_tokens") });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::model::ChatConfig;

    #[test]
    fn a_json_schema_request_and_a_tool_call_answer() {
        let req = ChatRequest {
            messages: vec![Message::System("s".into()), Message::User("u".into())],
            tools: vec![],
            config: ChatConfig {
                json: true,
                json_schema: Some(json!({"type": "object"})),
                top_p: Some(0.5),
                ..ChatConfig::default()
            },
        };
        let b = chat_body("gpt-4o-mini", &req);
        assert_eq!(b["messages"][0]["role"], "system");
        assert_eq!(b["response_format"]["type"], "json_schema");
        assert_eq!(b["top_p"], 0.5);
        let r = parse_chat(&json!({"choices": [{"message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
            "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}))
        .unwrap();
        assert_eq!(r.tool_calls[0].arguments["a"], 1);
        assert_eq!(r.finish_reason, Some(FinishReason::ToolExecution));
        assert_eq!(r.usage.total, Some(3));
    }
}
