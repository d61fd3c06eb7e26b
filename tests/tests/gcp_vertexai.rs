//! `io.kestra.plugin.gcp.vertexai.ChatCompletion` and `TextCompletion`
//! against the Vertex AI fake (`e2e::ai_fake`, which checks every body
//! against the `GenerateContentRequest` schema of Google's aiplatform v1
//! discovery document): the chat is one session sent in turns — history,
//! then `context`, then each message, every answer added — with Kestra's
//! generation defaults, the task's own service account as bearer, and
//! Kestra's `predictions` as output. `MultimodalCompletion` sends its text
//! and internal-storage files (inline, base64, with their media type) as
//! one user turn and outputs Kestra's `text`, `finishReason`,
//! `safetyRatings` and `blocked`, ending in WARNING when blocked.

use std::time::Duration;

use base64::Engine;

use e2e::ai_fake::{FakeAi, Reply};
use serde_json::{Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::plugins::ai::AiConfig;

use crate::ai::service_account_key;
use crate::support::{harness_with_plugins, runs, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_ai_chat_is_one_session_in_turns_and_outputs_kestra_s_predictions() {
    let fake = FakeAi::start("unused-key", "unused-tavily").await;
    let ai = AiConfig {
        vertex_base_url: Some(fake.url.clone()),
        max_retries: 2,
        backoff: Duration::from_millis(10),
        ..AiConfig::default()
    };
    let h = harness_with_plugins(PluginConfig { ai, ..PluginConfig::default() });
    let dir = std::env::temp_dir().join(format!("baton-vertexai-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = std::fs::read_to_string(service_account_key(&dir)).expect("key");
    let flow = format!(
        r#"
id: vertex
namespace: test.gcp
tasks:
  - id: chat
    type: io.kestra.plugin.gcp.vertexai.ChatCompletion
    region: europe-west1
    projectId: vertex-proj
    serviceAccount: '{key}'
    parameters:
      temperature: 0.5
    context: I love jokes that talk about sport
    history:
      - content: Hello
    messages:
      - author: user
        content: Please tell me a joke
      - content: "Another one, {{{{ 'please' | upper }}}}"
  - id: text
    type: io.kestra.plugin.gcp.vertexai.TextCompletion
    region: europe-west1
    projectId: vertex-proj
    serviceAccount: '{key}'
    modelId: gemini-2.5-flash
    prompt: Say it in one word
"#
    );
    fake.script(["Sport!", "A joke.", "Another joke.", "Fun."].map(|t| Reply::Text(t.into())).to_vec());
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    let out = |task: &str| runs(&e, task)[0].outputs.as_deref().cloned().unwrap_or_default();
    let contents = |v: &Value| -> Vec<Value> {
        v["predictions"].as_array().expect("predictions").iter().map(|p| p["content"].clone()).collect()
    };
    assert_eq!(contents(&Value::Object(out("chat"))), [json!("A joke."), json!("Another joke.")]);
    assert_eq!(contents(&Value::Object(out("text"))), [json!("Fun.")]);
    let first = &out("chat")["predictions"][0];
    assert_eq!(
        (&first["safetyAttributes"], &first["citationMetadata"]),
        (&json!({"scores": [], "categories": [], "blocked": false}), &json!({"citations": []}))
    );

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 4, "context, two messages, the prompt: {reqs:#?}");
    let chat_path =
        "/v1/projects/vertex-proj/locations/europe-west1/publishers/google/models/gemini-pro:generateContent";
    assert!(reqs[..3].iter().all(|r| r.path == chat_path), "{:?}", reqs.iter().map(|r| &r.path).collect::<Vec<_>>());
    assert!(reqs[3].path.ends_with("/models/gemini-2.5-flash:generateContent"), "{}", reqs[3].path);
    let turn = |role: &str, t: &str| json!({"role": role, "parts": [{"text": t}]});
    assert_eq!(
        reqs[2].body["contents"],
        json!([
            turn("user", "Hello"),
            turn("user", "I love jokes that talk about sport"),
            turn("model", "Sport!"),
            turn("user", "Please tell me a joke"),
            turn("model", "A joke."),
            turn("user", "Another one, PLEASE"),
        ])
    );
    assert_eq!(
        reqs[0].body["generationConfig"],
        json!({"temperature": 0.5, "maxOutputTokens": 128, "topK": 40, "topP": 0.95}),
        "Kestra's defaults where the flow sets nothing"
    );
    for r in &reqs {
        let auth = r.headers["authorization"].as_str().unwrap_or_default();
        assert!(auth.starts_with("Bearer ey"), "the task's service account signs the call: {auth}");
    }
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kestra's bounds on `parameters` and the required `messages` are
/// validation errors naming the field.
#[test]
fn vertex_ai_parameters_out_of_kestra_s_bounds_are_refused() {
    let flow = "id: v\nnamespace: test.gcp\ntasks:\n  - id: chat\n    type: io.kestra.plugin.gcp.vertexai.ChatCompletion\n    region: us-central1\n    parameters:\n      topK: 41\n    messages:\n      - content: hi\n";
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let r = shared::validate::validate_source_with("v.yaml", flow, &registry, &renderer, shared::dialect::Policy::AUTO);
    let shown: Vec<String> = r.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(shown.iter().any(|d| d.contains("parameters.topK") && d.contains("v.yaml:")), "{shown:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_ai_multimodal_sends_files_inline_and_outputs_kestra_s_text_and_ratings() {
    let fake = FakeAi::start("unused-key", "unused-tavily").await;
    let ai = AiConfig { vertex_base_url: Some(fake.url.clone()), max_retries: 0, ..AiConfig::default() };
    let h = harness_with_plugins(PluginConfig { ai, ..PluginConfig::default() });
    let dir = std::env::temp_dir().join(format!("baton-vertexai-mm-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = std::fs::read_to_string(service_account_key(&dir)).expect("key");
    let image: Vec<u8> = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe];
    let base = serve(image.clone(), 200).await;
    let flow = format!(
        r#"
id: multimodal
namespace: test.gcp
tasks:
  - id: download
    type: io.kestra.plugin.core.http.Download
    uri: {base}/cat.png
  - id: describe
    type: io.kestra.plugin.gcp.vertexai.MultimodalCompletion
    region: europe-west1
    projectId: vertex-proj
    serviceAccount: '{key}'
    modelId: gemini-2.5-flash
    parameters:
      maxOutputTokens: 256
    contents:
      - content: "Can you describe this {{{{ 'image' | upper }}}}?"
      - mimeType: image/png
        content: "{{{{ outputs.download.uri }}}}"
  - id: blocked
    type: io.kestra.plugin.gcp.vertexai.MultimodalCompletion
    region: europe-west1
    projectId: vertex-proj
    serviceAccount: '{key}'
    contents:
      - content: Something harmful
"#
    );
    let rating = |c: &str, p: &str, b: bool| json!({"category": c, "probability": p, "blocked": b});
    fake.script(vec![
        Reply::Raw(json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "A cat"}, {"text": " on a mat."}]},
                "finishReason": "STOP", "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE", "probabilityScore": 0.1}]}],
            "usageMetadata": {"promptTokenCount": 260, "candidatesTokenCount": 6, "totalTokenCount": 266}
        })),
        Reply::Raw(json!({
            "candidates": [{"finishReason": "SAFETY", "safetyRatings": [rating("HARM_CATEGORY_DANGEROUS_CONTENT", "HIGH", true)]}],
            "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}
        })),
    ]);
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Warning, "a blocked answer ends in WARNING: {:?}", e.error);
    let out = |task: &str| Value::Object(runs(&e, task)[0].outputs.as_deref().cloned().unwrap_or_default());
    assert_eq!(
        out("describe"),
        json!({"text": "A cat on a mat.", "finishReason": "STOP", "blocked": false,
               "safetyRatings": [rating("HARM_CATEGORY_HARASSMENT", "NEGLIGIBLE", false)]})
    );
    assert_eq!(runs(&e, "describe")[0].state.current, StateType::Success);
    assert_eq!(
        out("blocked"),
        json!({"finishReason": "SAFETY", "blocked": true,
               "safetyRatings": [rating("HARM_CATEGORY_DANGEROUS_CONTENT", "HIGH", true)]}),
        "no text when blocked"
    );
    assert_eq!(runs(&e, "blocked")[0].state.current, StateType::Warning);
    let logs = h.leveled_logs(&e.id).await;
    assert!(logs.iter().any(|(l, m)| l == "WARN" && m.contains("blocked for safety reason")), "{logs:?}");

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    assert_eq!(
        reqs[0].path,
        "/v1/projects/vertex-proj/locations/europe-west1/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert!(reqs[1].path.ends_with("/models/gemini-pro:generateContent"), "Kestra's default model: {}", reqs[1].path);
    let data = base64::engine::general_purpose::STANDARD.encode(&image);
    assert_eq!(
        reqs[0].body["contents"],
        json!([{"role": "user", "parts": [
            {"text": "Can you describe this IMAGE?"},
            {"inlineData": {"mimeType": "image/png", "data": data}},
        ]}])
    );
    assert_eq!(
        reqs[0].body["generationConfig"],
        json!({"temperature": 0.2, "maxOutputTokens": 256, "topK": 40, "topP": 0.95})
    );
    for r in &reqs {
        let auth = r.headers["authorization"].as_str().unwrap_or_default();
        assert!(auth.starts_with("Bearer ey"), "the task's service account signs the call: {auth}");
    }
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A media part must name a file of internal storage this execution may
/// read: a plain text with a `mimeType` fails naming the part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_ai_multimodal_media_part_must_be_an_internal_storage_file() {
    let fake = FakeAi::start("unused-key", "unused-tavily").await;
    let ai = AiConfig { vertex_base_url: Some(fake.url.clone()), max_retries: 0, ..AiConfig::default() };
    let h = harness_with_plugins(PluginConfig { ai, ..PluginConfig::default() });
    let dir = std::env::temp_dir().join(format!("baton-vertexai-mm-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = std::fs::read_to_string(service_account_key(&dir)).expect("key");
    let flow = format!(
        "id: mm\nnamespace: test.gcp\ntasks:\n  - id: describe\n    type: io.kestra.plugin.gcp.vertexai.MultimodalCompletion\n    region: us-central1\n    projectId: p\n    serviceAccount: '{key}'\n    contents:\n      - mimeType: image/png\n        content: https://example.com/cat.png\n"
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.leveled_logs(&e.id).await;
    assert!(logs.iter().any(|(_, m)| m.contains("contents[0].content")), "{logs:?}");
    assert!(fake.requests().is_empty(), "nothing is sent");
    let _ = std::fs::remove_dir_all(&dir);
}
