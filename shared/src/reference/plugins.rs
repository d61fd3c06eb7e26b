//! The plugin reference: one page per type (properties with their type,
//! required, default, dynamic and values; outputs; legacy names; the
//! example), one page per plugin group listing its types by kind, and an
//! index of the groups by family — all from the catalogue
//! (`schema::Described`), as `baton plugins TYPE` and `GET
//! /api/v1/plugins` serve it.

use std::collections::BTreeMap;

use super::markdown::{cell, code, file_of, table, text};
use super::{MARK, Page};
use crate::schema::{Described, Kind, Prop, PropDoc, common, kind_word};

/// The kinds in the order the pages list them: heading, one, several.
const KINDS: &[(Kind, &str, &str, &str)] = &[
    (Kind::Task, "Tasks", "task", "tasks"),
    (Kind::Trigger, "Triggers", "trigger", "triggers"),
    (Kind::Condition, "Conditions", "condition", "conditions"),
    (Kind::TaskRunner, "Task runners", "task runner", "task runners"),
];

/// The properties every type of a kind has, with their words: listed once
/// on the index, named on each type's page. A type that words one of them
/// its own way lists it with its own properties.
fn common_docs(kind: Kind) -> &'static [PropDoc] {
    match kind {
        Kind::Task => common::TASK_DOCS,
        Kind::Trigger => common::TRIGGER_DOCS,
        Kind::Condition | Kind::TaskRunner => &[],
    }
}

/// Whether `p` is one of the properties every type of `kind` has, as they all word it.
fn is_common(kind: Kind, p: &Prop) -> bool {
    common_docs(kind).iter().any(|c| c.name == p.name && c.doc == p.doc && c.default == p.default)
}

/// The anchor of the index's section on the properties of every `kind`.
fn common_anchor(kind: Kind) -> &'static str {
    match kind {
        Kind::Trigger => "properties-of-every-trigger",
        _ => "properties-of-every-task",
    }
}

/// The index, then each group's page followed by its types' pages.
pub fn pages(catalog: &[Described]) -> Vec<Page> {
    let mut groups: BTreeMap<&str, Vec<&Described>> = BTreeMap::new();
    for d in catalog {
        groups.entry(d.group.as_str()).or_default().push(d);
    }
    for types in groups.values_mut() {
        types.sort_by_key(|d| (d.kind, d.type_name));
    }
    let mut out = vec![index(&groups, catalog)];
    for (group, types) in &groups {
        out.push(group_page(group, types));
        for d in types {
            out.push(type_page(d));
        }
    }
    out
}

/// The plugin family of a group: `core`, `scripts`, `jdbc`, `gcp`, `ee`…
fn family(group: &str) -> &str {
    group.strip_prefix("io.kestra.plugin.").and_then(|g| g.split('.').next()).unwrap_or(group)
}

/// A type's name within its group (`log.Log` in `io.kestra.plugin.core`).
fn short(d: &Described) -> &str {
    d.type_name.strip_prefix(d.group.as_str()).map_or(d.type_name, |s| s.trim_start_matches('.'))
}

fn index(groups: &BTreeMap<&str, Vec<&Described>>, catalog: &[Described]) -> Page {
    let mut s = format!(
        "{MARK}\n# Plugins\n\nEvery task, trigger, condition and task runner type Baton implements, \
         by plugin group. Each page is what `baton plugins TYPE` prints and `GET /api/v1/plugins/{{type}}` \
         serves, from the type's one declaration; a flow's properties are checked against it by `baton validate`.\n\n\
         The `io.kestra.plugin.gcp` types (and the Google Cloud triggers and task runner) are in a `baton` \
         built with `--features gcp`, as the release build and the Cloud Run functions are; running the \
         `io.kestra.plugin.jdbc.duckdb` tasks needs `--features duckdb`.\n"
    );
    let mut families: BTreeMap<&str, Vec<(&str, &Vec<&Described>)>> = BTreeMap::new();
    for (g, types) in groups {
        families.entry(family(g)).or_default().push((g, types));
    }
    for (fam, gs) in families {
        s.push_str(&format!("\n## {fam}\n\n"));
        let rows: Vec<Vec<String>> = gs
            .iter()
            .map(|(g, types)| {
                let counts: Vec<String> = KINDS
                    .iter()
                    .filter_map(|(k, _, one, several)| {
                        let n = types.iter().filter(|d| d.kind == *k).count();
                        (n > 0).then(|| format!("{n} {}", if n == 1 { one } else { several }))
                    })
                    .collect();
                vec![format!("[`{g}`]({})", file_of(g)), counts.join(", ")]
            })
            .collect();
        s.push_str(&table(&["group", "types"], &rows));
    }
    for (kind, heading) in [(Kind::Task, "Properties of every task"), (Kind::Trigger, "Properties of every trigger")] {
        // as the first type of the kind has them (every one has them all)
        let Some(first) = catalog.iter().find(|d| d.kind == kind) else { continue };
        let props: Vec<&Prop> = first.props.iter().filter(|p| is_common(kind, p)).collect();
        s.push_str(&format!("\n## {heading}\n\n{}", props_table(&props)));
    }
    Page { path: "plugins/index.md".into(), title: "Plugins".into(), depth: 0, text: s }
}

fn group_page(group: &str, types: &[&Described]) -> Page {
    let mut s = format!("{MARK}\n# {group}\n\nThe types of the plugin group `{group}`. [All groups](index.md).\n");
    for (kind, plural, _, _) in KINDS {
        let rows: Vec<Vec<String>> = types
            .iter()
            .filter(|d| d.kind == *kind)
            .map(|d| {
                let title = if d.deprecated { format!("{} (deprecated)", d.title) } else { d.title.to_string() };
                vec![format!("[`{}`]({})", d.type_name, file_of(d.type_name)), cell(&title)]
            })
            .collect();
        if !rows.is_empty() {
            s.push_str(&format!("\n## {plural}\n\n{}", table(&["type", "what it does"], &rows)));
        }
    }
    Page { path: format!("plugins/{}", file_of(group)), title: group.to_string(), depth: 1, text: s }
}

fn type_page(d: &Described) -> Page {
    let mut s = format!("{MARK}\n# {}\n\n", d.type_name);
    if !d.title.is_empty() {
        s.push_str(&format!("**{}**\n\n", text(d.title)));
    }
    s.push_str(&format!("- kind: {}\n- group: [`{}`]({})\n", d.kind.as_str(), d.group, file_of(&d.group)));
    if !d.aliases.is_empty() {
        let aliases: Vec<String> = d.aliases.iter().map(|a| code(a)).collect();
        s.push_str(&format!("- also written: {}\n", aliases.join(", ")));
    }
    match d.worker_group {
        Some(g) => s.push_str(&format!(
            "- runs on: the `{g}` workers (on Google Cloud, the `worker` function of that group)\n"
        )),
        None if d.kind == Kind::Task => s.push_str("- runs on: the executor (a flowable)\n"),
        None => {}
    }
    if d.deprecated {
        s.push_str("- deprecated: kept for older flows\n");
    }
    if !d.description.is_empty() {
        s.push_str(&format!("\n{}\n", text(d.description.trim())));
    }
    s.push_str("\n## Properties\n\n");
    let (shared, own): (Vec<&Prop>, Vec<&Prop>) = d.props.iter().partition(|p| is_common(d.kind, p));
    if own.is_empty() {
        s.push_str("None of its own.\n");
    } else {
        s.push_str(&props_table(&own));
    }
    if !shared.is_empty() {
        let names: Vec<String> = shared.iter().map(|p| code(p.name)).collect();
        s.push_str(&format!(
            "\nAnd those of every {} ([described once](index.md#{})): {}.\n",
            d.kind.as_str(),
            common_anchor(d.kind),
            names.join(", ")
        ));
    }
    if !d.outputs.is_empty() {
        s.push_str("\n## Outputs\n\n");
        let rows: Vec<Vec<String>> =
            d.outputs.iter().map(|o| vec![code(o.name), code(kind_word(o.kind)), cell(o.doc)]).collect();
        s.push_str(&table(&["output", "type", "description"], &rows));
    }
    if !d.example.is_empty() {
        s.push_str(&format!("\n## Example\n\n```yaml\n{}\n```\n", d.example.trim_end()));
    }
    Page { path: format!("plugins/{}", file_of(d.type_name)), title: short(d).to_string(), depth: 2, text: s }
}

/// Properties as a table. *Dynamic* ones are rendered as templates first.
fn props_table(props: &[&Prop]) -> String {
    let rows: Vec<Vec<String>> = props
        .iter()
        .map(|p| {
            vec![
                code(p.name),
                code(p.type_word()),
                if p.required { "yes".into() } else { String::new() },
                p.default.map(code).unwrap_or_default(),
                if p.dynamic { "yes".into() } else { "no".into() },
                p.values.iter().map(|v| code(v)).collect::<Vec<_>>().join(", "),
                cell(p.doc),
            ]
        })
        .collect();
    let mut s =
        "A *dynamic* property is rendered as a template (`{{ … }}`) before use; the others are read as written.\n\n"
            .to_string();
    s.push_str(&table(&["property", "type", "required", "default", "dynamic", "values", "description"], &rows));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_page_under_its_group_and_the_index_lists_every_group() {
        let catalog = crate::schema::catalog(&crate::plugins::Registry::builtin());
        let pages = pages(&catalog);
        for d in &catalog {
            let page = pages.iter().find(|p| p.path == format!("plugins/{}.md", d.type_name)).expect(d.type_name);
            for prop in &d.props {
                let listed = page.text.contains(&format!("| `{}` |", prop.name))
                    || (is_common(d.kind, prop) && pages[0].text.contains(&format!("| `{}` |", prop.name)));
                assert!(listed, "{} lists {}", d.type_name, prop.name);
            }
            let group = pages.iter().find(|p| p.path == format!("plugins/{}.md", d.group)).expect("group page");
            assert!(group.text.contains(&format!("[`{}`]", d.type_name)), "{} lists {}", d.group, d.type_name);
            assert!(pages[0].text.contains(&format!("[`{}`]", d.group)), "the index lists {}", d.group);
        }
        let log = pages.iter().find(|p| p.path == "plugins/io.kestra.plugin.core.log.Log.md").expect("Log");
        assert_eq!((log.title.as_str(), log.depth), ("log.Log", 2));
        assert!(log.text.contains("| `message` | `string\\|list` | yes |"), "{}", log.text);
        assert!(
            log.text.contains("And those of every task ([described once](index.md#properties-of-every-task)): `id`"),
            "{}",
            log.text
        );
        assert!(log.text.contains("## Example\n\n```yaml\n"), "{}", log.text);
    }
}
