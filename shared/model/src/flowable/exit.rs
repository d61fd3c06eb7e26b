//! `core.execution.Exit`: ends the execution in the state it names. The
//! executor's rule: `baton-executor`'s `blocks::exit`.

use baton_derive::Declare;
use serde::Deserialize;

use super::lenient;

/// End the execution now.
///
/// Ends the execution in `state`, killing what still runs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Declare)]
#[serde(rename_all = "camelCase", default)]
#[plugin(
    type = "io.kestra.plugin.core.execution.Exit",
    example = "id: done\ntype: io.kestra.plugin.core.execution.Exit\nstate: SUCCESS\n"
)]
pub struct Exit {
    /// The execution's final state (CANCELED in 1.x, CANCELLED in 2.0).
    #[serde(deserialize_with = "lenient::opt_scalar")]
    #[prop(kind = "String", values = ["SUCCESS", "WARNING", "KILLED", "FAILED", "CANCELED", "CANCELLED"], default = "\"SUCCESS\"")]
    pub state: Option<String>,
}
