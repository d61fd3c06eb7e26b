//! Every condition type Baton evaluates, described once: Kestra's current
//! name, the older names Kestra still accepts, and the properties (with
//! whether they are required). Validation and the parser read this table.

use crate::props::{PropKind, PropSpec};

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

/// One condition type.
pub struct ConditionDef {
    pub type_name: &'static str,
    pub aliases: &'static [&'static str],
    /// Its properties, besides `type`.
    pub props: &'static [PropSpec],
}

impl ConditionDef {
    /// The spec of property `key`.
    pub fn prop(&self, key: &str) -> Option<&'static PropSpec> {
        let props: &'static [PropSpec] = self.props;
        props.iter().find(|p| p.name == key)
    }
}

const DATE: PropSpec = PropSpec::optional("date", PropKind::String);
const IN: PropSpec = PropSpec::optional("in", PropKind::List);
const NOT_IN: PropSpec = PropSpec::optional("notIn", PropKind::List);

static DEFS: &[ConditionDef] = &[
    ConditionDef {
        type_name: names::DAY_WEEK,
        aliases: &[
            "io.kestra.core.models.conditions.types.DayWeekCondition",
            "io.kestra.plugin.core.condition.DayWeekCondition",
        ],
        props: &[DATE, PropSpec::required("dayOfWeek", PropKind::String)],
    },
    ConditionDef {
        type_name: names::DAY_WEEK_IN_MONTH,
        aliases: &[
            "io.kestra.core.models.conditions.types.DayWeekInMonthCondition",
            "io.kestra.plugin.core.condition.DayWeekInMonthCondition",
        ],
        props: &[
            DATE,
            PropSpec::required("dayOfWeek", PropKind::String),
            PropSpec::required("dayInMonth", PropKind::String),
        ],
    },
    ConditionDef {
        type_name: names::DATE_TIME_BETWEEN,
        aliases: &[
            "io.kestra.core.models.conditions.types.DateTimeBetweenCondition",
            "io.kestra.plugin.core.condition.DateTimeBetweenCondition",
        ],
        props: &[DATE, PropSpec::optional("after", PropKind::String), PropSpec::optional("before", PropKind::String)],
    },
    ConditionDef {
        type_name: names::TIME_BETWEEN,
        aliases: &[
            "io.kestra.core.models.conditions.types.TimeBetweenCondition",
            "io.kestra.plugin.core.condition.TimeBetweenCondition",
        ],
        props: &[DATE, PropSpec::optional("after", PropKind::String), PropSpec::optional("before", PropKind::String)],
    },
    ConditionDef {
        type_name: names::WEEKEND,
        aliases: &[
            "io.kestra.core.models.conditions.types.WeekendCondition",
            "io.kestra.plugin.core.condition.WeekendCondition",
        ],
        props: &[DATE],
    },
    ConditionDef {
        type_name: names::PUBLIC_HOLIDAY,
        aliases: &[
            "io.kestra.core.models.conditions.types.PublicHolidayCondition",
            "io.kestra.plugin.core.condition.PublicHolidayCondition",
        ],
        props: &[
            DATE,
            PropSpec::required("country", PropKind::String),
            PropSpec::optional("subDivision", PropKind::String),
        ],
    },
    ConditionDef {
        type_name: names::EXPRESSION,
        aliases: &[
            "io.kestra.core.models.conditions.types.VariableCondition",
            "io.kestra.plugin.core.condition.ExpressionCondition",
        ],
        props: &[PropSpec::required("expression", PropKind::String)],
    },
    ConditionDef {
        type_name: names::NOT,
        aliases: &[
            "io.kestra.core.models.conditions.types.NotCondition",
            "io.kestra.plugin.core.condition.NotCondition",
        ],
        props: &[PropSpec::required("conditions", PropKind::List)],
    },
    ConditionDef {
        type_name: names::OR,
        aliases: &["io.kestra.core.models.conditions.types.OrCondition", "io.kestra.plugin.core.condition.OrCondition"],
        props: &[PropSpec::required("conditions", PropKind::List)],
    },
    ConditionDef {
        type_name: names::EXECUTION_FLOW,
        aliases: &[
            "io.kestra.core.models.conditions.types.ExecutionFlowCondition",
            "io.kestra.plugin.core.condition.ExecutionFlowCondition",
        ],
        props: &[PropSpec::required("namespace", PropKind::String), PropSpec::required("flowId", PropKind::String)],
    },
    ConditionDef {
        type_name: names::EXECUTION_NAMESPACE,
        aliases: &[
            "io.kestra.core.models.conditions.types.ExecutionNamespaceCondition",
            "io.kestra.plugin.core.condition.ExecutionNamespaceCondition",
        ],
        props: &[
            PropSpec::required("namespace", PropKind::String),
            PropSpec::optional("comparison", PropKind::String),
            PropSpec::optional("prefix", PropKind::Boolean),
        ],
    },
    ConditionDef {
        type_name: names::EXECUTION_STATUS,
        aliases: &[
            "io.kestra.core.models.conditions.types.ExecutionStatusCondition",
            "io.kestra.plugin.core.condition.ExecutionStatusCondition",
        ],
        props: &[IN, NOT_IN],
    },
    ConditionDef {
        type_name: names::EXECUTION_LABELS,
        aliases: &[
            "io.kestra.core.models.conditions.types.ExecutionLabelsCondition",
            "io.kestra.plugin.core.condition.ExecutionLabelsCondition",
        ],
        props: &[PropSpec::required("labels", PropKind::Any)],
    },
    ConditionDef {
        type_name: names::EXECUTION_OUTPUTS,
        aliases: &[
            "io.kestra.core.models.conditions.types.ExecutionOutputsCondition",
            "io.kestra.plugin.core.condition.ExecutionOutputsCondition",
        ],
        props: &[PropSpec::required("expression", PropKind::String)],
    },
    ConditionDef {
        type_name: names::FLOW,
        aliases: &["io.kestra.core.models.conditions.types.FlowCondition"],
        props: &[PropSpec::required("namespace", PropKind::String), PropSpec::required("flowId", PropKind::String)],
    },
    ConditionDef {
        type_name: names::FLOW_NAMESPACE,
        aliases: &["io.kestra.core.models.conditions.types.FlowNamespaceCondition"],
        props: &[PropSpec::required("namespace", PropKind::String), PropSpec::optional("prefix", PropKind::Boolean)],
    },
    ConditionDef {
        type_name: names::HAS_RETRY_ATTEMPT,
        aliases: &[
            "io.kestra.core.models.conditions.types.HasRetryAttemptCondition",
            "io.kestra.plugin.core.condition.HasRetryAttemptCondition",
        ],
        props: &[IN, NOT_IN],
    },
    ConditionDef {
        type_name: names::MULTIPLE,
        aliases: &["io.kestra.core.models.conditions.types.MultipleCondition"],
        props: &[
            PropSpec::optional("id", PropKind::String),
            PropSpec::required("window", PropKind::Any),
            PropSpec::optional("windowAdvance", PropKind::Duration),
            PropSpec::required("conditions", PropKind::Map),
            PropSpec::optional("resetOnSuccess", PropKind::Boolean),
        ],
    },
];

/// Every condition type.
pub fn defs() -> &'static [ConditionDef] {
    DEFS
}

/// The condition type named `type_name` (current name or alias).
pub fn find(type_name: &str) -> Option<&'static ConditionDef> {
    DEFS.iter().find(|d| d.type_name == type_name || d.aliases.contains(&type_name))
}
