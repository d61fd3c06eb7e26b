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

/// `[conn props…, extra…]`: a task's property list, connection props first.
macro_rules! with_conn_props {
    ($($extra:expr),* $(,)?) => {
        [
            $crate::plugins::jdbc::postgres::connect::CONN_PROPS[0],
            $crate::plugins::jdbc::postgres::connect::CONN_PROPS[1],
            $crate::plugins::jdbc::postgres::connect::CONN_PROPS[2],
            $crate::plugins::jdbc::postgres::connect::CONN_PROPS[3],
            $crate::plugins::jdbc::postgres::connect::CONN_PROPS[4],
            $crate::plugins::jdbc::postgres::connect::CONN_PROPS[5],
            $crate::plugins::jdbc::postgres::connect::CONN_PROPS[6],
            $crate::plugins::jdbc::postgres::connect::CONN_PROPS[7],
            $crate::plugins::jdbc::postgres::connect::CONN_PROPS[8],
            $crate::plugins::jdbc::postgres::connect::CONN_PROPS[9],
            $($extra),*
        ]
    };
}
pub(crate) use with_conn_props;

/// Registers the PostgreSQL tasks.
pub fn register(r: &mut Registry) {
    for def in [query::QUERY, query::QUERIES, copy::COPY_IN, copy::COPY_OUT] {
        r.register(def);
    }
}
