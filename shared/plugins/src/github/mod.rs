//! The GitHub tasks (`io.kestra.plugin.github.*`): issues (`Create`,
//! `Comment`, `Search`), pull requests (`Create`, `Search`), repository
//! search and GitHub Actions workflow dispatch, through GitHub's REST API
//! (`endpoint`, default `https://api.github.com`) with the engine's shared
//! HTTP client. Kestra's `code`, `commits`, `topics`, `users`, `projects`
//! and `auth` tasks are refused by name (`registry::left_out`). Run by
//! the `core` worker group.

mod actions;
mod api;
mod issues;
mod pulls;
mod repositories;
mod rows;
mod search;

use super::Registry;

/// Registers this family's plugins.
pub fn register(r: &mut Registry) {
    r.register(*issues::CREATE);
    r.register(*issues::COMMENT);
    r.register(*issues::SEARCH);
    r.register(*pulls::CREATE);
    r.register(*pulls::SEARCH);
    r.register(*repositories::SEARCH);
    r.register(*actions::RUN_WORKFLOW);
}
