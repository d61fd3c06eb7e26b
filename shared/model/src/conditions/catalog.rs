//! Every condition type Baton evaluates, described once by its
//! declaration (`#[derive(Declare)]`): Kestra's current name, the older
//! names Kestra still accepts, the properties (kind, required, default,
//! values) and their docs. Validation, the parser, the docs and the JSON
//! Schema read it.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;

use crate::decl::{Declared, TypeDecl};
use crate::props::PropSpec;
use baton_derive::Declare;

/// Kestra's current type names.
pub mod names {
    pub const DAY_WEEK: &str = "io.kestra.plugin.core.condition.DayWeek";
    pub const DAY_WEEK_IN_MONTH: &str = "io.kestra.plugin.core.condition.DayWeekInMonth";
    pub const DATE_TIME_BETWEEN: &str = "io.kestra.plugin.core.condition.DateTimeBetween";
    pub const TIME_BETWEEN: &str = "io.kestra.plugin.core.condition.TimeBetween";
    pub const WEEKEND: &str = "io.kestra.plugin.core.condition.Weekend";
    pub const PUBLIC_HOLIDAY: &str = "io.kestra.plugin.core.condition.PublicHoliday";
    pub const EXPRESSION: &str = "io.kestra.plugin.core.condition.Expression";
    pub const NOT: &str = "io.kestra.plugin.core.condition.Not";
    pub const OR: &str = "io.kestra.plugin.core.condition.Or";
    pub const EXECUTION_FLOW: &str = "io.kestra.plugin.core.condition.ExecutionFlow";
    pub const EXECUTION_NAMESPACE: &str = "io.kestra.plugin.core.condition.ExecutionNamespace";
    pub const EXECUTION_STATUS: &str = "io.kestra.plugin.core.condition.ExecutionStatus";
    pub const EXECUTION_LABELS: &str = "io.kestra.plugin.core.condition.ExecutionLabels";
    pub const EXECUTION_OUTPUTS: &str = "io.kestra.plugin.core.condition.ExecutionOutputs";
    pub const FLOW: &str = "io.kestra.plugin.core.condition.FlowCondition";
    pub const FLOW_NAMESPACE: &str = "io.kestra.plugin.core.condition.FlowNamespaceCondition";
    pub const HAS_RETRY_ATTEMPT: &str = "io.kestra.plugin.core.condition.HasRetryAttempt";
    pub const MULTIPLE: &str = "io.kestra.plugin.core.condition.MultipleCondition";
}

/// One condition type: its declaration, and views of it for the parser's
/// and the validator's lookups.
pub struct ConditionDef {
    pub type_name: &'static str,
    pub aliases: &'static [&'static str],
    /// Its properties, besides `type`.
    pub props: &'static [PropSpec],
    /// Everything about the type: names, words, each property's kind,
    /// default, values and docs.
    pub decl: &'static TypeDecl,
}

impl ConditionDef {
    /// The condition type declared by `D`. Called once per type (the
    /// declarations are kept for the life of the process).
    fn declare<D: Declared>() -> ConditionDef {
        let (decl, props) = crate::decl::leak_declaration::<D>();
        ConditionDef { type_name: decl.type_name, aliases: decl.aliases, props, decl }
    }

    /// The spec of property `key`.
    pub fn prop(&self, key: &str) -> Option<&'static PropSpec> {
        let props: &'static [PropSpec] = self.props;
        props.iter().find(|p| p.name == key)
    }
}

/// Holds on one day of the week.
///
/// Tests the date's day of the week.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::DAY_WEEK,
    aliases = ["io.kestra.core.models.conditions.types.DayWeekCondition", "io.kestra.plugin.core.condition.DayWeekCondition"],
    example = "type: io.kestra.plugin.core.condition.DayWeek\ndayOfWeek: MONDAY\n",
)]
struct DayWeekDecl {
    /// The date tested; the trigger's date when absent.
    #[prop(kind = "String", default = "\"{{ trigger.date }}\"", dynamic)]
    date: Option<Value>,
    /// The day of the week.
    #[prop(kind = "String", required, values = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"])]
    day_of_week: Option<Value>,
}

/// Holds on the first, second… or last such day of the month.
///
/// Tests the date's day of the week and its rank in the month.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::DAY_WEEK_IN_MONTH,
    aliases = ["io.kestra.core.models.conditions.types.DayWeekInMonthCondition", "io.kestra.plugin.core.condition.DayWeekInMonthCondition"],
    example = "type: io.kestra.plugin.core.condition.DayWeekInMonth\ndayOfWeek: FRIDAY\ndayInMonth: LAST\n",
)]
struct DayWeekInMonthDecl {
    /// The date tested; the trigger's date when absent.
    #[prop(kind = "String", default = "\"{{ trigger.date }}\"", dynamic)]
    date: Option<Value>,
    /// The day of the week.
    #[prop(kind = "String", required, values = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"])]
    day_of_week: Option<Value>,
    /// Which one in the month.
    #[prop(kind = "String", required, values = ["FIRST", "SECOND", "THIRD", "FOURTH", "LAST"])]
    day_in_month: Option<Value>,
}

/// Holds between two date-times.
///
/// Tests the date against an ISO-8601 range.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::DATE_TIME_BETWEEN,
    aliases = ["io.kestra.core.models.conditions.types.DateTimeBetweenCondition", "io.kestra.plugin.core.condition.DateTimeBetweenCondition"],
    example = "type: io.kestra.plugin.core.condition.DateTimeBetween\nafter: \"2026-01-01T00:00:00Z\"\nbefore: \"2026-12-31T23:59:59Z\"\n",
)]
struct DateTimeBetweenDecl {
    /// The date tested; the trigger's date when absent.
    #[prop(kind = "String", default = "\"{{ trigger.date }}\"", dynamic)]
    date: Option<Value>,
    /// The start of the range (inclusive, with an offset); open when absent.
    #[prop(kind = "String")]
    after: Option<Value>,
    /// The end of the range (inclusive); open when absent.
    #[prop(kind = "String")]
    before: Option<Value>,
}

/// Holds between two times of day.
///
/// Tests the date's time of day against a range (HH:mm:ss).
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::TIME_BETWEEN,
    aliases = ["io.kestra.core.models.conditions.types.TimeBetweenCondition", "io.kestra.plugin.core.condition.TimeBetweenCondition"],
    example = "type: io.kestra.plugin.core.condition.TimeBetween\nafter: \"08:00:00+00:00\"\nbefore: \"18:00:00+00:00\"\n",
)]
struct TimeBetweenDecl {
    /// The date tested; the trigger's date when absent.
    #[prop(kind = "String", default = "\"{{ trigger.date }}\"", dynamic)]
    date: Option<Value>,
    /// The start of the range (inclusive, with an offset); open when absent.
    #[prop(kind = "String")]
    after: Option<Value>,
    /// The end of the range (inclusive); open when absent.
    #[prop(kind = "String")]
    before: Option<Value>,
}

/// Holds on Saturdays and Sundays.
///
/// Tests whether the date falls on a weekend.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::WEEKEND,
    aliases = ["io.kestra.core.models.conditions.types.WeekendCondition", "io.kestra.plugin.core.condition.WeekendCondition"],
    example = "type: io.kestra.plugin.core.condition.Weekend\n",
)]
struct WeekendDecl {
    /// The date tested; the trigger's date when absent.
    #[prop(kind = "String", default = "\"{{ trigger.date }}\"", dynamic)]
    date: Option<Value>,
}

/// Holds on public holidays.
///
/// Tests the date against a country's (and region's) public holidays.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::PUBLIC_HOLIDAY,
    aliases = ["io.kestra.core.models.conditions.types.PublicHolidayCondition", "io.kestra.plugin.core.condition.PublicHolidayCondition"],
    example = "type: io.kestra.plugin.core.condition.PublicHoliday\ncountry: FR\n",
)]
struct PublicHolidayDecl {
    /// The date tested; the trigger's date when absent.
    #[prop(kind = "String", default = "\"{{ trigger.date }}\"", dynamic)]
    date: Option<Value>,
    /// The ISO 3166 country code.
    #[prop(kind = "String", required)]
    country: Option<Value>,
    /// The ISO 3166-2 region code.
    #[prop(kind = "String")]
    sub_division: Option<Value>,
}

/// Holds when a template renders true.
///
/// Renders `expression` with the trigger's variables.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::EXPRESSION,
    aliases = ["io.kestra.core.models.conditions.types.VariableCondition", "io.kestra.plugin.core.condition.ExpressionCondition"],
    example = "type: io.kestra.plugin.core.condition.Expression\nexpression: \"{{ trigger.date is defined }}\"\n",
)]
struct ExpressionDecl {
    /// A template rendering true or false.
    #[prop(kind = "String", required, dynamic)]
    expression: Option<Value>,
}

/// Holds when none of its conditions holds.
///
/// The negation of its conditions.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::NOT,
    aliases = ["io.kestra.core.models.conditions.types.NotCondition", "io.kestra.plugin.core.condition.NotCondition"],
    example = "type: io.kestra.plugin.core.condition.Not\nconditions:\n  - type: io.kestra.plugin.core.condition.Weekend\n",
)]
struct NotDecl {
    /// The conditions.
    #[prop(kind = "List", required)]
    conditions: Option<Value>,
}

/// Holds when one of its conditions holds.
///
/// The disjunction of its conditions.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::OR,
    aliases = ["io.kestra.core.models.conditions.types.OrCondition", "io.kestra.plugin.core.condition.OrCondition"],
    example = "type: io.kestra.plugin.core.condition.Or\nconditions:\n  - type: io.kestra.plugin.core.condition.DayWeek\n    dayOfWeek: MONDAY\n  - type: io.kestra.plugin.core.condition.DayWeek\n    dayOfWeek: FRIDAY\n",
)]
struct OrDecl {
    /// The conditions.
    #[prop(kind = "List", required)]
    conditions: Option<Value>,
}

/// Holds for executions of one flow.
///
/// Tests the upstream execution's namespace and flow.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::EXECUTION_FLOW,
    aliases = ["io.kestra.core.models.conditions.types.ExecutionFlowCondition", "io.kestra.plugin.core.condition.ExecutionFlowCondition"],
    example = "type: io.kestra.plugin.core.condition.ExecutionFlow\nnamespace: company.team\nflowId: extract\n",
)]
struct ExecutionFlowDecl {
    /// The namespace.
    #[prop(kind = "String", required)]
    namespace: Option<Value>,
    /// The flow's id.
    #[prop(kind = "String", required)]
    flow_id: Option<Value>,
}

/// Holds for executions of a namespace.
///
/// Tests the upstream execution's namespace (equal, prefix or suffix).
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::EXECUTION_NAMESPACE,
    aliases = ["io.kestra.core.models.conditions.types.ExecutionNamespaceCondition", "io.kestra.plugin.core.condition.ExecutionNamespaceCondition"],
    example = "type: io.kestra.plugin.core.condition.ExecutionNamespace\nnamespace: company\ncomparison: PREFIX\n",
)]
struct ExecutionNamespaceDecl {
    /// The namespace.
    #[prop(kind = "String", required)]
    namespace: Option<Value>,
    /// How the namespace is compared.
    #[prop(kind = "String", values = ["EQUALS", "PREFIX", "SUFFIX"])]
    comparison: Option<Value>,
    /// The older form of comparison: PREFIX.
    #[prop(kind = "Boolean", default = "false")]
    prefix: Option<Value>,
}

/// Holds for executions in some states.
///
/// Tests the upstream execution's state.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::EXECUTION_STATUS,
    aliases = ["io.kestra.core.models.conditions.types.ExecutionStatusCondition", "io.kestra.plugin.core.condition.ExecutionStatusCondition"],
    example = "type: io.kestra.plugin.core.condition.ExecutionStatus\nin: [SUCCESS, WARNING]\n",
)]
struct ExecutionStatusDecl {
    /// Holds when the state is one of these.
    #[serde(rename = "in")]
    #[prop(kind = "List")]
    in_: Option<Value>,
    /// Holds when the state is none of these.
    #[prop(kind = "List")]
    not_in: Option<Value>,
}

/// Holds for executions with some labels.
///
/// Tests that the upstream execution has every label given.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::EXECUTION_LABELS,
    aliases = ["io.kestra.core.models.conditions.types.ExecutionLabelsCondition", "io.kestra.plugin.core.condition.ExecutionLabelsCondition"],
    example = "type: io.kestra.plugin.core.condition.ExecutionLabels\nlabels:\n  team: data\n",
)]
struct ExecutionLabelsDecl {
    /// The labels it must have (mapping or list of {key, value}).
    #[prop(kind = "Any", required)]
    labels: Option<Value>,
}

/// Holds when the upstream outputs match.
///
/// Renders `expression` with the upstream execution's outputs.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::EXECUTION_OUTPUTS,
    aliases = ["io.kestra.core.models.conditions.types.ExecutionOutputsCondition", "io.kestra.plugin.core.condition.ExecutionOutputsCondition"],
    example = "type: io.kestra.plugin.core.condition.ExecutionOutputs\nexpression: \"{{ trigger.outputs.count > 0 }}\"\n",
)]
struct ExecutionOutputsDecl {
    /// A template rendering true or false.
    #[prop(kind = "String", required, dynamic)]
    expression: Option<Value>,
}

/// Holds for one flow (legacy).
///
/// Kestra's older flow condition: the namespace and flow id tested.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::FLOW,
    aliases = ["io.kestra.core.models.conditions.types.FlowCondition"],
    example = "type: io.kestra.plugin.core.condition.FlowCondition\nnamespace: company.team\nflowId: extract\n",
)]
struct FlowConditionDecl {
    /// The namespace.
    #[prop(kind = "String", required)]
    namespace: Option<Value>,
    /// The flow's id.
    #[prop(kind = "String", required)]
    flow_id: Option<Value>,
}

/// Holds for a namespace (legacy).
///
/// Kestra's older namespace condition.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::FLOW_NAMESPACE,
    aliases = ["io.kestra.core.models.conditions.types.FlowNamespaceCondition"],
    example = "type: io.kestra.plugin.core.condition.FlowNamespaceCondition\nnamespace: company\nprefix: true\n",
)]
struct FlowNamespaceConditionDecl {
    /// The namespace.
    #[prop(kind = "String", required)]
    namespace: Option<Value>,
    /// Match sub-namespaces too.
    #[prop(kind = "Boolean", default = "false")]
    prefix: Option<Value>,
}

/// Holds when a task was retried.
///
/// Tests the states of retried attempts in the upstream execution.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::HAS_RETRY_ATTEMPT,
    aliases = ["io.kestra.core.models.conditions.types.HasRetryAttemptCondition", "io.kestra.plugin.core.condition.HasRetryAttemptCondition"],
    example = "type: io.kestra.plugin.core.condition.HasRetryAttempt\nin: [FAILED]\n",
)]
struct HasRetryAttemptDecl {
    /// Holds when the state is one of these.
    #[serde(rename = "in")]
    #[prop(kind = "List")]
    in_: Option<Value>,
    /// Holds when the state is none of these.
    #[prop(kind = "List")]
    not_in: Option<Value>,
}

/// Holds once several conditions held within a window.
///
/// Remembers which of its conditions held within the window; holds when all did.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = names::MULTIPLE,
    aliases = ["io.kestra.core.models.conditions.types.MultipleCondition"],
    example = "type: io.kestra.plugin.core.condition.MultipleCondition\nid: both_done\nwindow: P1D\nconditions:\n  a:\n    type: io.kestra.plugin.core.condition.ExecutionFlow\n    namespace: company.team\n    flowId: extract_a\n  b:\n    type: io.kestra.plugin.core.condition.ExecutionFlow\n    namespace: company.team\n    flowId: extract_b\n",
)]
struct MultipleConditionDecl {
    /// The id under which its state is kept.
    #[prop(kind = "String")]
    id: Option<Value>,
    /// The window (an ISO-8601 duration).
    #[prop(kind = "Any", required)]
    window: Option<Value>,
    /// Shift the window's start.
    #[prop(kind = "Duration")]
    window_advance: Option<Value>,
    /// Id → condition.
    #[prop(kind = "Map", required)]
    conditions: Option<Value>,
    /// Start over once all conditions held.
    #[prop(kind = "Boolean", default = "true")]
    reset_on_success: Option<Value>,
}

static DEFS: LazyLock<Vec<ConditionDef>> = LazyLock::new(|| {
    vec![
        ConditionDef::declare::<DayWeekDecl>(),
        ConditionDef::declare::<DayWeekInMonthDecl>(),
        ConditionDef::declare::<DateTimeBetweenDecl>(),
        ConditionDef::declare::<TimeBetweenDecl>(),
        ConditionDef::declare::<WeekendDecl>(),
        ConditionDef::declare::<PublicHolidayDecl>(),
        ConditionDef::declare::<ExpressionDecl>(),
        ConditionDef::declare::<NotDecl>(),
        ConditionDef::declare::<OrDecl>(),
        ConditionDef::declare::<ExecutionFlowDecl>(),
        ConditionDef::declare::<ExecutionNamespaceDecl>(),
        ConditionDef::declare::<ExecutionStatusDecl>(),
        ConditionDef::declare::<ExecutionLabelsDecl>(),
        ConditionDef::declare::<ExecutionOutputsDecl>(),
        ConditionDef::declare::<FlowConditionDecl>(),
        ConditionDef::declare::<FlowNamespaceConditionDecl>(),
        ConditionDef::declare::<HasRetryAttemptDecl>(),
        ConditionDef::declare::<MultipleConditionDecl>(),
    ]
});

/// Every condition type.
pub fn defs() -> &'static [ConditionDef] {
    &DEFS
}

/// The condition type named `type_name` (current name or alias).
pub fn find(type_name: &str) -> Option<&'static ConditionDef> {
    DEFS.iter().find(|d| d.type_name == type_name || d.aliases.contains(&type_name))
}
