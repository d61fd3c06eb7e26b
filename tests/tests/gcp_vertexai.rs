//! `io.kestra.plugin.gcp.vertexai.ChatCompletion` and `TextCompletion`
//! against the Vertex AI fake (`e2e::ai_fake`, which checks every body
//! against the `GenerateContentRequest` schema of Google's aiplatform v1
//! discovery document): the chat is one session sent in turns — history,
//! then `context`, then each message, every answer added — with Kestra's
//! generation defaults, the task's own service account as bearer, and
//! Kestra's `predictions` as output.

use std::time::Duration;

use e2e::ai_fake::{FakeAi, Reply};
use serde_json::{Value, json};
use shared::model::StateType;
use shared::plugins::PluginConfig;
use shared::plugins::ai::AiConfig;

use crate::ai::service_account_key;
use crate::support::{harness_with_plugins, runs};

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
