//! `io.kestra.plugin.openai.CreateImage`: OpenAI's image generation —
//! `POST {base}/images/generations` (base `https://api.openai.com/v1`, or
//! `BATON_OPENAI_BASE_URL`) with `model` (gpt-image-1 by default),
//! `prompt`, `size` (Kestra's SMALL/MEDIUM/LARGE: 256x256, 512x512,
//! 1024x1024) and, when set, `n`, `quality` and `user`. An image answered
//! as base64 is stored in internal storage (`openai-{n}.png`), one answered
//! as a URL is given as that URL: `images` lists them. As in Kestra's
//! plugin, `download` does not change the request.

use std::sync::LazyLock;

use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{base_url, need, post_json};
use crate::ai::http::Callee;
use crate::ai::props::{bool_of, i64_of, str_of};
use crate::ai::providers::openai::DEFAULT_BASE;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput};

/// The most bytes of an image generation answer (base64 images are large).
pub const MAX_IMAGE_RESPONSE: usize = 128 * 1024 * 1024;

/// Generate images with OpenAI (Kestra's OpenAI plugin).
///
/// Sends a `prompt` to OpenAI's image generation API; outputs the images' internal storage URIs (or URLs).
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.openai.CreateImage",
    group = "core",
    example = "id: picture\ntype: io.kestra.plugin.openai.CreateImage\napiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nn: 1\nprompt: A lighthouse at dawn\n",
    outputs(images(List, "The images: internal storage URIs of the base64 answers, or the URLs OpenAI gave."))
)]
struct Props {
    /// The OpenAI API key.
    #[prop(kind = "String", required)]
    api_key: Option<Value>,
    /// What to draw.
    #[prop(kind = "String", required)]
    prompt: Option<Value>,
    /// How many images (1 to 10).
    #[prop(kind = "Integer")]
    n: Option<Value>,
    /// The images' size: SMALL (256x256), MEDIUM (512x512) or LARGE (1024x1024).
    #[prop(kind = "String", values = ["SMALL", "MEDIUM", "LARGE"], default = "\"LARGE\"")]
    size: Option<Value>,
    /// The image model.
    #[prop(kind = "String", default = "\"gpt-image-1\"")]
    model: Option<Value>,
    /// The images' quality.
    #[prop(kind = "String", values = ["AUTO", "LOW", "MEDIUM", "HIGH"])]
    quality: Option<Value>,
    /// Kept for Kestra's flows: as in its plugin, base64 answers are always stored and URLs always given.
    #[prop(kind = "Boolean", default = "false")]
    download: Option<Value>,
    /// An end-user id sent to OpenAI.
    #[prop(kind = "String")]
    user: Option<Value>,
    /// Kestra's client timeout; its OpenAI tasks do not apply it: no effect.
    #[prop(kind = "Integer", default = "10")]
    client_timeout: Option<Value>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

struct CreateImage {
    api_key: String,
    model: String,
    body: Value,
}

fn build(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let model = str_of(p.get("model")).unwrap_or_else(|| "gpt-image-1".into());
    let size = match str_of(p.get("size")).as_deref().unwrap_or("LARGE") {
        "SMALL" => "256x256",
        "MEDIUM" => "512x512",
        "LARGE" => "1024x1024",
        other => {
            return Err(TaskError::property("size", format!("unknown size '{other}' (SMALL, MEDIUM or LARGE)")));
        }
    };
    let mut b = Map::new();
    b.insert("model".into(), json!(model));
    b.insert("prompt".into(), json!(need(p, "prompt")?));
    b.insert("size".into(), json!(size));
    if let Some(n) = i64_of("n", p.get("n"))? {
        if !(1..=10).contains(&n) {
            return Err(TaskError::property("n", format!("must be between 1 and 10, got {n}")));
        }
        b.insert("n".into(), json!(n));
    }
    if let Some(u) = str_of(p.get("user")) {
        b.insert("user".into(), json!(u));
    }
    if let Some(q) = str_of(p.get("quality")) {
        if !matches!(q.as_str(), "AUTO" | "LOW" | "MEDIUM" | "HIGH") {
            return Err(TaskError::property("quality", format!("unknown quality '{q}' (AUTO, LOW, MEDIUM or HIGH)")));
        }
        b.insert("quality".into(), json!(q.to_ascii_lowercase()));
    }
    bool_of("download", p.get("download"))?;
    Ok(Box::new(CreateImage { api_key: need(p, "apiKey")?, model, body: Value::Object(b) }))
}

#[async_trait]
impl RunnableTask for CreateImage {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let base = base_url(None, cx.services.config.ai.openai_base_url.as_ref(), DEFAULT_BASE);
        let callee = Callee::new(format!("OpenAI image model '{}'", self.model)).secret(Some(&self.api_key));
        let headers = [("authorization", format!("Bearer {}", self.api_key))];
        let url = format!("{base}/images/generations");
        let v = post_json(cx, &callee, &url, &headers, &self.body, MAX_IMAGE_RESPONSE, "MAX_IMAGE_RESPONSE").await?;
        let mut images = Vec::new();
        for (i, d) in v.get("data").and_then(Value::as_array).into_iter().flatten().enumerate() {
            if let Some(b64) = d.get("b64_json").and_then(Value::as_str) {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| callee.error(format!("image {i} is not valid base64: {e}")))?;
                let (uri, _) = cx.put_file(&format!("openai-{i}.png"), Box::pin(std::io::Cursor::new(bytes))).await?;
                images.push(json!(uri));
            } else if let Some(u) = d.get("url").and_then(Value::as_str) {
                images.push(json!(u));
            }
        }
        let mut o = Map::new();
        o.insert("images".into(), Value::Array(images));
        Ok(TaskOutput::with(o))
    }
}
