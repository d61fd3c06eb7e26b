//! PostgreSQL tasks (`io.kestra.plugin.jdbc.postgresql.*`) on tokio-postgres:
//! `Query`, `Queries`, `CopyIn`, `CopyOut`. The JDBC URL, connection and
//! errors, value conversions, and the tasks each live in their own file.

pub mod cells;
pub mod connect;
pub mod copy;
pub mod errors;
pub mod query;
pub mod url;

use super::super::Registry;

/// Registers the PostgreSQL tasks.
pub fn register(r: &mut Registry) {
    for def in [*query::QUERY, *query::QUERIES, *copy::COPY_IN, *copy::COPY_OUT] {
        r.register(def);
    }
}
