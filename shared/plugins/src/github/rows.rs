//! The row one search hit becomes, with Kestra's keys and order
//! (`IssueDetails`, `PullRequestDetails`, `RepositoryDetails`): enum
//! values upper case (`OPEN`, `COMPLETED`, `PUBLIC`), people by login,
//! labels by name, dates as GitHub writes them. With a token, as in
//! Kestra, an issue's row names its repository (one `GET` of its
//! `repository_url`, once per repository) and a repository's row counts
//! its open pull requests; anonymous rows leave those null (0 for the
//! count).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::api::{Api, text};
use super::search::count_all;
use crate::{RunContext, TaskError};

/// The logins of a list of users.
fn logins(v: &Value, key: &str) -> Value {
    let list = v.get(key).and_then(Value::as_array).map(|a| a.iter().map(|u| text(u, "login")).collect());
    Value::Array(list.unwrap_or_default())
}

/// The login of a user field.
fn login(v: &Value, key: &str) -> Value {
    v.get(key).map_or(Value::Null, |u| text(u, "login"))
}

/// A string field in upper case (hub4j's enums).
fn upper(v: &Value, key: &str) -> Value {
    v.get(key).and_then(Value::as_str).map_or(Value::Null, |s| Value::String(s.to_ascii_uppercase()))
}

fn int(v: &Value, key: &str) -> Value {
    Value::from(v.get(key).and_then(Value::as_i64).unwrap_or(0))
}

fn flag(v: &Value, key: &str) -> Value {
    Value::Bool(v.get(key).and_then(Value::as_bool).unwrap_or(false))
}

/// Issues' repositories already looked up: `repository_url` → (name, html_url).
#[derive(Default)]
pub struct Repos(HashMap<String, (Value, Value)>);

impl Repos {
    async fn of(&mut self, api: &Api, cx: &RunContext, hit: &Value) -> Result<(Value, Value), TaskError> {
        let Some(url) = hit.get("repository_url").and_then(Value::as_str) else {
            return Ok((Value::Null, Value::Null));
        };
        if let Some(found) = self.0.get(url) {
            return Ok(found.clone());
        }
        let repo = api.call(cx, reqwest::Method::GET, url, &[], None).await?.json;
        let found = (text(&repo, "name"), text(&repo, "html_url"));
        self.0.insert(url.to_string(), found.clone());
        Ok(found)
    }
}

/// An issue hit as Kestra's `IssueDetails` (`pull`: the pull request
/// fields of `PullRequestDetails` too).
pub async fn issue(
    api: &Api,
    cx: &RunContext,
    repos: &mut Repos,
    hit: &Value,
    pull: bool,
) -> Result<Map<String, Value>, TaskError> {
    let mut m = Map::new();
    m.insert("number".into(), int(hit, "number"));
    m.insert("title".into(), text(hit, "title"));
    m.insert("state".into(), upper(hit, "state"));
    m.insert("state_reason".into(), upper(hit, "state_reason"));
    m.insert("owner".into(), login(hit, "user"));
    m.insert("assignee".into(), login(hit, "assignee"));
    m.insert("assignees".into(), logins(hit, "assignees"));
    m.insert("created_at".into(), text(hit, "created_at"));
    m.insert("closed_at".into(), text(hit, "closed_at"));
    m.insert("closed_by".into(), login(hit, "closed_by"));
    m.insert("comments".into(), int(hit, "comments"));
    let labels = hit.get("labels").and_then(Value::as_array).map(|a| a.iter().map(|l| text(l, "name")).collect());
    m.insert("labels".into(), Value::Array(labels.unwrap_or_default()));
    let (name, url) = if api.anonymous() { (Value::Null, Value::Null) } else { repos.of(api, cx, hit).await? };
    m.insert("repository_name".into(), name);
    m.insert("repository_url".into(), url);
    if pull {
        let branch = |k: &str| hit.get(k).map_or(Value::Null, |b| text(b, "ref"));
        m.insert("base".into(), branch("base"));
        m.insert("head".into(), branch("head"));
        m.insert("requested_reviewers".into(), logins(hit, "requested_reviewers"));
    }
    m.insert("url".into(), text(hit, "html_url"));
    Ok(m)
}

/// A repository hit as Kestra's `RepositoryDetails`.
pub async fn repository(api: &Api, cx: &RunContext, hit: &Value) -> Result<Map<String, Value>, TaskError> {
    let full_name = text(hit, "full_name");
    let (owner, pulls) = match (&full_name, api.anonymous()) {
        (Value::String(full), false) => {
            let what = format!("open pull requests in {full}");
            let n = count_all(api, cx, &format!("/repos/{full}/pulls"), &[("state", "open".into())], &what).await?;
            (hit.get("owner").map_or(Value::Null, |o| text(o, "login")), Value::from(n))
        }
        _ => (Value::Null, Value::from(0)),
    };
    let mut m = Map::new();
    m.insert("name".into(), text(hit, "name"));
    m.insert("full_name".into(), full_name);
    m.insert("url".into(), text(hit, "html_url"));
    m.insert("description".into(), text(hit, "description"));
    m.insert("owner".into(), owner);
    m.insert("forks_count".into(), int(hit, "forks_count"));
    m.insert("stars_count".into(), int(hit, "stargazers_count"));
    m.insert("pull_request_count".into(), pulls);
    m.insert("issues_count".into(), int(hit, "open_issues_count"));
    m.insert("updated".into(), text(hit, "updated_at"));
    m.insert("created".into(), text(hit, "created_at"));
    m.insert("language".into(), text(hit, "language"));
    m.insert("archived".into(), flag(hit, "archived"));
    m.insert("fork".into(), flag(hit, "fork"));
    m.insert("disabled".into(), flag(hit, "disabled"));
    m.insert("template".into(), flag(hit, "is_template"));
    m.insert("default_branch".into(), text(hit, "default_branch"));
    let visibility = match upper(hit, "visibility") {
        Value::String(v) if ["PUBLIC", "PRIVATE", "INTERNAL"].contains(&v.as_str()) => Value::String(v),
        _ => Value::String("UNKNOWN".into()),
    };
    m.insert("visibility".into(), visibility);
    Ok(m)
}
