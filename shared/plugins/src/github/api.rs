//! GitHub's REST API (v3) as Kestra's GitHub tasks reach it through the
//! hub4j `github-api` library: the connection properties every task has
//! (`login`, `oauthToken`, `jwtToken`, `appInstallationToken`, `endpoint`),
//! the `Authorization` header they make (`token …` for an OAuth or app
//! installation token, `Bearer …` for a JWT; with several set, the app
//! installation token wins, then the JWT, as in hub4j's builder), requests
//! and their JSON answers (each bounded by `MAX_GITHUB_ANSWER`), pages
//! followed through the `Link: rel="next"` header, and the `GET
//! /repos/{owner}/{repo}` every repository task starts with.

use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::Value;

use crate::config::MAX_GITHUB_ANSWER;
use crate::{Declare, RunContext, TaskError, de};

/// GitHub's public API, when `endpoint` is not set.
const DEFAULT_ENDPOINT: &str = "https://api.github.com";

/// The characters of a failed answer quoted in the error.
const QUOTED: usize = 500;

/// The connection properties of every GitHub task (Kestra's
/// `AbstractGithubTask`), `#[serde(flatten)]`ed into each task's.
#[derive(Debug, Clone, Default, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The GitHub login the `oauthToken` belongs to (as in Kestra, it names the user and changes no request).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[allow(dead_code)] // accepted for Kestra's flows; hub4j sends nothing for it
    pub login: Option<String>,
    /// A personal access token, sent as `Authorization: token …`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub oauth_token: Option<String>,
    /// A GitHub App JWT, sent as `Authorization: Bearer …` (it wins over `oauthToken`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub jwt_token: Option<String>,
    /// A GitHub App installation token, sent as `Authorization: token …` (it wins over the others).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub app_installation_token: Option<String>,
    /// The API's base URL (GitHub Enterprise: `https://ghe.example.com/api/v3`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"https://api.github.com\"")]
    pub endpoint: Option<String>,
}

/// A client for one task run.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    authorization: Option<String>,
}

/// One answer: its JSON and the URL of the next page, if any.
pub struct Page {
    pub json: Value,
    pub next: Option<String>,
}

impl Api {
    /// The client `c` describes.
    pub fn new(c: &Connection) -> Result<Api, TaskError> {
        let base = c.endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty()).unwrap_or(DEFAULT_ENDPOINT);
        crate::core::http::parse_uri("endpoint", base)?;
        let authorization = if let Some(t) = &c.app_installation_token {
            Some(format!("token {t}"))
        } else if let Some(t) = &c.jwt_token {
            Some(format!("Bearer {t}"))
        } else {
            c.oauth_token.as_ref().map(|t| format!("token {t}"))
        };
        Ok(Api { base: base.trim_end_matches('/').to_string(), authorization })
    }

    /// True without any token (GitHub answers less, and Kestra skips the
    /// lookups that need one).
    pub fn anonymous(&self) -> bool {
        self.authorization.is_none()
    }

    /// The URL of an API path (`/repos/o/r`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `method` to `url` (a full URL) with `query` and a JSON `body`;
    /// a status other than 2xx fails, quoting GitHub's message.
    pub async fn call(
        &self,
        cx: &RunContext,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Page, TaskError> {
        let parsed = Url::parse(url).map_err(|e| TaskError::failed(format!("'{url}' is not a URL: {e}")))?;
        let mut rb = cx
            .services
            .http
            .request(method.clone(), parsed.clone())
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header(reqwest::header::USER_AGENT, "baton");
        if !query.is_empty() {
            rb = rb.query(query);
        }
        if let Some(a) = &self.authorization {
            rb = rb.header(reqwest::header::AUTHORIZATION, a.as_str());
        }
        if let Some(b) = body {
            rb = rb.header(reqwest::header::CONTENT_TYPE, "application/json").body(b.to_string());
        }
        let what = format!("{method} {}", parsed.path());
        let mut resp = rb.send().await.map_err(|e| crate::core::http::send_error("call GitHub at", &parsed, &e))?;
        let status = resp.status();
        let next = resp.headers().get(reqwest::header::LINK).and_then(|v| v.to_str().ok()).and_then(next_link);
        let (bytes, over) = crate::core::http::read_limited(&mut resp, &parsed, MAX_GITHUB_ANSWER).await?;
        if over && status.is_success() {
            return Err(TaskError::failed(format!(
                "GitHub's answer to {what} is larger than {MAX_GITHUB_ANSWER} bytes (MAX_GITHUB_ANSWER)"
            )));
        }
        let text = String::from_utf8_lossy(&bytes);
        if !status.is_success() {
            let quoted: String = text.chars().take(QUOTED).collect();
            return Err(TaskError::failed(format!("GitHub answered {} to {what}: {}", status.as_u16(), quoted.trim())));
        }
        let json = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .map_err(|e| TaskError::failed(format!("GitHub's answer to {what} is not JSON: {e}")))?
        };
        Ok(Page { json, next })
    }

    /// `GET {path}`.
    pub async fn get(&self, cx: &RunContext, path: &str) -> Result<Value, TaskError> {
        Ok(self.call(cx, Method::GET, &self.url(path), &[], None).await?.json)
    }

    /// `POST {path}` with a JSON body.
    pub async fn post(&self, cx: &RunContext, path: &str, body: &Value) -> Result<Value, TaskError> {
        Ok(self.call(cx, Method::POST, &self.url(path), &[], Some(body)).await?.json)
    }

    /// `GET /repos/{owner}/{repo}` (what hub4j's `getRepository` does
    /// first); `repository` must be `owner/repo`. The API path of the
    /// repository found and its JSON.
    pub async fn repository(&self, cx: &RunContext, repository: &str) -> Result<(String, Value), TaskError> {
        let parts: Vec<&str> = repository.trim().split('/').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(TaskError::property(
                "repository",
                format!("'{repository}' is not a repository: use owner/repo (e.g. kestra-io/kestra)"),
            ));
        }
        let json = self.get(cx, &format!("/repos/{}/{}", parts[0], parts[1])).await?;
        let full = json.get("full_name").and_then(Value::as_str).unwrap_or(repository.trim());
        Ok((format!("/repos/{full}"), json))
    }
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        is_next.then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

/// A string field of a GitHub JSON object.
pub fn text(v: &Value, key: &str) -> Value {
    v.get(key).and_then(Value::as_str).map_or(Value::Null, |s| Value::String(s.to_string()))
}

/// A required string field of GitHub's answer to `what`.
pub fn required_text(v: &Value, key: &str, what: &str) -> Result<Value, TaskError> {
    match text(v, key) {
        Value::Null => Err(TaskError::failed(format!("GitHub's answer to {what} has no '{key}'"))),
        s => Ok(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_follows_hub4j() {
        let c = |o: Option<&str>, j: Option<&str>, a: Option<&str>| Connection {
            oauth_token: o.map(String::from),
            jwt_token: j.map(String::from),
            app_installation_token: a.map(String::from),
            ..Connection::default()
        };
        assert_eq!(Api::new(&c(Some("o"), None, None)).unwrap().authorization.as_deref(), Some("token o"));
        assert_eq!(Api::new(&c(Some("o"), Some("j"), None)).unwrap().authorization.as_deref(), Some("Bearer j"));
        assert_eq!(Api::new(&c(Some("o"), Some("j"), Some("a"))).unwrap().authorization.as_deref(), Some("token a"));
        assert!(Api::new(&c(None, None, None)).unwrap().anonymous());
        let e = Api::new(&Connection { endpoint: Some("ftp://x".into()), ..Connection::default() }).unwrap_err();
        assert!(e.to_string().contains("endpoint"), "{e}");
    }

    #[test]
    fn follows_the_next_link() {
        let h = r#"<https://api.github.com/search/issues?q=a&page=2>; rel="next", <https://api.github.com/search/issues?q=a&page=5>; rel="last""#;
        assert_eq!(next_link(h).as_deref(), Some("https://api.github.com/search/issues?q=a&page=2"));
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
    }
}
