//! MySQL and MariaDB tasks (`io.kestra.plugin.jdbc.mysql.*`) on
//! `mysql_async`: `Query` and `Queries`. The URL, the connection, value
//! conversions and the tasks each live in their own file.

pub mod cells;
pub mod connect;
pub mod query;
pub mod url;

use super::super::Registry;

/// Registers the MySQL tasks.
pub fn register(r: &mut Registry) {
    r.register(*query::QUERY);
    r.register(*query::QUERIES);
}
