//! `io.kestra.plugin.openai.Responses`: OpenAI's Responses API —
//! `POST {base}/responses` (base `https://api.openai.com/v1`, or
//! `BATON_OPENAI_BASE_URL`: Kestra's plugin has no `baseUrl`) with the body
//! Kestra's plugin builds: `input` (a text becomes one user message; JSON
//! text of a list is a list of messages whose `input_image`s at
//! `kestra:///` URIs are sent inline as base64), `model`, `store`,
//! `temperature`, `tool_choice`, and the optional settings. Outputs
//! `responseId`, `outputText`, `sources` (URL citations) and `rawResponse`.

use std::sync::LazyLock;

use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::io::AsyncReadExt;

use super::{base_url, need, post_json, token_counters};
use crate::ai::http::{Callee, MAX_RESPONSE};
use crate::ai::props::{bool_of, f64_of, i64_of, map_of, str_of};
use crate::ai::providers::openai::DEFAULT_BASE;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput};

/// The most bytes of a `kestra:///` image sent inline.
pub const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;

/// Ask an OpenAI model through the Responses API (Kestra's OpenAI plugin).
///
/// Sends `input` (a text, or a list of messages) to OpenAI's Responses API and outputs the generated text.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.openai.Responses",
    group = "core",
    example = "id: ask\ntype: io.kestra.plugin.openai.Responses\napiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nmodel: gpt-4.1-mini\ninput: Explain what Kestra is in one sentence.\n",
    outputs(
        responseId(String, "The response's id."),
        outputText(String, "The generated text (function-call arguments for a tool call)."),
        sources(List, "The URLs cited (web or file search annotations)."),
        rawResponse(Map, "OpenAI's whole answer.")
    )
)]
struct Props {
    /// The OpenAI API key.
    #[prop(kind = "String", required)]
    api_key: Option<Value>,
    /// The model (gpt-4.1, gpt-4o…).
    #[prop(kind = "String", required)]
    model: Option<Value>,
    /// A text prompt, or a list of messages [{role, content: [{type: input_text|input_image|input_file, …}]}].
    #[prop(kind = "Any", required)]
    input: Option<Value>,
    /// Text output settings (e.g. a json_schema `format`).
    #[prop(kind = "Map")]
    text: Option<Value>,
    /// Tools sent to the API (web_search, file_search, function…).
    #[prop(kind = "List")]
    tools: Option<Value>,
    /// Whether the model may, must or must not call tools.
    #[prop(kind = "String", values = ["NONE", "AUTO", "REQUIRED"], default = "\"AUTO\"")]
    tool_choice: Option<Value>,
    /// Keep the response in OpenAI (for previousResponseId).
    #[prop(kind = "Boolean", default = "true")]
    store: Option<Value>,
    /// Continue the conversation of this response.
    #[prop(kind = "String")]
    previous_response_id: Option<Value>,
    /// A prompt stored in the OpenAI platform, used with `input`.
    #[prop(kind = "String")]
    prompt_id: Option<Value>,
    /// Values for the stored prompt's placeholders (with `promptId`).
    #[prop(kind = "Map")]
    prompt_variables: Option<Value>,
    /// Reasoning options (effort, summary…).
    #[prop(kind = "Map")]
    reasoning: Option<Value>,
    /// The most tokens the answer may have.
    #[prop(kind = "Integer")]
    max_output_tokens: Option<Value>,
    /// Sampling temperature (0 to 2).
    #[prop(kind = "Number", default = "1.0")]
    temperature: Option<Value>,
    /// Nucleus sampling (0 to 1); sent only when set.
    #[prop(kind = "Number")]
    top_p: Option<Value>,
    /// Whether tools may run in parallel.
    #[prop(kind = "Boolean")]
    parallel_tool_calls: Option<Value>,
    /// Keep the prompt cache 24 hours (`prompt_cache_retention: 24h`).
    #[prop(kind = "Boolean")]
    prompt_caching: Option<Value>,
    /// An end-user id. Kestra's Responses task does not send it: no effect.
    #[prop(kind = "String")]
    user: Option<Value>,
    /// Kestra's client timeout; its OpenAI tasks do not apply it: no effect.
    #[prop(kind = "Integer", default = "10")]
    client_timeout: Option<Value>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

struct Responses {
    api_key: String,
    model: String,
    body: Map<String, Value>,
    input: Value,
}

fn build(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let model = need(p, "model")?;
    let input = match p.get("input") {
        None | Some(Value::Null) => return Err(TaskError::property("input", "required")),
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(other) => Value::String(other.to_string()),
    };
    let mut b = Map::new();
    b.insert("model".into(), json!(model));
    b.insert("store".into(), json!(bool_of("store", p.get("store"))?.unwrap_or(true)));
    let t = f64_of("temperature", p.get("temperature"))?.unwrap_or(1.0);
    if t > 2.0 {
        return Err(TaskError::property("temperature", format!("must be at most 2, got {t}")));
    }
    b.insert("temperature".into(), json!(t));
    if let Some(v) = f64_of("topP", p.get("topP"))? {
        if v > 1.0 {
            return Err(TaskError::property("topP", format!("must be at most 1, got {v}")));
        }
        b.insert("top_p".into(), json!(v));
    }
    if let Some(id) = str_of(p.get("promptId")) {
        let vars = map_of("promptVariables", p.get("promptVariables"))?.unwrap_or_default();
        b.insert("prompt".into(), json!({"id": id, "variables": vars}));
    }
    match p.get("tools") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(Value::Array(a)) => {
            b.insert("tools".into(), Value::Array(a.clone()));
        }
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) if a.is_empty() => {}
            Ok(v @ Value::Array(_)) => {
                b.insert("tools".into(), v);
            }
            _ => return Err(TaskError::property("tools", "expected a list of tool objects")),
        },
        Some(other) => return Err(TaskError::property("tools", format!("expected a list, got {other}"))),
    }
    let choice = str_of(p.get("toolChoice")).unwrap_or_else(|| "AUTO".into());
    if !matches!(choice.as_str(), "NONE" | "AUTO" | "REQUIRED") {
        return Err(TaskError::property("toolChoice", format!("unknown value '{choice}' (NONE, AUTO or REQUIRED)")));
    }
    b.insert("tool_choice".into(), json!(choice.to_ascii_lowercase()));
    if let Some(id) = str_of(p.get("previousResponseId")) {
        b.insert("previous_response_id".into(), json!(id));
    }
    // Kestra's plugin reads an unset map as an empty one and sends it.
    b.insert("reasoning".into(), Value::Object(map_of("reasoning", p.get("reasoning"))?.unwrap_or_default()));
    if let Some(n) = i64_of("maxOutputTokens", p.get("maxOutputTokens"))? {
        b.insert("max_output_tokens".into(), json!(n));
    }
    if let Some(v) = bool_of("parallelToolCalls", p.get("parallelToolCalls"))? {
        b.insert("parallel_tool_calls".into(), json!(v));
    }
    b.insert("text".into(), Value::Object(map_of("text", p.get("text"))?.unwrap_or_default()));
    if bool_of("promptCaching", p.get("promptCaching"))?.unwrap_or(false) {
        b.insert("prompt_cache_retention".into(), json!("24h"));
    }
    Ok(Box::new(Responses { api_key: need(p, "apiKey")?, model, body: b, input }))
}

/// The image's media type from `mimeType` or the file name.
fn image_mime(given: Option<String>, uri: &str) -> Result<String, TaskError> {
    let name = uri.rsplit('/').next().unwrap_or(uri).to_ascii_lowercase();
    let guessed = match name.rsplit_once('.').map(|(_, e)| e) {
        Some("png") => Some("image/png"),
        Some("jpg" | "jpeg") => Some("image/jpeg"),
        Some("gif") => Some("image/gif"),
        Some("webp") => Some("image/webp"),
        _ => None,
    };
    let mime = given.or(guessed.map(str::to_string));
    match mime {
        Some(m)
            if ["image/png", "image/jpeg", "image/webp", "image/gif", "image/jpg"]
                .contains(&m.to_ascii_lowercase().as_str()) =>
        {
            Ok(m)
        }
        other => Err(TaskError::property(
            "input",
            format!(
                "unsupported or unknown media type {:?} of image '{uri}': give a `mimeType` (image/png, image/jpeg, image/webp or image/gif) beside `image_url`",
                other.unwrap_or_default()
            ),
        )),
    }
}

/// A `kestra:///` image as a `data:` URI.
async fn inline_image(cx: &RunContext, uri: &str, mime: &str) -> Result<String, TaskError> {
    let path = cx.readable_path("input", uri)?;
    let r = cx
        .services
        .storage
        .get(&path)
        .await
        .map_err(|e| TaskError::property("input", format!("cannot read '{uri}': {e}")))?;
    let mut bytes = Vec::new();
    r.take(MAX_IMAGE_BYTES + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| TaskError::property("input", format!("cannot read '{uri}': {e}")))?;
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(TaskError::property(
            "input",
            format!("image '{uri}' is larger than {MAX_IMAGE_BYTES} bytes (MAX_IMAGE_BYTES)"),
        ));
    }
    Ok(format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

/// One content entry of a message, as the plugin rebuilds it.
async fn content(cx: &RunContext, c: &Value) -> Result<Value, TaskError> {
    let Value::Object(o) = c else { return Ok(c.clone()) };
    match o.get("type").and_then(Value::as_str) {
        Some("input_text") => Ok(json!({"text": str_of(o.get("text")).unwrap_or_default(), "type": "input_text"})),
        Some("input_image") => {
            let Some(url) = str_of(o.get("image_url")) else { return Ok(c.clone()) };
            let detail = str_of(o.get("detail")).unwrap_or_else(|| "auto".into());
            let url = if url.starts_with("kestra:///") {
                let mime = image_mime(str_of(o.get("mimeType")), &url)?;
                inline_image(cx, &url, &mime).await?
            } else {
                url
            };
            Ok(json!({"detail": detail, "image_url": url, "type": "input_image"}))
        }
        Some("input_file") => {
            let mut f = Map::new();
            for k in ["file_id", "file_data", "filename"] {
                if let Some(v) = str_of(o.get(k)) {
                    f.insert(k.into(), json!(v));
                }
            }
            f.insert("type".into(), json!("input_file"));
            Ok(Value::Object(f))
        }
        _ => Ok(c.clone()),
    }
}

/// Kestra's `input`: a text is one user message; a list (JSON text) is messages.
async fn input_items(cx: &RunContext, input: &str) -> Result<Value, TaskError> {
    let t = input.trim();
    if !(t.starts_with('[') && t.ends_with(']')) {
        return Ok(json!([{"content": [{"text": input, "type": "input_text"}], "role": "user"}]));
    }
    let list: Vec<Map<String, Value>> = serde_json::from_str(input)
        .map_err(|e| TaskError::property("input", format!("expected a list of {{role, content}}: {e}")))?;
    let mut out = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let role = str_of(m.get("role")).unwrap_or_default();
        if !matches!(role.as_str(), "user" | "system" | "developer" | "assistant") {
            return Err(TaskError::property(
                &format!("input[{i}].role"),
                format!("unknown role '{role}' (user, system, developer or assistant)"),
            ));
        }
        let mut parts = Vec::new();
        for c in m.get("content").and_then(Value::as_array).into_iter().flatten() {
            parts.push(content(cx, c).await?);
        }
        out.push(json!({"content": parts, "role": role}));
    }
    Ok(Value::Array(out))
}

/// The plugin's `outputText`: per output item, a function call's arguments
/// or a message's output texts (joined by new lines), items joined by new lines.
fn output_text(v: &Value) -> String {
    let items = v.get("output").and_then(Value::as_array).cloned().unwrap_or_default();
    let texts: Vec<String> = items
        .iter()
        .map(|item| match item.get("type").and_then(Value::as_str) {
            Some("function_call") => item.get("arguments").and_then(Value::as_str).unwrap_or_default().to_string(),
            Some("message") => item
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| c.get("type").and_then(Value::as_str) == Some("output_text"))
                .map(|c| c.get("text").and_then(Value::as_str).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        })
        .collect();
    texts.join("\n")
}

/// The URLs of the answer's `url_citation` annotations.
fn sources(v: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for item in v.get("output").and_then(Value::as_array).into_iter().flatten() {
        if item.get("type").and_then(Value::as_str) != Some("message") {
            continue;
        }
        for c in item.get("content").and_then(Value::as_array).into_iter().flatten() {
            for a in c.get("annotations").and_then(Value::as_array).into_iter().flatten() {
                if a.get("type").and_then(Value::as_str) == Some("url_citation")
                    && let Some(u) = a.get("url")
                {
                    out.push(u.clone());
                }
            }
        }
    }
    out
}

#[async_trait]
impl RunnableTask for Responses {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut body = self.body.clone();
        body.insert("input".into(), input_items(cx, self.input.as_str().unwrap_or_default()).await?);
        let base = base_url(None, cx.services.config.ai.openai_base_url.as_ref(), DEFAULT_BASE);
        let callee = Callee::new(format!("OpenAI model '{}'", self.model)).secret(Some(&self.api_key));
        let headers = [("authorization", format!("Bearer {}", self.api_key))];
        let url = format!("{base}/responses");
        let v = post_json(cx, &callee, &url, &headers, &Value::Object(body), MAX_RESPONSE, "MAX_RESPONSE").await?;
        token_counters(
            cx,
            v.get("usage"),
            &[
                ("/input_tokens", "usage.prompt.tokens"),
                ("/output_tokens", "usage.completion.tokens"),
                ("/total_tokens", "usage.total.tokens"),
                ("/input_tokens_details/cached_tokens", "usage.prompt.cached_tokens"),
            ],
        );
        let mut o = Map::new();
        o.insert("responseId".into(), v.get("id").cloned().unwrap_or(Value::Null));
        o.insert("outputText".into(), json!(output_text(&v)));
        o.insert("sources".into(), Value::Array(sources(&v)));
        o.insert("rawResponse".into(), v);
        Ok(TaskOutput::with(o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_text_and_sources_follow_the_plugin() {
        let v = json!({"output": [
            {"type": "web_search_call", "id": "ws"},
            {"type": "message", "content": [{"type": "output_text", "text": "Hi", "annotations": [
                {"type": "url_citation", "url": "https://kestra.io"}]}]}
        ]});
        assert_eq!(output_text(&v), "\nHi");
        assert_eq!(sources(&v), vec![json!("https://kestra.io")]);
        assert!(image_mime(None, "kestra:///a/b.upl").is_err());
        assert_eq!(image_mime(None, "kestra:///a/b.PNG").unwrap(), "image/png");
    }
}
