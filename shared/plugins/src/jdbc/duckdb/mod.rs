//! `io.kestra.plugin.jdbc.duckdb.Query` and `Queries`: SQL on an embedded
//! DuckDB, with `inputFiles`/`outputFiles` in a fresh working directory
//! (`{{ workingDir }}`, `{{ outputFiles.<name> }}`), an in-memory, local or
//! stored (`databaseUri`) database, and the JDBC fetch outputs.
//!
//! DuckDB itself is behind the `duckdb` cargo feature (linked to a prebuilt
//! libduckdb, see `scripts/setup/duckdb.sh`, or `duckdb-bundled`). Without
//! it the types are still registered, so flows validate, and running one
//! fails with a message saying how to get a build with DuckDB.

#[cfg(feature = "duckdb")]
mod engine;
// the properties are declared in every build (the types validate without DuckDB)
#[cfg_attr(not(feature = "duckdb"), allow(dead_code))]
mod props;
#[cfg(feature = "duckdb")]
mod task;
#[cfg(feature = "duckdb")]
mod value;

use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::registry::PluginDef;
use crate::{Declare, Registry, RunnableTask, TaskError};

/// Run a SQL query with DuckDB.
///
/// Runs SQL in an embedded DuckDB, with input files in its working directory; fetches or stores the rows.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.jdbc.duckdb.Query",
    group = "jdbc",
    props = props::QueryProps,
    example = "id: duck\ntype: io.kestra.plugin.jdbc.duckdb.Query\ninputFiles:\n  data.csv: \"a,b\\n1,2\\n\"\nsql: SELECT sum(b) AS total FROM read_csv_auto('data.csv')\nfetchType: FETCH_ONE\n",
    outputs(
        row(Map, "The first row (fetchType FETCH_ONE)."),
        rows(List, "The rows (fetchType FETCH)."),
        uri(String, "A file of the rows, one JSON (Ion) line each (fetchType STORE)."),
        size(Integer, "The number of rows fetched or stored.")
    ),
)]
pub struct Query;

/// Run several SQL statements with DuckDB.
///
/// Runs statements separated by ';' in an embedded DuckDB.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.jdbc.duckdb.Queries",
    group = "jdbc",
    props = props::QueriesProps,
    example = "id: ducks\ntype: io.kestra.plugin.jdbc.duckdb.Queries\nsql: |\n  CREATE TABLE t AS SELECT 42 AS answer;\n  SELECT * FROM t;\nfetchType: FETCH\n",
    outputs(
        outputs(List, "One result per statement that returns rows.")
    ),
)]
pub struct Queries;

pub static QUERY: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<Query>(|p| build(p, false)));

pub static QUERIES: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<Queries>(|p| build(p, true)));

/// Registers `Query` and `Queries`.
pub fn register(r: &mut Registry) {
    r.register(*QUERY);
    r.register(*QUERIES);
}

#[cfg(feature = "duckdb")]
fn build(props: &Map<String, Value>, multi: bool) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(task::DuckDbTask { spec: props::Spec::parse(props, multi)? }))
}

#[cfg(not(feature = "duckdb"))]
fn build(_props: &Map<String, Value>, _multi: bool) -> Result<Box<dyn RunnableTask>, TaskError> {
    Err(TaskError::failed(UNAVAILABLE))
}

/// Why a DuckDB task cannot run in a build without DuckDB, and the way out.
pub const UNAVAILABLE: &str = "this baton binary was built without DuckDB. Rebuild it with DuckDB: \
     `source scripts/setup/duckdb.sh && cargo build --release --features duckdb` (links the prebuilt \
     libduckdb), or `cargo build --release --features duckdb-bundled` (compiles DuckDB from source, 20-45 minutes)";

#[cfg(all(test, not(feature = "duckdb")))]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn without_the_feature_the_types_validate_and_fail_with_a_way_out() {
        let mut r = Registry::new();
        register(&mut r);
        for t in ["io.kestra.plugin.jdbc.duckdb.Query", "io.kestra.plugin.jdbc.duckdb.Queries"] {
            let def = r.get(t).expect("registered");
            assert!(def.props.iter().any(|p| p.name == "sql" && p.required));
            let e = (def.build)(json!({"sql": "SELECT 1"}).as_object().unwrap()).err().expect("fails");
            assert!(e.to_string().contains("--features duckdb"), "{e}");
        }
    }
}
