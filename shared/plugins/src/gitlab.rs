//! GitLab (`io.kestra.plugin.gitlab.*`, plugin-gitlab): `issues.Create`,
//! `issues.Search` and `mergerequests.Create` on GitLab's REST API v4.
//!
//! As Kestra: `{url}{apiPath}/{projectId}/issues` (and `/merge_requests`),
//! `url` https://gitlab.com and `apiPath` `/api/v4/projects` by default,
//! the token in the `PRIVATE-TOKEN` header; `Create` sends `title`,
//! `description` (from `issueDescription`) and `labels`, and outputs
//! `issueId`, `webUrl` and `statusCode`; `Search` filters by `search`,
//! `state` (opened by default) and `labels`, and outputs `issues`, `count`
//! and `statusCode`; `mergerequests.Create` sends `title`,
//! `source_branch`, `target_branch` and `description` and outputs
//! `mergeReqID`, `webUrl`, `statusCode`. A non-2xx answer fails the task
//! with its status and body.
//!
//! Two differences, on purpose: `projectId` is one path segment, so a
//! namespaced path (`group/project`) is sent encoded as GitLab requires
//! (Kestra pastes it in as written, which GitLab answers 404); `Search`
//! reads every page (100 issues a page, at most [`MAX_ISSUES`]), where
//! Kestra keeps GitLab's first 20. Each answer is read up to
//! [`MAX_ANSWER`].

use std::sync::LazyLock;

use async_trait::async_trait;
use baton_model::decl::DeclaredProps;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::core::http;
use crate::registry::{PluginDef, PropDecl};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most bytes of one answer read.
pub const MAX_ANSWER: u64 = 16 * 1024 * 1024;
/// The most issues `Search` gathers over all pages.
pub const MAX_ISSUES: usize = 10_000;
/// Issues asked for per page.
const PER_PAGE: usize = 100;

/// What every GitLab task takes.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct ProjectProps {
    /// The GitLab instance.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, default = "\"https://gitlab.com\"")]
    url: Option<String>,
    /// A personal, project or group access token (use a secret).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    token: String,
    /// The project's ID or its path (group/project).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    project_id: String,
    /// The projects API's path on the instance.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, default = "\"/api/v4/projects\"")]
    api_path: Option<String>,
}

/// A checked project.
#[derive(Debug)]
struct Project {
    url: Url,
    token: String,
}

fn project(props: &Map<String, Value>, resource: &str) -> Result<Project, TaskError> {
    let p: ProjectProps = parse_props(props)?;
    let set = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let base = set(p.url).unwrap_or_else(|| "https://gitlab.com".into());
    let mut url = http::parse_uri("url", base.trim_end_matches('/'))?;
    let api = set(p.api_path).unwrap_or_else(|| "/api/v4/projects".into());
    let id = p.project_id.trim().to_string();
    if id.is_empty() {
        return Err(TaskError::property("projectId", "is required"));
    }
    if p.token.trim().is_empty() {
        return Err(TaskError::property("token", "is required"));
    }
    url.path_segments_mut()
        .map_err(|_| TaskError::property("url", "cannot hold a path"))?
        .pop_if_empty()
        .extend(api.split('/').filter(|s| !s.is_empty()))
        .push(&id)
        .push(resource);
    Ok(Project { url, token: p.token.trim().to_string() })
}

impl Project {
    /// One call; the status and the answer's JSON (a non-2xx fails).
    async fn call(
        &self,
        cx: &RunContext,
        method: Method,
        url: &Url,
        body: Option<Value>,
    ) -> Result<(u16, Value), TaskError> {
        let mut rb = cx.services.http.request(method.clone(), url.clone()).header("PRIVATE-TOKEN", &self.token);
        if let Some(b) = body {
            rb = rb.header(reqwest::header::CONTENT_TYPE, "application/json").body(b.to_string());
        }
        let (status, bytes) = http::call(rb, &method, "GitLab", url, MAX_ANSWER).await?;
        if !status.is_success() {
            return Err(http::status_error(status, &bytes, &method, url));
        }
        let v = serde_json::from_slice(&bytes)
            .map_err(|e| TaskError::failed(format!("GitLab's answer to {method} {} is not JSON: {e}", url.path())))?;
        Ok((status.as_u16(), v))
    }
}

/// What `issues.Create` adds.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct IssueProps {
    /// The issue's title.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    title: String,
    /// The issue's description (Markdown).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    issue_description: Option<String>,
    /// The issue's labels.
    #[serde(default)]
    #[prop(dynamic, kind = "List")]
    labels: Option<Value>,
}

/// What `issues.Search` adds.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct SearchProps {
    /// Text searched in titles and descriptions.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    search: Option<String>,
    /// opened, closed or all.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, default = "\"opened\"")]
    state: Option<String>,
    /// Labels every issue found has.
    #[serde(default)]
    #[prop(dynamic, kind = "List")]
    labels: Option<Value>,
}

/// What `mergerequests.Create` adds.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct MergeRequestProps {
    /// The merge request's title.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    title: String,
    /// The branch to merge.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    source_branch: String,
    /// The branch merged into.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    target_branch: String,
    /// The merge request's description (Markdown).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    merge_request_description: Option<String>,
}

/// Labels: a list, or a comma-separated string.
fn labels(v: Option<Value>) -> Result<Option<Vec<String>>, TaskError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a.iter().map(de::value_to_string).collect())),
        Some(Value::String(s)) => {
            Ok(Some(s.split(',').map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()))
        }
        Some(other) => Err(TaskError::property("labels", format!("expected a list of labels, found {other}"))),
    }
}

/// What a task does.
#[derive(Debug)]
enum Op {
    Issue(Value),
    Search(Vec<(&'static str, String)>),
    MergeRequest(Value),
}

/// A checked GitLab task.
#[derive(Debug)]
struct GitLabTask {
    project: Project,
    op: Op,
}

#[async_trait]
impl RunnableTask for GitLabTask {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.project;
        let out = match &self.op {
            Op::Issue(body) | Op::MergeRequest(body) => {
                let (status, made) = p.call(cx, Method::POST, &p.url, Some(body.clone())).await?;
                let id = made.get("id").map(de::value_to_string).unwrap_or_default();
                let web = made.get("web_url").map(de::value_to_string).unwrap_or_default();
                cx.info(&format!("Created {web}"));
                let id_key = if matches!(self.op, Op::Issue(_)) { "issueId" } else { "mergeReqID" };
                Map::from_iter([
                    (id_key.to_string(), json!(id)),
                    ("webUrl".to_string(), json!(web)),
                    ("statusCode".to_string(), json!(status)),
                ])
            }
            Op::Search(query) => {
                let mut issues = Vec::new();
                let mut page = 1usize;
                // a page shorter than asked for is the last
                let status = loop {
                    let mut url = p.url.clone();
                    url.query_pairs_mut()
                        .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
                        .append_pair("per_page", &PER_PAGE.to_string())
                        .append_pair("page", &page.to_string());
                    let (status, got) = p.call(cx, Method::GET, &url, None).await?;
                    let Value::Array(got) = got else {
                        return Err(TaskError::failed("GitLab's answer to the issue search is not a list"));
                    };
                    let last = got.len() < PER_PAGE;
                    issues.extend(got);
                    if issues.len() > MAX_ISSUES {
                        return Err(TaskError::failed(format!(
                            "the search finds over {MAX_ISSUES} issues, the most issues.Search reads; narrow it with search, state or labels"
                        )));
                    }
                    if last {
                        break status;
                    }
                    page += 1;
                };
                cx.info(&format!("Found {} issue(s)", issues.len()));
                Map::from_iter([
                    ("count".to_string(), json!(issues.len())),
                    ("issues".to_string(), Value::Array(issues)),
                    ("statusCode".to_string(), json!(status)),
                ])
            }
        };
        Ok(TaskOutput::with(out))
    }
}

fn build_issue(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let project = project(props, "issues")?;
    let p: IssueProps = parse_props(props)?;
    let mut body = Map::new();
    body.insert("title".into(), json!(p.title));
    if let Some(d) = p.issue_description {
        body.insert("description".into(), json!(d));
    }
    if let Some(l) = labels(p.labels)? {
        body.insert("labels".into(), json!(l));
    }
    Ok(Box::new(GitLabTask { project, op: Op::Issue(Value::Object(body)) }))
}

fn build_search(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let project = project(props, "issues")?;
    let p: SearchProps = parse_props(props)?;
    let mut query: Vec<(&'static str, String)> = Vec::new();
    if let Some(s) = p.search {
        query.push(("search", s));
    }
    query.push(("state", p.state.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).unwrap_or("opened".into())));
    if let Some(l) = labels(p.labels)? {
        query.push(("labels", l.join(",")));
    }
    Ok(Box::new(GitLabTask { project, op: Op::Search(query) }))
}

fn build_merge_request(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let project = project(props, "merge_requests")?;
    let p: MergeRequestProps = parse_props(props)?;
    let mut body =
        json!({"title": p.title, "source_branch": p.source_branch.trim(), "target_branch": p.target_branch.trim()});
    if let Some(d) = p.merge_request_description {
        body["description"] = json!(d);
    }
    Ok(Box::new(GitLabTask { project, op: Op::MergeRequest(body) }))
}

/// The properties of `issues.Create`.
pub struct IssueDecl;
/// The properties of `issues.Search`.
pub struct SearchDecl;
/// The properties of `mergerequests.Create`.
pub struct MergeRequestDecl;

impl DeclaredProps for IssueDecl {
    fn props() -> Vec<PropDecl> {
        [ProjectProps::props(), IssueProps::props()].concat()
    }
}

impl DeclaredProps for SearchDecl {
    fn props() -> Vec<PropDecl> {
        [ProjectProps::props(), SearchProps::props()].concat()
    }
}

impl DeclaredProps for MergeRequestDecl {
    fn props() -> Vec<PropDecl> {
        [ProjectProps::props(), MergeRequestProps::props()].concat()
    }
}

/// Create a GitLab issue.
///
/// Creates an issue in projectId with title, issueDescription and labels; outputs issueId, webUrl and statusCode.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.gitlab.issues.Create",
    group = "core",
    props = IssueDecl,
    example = "id: issue\ntype: io.kestra.plugin.gitlab.issues.Create\ntoken: \"{{ secret('GITLAB_TOKEN') }}\"\nprojectId: \"123\"\ntitle: Flow failed\nissueDescription: \"Execution {{ execution.id }} failed\"\nlabels: [bug, kestra]\n",
    outputs(
        issueId(String, "The issue's ID."),
        webUrl(String, "The issue's page."),
        statusCode(Integer, "GitLab's HTTP status (201).")
    )
)]
struct IssueCreate;

/// Search a GitLab project's issues.
///
/// Lists the project's issues matching search, state (opened by default) and labels, every page; outputs issues, count and statusCode.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.gitlab.issues.Search",
    group = "core",
    props = SearchDecl,
    example = "id: search\ntype: io.kestra.plugin.gitlab.issues.Search\ntoken: \"{{ secret('GITLAB_TOKEN') }}\"\nprojectId: \"123\"\nsearch: timeout\nlabels: [bug]\n",
    outputs(
        issues(List, "The issues, as GitLab gives them."),
        count(Integer, "How many issues were found."),
        statusCode(Integer, "GitLab's HTTP status (200).")
    )
)]
struct IssueSearch;

/// Create a GitLab merge request.
///
/// Opens a merge request of sourceBranch into targetBranch with title and mergeRequestDescription; outputs mergeReqID, webUrl and statusCode.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.gitlab.mergerequests.Create",
    group = "core",
    props = MergeRequestDecl,
    example = "id: mr\ntype: io.kestra.plugin.gitlab.mergerequests.Create\ntoken: \"{{ secret('GITLAB_TOKEN') }}\"\nprojectId: \"123\"\ntitle: Update the flows\nsourceBranch: kestra/update\ntargetBranch: main\n",
    outputs(
        mergeReqID(String, "The merge request's ID."),
        webUrl(String, "The merge request's page."),
        statusCode(Integer, "GitLab's HTTP status (201).")
    )
)]
struct MergeRequestCreate;

pub static ISSUE_CREATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<IssueCreate>(build_issue));
pub static ISSUE_SEARCH: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<IssueSearch>(build_search));
pub static MERGE_REQUEST_CREATE: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<MergeRequestCreate>(build_merge_request));

/// Registers this family's plugins.
pub fn register(r: &mut crate::Registry) {
    for def in [*ISSUE_CREATE, *ISSUE_SEARCH, *MERGE_REQUEST_CREATE] {
        r.register(def);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_namespaced_project_is_one_encoded_segment() {
        let p = project(&props(json!({"token": "t", "projectId": "group/sub/app"})), "issues").unwrap();
        assert_eq!(p.url.as_str(), "https://gitlab.com/api/v4/projects/group%2Fsub%2Fapp/issues");
        let p = project(&props(json!({"token": "t", "projectId": "7", "url": "http://127.0.0.1:9/gl/", "apiPath": "/api/v4/projects/"})), "merge_requests").unwrap();
        assert_eq!(p.url.as_str(), "http://127.0.0.1:9/gl/api/v4/projects/7/merge_requests");
        assert!(project(&props(json!({"token": " ", "projectId": "7"})), "issues").is_err());
        assert_eq!(labels(Some(json!("a, b"))).unwrap(), Some(vec!["a".to_string(), "b".to_string()]));
    }
}
