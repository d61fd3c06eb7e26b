//! Evaluating Kestra's trigger conditions against a [`ConditionContext`]
//! ([`ConditionTest::test`], [`first_false`]). The conditions themselves —
//! their types, parsing and the check of where each may be used — are data
//! of the flow model (`baton_model::conditions`, re-exported here), since a
//! flow's listeners carry them; testing one renders templates, so it lives
//! in this layer. No I/O: templates render through the renderer and host
//! the caller passes.
//!
//! The date conditions are tested in `eval_dates`, those on executions and
//! flows (and `Expression`) in `eval_execution`.

mod eval_dates;
mod eval_execution;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde_json::Value;

use baton_model::Execution;
pub use baton_model::conditions::*;
pub use eval_execution::is_truthy;

use crate::{Renderer, TemplateHost};

/// What a condition is tested against.
pub struct ConditionContext<'a> {
    /// The namespace of the flow that owns the trigger.
    pub namespace: &'a str,
    /// The id of the flow that owns the trigger.
    pub flow_id: &'a str,
    /// The upstream execution (Flow trigger), if any.
    pub execution: Option<&'a Execution>,
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

/// Testing a condition: a trait so that the condition, which is data of
/// the flow model, is tested in the layer that renders templates.
pub trait ConditionTest {
    /// Whether the condition holds in `cx`.
    fn test(&self, cx: &ConditionContext) -> Result<bool, ConditionError>;
}

impl ConditionTest for Condition {
    fn test(&self, cx: &ConditionContext) -> Result<bool, ConditionError> {
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
            Condition::Expression { expression } => eval_execution::expression(self.short_name(), expression, cx),
            Condition::DayWeek { .. }
            | Condition::DayWeekInMonth { .. }
            | Condition::DateTimeBetween { .. }
            | Condition::TimeBetween { .. }
            | Condition::Weekend { .. }
            | Condition::PublicHoliday { .. } => eval_dates::test(self, cx),
            Condition::Multiple { .. } => Err(ConditionError::Invalid {
                condition: self.type_name(),
                message: "MultipleCondition is evaluated by the Flow trigger, not on its own".into(),
            }),
            _ => eval_execution::test(self, cx),
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
