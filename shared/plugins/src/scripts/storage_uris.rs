//! `kestra://` URIs written inside a script task's `beforeCommands` and
//! `commands` (`cat {{ outputs.extract.uri }}`): as in Kestra, each file is
//! copied from internal storage into the working directory before the
//! commands run, and the command names the copy instead of the URI. The
//! copies are hidden files of the working directory, never taken for
//! output files; Docker and Cloud Run see them at the same path (the folder
//! is mounted where it is, or its path is swapped for the container's).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::files;
use crate::{RunContext, TaskError};

/// Kestra's pattern for an internal-storage URI inside a command.
static URI: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"kestra://[-a-zA-Z0-9%._+~#=/]*").expect("a valid pattern"));

/// At most this many distinct files copied for one task's commands.
pub const MAX_FILES: usize = 1_000;

/// The commands with every `kestra://` URI replaced by the path of its copy
/// in `dir`, and the names (relative to `dir`) of the copies.
pub(crate) struct Localized {
    pub before_commands: Vec<String>,
    pub commands: Vec<String>,
    pub copies: Vec<String>,
}

/// Copies the files the commands name into `dir` and rewrites the commands.
pub(crate) async fn localize(
    cx: &RunContext,
    dir: &Path,
    before_commands: &[String],
    commands: &[String],
) -> Result<Localized, TaskError> {
    let mut copies: BTreeMap<String, String> = BTreeMap::new();
    for (property, lines) in [("beforeCommands", before_commands), ("commands", commands)] {
        for line in lines {
            for m in URI.find_iter(line) {
                let uri = m.as_str();
                if copies.contains_key(uri) {
                    continue;
                }
                if copies.len() == MAX_FILES {
                    return Err(TaskError::property(
                        property,
                        format!("the commands name more than {MAX_FILES} kestra:// files (the bound of one task)"),
                    ));
                }
                let name = copy_name(copies.len(), uri);
                files::copy_from_storage(cx, property, uri, &dir.join(&name)).await?;
                copies.insert(uri.to_string(), name);
            }
        }
    }
    let rewrite = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                URI.replace_all(l, |c: &regex::Captures| match copies.get(&c[0]) {
                    Some(name) => dir.join(name).display().to_string(),
                    None => c[0].to_string(),
                })
                .into_owned()
            })
            .collect()
    };
    Ok(Localized {
        before_commands: rewrite(before_commands),
        commands: rewrite(commands),
        copies: copies.into_values().collect(),
    })
}

/// `.kestra-file-<n>-<file name>`: hidden, unique, and with the file's own
/// name and extension (tools that pick a format by extension still can).
fn copy_name(n: usize, uri: &str) -> String {
    let base = uri.rsplit('/').next().filter(|b| !b.is_empty()).unwrap_or("file");
    format!(".kestra-file-{n}-{base}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_stops_where_kestra_stops() {
        let line = "cat kestra:///company/team/f/executions/e1/tasks/t/r1/data.csv | head -n 2 > 'kestra://x/y z'";
        let found: Vec<&str> = URI.find_iter(line).map(|m| m.as_str()).collect();
        assert_eq!(found, ["kestra:///company/team/f/executions/e1/tasks/t/r1/data.csv", "kestra://x/y"]);
        assert_eq!(copy_name(3, found[0]), ".kestra-file-3-data.csv");
        assert_eq!(copy_name(0, "kestra://"), ".kestra-file-0-file");
    }
}
