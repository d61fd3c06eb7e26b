//! Every registered plugin's declaration held to the struct its task
//! parses: serde's own field names (read by `serde_introspect`) are
//! exactly the declared properties, so a field added without being
//! declared, or a property declared that nothing parses, fails here.

use std::collections::BTreeSet;

use super::*;

#[test]
fn every_declaration_lists_exactly_what_its_task_parses() {
    let r = Registry::builtin();
    let mut defs: Vec<&PluginDef> = r.defs.values().map(|d| d.as_ref()).collect();
    defs.sort_by_key(|d| d.type_name);
    defs.dedup_by_key(|d| d.type_name);
    let mut checked = Vec::new();
    // properties gathered from several structs parsed one by one (so an
    // error names its property), or through `flatten`, whose fields serde
    // does not list: their parts are derived from the structs themselves
    let mut assembled = Vec::new();
    for def in &defs {
        assert_eq!(def.type_name, def.decl.type_name);
        let declared: BTreeSet<&str> = def.decl.props.iter().map(|p| p.name).collect();
        assert_eq!(declared.len(), def.decl.props.len(), "{}: a property declared twice", def.type_name);
        let specs: BTreeSet<&str> = def.props.iter().map(|p| p.name).collect();
        assert_eq!(specs, declared, "{}: the registry's view of the declaration", def.type_name);
        let Some(parsed) = def.parsed else {
            assembled.push(def.type_name);
            continue;
        };
        let fields: BTreeSet<&str> = parsed().iter().copied().collect();
        if fields.is_empty() && !declared.is_empty() {
            assembled.push(def.type_name);
            continue;
        }
        assert_eq!(declared, fields, "{}: declared properties vs the fields serde parses", def.type_name);
        checked.push(def.type_name);
    }
    assert!(checked.len() >= 40, "checked {} of {}: {checked:?}", checked.len(), defs.len());
    assert!(checked.contains(&"io.kestra.plugin.core.execution.Count"), "{checked:?}");
}

#[test]
fn a_declaration_that_drifts_from_its_struct_is_caught() {
    use serde::Deserialize;

    use crate::Declare;

    /// A type.
    #[derive(Deserialize, Declare)]
    #[serde(rename_all = "camelCase")]
    #[plugin(type = "io.example.Drift", group = "core")]
    #[allow(dead_code)]
    struct Declared {
        /// One.
        some_value: String,
        /// Skipped by serde, so not a property.
        #[serde(skip)]
        internal: u8,
    }
    /// What a build might parse instead: one more field.
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Parsed {
        #[serde(rename = "someValue")]
        some_value: String,
        extra: Option<String>,
    }
    fn build(_: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
        Err(TaskError::failed("never built"))
    }
    let same = PluginDef::declare::<Declared>(build);
    assert_eq!((same.parsed.expect("introspected"))(), ["someValue"]);
    assert_eq!(same.decl.props.iter().map(|p| p.name).collect::<Vec<_>>(), ["someValue"]);
    let drifted = PluginDef::declare_as::<Declared>(build).parsed_by::<Parsed>();
    let fields: BTreeSet<&str> = (drifted.parsed.expect("introspected"))().iter().copied().collect();
    let declared: BTreeSet<&str> = drifted.decl.props.iter().map(|p| p.name).collect();
    assert_ne!(fields, declared, "the test above would fail on this plugin");
}

/// A type of a family this build leaves out is named with the feature that
/// brings it; built families and other types are not.
#[test]
fn a_left_out_family_names_its_feature() {
    let gcp_out = [("io.kestra.plugin.gcp.", "build it with `--features gcp`", false)];
    assert_eq!(left_out_of(&gcp_out, "io.kestra.plugin.gcp.gcs.Upload"), Some("build it with `--features gcp`"));
    assert_eq!(left_out_of(&gcp_out, "io.kestra.plugin.core.log.Log"), None);
    let gcp_in = [("io.kestra.plugin.gcp.", "x", true)];
    assert_eq!(left_out_of(&gcp_in, "io.kestra.plugin.gcp.gcs.Upload"), None);
    // this build: the gcp family is there exactly when the feature is on
    assert_eq!(left_out("io.kestra.plugin.gcp.bigquery.Query").is_some(), !cfg!(feature = "gcp"));
    assert_eq!(Registry::builtin().get("io.kestra.plugin.gcp.bigquery.Query").is_some(), cfg!(feature = "gcp"));
    // and so for every family a feature brings
    let r = Registry::builtin();
    for (t, built) in [
        ("io.kestra.plugin.git.Clone", cfg!(feature = "git")),
        ("io.kestra.plugin.compress.ArchiveCompress", cfg!(feature = "compress")),
        ("io.kestra.plugin.dbt.cli.DbtCLI", cfg!(feature = "dbt")),
        ("io.kestra.plugin.notifications.slack.SlackExecution", cfg!(feature = "notifications")),
        ("io.kestra.plugin.notifications.mail.MailSend", cfg!(feature = "notifications")),
        ("io.kestra.plugin.serdes.csv.CsvToIon", cfg!(feature = "serdes")),
        ("io.kestra.plugin.aws.s3.Upload", cfg!(feature = "aws")),
    ] {
        assert_eq!(r.get(t).is_some(), built, "{t}");
        assert_eq!(left_out(t).is_none(), built, "{t}");
    }
}

#[test]
fn other_aws_services_are_refused_by_name() {
    let why = left_out("io.kestra.plugin.aws.lambda.Invoke").expect("refused");
    assert!(why.contains("only the AWS S3"), "{why}");
    assert_eq!(left_out("io.kestra.plugin.aws.s3.List").is_some(), !cfg!(feature = "aws"));
    assert_eq!(left_out("io.kestra.plugin.aws.cli.AwsCLI"), None);
}
