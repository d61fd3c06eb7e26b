//! `io.kestra.plugin.core.http.Request`: sends an HTTP request and returns
//! `code`, `headers` (name → list of values), `body` (a string, JSON
//! included, as in Kestra) and `uri`. A non-2xx status fails the task unless
//! `allowFailed` (or `options.allowFailed`). Bodies above 10 MB are refused:
//! use `Download` for those. `formData` is sent URL-encoded, or as
//! multipart when `contentType` is `multipart/form-data`. Kestra's counter
//! `response.length` (tagged `request.method`, `response.code`) when the
//! response declares its length.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::http::{self, HttpOptions};
use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The largest response body kept in memory.
pub const MAX_BODY: usize = 10 * 1024 * 1024;

/// Send an HTTP request.
///
/// Sends a request and exposes the status code, headers and body; a status of 400 or more fails the task unless `allowFailed`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.http.Request",
    aliases = ["io.kestra.plugin.fs.http.Request"],
    group = "core",
    example = "id: ping\ntype: io.kestra.plugin.core.http.Request\nuri: https://example.com/api/health\nmethod: GET\n",
    outputs(
        code(Integer, "The HTTP status code."),
        headers(Map, "The response headers."),
        body(Any, "The response body."),
        uri(String, "The URL requested.")
    ),
)]
struct Props {
    /// The URL.
    #[serde(deserialize_with = "de::string_lenient")]
    uri: String,
    /// The HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS…).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"GET\"")]
    method: Option<String>,
    /// Request headers.
    #[serde(default, deserialize_with = "de::multi_map")]
    #[prop(kind = "Map")]
    headers: Vec<(String, Vec<String>)>,
    /// The request body (a string, or a value sent as JSON).
    #[serde(default)]
    body: Option<Value>,
    /// Fields sent as a form (urlencoded or multipart).
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    form_data: Vec<(String, String)>,
    /// The request's Content-Type.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    content_type: Option<String>,
    /// Do not fail on a status of 400 or more.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    allow_failed: Option<bool>,
    /// Give up the request after this long.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration")]
    timeout: Option<chrono::Duration>,
    /// Client options: connectTimeout, readIdleTimeout, followRedirects, basicAuthUser…
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<HttpOptions>,
}

/// What an HTTP task sends (Kestra's `AbstractHttp`): shared by `Request`
/// and `SseRequest`.
#[derive(Debug)]
pub struct Outgoing {
    pub url: reqwest::Url,
    pub method: reqwest::Method,
    pub headers: Vec<(String, Vec<String>)>,
    pub body: Option<String>,
    pub form_data: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub options: HttpOptions,
}

/// The task, built from rendered properties.
#[derive(Debug)]
pub struct Request {
    out: Outgoing,
    allow_failed: bool,
    timeout: Option<chrono::Duration>,
}

/// The request body as written: a string, or a map or list sent as JSON.
pub fn body_text(body: Option<Value>) -> Option<String> {
    match body {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    }
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let options = p.options.unwrap_or_default();
    Ok(Box::new(Request {
        allow_failed: p.allow_failed.or(options.allow_failed).unwrap_or(false),
        timeout: p.timeout,
        out: Outgoing {
            url: http::parse_uri("uri", &p.uri)?,
            method: http::parse_method(p.method.as_deref())?,
            headers: p.headers,
            body: body_text(p.body),
            form_data: p.form_data,
            content_type: p.content_type,
            options,
        },
    }))
}

fn multipart(fields: &[(String, String)], boundary: &str) -> String {
    let mut out = String::new();
    for (k, v) in fields {
        let name = k.replace('"', "%22");
        out.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{v}\r\n"));
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out
}

impl Outgoing {
    /// The request, with its body or form, headers and auth (no timeout).
    pub fn builder(&self, cx: &RunContext) -> Result<reqwest::RequestBuilder, TaskError> {
        let mut rb = cx.services.http.request(self.method.clone(), self.url.clone());
        let explicit_ct =
            self.content_type.clone().or_else(|| http::find_header(&self.headers, "content-type").map(String::from));
        let mut content_type: Option<String> = None;
        if !self.form_data.is_empty() {
            let ct = explicit_ct.unwrap_or_else(|| "application/x-www-form-urlencoded".to_string());
            if ct.trim().to_ascii_lowercase().starts_with("multipart/form-data") {
                let boundary = format!("baton-{}", uuid::Uuid::new_v4().simple());
                rb = rb.body(multipart(&self.form_data, &boundary));
                content_type = Some(format!("multipart/form-data; boundary={boundary}"));
            } else {
                let encoded: Vec<String> = self
                    .form_data
                    .iter()
                    .map(|(k, v)| format!("{}={}", http::form_encode(k), http::form_encode(v)))
                    .collect();
                rb = rb.body(encoded.join("&"));
                content_type = Some(ct);
            }
        } else if let Some(body) = &self.body {
            rb = rb.body(body.clone());
            content_type = Some(explicit_ct.unwrap_or_else(|| "application/json".to_string()));
        }
        let skip: &[&str] = if content_type.is_some() { &["content-type"] } else { &[] };
        if let Some(ct) = &content_type {
            rb = rb.header(reqwest::header::CONTENT_TYPE, ct.as_str());
        }
        rb = http::add_headers(rb, &self.headers, skip)?;
        http::with_auth(rb, &self.options)
    }
}

#[async_trait]
impl RunnableTask for Request {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let url = &self.out.url;
        let rb = http::with_timeout(self.out.builder(cx)?, self.timeout, &self.out.options)?;

        let mut resp = http::send(rb, &self.out.method, "request", url).await?;
        let status = resp.status();
        let headers = http::headers_output(resp.headers());
        let declared_length = resp.content_length();
        let too_big = || {
            TaskError::failed(format!(
                "The response of '{url}' is larger than {} MB: use io.kestra.plugin.core.http.Download to store it in internal storage",
                MAX_BODY / (1024 * 1024)
            ))
        };
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(too_big());
        }
        let mut body: Vec<u8> = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| http::send_error("read the response of", url, &e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8(body).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());

        if !status.is_success() && !self.allow_failed {
            let mut msg = format!("Failed http request with response code '{}' on '{url}'", status.as_u16());
            let snippet: String = body.chars().take(500).collect();
            if !snippet.trim().is_empty() {
                msg.push_str(&format!(": {}", snippet.trim()));
            }
            return Err(TaskError::failed(msg));
        }

        // Kestra's counter, when the response declares its length
        if let Some(n) = declared_length {
            let code = status.as_u16().to_string();
            cx.counter(
                "response.length",
                n as f64,
                &[("request.method", self.out.method.as_str()), ("response.code", code.as_str())],
            );
        }
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(url.to_string()));
        out.insert("code".into(), Value::from(status.as_u16()));
        out.insert("headers".into(), headers);
        out.insert("body".into(), Value::String(body));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::{Env, Req, Resp, serve};

    fn handler(r: &Req) -> Resp {
        let echo = json!({
            "method": r.method,
            "contentType": r.header("content-type"),
            "auth": r.header("authorization"),
            "body": String::from_utf8_lossy(&r.body),
        });
        match r.path.as_str() {
            "/echo" => Resp::new(200, echo.to_string()).header("Content-Type", "application/json"),
            "/big" => Resp::new(200, vec![b'x'; MAX_BODY + 1]),
            _ => Resp::new(404, "no such page"),
        }
    }

    fn echoed(out: &TaskOutput) -> Value {
        serde_json::from_str(out.outputs["body"].as_str().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn returns_code_headers_and_body() {
        let base = serve(handler).await;
        let env = Env::new();
        let out = env
            .run(&DEF, json!({"uri": format!("{base}/echo"), "headers": {"Authorization": "Bearer {{ inputs.name }}"}}))
            .await
            .unwrap();
        assert_eq!(out.outputs.get("code"), Some(&json!(200)));
        assert_eq!(out.outputs["headers"].get("content-type"), Some(&json!(["application/json"])));
        assert!(out.outputs["body"].is_string());
        let e = echoed(&out);
        assert_eq!(e["method"], "GET");
        assert_eq!(e["auth"], "Bearer world");
        assert_eq!(e["body"], "");
    }

    #[tokio::test]
    async fn authenticates() {
        let base = serve(handler).await;
        let env = Env::new();
        let raw = json!({"uri": format!("{base}/echo"), "options": {"auth": {"type": "BASIC", "username": "u", "password": "p"}}});
        let out = env.run(&DEF, raw).await.unwrap();
        assert_eq!(echoed(&out)["auth"], "Basic dTpw");
        let raw = json!({"uri": format!("{base}/echo"), "options": {"auth": {"type": "bearer", "token": "tok"}}});
        let out = env.run(&DEF, raw).await.unwrap();
        assert_eq!(echoed(&out)["auth"], "Bearer tok");
        let raw = json!({"uri": format!("{base}/echo"), "options": {"basicAuthUser": "u", "basicAuthPassword": "p"}});
        let out = env.run(&DEF, raw).await.unwrap();
        assert_eq!(echoed(&out)["auth"], "Basic dTpw");
    }

    #[tokio::test]
    async fn sends_bodies_and_forms() {
        let base = serve(handler).await;
        let env = Env::new();
        let out = env
            .run(&DEF, json!({"uri": format!("{base}/echo"), "method": "POST", "body": "{\"a\": 1}"}))
            .await
            .unwrap();
        let e = echoed(&out);
        assert_eq!((e["method"].as_str(), e["contentType"].as_str()), (Some("POST"), Some("application/json")));
        assert_eq!(e["body"], "{\"a\": 1}");

        let out = env
            .run(
                &DEF,
                json!({"uri": format!("{base}/echo"), "method": "PUT", "body": "hi", "contentType": "text/plain"}),
            )
            .await
            .unwrap();
        assert_eq!(echoed(&out)["contentType"], "text/plain");

        let out = env
            .run(&DEF, json!({"uri": format!("{base}/echo"), "method": "POST", "formData": {"a b": "c&d", "n": 1}}))
            .await
            .unwrap();
        let e = echoed(&out);
        assert_eq!(e["contentType"], "application/x-www-form-urlencoded");
        assert_eq!(e["body"], "a+b=c%26d&n=1");

        let out = env
            .run(
                &DEF,
                json!({"uri": format!("{base}/echo"), "method": "POST", "formData": {"f": "v"}, "contentType": "multipart/form-data"}),
            )
            .await
            .unwrap();
        let e = echoed(&out);
        assert!(e["contentType"].as_str().unwrap().starts_with("multipart/form-data; boundary="), "{e}");
        assert!(e["body"].as_str().unwrap().contains("name=\"f\"\r\n\r\nv\r\n"), "{e}");
    }

    #[tokio::test]
    async fn non_2xx_fails_unless_allowed() {
        let base = serve(handler).await;
        let env = Env::new();
        let e = env.run(&DEF, json!({"uri": format!("{base}/nope")})).await.unwrap_err();
        assert!(e.to_string().contains("'404'") && e.to_string().contains("no such page"), "{e}");
        let out = env.run(&DEF, json!({"uri": format!("{base}/nope"), "allowFailed": true})).await.unwrap();
        assert_eq!(out.outputs.get("code"), Some(&json!(404)));
        assert_eq!(out.outputs.get("body"), Some(&json!("no such page")));
        let out =
            env.run(&DEF, json!({"uri": format!("{base}/nope"), "options": {"allowFailed": "true"}})).await.unwrap();
        assert_eq!(out.outputs.get("code"), Some(&json!(404)));
    }

    #[tokio::test]
    async fn refuses_huge_bodies() {
        let base = serve(handler).await;
        let env = Env::new();
        let e = env.run(&DEF, json!({"uri": format!("{base}/big")})).await.unwrap_err();
        assert!(e.to_string().contains("Download"), "{e}");
    }
}
