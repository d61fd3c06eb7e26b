//! A Flow trigger's `preconditions` (removed in 2.0) become `dependsOn`
//! (one entry per upstream flow, with its states) and `window` (from the
//! `timeWindow`: a daily deadline → `deadline`, a daily window → `from`/`to`,
//! a duration or sliding window without advance → `lookback`). `id` and
//! `resetOnSuccess: true` are dropped (2.0 always resets);
//! `resetOnSuccess: false`, `where` filters and a window advance are
//! reported for a human.

use crate::migrate::Cx;
use crate::migrate::edit::{entry_range, quote};
use crate::migrate::tree::{Node, line_start};
use crate::migrate::walk;

pub fn apply(cx: &mut Cx) {
    let root = cx.root;
    for t in walk::triggers(root) {
        let Some((k, p)) = t.entry("preconditions") else { continue };
        if t.get("conditions").is_some() || t.get("dependsOn").is_some() || t.get("window").is_some() {
            cx.manual(k.start, "preconditions beside conditions/dependsOn/window: combine them by hand");
            continue;
        }
        let (s, e) = entry_range(cx.src, k, p);
        if s != line_start(cx.src, k.start) {
            cx.manual(k.start, "preconditions as the trigger's first key: move them below `id`, then migrate");
            continue;
        }
        match rewrite(p, &" ".repeat(k.column - 1)) {
            Ok(text) => {
                cx.edits.push(s, e, text);
                cx.changed(k.start, "preconditions are removed in 2.0: rewritten as dependsOn/window");
            }
            Err(why) => cx.manual(k.start, format!("{why} (see Kestra 2.0's Flow trigger dependsOn and window)")),
        }
    }
}

fn scalar(v: &str) -> String {
    if v.chars().all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c)) && !v.contains(": ") {
        v.to_string()
    } else {
        quote(v)
    }
}

fn rewrite(p: &Node, pad: &str) -> Result<String, String> {
    for (k, v) in p.entries() {
        match k.str().unwrap_or_default() {
            "id" | "flows" | "timeWindow" => {}
            "resetOnSuccess" if v.str() == Some("true") => {}
            "resetOnSuccess" => return Err("resetOnSuccess: false has no 2.0 equivalent".into()),
            other => return Err(format!("preconditions.{other} has no mechanical equivalent")),
        }
    }
    let flows = p.get("flows").map(Node::items).unwrap_or(&[]);
    if flows.is_empty() {
        return Err("preconditions without flows".into());
    }
    let mut out = format!("{pad}dependsOn:\n");
    for f in flows {
        let mut first = true;
        for (k, v) in f.entries() {
            let key = k.str().unwrap_or_default();
            let val = match key {
                "namespace" | "flowId" => scalar(v.str().ok_or(format!("preconditions flow {key} is not a string"))?),
                "states" => {
                    let s: Vec<&str> = v.items().iter().filter_map(Node::str).collect();
                    format!("[{}]", s.join(", "))
                }
                other => return Err(format!("preconditions flow filter '{other}' has no mechanical equivalent")),
            };
            let lead = if first { "  - " } else { "    " };
            first = false;
            out.push_str(&format!("{pad}{lead}{key}: {val}\n"));
        }
    }
    if let Some(w) = p.get("timeWindow") {
        let ty = w.get_str("type").unwrap_or("DURATION_WINDOW");
        let pairs: Vec<(&str, &str)> = match ty {
            "DAILY_TIME_DEADLINE" => vec![("deadline", "deadline")],
            "DAILY_TIME_WINDOW" => vec![("startTime", "from"), ("endTime", "to")],
            "DURATION_WINDOW" | "SLIDING_WINDOW" => {
                if w.get("windowAdvance").is_some() {
                    return Err("a timeWindow with windowAdvance has no mechanical equivalent".into());
                }
                vec![("window", "lookback")]
            }
            other => return Err(format!("timeWindow type {other} has no mechanical equivalent")),
        };
        out.push_str(&format!("{pad}window:\n"));
        for (from, to) in pairs {
            let v = w.get_str(from).ok_or(format!("timeWindow {ty} without {from}"))?;
            out.push_str(&format!("{pad}  {to}: {}\n", scalar(v)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, found};

    #[test]
    fn preconditions_become_depends_on_and_window() {
        let src = "\
id: f
namespace: n
tasks:
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: two
      flows:
        - namespace: a
          flowId: one
          states: [SUCCESS]
        - namespace: a
          flowId: two
      timeWindow:
        type: DAILY_TIME_DEADLINE
        deadline: \"09:00:00\"
    # after
";
        let out = "\
id: f
namespace: n
tasks:
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: both
    type: io.kestra.plugin.core.trigger.Flow
    dependsOn:
      - namespace: a
        flowId: one
        states: [SUCCESS]
      - namespace: a
        flowId: two
    window:
      deadline: 09:00:00
    # after
";
        let m = check(src, out);
        assert_eq!(found(&m), ["preconditions:10"]);
    }
}
