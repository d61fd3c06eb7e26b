//! `ForEach`, `EachSequential` and `EachParallel` (removed in 2.0) become
//! `io.kestra.plugin.core.flow.Loop`. The concurrency is written out
//! (`ForEach` and `EachSequential` ran one value at a time unless told
//! otherwise; `EachParallel`'s `concurrent` becomes `concurrencyLimit`).
//! In the tasks below a loop, `taskrun.value` becomes `item.value`,
//! `taskrun.iteration` `item.index`, and `parent.taskrun.value` /
//! `parents[n].taskrun.value` the `item.value` or `item.parent.value` of the
//! loop they stood for; `outputs.x[taskrun.value]` inside an iteration
//! becomes `outputs.x` (outputs are per iteration in 2.0). Reading a loop
//! child's outputs from outside the loop has no mechanical equivalent and
//! is reported with the `loopOutputs()` suggestion.

use std::collections::HashSet;

use crate::migrate::edit::after_map;
use crate::migrate::expr::{has_path, replace_path, rewrite_code};
use crate::migrate::tree::Node;
use crate::migrate::walk::{self, TaskAt, is_loop};
use crate::migrate::{Cx, expr};

const LOOP: &str = "io.kestra.plugin.core.flow.Loop";

pub fn apply(cx: &mut Cx) {
    let root = cx.root;
    let all = walk::tasks(root);
    let mut any = false;
    for t in &all {
        if is_loop(t.node) {
            any = true;
            convert(cx, t.node);
        }
        if !t.loops().is_empty() {
            rewrite_task(cx, t);
        }
    }
    if any {
        variables(cx, root);
        outside_reads(cx, root, &all);
    }
}

fn convert(cx: &mut Cx, l: &Node) {
    let Some(ty) = l.get("type") else { return };
    let old = ty.str().unwrap_or_default().rsplit('.').next().unwrap_or_default().to_string();
    cx.replace(ty, LOOP);
    let indent = l.column - 1;
    let pad = " ".repeat(indent);
    if old.starts_with("Each")
        && let Some((k, _)) = l.entry("value")
    {
        cx.replace(k, "values");
    }
    match old.as_str() {
        "EachParallel" => match l.entry("concurrent") {
            Some((k, _)) => {
                cx.replace(k, "concurrencyLimit");
            }
            None => {
                let at = after_map(cx.src, l);
                cx.edits.push(at, at, format!("{pad}concurrencyLimit: 0\n"));
            }
        },
        _ => {
            if l.get("concurrencyLimit").is_none() {
                let at = after_map(cx.src, l);
                cx.edits.push(at, at, format!("{pad}concurrencyLimit: 1\n"));
            }
        }
    }
    cx.changed(ty.start, format!("{old} is removed in 2.0: now Loop (item.value/item.index in its tasks)"));
}

/// The depth (1 = outermost) of the innermost 1.x loop enclosing
/// `parents[..upto]`'s last task, or 0.
fn loop_depth(parents: &[&Node], upto: usize) -> usize {
    parents[..upto].iter().filter(|p| is_loop(p)).count()
}

fn rewrite_task(cx: &mut Cx, t: &TaskAt) {
    let n = t.loops().len();
    let item_at = |depth: usize| -> Option<&'static str> {
        match n.checked_sub(depth) {
            Some(0) if depth > 0 => Some("item.value"),
            Some(1) if depth > 0 => Some("item.parent.value"),
            _ => None,
        }
    };
    let np = t.parents.len();
    // `parent` is the nearest flowable; its value comes from the loops around it
    let parent_depth = loop_depth(&t.parents, np - 1);
    let mut unknown = Vec::new();
    for s in walk::own_scalars(t.node) {
        let raw = &cx.src[s.start..s.end];
        if !raw.contains("taskrun") {
            continue;
        }
        let new = rewrite_code(raw, &mut |code| {
            let mut c = code.to_string();
            for i in (0..np).rev() {
                let path = format!("parents[{i}].taskrun.value");
                if has_path(&c, &path) {
                    let depth = loop_depth(&t.parents, np - 1 - i);
                    match item_at(depth) {
                        Some(to) => c = replace_path(&c, &path, to),
                        None => unknown.push(path),
                    }
                }
            }
            if has_path(&c, "parent.taskrun.value") {
                match item_at(parent_depth) {
                    Some(to) => c = replace_path(&c, "parent.taskrun.value", to),
                    None => unknown.push("parent.taskrun.value".to_string()),
                }
            }
            c = replace_path(&c, "taskrun.value", "item.value");
            c = replace_path(&c, "taskrun.iteration", "item.index");
            drop_value_index(&c)
        });
        if new != raw {
            cx.replace(s, new);
            cx.changed(s.start, "loop iteration variables: taskrun.* → item.*");
        }
    }
    for u in unknown {
        cx.manual(t.node.start, format!("{u} refers to a loop more than one level out: use item.parents[n] by hand"));
    }
}

/// `outputs.x[item.value]` → `outputs.x` (outputs are per iteration in 2.0).
fn drop_value_index(code: &str) -> String {
    let mut out = code.to_string();
    for idx in ["[item.value]", "[item.parent.value]"] {
        while let Some(pos) = find_output_index(&out, idx) {
            out.replace_range(pos..pos + idx.len(), "");
        }
    }
    out
}

/// The offset of `idx` right after an `outputs.<id>` (or another index).
fn find_output_index(code: &str, idx: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = code[from..].find(idx).map(|p| p + from) {
        let before = &code[..p];
        let trimmed = before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let ok = trimmed.ends_with("outputs.") || before.ends_with(']');
        if ok && before.contains("outputs.") {
            return Some(p);
        }
        from = p + idx.len();
    }
    None
}

/// Flow variables that mention `taskrun.value` are rendered inside loops:
/// they read `item.value` in 2.0.
fn variables(cx: &mut Cx, root: &Node) {
    let Some(vars) = root.get("variables") else { return };
    let mut scalars = Vec::new();
    vars.scalars(&mut scalars);
    for s in scalars {
        let raw = &cx.src[s.start..s.end];
        let new = rewrite_code(raw, &mut |c| {
            let c = replace_path(c, "taskrun.value", "item.value");
            replace_path(&c, "taskrun.iteration", "item.index")
        });
        if new != raw {
            cx.replace(s, new);
            cx.changed(s.start, "variable rendered inside a loop: taskrun.value → item.value");
        }
    }
}

/// Reads of a loop child's outputs from outside its loop.
fn outside_reads(cx: &mut Cx, root: &Node, all: &[TaskAt]) {
    // (child id, its outermost loop)
    let mut inside: Vec<(String, *const Node)> = Vec::new();
    for t in all {
        if let (Some(l), Some(id)) = (t.loops().first(), t.node.get_str("id")) {
            inside.push((id.to_string(), *l as *const Node));
        }
    }
    let within: HashSet<(*const Node, *const Node)> = all
        .iter()
        .flat_map(|t| t.loops().into_iter().map(move |l| (t.node as *const Node, l as *const Node)))
        .collect();
    let mut scalars: Vec<(&Node, Option<&Node>)> = Vec::new();
    for t in all {
        scalars.extend(walk::own_scalars(t.node).into_iter().map(|s| (s, Some(t.node))));
    }
    if let Some(o) = root.get("outputs") {
        let mut v = Vec::new();
        o.scalars(&mut v);
        scalars.extend(v.into_iter().map(|s| (s, None)));
    }
    for (s, task) in scalars {
        let raw = &cx.src[s.start..s.end];
        for (id, l) in &inside {
            let reader_inside = task.is_some_and(|t| within.contains(&(t as *const Node, *l)) || std::ptr::eq(t, *l));
            if !reader_inside && expr::mentions(raw, &format!("outputs.{id}")) {
                cx.manual(
                    s.start,
                    format!(
                        "outputs.{id} is read outside its loop: in 2.0 declare `outputs:` on the Loop and read \
                         loopOutputs(outputs.<loop>.outputs, '<outputId>')"
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, found};

    #[test]
    fn foreach_becomes_loop_with_item_variables() {
        let src = "\
id: f
namespace: n
tasks:
  - id: each # years
    type: io.kestra.plugin.core.flow.ForEach
    values: [2019, 2020]
    tasks:
      - id: months
        type: io.kestra.plugin.core.flow.EachParallel
        value: '[\"01\", \"02\"]'
        concurrent: 2
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: \"{{ parent.taskrun.value }}-{{ taskrun.value }} #{{ taskrun.iteration }}\"
          - id: check
            type: io.kestra.plugin.core.flow.If
            condition: \"{{ taskrun.value == '01' }}\"
            then:
              - id: r
                type: io.kestra.plugin.core.log.Log
                message: \"{{ parent.taskrun.value }} {{ parents[1].taskrun.value }} {{ outputs.log[parent.taskrun.value][taskrun.value] }}\"
";
        let out = "\
id: f
namespace: n
tasks:
  - id: each # years
    type: io.kestra.plugin.core.flow.Loop
    values: [2019, 2020]
    tasks:
      - id: months
        type: io.kestra.plugin.core.flow.Loop
        values: '[\"01\", \"02\"]'
        concurrencyLimit: 2
        tasks:
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: \"{{ item.parent.value }}-{{ item.value }} #{{ item.index }}\"
          - id: check
            type: io.kestra.plugin.core.flow.If
            condition: \"{{ item.value == '01' }}\"
            then:
              - id: r
                type: io.kestra.plugin.core.log.Log
                message: \"{{ item.value }} {{ item.parent.value }} {{ outputs.log }}\"
    concurrencyLimit: 1
";
        let m = check(src, out);
        assert_eq!(found(&m), ["loop:5", "loop:9", "loop:15", "loop:18", "loop:22"]);
    }

    #[test]
    fn outputs_read_after_the_loop_are_reported() {
        let src = "\
id: f
namespace: n
variables:
  file: \"{{ taskrun.value }}.csv\"
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.EachSequential
    value: [a]
    tasks:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: \"{{ render(vars.file) }}\"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: \"{{ outputs.ret['a'].value }}\"
";
        let m = check(
            src,
            &src.replace("EachSequential", "Loop")
                .replace("{{ taskrun.value }}", "{{ item.value }}")
                .replace("value: [a]", "values: [a]")
                .replace("vars.file) }}\"\n", "vars.file) }}\"\n    concurrencyLimit: 1\n"),
        );
        assert_eq!(found(&m), ["variables:4", "loop:7", "loop:15!"].map(|s| s.replace("variables", "loop")));
    }
}
