//! JDBC-style SQL task plugins (`io.kestra.plugin.jdbc.*`): PostgreSQL,
//! MySQL/MariaDB,
//! embedded SQLite and, with the `duckdb` feature, embedded DuckDB. `fetch` holds what every
//! engine shares (fetch types, rows, outputs), `split` the SQL text scanning.

// DuckDB types are always registered; running them needs the `duckdb` feature.
pub mod duckdb;
pub mod fetch;
pub mod files;
pub mod mysql;
pub mod postgres;
pub mod props;
pub mod split;
pub mod sqlite;

use super::Registry;

/// Registers this group's plugins.
pub fn register(r: &mut Registry) {
    postgres::register(r);
    mysql::register(r);
    duckdb::register(r);
    sqlite::register(r);
}
