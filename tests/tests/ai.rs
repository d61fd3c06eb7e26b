//! The AI tasks end to end against loopback fakes of Gemini, Vertex AI,
//! OpenAI and Tavily (tests/src/ai_fake.rs, which checks every request
//! against the published API): the zoomcamp-style flows in
//! tests/fixtures/flows/ai run unchanged with only the provider's base URL
//! redirected, and bad keys, rate limits, missing models, bad JSON, looping
//! tools and unreachable documents fail with a message naming the provider,
//! model and cause — never the key.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use e2e::ai_fake::{FakeAi, Reply};
use serde_json::{Value, json};
use shared::backend::{KvLookup, KvType, KvValue};
use shared::model::{Execution, StateType};
use shared::plugins::PluginConfig;
use shared::plugins::ai::AiConfig;

use crate::support::{Harness, baton_bin, harness_with_plugins, runs};

const KEY: &str = "test-gemini-key-123456";
const TAVILY: &str = "tvly-test-key-987654";

fn fixture(name: &str) -> String {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/flows/ai")).join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn fs_server() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/mcp/fs_server.py").to_string()
}

/// A harness whose Gemini and Tavily calls go to `fake` (as `BATON_GEMINI_BASE_URL` would do).
async fn setup(fake: &FakeAi) -> Harness {
    let ai = AiConfig {
        gemini_base_url: Some(fake.url.clone()),
        tavily_base_url: Some(fake.url.clone()),
        max_retries: 2,
        backoff: Duration::from_millis(10),
        ..AiConfig::default()
    };
    let h = harness_with_plugins(PluginConfig { ai, ..PluginConfig::default() });
    for (k, v) in [("GEMINI_API_KEY", KEY), ("TAVILY_API_KEY", TAVILY)] {
        let value = KvValue { kind: KvType::String, value: json!(v) };
        h.embedded.engine.kv.set("zoomcamp", k, &value, None, true, Utc::now()).await.expect("kv set");
    }
    h
}

fn out<'a>(e: &'a Execution, task: &str) -> &'a serde_json::Map<String, Value> {
    runs(e, task)[0].outputs.as_ref().unwrap_or_else(|| panic!("{task} has no outputs"))
}

async fn no_key_anywhere(h: &Harness, e: &Execution) {
    let logs = h.logs(&e.id).await.join("\n");
    let all = format!("{logs}\n{}\n{:?}", serde_json::to_string(&e.task_run_list).unwrap_or_default(), e.error);
    assert!(!all.contains(KEY) && !all.contains(TAVILY), "a key leaked: {all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_without_rag_speaks_gemini_and_outputs_kestra_fields() {
    let fake = FakeAi::start(KEY, TAVILY).await;
    fake.script(vec![Reply::Text("Baton 2 added AI tasks.".into())]);
    let h = setup(&fake).await;
    let e = h.run(&fixture("ai_chat_without_rag.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let o = out(&e, "chat_without_rag");
    assert_eq!(o["textOutput"], "Baton 2 added AI tasks.");
    assert_eq!(o["tokenUsage"], json!({"inputTokenCount": 10, "outputTokenCount": 5, "totalTokenCount": 15}));
    assert_eq!(o["finishReason"], "STOP");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(reqs[0].headers["x-goog-api-key"], KEY);
    let b = &reqs[0].body;
    assert_eq!(b["systemInstruction"]["parts"][0]["text"], "Answer in one short paragraph.");
    assert_eq!(b["contents"][0]["role"], "user");
    assert_eq!(b["generationConfig"], json!({"temperature": 0.2, "maxOutputTokens": 512}));
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    assert!(
        h.logs(&e.id)
            .await
            .iter()
            .any(|l| l.contains("Without RAG: Baton 2 added AI tasks.") && l.contains("Tokens: 15"))
    );
    no_key_anywhere(&h, &e).await;
}

const NOTES: &str = "Baton 2.0 release notes.\n\n\
The scheduler now stores its triggers in the PostgreSQL database of your choice.\n\n\
The web UI got a dark theme and a new logs view.\n\n\
Python scripts may pin their dependencies.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rag_ingests_into_the_kv_store_and_answers_with_the_nearest_segments() {
    let fake = FakeAi::start(KEY, TAVILY).await;
    let url = fake.doc("release-notes.md", NOTES);
    fake.script(vec![Reply::Text("PostgreSQL.".into())]);
    let h = setup(&fake).await;
    let e = h.run(&fixture("ai_chat_with_rag.yaml"), json!({"notes_url": url})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let ing = out(&e, "ingest_release_notes");
    assert_eq!(ing["ingestedDocuments"], 1);
    assert_eq!(ing["embeddingStoreOutputs"]["kvName"], "ai_chat_with_rag-embedding-store");
    // the store is in the namespace's KV, in langchain4j's InMemoryEmbeddingStore JSON
    let kv = h.embedded.engine.kv.get("zoomcamp", "ai_chat_with_rag-embedding-store", Utc::now()).await.unwrap();
    let KvLookup::Found(v) = kv else { panic!("no embedding store in KV") };
    let store: Value = serde_json::from_str(v.value.as_str().unwrap()).unwrap();
    assert_eq!(store["entries"].as_array().unwrap().len(), 4, "one entry per paragraph");
    assert_eq!(store["entries"][0]["embedded"]["metadata"]["metadata"]["url"], url.as_str());
    let reqs = fake.requests();
    let embeds: Vec<_> = reqs.iter().filter(|r| r.path.ends_with(":batchEmbedContents")).collect();
    assert_eq!(embeds.len(), 2, "one batch to ingest, one for the question");
    assert_eq!(embeds[0].body["requests"].as_array().unwrap().len(), 4);
    let chat = reqs.iter().find(|r| r.path.ends_with(":generateContent")).expect("a chat request");
    let user = chat.body["contents"][0]["parts"][0]["text"].as_str().unwrap();
    assert!(user.starts_with("Which database does the scheduler use now?"), "{user}");
    assert!(user.contains("Answer using the following information:"), "{user}");
    assert!(user.contains("stores its triggers in the PostgreSQL database"), "the nearest segment is given: {user}");
    assert!(!user.contains("Python scripts"), "maxResults: 2 keeps the two nearest: {user}");
    let o = out(&e, "chat_with_rag");
    assert_eq!(o["textOutput"], "PostgreSQL.");
    assert_eq!(o["sources"].as_array().unwrap().len(), 2);
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    no_key_anywhere(&h, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_take_their_provider_from_plugin_defaults_and_chain() {
    let fake = FakeAi::start(KEY, TAVILY).await;
    fake.script(vec![
        Reply::Text("Baton exécute des flux Kestra.".into()),
        Reply::Text("Baton runs Kestra flows.".into()),
    ]);
    let h = setup(&fake).await;
    let e = h.run(&fixture("ai_simple_agent.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].body["systemInstruction"]["parts"][0]["text"], "Produce a short summary in fr.");
    let second = reqs[1].body["contents"][0]["parts"][0]["text"].as_str().unwrap();
    assert!(second.contains("\"Baton exécute des flux Kestra.\""), "{second}");
    assert!(reqs[1].body.get("systemInstruction").is_none());
    let logs = h.logs(&e.id).await;
    assert!(
        logs.iter().any(|l| l.contains("tokens 10/5/15") && l.contains("then 15: Baton runs Kestra flows.")),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_research_agent_searches_the_web_and_writes_its_report_with_an_mcp_tool() {
    let fake = FakeAi::start(KEY, TAVILY).await;
    fake.script(vec![
        Reply::Call(
            "write_file".into(),
            json!({"path": "research_report.md", "content": "# Orchestration\n\nDeclarative."}),
        ),
        Reply::Text("Saved research_report.md".into()),
    ]);
    let h = setup(&fake).await;
    let e = h.run(&fixture("ai_research_agent.yaml"), json!({"fs_server": fs_server()})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let o = out(&e, "research_agent");
    let uri = o["outputFiles"]["research_report.md"].as_str().expect("the report");
    assert_eq!(h.read_storage(uri).await, b"# Orchestration\n\nDeclarative.");
    assert_eq!(o["toolExecutions"][0]["requestName"], "write_file");
    assert!(o["toolExecutions"][0]["result"].as_str().unwrap().contains("Successfully wrote"));
    assert_eq!(o["tokenUsage"]["totalTokenCount"], 30, "two model calls");
    let reqs = fake.requests();
    let search = reqs.iter().find(|r| r.path == "/search").expect("a Tavily search");
    assert_eq!(search.body["query"], "Trends in workflow orchestration");
    assert_eq!(search.body["max_results"], 10);
    let chats: Vec<_> = reqs.iter().filter(|r| r.path.ends_with(":generateContent")).collect();
    let decls = &chats[0].body["tools"][0]["functionDeclarations"];
    assert!(decls.as_array().unwrap().iter().any(|d| d["name"] == "write_file"), "{decls}");
    assert!(chats[0].body["contents"][0]["parts"][0]["text"].as_str().unwrap().contains("Kestra news item 0"));
    assert_eq!(chats[1].body["contents"][2]["parts"][0]["functionResponse"]["name"], "write_file");
    let logs = h.logs(&e.id).await;
    assert!(logs.iter().any(|l| l.starts_with("tool call 1: write_file(")), "every tool call is logged: {logs:?}");
    let left = std::fs::read_dir(h.home.join("work")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "the agent's working directory is removed");
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    no_key_anywhere(&h, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_agent_flow_delegates_to_an_agent_tool() {
    let fake = FakeAi::start(KEY, TAVILY).await;
    fake.script(vec![
        Reply::Call("kestra_agent_tool".into(), json!({"prompt": "find news about kestra.io"})),
        Reply::Text("Kestra raised funding; competitors: Airflow, Dagster.".into()),
        Reply::Text(
            "{\"company\": \"Kestra\", \"summary\": \"Orchestration\", \"competitors\": [\"Airflow\", \"Dagster\"]}"
                .into(),
        ),
    ]);
    let h = setup(&fake).await;
    let e = h.run(&fixture("ai_multi_agent.yaml"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("Company: Kestra") && logs.contains("- Dagster") && logs.contains("Tokens: 30"), "{logs}");
    let reqs = fake.requests();
    let chats: Vec<_> = reqs.iter().filter(|r| r.path.ends_with(":generateContent")).collect();
    assert_eq!(chats.len(), 3);
    assert_eq!(chats[0].body["tools"][0]["functionDeclarations"][0]["name"], "kestra_agent_tool");
    let sub = chats[1].body["contents"][0]["parts"][0]["text"].as_str().unwrap();
    assert!(sub.starts_with("find news about kestra.io") && sub.contains("Kestra news item"), "{sub}");
    assert!(
        chats[1].body["systemInstruction"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("You are a research assistant")
    );
    let back = &chats[2].body["contents"][2]["parts"][0]["functionResponse"]["response"]["content"];
    assert_eq!(back, "Kestra raised funding; competitors: Airflow, Dagster.");
    assert!(
        reqs.iter().all(|r| r.path == "/search" || r.headers["x-goog-api-key"] == KEY),
        "pluginDefaults gave both providers the key"
    );
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
}

/// A one-task flow around `task` (YAML indented by 4).
fn one_task(task: &str) -> String {
    format!("id: bad\nnamespace: zoomcamp\ntasks:\n  - id: t\n{task}")
}

async fn failure(h: &Harness, yaml: &str) -> String {
    let e = h.run(yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed, "{yaml}");
    no_key_anywhere(h, &e).await;
    let logs = h.logs(&e.id).await.join("\n");
    format!("{logs}\n{}", e.error.clone().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_keys_models_rate_limits_json_loops_and_urls_fail_clearly() {
    let fake = FakeAi::start(KEY, TAVILY).await;
    let h = setup(&fake).await;
    let chat = |model: &str, key: &str, extra: &str| {
        one_task(&format!(
            "    type: io.kestra.plugin.ai.completion.ChatCompletion\n    provider: {{type: io.kestra.plugin.ai.provider.GoogleGemini, modelName: {model}, apiKey: \"{key}\"}}\n{extra}    messages: [{{type: USER, content: hi}}]\n"
        ))
    };
    let m = failure(&h, &chat("gemini-2.5-flash", "wrong-key-000", "")).await;
    assert!(m.contains("GoogleGemini model 'gemini-2.5-flash': HTTP 400: API key not valid"), "{m}");
    assert!(!m.contains("wrong-key-000"), "{m}");

    let m = failure(&h, &chat("does-not-exist", KEY, "")).await;
    assert!(m.contains("GoogleGemini model 'does-not-exist': HTTP 404") && m.contains("check modelName"), "{m}");

    fake.script(vec![Reply::Status(429, "Resource has been exhausted (e.g. check quota).".into()); 3]);
    let m = failure(&h, &chat("gemini-2.5-flash", KEY, "")).await;
    assert!(m.contains("HTTP 429 after 2 retries: Resource has been exhausted"), "{m}");
    assert!(m.contains("retry 1/2") && m.contains("retry 2/2"), "retries are logged: {m}");

    fake.script(vec![Reply::Status(429, "slow down".into()), Reply::Text("ok after a retry".into())]);
    let e = h.run(&chat("gemini-2.5-flash", KEY, ""), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "a rate limit is retried");

    let json_cfg = "    configuration: {responseFormat: {type: JSON, jsonSchema: {type: object, properties: {a: {type: string}}}}}\n";
    fake.script(vec![Reply::Text("not json".into())]);
    let m = failure(&h, &chat("gemini-2.5-flash", KEY, json_cfg)).await;
    assert!(m.contains("not valid JSON for the requested response format"), "{m}");
    fake.script(vec![Reply::Text("{\"a\": \"b\"}".into())]);
    let e = h.run(&chat("gemini-2.5-flash", KEY, json_cfg), json!({})).await;
    assert_eq!(out(&e, "t")["jsonOutput"], json!({"a": "b"}));
    let sent = fake.requests().last().unwrap().body.clone();
    assert_eq!(sent["generationConfig"]["responseMimeType"], "application/json");
    assert_eq!(sent["generationConfig"]["responseJsonSchema"]["properties"]["a"]["type"], "string");

    // a model that keeps calling a tool is stopped
    fake.script(vec![Reply::Call("searchWeb".into(), json!({"query": "again"})); 3]);
    let agent = one_task(&format!(
        "    type: io.kestra.plugin.ai.agent.AIAgent\n    provider: {{type: io.kestra.plugin.ai.provider.GoogleGemini, modelName: m, apiKey: \"{KEY}\"}}\n    prompt: loop\n    maxSequentialToolsInvocations: 2\n    tools:\n      - type: io.kestra.plugin.ai.tool.TavilyWebSearch\n        apiKey: \"{TAVILY}\"\n"
    ));
    let m = failure(&h, &agent).await;
    assert!(m.contains("tool 'searchWeb': the model made more than 2 tool calls"), "{m}");

    // a failing tool fails the task, naming it
    fake.script(vec![Reply::Call("read_file".into(), json!({"path": "../../etc/passwd"}))]);
    let fs = one_task(&format!(
        "    type: io.kestra.plugin.ai.agent.AIAgent\n    provider: {{type: io.kestra.plugin.ai.provider.GoogleGemini, modelName: m, apiKey: \"{KEY}\"}}\n    prompt: read\n    tools:\n      - type: io.kestra.plugin.ai.tool.StdioMcpClient\n        command: [python3, \"{}\", \"{{{{ workingDir }}}}\"]\n",
        fs_server()
    ));
    let m = failure(&h, &fs).await;
    assert!(m.contains("tool 'read_file'") && m.contains("access denied"), "the filesystem tool is confined: {m}");

    let ingest = one_task(&format!(
        "    type: io.kestra.plugin.ai.rag.IngestDocument\n    provider: {{type: io.kestra.plugin.ai.provider.GoogleGemini, modelName: e, apiKey: \"{KEY}\"}}\n    embeddings: {{type: io.kestra.plugin.ai.embeddings.KestraKVStore}}\n    fromExternalURLs: [\"{}/docs/missing.md\"]\n",
        fake.url
    ));
    let m = failure(&h, &ingest).await;
    assert!(m.contains(&format!("cannot fetch document {}/docs/missing.md: HTTP 404", fake.url)), "{m}");
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_compatible_servers_are_reached_by_base_url_with_json_schemas() {
    let fake = FakeAi::start(KEY, TAVILY).await;
    let h = setup(&fake).await;
    fake.script(vec![
        Reply::Call("searchWeb".into(), json!({"query": "kestra"})),
        Reply::Text("{\"answer\": \"orchestrator\"}".into()),
    ]);
    let yaml = format!(
        r#"id: openai_flow
namespace: zoomcamp
tasks:
  - id: ask
    type: io.kestra.plugin.langchain4j.ChatCompletion
    provider:
      type: io.kestra.plugin.ai.provider.OpenAI
      modelName: llama3.2
      apiKey: "{{{{ kv('GEMINI_API_KEY') }}}}"
      baseUrl: {}/v1
    configuration:
      topP: 0.9
      seed: 7
      responseFormat:
        type: JSON
        jsonSchema: {{type: object, properties: {{answer: {{type: string}}}}, required: [answer]}}
    tools:
      - type: io.kestra.plugin.ai.tool.TavilyWebSearch
        apiKey: "{{{{ kv('TAVILY_API_KEY') }}}}"
    messages:
      - type: SYSTEM
        content: Answer in JSON.
      - type: USER
        content: What is Kestra?
  - id: ingest
    type: io.kestra.plugin.ai.rag.IngestDocument
    provider: {{type: io.kestra.plugin.ai.provider.OpenAI, modelName: text-embedding-3-small, apiKey: "{{{{ kv('GEMINI_API_KEY') }}}}", baseUrl: "{}/v1"}}
    embeddings: {{type: io.kestra.plugin.ai.embeddings.KestraKVStore, kvName: openai-store}}
    fromDocuments:
      - content: Kestra is an orchestrator.
        metadata: {{source: inline}}
"#,
        fake.url, fake.url
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    assert_eq!(out(&e, "ask")["jsonOutput"], json!({"answer": "orchestrator"}));
    assert_eq!(out(&e, "ask")["finishReason"], "STOP");
    assert_eq!(out(&e, "ingest")["ingestedDocuments"], 1);
    assert_eq!(out(&e, "ingest")["totalTokenCount"], 5);
    let reqs = fake.requests();
    let chats: Vec<_> = reqs.iter().filter(|r| r.path == "/v1/chat/completions").collect();
    assert_eq!(chats.len(), 2);
    let b = &chats[0].body;
    assert_eq!(b["model"], "llama3.2");
    assert_eq!(b["response_format"]["type"], "json_schema");
    assert_eq!(b["tools"][0]["function"]["name"], "searchWeb");
    assert_eq!(chats[1].body["messages"][3]["role"], "tool");
    assert_eq!(chats[1].body["messages"][3]["tool_call_id"], "call_1");
    assert!(
        reqs.iter().any(|r| r.path == "/v1/embeddings" && r.body["input"] == json!(["Kestra is an orchestrator."]))
    );
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    no_key_anywhere(&h, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgvector_stores_segments_in_postgres_and_retrieval_reads_them() {
    let fake = FakeAi::start(KEY, TAVILY).await;
    let url = fake.doc("notes.md", NOTES);
    fake.script(vec![Reply::Text("PostgreSQL.".into())]);
    let h = setup(&fake).await;
    let pg = e2e::pg::shared();
    let db = pg.create_database("pgvector");
    let store = format!(
        "{{type: io.kestra.plugin.ai.embeddings.PGVector, host: 127.0.0.1, port: {}, user: {}, password: \"{}\", database: {db}, table: release_notes, useIndex: true}}",
        pg.port(),
        e2e::pg::USER,
        e2e::pg::PASSWORD
    );
    let provider = format!(
        "{{type: io.kestra.plugin.ai.provider.GoogleGemini, modelName: gemini-embedding-001, apiKey: \"{KEY}\"}}"
    );
    let yaml = format!(
        r#"id: pgvector_rag
namespace: zoomcamp
tasks:
  - id: ingest
    type: io.kestra.plugin.ai.rag.IngestDocument
    provider: {provider}
    embeddings: {store}
    documentSplitter: {{splitter: PARAGRAPH, maxSegmentSizeInChars: 85, maxOverlapSizeInChars: 0}}
    drop: true
    fromExternalURLs: ["{url}"]
  - id: again
    type: io.kestra.plugin.ai.rag.IngestDocument
    provider: {provider}
    embeddings: {store}
    fromDocuments: [{{content: "An extra note about the web UI."}}]
  - id: ask
    type: io.kestra.plugin.ai.rag.ChatCompletion
    chatProvider: {{type: io.kestra.plugin.ai.provider.GoogleGemini, modelName: gemini-2.5-flash, apiKey: "{KEY}"}}
    embeddingProvider: {provider}
    embeddings: {store}
    contentRetrieverConfiguration: {{maxResults: 1, minScore: 0.5}}
    prompt: Which database does the scheduler use now?
"#
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    assert_eq!(pg.count(&db, "SELECT count(*) FROM release_notes"), 5, "4 paragraphs, then 1 more without drop");
    assert_eq!(pg.count(&db, "SELECT vector_dims(embedding) FROM release_notes LIMIT 1"), e2e::ai_fake::DIM as i64);
    let sources = out(&e, "ask")["sources"].as_array().unwrap().clone();
    assert_eq!(sources.len(), 1);
    assert!(sources[0]["content"].as_str().unwrap().contains("PostgreSQL database"), "{sources:?}");
    assert_eq!(sources[0]["metadata"]["url"], url.as_str());
    no_key_anywhere(&h, &e).await;
    let logs = h.logs(&e.id).await.join("\n");
    assert!(!logs.contains(e2e::pg::PASSWORD), "the database password is masked");
}

/// A throwaway service-account key (made by openssl) whose `token_uri` is unreachable:
/// google-cloud-auth signs its own JWT for it, so no token server is called.
pub(crate) fn service_account_key(dir: &std::path::Path) -> PathBuf {
    let out = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        .output()
        .expect("openssl");
    let pem = String::from_utf8(out.stdout).expect("pem");
    assert!(pem.contains("BEGIN PRIVATE KEY"), "openssl made no key");
    let key = json!({"type": "service_account", "project_id": "vertex-proj", "private_key_id": "k1", "private_key": pem,
        "client_email": "baton@vertex-proj.iam.gserviceaccount.com", "client_id": "1", "token_uri": "http://127.0.0.1:9/token"});
    let p = dir.join("sa.json");
    std::fs::write(&p, key.to_string()).expect("write key");
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_validates_the_ai_flows_and_runs_them_against_the_fakes() {
    let bin = baton_bin();
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/flows/ai"));
    let out = tokio::process::Command::new(&bin).arg("validate").arg(&dir).output().await.expect("baton validate");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));

    let fake = FakeAi::start(KEY, TAVILY).await;
    let home = std::env::temp_dir().join(format!("baton-ai-cli-{}", uuid::Uuid::new_v4()));
    let baton = |args: &[&str]| {
        let mut c = tokio::process::Command::new(&bin);
        c.args(args)
            .env("BATON_HOME", &home)
            .env("BATON_GEMINI_BASE_URL", &fake.url)
            .env("BATON_TAVILY_BASE_URL", &fake.url)
            .env("BATON_VERTEX_BASE_URL", &fake.url)
            .env_remove("GOOGLE_APPLICATION_CREDENTIALS");
        c
    };
    for (k, v) in [("GEMINI_API_KEY", KEY), ("TAVILY_API_KEY", TAVILY)] {
        let o = baton(&["kv", "set", "--namespace", "zoomcamp", k, v]).output().await.expect("baton kv set");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // the zoomcamp's summarising agents, with only the base URL changed (by environment)
    fake.script(vec![Reply::Text("Résumé.".into()), Reply::Text("Summary.".into())]);
    let flow = dir.join("ai_simple_agent.yaml");
    let o = baton(&["run", flow.to_str().unwrap(), "--json"]).output().await.expect("baton run");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("\"SUCCESS\""), "{stdout}");
    assert!(!stdout.contains(KEY) && !String::from_utf8_lossy(&o.stderr).contains(KEY), "no key in the output");
    assert_eq!(fake.requests().len(), 2);

    // Vertex AI with the service's own identity (Application Default Credentials, no key in the flow)
    fake.script(vec![Reply::Text("Vertex says hi.".into())]);
    let vertex = home.join("vertex.yaml");
    std::fs::create_dir_all(&home).expect("home");
    std::fs::write(
        &vertex,
        "id: vertex_chat\nnamespace: zoomcamp\ntasks:\n  - id: ask\n    type: io.kestra.plugin.ai.agent.AIAgent\n    provider:\n      type: io.kestra.plugin.ai.provider.GoogleVertexAI\n      modelName: gemini-2.5-flash\n      project: vertex-proj\n      location: europe-west1\n    prompt: hi\n  - id: embed\n    type: io.kestra.plugin.ai.rag.IngestDocument\n    provider: {type: io.kestra.plugin.ai.provider.GoogleVertexAI, modelName: text-embedding-005, project: vertex-proj, location: europe-west1}\n    embeddings: {type: io.kestra.plugin.ai.embeddings.KestraKVStore}\n    fromDocuments: [{content: one}, {content: two}]\n",
    )
    .expect("write flow");
    let key = service_account_key(&home);
    let o = baton(&["run", vertex.to_str().unwrap(), "--json"])
        .env("GOOGLE_APPLICATION_CREDENTIALS", &key)
        .output()
        .await
        .expect("baton run vertex");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("Vertex says hi."), "{stdout}");
    let reqs = fake.requests();
    let generate = reqs.iter().find(|r| r.path.starts_with("/v1/projects/")).expect("a Vertex AI request");
    assert_eq!(
        generate.path,
        "/v1/projects/vertex-proj/locations/europe-west1/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    let auth = generate.headers["authorization"].as_str().unwrap();
    assert!(auth.starts_with("Bearer ey"), "a token of the service account: {auth}");
    let predict =
        reqs.iter().find(|r| r.path.ends_with("text-embedding-005:predict")).expect("a Vertex AI embedding request");
    assert_eq!(predict.body["instances"], json!([{"content": "one"}, {"content": "two"}]));
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    let _ = std::fs::remove_dir_all(&home);
}

/// Kestra's older OpenAI plugin (`io.kestra.plugin.openai.ChatCompletion`,
/// as Kestra's blueprints write it): `messages` and `prompt`, `maxTokens`,
/// `jsonResponseSchema`; the answer in OpenAI's shape
/// (`choices[0].message.content`), at `BATON_OPENAI_BASE_URL`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_plugin_s_chat_completion_answers_in_openai_s_shape() {
    let fake = FakeAi::start(KEY, TAVILY).await;
    let ai = AiConfig {
        openai_base_url: Some(format!("{}/v1", fake.url)),
        max_retries: 2,
        backoff: Duration::from_millis(10),
        ..AiConfig::default()
    };
    let h = harness_with_plugins(PluginConfig { ai, ..PluginConfig::default() });
    fake.script(vec![Reply::Text("{\"category\": \"billing\"}".into())]);
    let yaml = format!(
        r#"id: classify
namespace: company.team
tasks:
  - id: classify_request
    type: io.kestra.plugin.openai.ChatCompletion
    apiKey: {KEY}
    model: gpt-4o-mini
    maxTokens: 200
    jsonResponseSchema: |
      {{"type": "object", "properties": {{"category": {{"type": "string"}}}}, "required": ["category"]}}
    messages:
      - role: system
        content: Classify the request.
    prompt: My invoice is wrong.
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ outputs.classify_request.choices[0].message.content }}}}"
"#
    );
    let e = h.run(&yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?} {:?}", e.error, h.logs(&e.id).await);
    let o = out(&e, "classify_request");
    assert_eq!(o["choices"][0]["message"]["content"], "{\"category\": \"billing\"}");
    assert_eq!(o["choices"][0]["finishReason"], "stop");
    assert_eq!(o["model"], "gpt-4o-mini");
    let reqs = fake.requests();
    let chat = reqs.iter().find(|r| r.path == "/v1/chat/completions").expect("a chat request");
    assert_eq!(chat.body["model"], "gpt-4o-mini");
    assert_eq!(chat.body["messages"][0]["role"], "system");
    assert_eq!(chat.body["messages"][1], json!({"role": "user", "content": "My invoice is wrong."}));
    assert_eq!(chat.body["response_format"]["type"], "json_schema");
    assert!(h.logs(&e.id).await.iter().any(|l| l.contains("billing")));
}
