//! Kestra's trigger conditions (`io.kestra.plugin.core.condition.*` and
//! their legacy names), pure: parsed from a trigger's `conditions` list
//! ([`parse_list`]), checked against the trigger type that carries them
//! ([`check_use`]) and evaluated against a [`ConditionContext`]
//! ([`Condition::test`]). No I/O: templates render through the renderer
//! and host the caller passes.
//!
//! The catalogue of types, aliases and properties is in [`catalog`]; the
//! parsing of each type in [`parse`]; the date conditions in [`dates`],
//! public holidays in [`holidays`], conditions on executions and flows in
//! [`execution`]. `MultipleCondition` is stateful and evaluated by the Flow
//! trigger (`crate::triggers::flow`): it is kept here as its raw value.

pub mod catalog;
pub(crate) mod dates;
mod execution;
pub mod holidays;
mod parse;
#[cfg(test)]
mod tests;

use chrono::{DateTime, FixedOffset, NaiveTime, Utc, Weekday};
use serde_json::Value;

use crate::model::{Label, StateType};
use crate::template::{Renderer, TemplateHost};
use crate::triggers::TriggerProblem;

pub use parse::{MAX_DEPTH, join, parse_list};
pub(crate) use parse::{parse_day_in_month, parse_weekday};

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
    /// `MultipleCondition` (stateful): kept as written for `crate::triggers::flow`.
    Multiple { raw: Value },
}

/// What a condition is tested against.
pub struct ConditionContext<'a> {
    /// The namespace of the flow that owns the trigger.
    pub namespace: &'a str,
    /// The id of the flow that owns the trigger.
    pub flow_id: &'a str,
    /// The upstream execution (Flow trigger), if any.
    pub execution: Option<&'a crate::model::Execution>,
    /// The render context: `trigger.*`, `flow.*`, `execution.*`, `outputs`…
    pub variables: &'a Value,
    pub renderer: &'a Renderer,
    pub host: &'a dyn TemplateHost,
    /// The evaluation time (for conditions with no date of their own).
    pub now: DateTime<Utc>,
}

/// A condition that could not be evaluated (Kestra's `IllegalConditionEvaluation`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    /// A property failed to render or rendered to something unusable.
    #[error("condition {condition}: property '{property}': {message}")]
    Property { condition: &'static str, property: &'static str, message: String },
    /// The condition cannot be tested here (e.g. an execution condition with no execution).
    #[error("condition {condition}: {message}")]
    Invalid { condition: &'static str, message: String },
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
    /// The trigger type evaluates no conditions in Baton: any is refused.
    None,
}

impl Condition {
    /// Whether the condition holds in `cx`.
    pub fn test(&self, cx: &ConditionContext) -> Result<bool, ConditionError> {
        match self {
            Condition::Not { conditions } => {
                for c in conditions {
                    if c.test(cx)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Or { conditions } => {
                for c in conditions {
                    if c.test(cx)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Expression { expression } => execution::expression(self.short_name(), expression, cx),
            Condition::DayWeek { .. }
            | Condition::DayWeekInMonth { .. }
            | Condition::DateTimeBetween { .. }
            | Condition::TimeBetween { .. }
            | Condition::Weekend { .. }
            | Condition::PublicHoliday { .. } => dates::test(self, cx),
            Condition::Multiple { .. } => Err(ConditionError::Invalid {
                condition: self.type_name(),
                message: "MultipleCondition is evaluated by the Flow trigger, not on its own".into(),
            }),
            _ => execution::test(self, cx),
        }
    }

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

/// Tests every condition in order (all must hold, as Kestra): `Ok(None)`
/// when all hold, else the first one that said no.
pub fn first_false<'c>(
    conditions: &'c [Condition],
    cx: &ConditionContext,
) -> Result<Option<&'c Condition>, ConditionError> {
    for c in conditions {
        if !c.test(cx)? {
            return Ok(Some(c));
        }
    }
    Ok(None)
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
            ConditionUse::Webhook => !execution::needs_execution(cond),
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
