//! dbt tasks: `io.kestra.plugin.dbt.cli.DbtCLI` on the script-task
//! machinery (`cli`), run results as log lines (`results`), and dbt from a
//! cached virtualenv when no container engine is reachable (`venv`).
//! Group `scripts`: the same workers (and image) as the script tasks.

mod cli;
pub mod results;
pub mod venv;

use super::Registry;
use super::registry::{PluginDef, PropKind, PropSpec};

pub const DBT_CLI: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.dbt.cli.DbtCLI",
    aliases: &[],
    // its own worker group: on GCP a service whose image carries dbt and the adapters
    group: "dbt",
    props: &[
        PropSpec::required("commands", PropKind::StringOrList),
        PropSpec::optional("profiles", PropKind::String),
        PropSpec::optional("projectDir", PropKind::String),
        PropSpec::optional("parseRunResults", PropKind::Boolean),
        PropSpec::optional("storeManifest", PropKind::Map),
        PropSpec::optional("loadManifest", PropKind::Map),
        PropSpec::optional("beforeCommands", PropKind::StringOrList),
        PropSpec::optional("env", PropKind::Map),
        PropSpec::optional("inputFiles", PropKind::Any),
        PropSpec::optional("outputFiles", PropKind::StringOrList),
        PropSpec::optional("namespaceFiles", PropKind::Map),
        PropSpec::optional("warningOnStdErr", PropKind::Boolean),
        PropSpec::optional("failFast", PropKind::Boolean),
        PropSpec::optional("taskRunner", PropKind::Map),
        PropSpec::optional("containerImage", PropKind::String),
        PropSpec::optional("runner", PropKind::String),
        PropSpec::optional("docker", PropKind::Map),
    ],
    build: cli::build,
};

pub fn register(r: &mut Registry) {
    r.register(DBT_CLI);
}
