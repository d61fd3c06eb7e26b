//! `io.kestra.plugin.graphql.Request`: sends a GraphQL query over HTTP as
//! Kestra's task does — `method` (default POST) to `uri` with the JSON
//! body `{"query", "variables", "operationName"}` (the last two when set),
//! the task's `headers` and the HTTP client `options` of core
//! `http.Request` — and outputs `uri`, `code`, `headers`, `body` (the
//! answer's `data`) and `error` (its `errors`). A status other than 2xx
//! fails unless `options.allowFailed`; GraphQL errors fail only with
//! `failOnGraphQLErrors`. The answer is bounded (`MAX_GRAPHQL_ANSWER`).
//! `encryptBody: true` is refused: Baton has no encrypted outputs.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::MAX_GRAPHQL_ANSWER;
use crate::core::http::{self, HttpOptions};
use crate::core::request::Outgoing;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Send a GraphQL request.
///
/// Posts `query` (with `variables` and `operationName`) to a GraphQL endpoint and outputs the answer's `data` as `body` and its `errors` as `error`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.graphql.Request",
    group = "core",
    example = "id: issues\ntype: io.kestra.plugin.graphql.Request\nuri: https://api.github.com/graphql\nheaders:\n  Authorization: \"Bearer {{ secret('GITHUB_TOKEN') }}\"\nquery: |\n  query { viewer { login } }\n",
    outputs(
        uri(String, "The URL requested."),
        code(Integer, "The HTTP status code."),
        headers(Map, "The response headers."),
        body(Any, "The answer's `data`."),
        error(Any, "The answer's `errors`, when it has some.")
    )
)]
struct Props {
    /// The GraphQL endpoint's URL.
    #[serde(deserialize_with = "de::string_lenient")]
    uri: String,
    /// The GraphQL query or mutation.
    #[serde(deserialize_with = "de::string_lenient")]
    query: String,
    /// The query's variables.
    #[serde(default)]
    #[prop(kind = "Map")]
    variables: Option<Map<String, Value>>,
    /// The operation to run, when the query defines several.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    operation_name: Option<String>,
    /// The HTTP method.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"POST\"")]
    method: Option<String>,
    /// Request headers.
    #[serde(default, deserialize_with = "de::multi_map")]
    #[prop(kind = "Map")]
    headers: Vec<(String, Vec<String>)>,
    /// Client options: allowFailed, connectTimeout, readTimeout, timeout, auth…
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<HttpOptions>,
    /// Fail the task when the answer has GraphQL `errors`.
    #[serde(default, rename = "failOnGraphQLErrors", deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    fail_on_graphql_errors: Option<bool>,
    /// Kestra's encrypted output of the answer: only `false` (Baton has no encrypted outputs).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false", check = encrypt_ok)]
    encrypt_body: Option<bool>,
}

fn encrypt_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::Bool(true) => Err(ENCRYPT_REFUSED.into()),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Err(ENCRYPT_REFUSED.into()),
        _ => Ok(()),
    }
}

const ENCRYPT_REFUSED: &str = "Baton does not implement encrypted outputs: leave encryptBody false";

#[derive(Debug)]
struct Request {
    out: Outgoing,
    fail_on_errors: bool,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    if p.encrypt_body == Some(true) {
        return Err(TaskError::property("encryptBody", ENCRYPT_REFUSED));
    }
    let mut body = json!({"query": p.query});
    if let Some(v) = p.variables {
        body["variables"] = Value::Object(v);
    }
    if let Some(name) = p.operation_name.filter(|n| !n.is_empty()) {
        body["operationName"] = Value::String(name);
    }
    Ok(Box::new(Request {
        fail_on_errors: p.fail_on_graphql_errors.unwrap_or(false),
        out: Outgoing {
            url: http::parse_uri("uri", &p.uri.replace(' ', "%20"))?,
            method: http::parse_method(Some(p.method.as_deref().unwrap_or("POST")))?,
            headers: p.headers,
            body: Some(body.to_string()),
            form_data: Vec::new(),
            content_type: Some("application/json; charset=UTF-8".into()),
            options: p.options.unwrap_or_default(),
        },
    }))
}

#[async_trait]
impl RunnableTask for Request {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let url = &self.out.url;
        let rb = http::with_timeout(self.out.builder(cx)?, None, &self.out.options)?;
        let mut resp = rb.send().await.map_err(|e| http::send_error("request", url, &e))?;
        let status = resp.status();
        let headers = http::headers_output(resp.headers());
        let (bytes, over) = http::read_limited(&mut resp, url, MAX_GRAPHQL_ANSWER).await?;
        if over {
            return Err(TaskError::failed(format!(
                "the answer of '{url}' is larger than {MAX_GRAPHQL_ANSWER} bytes (MAX_GRAPHQL_ANSWER)"
            )));
        }
        let text = String::from_utf8_lossy(&bytes);
        cx.log("DEBUG", &format!("GraphQL response: {text}"));
        if !status.is_success() && self.out.options.allow_failed != Some(true) {
            let quoted: String = text.chars().take(500).collect();
            return Err(TaskError::failed(format!(
                "Failed http request with response code '{}' on '{url}': {}",
                status.as_u16(),
                quoted.trim()
            )));
        }
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(url.to_string()));
        out.insert("code".into(), Value::from(status.as_u16()));
        out.insert("headers".into(), headers);
        if !text.is_empty() {
            let answer: Map<String, Value> = serde_json::from_str(&text)
                .map_err(|e| TaskError::failed(format!("the answer of '{url}' is not a JSON object: {e}")))?;
            if let Some(data) = answer.get("data").filter(|d| !d.is_null()) {
                out.insert("body".into(), data.clone());
            }
            if let Some(errors) = answer.get("errors").filter(|e| !e.is_null()) {
                if self.fail_on_errors {
                    return Err(TaskError::failed(format!("GraphQL query failed with errors: {errors}")));
                }
                out.insert("error".into(), errors.clone());
            }
        }
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

/// Registers this family's plugin.
pub fn register(r: &mut crate::Registry) {
    r.register(*DEF);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_support::{Env, Req, Resp, serve};

    fn handler(r: &Req) -> Resp {
        let sent: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let answer = match r.path.as_str() {
            "/graphql" => json!({
                "data": {"echo": sent, "method": r.method, "type": r.header("content-type"), "auth": r.header("authorization")}
            }),
            "/errors" => json!({"data": null, "errors": [{"message": "bad field"}]}),
            _ => return Resp::new(500, "down"),
        };
        Resp::new(200, answer.to_string()).header("Content-Type", "application/json")
    }

    #[tokio::test]
    async fn posts_query_variables_and_operation() {
        let base = serve(handler).await;
        let env = Env::new();
        let raw = json!({
            "uri": format!("{base}/graphql"),
            "headers": {"Authorization": "Bearer t"},
            "query": "query Q($n: Int) { a(n: $n) }",
            "variables": {"n": 3, "who": "{{ inputs.name }}"},
            "operationName": "Q",
        });
        let out = env.run(&DEF, raw).await.unwrap().outputs;
        assert_eq!(out["code"], json!(200));
        let body = &out["body"];
        assert_eq!(
            body["echo"],
            json!({"query": "query Q($n: Int) { a(n: $n) }", "variables": {"n": 3, "who": "world"}, "operationName": "Q"})
        );
        assert_eq!(body["method"], "POST");
        assert_eq!(body["type"], "application/json; charset=UTF-8");
        assert_eq!(body["auth"], "Bearer t");
        assert!(!out.contains_key("error"));
    }

    #[tokio::test]
    async fn graphql_errors_fail_only_when_asked() {
        let base = serve(handler).await;
        let env = Env::new();
        let raw = json!({"uri": format!("{base}/errors"), "query": "{ x }"});
        let out = env.run(&DEF, raw).await.unwrap().outputs;
        assert_eq!(out["error"], json!([{"message": "bad field"}]));
        assert!(!out.contains_key("body"));
        let raw = json!({"uri": format!("{base}/errors"), "query": "{ x }", "failOnGraphQLErrors": true});
        let e = env.run(&DEF, raw).await.unwrap_err();
        assert!(e.to_string().contains("bad field"), "{e}");
        let e = env.run(&DEF, json!({"uri": format!("{base}/down"), "query": "{ x }"})).await.unwrap_err();
        assert!(e.to_string().contains("'500'"), "{e}");
        let e = env.run(&DEF, json!({"uri": base, "query": "{ x }", "encryptBody": true})).await.unwrap_err();
        assert!(e.to_string().contains("encryptBody"), "{e}");
    }
}
