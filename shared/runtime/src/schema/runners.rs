//! The task runners a script task may name in `taskRunner` (Kestra's
//! `core.runner.Process`, `scripts.runner.docker.Docker` and the GCP
//! `CloudRun` runner), as their types declare them
//! (`plugins::scripts::runner_types`). The validator checks a written
//! `taskRunner` against these definitions.

use std::sync::LazyLock;

use crate::model::decl::leak_declaration;
use crate::plugins::scripts::runner_types::{CloudRunRunner, DockerRunner, ProcessRunner};
use crate::plugins::{Declared, PropSpec, TypeDecl};

/// One task runner type.
pub struct RunnerDef {
    pub type_name: &'static str,
    pub aliases: &'static [&'static str],
    /// Its properties, besides `type`.
    pub props: &'static [PropSpec],
    /// Everything about it: words, each property's kind, default and values.
    pub decl: &'static TypeDecl,
}

pub use crate::plugins::scripts::runner::{CLOUD_RUN, DOCKER, PROCESS};

fn declare<D: Declared>() -> RunnerDef {
    let (decl, props) = leak_declaration::<D>();
    RunnerDef { type_name: decl.type_name, aliases: decl.aliases, props, decl }
}

/// Every task runner type.
pub fn defs() -> &'static [RunnerDef] {
    static DEFS: LazyLock<Vec<RunnerDef>> =
        LazyLock::new(|| vec![declare::<ProcessRunner>(), declare::<DockerRunner>(), declare::<CloudRunRunner>()]);
    &DEFS
}

/// The runner type named `type_name`.
pub fn find(type_name: &str) -> Option<&'static RunnerDef> {
    defs().iter().find(|d| d.type_name == type_name || d.aliases.contains(&type_name))
}
