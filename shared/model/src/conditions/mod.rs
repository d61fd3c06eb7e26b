//! Kestra's trigger conditions (`io.kestra.plugin.core.condition.*` and
//! their legacy names) as data: parsed from a trigger's `conditions` list
//! ([`parse_list`]) and checked against the trigger type that carries them
//! ([`check_use`]). Evaluating them needs templates, so it lives a layer up
//! (`baton_template::conditions`, `ConditionTest::test`).
//!
//! The catalogue of types, aliases and properties is in [`catalog`]; the
//! parsing of each type in `parse`; date and time parsing in [`dates`],
//! public holidays in [`holidays`]. `MultipleCondition` is stateful and
//! evaluated by the Flow trigger: it is kept here as its raw value.

pub mod catalog;
pub mod dates;
pub mod holidays;
pub mod parse;

use chrono::{DateTime, FixedOffset, NaiveTime, Weekday};
use serde_json::Value;

use crate::problem::TriggerProblem;
use crate::{Label, StateType};

pub use parse::{MAX_DEPTH, join, parse_day_in_month, parse_list, parse_weekday};

/// A property Kestra types as `Property<T>`: a literal, checked when parsed,
/// or a template rendered (then checked) when the condition is tested.
#[derive(Debug, Clone, PartialEq)]
pub enum Prop<T> {
    Fixed(T),
    Template(String),
}

/// `DayWeekInMonth.dayInMonth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayInMonth {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

/// `ExecutionNamespace.comparison`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Equals,
    Prefix,
    Suffix,
}

/// A time of day with its UTC offset (Java's `OffsetTime`), as `TimeBetween` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetTime {
    pub time: NaiveTime,
    pub offset: FixedOffset,
}

/// One condition of a trigger, one variant per Kestra type.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `DayWeek`: the date falls on `dayOfWeek`.
    DayWeek { date: String, day_of_week: Prop<Weekday> },
    /// `DayWeekInMonth`: the date is the FIRST…FOURTH or LAST `dayOfWeek` of its month.
    DayWeekInMonth { date: String, day_of_week: Prop<Weekday>, day_in_month: Prop<DayInMonth> },
    /// `DateTimeBetween`: `after <= date <= before` (either bound optional, one required).
    DateTimeBetween {
        date: String,
        after: Option<Prop<DateTime<FixedOffset>>>,
        before: Option<Prop<DateTime<FixedOffset>>>,
    },
    /// `TimeBetween`: `after < time(date) < before` (either bound optional, one required).
    TimeBetween { date: String, after: Option<Prop<OffsetTime>>, before: Option<Prop<OffsetTime>> },
    /// `Weekend`: the date is a Saturday or a Sunday.
    Weekend { date: String },
    /// `PublicHoliday`: the date is a public holiday of `country` (and `subDivision`).
    PublicHoliday { date: String, country: String, sub_division: Option<String> },
    /// `Expression`: the rendered `expression` is truthy.
    Expression { expression: String },
    /// `Not`: none of `conditions` is true.
    Not { conditions: Vec<Condition> },
    /// `Or`: any of `conditions` is true.
    Or { conditions: Vec<Condition> },
    /// `ExecutionFlow`: the upstream execution is of flow `namespace`.`flowId`.
    ExecutionFlow { namespace: Prop<String>, flow_id: Prop<String> },
    /// `ExecutionNamespace`: the upstream execution's namespace matches.
    ExecutionNamespace { namespace: String, comparison: Comparison },
    /// `ExecutionStatus`: the upstream execution's state is in `in` and not in `notIn`.
    ExecutionStatus { in_: Option<Prop<Vec<StateType>>>, not_in: Option<Prop<Vec<StateType>>> },
    /// `ExecutionLabels`: the upstream execution carries every label.
    ExecutionLabels { labels: Vec<Label> },
    /// `ExecutionOutputs`: the upstream execution has outputs and `expression`
    /// (rendered with `trigger.outputs`) is true.
    ExecutionOutputs { expression: String },
    /// `FlowCondition`: the flow owning the trigger is `namespace`.`flowId`.
    Flow { namespace: String, flow_id: String },
    /// `FlowNamespaceCondition`: the flow owning the trigger is in `namespace` (or below with `prefix`).
    FlowNamespace { namespace: Prop<String>, prefix: Prop<bool> },
    /// `HasRetryAttempt`: a task run of the upstream execution was retried
    /// and one of its attempts is in `in` and not in `notIn`.
    HasRetryAttempt { in_: Option<Prop<Vec<StateType>>>, not_in: Option<Prop<Vec<StateType>>> },
    /// `MultipleCondition` (stateful): kept as written for the Flow trigger.
    Multiple { raw: Value },
}

/// Which trigger type carries a list of conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionUse {
    Schedule,
    Flow,
    Webhook,
    /// A flow's legacy `listeners`: tested against the ended execution
    /// itself; no `MultipleCondition` (it needs a Flow trigger's state).
    Listener,
    /// A polling or event trigger (HTTP, JDBC, BigQuery, GCS, Pub/Sub, S3):
    /// tested before each poll, with no execution to read (as a Webhook).
    Polling,
    /// The trigger type evaluates no conditions in Baton: any is refused.
    None,
}

impl Condition {
    /// Kestra's current type name of the condition.
    pub fn type_name(&self) -> &'static str {
        use catalog::names as n;
        match self {
            Condition::DayWeek { .. } => n::DAY_WEEK,
            Condition::DayWeekInMonth { .. } => n::DAY_WEEK_IN_MONTH,
            Condition::DateTimeBetween { .. } => n::DATE_TIME_BETWEEN,
            Condition::TimeBetween { .. } => n::TIME_BETWEEN,
            Condition::Weekend { .. } => n::WEEKEND,
            Condition::PublicHoliday { .. } => n::PUBLIC_HOLIDAY,
            Condition::Expression { .. } => n::EXPRESSION,
            Condition::Not { .. } => n::NOT,
            Condition::Or { .. } => n::OR,
            Condition::ExecutionFlow { .. } => n::EXECUTION_FLOW,
            Condition::ExecutionNamespace { .. } => n::EXECUTION_NAMESPACE,
            Condition::ExecutionStatus { .. } => n::EXECUTION_STATUS,
            Condition::ExecutionLabels { .. } => n::EXECUTION_LABELS,
            Condition::ExecutionOutputs { .. } => n::EXECUTION_OUTPUTS,
            Condition::Flow { .. } => n::FLOW,
            Condition::FlowNamespace { .. } => n::FLOW_NAMESPACE,
            Condition::HasRetryAttempt { .. } => n::HAS_RETRY_ATTEMPT,
            Condition::Multiple { .. } => n::MULTIPLE,
        }
    }

    /// The short name for messages, e.g. `DayWeek`.
    pub fn short_name(&self) -> &'static str {
        let t = self.type_name();
        t.rsplit('.').next().unwrap_or(t)
    }

    /// Whether this is, or contains, a `MultipleCondition`.
    pub fn has_multiple(&self) -> bool {
        match self {
            Condition::Not { conditions } | Condition::Or { conditions } => {
                conditions.iter().any(Condition::has_multiple)
            }
            Condition::Multiple { .. } => true,
            _ => false,
        }
    }

    /// Whether the condition reads the upstream execution (so needs a Flow trigger).
    pub fn needs_execution(&self) -> bool {
        match self {
            Condition::Not { conditions } | Condition::Or { conditions } => {
                conditions.iter().any(Condition::needs_execution)
            }
            Condition::ExecutionFlow { .. }
            | Condition::ExecutionNamespace { .. }
            | Condition::ExecutionStatus { .. }
            | Condition::ExecutionLabels { .. }
            | Condition::ExecutionOutputs { .. }
            | Condition::HasRetryAttempt { .. }
            | Condition::Multiple { .. } => true,
            _ => false,
        }
    }

    /// Whether a Schedule may carry this condition: Kestra's `ScheduleCondition`
    /// types (dates, expressions, and `Not`/`Or` of those).
    pub fn is_schedule_condition(&self) -> bool {
        match self {
            Condition::Not { conditions } | Condition::Or { conditions } => {
                conditions.iter().all(Condition::is_schedule_condition)
            }
            Condition::DayWeek { .. }
            | Condition::DayWeekInMonth { .. }
            | Condition::DateTimeBetween { .. }
            | Condition::TimeBetween { .. }
            | Condition::Weekend { .. }
            | Condition::PublicHoliday { .. }
            | Condition::Expression { .. } => true,
            _ => false,
        }
    }
}

/// Problems with conditions `c` on a trigger of kind `used_by`: paths
/// relative to the list (e.g. `[1]`). A Schedule takes only date and
/// expression conditions; a Webhook no execution condition (it has no
/// upstream execution) and no `MultipleCondition`.
pub fn check_use(c: &[Condition], used_by: ConditionUse) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    for (i, cond) in c.iter().enumerate() {
        let ok = match used_by {
            ConditionUse::Schedule => cond.is_schedule_condition(),
            ConditionUse::Flow => true,
            ConditionUse::Webhook | ConditionUse::Polling => !cond.needs_execution(),
            ConditionUse::Listener => !cond.has_multiple(),
            ConditionUse::None => false,
        };
        if !ok {
            let what = match used_by {
                ConditionUse::Schedule => {
                    "a Schedule trigger only takes date and expression conditions (DayWeek, DayWeekInMonth, DateTimeBetween, TimeBetween, Weekend, PublicHoliday, Expression, Not, Or)"
                }
                ConditionUse::Flow => "",
                ConditionUse::Webhook => "a Webhook trigger has no upstream execution to test",
                ConditionUse::Polling => {
                    "a polling trigger has no upstream execution to test (only a Flow trigger reads one)"
                }
                ConditionUse::Listener => "MultipleCondition is only evaluated by a Flow trigger, not by a listener",
                ConditionUse::None => {
                    "Baton does not evaluate conditions on this trigger type (filter in the flow with an If task instead)"
                }
            };
            out.push(TriggerProblem::at(
                format!("[{i}]"),
                format!("condition {} cannot be used here: {what}", cond.short_name()),
            ));
        }
    }
    out
}
