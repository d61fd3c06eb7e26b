//! Jira (`io.kestra.plugin.jira.issues.Create`, `CreateComment`,
//! plugin-jira): an issue or a comment created through Jira's REST API v2
//! (`POST {baseUrl}/rest/api/2/issue/`, `…/issue/{issueIdOrKey}/comment`).
//!
//! As Kestra: Basic auth with `username` and `password` (an API token),
//! else a Bearer `accessToken`, else the task is refused; the issue's body
//! is Kestra's template — `project.key`, `summary`, `description`,
//! `issuetype.id` when set, and `labels` with `kestra-bot` first — unless
//! `payload` is set, which is sent as written; a non-2xx answer fails the
//! task with its status and body. `CreateComment` requires
//! `projectKey` and does not use it, as Kestra's does.
//!
//! Two differences, on purpose: Kestra pastes the values into its JSON
//! template unescaped (a quote in a description breaks the request); Baton
//! writes the JSON. A `baseUrl` without a scheme (`your-domain.atlassian.net`,
//! as Kestra's own example writes it) is read as `https://…`, where
//! Kestra's request fails. `Create` outputs the new issue's `key` and `id`
//! (Kestra's outputs nothing, though its own blueprints read
//! `outputs.….key`). `UpdateFields` is not implemented (Kestra's
//! sends the update with POST, which Jira refuses). Answers are read up to
//! [`MAX_ANSWER`].

use std::sync::LazyLock;

use async_trait::async_trait;
use baton_model::decl::DeclaredProps;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::core::http::{self, HttpOptions};
use crate::registry::{PluginDef, PropDecl};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most bytes of one answer read.
pub const MAX_ANSWER: u64 = 4 * 1024 * 1024;

/// What both tasks take.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct ClientProps {
    /// The Jira site (https://your-domain.atlassian.net; https:// is assumed when left out).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    base_url: String,
    /// The user's e-mail, with password for Basic auth.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    username: Option<String>,
    /// The user's API token (use a secret).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    password: Option<String>,
    /// An OAuth access token, sent as a Bearer token when username and password are not set.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    access_token: Option<String>,
    /// The request body as written (JSON), in place of the one the task builds.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    payload: Option<String>,
    /// The project's key (required; CreateComment does not use it, as in Kestra).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    project_key: String,
    /// The HTTP client's options (connectTimeout, readTimeout…), as core http.Request's.
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<HttpOptions>,
}

/// A checked connection.
#[derive(Debug)]
struct Client {
    base: Url,
    auth: Auth,
    payload: Option<String>,
    project: String,
    options: HttpOptions,
}

#[derive(Debug)]
enum Auth {
    Basic(String, String),
    Bearer(String),
}

fn client(props: &Map<String, Value>) -> Result<Client, TaskError> {
    let p: ClientProps = parse_props(props)?;
    let set = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let raw = p.base_url.trim().trim_end_matches('/');
    let with_scheme = if raw.contains("://") { raw.to_string() } else { format!("https://{raw}") };
    let base = http::parse_uri("baseUrl", &with_scheme)?;
    let auth = match (set(p.username), set(p.password), set(p.access_token)) {
        (Some(u), Some(pw), _) => Auth::Basic(u, pw),
        (_, _, Some(t)) => Auth::Bearer(t),
        _ => {
            return Err(TaskError::property(
                "username",
                "Missing required authentication fields: set username and password, or accessToken",
            ));
        }
    };
    let project = p.project_key.trim().to_string();
    if project.is_empty() {
        return Err(TaskError::property("projectKey", "is required"));
    }
    let payload = set(p.payload);
    if let Some(body) = &payload {
        serde_json::from_str::<Value>(body).map_err(|e| TaskError::property("payload", format!("not JSON: {e}")))?;
    }
    Ok(Client { base, auth, payload, project, options: p.options.unwrap_or_default() })
}

impl Client {
    /// `POST {baseUrl}/rest/api/2/issue/{segments…}` with `body` (or
    /// `payload`); Jira's answer.
    async fn post(&self, cx: &RunContext, segments: &[&str], body: Value) -> Result<Value, TaskError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| TaskError::property("baseUrl", "cannot hold a path"))?
            .pop_if_empty()
            .extend(["rest", "api", "2", "issue"])
            .extend(segments);
        if segments.is_empty() {
            // Kestra's route ends with a slash
            url.set_path(&format!("{}/", url.path()));
        }
        let body = self.payload.clone().unwrap_or_else(|| body.to_string());
        let rb = cx
            .services
            .http
            .request(Method::POST, url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let rb = match &self.auth {
            Auth::Basic(u, p) => rb.basic_auth(u, Some(p)),
            Auth::Bearer(t) => rb.bearer_auth(t),
        };
        let rb = http::with_timeout(rb, None, &self.options)?;
        let (status, bytes) = http::call(rb, &Method::POST, "Jira", &url, MAX_ANSWER).await?;
        if !status.is_success() {
            return Err(http::status_error(status, &bytes, &Method::POST, &url));
        }
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

/// What `Create` adds.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct IssueProps {
    /// The issue's summary.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    summary: Option<String>,
    /// The issue's description.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    description: Option<String>,
    /// Labels, after kestra-bot.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, kind = "List")]
    labels: Vec<String>,
    /// The issue type's ID.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    issue_type_id: Option<String>,
}

/// Create a Jira issue.
///
/// Creates an issue in projectKey with summary, description, issueTypeId and labels (kestra-bot first), or sends payload as written.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.jira.issues.Create",
    group = "core",
    props = CreateDecl,
    example = "id: jira\ntype: io.kestra.plugin.jira.issues.Create\nbaseUrl: https://your-domain.atlassian.net\nusername: you@example.com\npassword: \"{{ secret('JIRA_API_TOKEN') }}\"\nprojectKey: OPS\nsummary: Kestra workflow failed\ndescription: \"{{ execution.id }} failed\"\nlabels: [bug]\n",
    outputs(key(String, "The new issue's key (OPS-42)."), id(String, "The new issue's ID."))
)]
struct Create {
    client: Client,
    body: Value,
}

/// The properties of `Create`.
pub struct CreateDecl;

impl DeclaredProps for CreateDecl {
    fn props() -> Vec<PropDecl> {
        [ClientProps::props(), IssueProps::props()].concat()
    }
}

fn build_create(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let client = client(props)?;
    let p: IssueProps = parse_props(props)?;
    let mut labels = vec![Value::String("kestra-bot".into())];
    labels.extend(p.labels.into_iter().map(Value::String));
    let mut fields = Map::new();
    fields.insert("project".into(), json!({ "key": client.project }));
    fields.insert("summary".into(), json!(p.summary.unwrap_or_default()));
    fields.insert("description".into(), json!(p.description.unwrap_or_default()));
    if let Some(id) = p.issue_type_id.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
        // a number, as Kestra's template writes it, when it is one
        let id = id.parse::<u64>().map(Value::from).unwrap_or(Value::String(id));
        fields.insert("issuetype".into(), json!({ "id": id }));
    }
    fields.insert("labels".into(), Value::Array(labels));
    Ok(Box::new(Create { client, body: json!({ "fields": fields }) }))
}

#[async_trait]
impl RunnableTask for Create {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let answer = self.client.post(cx, &[], self.body.clone()).await?;
        let out: Map<String, Value> =
            ["key", "id"].iter().filter_map(|k| answer.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
        cx.info(&format!("Created Jira issue {}", out.get("key").and_then(Value::as_str).unwrap_or("?")));
        Ok(TaskOutput::with(out))
    }
}

/// What `CreateComment` adds.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct CommentProps {
    /// The issue's ID or key (OPS-42).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    issue_id_or_key: String,
    /// The comment's text.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    body: String,
}

/// Comment on a Jira issue.
///
/// Adds body as a comment to the issue issueIdOrKey.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.jira.issues.CreateComment",
    group = "core",
    props = CommentDecl,
    example = "id: comment\ntype: io.kestra.plugin.jira.issues.CreateComment\nbaseUrl: https://your-domain.atlassian.net\nusername: you@example.com\npassword: \"{{ secret('JIRA_API_TOKEN') }}\"\nprojectKey: OPS\nissueIdOrKey: OPS-42\nbody: \"Execution {{ execution.id }} failed again\"\n"
)]
struct CreateComment {
    client: Client,
    issue: String,
    body: String,
}

/// The properties of `CreateComment`.
pub struct CommentDecl;

impl DeclaredProps for CommentDecl {
    fn props() -> Vec<PropDecl> {
        [ClientProps::props(), CommentProps::props()].concat()
    }
}

fn build_comment(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let client = client(props)?;
    let p: CommentProps = parse_props(props)?;
    let issue = p.issue_id_or_key.trim().to_string();
    if issue.is_empty() {
        return Err(TaskError::property("issueIdOrKey", "is required"));
    }
    Ok(Box::new(CreateComment { client, issue, body: p.body }))
}

#[async_trait]
impl RunnableTask for CreateComment {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        self.client.post(cx, &[&self.issue, "comment"], json!({ "body": self.body })).await?;
        cx.info(&format!("Commented on Jira issue {}", self.issue));
        Ok(TaskOutput::default())
    }
}

pub static CREATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<Create>(build_create));
pub static CREATE_COMMENT: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<CreateComment>(build_comment));

/// Registers this family's plugins.
pub fn register(r: &mut crate::Registry) {
    r.register(*CREATE);
    r.register(*CREATE_COMMENT);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn auth_is_required_and_the_site_gets_a_scheme() {
        let base = json!({"baseUrl": "your-domain.atlassian.net", "projectKey": "OPS"});
        let err = build_create(&props(base.clone())).err().unwrap().to_string();
        assert!(err.contains("Missing required authentication"), "{err}");
        let mut ok = base.clone();
        ok["accessToken"] = json!("t");
        let c = client(&props(ok.clone())).unwrap();
        assert_eq!(c.base.as_str(), "https://your-domain.atlassian.net/");
        ok["payload"] = json!("{not json");
        assert!(build_create(&props(ok)).err().unwrap().to_string().contains("payload"));
    }
}
