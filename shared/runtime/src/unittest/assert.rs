//! Runs one assertion, as Kestra's `Assertion.run` does: the value is
//! rendered to text, each operator compares it with its rendered expected
//! value, and a failure says `expected '<expression>' to … but was '…'`
//! (or the assertion's own `errorMessage`). Equality compares the rendered
//! text, as Kestra compares its rendered property (`equalTo: 200` holds for
//! an output rendered `200`); the ordering operators compare numbers.

use serde::Serialize;
use serde_json::Value;

use super::model::{Assertion, Operator};

/// The outcome of one operator of one assertion.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssertionResult {
    pub operator: Operator,
    /// The expression, as written.
    pub value: String,
    /// The expected value, rendered.
    pub expected: Value,
    /// The rendered value; `None` when it is null (undefined).
    pub actual: Option<String>,
    pub is_success: bool,
    pub task_id: Option<String>,
    pub description: Option<String>,
    /// Why it failed: the assertion's `errorMessage`, or Kestra's message.
    pub error_message: Option<String>,
}

/// What rendering an expression gave: its text, null (an undefined
/// variable, a null value), or an error.
pub type Rendered = Result<Option<String>, String>;

/// Runs every operator of `a`. `render` renders an expression in the
/// execution's context. An expected value that cannot be rendered, or an
/// actual value an operator cannot compare, fails that operator with the
/// reason.
pub fn evaluate(a: &Assertion, render: &dyn Fn(&str) -> Rendered) -> Vec<AssertionResult> {
    let actual = render(&a.value);
    let description = a.description.as_ref().map(|d| render(d).ok().flatten().unwrap_or_else(|| d.clone()));
    let user_message = a.error_message.as_ref().map(|m| render(m).ok().flatten().unwrap_or_else(|| m.clone()));
    let q = &a.value;
    a.checks
        .iter()
        .map(|c| {
            let mut result = AssertionResult {
                operator: c.operator,
                value: a.value.clone(),
                expected: Value::Null,
                actual: None,
                is_success: false,
                task_id: a.task_id.clone(),
                description: description.clone(),
                error_message: None,
            };
            let actual = match &actual {
                Ok(v) => v.clone(),
                Err(e) => {
                    result.expected = c.expected.clone();
                    result.error_message = Some(format!("could not evaluate '{q}': {e}"));
                    return result;
                }
            };
            result.actual = actual.clone();
            let expected = match render_expected(&c.expected, render) {
                Ok(v) => v,
                Err(e) => {
                    result.expected = c.expected.clone();
                    result.error_message =
                        Some(format!("could not render the expected value of '{}': {e}", c.operator));
                    return result;
                }
            };
            result.expected = expected.clone();
            let (ok, why) = judge(c.operator, &expected, actual.as_deref(), q);
            result.is_success = ok;
            if !ok {
                result.error_message = Some(user_message.clone().unwrap_or(why));
            }
            result
        })
        .collect()
}

/// The expected value with its strings rendered.
fn render_expected(v: &Value, render: &dyn Fn(&str) -> Rendered) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(render(s)?.unwrap_or_default()),
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| render_expected(i, render)).collect::<Result<_, _>>()?)
        }
        other => other.clone(),
    })
}

/// A value as text, as Kestra renders a property.
fn text(v: &Value) -> String {
    crate::model::flow::scalar_string(v)
}

/// Whether the operator holds, and Kestra's message when it does not.
fn judge(op: Operator, expected: &Value, actual: Option<&str>, q: &str) -> (bool, String) {
    let shown = actual.unwrap_or("null");
    match op {
        Operator::IsNull | Operator::IsNotNull => {
            let flag = match expected {
                Value::Bool(b) => *b,
                other => text(other).eq_ignore_ascii_case("true"),
            };
            let want_null = if op == Operator::IsNull { flag } else { !flag };
            let ok = want_null == actual.is_none();
            let why = if want_null {
                format!("expected '{q}' to be null but was '{shown}'")
            } else {
                format!("expected '{q}' to be not null but was 'null'")
            };
            (ok, why)
        }
        Operator::EqualTo => {
            let e = text(expected);
            (actual == Some(e.as_str()), format!("expected '{q}' to equal '{e}' but was '{shown}'"))
        }
        Operator::NotEqualTo => {
            let e = text(expected);
            (actual != Some(e.as_str()), format!("expected '{q}' to not equal '{e}'"))
        }
        Operator::StartsWith | Operator::EndsWith | Operator::Contains => {
            let e = text(expected);
            let a = actual.unwrap_or("");
            let (ok, verb) = match op {
                Operator::StartsWith => (actual.is_some() && a.starts_with(&e), "start with"),
                Operator::EndsWith => (actual.is_some() && a.ends_with(&e), "end with"),
                _ => (actual.is_some() && a.contains(&e), "contain"),
            };
            (ok, format!("expected '{q}' to {verb} '{e}' but was '{shown}'"))
        }
        Operator::GreaterThan | Operator::GreaterThanOrEqualTo | Operator::LessThan | Operator::LessThanOrEqualTo => {
            let words = match op {
                Operator::GreaterThan => "be greater than",
                Operator::GreaterThanOrEqualTo => "be greater than or equal to",
                Operator::LessThan => "be less than",
                _ => "be less than or equal to",
            };
            let Some(e) = number(&text(expected)) else {
                return (false, format!("the expected value '{}' of '{op}' is not a number", text(expected)));
            };
            let Some(a) = actual.and_then(number) else {
                return (false, format!("expected '{q}' to {words} '{e}' but was '{shown}', which is not a number"));
            };
            let ok = match op {
                Operator::GreaterThan => a > e,
                Operator::GreaterThanOrEqualTo => a >= e,
                Operator::LessThan => a < e,
                _ => a <= e,
            };
            (ok, format!("expected '{q}' to {words} '{e}' but was '{shown}'"))
        }
        Operator::In | Operator::NotIn => {
            let list: Vec<String> = match expected {
                Value::Array(items) => items.iter().map(text).collect(),
                other => vec![text(other)],
            };
            let found = actual.is_some_and(|a| list.iter().any(|i| i == a));
            let shown_list = format!("[{}]", list.join(", "));
            if op == Operator::In {
                (found, format!("expected '{q}' to be in '{shown_list}' but was '{shown}'"))
            } else {
                (!found, format!("expected '{q}' to not be in '{shown_list}' but was '{shown}'"))
            }
        }
    }
}

fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::unittest::model::Check;

    fn assertion(checks: Vec<(Operator, Value)>) -> Assertion {
        Assertion {
            value: "{{ outputs.t.value }}".into(),
            task_id: None,
            error_message: None,
            description: None,
            checks: checks.into_iter().map(|(operator, expected)| Check { operator, expected }).collect(),
            path: "testCases[0].assertions[0]".into(),
        }
    }

    fn run(actual: Option<&str>, op: Operator, expected: Value) -> AssertionResult {
        let a = assertion(vec![(op, expected)]);
        let actual = actual.map(str::to_string);
        let render = move |s: &str| -> Rendered {
            if s.contains("outputs.t") { Ok(actual.clone()) } else { Ok(Some(s.to_string())) }
        };
        evaluate(&a, &render).remove(0)
    }

    #[test]
    fn equality_compares_rendered_text() {
        assert!(run(Some("200"), Operator::EqualTo, json!(200)).is_success);
        assert!(run(Some("Hi there"), Operator::EqualTo, json!("Hi there")).is_success);
        let r = run(Some("another"), Operator::EqualTo, json!("Hi there"));
        assert!(!r.is_success);
        assert_eq!(
            r.error_message.as_deref(),
            Some("expected '{{ outputs.t.value }}' to equal 'Hi there' but was 'another'")
        );
        assert!(run(Some("404"), Operator::NotEqualTo, json!(200)).is_success);
        assert!(!run(Some("200"), Operator::NotEqualTo, json!(200)).is_success);
    }

    #[test]
    fn string_operators() {
        assert!(run(Some("MY-PRODUCT-1, X"), Operator::Contains, json!("MY-PRODUCT-1")).is_success);
        assert!(run(Some("hello world"), Operator::StartsWith, json!("hello")).is_success);
        assert!(run(Some("hello world"), Operator::EndsWith, json!("world")).is_success);
        assert!(!run(Some("hello world"), Operator::EndsWith, json!("hello")).is_success);
        assert!(!run(None, Operator::Contains, json!("x")).is_success);
    }

    #[test]
    fn ordering_operators_compare_numbers() {
        assert!(run(Some("10"), Operator::GreaterThan, json!(9)).is_success);
        assert!(!run(Some("9"), Operator::GreaterThan, json!(9)).is_success);
        assert!(run(Some("9"), Operator::GreaterThanOrEqualTo, json!(9)).is_success);
        assert!(run(Some("2.5"), Operator::LessThan, json!("3")).is_success);
        assert!(run(Some("3"), Operator::LessThanOrEqualTo, json!(3.0)).is_success);
        let r = run(Some("abc"), Operator::LessThan, json!(3));
        assert!(!r.is_success);
        assert!(r.error_message.unwrap_or_default().contains("not a number"));
    }

    #[test]
    fn membership_and_nullness() {
        assert!(run(Some("b"), Operator::In, json!(["a", "b"])).is_success);
        assert!(!run(Some("c"), Operator::In, json!(["a", "b"])).is_success);
        assert!(run(Some("c"), Operator::NotIn, json!(["a", "b"])).is_success);
        assert!(run(Some("1"), Operator::In, json!([1, 2])).is_success);
        assert!(run(None, Operator::IsNull, json!(true)).is_success);
        assert!(!run(Some("x"), Operator::IsNull, json!(true)).is_success);
        assert!(run(Some("x"), Operator::IsNotNull, json!(true)).is_success);
        let r = run(None, Operator::IsNotNull, json!(true));
        assert_eq!(r.error_message.as_deref(), Some("expected '{{ outputs.t.value }}' to be not null but was 'null'"));
        assert!(run(None, Operator::IsNotNull, json!(false)).is_success);
    }

    #[test]
    fn the_users_error_message_replaces_kestras() {
        let mut a = assertion(vec![(Operator::EqualTo, json!("x"))]);
        a.error_message = Some("custom".into());
        let r = evaluate(&a, &|s: &str| if s.contains("outputs") { Ok(Some("y".into())) } else { Ok(Some(s.into())) });
        assert_eq!(r[0].error_message.as_deref(), Some("custom"));
    }

    #[test]
    fn an_expression_that_cannot_render_fails_with_the_reason() {
        let a = assertion(vec![(Operator::EqualTo, json!("x"))]);
        let r = evaluate(&a, &|_| Err("boom".into()));
        assert!(!r[0].is_success);
        assert_eq!(r[0].error_message.as_deref(), Some("could not evaluate '{{ outputs.t.value }}': boom"));
    }
}
