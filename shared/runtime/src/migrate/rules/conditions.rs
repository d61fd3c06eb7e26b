//! Trigger `conditions` (and Schedule's older `scheduleConditions`),
//! removed in 2.0. On a Schedule, Webhook or any non-Flow trigger they
//! become one `when` expression (a list is an `and`): DayWeek →
//! `dayOfWeek(d) == 'MONDAY'`, DayWeekInMonth → `isDayWeekInMonth(d, day,
//! which)`, Weekend → `isWeekend(d)`, PublicHoliday → `isPublicHoliday(d,
//! country, subDivision)`, DateTimeBetween → `timestamp` comparisons,
//! Expression → its expression, Not → `not (a and b)`, Or → `a or b`, with
//! `d` the condition's `date` (default `trigger.date`). On a Flow trigger,
//! ExecutionFlow, ExecutionNamespace (exact) and ExecutionStatus (`in`)
//! become one `dependsOn` entry. Anything else is left and reported.

use crate::migrate::Cx;
use crate::migrate::edit::{entry_range, quote};
use crate::migrate::tree::{Kind, Node, line_start};
use crate::migrate::walk;

pub fn apply(cx: &mut Cx) {
    let root = cx.root;
    for t in walk::triggers(root) {
        let Some((k, v)) = t.entry("conditions").or_else(|| t.entry("scheduleConditions")) else { continue };
        let ty = t.get_str("type").unwrap_or_default();
        let (s, e) = entry_range(cx.src, k, v);
        if s != line_start(cx.src, k.start) {
            cx.manual(k.start, "trigger conditions as the trigger's first key: move them below `id`, then migrate");
            continue;
        }
        let empty = match &v.kind {
            Kind::Seq(items) => items.is_empty(),
            Kind::Map(entries) => entries.is_empty(),
            Kind::Scalar { value, .. } => value.is_empty() || value == "null" || value == "~",
        };
        if empty {
            // nothing to carry over: an empty `when`/`dependsOn` would only add noise
            cx.edits.push(s, e, "");
            cx.changed(k.start, "empty trigger conditions are removed in 2.0: dropped");
            continue;
        }
        let pad = " ".repeat(k.column - 1);
        let result = if ty.ends_with("trigger.Flow") {
            flow_conditions(t, v, &pad)
        } else {
            if t.get("when").is_some() {
                Err("the trigger already has a `when`: merge the conditions into it by hand".to_string())
            } else {
                all(v.items()).map(|expr| format!("{pad}when: {}\n", quote(&format!("{{{{ {expr} }}}}"))))
            }
        };
        match result {
            Ok(text) => {
                cx.edits.push(s, e, text);
                cx.changed(k.start, "trigger conditions are removed in 2.0: rewritten as `when`/`dependsOn`");
            }
            Err(why) => cx.manual(k.start, format!("{why} (see Kestra 2.0's trigger `when` and `dependsOn`)")),
        }
    }
}

fn cond_type(c: &Node) -> &str {
    c.get_str("type").unwrap_or_default().rsplit('.').next().unwrap_or_default().trim_end_matches("Condition")
}

/// The conditions of a list, and-ed.
fn all(items: &[Node]) -> Result<String, String> {
    let parts = items.iter().map(expr).collect::<Result<Vec<_>, _>>()?;
    Ok(match parts.len() {
        0 => "true".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => parts.iter().map(|p| format!("({p})")).collect::<Vec<_>>().join(" and "),
    })
}

/// The expression a date-based `date` property stands for.
fn date_of(c: &Node) -> Result<String, String> {
    match c.get_str("date") {
        None => Ok("trigger.date".into()),
        Some(d) => single_expr(d).ok_or_else(|| format!("condition date '{d}' is not one expression")),
    }
}

/// `x` from `{{ x }}`, when the string is exactly one expression.
fn single_expr(s: &str) -> Option<String> {
    let t = s.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then(|| inner.trim().to_string())
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn expr(c: &Node) -> Result<String, String> {
    let need = |k: &str| c.get_str(k).ok_or_else(|| format!("{} condition without {k}", cond_type(c)));
    Ok(match cond_type(c) {
        "DayWeek" => format!("dayOfWeek({}) == {}", date_of(c)?, lit(need("dayOfWeek")?)),
        "DayWeekInMonth" => {
            format!("isDayWeekInMonth({}, {}, {})", date_of(c)?, lit(need("dayOfWeek")?), lit(need("dayInMonth")?))
        }
        "Weekend" => format!("isWeekend({})", date_of(c)?),
        "PublicHoliday" => {
            let mut args = vec![date_of(c)?];
            if let Some(country) = c.get_str("country") {
                args.push(lit(country));
                if let Some(sub) = c.get_str("subDivision") {
                    args.push(lit(sub));
                }
            }
            format!("isPublicHoliday({})", args.join(", "))
        }
        "DateTimeBetween" => {
            let d = date_of(c)?;
            let mut parts = Vec::new();
            for (k, op) in [("after", ">"), ("before", "<")] {
                if let Some(v) = c.get_str(k) {
                    let bound = match single_expr(v) {
                        Some(e) => format!("(({e}) | timestamp())"),
                        None if v.contains("{{") => {
                            return Err(format!("DateTimeBetween {k} mixes text and an expression"));
                        }
                        None => format!("({} | timestamp())", lit(v)),
                    };
                    parts.push(format!("(({d}) | timestamp()) {op} {bound}"));
                }
            }
            if parts.is_empty() {
                return Err("DateTimeBetween without after or before".into());
            }
            parts.join(" and ")
        }
        "Expression" => {
            let e = need("expression")?;
            single_expr(e).ok_or_else(|| format!("Expression condition '{e}' is not one expression"))?
        }
        "Not" => format!("not ({})", all(c.get("conditions").map(Node::items).unwrap_or(&[]))?),
        "Or" => {
            let items = c.get("conditions").map(Node::items).unwrap_or(&[]);
            items.iter().map(|i| expr(i).map(|e| format!("({e})"))).collect::<Result<Vec<_>, _>>()?.join(" or ")
        }
        other => return Err(format!("the {other} condition has no mechanical `when` equivalent")),
    })
}

/// A Flow trigger's conditions as one `dependsOn` entry.
fn flow_conditions(t: &Node, list: &Node, pad: &str) -> Result<String, String> {
    if t.get("preconditions").is_some() || t.get("dependsOn").is_some() {
        return Err("conditions beside preconditions/dependsOn: combine them by hand".into());
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: String| -> Result<(), String> {
        if fields.iter().any(|(a, _)| a == k) {
            return Err(format!("two conditions set {k}: split into dependsOn entries by hand"));
        }
        fields.push((k.into(), v));
        Ok(())
    };
    for c in list.items() {
        match cond_type(c) {
            "ExecutionFlow" => {
                let ns = c.get_str("namespace").ok_or("ExecutionFlow without namespace")?;
                let id = c.get_str("flowId").ok_or("ExecutionFlow without flowId")?;
                set("namespace", ns.into())?;
                set("flowId", id.into())?;
            }
            "ExecutionNamespace" => {
                let exact =
                    c.get_str("comparison").is_none_or(|x| x == "EQUALS") && c.get_str("prefix") != Some("true");
                if !exact {
                    return Err(
                        "ExecutionNamespace by prefix/suffix: write a dependsOn `when` with startsWith by hand".into(),
                    );
                }
                set("namespace", c.get_str("namespace").ok_or("ExecutionNamespace without namespace")?.into())?;
            }
            "ExecutionStatus" => {
                if c.get("notIn").is_some() {
                    return Err("ExecutionStatus notIn: list the wanted states by hand".into());
                }
                let states: Vec<&str> =
                    c.get("in").map(Node::items).unwrap_or(&[]).iter().filter_map(Node::str).collect();
                set("states", format!("[{}]", states.join(", ")))?;
            }
            other => return Err(format!("the {other} condition on a Flow trigger has no mechanical equivalent")),
        }
    }
    let mut out = format!("{pad}dependsOn:\n");
    for (i, (k, v)) in fields.iter().enumerate() {
        let lead = if i == 0 { "  - " } else { "    " };
        let v = if k == "states" { v.clone() } else { quote_if_needed(v) };
        out.push_str(&format!("{pad}{lead}{k}: {v}\n"));
    }
    Ok(out)
}

fn quote_if_needed(v: &str) -> String {
    if v.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) { v.to_string() } else { quote(v) }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, found};

    #[test]
    fn schedule_conditions_become_when() {
        let src = "\
id: f
namespace: n
tasks:
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: s
    type: io.kestra.plugin.core.trigger.Schedule
    cron: '0 9 * * *'
    conditions: # workdays
      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - type: io.kestra.plugin.core.condition.Weekend
      - type: io.kestra.core.models.conditions.types.DayWeekInMonthCondition
        dayOfWeek: MONDAY
        dayInMonth: FIRST
    timezone: Europe/Paris
";
        let out = "\
id: f
namespace: n
tasks:
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: s
    type: io.kestra.plugin.core.trigger.Schedule
    cron: '0 9 * * *'
    when: \"{{ (not (isWeekend(trigger.date))) and (isDayWeekInMonth(trigger.date, 'MONDAY', 'FIRST')) }}\"
    timezone: Europe/Paris
";
        let m = check(src, out);
        assert_eq!(found(&m), ["conditions:11", "types:15"]);
    }

    #[test]
    fn flow_conditions_become_depends_on() {
        let src = "\
id: f
namespace: n
tasks:
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: up
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.team
        flowId: upstream
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [SUCCESS, WARNING]
  - id: other
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.HasRetryAttempt
";
        let out = "\
id: f
namespace: n
tasks:
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: up
    type: io.kestra.plugin.core.trigger.Flow
    dependsOn:
      - namespace: company.team
        flowId: upstream
        states: [SUCCESS, WARNING]
  - id: other
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.HasRetryAttempt
";
        let m = check(src, out);
        assert_eq!(found(&m), ["conditions:10", "conditions:18!"]);
    }

    #[test]
    fn empty_conditions_are_dropped_not_rewritten() {
        let src = "\
id: f
namespace: n
tasks:
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: up
    type: io.kestra.plugin.core.trigger.Flow
    conditions: []
  - id: s
    type: io.kestra.plugin.core.trigger.Schedule
    cron: '@daily'
    conditions:
";
        let out = "\
id: f
namespace: n
tasks:
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: up
    type: io.kestra.plugin.core.trigger.Flow
  - id: s
    type: io.kestra.plugin.core.trigger.Schedule
    cron: '@daily'
";
        let m = check(src, out);
        assert_eq!(found(&m), ["conditions:10", "conditions:14"]);
    }
}
