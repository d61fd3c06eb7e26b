//! dbt tasks: `io.kestra.plugin.dbt.cli.DbtCLI` on the script-task
//! machinery (`cli`), run results as log lines (`results`), and dbt from a
//! cached virtualenv when no container engine is reachable (`venv`).
//! Group `scripts`: the same workers (and image) as the script tasks.

mod cli;
pub use cli::MAX_DBT_ARTIFACT_BYTES;
pub mod results;
pub mod venv;

use std::sync::LazyLock;

use super::Registry;
use super::registry::PluginDef;

pub static DBT_CLI: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<cli::DbtCli>(cli::build));

pub fn register(r: &mut Registry) {
    r.register(*DBT_CLI);
}
