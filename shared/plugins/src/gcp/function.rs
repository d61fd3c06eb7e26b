//! `io.kestra.plugin.gcp.function.HttpFunction` (plugin-gcp
//! `function/HttpFunction.java`): calls an HTTP Cloud Run function (or
//! service) at `url` with `httpMethod`, `httpBody` as JSON when not empty,
//! and a Google-signed ID token for `url` as bearer
//! (`baton_gcp::oauth::id_token`: the key's JWT grant, or the metadata
//! server on Google Cloud). Output `responseBody`: the body's JSON, or its
//! text when it is not JSON. An answer other than 2xx fails with Kestra's
//! "Request failed" message. `maxDuration` bounds the whole call (Kestra
//! declares it without applying it); the body read is bounded by
//! [`MAX_RESPONSE_BYTES`].

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::common::{GcpProps, auth_error};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The longest response body read.
pub const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;
/// Kestra's default `maxDuration`.
const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(3600);

fn method_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => method(s).map(|_| ()),
        _ => Ok(()),
    }
}

fn method(s: &str) -> Result<reqwest::Method, String> {
    let up = s.trim().to_ascii_uppercase();
    match up.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" => {
            reqwest::Method::from_bytes(up.as_bytes()).map_err(|e| e.to_string())
        }
        _ => Err(format!("'{s}' is not one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS")),
    }
}

fn url_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => parse_url(s).map(|_| ()),
        _ => Ok(()),
    }
}

fn parse_url(s: &str) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(s.trim()).map_err(|e| format!("'{s}' is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("'{s}' is not an http(s) URL"));
    }
    Ok(u)
}

/// Call an HTTP Cloud Run function.
///
/// Calls an HTTP-triggered Cloud Run function with an ID token for its URL; outputs the response body.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.function.HttpFunction",
    group = "gcp",
    example = "id: hello\ntype: io.kestra.plugin.gcp.function.HttpFunction\nhttpMethod: POST\nurl: https://my-function.europe-west9.run.app\nhttpBody:\n  name: Kestra\n",
    outputs(responseBody(Any, "The response body: its JSON, or its text."))
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The HTTP method.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = method_ok)]
    http_method: String,
    /// The function's URL.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = url_ok)]
    url: String,
    /// A JSON body (none when empty).
    #[serde(default)]
    #[prop(kind = "Map", default = "{}")]
    http_body: Option<Map<String, Value>>,
    /// The longest the call may take.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration", default = "\"PT1H\"")]
    max_duration: Option<chrono::Duration>,
}

struct HttpFunction {
    p: Props,
    method: reqwest::Method,
    url: reqwest::Url,
    timeout: Duration,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let method = method(&p.http_method).map_err(|e| TaskError::property("httpMethod", e))?;
    let url = parse_url(&p.url).map_err(|e| TaskError::property("url", e))?;
    let timeout = match p.max_duration {
        None => DEFAULT_MAX_DURATION,
        Some(d) => d
            .to_std()
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| TaskError::property("maxDuration", "the duration must be positive"))?,
    };
    Ok(Box::new(HttpFunction { p, method, url, timeout }))
}

impl HttpFunction {
    async fn call(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.gcp.resolve(cx)?;
        let endpoints = &cx.services.config.gcp.endpoints;
        let audience = self.p.url.trim();
        let token = baton_gcp::oauth::id_token(&r.spec, audience, &endpoints.metadata_host, &cx.services.http)
            .await
            .map_err(auth_error)?;
        cx.info(&format!("Invoking GCP HttpFunction with method='{}' url='{}'", self.method, self.url));
        let mut req = cx.services.http.client().request(self.method.clone(), self.url.clone()).bearer_auth(token);
        if let Some(body) = self.p.http_body.as_ref().filter(|b| !b.is_empty()) {
            req = req.json(body);
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| TaskError::failed(format!("cannot call {}: {}", self.url, baton_gcp::causes(&e))))?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) =
            resp.chunk().await.map_err(|e| TaskError::failed(format!("cannot read the answer of {}: {e}", self.url)))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(TaskError::failed(format!(
                    "the answer of {} is longer than {MAX_RESPONSE_BYTES} bytes, the most HttpFunction reads",
                    self.url
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        cx.info(&format!("HttpFunction response status: {}", status.as_u16()));
        if !status.is_success() {
            let shown = if text.is_empty() { "<empty>" } else { text.as_str() };
            return Err(TaskError::failed(format!("Request failed '{}' and body '{shown}'", status.as_u16())));
        }
        let value = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
        let mut out = Map::new();
        out.insert("responseBody".into(), value);
        Ok(TaskOutput::with(out))
    }
}

#[async_trait]
impl RunnableTask for HttpFunction {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        match tokio::time::timeout(self.timeout, self.call(cx)).await {
            Ok(r) => r,
            Err(_) => Err(TaskError::failed(format!(
                "the call to {} took longer than maxDuration ({} s)",
                self.url,
                self.timeout.as_secs()
            ))),
        }
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn method_url_and_duration_are_checked() {
        let props = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert!(build(&props(json!({"httpMethod": "post", "url": "https://f.run.app"}))).is_ok());
        let e = build(&props(json!({"httpMethod": "FETCH", "url": "https://f.run.app"}))).err().unwrap().to_string();
        assert!(e.contains("'httpMethod'"), "{e}");
        let e = build(&props(json!({"httpMethod": "GET", "url": "ftp://x"}))).err().unwrap().to_string();
        assert!(e.contains("'url'"), "{e}");
        let e = build(&props(json!({"httpMethod": "GET", "url": "https://f", "maxDuration": "PT0S"})))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("'maxDuration'"), "{e}");
    }
}
