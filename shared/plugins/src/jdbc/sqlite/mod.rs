//! `io.kestra.plugin.jdbc.sqlite.Query` and `Queries`: SQL on an embedded
//! SQLite (`rusqlite`, the library the local backend uses), with Kestra's
//! `url` (`jdbc:sqlite:` in memory, or a database file), `sqliteFile` (a
//! stored database copied into the working directory), `outputDbFile`
//! (output `databaseUri`), `outputFiles`, and the JDBC fetch outputs.

mod engine;
mod props;
mod task;

use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::registry::PluginDef;
use crate::{Declare, Registry, RunnableTask, TaskError};

/// Run a SQL query with SQLite.
///
/// Runs SQL on an embedded SQLite database (in memory, a file, or a stored `sqliteFile`); fetches or stores the rows of its last statement.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.jdbc.sqlite.Query",
    group = "jdbc",
    props = props::QueryProps,
    example = "id: query\ntype: io.kestra.plugin.jdbc.sqlite.Query\nurl: jdbc:sqlite:myfile.db\nsqliteFile: \"{{ outputs.init.databaseUri }}\"\nsql: SELECT * FROM features\nfetchType: FETCH\n",
    outputs(
        row(Map, "The first row (fetchType FETCH_ONE)."),
        rows(List, "The rows (fetchType FETCH)."),
        uri(String, "A file of the rows, one Ion line each (fetchType STORE)."),
        size(Integer, "The number of rows fetched or stored."),
        outputFiles(Map, "The `outputFiles`, by name (kestra:// URIs)."),
        databaseUri(String, "The database file (outputDbFile).")
    ),
)]
pub struct Query;

/// Run several SQL statements with SQLite.
///
/// Runs statements separated by ';' on an embedded SQLite database, in one transaction by default.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.jdbc.sqlite.Queries",
    group = "jdbc",
    props = props::QueriesProps,
    example = "id: queries\ntype: io.kestra.plugin.jdbc.sqlite.Queries\nurl: jdbc:sqlite:kestra.db\noutputDbFile: true\nsql: |\n  CREATE TABLE t AS SELECT 42 AS answer;\n  SELECT * FROM t;\nfetchType: FETCH\n",
    outputs(
        outputs(List, "One result per statement that returns rows."),
        outputFiles(Map, "The `outputFiles`, by name (kestra:// URIs)."),
        databaseUri(String, "The database file (outputDbFile).")
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

fn build(props: &Map<String, Value>, multi: bool) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(task::SqliteTask { spec: props::Spec::parse(props, multi)? }))
}
