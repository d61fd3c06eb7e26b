//! What 2.0 removed without a mechanical replacement, reported with a
//! suggestion: `ForEachItem`, `Count`, `Resume`, `Toggle`, `Template`,
//! `MultipleCondition`, flow `listeners`, a Subflow's `outputs`, the
//! `outputDir` variable. And what 2.0 removed that can simply go: a
//! trigger's `minLogLevel`, a Schedule's `backfill`/`backfills` (reported:
//! start the backfill with `baton backfill` instead).

use crate::migrate::expr;
use crate::migrate::{Cx, walk};

const REMOVED: &[(&str, &str)] = &[
    ("ForEachItem", "use Split, then a Loop over outputs.split.uris calling a Subflow"),
    ("Count", "count executions with the KV store or the API"),
    ("Resume", "resume executions through the API"),
    ("Toggle", "enable/disable triggers through the API"),
    ("Template", "turn the template into a flow and call it with Subflow (templateId → flowId)"),
    ("MultipleCondition", "one dependsOn entry per upstream flow, and a window"),
];

pub fn apply(cx: &mut Cx) {
    let root = cx.root;
    for m in walk::typed_maps(root) {
        let ty = m.get_str("type").unwrap_or_default();
        let short = ty.rsplit('.').next().unwrap_or_default();
        let core = ty.starts_with("io.kestra.plugin.core.") || ty.starts_with("io.kestra.core.");
        if let Some((_, how)) = REMOVED.iter().find(|(n, _)| core && *n == short) {
            cx.manual(m.start, format!("{short} is removed in 2.0: {how}"));
        }
        if ty.ends_with(".flow.Subflow")
            && let Some(o) = m.get("outputs")
        {
            cx.manual(o.start, "Subflow outputs are removed in 2.0: declare flow-level outputs in the subflow and read outputs.<id>.outputs.<name>");
        }
    }
    if let Some((k, _)) = root.entry("listeners") {
        cx.manual(k.start, "listeners are removed in 2.0: move them to a flow with a Flow trigger");
    }
    for t in walk::triggers(root) {
        if let Some((k, v)) = t.entry("minLogLevel") {
            cx.remove_entry(k, v);
            cx.changed(k.start, "trigger minLogLevel is removed in 2.0");
        }
        if t.get_str("type").is_some_and(|ty| ty.ends_with("trigger.Schedule")) {
            for key in ["backfill", "backfills"] {
                if let Some((k, v)) = t.entry(key) {
                    cx.remove_entry(k, v);
                    cx.changed(
                        k.start,
                        format!("Schedule {key} is removed in 2.0: start it with `baton backfill` (or the API)"),
                    );
                }
            }
        }
    }
    for t in walk::tasks(root) {
        for s in walk::own_scalars(t.node) {
            if expr::mentions(&cx.src[s.start..s.end], "outputDir") {
                cx.manual(s.start, "{{ outputDir }} is removed in 2.0: declare outputFiles and write to those paths");
            }
        }
    }
}
