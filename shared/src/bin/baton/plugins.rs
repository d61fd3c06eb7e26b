//! `baton plugins [TYPE] [--schema [-o FILE]]`: the plugin catalogue
//! (`shared::schema`) as a table, one type's properties, outputs and
//! example, or the JSON Schema of a flow for editors.

use std::path::PathBuf;

use shared::plugins::Registry;
use shared::schema::{self, Described, Kind, json};

/// Runs the command; the exit code.
pub fn plugins(type_name: Option<&str>, schema_out: bool, out: Option<&PathBuf>) -> i32 {
    let catalog = schema::catalog(&Registry::builtin());
    if schema_out {
        return print_schema(&catalog, out);
    }
    if out.is_some() {
        eprintln!("error: -o/--out goes with --schema");
        return 2;
    }
    match type_name {
        None => {
            print!("{}", table(&catalog));
            0
        }
        Some(t) => match schema::find(&catalog, t) {
            Some(d) => {
                print!("{}", describe(d));
                0
            }
            None => {
                let names = catalog.iter().map(|d| d.type_name);
                let hint = shared::validate::suggest::closest(t, names).map(|s| format!(" (did you mean {s}?)"));
                eprintln!("error: unknown plugin type '{t}'{}; `baton plugins` lists them", hint.unwrap_or_default());
                1
            }
        },
    }
}

fn print_schema(catalog: &[Described], out: Option<&PathBuf>) -> i32 {
    let text = match serde_json::to_string_pretty(&json::flow_schema(catalog)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot write the schema: {e}");
            return 1;
        }
    };
    match out {
        None => {
            println!("{text}");
            0
        }
        Some(path) => match std::fs::write(path, text + "\n") {
            Ok(()) => {
                eprintln!("flow JSON Schema written to {}", path.display());
                0
            }
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                1
            }
        },
    }
}

/// One line per type: type, kind, title.
fn table(catalog: &[Described]) -> String {
    let width = catalog.iter().map(|d| d.type_name.len()).max().unwrap_or(4);
    let mut s = format!("{:width$}  {:10}  TITLE\n", "TYPE", "KIND");
    for d in catalog {
        let title = if d.deprecated { format!("{} (deprecated)", d.title) } else { d.title.to_string() };
        s.push_str(&format!("{:width$}  {:10}  {title}\n", d.type_name, d.kind.as_str()));
    }
    let count = |k: Kind| catalog.iter().filter(|d| d.kind == k).count();
    s.push_str(&format!(
        "\n{} tasks, {} triggers, {} conditions, {} task runners. `baton plugins TYPE` for one.\n",
        count(Kind::Task),
        count(Kind::Trigger),
        count(Kind::Condition),
        count(Kind::TaskRunner)
    ));
    s
}

/// One type: title, description, aliases, properties, outputs, example.
fn describe(d: &Described) -> String {
    let mut s = format!("{} ({}, {})\n{}\n\n{}\n", d.type_name, d.kind.as_str(), d.group, d.title, d.description);
    if !d.aliases.is_empty() {
        s.push_str(&format!("\nAlso written: {}\n", d.aliases.join(", ")));
    }
    s.push_str("\nProperties (* required, ~ rendered as a template):\n");
    let width = d.props.iter().map(|p| p.name.len()).max().unwrap_or(4);
    for p in &d.props {
        let mark = format!("{}{}", if p.required { "*" } else { " " }, if p.dynamic { "~" } else { " " });
        let mut line = format!("  {mark} {:width$}  {:12}  {}", p.name, kind_word(p), p.doc);
        if !p.values.is_empty() {
            line.push_str(&format!(" [{}]", p.values.join(", ")));
        }
        if let Some(def) = p.default {
            line.push_str(&format!(" (default {def})"));
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    if !d.outputs.is_empty() {
        s.push_str("\nOutputs:\n");
        for o in d.outputs {
            s.push_str(&format!("  {}  {}\n", o.name, o.doc));
        }
    }
    if !d.example.is_empty() {
        s.push_str("\nExample:\n");
        for l in d.example.lines() {
            s.push_str(&format!("  {l}\n"));
        }
    }
    s
}

fn kind_word(p: &schema::Prop) -> &'static str {
    use shared::plugins::PropKind;
    use shared::schema::Holds;
    match p.holds {
        Holds::Tasks | Holds::DagTasks => "tasks",
        Holds::TaskCases => "cases",
        Holds::Conditions | Holds::ConditionMap => "conditions",
        Holds::TaskRunner => "taskRunner",
        Holds::Value => match p.kind {
            PropKind::String => "string",
            PropKind::Integer => "integer",
            PropKind::Number => "number",
            PropKind::Boolean => "boolean",
            PropKind::Duration => "duration",
            PropKind::List => "list",
            PropKind::Map => "map",
            PropKind::StringOrList => "string|list",
            PropKind::Any => "any",
        },
    }
}
