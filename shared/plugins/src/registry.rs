//! The plugin registry: Kestra type name (and aliases) → how to build the
//! task, which worker group runs it, and its property schema for
//! validation. Built explicitly; each plugin group adds itself.

use std::collections::HashMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_aux::serde_introspection::serde_introspect;
use serde_json::{Map, Value};

use super::{RunnableTask, TaskError};
use baton_model::types;

pub use baton_model::decl::{Declared, PropDecl, TypeDecl};
pub use baton_model::props::{PropKind, PropSpec};

/// Builds a task from its rendered properties.
pub type BuildFn = fn(&Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError>;

/// A registered plugin: its declaration (derived from its properties
/// struct by `#[derive(Declare)]`) and how to build the task. The fields
/// before `decl` are views of it, kept for the validator's and the
/// registry's lookups.
#[derive(Clone, Copy)]
pub struct PluginDef {
    /// The current Kestra type name.
    pub type_name: &'static str,
    /// Its legacy names (older Kestra versions, moved plugins).
    pub aliases: &'static [&'static str],
    /// The worker group (and tasks topic) that runs it.
    pub group: &'static str,
    pub props: &'static [PropSpec],
    pub build: BuildFn,
    /// Everything about the type: the fields above, its docs, outputs,
    /// defaults, enum values, unrendered properties and value checks.
    pub decl: &'static TypeDecl,
    /// serde's own field names of the struct `build` parses, when serde
    /// tells them (not through `flatten`): what the registry's test holds
    /// the declaration to.
    pub parsed: Option<fn() -> &'static [&'static str]>,
}

impl PluginDef {
    /// The plugin declared and parsed by its properties struct `P`, built
    /// by `build`. Call it once per process (a `LazyLock` static): the
    /// declaration is kept for the life of the process.
    pub fn declare<P: Declared + DeserializeOwned>(build: BuildFn) -> PluginDef {
        PluginDef { parsed: Some(serde_introspect::<P>), ..PluginDef::declare_as::<P>(build) }
    }

    /// The plugin declared by `T` (a task or marker struct whose
    /// `#[plugin(props = ...)]` names the properties struct several types
    /// share, or a type with no properties).
    pub fn declare_as<T: Declared>(build: BuildFn) -> PluginDef {
        let (decl, props) = baton_model::decl::leak_declaration::<T>();
        PluginDef {
            type_name: decl.type_name,
            aliases: decl.aliases,
            group: decl.group,
            props,
            build,
            decl,
            parsed: None,
        }
    }

    /// The same, telling the registry's test which struct `build` parses.
    pub fn parsed_by<P: DeserializeOwned>(self) -> PluginDef {
        PluginDef { parsed: Some(serde_introspect::<P>), ..self }
    }
}

/// Type name → plugin.
#[derive(Clone, Default)]
pub struct Registry {
    defs: HashMap<String, Arc<PluginDef>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The registry with every plugin group compiled into this build.
    pub fn builtin() -> Registry {
        let mut r = Registry::new();
        super::core::register(&mut r);
        super::scripts::register(&mut r);
        #[cfg(feature = "compress")]
        super::compress::register(&mut r);
        #[cfg(feature = "serdes")]
        super::serdes::register(&mut r);
        super::jdbc::register(&mut r);
        #[cfg(feature = "gcp")]
        super::gcp::register(&mut r);
        #[cfg(feature = "git")]
        super::git::register(&mut r);
        #[cfg(feature = "dbt")]
        super::dbt::register(&mut r);
        #[cfg(feature = "github")]
        super::github::register(&mut r);
        #[cfg(feature = "notifications")]
        super::notifications::register(&mut r);
        super::ai::register(&mut r);
        super::graphql::register(&mut r);
        super::hightouch::register(&mut r);
        super::jenkins::register(&mut r);
        super::cloudflare::register(&mut r);
        super::apify::register(&mut r);
        super::odoo::register(&mut r);
        super::jira::register(&mut r);
        super::gitlab::register(&mut r);
        super::klaviyo::register(&mut r);
        super::servicenow::register(&mut r);
        super::airbyte::register(&mut r);
        super::sockets::register(&mut r);
        super::fs_local::register(&mut r);
        #[cfg(feature = "aws")]
        super::aws::register(&mut r);
        #[cfg(feature = "redis")]
        super::redis::register(&mut r);
        #[cfg(feature = "mqtt")]
        super::mqtt::register(&mut r);
        #[cfg(feature = "nats")]
        super::nats::register(&mut r);
        #[cfg(feature = "amqp")]
        super::amqp::register(&mut r);
        #[cfg(feature = "kafka")]
        super::kafka::register(&mut r);
        r
    }

    pub fn register(&mut self, def: PluginDef) {
        let def = Arc::new(def);
        self.defs.insert(def.type_name.to_string(), def.clone());
        for a in def.aliases {
            self.defs.insert((*a).to_string(), def.clone());
        }
    }

    /// The plugin for a type name as written (legacy names accepted).
    pub fn get(&self, type_name: &str) -> Option<&Arc<PluginDef>> {
        self.defs.get(type_name).or_else(|| self.defs.get(types::normalize(type_name)))
    }

    /// True if the type is a known flowable or a registered plugin.
    pub fn knows(&self, type_name: &str) -> bool {
        types::flowable_kind(types::normalize(type_name)).is_some() || self.get(type_name).is_some()
    }

    /// All registered type names, sorted (for "did you mean" hints).
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.defs.keys().map(String::as_str).collect();
        v.sort();
        v
    }
}

/// Takes `def`'s properties declared `#[prop(unrendered)]` — expressions
/// Kestra does not render before the task runs, which the task renders
/// itself once per item (non-dynamic `@PluginProperty`) — out of `props`,
/// to put back after the others are rendered.
pub fn take_unrendered(def: &PluginDef, props: &mut Map<String, Value>) -> Vec<(String, Value)> {
    let keys: Vec<&str> = def.decl.unrendered().collect();
    keys.into_iter().filter_map(|k| props.remove(k).map(|v| (k.to_string(), v))).collect()
}

impl Registry {
    /// The current type names (no legacy aliases), sorted: what a "did you
    /// mean" hint may propose.
    pub fn canonical_names(&self) -> Vec<&str> {
        // internal types (`ForEachItem$…`) are never written by a user
        let mut v: Vec<&str> = self.defs.values().map(|d| d.type_name).filter(|n| !n.contains('$')).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Each registered plugin once (no internal `…$…` types), sorted by
    /// type name: what the plugin catalogue (the schema module of the `shared` crate) describes.
    pub fn plugin_defs(&self) -> Vec<&PluginDef> {
        let mut v: Vec<&PluginDef> =
            self.defs.values().map(|d| d.as_ref()).filter(|d| !d.type_name.contains('$')).collect();
        v.sort_by_key(|d| d.type_name);
        v.dedup_by_key(|d| d.type_name);
        v
    }

    /// The distinct worker groups of the registered plugins.
    pub fn groups(&self) -> Vec<String> {
        let mut g: Vec<String> = self.defs.values().map(|d| d.group.to_string()).collect();
        g.sort();
        g.dedup();
        g
    }
}

/// The plugin family a type name belongs to when this build of Baton leaves
/// that family out (a cargo feature not enabled, or a serdes format Baton
/// does not implement), with how to get it: what
/// the validator adds to "unknown type", so a flow is never silently run
/// without its tasks or triggers.
pub fn left_out(type_name: &str) -> Option<&'static str> {
    left_out_of(FAMILIES, type_name)
}

/// The families a cargo feature leaves out, and the serdes formats Baton
/// does not implement: type-name prefix, what the user is told, whether
/// this build has them.
const FAMILIES: &[(&str, &str, bool)] = &[
    (
        "io.kestra.plugin.gcp.",
        "the Google Cloud plugins are not in this build of baton (build it with `--features gcp`)",
        cfg!(feature = "gcp"),
    ),
    (
        "io.kestra.plugin.git.",
        "the Git plugins are not in this build of baton (build it with `--features git`)",
        cfg!(feature = "git"),
    ),
    (
        "io.kestra.plugin.compress.",
        "the compress plugins are not in this build of baton (build it with `--features compress`)",
        cfg!(feature = "compress"),
    ),
    (
        "io.kestra.plugin.serdes.",
        "the serdes plugins are not in this build of baton (build it with `--features serdes`)",
        cfg!(feature = "serdes"),
    ),
    // serdes formats not implemented yet: refused by name, whatever the build
    ("io.kestra.plugin.serdes.yaml.", "Baton does not implement the YAML serdes tasks (yet)", false),
    ("io.kestra.plugin.serdes.markdown.", "Baton does not implement the Markdown serdes tasks (yet)", false),
    ("io.kestra.plugin.serdes.protobuf.", "Baton does not implement the Protobuf serdes tasks (yet)", false),
    (
        "io.kestra.plugin.dbt.",
        "the dbt plugins are not in this build of baton (build it with `--features dbt`)",
        cfg!(feature = "dbt"),
    ),
    (
        "io.kestra.plugin.github.",
        "the GitHub plugins are not in this build of baton (build it with `--features github`)",
        cfg!(feature = "github"),
    ),
    // GitHub types Baton does not implement: refused by name, whatever the build
    ("io.kestra.plugin.github.code.", "Baton does not implement the GitHub code search task (yet)", false),
    ("io.kestra.plugin.github.commits.", "Baton does not implement the GitHub commit search task (yet)", false),
    ("io.kestra.plugin.github.topics.", "Baton does not implement the GitHub topic search task (yet)", false),
    ("io.kestra.plugin.github.users.", "Baton does not implement the GitHub user search task (yet)", false),
    ("io.kestra.plugin.github.projects.", "Baton does not implement the GitHub projects tasks (yet)", false),
    ("io.kestra.plugin.github.auth.", "Baton does not implement the GitHub App token task (yet)", false),
    (
        "io.kestra.plugin.notifications.",
        "the notification plugins are not in this build of baton (build it with `--features notifications`)",
        cfg!(feature = "notifications"),
    ),
    // Redis: the RedisJSON and vector tasks need server modules (Redis Stack)
    // no test here has; the CLI is not implemented
    (
        "io.kestra.plugin.redis.json.",
        "Baton does not implement the RedisJSON tasks (yet): they need the RedisJSON server module",
        false,
    ),
    (
        "io.kestra.plugin.redis.vector.",
        "Baton does not implement the Redis vector tasks (yet): they need Redis Stack",
        false,
    ),
    ("io.kestra.plugin.redis.cli.", "Baton does not implement RedisCLI (yet)", false),
    (
        "io.kestra.plugin.redis.",
        "the Redis plugins are not in this build of baton (build it with `--features redis`)",
        cfg!(feature = "redis"),
    ),
    (
        "io.kestra.plugin.kafka.",
        "the Kafka plugins are not in this build of baton (build it with `--features kafka`)",
        cfg!(feature = "kafka"),
    ),
    (
        "io.kestra.plugin.nats.",
        "the NATS plugins are not in this build of baton (build it with `--features nats`)",
        cfg!(feature = "nats"),
    ),
    (
        "io.kestra.plugin.amqp.",
        "the AMQP plugins are not in this build of baton (build it with `--features amqp`)",
        cfg!(feature = "amqp"),
    ),
    (
        "io.kestra.plugin.mqtt.",
        "the MQTT plugins are not in this build of baton (build it with `--features mqtt`)",
        cfg!(feature = "mqtt"),
    ),
    (
        "io.kestra.plugin.aws.s3.",
        "the AWS S3 plugins are not in this build of baton (build it with `--features aws`)",
        cfg!(feature = "aws"),
    ),
    (
        "io.kestra.plugin.aws.eventbridge.PutEvents",
        "the AWS plugins are not in this build of baton (build it with `--features aws`)",
        cfg!(feature = "aws"),
    ),
    (
        "io.kestra.plugin.aws.dynamodb.",
        "the AWS DynamoDB plugins are not in this build of baton (build it with `--features aws`)",
        cfg!(feature = "aws"),
    ),
    (
        "io.kestra.plugin.aws.kinesis.RealtimeTrigger",
        "Baton does not implement the Kinesis realtime trigger (yet): use the polling io.kestra.plugin.aws.kinesis.Trigger",
        false,
    ),
    (
        "io.kestra.plugin.aws.kinesis.",
        "the AWS Kinesis plugins are not in this build of baton (build it with `--features aws`)",
        cfg!(feature = "aws"),
    ),
    (
        "io.kestra.plugin.aws.sqs.",
        "the AWS SQS plugins are not in this build of baton (build it with `--features aws`)",
        cfg!(feature = "aws"),
    ),
    (
        "io.kestra.plugin.aws.athena.Query",
        "the AWS plugins are not in this build of baton (build it with `--features aws`)",
        cfg!(feature = "aws"),
    ),
    (
        "io.kestra.plugin.aws.ecr.GetAuthToken",
        "the AWS plugins are not in this build of baton (build it with `--features aws`)",
        cfg!(feature = "aws"),
    ),
    // the other AWS services: refused by name, whatever the build (the CLI task is the scripts')
    ("io.kestra.plugin.aws.cli.", "", true),
    (
        "io.kestra.plugin.aws.",
        "Baton implements only the AWS S3, SQS, DynamoDB and Kinesis tasks and triggers (io.kestra.plugin.aws.s3.*, aws.sqs.*, aws.dynamodb.*, aws.kinesis.*), aws.athena.Query, aws.eventbridge.PutEvents, aws.ecr.GetAuthToken and aws.cli.AwsCLI yet",
        false,
    ),
];

fn left_out_of(families: &[(&str, &'static str, bool)], type_name: &str) -> Option<&'static str> {
    // the longest prefix decides (`aws.s3.` is built, the rest of `aws.` is not)
    families
        .iter()
        .filter(|(prefix, _, _)| type_name.starts_with(prefix))
        .max_by_key(|(prefix, _, _)| prefix.len())
        .filter(|(_, _, built)| !built)
        .map(|(_, why, _)| *why)
}

#[cfg(test)]
mod tests;
