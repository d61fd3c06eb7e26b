//! Type names: 2.0 drops every alias, so each legacy name (`io.kestra.core.tasks.*`,
//! `io.kestra.core.models.*`, `fs.http`, the `…Condition` suffix) becomes
//! its canonical name; `Echo` becomes `Log` with `format` → `message`; a
//! retry's `maxAttempt` becomes `maxAttempts`.

use crate::migrate::Cx;
use crate::migrate::tree::Node;
use crate::migrate::walk;
use crate::validate::type_names::normalize;

const ECHO: &[&str] = &["io.kestra.core.tasks.debugs.Echo", "io.kestra.plugin.core.debug.Echo"];
const LOG: &str = "io.kestra.plugin.core.log.Log";

/// The 2.0 name of a condition type, if `t` is a legacy condition name.
fn condition(t: &str) -> Option<String> {
    let short = t
        .strip_prefix("io.kestra.core.models.conditions.types.")
        .or_else(|| t.strip_prefix("io.kestra.plugin.core.condition."))?;
    let base = short.strip_suffix("Condition").filter(|b| !b.is_empty() && *b != "Multiple").unwrap_or(short);
    let new = format!("io.kestra.plugin.core.condition.{base}");
    (new != t).then_some(new)
}

pub fn apply(cx: &mut Cx) {
    let root = cx.root;
    for m in walk::typed_maps(root) {
        let Some(ty) = m.get("type") else { continue };
        let Some(t) = ty.str() else { continue };
        if ECHO.contains(&t) {
            cx.replace(ty, LOG);
            if let Some((k, _)) = m.entry("format") {
                cx.replace(k, "message");
            }
            cx.changed(ty.start, format!("{t} is removed in 2.0: now {LOG} (format → message)"));
            continue;
        }
        let new = condition(t).or_else(|| (normalize(t) != t).then(|| normalize(t).to_string()));
        if let Some(new) = new {
            cx.replace(ty, new.clone());
            cx.changed(ty.start, format!("type {t} is an alias 2.0 no longer accepts: now {new}"));
        }
        retry(cx, m);
    }
}

fn retry(cx: &mut Cx, m: &Node) {
    if let Some(r) = m.get("retry")
        && let Some((k, _)) = r.entry("maxAttempt")
        && r.get("maxAttempts").is_none()
    {
        cx.replace(k, "maxAttempts");
        cx.changed(k.start, "retry maxAttempt is maxAttempts in 2.0");
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, found};

    #[test]
    fn legacy_names_become_canonical_and_comments_stay() {
        let src = "id: f\nnamespace: n\ntasks:\n  - id: a # the log\n    type: io.kestra.core.tasks.log.Log\n    message: hi\n  - id: e\n    type: io.kestra.plugin.core.debug.Echo\n    format: \"{{ 1 }}\"\n    retry:\n      type: constant\n      maxAttempt: 3 # three\n      interval: PT1S\ntriggers:\n  - id: s\n    type: io.kestra.core.models.triggers.types.Schedule\n    cron: '@daily'\n";
        let out = "id: f\nnamespace: n\ntasks:\n  - id: a # the log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n  - id: e\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ 1 }}\"\n    retry:\n      type: constant\n      maxAttempts: 3 # three\n      interval: PT1S\ntriggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: '@daily'\n";
        let m = check(src, out);
        assert_eq!(found(&m), ["types:5", "types:8", "types:12", "types:16"]);
    }

    #[test]
    fn condition_suffixes_are_dropped() {
        assert_eq!(
            super::condition("io.kestra.core.models.conditions.types.DayWeekCondition").as_deref(),
            Some("io.kestra.plugin.core.condition.DayWeek")
        );
        assert_eq!(super::condition("io.kestra.plugin.core.condition.Weekend"), None);
        assert_eq!(super::condition("io.kestra.plugin.core.condition.MultipleCondition"), None);
    }
}
