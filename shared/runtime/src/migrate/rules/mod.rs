//! The migration rules, one file per construct, in the order they run:
//! type names first (so later rules match canonical names), then what
//! moves text around (pluginDefaults inlined, loops), then expression-level
//! and property-level rewrites, then what is only reported.

mod conditions;
mod inputs;
mod legacy;
mod loops;
mod pebble;
mod plugin_defaults;
mod preconditions;
mod removed;
mod types;

#[cfg(test)]
pub(crate) mod testing;

use super::Rule;

/// Every rule, in order.
pub const ALL: &[Rule] = &[
    Rule { name: "types", apply: types::apply },
    Rule { name: "plugin-defaults", apply: plugin_defaults::apply },
    Rule { name: "loop", apply: loops::apply },
    Rule { name: "legacy", apply: legacy::apply },
    Rule { name: "pebble", apply: pebble::apply },
    Rule { name: "canceled", apply: pebble::canceled },
    Rule { name: "inputs", apply: inputs::apply },
    Rule { name: "trigger-inputs", apply: inputs::trigger_inputs },
    Rule { name: "conditions", apply: conditions::apply },
    Rule { name: "preconditions", apply: preconditions::apply },
    Rule { name: "removed", apply: removed::apply },
];
