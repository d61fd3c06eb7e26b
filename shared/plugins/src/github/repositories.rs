//! `io.kestra.plugin.github.repositories.Search`: `GET
//! /search/repositories` with the qualifiers added as hub4j's repository
//! search builder adds them (`is:public`, `language:`, `created:`,
//! `repo:`, `stars:`, `user:`, `topic:`), the hits as Kestra's repository
//! rows.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::api::{Api, Connection};
use super::rows;
use super::search::{Common, Query, enum_param, outputs};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Search GitHub repositories.
///
/// Runs a GitHub repository search and outputs the hits as Kestra's repository rows: name, full_name, url, description, owner, forks_count, stars_count, pull_request_count, issues_count, updated, created, language, archived, fork, disabled, template, default_branch, visibility.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.github.repositories.Search",
    group = "core",
    example = "id: search\ntype: io.kestra.plugin.github.repositories.Search\noauthToken: \"{{ secret('GITHUB_TOKEN') }}\"\nquery: \"org:kestra-io\"\nsort: STARS\norder: DESC\n",
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
    /// The search: keywords and qualifiers (org:, language:, topic:…).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    query: Option<String>,
    /// Adds `repo:` with this owner/repo.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    repository: Option<String>,
    /// Adds `language:`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    language: Option<String>,
    /// Adds `created:` (a date, `>date`, `<date` or `from..to`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    created: Option<String>,
    /// Adds `stars:` (a count, `>n`, `<n` or `from..to`).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    stars: Option<String>,
    /// Adds `user:` (repositories of this user; write `org:` in `query` for an organization).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    user: Option<String>,
    /// Adds `topic:`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    topic: Option<String>,
    /// Adds `is:public`, `is:private` or `is:internal`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["PUBLIC", "PRIVATE", "INTERNAL"])]
    visibility: Option<String>,
    /// What the hits are sorted by.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["UPDATED", "STARS", "FORKS"], default = "\"UPDATED\"")]
    sort: Option<String>,
}

/// The terms of `q`, in the order Kestra adds them.
fn repo_terms(p: &SearchProps) -> Result<Vec<String>, TaskError> {
    let mut terms = Vec::new();
    if let Some(v) = &p.visibility {
        terms.push(format!("is:{}", enum_param("visibility", v, &["PUBLIC", "PRIVATE", "INTERNAL"])?));
    }
    terms.extend(p.query.iter().cloned());
    let qualified = [
        ("language", &p.language),
        ("created", &p.created),
        ("repo", &p.repository),
        ("stars", &p.stars),
        ("user", &p.user),
        ("topic", &p.topic),
    ];
    terms.extend(qualified.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}:{v}"))));
    Ok(terms)
}

#[derive(Debug)]
struct SearchRepositories(SearchProps);

#[async_trait]
impl RunnableTask for SearchRepositories {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.0;
        let api = Api::new(&p.connection)?;
        let query = Query {
            path: "/search/repositories",
            sort: enum_param("sort", p.sort.as_deref().unwrap_or("UPDATED"), &["UPDATED", "STARS", "FORKS"])?,
            order: p.common.order()?,
            terms: repo_terms(p)?,
            fetch: p.common.kind(),
            api: &api,
        };
        let mut found = Vec::new();
        for hit in query.hits(cx).await? {
            found.push(rows::repository(&api, cx, &hit).await?);
        }
        outputs(cx, query.fetch, found).await
    }
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(SearchRepositories(parse_props(props)?)))
}

pub static SEARCH: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SearchProps>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn repository_query_as_kestra_builds_it() {
        let p: SearchProps = serde_json::from_value(json!({
            "query": "org:kestra-io", "visibility": "PUBLIC", "topic": "etl", "language": "java"
        }))
        .unwrap();
        assert_eq!(repo_terms(&p).unwrap(), ["is:public", "org:kestra-io", "language:java", "topic:etl"]);
    }
}
