//! Expression-level changes, in every string of the flow: the `json`
//! filter becomes `toJson` and the `json()` function `fromJson()` (the
//! `is json` test stays); `read(…, version=)` and `fileURI(…, version=)`
//! take `revision=`; the removed `{{ schedule }}` variable is reported. And
//! `CANCELED` becomes `CANCELLED` where a state is named (an `Exit` task's
//! `state`, a `states` list, an `ExecutionStatus` condition's `in`/`notIn`).

use crate::migrate::expr::{has_path, rewrite_blocks, rewrite_code};
use crate::migrate::tree::Node;
use crate::migrate::{Cx, walk};

pub fn apply(cx: &mut Cx) {
    let mut scalars = Vec::new();
    cx.root.scalars(&mut scalars);
    for s in scalars {
        let raw = &cx.src[s.start..s.end];
        if !raw.contains("{{") && !raw.contains("{%") {
            continue;
        }
        let mut what = Vec::new();
        let mut schedule = false;
        let new = rewrite_code(raw, &mut |code| {
            let (c, json) = json(code);
            schedule |= has_path(&c, "schedule");
            if json {
                what.push("json → toJson/fromJson");
            }
            c
        });
        let new = rewrite_blocks(&new, &mut |body| {
            let (c, rev) = revision(body);
            if rev {
                what.push("version= → revision=");
            }
            c
        });
        if new != raw {
            cx.replace(s, new);
            what.dedup();
            cx.changed(s.start, what.join(", "));
        }
        if schedule {
            cx.manual(
                s.start,
                "the {{ schedule }} variable is removed in 2.0: use trigger.date / trigger.next / trigger.previous",
            );
        }
    }
}

fn ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `| json` → `| toJson`, `json(` → `fromJson(`; whether anything changed.
fn json(code: &str) -> (String, bool) {
    let mut out = String::new();
    let mut changed = false;
    let mut i = 0;
    while let Some(p) = code[i..].find("json").map(|p| p + i) {
        out.push_str(&code[i..p]);
        let before = code[..p].trim_end();
        let prev = code[..p].chars().next_back();
        let next = code[p + 4..].chars().next();
        let whole = !prev.is_some_and(|c| ident(c) || c == '.') && !next.is_some_and(ident);
        let after = code[p + 4..].trim_start();
        if whole && before.ends_with('|') {
            out.push_str("toJson");
            changed = true;
        } else if whole && after.starts_with('(') && !before.ends_with(" is") && !before.ends_with(" is not") {
            out.push_str("fromJson");
            changed = true;
        } else {
            out.push_str("json");
        }
        i = p + 4;
    }
    out.push_str(&code[i..]);
    (out, changed)
}

/// `read(…, version=N)` / `fileURI(…, version=N)` → `revision=N`.
fn revision(code: &str) -> (String, bool) {
    let mut out = code.to_string();
    let mut changed = false;
    for f in ["read(", "fileURI("] {
        let mut from = 0;
        while let Some(p) = out[from..].find(f).map(|p| p + from) {
            // the call's argument list, to its closing parenthesis
            let args_start = p + f.len();
            let mut depth = 1;
            let mut end = out.len();
            for (i, c) in out[args_start..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = args_start + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let args = &out[args_start..end];
            let mut new_args = String::new();
            let mut rest = args;
            while let Some(q) = rest.find("version") {
                let prev = rest[..q].chars().next_back();
                let tail = rest[q + 7..].trim_start();
                new_args.push_str(&rest[..q]);
                if !prev.is_some_and(|c| ident(c) || c == '.') && tail.starts_with('=') && !tail.starts_with("==") {
                    new_args.push_str("revision");
                    changed = true;
                } else {
                    new_args.push_str("version");
                }
                rest = &rest[q + 7..];
            }
            new_args.push_str(rest);
            out.replace_range(args_start..end, &new_args);
            from = args_start;
        }
    }
    (out, changed)
}

/// `CANCELED` → `CANCELLED` where a state is named.
pub fn canceled(cx: &mut Cx) {
    let root = cx.root;
    for m in walk::typed_maps(root) {
        let ty = m.get_str("type").unwrap_or_default();
        if ty.ends_with(".execution.Exit")
            && let Some(s) = m.get("state")
        {
            fix(cx, s);
        }
        for key in ["states", "in", "notIn"] {
            if let Some(list) = m.get(key) {
                list.items().iter().for_each(|s| fix(cx, s));
            }
        }
    }
    for t in walk::triggers(root) {
        if let Some(list) = t.get("states") {
            list.items().iter().for_each(|s| fix(cx, s));
        }
    }
}

fn fix(cx: &mut Cx, s: &Node) {
    if s.str() == Some("CANCELED") {
        let raw = cx.src[s.start..s.end].replace("CANCELED", "CANCELLED");
        if cx.replace(s, raw) {
            cx.changed(s.start, "CANCELED is spelled CANCELLED in 2.0");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, found};

    #[test]
    fn json_and_version_are_renamed_inside_expressions_only() {
        let src = "\
id: f
namespace: n
tasks:
  - id: a
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo '{{ inputs.x | json }}' | jq . # keep | json here
      - \"{{ json(read('f.txt', version=2)).a }} {% if x is json %}y{% endif %}\"
  - id: e
    type: io.kestra.plugin.core.execution.Exit
    state: CANCELED
triggers:
  - id: t
    type: io.kestra.plugin.core.trigger.Flow
    states: [SUCCESS, CANCELED]
";
        let out = src
            .replace("{{ inputs.x | json }}", "{{ inputs.x | toJson }}")
            .replace("json(read('f.txt', version=2))", "fromJson(read('f.txt', revision=2))")
            .replace("CANCELED", "CANCELLED");
        let m = check(src, &out);
        assert_eq!(found(&m), ["pebble:7", "pebble:8", "canceled:11", "canceled:15"]);
    }

    #[test]
    fn the_schedule_variable_is_reported() {
        let src = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ schedule.date }}\"\n";
        let m = check(src, src);
        assert_eq!(found(&m), ["pebble:6!"]);
    }
}
