//! The task runners a script task may name in `taskRunner` (Kestra's
//! `core.runner.Process`, `scripts.runner.docker.Docker` and the GCP
//! `CloudRun` runner), with the properties `plugins::scripts::runner`
//! reads. The validator checks a written `taskRunner` against this table.

use crate::plugins::{PropKind, PropSpec};

/// One task runner type.
pub struct RunnerDef {
    pub type_name: &'static str,
    pub aliases: &'static [&'static str],
    /// Its properties, besides `type`.
    pub props: &'static [PropSpec],
}

pub use crate::plugins::scripts::runner::{CLOUD_RUN, DOCKER, PROCESS};

static DEFS: &[RunnerDef] = &[
    RunnerDef { type_name: PROCESS, aliases: &[], props: &[] },
    RunnerDef {
        type_name: DOCKER,
        aliases: &[],
        props: &[
            PropSpec::optional("image", PropKind::String),
            PropSpec::optional("pullPolicy", PropKind::String),
            PropSpec::optional("delete", PropKind::Boolean),
            PropSpec::optional("networkMode", PropKind::String),
            PropSpec::optional("user", PropKind::String),
            PropSpec::optional("cpu", PropKind::Map),
            PropSpec::optional("memory", PropKind::Map),
            PropSpec::optional("shmSize", PropKind::String),
            PropSpec::optional("privileged", PropKind::Boolean),
            PropSpec::optional("portBindings", PropKind::StringOrList),
            PropSpec::optional("volumes", PropKind::StringOrList),
            PropSpec::optional("extraHosts", PropKind::StringOrList),
            PropSpec::optional("entryPoint", PropKind::StringOrList),
            PropSpec::optional("killGracePeriod", PropKind::Duration),
            PropSpec::optional("credentials", PropKind::Map),
            // accepted and logged as not acted on (`runner::IGNORED`)
            PropSpec::optional("host", PropKind::String),
            PropSpec::optional("config", PropKind::Any),
            PropSpec::optional("deviceRequests", PropKind::List),
            PropSpec::optional("fileHandlingStrategy", PropKind::String),
            PropSpec::optional("resume", PropKind::Boolean),
            PropSpec::optional("wait", PropKind::Boolean),
        ],
    },
    RunnerDef {
        type_name: CLOUD_RUN,
        aliases: &[],
        props: &[
            PropSpec::optional("projectId", PropKind::String),
            PropSpec::optional("region", PropKind::String),
            PropSpec::optional("serviceAccount", PropKind::String),
            PropSpec::optional("bucket", PropKind::String),
            // accepted and logged as not acted on (`cloudrun_runner::IGNORED`)
            PropSpec::optional("waitUntilCompletion", PropKind::Boolean),
            PropSpec::optional("completionCheckInterval", PropKind::Duration),
            PropSpec::optional("delete", PropKind::Boolean),
            PropSpec::optional("resume", PropKind::Boolean),
            PropSpec::optional("impersonatedServiceAccount", PropKind::String),
            PropSpec::optional("scopes", PropKind::StringOrList),
            PropSpec::optional("maxRetries", PropKind::Integer),
            PropSpec::optional("syncWorkingDirectory", PropKind::Boolean),
            PropSpec::optional("vpcAccessConnector", PropKind::String),
            PropSpec::optional("vpcEgress", PropKind::String),
            PropSpec::optional("version", PropKind::String),
        ],
    },
];

/// Every task runner type.
pub fn defs() -> &'static [RunnerDef] {
    DEFS
}

/// The runner type named `type_name`.
pub fn find(type_name: &str) -> Option<&'static RunnerDef> {
    DEFS.iter().find(|d| d.type_name == type_name || d.aliases.contains(&type_name))
}
