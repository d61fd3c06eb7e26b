//! Kestra's single-vendor AI plugins end to end against a loopback fake of
//! each API: Anthropic's Messages API, DeepSeek's and Perplexity's chat
//! completions, OpenAI's Responses and image generation, and Hugging
//! Face's Inference API. Each test checks the exact request Kestra's
//! plugin sends (path, auth and version headers, body) and the outputs
//! read from a realistic answer; errors carry the vendor's message without
//! the key, and an oversized answer fails naming its bound.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use base64::Engine;
use serde_json::{Map, Value, json};
use shared::model::{Execution, StateType};
use shared::plugins::PluginConfig;
use shared::plugins::ai::AiConfig;

use crate::support::{Harness, harness_with_plugins, runs};

const KEY: &str = "sk-test-vendor-key-424242";

/// A request the fake received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Value,
}

/// A fake API answering every POST with `status` and `body`, recording the requests.
struct Fake {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    async fn start(status: u16, body: Vec<u8>) -> Fake {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let rec = seen.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, bytes: Bytes| {
            let rec = rec.clone();
            let body = body.clone();
            async move {
                let parsed = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                rec.lock().unwrap().push(Seen { path: uri.path().to_string(), headers, body: parsed });
                (StatusCode::from_u16(status).unwrap(), [("content-type", "application/json")], body).into_response()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Fake { url, seen }
    }

    async fn json(status: u16, body: Value) -> Fake {
        Fake::start(status, body.to_string().into_bytes()).await
    }

    fn one(&self) -> Seen {
        let seen = self.seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        seen[0].clone()
    }
}

/// A harness whose Anthropic, Perplexity and OpenAI calls go to `url`
/// (as `BATON_ANTHROPIC_BASE_URL`… do); failures are not retried.
fn setup(url: &str) -> Harness {
    let ai = AiConfig {
        anthropic_base_url: Some(url.to_string()),
        perplexity_base_url: Some(url.to_string()),
        openai_base_url: Some(format!("{url}/v1")),
        max_retries: 0,
        backoff: Duration::from_millis(10),
        ..AiConfig::default()
    };
    harness_with_plugins(PluginConfig { ai, ..PluginConfig::default() })
}

fn out<'a>(e: &'a Execution, task: &str) -> &'a Map<String, Value> {
    runs(e, task)[0].outputs.as_ref().unwrap_or_else(|| panic!("{task} has no outputs"))
}

fn header(s: &Seen, k: &str) -> String {
    s.headers.get(k).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

async fn succeeded(h: &Harness, yaml: &str) -> Execution {
    let e = h.run(yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    e
}

/// The failure's text (logs and error); the key never appears in it.
async fn failure(h: &Harness, yaml: &str) -> String {
    let e = h.run(yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed, "{yaml}");
    let all = format!("{}\n{}", h.logs(&e.id).await.join("\n"), e.error.clone().unwrap_or_default());
    assert!(!all.contains(KEY), "the key leaked: {all}");
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_chat_completion_speaks_the_messages_api() {
    let fake = Fake::json(
        200,
        json!({"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-20241022",
            "content": [{"type": "text", "text": "Sunny, 18°C. "}, {"type": "text", "text": "Take the 07:15."}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 42, "output_tokens": 9, "cache_read_input_tokens": 0}}),
    )
    .await;
    let h = setup(&fake.url);
    let yaml = format!(
        r#"id: digest
namespace: company.team
tasks:
  - id: get_digest
    type: io.kestra.plugin.anthropic.ChatCompletion
    system: Plan the day.
    temperature: 0.5
    messages:
      - type: USER
        content: What is the weather like?
      - type: ASSISTANT
        content: Let me see.
      - type: USER
        content: Which train?
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ outputs.get_digest.outputText }}}}"
pluginDefaults:
  - type: io.kestra.plugin.anthropic.ChatCompletion
    values:
      apiKey: {KEY}
      model: claude-3-5-sonnet-20241022
      maxTokens: 512
"#
    );
    let e = succeeded(&h, &yaml).await;
    let s = fake.one();
    assert_eq!(s.path, "/v1/messages");
    assert_eq!(header(&s, "x-api-key"), KEY);
    assert_eq!(header(&s, "anthropic-version"), "2023-06-01");
    assert_eq!(
        s.body,
        json!({"model": "claude-3-5-sonnet-20241022", "max_tokens": 512, "system": "Plan the day.", "temperature": 0.5,
            "messages": [{"role": "user", "content": "What is the weather like?"},
                         {"role": "assistant", "content": "Let me see."},
                         {"role": "user", "content": "Which train?"}]})
    );
    let o = out(&e, "get_digest");
    assert_eq!(o["outputText"], "Sunny, 18°C. Take the 07:15.");
    assert_eq!(o["stopReason"], "end_turn");
    assert_eq!(o["cacheReadInputTokens"], 0);
    assert!(o.get("toolUses").is_none() && o.get("cacheCreationInputTokens").is_none(), "{o:?}");
    let raw: Value = serde_json::from_str(o["rawResponse"].as_str().unwrap()).unwrap();
    assert_eq!(raw["id"], "msg_01");
    assert!(h.logs(&e.id).await.iter().any(|l| l.contains("Take the 07:15.")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_errors_carry_the_vendor_message_without_the_key() {
    let fake = Fake::json(
        401,
        json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
    )
    .await;
    let h = setup(&fake.url);
    let yaml = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: ask\n    type: io.kestra.plugin.anthropic.ChatCompletion\n    apiKey: {KEY}\n    model: claude-x\n    messages:\n      - type: USER\n        content: hi\n"
    );
    let msg = failure(&h, &yaml).await;
    assert!(msg.contains("invalid x-api-key") && msg.contains("HTTP 401") && msg.contains("claude-x"), "{msg}");
    assert_eq!(fake.one().body["max_tokens"], 1024, "Kestra's default maxTokens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deepseek_json_mode_sends_the_schema_and_wraps_array_answers() {
    let answer = r#"{"title": "Pharmacy", "due_date": "2026-11-27T15:00:00Z"}"#;
    let fake = Fake::json(
        200,
        json!({"id": "c1", "object": "chat.completion", "model": "deepseek-chat",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}}),
    )
    .await;
    let h = setup("http://127.0.0.1:9");
    let schema = r#"{"type": "array", "items": {"type": "object"}}"#;
    let yaml = format!(
        r#"id: todo
namespace: company.team
tasks:
  - id: fields
    type: io.kestra.plugin.deepseek.ChatCompletion
    apiKey: {KEY}
    modelName: deepseek-chat
    baseUrl: {}/v1
    messages:
      - type: SYSTEM
        content: Make tasks.
      - type: USER
        content: Get my prescription on Friday.
    jsonResponseSchema: '{schema}'
"#,
        fake.url
    );
    let e = succeeded(&h, &yaml).await;
    let s = fake.one();
    assert_eq!(s.path, "/v1/chat/completions");
    assert_eq!(header(&s, "authorization"), format!("Bearer {KEY}"));
    let reminder = s.body["messages"][0]["content"].as_str().unwrap();
    assert!(reminder.starts_with("You must output valid JSON only") && reminder.ends_with(schema), "{reminder}");
    assert_eq!(s.body["messages"][1], json!({"role": "system", "content": "Make tasks."}));
    assert_eq!(s.body["messages"][2], json!({"role": "user", "content": "Get my prescription on Friday."}));
    assert_eq!(s.body["model"], "deepseek-chat");
    assert_eq!(s.body["response_format"], json!({"type": "json_object"}));
    assert_eq!(s.body.as_object().unwrap().len(), 3, "model, messages and response_format only: {}", s.body);
    let o = out(&e, "fields");
    assert_eq!(o["response"], format!("[{answer}]"));
    let raw: Value = serde_json::from_str(o["raw"].as_str().unwrap()).unwrap();
    assert_eq!(raw["usage"]["total_tokens"], 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perplexity_sends_every_default_and_outputs_the_answer() {
    let fake = Fake::json(
        200,
        json!({"id": "p1", "model": "sonar", "object": "chat.completion", "created": 1764300000,
            "citations": ["https://example.com/hunger-games"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Katniss volunteers."}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}}),
    )
    .await;
    let h = setup(&fake.url);
    let yaml = format!(
        r#"id: book
namespace: company.team
tasks:
  - id: summary
    type: io.kestra.plugin.perplexity.ChatCompletion
    messages:
      - type: SYSTEM
        content: Summarise.
      - type: USER
        content: Chapter 1 of The Hunger Games.
pluginDefaults:
  - forced: false
    type: io.kestra.plugin.perplexity.ChatCompletion
    values:
      apiKey: {KEY}
      model: sonar
      temperature: 0.7
"#
    );
    let e = succeeded(&h, &yaml).await;
    let s = fake.one();
    assert_eq!(s.path, "/chat/completions");
    assert_eq!(header(&s, "authorization"), format!("Bearer {KEY}"));
    assert_eq!(
        s.body,
        json!({"model": "sonar", "temperature": 0.7, "top_p": 0.9, "top_k": 0, "stream": false,
            "presence_penalty": 0.0, "frequency_penalty": 0.0,
            "messages": [{"role": "system", "content": "Summarise."}, {"role": "user", "content": "Chapter 1 of The Hunger Games."}]})
    );
    let o = out(&e, "summary");
    assert_eq!(o["outputText"], "Katniss volunteers.");
    assert!(o["rawResponse"].as_str().unwrap().contains("hunger-games"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_responses_sends_a_text_input_as_one_user_message() {
    let fake = Fake::json(
        200,
        json!({"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4o-2024-08-06",
            "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": "Five fixes shipped.", "annotations": [
                    {"type": "url_citation", "url": "https://github.com/kestra-io/blueprints", "title": "b", "start_index": 0, "end_index": 4}]}]}],
            "usage": {"input_tokens": 50, "output_tokens": 4, "total_tokens": 54, "input_tokens_details": {"cached_tokens": 0}}}),
    )
    .await;
    let h = setup(&fake.url);
    let yaml = format!(
        r#"id: commits
namespace: company.team
tasks:
  - id: summarize_commits
    type: io.kestra.plugin.openai.Responses
    apiKey: {KEY}
    model: gpt-4o
    input: |
      Summarize these commits.
"#
    );
    let e = succeeded(&h, &yaml).await;
    let s = fake.one();
    assert_eq!(s.path, "/v1/responses");
    assert_eq!(header(&s, "authorization"), format!("Bearer {KEY}"));
    assert_eq!(
        s.body,
        json!({"model": "gpt-4o", "store": true, "temperature": 1.0, "tool_choice": "auto", "reasoning": {}, "text": {},
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "Summarize these commits.\n"}]}]})
    );
    let o = out(&e, "summarize_commits");
    assert_eq!(o["responseId"], "resp_1");
    assert_eq!(o["outputText"], "Five fixes shipped.");
    assert_eq!(o["sources"], json!(["https://github.com/kestra-io/blueprints"]));
    assert_eq!(o["rawResponse"]["status"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_responses_reads_a_message_list_and_settings() {
    let fake = Fake::json(
        200,
        json!({"id": "resp_2", "output": [{"type": "function_call", "name": "f", "arguments": "{\"a\":1}"}]}),
    )
    .await;
    let h = setup(&fake.url);
    let yaml = format!(
        r#"id: list
namespace: company.team
tasks:
  - id: ask
    type: io.kestra.plugin.openai.Responses
    apiKey: {KEY}
    model: gpt-4.1
    store: false
    toolChoice: REQUIRED
    maxOutputTokens: 100
    topP: 0.5
    promptCaching: true
    reasoning:
      effort: low
    input:
      - role: system
        content:
          - type: input_text
            text: One sentence.
      - role: user
        content:
          - type: input_image
            image_url: https://example.com/cat.png
"#
    );
    let e = succeeded(&h, &yaml).await;
    let b = fake.one().body;
    assert_eq!(b["input"][0], json!({"role": "system", "content": [{"type": "input_text", "text": "One sentence."}]}));
    assert_eq!(
        b["input"][1]["content"][0],
        json!({"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "auto"})
    );
    assert_eq!(b["store"], false);
    assert_eq!(b["tool_choice"], "required");
    assert_eq!(b["max_output_tokens"], 100);
    assert_eq!(b["top_p"], 0.5);
    assert_eq!(b["prompt_cache_retention"], "24h");
    assert_eq!(b["reasoning"], json!({"effort": "low"}));
    assert_eq!(out(&e, "ask")["outputText"], "{\"a\":1}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_create_image_stores_base64_images() {
    let png = b"\x89PNG\r\n\x1a\nfake image bytes".to_vec();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let fake = Fake::json(200, json!({"created": 1764300000, "data": [{"b64_json": b64}]})).await;
    let h = setup(&fake.url);
    let yaml = format!(
        "id: puppy\nnamespace: company.team\ntasks:\n  - id: puppy\n    type: io.kestra.plugin.openai.CreateImage\n    apiKey: {KEY}\n    n: 1\n    download: true\n    prompt: the cutest puppy\n"
    );
    let e = succeeded(&h, &yaml).await;
    let s = fake.one();
    assert_eq!(s.path, "/v1/images/generations");
    assert_eq!(header(&s, "authorization"), format!("Bearer {KEY}"));
    assert_eq!(s.body, json!({"model": "gpt-image-1", "prompt": "the cutest puppy", "size": "1024x1024", "n": 1}));
    let images = out(&e, "puppy")["images"].as_array().unwrap().clone();
    assert_eq!(images.len(), 1);
    let uri = images[0].as_str().unwrap();
    assert!(uri.starts_with("kestra:///") && uri.ends_with(".png"), "{uri}");
    assert_eq!(h.read_storage(uri).await, png);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huggingface_inference_posts_to_the_model_and_outputs_its_answer() {
    let fake = Fake::json(
        200,
        json!({"sequence": "My warranty expired", "labels": ["warranty", "support", "help", "upsell"],
            "scores": [0.91, 0.05, 0.03, 0.01]}),
    )
    .await;
    let h = setup("http://127.0.0.1:9");
    let yaml = format!(
        r#"id: classify
namespace: blueprint
tasks:
  - id: classification
    type: io.kestra.plugin.huggingface.Inference
    model: facebook/bart-large-mnli
    apiKey: {KEY}
    endpoint: {}/models
    inputs: My warranty expired
    parameters:
      candidate_labels: [support, warranty, upsell, help]
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ outputs.classification.output.labels[0] }}}}"
"#,
        fake.url
    );
    let e = succeeded(&h, &yaml).await;
    let s = fake.one();
    assert_eq!(s.path, "/models/facebook/bart-large-mnli");
    assert_eq!(header(&s, "authorization"), format!("Bearer {KEY}"));
    assert_eq!(header(&s, "x-use-cache"), "true");
    assert_eq!(header(&s, "x-wait-for-model"), "false");
    assert_eq!(
        s.body,
        json!({"inputs": "My warranty expired", "parameters": {"candidate_labels": ["support", "warranty", "upsell", "help"]}})
    );
    assert_eq!(out(&e, "classification")["output"]["labels"][0], "warranty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_answer_fails_naming_its_bound() {
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(17 * 1024 * 1024));
    let fake = Fake::start(200, big.into_bytes()).await;
    let h = setup("http://127.0.0.1:9");
    let yaml = format!(
        "id: f\nnamespace: n\ntasks:\n  - id: hf\n    type: io.kestra.plugin.huggingface.Inference\n    model: m\n    apiKey: {KEY}\n    endpoint: {}\n    inputs: x\n",
        fake.url
    );
    let msg = failure(&h, &yaml).await;
    assert!(msg.contains("MAX_RESPONSE") && msg.contains("larger than"), "{msg}");
}

#[test]
fn what_the_plugins_do_not_have_is_refused_at_validation() {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    for (task, want) in [
        (
            "type: io.kestra.plugin.anthropic.ChatCompletion\n    apiKey: k\n    model: m\n    messages:\n      - type: SYSTEM\n        content: s\n",
            "SYSTEM",
        ),
        (
            "type: io.kestra.plugin.huggingface.Inference\n    apiKey: k\n    model: m\n    inputs: x\n    options:\n      readTimeout: PT1M\n",
            "options",
        ),
        ("type: io.kestra.plugin.openai.CreateImage\n    apiKey: k\n    prompt: p\n    size: HUGE\n", "size"),
        (
            "type: io.kestra.plugin.deepseek.ChatCompletion\n    apiKey: k\n    modelName: m\n    messages: []\n    temperature: 1\n",
            "temperature",
        ),
    ] {
        let yaml = format!("id: f\nnamespace: n\ntasks:\n  - id: t\n    {task}");
        let (_, diags) = shared::validate::validate_source("f.yaml", &yaml, &registry, &renderer);
        assert!(format!("{diags:?}").contains(want), "{want} not refused: {diags:?}");
    }
}
