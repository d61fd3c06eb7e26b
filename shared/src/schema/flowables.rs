//! The flowable task types (run by the executor, not a worker), described
//! once: each type's own properties with their kinds, and which of them
//! are required (a list of alternatives: one of them must be given). The
//! validator (`validate::tasks`) refuses any other key; their child task
//! lists (`tasks`, `then`, `cases`…) are `FlowableKind::child_keys`.

use crate::model::types::{FlowableKind, LOOP_TYPE};
use crate::plugins::{PropKind, PropSpec};

/// One flowable type.
pub struct FlowableDef {
    pub type_name: &'static str,
    pub kind: FlowableKind,
    /// Its own properties (besides the common task keys and child lists).
    pub props: &'static [PropSpec],
    /// Each entry: one of these keys must be given.
    pub required_any: &'static [&'static [&'static str]],
    /// A legacy type Kestra keeps for old flows.
    pub deprecated: bool,
}

const fn def(
    type_name: &'static str,
    kind: FlowableKind,
    props: &'static [PropSpec],
    required_any: &'static [&'static [&'static str]],
) -> FlowableDef {
    FlowableDef { type_name, kind, props, required_any, deprecated: false }
}

const CONCURRENT: PropSpec = PropSpec::optional("concurrent", PropKind::Integer);
const FOR_EACH: &[PropSpec] = &[
    PropSpec::optional("values", PropKind::Any),
    PropSpec::optional("value", PropKind::Any),
    PropSpec::optional("concurrencyLimit", PropKind::Integer),
    CONCURRENT,
];
const SUBFLOW_COMMON: [PropSpec; 7] = [
    PropSpec::required("namespace", PropKind::String),
    PropSpec::required("flowId", PropKind::String),
    PropSpec::optional("inputs", PropKind::Map),
    PropSpec::optional("labels", PropKind::Any),
    PropSpec::optional("wait", PropKind::Boolean),
    PropSpec::optional("transmitFailed", PropKind::Boolean),
    PropSpec::optional("inheritLabels", PropKind::Boolean),
];

static DEFS: &[FlowableDef] = &[
    def("io.kestra.plugin.core.flow.Sequential", FlowableKind::Sequential, &[], &[]),
    def("io.kestra.plugin.core.flow.Parallel", FlowableKind::Parallel, &[CONCURRENT], &[]),
    def(
        "io.kestra.plugin.core.flow.If",
        FlowableKind::If,
        &[PropSpec::required("condition", PropKind::String)],
        &[&["condition"]],
    ),
    def(
        "io.kestra.plugin.core.flow.Switch",
        FlowableKind::Switch,
        &[PropSpec::required("value", PropKind::String)],
        &[&["value"]],
    ),
    def("io.kestra.plugin.core.flow.ForEach", FlowableKind::ForEach, FOR_EACH, &[&["values", "value"]]),
    FlowableDef {
        deprecated: true,
        ..def("io.kestra.plugin.core.flow.EachSequential", FlowableKind::ForEach, FOR_EACH, &[&["values", "value"]])
    },
    FlowableDef {
        deprecated: true,
        ..def("io.kestra.plugin.core.flow.EachParallel", FlowableKind::ForEach, FOR_EACH, &[&["values", "value"]])
    },
    def(
        LOOP_TYPE,
        FlowableKind::ForEach,
        &[
            PropSpec::required("values", PropKind::Any),
            PropSpec::optional("concurrencyLimit", PropKind::Integer),
            PropSpec::optional("transmitFailed", PropKind::Boolean),
            PropSpec::optional("outputs", PropKind::List),
            PropSpec::optional("fetchType", PropKind::String),
            PropSpec::optional("breakWhen", PropKind::String),
        ],
        &[&["values"]],
    ),
    def(
        "io.kestra.plugin.core.flow.WorkingDirectory",
        FlowableKind::WorkingDirectory,
        &[
            PropSpec::optional("inputFiles", PropKind::Any),
            PropSpec::optional("outputFiles", PropKind::StringOrList),
            PropSpec::optional("namespaceFiles", PropKind::Map),
            PropSpec::optional("cache", PropKind::Map),
        ],
        &[],
    ),
    def(
        "io.kestra.plugin.core.flow.Subflow",
        FlowableKind::Subflow,
        &[
            SUBFLOW_COMMON[0],
            SUBFLOW_COMMON[1],
            SUBFLOW_COMMON[2],
            SUBFLOW_COMMON[3],
            SUBFLOW_COMMON[4],
            SUBFLOW_COMMON[5],
            SUBFLOW_COMMON[6],
            PropSpec::optional("revision", PropKind::Integer),
            PropSpec::optional("outputs", PropKind::Map),
            PropSpec::optional("restartBehavior", PropKind::String),
        ],
        &[&["namespace"], &["flowId"]],
    ),
    def(
        "io.kestra.plugin.core.flow.Pause",
        FlowableKind::Pause,
        &[
            PropSpec::optional("delay", PropKind::Duration),
            PropSpec::optional("pauseDuration", PropKind::Duration),
            PropSpec::optional("behavior", PropKind::String),
            PropSpec::optional("onResume", PropKind::List),
        ],
        &[],
    ),
    def("io.kestra.plugin.core.flow.AllowFailure", FlowableKind::AllowFailure, &[], &[]),
    def(
        "io.kestra.plugin.core.flow.WaitFor",
        FlowableKind::WaitFor,
        &[
            PropSpec::required("condition", PropKind::String),
            PropSpec::optional("checkFrequency", PropKind::Map),
            PropSpec::optional("failOnMaxReached", PropKind::Boolean),
        ],
        &[&["condition"]],
    ),
    def(
        crate::model::types::LOOP_UNTIL_TYPE,
        FlowableKind::WaitFor,
        &[
            PropSpec::required("condition", PropKind::String),
            PropSpec::optional("checkFrequency", PropKind::Map),
            PropSpec::optional("failOnMaxReached", PropKind::Boolean),
        ],
        &[&["condition"]],
    ),
    def("io.kestra.plugin.core.flow.Dag", FlowableKind::Dag, &[CONCURRENT], &[]),
    def(
        "io.kestra.plugin.core.execution.Exit",
        FlowableKind::Exit,
        &[PropSpec::optional("state", PropKind::String)],
        &[],
    ),
    def(
        "io.kestra.plugin.core.flow.ForEachItem",
        FlowableKind::ForEachItem,
        &[
            PropSpec::required("items", PropKind::String),
            PropSpec::optional("batch", PropKind::Map),
            SUBFLOW_COMMON[0],
            SUBFLOW_COMMON[1],
            SUBFLOW_COMMON[2],
            SUBFLOW_COMMON[3],
            SUBFLOW_COMMON[4],
            SUBFLOW_COMMON[5],
            SUBFLOW_COMMON[6],
            PropSpec::optional("revision", PropKind::Integer),
        ],
        &[&["items"], &["namespace"], &["flowId"]],
    ),
];

/// Every flowable type.
pub fn defs() -> &'static [FlowableDef] {
    DEFS
}

/// The flowable type named `type_name` (a current name: normalize first).
pub fn find(type_name: &str) -> Option<&'static FlowableDef> {
    DEFS.iter().find(|d| d.type_name == type_name)
}

/// The spec of property `key` of `def`.
pub fn prop(def: &'static FlowableDef, key: &str) -> Option<&'static PropSpec> {
    def.props.iter().find(|p| p.name == key)
}
