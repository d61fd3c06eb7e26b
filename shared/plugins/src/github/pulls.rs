//! `io.kestra.plugin.github.pulls.*`: `Create` (`POST
//! /repos/{owner}/{repo}/pulls`, then the review requests; outputs
//! `issueUrl`, `pullRequestUrl`) and `Search` (`GET /search/issues` with
//! `is:pr`, the qualifiers added as Kestra's own search builder adds
//! them). As in Kestra, `Create` opens nothing (and outputs nothing) when
//! the repository's answer does not grant the token pull access.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::api::{Api, Connection, required_text};
use super::search::{self, Common};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Create a GitHub pull request.
///
/// Opens a pull request from `sourceBranch` into `targetBranch` of `repository`, and requests reviews from `reviewers` (logins, or `team:slug`).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.github.pulls.Create",
    group = "core",
    example = "id: create_pr\ntype: io.kestra.plugin.github.pulls.Create\noauthToken: \"{{ secret('GITHUB_TOKEN') }}\"\nrepository: kestra-io/kestra\nsourceBranch: dev\ntargetBranch: main\ntitle: Merge dev into main\n",
    outputs(
        issueUrl(String, "The API URL of the pull request's issue."),
        pullRequestUrl(String, "The pull request's page on GitHub.")
    )
)]
struct CreateProps {
    #[serde(flatten)]
    connection: Connection,
    /// The repository, as owner/repo.
    #[serde(deserialize_with = "de::string_lenient")]
    repository: String,
    /// The branch with the changes (head); `user:branch` for another repository's.
    #[serde(deserialize_with = "de::string_lenient")]
    source_branch: String,
    /// The branch merged into (base).
    #[serde(deserialize_with = "de::string_lenient")]
    target_branch: String,
    /// The pull request's title.
    #[serde(deserialize_with = "de::string_lenient")]
    title: String,
    /// The pull request's description (Markdown).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    body: Option<String>,
    /// Let the target repository's maintainers push to the source branch.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    maintainer_can_modify: Option<bool>,
    /// Open it as a draft.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    draft: Option<bool>,
    /// Reviewers requested: logins, or team slugs written `team:slug`.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    reviewers: Vec<String>,
}

#[derive(Debug)]
struct CreatePull(CreateProps);

#[async_trait]
impl RunnableTask for CreatePull {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.0;
        let api = Api::new(&p.connection)?;
        let (repo, found) = api.repository(cx, &p.repository).await?;
        if found.pointer("/permissions/pull").and_then(Value::as_bool) != Some(true) {
            cx.warn(&format!("no pull access to {} with this token: no pull request opened", p.repository));
            return Ok(TaskOutput::empty());
        }
        let mut body = json!({
            "title": p.title,
            "head": p.source_branch,
            "base": p.target_branch,
            "maintainer_can_modify": p.maintainer_can_modify.unwrap_or(false),
            "draft": p.draft.unwrap_or(false),
        });
        if let Some(b) = &p.body {
            body["body"] = Value::String(b.clone());
        }
        let pull = api.post(cx, &format!("{repo}/pulls"), &body).await?;
        let what = format!("POST {repo}/pulls");
        let (teams, users): (Vec<&String>, Vec<&String>) = p.reviewers.iter().partition(|r| r.starts_with("team:"));
        let number = pull.get("number").and_then(Value::as_u64).unwrap_or(0);
        let requests = format!("{repo}/pulls/{number}/requested_reviewers");
        if !users.is_empty() {
            api.post(cx, &requests, &json!({"reviewers": users})).await?;
        }
        if !teams.is_empty() {
            let slugs: Vec<&str> = teams.iter().map(|t| t.trim_start_matches("team:")).collect();
            api.post(cx, &requests, &json!({"team_reviewers": slugs})).await?;
        }
        let mut out = Map::new();
        out.insert("issueUrl".into(), required_text(&pull, "issue_url", &what)?);
        out.insert("pullRequestUrl".into(), required_text(&pull, "html_url", &what)?);
        cx.info(&format!("Opened pull request #{number} in {}", p.repository));
        Ok(TaskOutput::with(out))
    }
}

fn build_create(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(CreatePull(parse_props(props)?)))
}

/// Search GitHub pull requests.
///
/// Runs a GitHub pull request search and outputs the hits as Kestra's pull request rows: the issue row's fields with base, head and requested_reviewers.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.github.pulls.Search",
    group = "core",
    example = "id: search\ntype: io.kestra.plugin.github.pulls.Search\noauthToken: \"{{ secret('GITHUB_TOKEN') }}\"\nrepository: kestra-io/kestra\nopen: true\n",
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
    /// The search: keywords and qualifiers.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    query: Option<String>,
    /// Accepted as Kestra's task accepts it, which adds nothing to the query for it: write `mentions:login` in `query`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    mentions: Option<String>,
    /// Adds `review-requested:` with this login.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    review_requested: Option<String>,
    /// Adds `is:open` when true.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    open: Option<bool>,
    /// Adds `is:closed` when true.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    closed: Option<bool>,
    /// Adds `is:merged` when true.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    merged: Option<bool>,
    /// Adds `draft:true` when true.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    draft: Option<bool>,
    /// Adds `assignee:` with this login.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    assigned: Option<String>,
    /// Adds `<title> in:title`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    title: Option<String>,
    /// Adds `closed:` (a date, `>date`, `<date` or `from..to`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    closed_at: Option<String>,
    /// Adds `created:` (a date, `>date`, `<date` or `from..to`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    created_at: Option<String>,
    /// Adds `updated:` (a date, `>date`, `<date` or `from..to`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    updated_at: Option<String>,
    /// Adds `SHA:` with this commit.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    commit: Option<String>,
    /// Adds `repo:` with this owner/repo.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    repository: Option<String>,
    /// Adds `base:` with this branch.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    base: Option<String>,
    /// Adds `head:` with this branch.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    head: Option<String>,
    /// Adds `author:@me` when true.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    created_by_me: Option<bool>,
    /// Adds `author:` with this login.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    author: Option<String>,
    /// What the hits are sorted by.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["CREATED", "UPDATED", "COMMENTS"], default = "\"CREATED\"")]
    sort: Option<String>,
}

/// The terms of `q`, as Kestra's pull request search adds them: its own
/// terms, then the qualifiers of its custom builder as one term, then
/// `is:pr`.
fn pull_terms(p: &SearchProps) -> Vec<String> {
    let mut terms: Vec<String> = p.query.iter().cloned().collect();
    let flags = [(p.open, "is:open"), (p.closed, "is:closed"), (p.merged, "is:merged"), (p.draft, "draft:true")];
    terms.extend(flags.iter().filter(|(on, _)| *on == Some(true)).map(|(_, t)| t.to_string()));
    let mut custom: Vec<String> = Vec::new();
    let mut qualify = |name: &str, value: &Option<String>| match value.as_deref() {
        None => {}
        Some("") => custom.retain(|t| !t.starts_with(&format!("{name}:"))),
        Some(v) => custom.push(format!("{name}:{v}")),
    };
    qualify("assignee", &p.assigned);
    qualify("closed", &p.closed_at);
    qualify("created", &p.created_at);
    qualify("updated", &p.updated_at);
    qualify("SHA", &p.commit);
    qualify("repo", &p.repository);
    qualify("base", &p.base);
    qualify("head", &p.head);
    qualify("author", &p.author);
    qualify("review-requested", &p.review_requested);
    if let Some(t) = &p.title {
        terms.push(format!("{t} in:title"));
    }
    if p.created_by_me == Some(true) {
        terms.push("author:@me".into());
    }
    terms.push(custom.join(" "));
    terms.push("is:pr".into());
    terms
}

#[derive(Debug)]
struct SearchPulls(SearchProps);

#[async_trait]
impl RunnableTask for SearchPulls {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.0;
        if p.mentions.is_some() {
            cx.warn("mentions adds nothing to the search (as in Kestra): write mentions:login in query");
        }
        search::issues(cx, &p.connection, &p.common, p.sort.as_deref(), pull_terms(p), true).await
    }
}

fn build_search(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(SearchPulls(parse_props(props)?)))
}

pub static CREATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CreateProps>(build_create));
pub static SEARCH: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SearchProps>(build_search));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_query_as_kestra_builds_it() {
        let p: SearchProps = serde_json::from_value(json!({
            "query": "fix", "open": true, "draft": true, "repository": "o/r", "base": "main",
            "title": "Bump", "createdByMe": true, "author": ""
        }))
        .unwrap();
        assert_eq!(
            pull_terms(&p).join(" "),
            "fix is:open draft:true Bump in:title author:@me repo:o/r base:main is:pr"
        );
    }
}
