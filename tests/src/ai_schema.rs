//! Checks request bodies against the published AI APIs (for the fakes in
//! [`crate::ai_fake`]): Google's bodies against the schemas of the
//! aiplatform v1 discovery document (`$BATON_DISCOVERY_DIR/aiplatform.v1.json`,
//! fetched by scripts/setup/gcp.sh from google-api-python-client): every
//! field must exist in the schema, with the right JSON type and enum
//! value; OpenAI's against the fields of its API reference.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

use crate::ai_fake::OPENAI_CHAT_FIELDS;

fn discovery() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| load_discovery("aiplatform.v1.json"))
}

/// A discovery document of `$BATON_DISCOVERY_DIR` (e.g. `run.v2.json`).
pub fn load_discovery(file: &str) -> Value {
    let dir = std::env::var_os("BATON_DISCOVERY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.cache/discovery")));
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e} (run `source scripts/setup/gcp.sh` to fetch it)", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Checks `v` against the schema `name` of discovery document `doc`.
pub fn check_schema_of(doc: &Value, v: &Value, name: &str) -> Result<(), String> {
    let schemas = &doc["schemas"];
    let s = schemas.get(name).ok_or_else(|| format!("no schema {name}"))?;
    walk(v, s, schemas, "")
}

/// Checks `v` against the discovery schema `name`.
pub fn check_schema(v: &Value, name: &str) -> Result<(), String> {
    check_schema_of(discovery(), v, name)
}

fn walk(v: &Value, s: &Value, schemas: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let t = schemas.get(r).ok_or_else(|| format!("no schema {r}"))?;
        return walk(v, t, schemas, at);
    }
    let here = if at.is_empty() { "the body".to_string() } else { format!("'{at}'") };
    let ty = s.get("type").and_then(Value::as_str).unwrap_or("any");
    match ty {
        "object" => {
            let Value::Object(m) = v else { return Err(format!("{here} must be an object")) };
            if let Some(Value::Object(props)) = s.get("properties") {
                for (k, x) in m {
                    let p = props.get(k).ok_or_else(|| format!("Unknown name \"{k}\" at {here}"))?;
                    walk(x, p, schemas, &format!("{at}{}{k}", if at.is_empty() { "" } else { "." }))?;
                }
            } else if let Some(ap) = s.get("additionalProperties") {
                for (k, x) in m {
                    walk(x, ap, schemas, &format!("{at}.{k}"))?;
                }
            }
            Ok(())
        }
        "array" => {
            let Value::Array(a) = v else { return Err(format!("{here} must be a list")) };
            let items = s.get("items").cloned().unwrap_or(Value::Null);
            for (i, x) in a.iter().enumerate() {
                walk(x, &items, schemas, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        "string" => {
            let int_fmt = matches!(s.get("format").and_then(Value::as_str), Some("int64" | "uint64"));
            match v {
                Value::String(x) => {
                    if let Some(Value::Array(e)) = s.get("enum")
                        && !e.iter().any(|y| y == &Value::String(x.clone()))
                    {
                        return Err(format!("Invalid value at {here}: \"{x}\""));
                    }
                    Ok(())
                }
                Value::Number(_) if int_fmt => Ok(()),
                _ => Err(format!("{here} must be a string")),
            }
        }
        "integer" => v.as_i64().map(|_| ()).ok_or_else(|| format!("{here} must be an integer")),
        "number" => v.as_f64().map(|_| ()).ok_or_else(|| format!("{here} must be a number")),
        "boolean" => v.as_bool().map(|_| ()).ok_or_else(|| format!("{here} must be a boolean")),
        _ => Ok(()),
    }
}

/// A `GenerateContentRequest` (Gemini API and Vertex AI).
pub fn check_generate(body: &Value) -> Result<(), String> {
    check_schema(body, "GoogleCloudAiplatformV1GenerateContentRequest")?;
    let contents = body["contents"].as_array().filter(|c| !c.is_empty()).ok_or("contents is required")?;
    for (i, c) in contents.iter().enumerate() {
        if !matches!(c["role"].as_str(), Some("user" | "model")) {
            return Err(format!("contents[{i}].role must be user or model"));
        }
        if c["parts"].as_array().is_none_or(|p| p.is_empty()) {
            return Err(format!("contents[{i}].parts must not be empty"));
        }
    }
    Ok(())
}

/// A Gemini API `BatchEmbedContentsRequest`: `requests[]` of
/// `{model, content, taskType?, title?, outputDimensionality?}` (API
/// reference), `content` being the `Content` shape generateContent uses.
pub fn check_batch_embed(body: &Value, path: &str) -> Result<(), String> {
    let reqs = body["requests"].as_array().filter(|r| !r.is_empty()).ok_or("requests is required")?;
    let model = path.trim_start_matches("/v1beta/").trim_end_matches(":batchEmbedContents");
    for (i, r) in reqs.iter().enumerate() {
        let Value::Object(m) = r else { return Err(format!("requests[{i}] must be an object")) };
        for k in m.keys() {
            if !["model", "content", "taskType", "title", "outputDimensionality"].contains(&k.as_str()) {
                return Err(format!("Unknown name \"{k}\" at 'requests[{i}]'"));
            }
        }
        if r["model"].as_str() != Some(model) {
            return Err(format!("requests[{i}].model must be {model}, the model of the URL"));
        }
        check_schema(&r["content"], "GoogleCloudAiplatformV1Content")
            .map_err(|e| format!("requests[{i}].content: {e}"))?;
    }
    Ok(())
}

/// A Vertex AI `PredictRequest` for text embeddings (`instances[].content`).
pub fn check_predict(body: &Value) -> Result<(), String> {
    check_schema(body, "GoogleCloudAiplatformV1PredictRequest")?;
    let inst = body["instances"].as_array().filter(|i| !i.is_empty()).ok_or("instances is required")?;
    if inst.iter().any(|i| !i["content"].is_string()) {
        return Err("each instance needs a content string".into());
    }
    Ok(())
}

/// An OpenAI `POST /chat/completions` body.
pub fn check_openai_chat(body: &Value) -> Result<(), String> {
    let Value::Object(m) = body else { return Err("the body must be an object".into()) };
    for k in m.keys() {
        if !OPENAI_CHAT_FIELDS.contains(&k.as_str()) {
            return Err(format!("Unrecognized request argument supplied: {k}"));
        }
    }
    body["model"].as_str().ok_or("model is required")?;
    let msgs = body["messages"].as_array().filter(|a| !a.is_empty()).ok_or("messages is required")?;
    for (i, msg) in msgs.iter().enumerate() {
        match msg["role"].as_str() {
            Some("system" | "user") => {
                msg["content"].as_str().ok_or(format!("messages[{i}].content must be a string"))?;
            }
            Some("assistant") => {
                for c in msg["tool_calls"].as_array().into_iter().flatten() {
                    if c["type"] != "function" || !c["id"].is_string() || !c["function"]["arguments"].is_string() {
                        return Err(format!(
                            "messages[{i}].tool_calls: each needs id, type function, function.arguments string"
                        ));
                    }
                }
            }
            Some("tool") => {
                msg["tool_call_id"].as_str().ok_or(format!("messages[{i}].tool_call_id is required"))?;
            }
            other => return Err(format!("messages[{i}].role {other:?} is invalid")),
        }
    }
    for t in body["tools"].as_array().into_iter().flatten() {
        if t["type"] != "function" || !t["function"]["name"].is_string() {
            return Err("tools[]: each needs type function and function.name".into());
        }
    }
    if let Some(rf) = body.get("response_format") {
        match rf["type"].as_str() {
            Some("text" | "json_object") => {}
            Some("json_schema") if rf["json_schema"]["name"].is_string() && rf["json_schema"]["schema"].is_object() => {
            }
            _ => return Err("response_format: type text, json_object, or json_schema with name and schema".into()),
        }
    }
    Ok(())
}
