//! The configuration reference: every `BATON_*` environment variable,
//! from its one declaration (`baton_model::settings::ALL`).

use super::markdown::{cell, code, table};
use super::{MARK, Page};
use crate::model::settings::{ALL, Setting};

/// The page.
pub fn page() -> Page {
    let mut s = format!(
        "{MARK}\n# Configuration\n\nThe environment variables Baton reads. Command-line options that take \
         their value from one say so in the [command-line reference](cli.md). Google's own variables \
         (`GOOGLE_CLOUD_PROJECT`, `GOOGLE_APPLICATION_CREDENTIALS`, the emulators' `*_EMULATOR_HOST`) are \
         read as Google's tools read them; a function listens on `PORT` (set by Cloud Run) and filters its \
         logs by `RUST_LOG`. Secrets and template variables come from `SECRET_<NAME>` and `ENV_<NAME>` \
         ([the CLI guide](../guides/cli.md#settings)).\n\n{}",
        settings_table(ALL.iter().filter(|v| !v.internal))
    );
    s.push_str(&format!(
        "\n## Set by Baton itself\n\nBaton sets these for the processes it starts; they are listed so that \
         they are not mistaken for settings.\n\n{}",
        settings_table(ALL.iter().filter(|v| v.internal))
    ));
    Page { path: "configuration.md".into(), title: "Configuration".into(), depth: 0, text: s }
}

fn settings_table<'a>(vars: impl Iterator<Item = &'a Setting>) -> String {
    let rows: Vec<Vec<String>> = vars
        .map(|v| {
            let default = v.default.map(cell).unwrap_or_default();
            let readers = v.read_by.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
            vec![code(v.name), default, readers, cell(v.doc)]
        })
        .collect();
    table(&["variable", "default", "read by", "what it does"], &rows)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_variable_is_on_the_page_once() {
        let page = super::page();
        for v in crate::model::settings::ALL {
            assert_eq!(page.text.matches(&format!("| `{}` |", v.name)).count(), 1, "{}", v.name);
        }
    }
}
