//! A migrated flow checked as Kestra 2.0: the real validator
//! ([`crate::validate::validate_source_with`]) with the dialect forced to
//! 2.0, as a server started with `--dialect 2` reads it. Whatever it
//! reports is what the migration left invalid (a rule missing, or a 2.0
//! construct Baton does not run yet), located in the migrated text.

use crate::dialect::{Dialect, Policy};
use crate::plugins::Registry;
use crate::template::Renderer;
use crate::validate::{Diagnostic, validate_source_with};

/// The policy a migrated flow is checked under: every flow is 2.0 (a
/// `baton.dialect` label still wins, as it does on a server).
pub const V2: Policy = Policy { force: Some(Dialect::V2), default: Dialect::V1 };

/// Every problem of `migrated` read as a Kestra 2.0 flow; `file` names it
/// in the diagnostics (`file:line:column`, lines of the migrated text).
pub fn validate_v2(file: &str, migrated: &str, registry: &Registry, renderer: &Renderer) -> Vec<Diagnostic> {
    validate_source_with(file, migrated, registry, renderer, V2).diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str) -> Vec<String> {
        let m = crate::migrate::migrate(src).expect("migrates");
        validate_v2("f.yaml", &m.output, &Registry::builtin(), &Renderer::new())
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_migrated_foreach_flow_validates_as_2_0() {
        let src = "id: f\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [a, b]\n    tasks:\n      - id: l\n        type: io.kestra.core.tasks.log.Log\n        message: \"{{ taskrun.value | json }}\"\n";
        assert_eq!(check(src), Vec::<String>::new());
        // the same flow unmigrated is refused as 2.0, naming the replacement
        let raw: Vec<String> = validate_v2("f.yaml", src, &Registry::builtin(), &Renderer::new())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(raw.iter().any(|d| d.starts_with("f.yaml:5:5: tasks[0].type") && d.contains("Loop")), "{raw:?}");
    }

    // the Google Cloud types' declarations say which properties they have
    #[cfg(feature = "gcp")]
    #[test]
    fn prefix_defaults_a_task_type_lacks_are_not_inlined() {
        let src = "\
id: f
namespace: n
tasks:
  - id: up
    type: io.kestra.plugin.gcp.gcs.Upload
    from: a.csv
    to: gs://b/a.csv
  - id: q
    type: io.kestra.plugin.gcp.bigquery.Query
    sql: select 1
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      projectId: p
      location: EU
      bucket: b
";
        let m = crate::migrate::migrate(src).expect("migrates");
        assert!(!m.output.contains("bucket"), "{}", m.output);
        // Upload has no location, Query has one
        assert_eq!(m.output.matches("location: EU").count(), 1, "{}", m.output);
        assert_eq!(m.output.matches("projectId: p").count(), 2, "{}", m.output);
        assert!(m.findings.iter().any(|f| f.message.contains("'bucket' not inlined")), "{:?}", m.findings);
        assert_eq!(check(src), Vec::<String>::new());
    }

    #[test]
    fn flow_trigger_conditions_migrate_to_a_valid_depends_on() {
        let src = "\
id: f
namespace: n
tasks:
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: up
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.team
        flowId: upstream
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS, WARNING]
";
        assert!(crate::migrate::migrate(src).expect("migrates").output.contains("dependsOn:"));
        assert_eq!(check(src), Vec::<String>::new());
    }
}
