//! Loopback fakes of the AI services Baton's AI tasks call, for tests and
//! the benchmark: Gemini (`/v1beta/models/{m}:generateContent`,
//! `:batchEmbedContents`), Vertex AI (`/v1/projects/…:generateContent`,
//! `:predict`), OpenAI (`/v1/chat/completions`, `/v1/embeddings`), Tavily
//! (`/search`) and plain documents (`/docs/{name}`). Every request is
//! recorded and checked against the published API before it is answered:
//! Gemini and Vertex AI bodies against the `GenerateContentRequest` /
//! `PredictRequest` schemas of Google's aiplatform v1 discovery document
//! (the Gemini API uses the same shapes; its own discovery document is not
//! shipped in google-api-python-client), OpenAI bodies against the fields
//! of its API reference (listed in [`OPENAI_CHAT_FIELDS`]). A request that
//! does not match is answered 400 with the reason, so the task fails.
//! Chat answers come from a script; embeddings are a deterministic
//! bag-of-words vector, so retrieval finds the segment sharing words.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::functions::{Served, serve};

/// One scripted chat answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The model answers text.
    Text(String),
    /// The model calls a tool.
    Call(String, Value),
    /// The service fails with this status and message.
    Status(u16, String),
    /// The service answers this body as it is (200): safety ratings,
    /// blocked answers… (Google APIs only).
    Raw(Value),
}

/// A recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: Map<String, Value>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    /// Embedding size (0: [`DIM`]).
    dim: usize,
    script: VecDeque<Reply>,
    requests: Vec<Recorded>,
    docs: Map<String, Value>,
    problems: Vec<String>,
}

/// A running fake.
pub struct FakeAi {
    /// `http://127.0.0.1:{port}` (no trailing slash).
    pub url: String,
    /// The API key the fake accepts (Gemini, OpenAI).
    pub key: String,
    state: Arc<Mutex<State>>,
    _served: Served,
}

/// Dimensions of the fake embeddings.
pub const DIM: usize = 64;

/// The OpenAI chat request fields Baton may send (API reference, "Create chat completion").
pub const OPENAI_CHAT_FIELDS: &[&str] =
    &["model", "messages", "tools", "temperature", "top_p", "seed", "max_completion_tokens", "response_format"];

impl FakeAi {
    /// Starts a fake accepting `key` (models) and `tavily_key` (web search).
    pub async fn start(key: &str, tavily_key: &str) -> FakeAi {
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let k = key.to_string();
        let tk = tavily_key.to_string();
        let router = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let st = st.clone();
            let k = k.clone();
            let tk = tk.clone();
            async move { handle(&st, &k, &tk, uri, headers, body) }
        });
        let served = serve(router).await;
        FakeAi { url: served.url.trim_end_matches('/').to_string(), key: key.to_string(), state, _served: served }
    }

    /// Queues chat answers, in order.
    pub fn script(&self, replies: Vec<Reply>) {
        self.state.lock().expect("fake state").script.extend(replies);
    }

    /// Answers embeddings of `dim` numbers (default [`DIM`]; Gemini's is 3072).
    pub fn set_dim(&self, dim: usize) {
        self.state.lock().expect("fake state").dim = dim;
    }

    /// Serves `text` at `/docs/{name}`.
    pub fn doc(&self, name: &str, text: &str) -> String {
        self.state.lock().expect("fake state").docs.insert(name.to_string(), Value::String(text.to_string()));
        format!("{}/docs/{name}", self.url)
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("fake state").requests.clone()
    }

    /// Requests that did not match the published API.
    pub fn problems(&self) -> Vec<String> {
        self.state.lock().expect("fake state").problems.clone()
    }
}

/// A deterministic embedding of `dim` numbers: words hashed into buckets.
pub fn embed(text: &str, dim: usize) -> Vec<f32> {
    let dim = if dim == 0 { DIM } else { dim };
    let mut v = vec![0f32; dim];
    for w in text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 2) {
        let h = w.to_lowercase().bytes().fold(2166136261u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16777619));
        v[(h as usize) % dim] += 1.0;
    }
    v[dim - 1] += 0.01;
    v
}

fn reply(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(body)).into_response()
}

fn google_error(status: u16, msg: &str) -> Response {
    let mut r = reply(status, json!({"error": {"code": status, "message": msg, "status": "ERROR"}}));
    if status == 429 {
        r.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("0"));
    }
    r
}

fn handle(st: &Mutex<State>, key: &str, tavily_key: &str, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let hmap: Map<String, Value> =
        headers.iter().map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default()))).collect();
    let mut s = st.lock().expect("fake state");
    s.requests.push(Recorded { path: path.clone(), headers: hmap.clone(), body: body.clone() });
    if let Some(name) = path.strip_prefix("/docs/") {
        return match s.docs.get(name) {
            Some(Value::String(t)) => t.clone().into_response(),
            _ => (StatusCode::NOT_FOUND, "no such document").into_response(),
        };
    }
    let header = |k: &str| hmap.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let bearer_ok = header("authorization") == format!("Bearer {key}");
    let check = |s: &mut State, r: Result<(), String>| -> Option<Response> {
        r.err().map(|e| {
            s.problems.push(format!("{path}: {e}"));
            google_error(400, &format!("Invalid JSON payload received. {e}"))
        })
    };
    if path.starts_with("/v1beta/models/") {
        if header("x-goog-api-key") != key {
            return google_error(400, "API key not valid. Please pass a valid API key.");
        }
        if path.ends_with(":generateContent") {
            if let Some(r) = check(&mut s, crate::ai_schema::check_generate(&body)) {
                return r;
            }
            return gemini_answer(&mut s, &path);
        }
        if path.ends_with(":batchEmbedContents") {
            if let Some(r) = check(&mut s, crate::ai_schema::check_batch_embed(&body, &path)) {
                return r;
            }
            let e: Vec<Value> = body["requests"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| json!({"values": embed(r.pointer("/content/parts/0/text").and_then(Value::as_str).unwrap_or(""), s.dim)}))
                .collect();
            return reply(200, json!({"embeddings": e}));
        }
    }
    if path.starts_with("/v1/projects/") {
        if !header("authorization").starts_with("Bearer ") {
            return google_error(401, "Request is missing required authentication credential.");
        }
        if path.ends_with(":generateContent") {
            if let Some(r) = check(&mut s, crate::ai_schema::check_generate(&body)) {
                return r;
            }
            return gemini_answer(&mut s, &path);
        }
        if path.ends_with(":predict") {
            if let Some(r) = check(&mut s, crate::ai_schema::check_predict(&body)) {
                return r;
            }
            let p: Vec<Value> = body["instances"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| json!({"embeddings": {"values": embed(i["content"].as_str().unwrap_or(""), s.dim), "statistics": {"token_count": 3, "truncated": false}}}))
                .collect();
            return reply(200, json!({"predictions": p}));
        }
    }
    if path == "/v1/chat/completions" {
        if !bearer_ok {
            return reply(
                401,
                json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"}}),
            );
        }
        if let Some(r) = check(&mut s, crate::ai_schema::check_openai_chat(&body)) {
            return r;
        }
        return openai_answer(&mut s);
    }
    if path == "/v1/embeddings" {
        if !bearer_ok {
            return reply(401, json!({"error": {"message": "Incorrect API key provided."}}));
        }
        let data: Vec<Value> = body["input"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": embed(t.as_str().unwrap_or(""), s.dim)}))
            .collect();
        return reply(
            200,
            json!({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 5, "total_tokens": 5}}),
        );
    }
    if path == "/search" {
        if header("authorization") != format!("Bearer {tavily_key}") {
            return reply(401, json!({"detail": {"error": "Unauthorized: missing or invalid API key."}}));
        }
        let q = body["query"].as_str().unwrap_or_default();
        if q.is_empty() {
            s.problems.push("/search: no query".into());
            return reply(400, json!({"detail": {"error": "query is required"}}));
        }
        let n = body["max_results"].as_u64().unwrap_or(5) as usize;
        let results: Vec<Value> = (0..n.min(2))
            .map(|i| json!({"title": format!("Result {i} for {q}"), "url": format!("https://example.com/{i}"), "content": format!("Kestra news item {i}: orchestration is declarative."), "score": 0.9}))
            .collect();
        return reply(200, json!({"query": q, "results": results, "response_time": 0.1}));
    }
    (StatusCode::NOT_FOUND, format!("the fake has no {path}")).into_response()
}

fn next(s: &mut State) -> Reply {
    s.script.pop_front().unwrap_or_else(|| Reply::Text("(no scripted answer)".into()))
}

fn gemini_answer(s: &mut State, path: &str) -> Response {
    if path.contains("does-not-exist") {
        return google_error(404, "models/does-not-exist is not found for API version v1beta");
    }
    let usage = json!({"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15});
    match next(s) {
        Reply::Text(t) => reply(
            200,
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": t}]}, "finishReason": "STOP"}], "usageMetadata": usage, "responseId": "r1"}),
        ),
        Reply::Call(name, args) => reply(
            200,
            json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": name, "args": args}}]}, "finishReason": "STOP"}], "usageMetadata": usage}),
        ),
        Reply::Status(code, msg) => google_error(code, &msg),
        Reply::Raw(body) => reply(200, body),
    }
}

fn openai_answer(s: &mut State) -> Response {
    let usage = json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15});
    match next(s) {
        Reply::Text(t) => reply(
            200,
            json!({"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}], "usage": usage}),
        ),
        Reply::Call(name, args) => reply(
            200,
            json!({"id": "c2", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": name, "arguments": args.to_string()}}]}, "finish_reason": "tool_calls"}], "usage": usage}),
        ),
        Reply::Status(code, msg) => {
            let mut r = reply(code, json!({"error": {"message": msg, "type": "error"}}));
            if code == 429 {
                r.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("0"));
            }
            r
        }
        Reply::Raw(body) => reply(200, body),
    }
}
