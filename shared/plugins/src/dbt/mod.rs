//! dbt tasks: `io.kestra.plugin.dbt.cli.DbtCLI` on the script-task
//! machinery (`cli`), Kestra's one-command tasks (`Build`, `Run`… in
//! `commands`) on the same, run results as log lines (`results`), and dbt from a
//! cached virtualenv when no container engine is reachable (`venv`);
//! dbt Cloud's `TriggerRun` and `CheckStatus` (`cloud`) on its API v2
//! (`cloud_api`).
//! `DbtCLI`'s group is `dbt` (workers whose image carries dbt); the dbt
//! Cloud tasks only call an API (group `core`).

mod cli;
pub use cli::MAX_DBT_ARTIFACT_BYTES;
mod cloud;
mod cloud_api;
mod commands;
pub mod results;
pub mod venv;

use std::sync::LazyLock;

use super::Registry;
use super::registry::PluginDef;

pub static DBT_CLI: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<cli::DbtCli>(cli::build));

pub fn register(r: &mut Registry) {
    r.register(*DBT_CLI);
    for def in commands::all() {
        r.register(def);
    }
    r.register(*cloud::TRIGGER_RUN);
    r.register(*cloud::CHECK_STATUS);
}
