//! The flow reference: every flow-level key Baton accepts, from the table
//! validation and the JSON Schema read (`schema::common::FLOW`).

use super::markdown::{cell, code, table};
use super::{MARK, Page};
use crate::schema::{Holds, common, kind_word};

/// The page.
pub fn page() -> Page {
    let rows: Vec<Vec<String>> = common::FLOW
        .iter()
        .map(|k| {
            let kind = match k.holds {
                Holds::Tasks | Holds::DagTasks => "tasks",
                _ => kind_word(k.kind),
            };
            vec![code(k.name), code(kind), cell(k.doc)]
        })
        .collect();
    let text = format!(
        "{MARK}\n# Flow properties\n\nThe keys of a flow, as `baton validate` accepts them and the flow's JSON \
         Schema (`baton plugins --schema`) describes them; any other key is refused. The properties of each \
         task, trigger and condition are on its [plugin page](plugins/index.md).\n\n{}",
        table(&["key", "type", "what it is"], &rows)
    );
    Page { path: "flow.md".into(), title: "Flow properties".into(), depth: 0, text }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_flow_key_is_on_the_page() {
        let page = super::page();
        for k in crate::schema::common::FLOW {
            assert!(page.text.contains(&format!("| `{}` |", k.name)), "{}", k.name);
        }
    }
}
