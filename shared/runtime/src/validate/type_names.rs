//! Legacy type names resolved from the declarations of the types: each
//! task lists its old names in its plugin declaration (`aliases = [...]`),
//! each trigger in its trigger declaration, each flowable in its flowable
//! declaration — no table of its own. The loader gives [`current`] to the
//! flow model (`Flow::from_value_with`); the schema and the migration use
//! [`normalize`].

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::model::types;
use crate::plugins::Registry;

/// Legacy name → current name, for every built-in task and trigger.
static LEGACY: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    let registry = Registry::builtin();
    let mut map = HashMap::new();
    for name in registry.names() {
        if let Some(def) = registry.get(name) {
            for alias in def.aliases {
                map.insert(*alias, def.type_name);
            }
        }
    }
    for def in crate::triggers::defs() {
        for alias in def.aliases {
            map.insert(*alias, def.type_name);
        }
    }
    map
});

/// The current name of a task or trigger type written under a legacy name.
pub fn current(written: &str) -> Option<&'static str> {
    LEGACY.get(written).copied()
}

/// The current name of any type as written (itself when it is current or
/// unknown): tasks, triggers and flowables alike.
pub fn normalize(written: &str) -> &str {
    current(written).unwrap_or_else(|| types::normalize(written))
}

#[cfg(test)]
mod tests {
    #[test]
    fn legacy_names_come_from_the_declarations() {
        use super::normalize;
        assert_eq!(normalize("io.kestra.core.tasks.log.Log"), "io.kestra.plugin.core.log.Log");
        assert_eq!(normalize("io.kestra.core.tasks.scripts.Bash"), "io.kestra.plugin.scripts.shell.Commands");
        assert_eq!(normalize("io.kestra.plugin.fs.http.Download"), "io.kestra.plugin.core.http.Download");
        assert_eq!(
            normalize("io.kestra.core.models.triggers.types.Schedule"),
            "io.kestra.plugin.core.trigger.Schedule"
        );
        assert_eq!(normalize("io.kestra.core.models.triggers.types.Flow"), "io.kestra.plugin.core.trigger.Flow");
        assert_eq!(normalize("io.kestra.core.tasks.flows.EachParallel"), "io.kestra.plugin.core.flow.EachParallel");
        assert_eq!(normalize("io.kestra.plugin.core.log.Log"), "io.kestra.plugin.core.log.Log");
        assert_eq!(normalize("com.example.Unknown"), "com.example.Unknown");
    }
}
