//! The constructs that tie a flow to one Kestra dialect, found in the flow
//! as written (the raw YAML value, before pluginDefaults are applied):
//! what Kestra 2.0 rejects (1.x-only) and what 1.x does not know (2.0-only).
//! Each [`Marker`] carries its path (for file:line:column) and the
//! construct that replaces it in the other dialect.
//!
//! The tables follow Kestra 2.0's migration guide ("flows-changes" of
//! kestra-io/kestra2-flow-migration): a flow with no marker is valid in
//! both dialects.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::Dialect;
use crate::yaml::{child_index, child_key};

/// One dialect-specific construct found in a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// Where it is, e.g. `tasks[1].type` or `triggers[0].conditions`.
    pub path: String,
    /// The only dialect that accepts it.
    pub dialect: Dialect,
    /// The construct, as a human names it (`` `pluginDefaults` ``, `` task type `…ForEach` ``).
    pub what: String,
    /// What replaces it in the other dialect.
    pub replacement: &'static str,
}

const LOOP: &str = "io.kestra.plugin.core.flow.Loop";

/// Task types only one dialect has: (type, dialect, replacement in the other dialect).
const TASK_TYPES: &[(&str, Dialect, &str)] = &[
    (
        "io.kestra.plugin.core.flow.ForEach",
        Dialect::V1,
        "use io.kestra.plugin.core.flow.Loop (children read item.value instead of taskrun.value)",
    ),
    (
        "io.kestra.core.tasks.flows.ForEach",
        Dialect::V1,
        "use io.kestra.plugin.core.flow.Loop (children read item.value instead of taskrun.value)",
    ),
    (
        "io.kestra.plugin.core.flow.EachSequential",
        Dialect::V1,
        "use io.kestra.plugin.core.flow.Loop with concurrencyLimit: 1",
    ),
    (
        "io.kestra.core.tasks.flows.EachSequential",
        Dialect::V1,
        "use io.kestra.plugin.core.flow.Loop with concurrencyLimit: 1",
    ),
    (
        "io.kestra.plugin.core.flow.EachParallel",
        Dialect::V1,
        "use io.kestra.plugin.core.flow.Loop with concurrencyLimit: 0",
    ),
    (
        "io.kestra.core.tasks.flows.EachParallel",
        Dialect::V1,
        "use io.kestra.plugin.core.flow.Loop with concurrencyLimit: 0",
    ),
    (
        "io.kestra.plugin.core.flow.ForEachItem",
        Dialect::V1,
        "use io.kestra.plugin.core.flow.Loop with values set to the file's kestra:// URI",
    ),
    (
        "io.kestra.core.tasks.flows.ForEachItem",
        Dialect::V1,
        "use io.kestra.plugin.core.flow.Loop with values set to the file's kestra:// URI",
    ),
    (
        "io.kestra.plugin.core.execution.Resume",
        Dialect::V1,
        "resume through the API (POST /api/v1/main/executions/{id}/resume)",
    ),
    (
        "io.kestra.plugin.core.trigger.Toggle",
        Dialect::V1,
        "enable or disable the trigger through the API (PUT /api/v1/main/triggers)",
    ),
    (
        "io.kestra.plugin.core.execution.Count",
        Dialect::V1,
        "search executions through the API (GET /api/v1/main/executions/search)",
    ),
    (
        "io.kestra.plugin.core.flow.Template",
        Dialect::V1,
        "use io.kestra.plugin.core.flow.Subflow (templateId → flowId)",
    ),
    (LOOP, Dialect::V2, "use io.kestra.plugin.core.flow.ForEach (children read taskrun.value)"),
    (
        "io.kestra.plugin.core.storage.PurgeStorage",
        Dialect::V2,
        "use io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
    ),
];

/// A template construct only one dialect has.
struct TemplateMarker {
    /// Words the expression must hold for the pattern to match at all: a
    /// plain search first, so the pattern is compiled (once, ~1 ms each)
    /// only for a flow that could use it, and run only on such text.
    needles: &'static [&'static str],
    pattern: LazyLock<Regex>,
    what: &'static str,
    dialect: Dialect,
    replacement: &'static str,
}

impl TemplateMarker {
    fn is_in(&self, code: &str) -> bool {
        self.needles.iter().any(|n| code.contains(n)) && self.pattern.is_match(code)
    }
}

const DATE_HELPERS: &[&str] = &[
    "isWeekend",
    "isPublicHoliday",
    "isDayWeekInMonth",
    "isLastWorkingDay",
    "dayOfWeek",
    "dayOfMonth",
    "monthOfYear",
    "hourOfDay",
];

static TEMPLATE_MARKERS: [TemplateMarker; 8] = [
    TemplateMarker {
        needles: &["json"],
        pattern: LazyLock::new(|| Regex::new(r"\|\s*json\b").expect("static regex")),
        what: "the `json` filter",
        dialect: Dialect::V1,
        replacement: "use the `toJson` filter",
    },
    TemplateMarker {
        needles: &["json"],
        pattern: LazyLock::new(|| Regex::new(r"(?:^|[^\w.])json\s*\(").expect("static regex")),
        what: "the `json()` function",
        dialect: Dialect::V1,
        replacement: "use `fromJson()`",
    },
    TemplateMarker {
        needles: &["version"],
        pattern: LazyLock::new(|| Regex::new(r"\bread\s*\([^)]*\bversion\s*=").expect("static regex")),
        what: "`read(..., version=)`",
        dialect: Dialect::V1,
        replacement: "use `read(..., revision=)`",
    },
    TemplateMarker {
        needles: &["schedule"],
        pattern: LazyLock::new(|| Regex::new(r"(?:\{\{|[^\w.])\s*schedule\.\w").expect("static regex")),
        what: "the `schedule` variable",
        dialect: Dialect::V1,
        replacement: "use `trigger.date`, `trigger.next`, `trigger.previous`",
    },
    TemplateMarker {
        needles: &["revision"],
        pattern: LazyLock::new(|| Regex::new(r"\bread\s*\([^)]*\brevision\s*=").expect("static regex")),
        what: "`read(..., revision=)`",
        dialect: Dialect::V2,
        replacement: "use `read(..., version=)`",
    },
    TemplateMarker {
        needles: &["loopOutputs"],
        pattern: LazyLock::new(|| Regex::new(r"\bloopOutputs\s*\(").expect("static regex")),
        what: "`loopOutputs()`",
        dialect: Dialect::V2,
        replacement: "use `outputs.<task>[value]` of a ForEach",
    },
    TemplateMarker {
        needles: &["subflow"],
        pattern: LazyLock::new(|| Regex::new(r"\bsubflow\s*\(").expect("static regex")),
        what: "`subflow()`",
        dialect: Dialect::V2,
        replacement: "1.x has no equivalent: give the SELECT static `values`, or an `expression` reading `kv()`",
    },
    TemplateMarker {
        needles: DATE_HELPERS,
        pattern: LazyLock::new(|| Regex::new(&format!(r"\b({})\s*\(", DATE_HELPERS.join("|"))).expect("static regex")),
        what: "a 2.0 date helper",
        dialect: Dialect::V2,
        replacement: "use the trigger's `conditions` (DayWeek, Weekend, PublicHoliday, DayWeekInMonth, TimeBetween…)",
    },
];

/// Every dialect marker in the flow `root` (a YAML mapping), in document order.
pub fn scan(root: &Value) -> Vec<Marker> {
    let mut out = Vec::new();
    let Some(obj) = root.as_object() else { return out };
    for key in ["pluginDefaults", "taskDefaults"] {
        if obj.get(key).is_some_and(|v| !v.is_null()) {
            out.push(marker(
                key,
                Dialect::V1,
                format!("`{key}`"),
                "set the values on each task (2.0 has no pluginDefaults; `baton migrate` inlines them)",
            ));
        }
    }
    if obj.get("listeners").is_some_and(|v| !v.is_null()) {
        out.push(marker(
            "listeners",
            Dialect::V1,
            "`listeners`".into(),
            "move the tasks to `afterExecution` or to a flow with a Flow trigger",
        ));
    }
    if let Some(inputs) = obj.get("inputs").and_then(Value::as_array) {
        for (i, input) in inputs.iter().enumerate() {
            scan_input(&child_index("inputs", i), input, &mut out);
        }
    }
    if let Some(triggers) = obj.get("triggers").and_then(Value::as_array) {
        for (i, t) in triggers.iter().enumerate() {
            scan_trigger(&child_index("triggers", i), t, obj.get("inputs"), &mut out);
        }
    }
    if let Some(checks) = obj.get("checks").and_then(Value::as_array) {
        for (i, c) in checks.iter().enumerate() {
            if c.get("when").is_some_and(|v| !v.is_null()) {
                out.push(marker(
                    &child_key(&child_index("checks", i), "when"),
                    Dialect::V2,
                    "a check's `when`".into(),
                    "use the check's `condition`",
                ));
            }
        }
    }
    walk(root, &mut String::new(), &mut out);
    out
}

fn marker(path: &str, dialect: Dialect, what: String, replacement: &'static str) -> Marker {
    Marker { path: path.to_string(), dialect, what, replacement }
}

fn scan_input(path: &str, input: &Value, out: &mut Vec<Marker>) {
    let Some(o) = input.as_object() else { return };
    if o.contains_key("name") && !o.contains_key("id") {
        out.push(marker(&child_key(path, "name"), Dialect::V1, "input `name`".into(), "use `id`"));
    }
    if o.get("type").and_then(Value::as_str) == Some("BOOLEAN") {
        out.push(marker(&child_key(path, "type"), Dialect::V1, "input type BOOLEAN".into(), "use BOOL"));
    }
    if o.get("required").and_then(Value::as_bool) == Some(false) && o.get("defaults").is_some_and(|v| !v.is_null()) {
        out.push(marker(
            &child_key(path, "required"),
            Dialect::V1,
            "an optional input with `defaults`".into(),
            "inputs with defaults are required in 2.0: remove `required: false` (or use `prefill` instead of `defaults`)",
        ));
    }
    for key in ["values", "options"] {
        let Some(items) = o.get(key).and_then(Value::as_array) else { continue };
        if let Some(i) = items.iter().position(Value::is_object) {
            out.push(marker(
                &child_index(&child_key(path, key), i),
                Dialect::V2,
                "a `{label, value}` option".into(),
                "list the option values as plain strings",
            ));
        }
    }
    if o.contains_key("jsonSchema") {
        out.push(marker(
            &child_key(path, "jsonSchema"),
            Dialect::V2,
            "input `jsonSchema`".into(),
            "check the value with the input's `validator` or in a task",
        ));
    }
}

fn scan_trigger(path: &str, t: &Value, inputs: Option<&Value>, out: &mut Vec<Marker>) {
    let Some(o) = t.as_object() else { return };
    let type_ = o.get("type").and_then(Value::as_str).map(crate::types::normalize).unwrap_or("");
    for key in ["conditions", "scheduleConditions"] {
        if o.contains_key(key) {
            out.push(marker(
                &child_key(path, key),
                Dialect::V1,
                format!("trigger `{key}`"),
                "use `when: \"{{ … }}\"` (Flow triggers: `dependsOn` entries with `states`/`when`)",
            ));
        }
    }
    if o.contains_key("preconditions") {
        out.push(marker(
            &child_key(path, "preconditions"),
            Dialect::V1,
            "trigger `preconditions`".into(),
            "use `dependsOn` (one entry per upstream flow) and `window`",
        ));
    }
    if type_ == crate::types::SCHEDULE_TYPE && o.contains_key("backfill") {
        out.push(marker(
            &child_key(path, "backfill"),
            Dialect::V1,
            "Schedule `backfill`".into(),
            "create the backfill through the API (PUT /api/v1/main/triggers/backfill/create)",
        ));
    }
    if o.contains_key("when") {
        out.push(marker(
            &child_key(path, "when"),
            Dialect::V2,
            "trigger `when`".into(),
            "use the trigger's `conditions` (an Expression condition)",
        ));
    }
    if type_ == "io.kestra.plugin.core.trigger.Flow" {
        for key in ["dependsOn", "window"] {
            if o.contains_key(key) {
                out.push(marker(
                    &child_key(path, key),
                    Dialect::V2,
                    format!("Flow trigger `{key}`"),
                    "use `preconditions` (flows and timeWindow)",
                ));
            }
        }
    }
    let supplies_inputs = type_ == crate::types::SCHEDULE_TYPE
        || type_ == crate::types::SCHEDULE_ON_DATES_TYPE
        || type_ == "io.kestra.plugin.core.trigger.Webhook";
    if supplies_inputs {
        let given = o.get("inputs").and_then(Value::as_object);
        for input in inputs.and_then(Value::as_array).into_iter().flatten() {
            let Some(io) = input.as_object() else { continue };
            let Some(id) = io.get("id").or_else(|| io.get("name")).and_then(Value::as_str) else { continue };
            let required = io.get("required").and_then(Value::as_bool) != Some(false);
            let has_default = io.get("defaults").is_some_and(|v| !v.is_null());
            if required && !has_default && !given.is_some_and(|g| g.contains_key(id)) {
                out.push(marker(
                    path,
                    Dialect::V1,
                    format!("a trigger that does not supply required input '{id}'"),
                    "give the input `defaults`, or pass it in the trigger's `inputs`",
                ));
            }
        }
    }
}

/// Task types, state names and templates anywhere in the flow. `path` is
/// one buffer, extended for a child and cut back after it: a path is
/// written out only for a marker (a list of 100,000 values made 100,000).
fn walk(v: &Value, path: &mut String, out: &mut Vec<Marker>) {
    match v {
        Value::Object(o) => {
            if let Some(t) = o.get("type").and_then(Value::as_str)
                && let Some((_, d, repl)) = TASK_TYPES.iter().find(|(name, _, _)| *name == t)
            {
                out.push(marker(&child_key(path, "type"), *d, format!("task type {t}"), repl));
            }
            if let Some(t) = o.get("type").and_then(Value::as_str)
                && t.starts_with("io.kestra.plugin.core.state.")
            {
                out.push(marker(
                    &child_key(path, "type"),
                    Dialect::V1,
                    format!("task type {t}"),
                    "use the KV tasks (io.kestra.plugin.core.kv.*)",
                ));
            }
            if o.get("type").and_then(Value::as_str).is_some_and(|t| t.starts_with("io.kestra.plugin.scripts."))
                && o.get("executionContext").is_some_and(|v| !v.is_null())
            {
                out.push(marker(
                    &child_key(path, "executionContext"),
                    Dialect::V2,
                    "script `executionContext`".into(),
                    "pass the values through Pebble expressions (`{{ inputs.x }}`) in `env` or the script",
                ));
            }
            // Exit's `state`: 1.x's `ExitState` spells it CANCELED, 2.0 CANCELLED
            if o.get("type").and_then(Value::as_str).is_some_and(|t| t.ends_with("core.execution.Exit")) {
                match o.get("state").and_then(Value::as_str) {
                    Some("CANCELED") => out.push(marker(
                        &child_key(path, "state"),
                        Dialect::V1,
                        "Exit state CANCELED".into(),
                        "use CANCELLED",
                    )),
                    Some("CANCELLED") => out.push(marker(
                        &child_key(path, "state"),
                        Dialect::V2,
                        "Exit state CANCELLED".into(),
                        "use CANCELED",
                    )),
                    _ => {}
                }
            }
            if let Some(states) = o.get("states").and_then(Value::as_array)
                && let Some(i) = states.iter().position(|s| s.as_str() == Some("CANCELED"))
            {
                let p = child_index(&child_key(path, "states"), i);
                out.push(marker(&p, Dialect::V1, "state CANCELED".into(), "use CANCELLED"));
            }
            for (k, child) in o {
                let len = path.len();
                crate::yaml::push_key(path, k);
                walk(child, path, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                if matches!(child, Value::Object(_) | Value::Array(_) | Value::String(_)) {
                    let len = path.len();
                    crate::yaml::push_index(path, i);
                    walk(child, path, out);
                    path.truncate(len);
                }
            }
        }
        Value::String(s) if crate::expr::is_template(s) => {
            let code = expression_text(s);
            for m in &TEMPLATE_MARKERS {
                if m.is_in(&code) {
                    out.push(marker(path, m.dialect, m.what.to_string(), m.replacement));
                }
            }
        }
        _ => {}
    }
}

/// The expression parts of a template (inside `{{ }}` and `{% %}`), each
/// after a space: what the template markers look at, so plain text around
/// them (`python schedule.py`, "a json(…) example") is never taken for one.
fn expression_text(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start + 1..];
        let close = match after.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        let body = &after[1..];
        let end = body.find(close).unwrap_or(body.len());
        out.push(' ');
        out.push_str(&body[..end]);
        rest = &body[(end + close.len()).min(body.len())..];
    }
    out
}
