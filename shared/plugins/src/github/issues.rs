//! `io.kestra.plugin.github.issues.*`: `Create` (`POST
//! /repos/{owner}/{repo}/issues`; outputs `issueUrl`, `issueNumber`),
//! `Comment` (`POST …/issues/{n}/comments`; outputs `issueUrl`,
//! `commentUrl`) and `Search` (`GET /search/issues`). Each repository task
//! first reads the repository (`GET /repos/{owner}/{repo}`), as Kestra's.
//! Kestra's `fields` of `Create` (GitHub's preview issue field values) is
//! not implemented: a flow setting it is refused at validation.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::api::{Api, Connection, required_text};
use super::search::{self, Common};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Create a GitHub issue.
///
/// Opens an issue in `repository` with `title`, `body`, `labels` and `assignees`; the token must be allowed to open issues there.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.github.issues.Create",
    group = "core",
    example = "id: create_issue\ntype: io.kestra.plugin.github.issues.Create\noauthToken: \"{{ secret('GITHUB_TOKEN') }}\"\nrepository: kestra-io/kestra\ntitle: Workflow failed\nbody: \"{{ execution.id }} has failed\"\nlabels:\n  - bug\n",
    outputs(issueUrl(String, "The issue's page on GitHub."), issueNumber(Integer, "The issue's number."))
)]
struct CreateProps {
    #[serde(flatten)]
    connection: Connection,
    /// The repository, as owner/repo.
    #[serde(deserialize_with = "de::string_lenient")]
    repository: String,
    /// The issue's title.
    #[serde(deserialize_with = "de::string_lenient")]
    title: String,
    /// The issue's body (Markdown).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    body: Option<String>,
    /// Labels set on the issue.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    labels: Vec<String>,
    /// Logins the issue is assigned to.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    assignees: Vec<String>,
}

#[derive(Debug)]
struct CreateIssue(CreateProps);

#[async_trait]
impl RunnableTask for CreateIssue {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.0;
        let api = Api::new(&p.connection)?;
        let (repo, _) = api.repository(cx, &p.repository).await?;
        let mut body = json!({"title": p.title, "labels": p.labels, "assignees": p.assignees});
        if let Some(b) = &p.body {
            body["body"] = Value::String(b.clone());
        }
        let issue = api.post(cx, &format!("{repo}/issues"), &body).await?;
        let what = format!("POST {repo}/issues");
        let mut out = Map::new();
        out.insert("issueUrl".into(), required_text(&issue, "html_url", &what)?);
        out.insert("issueNumber".into(), issue.get("number").cloned().unwrap_or(Value::Null));
        cx.info(&format!("Created issue #{} in {}", issue["number"], p.repository));
        Ok(TaskOutput::with(out))
    }
}

fn build_create(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(CreateIssue(parse_props(props)?)))
}

/// Comment on a GitHub issue.
///
/// Posts `body` as a comment on issue `issueNumber` of `repository`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.github.issues.Comment",
    group = "core",
    example = "id: comment\ntype: io.kestra.plugin.github.issues.Comment\noauthToken: \"{{ secret('GITHUB_TOKEN') }}\"\nrepository: kestra-io/kestra\nissueNumber: 1347\nbody: \"{{ execution.id }} has failed\"\n",
    outputs(issueUrl(String, "The issue's page on GitHub."), commentUrl(String, "The comment's link on GitHub."))
)]
struct CommentProps {
    #[serde(flatten)]
    connection: Connection,
    /// The repository, as owner/repo.
    #[serde(deserialize_with = "de::string_lenient")]
    repository: String,
    /// The issue's number.
    #[serde(deserialize_with = "de::u64_lenient")]
    issue_number: u64,
    /// The comment (Markdown).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    body: Option<String>,
}

#[derive(Debug)]
struct CommentIssue(CommentProps);

#[async_trait]
impl RunnableTask for CommentIssue {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.0;
        let api = Api::new(&p.connection)?;
        let (repo, _) = api.repository(cx, &p.repository).await?;
        let issue_path = format!("{repo}/issues/{}", p.issue_number);
        let issue = api.get(cx, &issue_path).await?;
        let mut body = json!({});
        if let Some(b) = &p.body {
            body["body"] = Value::String(b.clone());
        }
        let comment = api.post(cx, &format!("{issue_path}/comments"), &body).await?;
        let mut out = Map::new();
        out.insert("issueUrl".into(), required_text(&issue, "html_url", &format!("GET {issue_path}"))?);
        out.insert("commentUrl".into(), required_text(&comment, "html_url", &format!("POST {issue_path}/comments"))?);
        Ok(TaskOutput::with(out))
    }
}

fn build_comment(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(CommentIssue(parse_props(props)?)))
}

/// Search GitHub issues.
///
/// Runs a GitHub issue search (`query` with the qualifiers the other properties add) and outputs the hits as Kestra's issue rows: number, title, state, state_reason, owner, assignee, assignees, created_at, closed_at, closed_by, comments, labels, repository_name, repository_url, url.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.github.issues.Search",
    group = "core",
    example = "id: search\ntype: io.kestra.plugin.github.issues.Search\noauthToken: \"{{ secret('GITHUB_TOKEN') }}\"\nquery: \"repo:kestra-io/plugin-github is:open\"\n",
    outputs(
        size(Integer, "The number of hits in the outputs."),
        rows(List, "The hits (fetchType FETCH)."),
        row(Map, "The first hit (fetchType FETCH_ONE)."),
        uri(String, "The Ion file of the hits (fetchType STORE).")
    )
)]
struct SearchProps {
    #[serde(flatten)]
    connection: Connection,
    #[serde(flatten)]
    common: Common,
    /// The search: keywords and qualifiers (repo:, is:, label:…).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    query: Option<String>,
    /// Adds `repo:` with this owner/repo to the query.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    repository: Option<String>,
    /// Adds `mentions:` with this login.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    mentions: Option<String>,
    /// Adds `is:open` when true.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    open: Option<bool>,
    /// Adds `is:closed` when true.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    closed: Option<bool>,
    /// Adds `is:merged` when true.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    merged: Option<bool>,
    /// What the hits are sorted by.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["CREATED", "UPDATED", "COMMENTS"], default = "\"CREATED\"")]
    sort: Option<String>,
}

#[derive(Debug)]
struct SearchIssues(SearchProps);

/// The terms of `q`, as Kestra's issue search adds them.
fn issue_terms(p: &SearchProps) -> Vec<String> {
    let mut terms = Vec::new();
    let mut q = p.query.clone().unwrap_or_default();
    if let Some(r) = p.repository.as_deref().filter(|r| !r.is_empty()) {
        q = format!("{q} repo:{r}").trim().to_string();
    }
    if !q.trim().is_empty() {
        terms.push(q);
    }
    if let Some(m) = &p.mentions {
        terms.push(format!("mentions:{m}"));
    }
    for (on, term) in [(p.open, "is:open"), (p.closed, "is:closed"), (p.merged, "is:merged")] {
        if on == Some(true) {
            terms.push(term.to_string());
        }
    }
    terms
}

#[async_trait]
impl RunnableTask for SearchIssues {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.0;
        search::issues(cx, &p.connection, &p.common, p.sort.as_deref(), issue_terms(p), false).await
    }
}

fn build_search(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(SearchIssues(parse_props(props)?)))
}

pub static CREATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CreateProps>(build_create));
pub static COMMENT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CommentProps>(build_comment));
pub static SEARCH: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SearchProps>(build_search));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_query_as_kestra_builds_it() {
        let p: SearchProps = serde_json::from_value(json!({
            "query": "bug", "repository": "kestra-io/kestra", "mentions": "me", "open": true, "merged": "false"
        }))
        .unwrap();
        assert_eq!(issue_terms(&p), ["bug repo:kestra-io/kestra", "mentions:me", "is:open"]);
        let p: SearchProps = serde_json::from_value(json!({"repository": "o/r", "closed": true})).unwrap();
        assert_eq!(issue_terms(&p), ["repo:o/r", "is:closed"]);
    }
}
