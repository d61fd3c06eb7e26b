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
#[cfg(feature = "duckdb")]
mod files;
#[cfg(feature = "duckdb")]
mod props;
#[cfg(feature = "duckdb")]
mod task;
#[cfg(feature = "duckdb")]
mod value;

use serde_json::{Map, Value};

use super::fetch::FETCH_PROPS;
use crate::plugins::registry::{PluginDef, PropKind, PropSpec};
use crate::plugins::{Registry, RunnableTask, TaskError};

/// Properties of both tasks (Kestra's `DuckDbQueryInterface` + the JDBC ones).
macro_rules! duckdb_props {
    ($($extra:expr),* $(,)?) => {
        &[
            $($extra,)*
            PropSpec::required("sql", PropKind::String),
            PropSpec::optional("url", PropKind::String),
            PropSpec::optional("username", PropKind::String),
            PropSpec::optional("password", PropKind::String),
            PropSpec::optional("timeZoneId", PropKind::String),
            PropSpec::optional("parameters", PropKind::Any),
            PropSpec::optional("fetchSize", PropKind::Integer),
            PropSpec::optional("afterSQL", PropKind::String),
            PropSpec::optional("autoCommit", PropKind::Boolean),
            FETCH_PROPS[0],
            FETCH_PROPS[1],
            FETCH_PROPS[2],
            FETCH_PROPS[3],
            PropSpec::optional("inputFiles", PropKind::Any),
            PropSpec::optional("outputFiles", PropKind::StringOrList),
            PropSpec::optional("databaseUri", PropKind::String),
            PropSpec::optional("outputDbFile", PropKind::Boolean),
            PropSpec::optional("communityExtensions", PropKind::StringOrList),
        ]
    };
}

pub const QUERY: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.jdbc.duckdb.Query",
    aliases: &[],
    group: "jdbc",
    props: duckdb_props!(),
    build: |p| build(p, false),
};

pub const QUERIES: PluginDef = PluginDef {
    type_name: "io.kestra.plugin.jdbc.duckdb.Queries",
    aliases: &[],
    group: "jdbc",
    props: duckdb_props!(PropSpec::optional("transaction", PropKind::Boolean)),
    build: |p| build(p, true),
};

/// Registers `Query` and `Queries`.
pub fn register(r: &mut Registry) {
    r.register(QUERY);
    r.register(QUERIES);
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
