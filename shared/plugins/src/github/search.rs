//! What GitHub's search tasks share (Kestra's `AbstractGithubSearchTask`):
//! `fetchType` (default STORE: the hits as an Ion file, output `uri`),
//! the query GitHub gets (`q`: the task's terms joined by spaces, after
//! `sort` and `order` in lower case, as hub4j's search builders send
//! them), every page of hits gathered through the `Link` header (at most
//! `MAX_GITHUB_RESULTS`, GitHub's own cap), and the outputs `size` with
//! `rows` (FETCH), `row` (FETCH_ONE) or `uri` (STORE).

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::api::{Api, Connection};
use super::rows::{self, Repos};
use crate::config::MAX_GITHUB_RESULTS;
use crate::jdbc::fetch::{FetchType, ResultWriter};
use crate::{Declare, RunContext, TaskError, TaskOutput, de};

/// What every search task has (`fetchType`, `order`), `#[serde(flatten)]`ed into each.
#[derive(Debug, Clone, Default, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct Common {
    /// What the task does with the hits: STORE writes them to an Ion file (output `uri`), FETCH outputs them as `rows`, FETCH_ONE the first as `row`, NONE outputs only `size` (0).
    #[serde(default)]
    #[prop(kind = "String", values = ["STORE", "FETCH", "FETCH_ONE", "NONE"], default = "\"STORE\"")]
    pub fetch_type: Option<FetchType>,
    /// The sort direction.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ASC", "DESC"], default = "\"ASC\"")]
    pub order: Option<String>,
}

impl Common {
    /// The fetch type asked (Kestra's default STORE).
    pub fn kind(&self) -> FetchType {
        self.fetch_type.unwrap_or(FetchType::Store)
    }

    /// The `order` GitHub gets.
    pub fn order(&self) -> Result<String, TaskError> {
        enum_param("order", self.order.as_deref().unwrap_or("ASC"), &["ASC", "DESC"])
    }
}

/// The sort keys of the issue and pull request searches.
pub const ISSUE_SORTS: &[&str] = &["CREATED", "UPDATED", "COMMENTS"];

/// `value` (a written enum value) in lower case if it is one of `allowed`.
pub fn enum_param(property: &str, value: &str, allowed: &[&str]) -> Result<String, TaskError> {
    let up = value.trim().to_ascii_uppercase();
    if allowed.contains(&up.as_str()) {
        Ok(up.to_ascii_lowercase())
    } else {
        Err(TaskError::property(property, format!("'{value}' is not one of {}", allowed.join(", "))))
    }
}

/// One search: where, with which parameters, and how a hit becomes a row.
pub struct Query<'a> {
    /// `/search/issues`, `/search/repositories`.
    pub path: &'static str,
    pub sort: String,
    pub order: String,
    /// The terms of `q`, in the order the task adds them.
    pub terms: Vec<String>,
    pub fetch: FetchType,
    pub api: &'a Api,
}

/// Runs an issue (`pull`: pull request) search with `terms`, `sort` (default CREATED).
pub async fn issues(
    cx: &RunContext,
    connection: &Connection,
    common: &Common,
    sort: Option<&str>,
    terms: Vec<String>,
    pull: bool,
) -> Result<TaskOutput, TaskError> {
    let api = Api::new(connection)?;
    let query = Query {
        path: "/search/issues",
        sort: enum_param("sort", sort.unwrap_or("CREATED"), ISSUE_SORTS)?,
        order: common.order()?,
        terms,
        fetch: common.kind(),
        api: &api,
    };
    let mut repos = Repos::default();
    let mut found = Vec::new();
    for hit in query.hits(cx).await? {
        found.push(rows::issue(&api, cx, &mut repos, &hit, pull).await?);
    }
    outputs(cx, query.fetch, found).await
}

impl Query<'_> {
    /// Every hit, page after page, bounded by `MAX_GITHUB_RESULTS`.
    pub async fn hits(&self, cx: &RunContext) -> Result<Vec<Value>, TaskError> {
        let q = self.terms.join(" ");
        cx.log("DEBUG", &format!("GitHub search {}: {q}", self.path));
        let params = [("sort", self.sort.clone()), ("order", self.order.clone()), ("q", q)];
        let mut page = self.api.call(cx, Method::GET, &self.api.url(self.path), &params, None).await?;
        let mut hits = Vec::new();
        loop {
            let items = match page.json.get("items") {
                Some(Value::Array(items)) => items.clone(),
                _ => return Err(TaskError::failed(format!("GitHub's answer to GET {} has no 'items'", self.path))),
            };
            if hits.len() + items.len() > MAX_GITHUB_RESULTS {
                return Err(TaskError::failed(format!(
                    "the search finds more than {MAX_GITHUB_RESULTS} results (MAX_GITHUB_RESULTS): narrow the query"
                )));
            }
            let empty = items.is_empty();
            hits.extend(items);
            match page.next.take() {
                Some(next) if !empty => page = self.api.call(cx, Method::GET, &next, &[], None).await?,
                _ => break,
            }
        }
        Ok(hits)
    }
}

/// Kestra's search outputs for `rows`.
pub async fn outputs(
    cx: &RunContext,
    fetch: FetchType,
    rows: Vec<Map<String, Value>>,
) -> Result<TaskOutput, TaskError> {
    if fetch == FetchType::None {
        let mut out = Map::new();
        out.insert("size".into(), Value::from(0));
        return Ok(TaskOutput::with(out));
    }
    let mut w = ResultWriter::new(cx, fetch, &format!("{}.ion", uuid::Uuid::new_v4().simple()));
    for row in rows {
        if !w.wants_more() {
            break;
        }
        w.push(row).await?;
    }
    Ok(TaskOutput::with(w.finish().await?))
}

/// Counts the items of every page from `path` with `query` (bounded by
/// `MAX_GITHUB_RESULTS`): `what` names them in the error.
pub async fn count_all(
    api: &Api,
    cx: &RunContext,
    path: &str,
    query: &[(&str, String)],
    what: &str,
) -> Result<u64, TaskError> {
    let mut page = api.call(cx, Method::GET, &api.url(path), query, None).await?;
    let mut n = 0usize;
    loop {
        let len = page.json.as_array().map_or(0, Vec::len);
        n += len;
        if n > MAX_GITHUB_RESULTS {
            return Err(TaskError::failed(format!(
                "there are more than {MAX_GITHUB_RESULTS} {what} (MAX_GITHUB_RESULTS)"
            )));
        }
        match page.next.take() {
            Some(next) if len > 0 => page = api.call(cx, Method::GET, &next, &[], None).await?,
            _ => break,
        }
    }
    Ok(n as u64)
}
