//! `io.kestra.plugin.gcp.vertexai.MultimodalCompletion` (plugin-gcp
//! `vertexai/MultimodalCompletion.java`): one `generateContent` call of a
//! Gemini model on Vertex AI whose single user turn holds the `contents`
//! parts in order — a part without `mimeType` is text, a part with one is
//! the internal-storage file its `content` names, sent inline (base64) with
//! that media type, as Kestra's `PartMaker.fromMimeTypeAndData`. Region,
//! model, `parameters` (the generation config, with Kestra's defaults and
//! bounds) and credentials are those of `ChatCompletion` / `TextCompletion`
//! ([`super::vertexai`]), and so is the call.
//!
//! Outputs as Kestra's: `finishReason` and `safetyRatings` (`category`,
//! `probability`, `blocked`) of the candidate; `text` (its text parts
//! joined) unless the answer was stopped for `SAFETY` or `RECITATION`, in
//! which case `blocked` is true, a warning is logged and the task ends in
//! WARNING. An answer without exactly one candidate (a blocked prompt) fails
//! the task, as the Vertex AI SDK's response handler does. The metrics
//! `candidate.token.count`, `prompt.token.count` and `total.token.count`
//! come from the usage; Kestra's `serialized.size` (a protobuf size) has no
//! JSON equivalent and is not emitted. Files are read up to
//! [`MAX_INLINE_BYTES`] in all (Vertex AI's limit on inline data), which
//! Kestra does not bound.

use std::sync::LazyLock;

use async_trait::async_trait;
use base64::Engine;
use baton_model::StateType;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::io::AsyncReadExt;

use super::vertexai::{DEFAULT_MODEL, ModelProps, Parameters, generation_config, parameters, provider};
use crate::ai::providers::vertex;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, parse_props};

/// The most bytes of internal-storage files one task sends inline (20 MiB,
/// Vertex AI's limit on inline data in a request).
pub const MAX_INLINE_BYTES: u64 = 20 * 1024 * 1024;

/// Complete a prompt of text and media with Gemini on Vertex AI.
///
/// Sends the text and internal-storage files of `contents`, in order, as one prompt to a Vertex AI Gemini model;
/// outputs the answer's text, finish reason and safety ratings.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.vertexai.MultimodalCompletion",
    group = "gcp",
    example = "id: multimodal_completion\ntype: io.kestra.plugin.gcp.vertexai.MultimodalCompletion\nregion: us-central1\nprojectId: my-project\ncontents:\n  - content: Can you describe this image?\n  - mimeType: image/jpeg\n    content: \"{{ inputs.image }}\"\n",
    outputs(
        text(String, "The answer's text; absent when the answer was blocked."),
        finishReason(String, "Why the model stopped: STOP, MAX_TOKENS, SAFETY, RECITATION…"),
        safetyRatings(List, "The answer's safety ratings: category, probability, blocked."),
        blocked(
            Boolean,
            "Whether the answer was blocked (finish reason SAFETY or RECITATION); the task then ends in WARNING."
        )
    )
)]
struct Props {
    #[serde(flatten)]
    model: ModelProps,
    /// The prompt's parts, in order: `content` alone is text; with `mimeType` (e.g. image/jpeg), `content` is the
    /// `kestra://` URI of a file, sent inline.
    #[serde(default)]
    #[prop(kind = "List", required, check = contents_ok)]
    contents: Option<Value>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

/// One entry of `contents`.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    /// A file of internal storage (its URI) and its media type.
    File {
        uri: String,
        mime: String,
    },
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The parts of `contents`, each `{content, mimeType?}`.
fn parts(v: Option<&Value>) -> Result<Vec<Part>, TaskError> {
    let Some(Value::Array(items)) = v else {
        return Err(TaskError::property("contents", "expected a list of {content, mimeType}"));
    };
    if items.is_empty() {
        return Err(TaskError::property("contents", "at least one part is required"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = |k: &str| format!("contents[{i}].{k}");
            let Value::Object(m) = item else {
                return Err(TaskError::property(&format!("contents[{i}]"), "expected {content, mimeType}"));
            };
            if let Some(k) = m.keys().find(|k| !["content", "mimeType"].contains(&k.as_str())) {
                return Err(TaskError::property(&at(k), "unknown property (known: content, mimeType)"));
            }
            let content = match m.get("content") {
                None | Some(Value::Null) => return Err(TaskError::property(&at("content"), "is required")),
                Some(c) => text_of(c),
            };
            match m.get("mimeType") {
                None | Some(Value::Null) => Ok(Part::Text(content)),
                Some(t) => {
                    let mime = text_of(t).trim().to_string();
                    if mime.is_empty() {
                        return Err(TaskError::property(&at("mimeType"), "is empty"));
                    }
                    Ok(Part::File { uri: content.trim().to_string(), mime })
                }
            }
        })
        .collect()
}

fn contents_ok(v: &Value) -> Result<(), String> {
    parts(Some(v)).map(|_| ()).map_err(|e| e.to_string())
}

struct Multimodal {
    model: ModelProps,
    parameters: Parameters,
    parts: Vec<Part>,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    Ok(Box::new(Multimodal {
        parameters: parameters(p.model.parameters.as_ref())?,
        parts: parts(p.contents.as_ref())?,
        model: p.model,
    }))
}

/// Reads `uri` (a `contents[i].content`), counting its bytes into `total`.
async fn read_file(cx: &RunContext, i: usize, uri: &str, total: &mut u64) -> Result<Vec<u8>, TaskError> {
    let prop = format!("contents[{i}].content");
    let path = cx.readable_path(&prop, uri)?;
    let stream = cx
        .services
        .storage
        .get(&path)
        .await
        .map_err(|e| TaskError::property(&prop, format!("cannot read '{uri}': {e}")))?;
    let mut data = Vec::new();
    stream
        .take(MAX_INLINE_BYTES.saturating_sub(*total) + 1)
        .read_to_end(&mut data)
        .await
        .map_err(|e| TaskError::property(&prop, format!("cannot read '{uri}': {e}")))?;
    *total += data.len() as u64;
    if *total > MAX_INLINE_BYTES {
        return Err(TaskError::property(
            &prop,
            format!(
                "the files of `contents` may hold at most {MAX_INLINE_BYTES} bytes in all (MAX_INLINE_BYTES, Vertex AI's inline data limit); '{uri}' goes past it"
            ),
        ));
    }
    Ok(data)
}

/// The `generateContent` body: one user turn of `parts` (already in the API's shape).
fn body(parts: Vec<Value>, p: &Parameters) -> Value {
    json!({"contents": [{"role": "user", "parts": parts}], "generationConfig": generation_config(p)})
}

/// Kestra's outputs of an answer, and whether it was blocked.
fn outputs(answer: &Value, model: &str) -> Result<(Map<String, Value>, bool), TaskError> {
    let cands = answer.get("candidates").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let [cand] = cands else {
        let why = answer.pointer("/promptFeedback/blockReason").and_then(Value::as_str).unwrap_or("none given");
        return Err(TaskError::failed(format!(
            "Vertex AI model '{model}' gave {} candidates where one was expected (block reason: {why})",
            cands.len()
        )));
    };
    let s = |v: Option<&Value>, default: &str| Value::String(v.and_then(Value::as_str).unwrap_or(default).to_string());
    let finish = s(cand.get("finishReason"), "FINISH_REASON_UNSPECIFIED");
    let ratings: Vec<Value> = cand
        .get("safetyRatings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            json!({
                "category": s(r.get("category"), "HARM_CATEGORY_UNSPECIFIED"),
                "probability": s(r.get("probability"), "HARM_PROBABILITY_UNSPECIFIED"),
                "blocked": r.get("blocked").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect();
    let blocked = matches!(finish.as_str(), Some("SAFETY" | "RECITATION"));
    let mut out = Map::new();
    if !blocked {
        let text: String = cand
            .pointer("/content/parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect();
        out.insert("text".into(), Value::String(text));
    }
    out.insert("safetyRatings".into(), Value::Array(ratings));
    out.insert("blocked".into(), Value::Bool(blocked));
    out.insert("finishReason".into(), finish);
    Ok((out, blocked))
}

#[async_trait]
impl RunnableTask for Multimodal {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.model.gcp.resolve(cx)?;
        let model = self.model.model_id.as_deref().unwrap_or(DEFAULT_MODEL);
        let provider = provider(&self.model.region, model, r.project()?);
        let mut total = 0u64;
        let mut sent = Vec::with_capacity(self.parts.len());
        for (i, part) in self.parts.iter().enumerate() {
            sent.push(match part {
                Part::Text(t) => json!({"text": t}),
                Part::File { uri, mime } => {
                    let data = read_file(cx, i, uri, &mut total).await?;
                    let data = base64::engine::general_purpose::STANDARD.encode(data);
                    json!({"inlineData": {"mimeType": mime, "data": data}})
                }
            });
        }
        let answer = vertex::generate_raw(cx, &provider, &r.spec, &body(sent, &self.parameters)).await?;
        let u = |k: &str| answer.pointer(&format!("/usageMetadata/{k}")).and_then(Value::as_i64).unwrap_or(0) as f64;
        cx.counter("candidate.token.count", u("candidatesTokenCount"), &[]);
        cx.counter("prompt.token.count", u("promptTokenCount"), &[]);
        cx.counter("total.token.count", u("totalTokenCount"), &[]);
        let (out, blocked) = outputs(&answer, model)?;
        let mut result = TaskOutput::with(out);
        if blocked {
            let why = if result.outputs["finishReason"] == "SAFETY" { "safety" } else { "recitation" };
            cx.warn(&format!("Content response has been blocked for {why} reason"));
            result.state = Some(StateType::Warning);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_text_or_files_with_a_media_type() {
        let v = json!([
            {"content": "Describe this"},
            {"mimeType": "image/png", "content": " kestra:///a/b.png "},
            {"content": 42}
        ]);
        assert_eq!(
            parts(Some(&v)).expect("parts"),
            [
                Part::Text("Describe this".into()),
                Part::File { uri: "kestra:///a/b.png".into(), mime: "image/png".into() },
                Part::Text("42".into()),
            ]
        );
        for (bad, field) in [
            (json!([]), "'contents'"),
            (json!("text"), "'contents'"),
            (json!([{"mimeType": "image/png"}]), "contents[0].content"),
            (json!([{"content": "a"}, {"content": "b", "type": "text"}]), "contents[1].type"),
            (json!([{"content": "kestra:///x", "mimeType": ""}]), "contents[0].mimeType"),
        ] {
            let e = contents_ok(&bad).expect_err("refused");
            assert!(e.contains(field), "{bad}: {e}");
        }
    }

    #[test]
    fn the_body_is_one_user_turn_with_kestra_s_generation_config() {
        let p = parameters(None).expect("defaults");
        let b = body(vec![json!({"text": "hi"}), json!({"inlineData": {"mimeType": "image/png", "data": "AA=="}})], &p);
        assert_eq!(b["contents"][0]["role"], "user");
        assert_eq!(b["contents"][0]["parts"][1]["inlineData"]["mimeType"], "image/png");
        assert_eq!(
            b["generationConfig"],
            json!({"temperature": 0.2, "maxOutputTokens": 128, "topK": 40, "topP": 0.95})
        );
    }

    #[test]
    fn an_answer_becomes_kestra_s_outputs() {
        let ok = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "A cat"}, {"text": " on a mat."}]},
            "finishReason": "STOP", "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]}]});
        let (out, blocked) = outputs(&ok, "m").expect("outputs");
        assert!(!blocked);
        assert_eq!(
            Value::Object(out),
            json!({"text": "A cat on a mat.", "finishReason": "STOP", "blocked": false,
                   "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE", "blocked": false}]})
        );
        let safety = json!({"candidates": [{"finishReason": "SAFETY",
            "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]}]});
        let (out, blocked) = outputs(&safety, "m").expect("outputs");
        assert!(blocked && out.get("text").is_none(), "{out:?}");
        assert_eq!(out["safetyRatings"][0]["blocked"], true);
        let none = json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}});
        let e = outputs(&none, "gemini-x").expect_err("no candidate").to_string();
        assert!(e.contains("gemini-x") && e.contains("PROHIBITED_CONTENT"), "{e}");
    }
}
