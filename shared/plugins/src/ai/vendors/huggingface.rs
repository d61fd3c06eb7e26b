//! `io.kestra.plugin.huggingface.Inference`: Hugging Face's Inference API —
//! `POST {endpoint}/{model}` (`endpoint` by default
//! `https://api-inference.huggingface.co/models`) with
//! `Authorization: Bearer`, `x-use-cache` and `x-wait-for-model`, and a
//! body of `inputs` and, when not empty, `parameters`. Outputs `output`:
//! the API's JSON answer as is. Kestra's HTTP client `options` are refused
//! at validation (not carried out).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{base_url, need, post_json};
use crate::ai::http::{Callee, MAX_RESPONSE};
use crate::ai::props::{bool_of, map_of, not_carried_out, refuse_not_carried_out, str_of};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput};

/// Kestra's default `endpoint`.
pub const DEFAULT_ENDPOINT: &str = "https://api-inference.huggingface.co/models";

/// Call a Hugging Face model (Kestra's Hugging Face plugin).
///
/// Sends `inputs` and `parameters` to a model of Hugging Face's Inference API; outputs its JSON answer.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = "io.kestra.plugin.huggingface.Inference",
    group = "core",
    example = "id: classify\ntype: io.kestra.plugin.huggingface.Inference\napiKey: \"{{ secret('HUGGINGFACE_API_KEY') }}\"\nmodel: facebook/bart-large-mnli\ninputs: My order never arrived.\nparameters:\n  candidate_labels: [support, sales]\n",
    outputs(output(Any, "The API's answer, as JSON."))
)]
struct Props {
    /// The Hugging Face API key (hf_…).
    #[prop(kind = "String", required)]
    api_key: Option<Value>,
    /// The model (facebook/bart-large-mnli…).
    #[prop(kind = "String", required)]
    model: Option<Value>,
    /// The model's input.
    #[prop(kind = "String", required)]
    inputs: Option<Value>,
    /// The model's parameters.
    #[prop(kind = "Map")]
    parameters: Option<Value>,
    /// The Inference API's base URL; the model's path is appended.
    #[prop(kind = "String", default = "\"https://api-inference.huggingface.co/models\"")]
    endpoint: Option<Value>,
    /// Let the API answer from its cache (`x-use-cache`).
    #[prop(kind = "Boolean", default = "true")]
    use_cache: Option<Value>,
    /// Wait for a cold model to load instead of a 503 (`x-wait-for-model`).
    #[prop(kind = "Boolean", default = "false")]
    wait_for_model: Option<Value>,
    /// HTTP client options. Not applied by Baton yet: refused.
    #[prop(kind = "Map", check = not_carried_out)]
    options: Option<Value>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

struct Inference {
    api_key: String,
    model: String,
    url: String,
    use_cache: bool,
    wait_for_model: bool,
    body: Value,
}

fn build(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    refuse_not_carried_out(p, &["options"])?;
    let model = need(p, "model")?;
    let endpoint = base_url(str_of(p.get("endpoint")), None, DEFAULT_ENDPOINT);
    let inputs = match p.get("inputs") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => return Err(TaskError::property("inputs", "required")),
        Some(other) => other.to_string(),
    };
    let mut body = Map::new();
    body.insert("inputs".into(), json!(inputs));
    if let Some(params) = map_of("parameters", p.get("parameters"))?.filter(|m| !m.is_empty()) {
        body.insert("parameters".into(), Value::Object(params));
    }
    Ok(Box::new(Inference {
        api_key: need(p, "apiKey")?,
        url: format!("{endpoint}/{model}"),
        model,
        use_cache: bool_of("useCache", p.get("useCache"))?.unwrap_or(true),
        wait_for_model: bool_of("waitForModel", p.get("waitForModel"))?.unwrap_or(false),
        body: Value::Object(body),
    }))
}

#[async_trait]
impl RunnableTask for Inference {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let callee = Callee::new(format!("Hugging Face model '{}'", self.model)).secret(Some(&self.api_key));
        let headers = [
            ("authorization", format!("Bearer {}", self.api_key)),
            ("x-use-cache", self.use_cache.to_string()),
            ("x-wait-for-model", self.wait_for_model.to_string()),
        ];
        let v = post_json(cx, &callee, &self.url, &headers, &self.body, MAX_RESPONSE, "MAX_RESPONSE").await?;
        let mut o = Map::new();
        o.insert("output".into(), v);
        Ok(TaskOutput::with(o))
    }
}
