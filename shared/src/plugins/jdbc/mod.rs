//! JDBC-style SQL task plugins (`io.kestra.plugin.jdbc.*`): PostgreSQL and,
//! with the `duckdb` feature, embedded DuckDB. `fetch` holds what every
//! engine shares (fetch types, rows, outputs).

pub mod fetch;
pub mod split;

use super::Registry;

/// Registers this group's plugins.
pub fn register(_r: &mut Registry) {}
