//! The zoomcamp Postgres taxi flow (`examples/postgres_taxi.yaml`) made to
//! run locally: the release host swapped for a local server and the
//! pluginDefaults pointed at a test database — nothing else changes. Also
//! the release-asset layout under a served folder, and the flow's own SQL
//! for one taxi kind (to run the same statements with psql).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::taxi::{self, Kind};

/// The example flow's path.
pub const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/postgres_taxi.yaml");

/// The example's text with downloads from `download_base` (e.g.
/// `http://127.0.0.1:8080`) instead of `https://github.com` in `extract`, and the
/// Postgres pluginDefaults set to `jdbc_url`, `user`, `password`. Panics if
/// the example no longer has the expected lines.
pub fn postgres_taxi_flow(download_base: &str, jdbc_url: &str, user: &str, password: &str) -> String {
    let src = std::fs::read_to_string(EXAMPLE).unwrap_or_else(|e| panic!("{EXAMPLE}: {e}"));
    let replacements = [
        ("wget -qO- https://github.com/", format!("wget -qO- {}/", download_base.trim_end_matches('/'))),
        ("url: jdbc:postgresql://localhost:5432/postgres-zoomcamp", format!("url: {jdbc_url}")),
        ("username: kestra", format!("username: {user}")),
        ("password: k3str4", format!("password: {password}")),
    ];
    let mut text = src;
    for (from, to) in replacements {
        assert_eq!(text.matches(from).count(), 1, "{EXAMPLE} should contain {from:?} once");
        text = text.replace(from, &to);
    }
    text
}

/// Where the release asset of a month lives under a served `root`.
pub fn asset_path(root: &Path, kind: Kind, year: u32, month: u32) -> PathBuf {
    root.join(format!(
        "DataTalksClub/nyc-tlc-data/releases/download/{}/{}.gz",
        kind.name(),
        taxi::file_name(kind, year, month)
    ))
}

/// One step of the flow's `If` branch for `kind`, with its templates
/// rendered for that month.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A `Queries` task's SQL.
    Sql(String),
    /// The `CopyIn` task: table and columns (CSV with a header).
    CopyIn { table: String, columns: Vec<String> },
}

/// The `then` tasks of `if_{kind}_taxi` in the example, rendered.
pub fn branch_steps(kind: Kind, year: u32, month: u32) -> Vec<Step> {
    let src = std::fs::read_to_string(EXAMPLE).unwrap_or_else(|e| panic!("{EXAMPLE}: {e}"));
    let (doc, _) = shared::yaml::parse(&src).unwrap_or_else(|e| panic!("{EXAMPLE}: {e:?}"));
    let file = taxi::file_name(kind, year, month);
    let render = |s: &str| {
        s.replace("{{render(vars.table)}}", &format!("public.{}_tripdata", kind.name()))
            .replace("{{render(vars.staging_table)}}", &format!("public.{}_tripdata_staging", kind.name()))
            .replace("{{render(vars.file)}}", &file)
    };
    let branch = doc["tasks"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["id"] == Value::String(format!("if_{}_taxi", kind.name()))))
        .and_then(|t| t["then"].as_array())
        .unwrap_or_else(|| panic!("{EXAMPLE} has no if_{}_taxi branch", kind.name()));
    branch
        .iter()
        .map(|t| match t["type"].as_str().unwrap_or_default() {
            "io.kestra.plugin.jdbc.postgresql.CopyIn" => Step::CopyIn {
                table: render(t["table"].as_str().unwrap_or_default()),
                columns: t["columns"]
                    .as_array()
                    .map(|c| c.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
            },
            _ => Step::Sql(render(t["sql"].as_str().unwrap_or_default())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_branches_render() {
        let steps = branch_steps(Kind::Green, 2019, 4);
        assert_eq!(steps.len(), 6);
        assert!(matches!(&steps[0], Step::Sql(s) if s.contains("CREATE TABLE IF NOT EXISTS public.green_tripdata (")));
        match &steps[3] {
            Step::CopyIn { table, columns } => {
                assert_eq!(table, "public.green_tripdata_staging");
                assert_eq!(columns.len(), 20);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&steps[4], Step::Sql(s) if s.contains("filename = 'green_tripdata_2019-04.csv'")));
        let flow = postgres_taxi_flow("http://127.0.0.1:1", "jdbc:postgresql://127.0.0.1:2/db", "u", "p");
        assert!(flow.contains("wget -qO- http://127.0.0.1:1/DataTalksClub/nyc-tlc-data/releases/download/"));
    }
}
