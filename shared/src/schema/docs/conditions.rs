//! Docs of the condition types (`conditions::catalog`).

use crate::schema::{PropDoc, TypeDoc};

const DATE: PropDoc = PropDoc::new("date", "The date tested; the trigger's date when absent.")
    .default("\"{{ trigger.date }}\"")
    .dynamic();
const DAY_OF_WEEK: PropDoc = PropDoc::new("dayOfWeek", "The day of the week.").values(&[
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
]);
const AFTER: PropDoc = PropDoc::new("after", "The start of the range (inclusive, with an offset); open when absent.");
const BEFORE: PropDoc = PropDoc::new("before", "The end of the range (inclusive); open when absent.");
const CONDITIONS: PropDoc = PropDoc::new("conditions", "The conditions.");
const NAMESPACE: PropDoc = PropDoc::new("namespace", "The namespace.");
const FLOW_ID: PropDoc = PropDoc::new("flowId", "The flow's id.");
const IN: PropDoc = PropDoc::new("in", "Holds when the state is one of these.");
const NOT_IN: PropDoc = PropDoc::new("notIn", "Holds when the state is none of these.");

pub(super) static DOCS: &[TypeDoc] = &[
    TypeDoc::new("io.kestra.plugin.core.condition.DayWeek", "Holds on one day of the week.", "Tests the date's day of the week.")
        .example("type: io.kestra.plugin.core.condition.DayWeek\ndayOfWeek: MONDAY\n")
        .props(&[DATE, DAY_OF_WEEK]),
    TypeDoc::new(
        "io.kestra.plugin.core.condition.DayWeekInMonth",
        "Holds on the first, second… or last such day of the month.",
        "Tests the date's day of the week and its rank in the month.",
    )
    .example("type: io.kestra.plugin.core.condition.DayWeekInMonth\ndayOfWeek: FRIDAY\ndayInMonth: LAST\n")
    .props(&[
        DATE,
        DAY_OF_WEEK,
        PropDoc::new("dayInMonth", "Which one in the month.").values(&["FIRST", "SECOND", "THIRD", "FOURTH", "LAST"]),
    ]),
    TypeDoc::new("io.kestra.plugin.core.condition.DateTimeBetween", "Holds between two date-times.", "Tests the date against an ISO-8601 range.")
        .example("type: io.kestra.plugin.core.condition.DateTimeBetween\nafter: \"2026-01-01T00:00:00Z\"\nbefore: \"2026-12-31T23:59:59Z\"\n")
        .props(&[DATE, AFTER, BEFORE]),
    TypeDoc::new("io.kestra.plugin.core.condition.TimeBetween", "Holds between two times of day.", "Tests the date's time of day against a range (HH:mm:ss).")
        .example("type: io.kestra.plugin.core.condition.TimeBetween\nafter: \"08:00:00+00:00\"\nbefore: \"18:00:00+00:00\"\n")
        .props(&[DATE, AFTER, BEFORE]),
    TypeDoc::new("io.kestra.plugin.core.condition.Weekend", "Holds on Saturdays and Sundays.", "Tests whether the date falls on a weekend.")
        .example("type: io.kestra.plugin.core.condition.Weekend\n")
        .props(&[DATE]),
    TypeDoc::new("io.kestra.plugin.core.condition.PublicHoliday", "Holds on public holidays.", "Tests the date against a country's (and region's) public holidays.")
        .example("type: io.kestra.plugin.core.condition.PublicHoliday\ncountry: FR\n")
        .props(&[
            DATE,
            PropDoc::new("country", "The ISO 3166 country code."),
            PropDoc::new("subDivision", "The ISO 3166-2 region code."),
        ]),
    TypeDoc::new("io.kestra.plugin.core.condition.Expression", "Holds when a template renders true.", "Renders `expression` with the trigger's variables.")
        .example("type: io.kestra.plugin.core.condition.Expression\nexpression: \"{{ trigger.date is defined }}\"\n")
        .props(&[PropDoc::new("expression", "A template rendering true or false.").dynamic()]),
    TypeDoc::new("io.kestra.plugin.core.condition.Not", "Holds when none of its conditions holds.", "The negation of its conditions.")
        .example("type: io.kestra.plugin.core.condition.Not\nconditions:\n  - type: io.kestra.plugin.core.condition.Weekend\n")
        .props(&[CONDITIONS]),
    TypeDoc::new("io.kestra.plugin.core.condition.Or", "Holds when one of its conditions holds.", "The disjunction of its conditions.")
        .example("type: io.kestra.plugin.core.condition.Or\nconditions:\n  - type: io.kestra.plugin.core.condition.DayWeek\n    dayOfWeek: MONDAY\n  - type: io.kestra.plugin.core.condition.DayWeek\n    dayOfWeek: FRIDAY\n")
        .props(&[CONDITIONS]),
    TypeDoc::new("io.kestra.plugin.core.condition.ExecutionFlow", "Holds for executions of one flow.", "Tests the upstream execution's namespace and flow.")
        .example("type: io.kestra.plugin.core.condition.ExecutionFlow\nnamespace: company.team\nflowId: extract\n")
        .props(&[NAMESPACE, FLOW_ID]),
    TypeDoc::new("io.kestra.plugin.core.condition.ExecutionNamespace", "Holds for executions of a namespace.", "Tests the upstream execution's namespace (equal, prefix or suffix).")
        .example("type: io.kestra.plugin.core.condition.ExecutionNamespace\nnamespace: company\ncomparison: PREFIX\n")
        .props(&[
            NAMESPACE,
            PropDoc::new("comparison", "How the namespace is compared.").values(&["EQUALS", "PREFIX", "SUFFIX"]),
            PropDoc::new("prefix", "The older form of comparison: PREFIX.").default("false"),
        ]),
    TypeDoc::new("io.kestra.plugin.core.condition.ExecutionStatus", "Holds for executions in some states.", "Tests the upstream execution's state.")
        .example("type: io.kestra.plugin.core.condition.ExecutionStatus\nin: [SUCCESS, WARNING]\n")
        .props(&[IN, NOT_IN]),
    TypeDoc::new("io.kestra.plugin.core.condition.ExecutionLabels", "Holds for executions with some labels.", "Tests that the upstream execution has every label given.")
        .example("type: io.kestra.plugin.core.condition.ExecutionLabels\nlabels:\n  team: data\n")
        .props(&[PropDoc::new("labels", "The labels it must have (mapping or list of {key, value}).")]),
    TypeDoc::new("io.kestra.plugin.core.condition.ExecutionOutputs", "Holds when the upstream outputs match.", "Renders `expression` with the upstream execution's outputs.")
        .example("type: io.kestra.plugin.core.condition.ExecutionOutputs\nexpression: \"{{ trigger.outputs.count > 0 }}\"\n")
        .props(&[PropDoc::new("expression", "A template rendering true or false.").dynamic()]),
    TypeDoc::new("io.kestra.plugin.core.condition.FlowCondition", "Holds for one flow (legacy).", "Kestra's older flow condition: the namespace and flow id tested.")
        .example("type: io.kestra.plugin.core.condition.FlowCondition\nnamespace: company.team\nflowId: extract\n")
        .props(&[NAMESPACE, FLOW_ID]),
    TypeDoc::new("io.kestra.plugin.core.condition.FlowNamespaceCondition", "Holds for a namespace (legacy).", "Kestra's older namespace condition.")
        .example("type: io.kestra.plugin.core.condition.FlowNamespaceCondition\nnamespace: company\nprefix: true\n")
        .props(&[NAMESPACE, PropDoc::new("prefix", "Match sub-namespaces too.").default("false")]),
    TypeDoc::new("io.kestra.plugin.core.condition.HasRetryAttempt", "Holds when a task was retried.", "Tests the states of retried attempts in the upstream execution.")
        .example("type: io.kestra.plugin.core.condition.HasRetryAttempt\nin: [FAILED]\n")
        .props(&[IN, NOT_IN]),
    TypeDoc::new("io.kestra.plugin.core.condition.MultipleCondition", "Holds once several conditions held within a window.", "Remembers which of its conditions held within the window; holds when all did.")
        .example("type: io.kestra.plugin.core.condition.MultipleCondition\nid: both_done\nwindow: P1D\nconditions:\n  a:\n    type: io.kestra.plugin.core.condition.ExecutionFlow\n    namespace: company.team\n    flowId: extract_a\n  b:\n    type: io.kestra.plugin.core.condition.ExecutionFlow\n    namespace: company.team\n    flowId: extract_b\n")
        .props(&[
            PropDoc::new("id", "The id under which its state is kept."),
            PropDoc::new("window", "The window (an ISO-8601 duration)."),
            PropDoc::new("windowAdvance", "Shift the window's start."),
            PropDoc::new("conditions", "Id → condition."),
            PropDoc::new("resetOnSuccess", "Start over once all conditions held.").default("true"),
        ]),
];
