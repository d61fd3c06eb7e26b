//! The statement properties the JDBC server engines share (PostgreSQL,
//! MySQL): the SQL, its named parameters, the fetch size hint, `afterSQL`,
//! and `Queries`' `transaction`.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{Declare, de};

/// The statement properties `Query` and `Queries` share.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct StatementProps {
    /// The SQL to run.
    #[serde(deserialize_with = "de::string_lenient")]
    pub sql: String,
    /// Named parameters bound in the SQL (:name).
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    /// Rows fetched per round trip: a driver hint with no effect on the result (rows are streamed).
    #[serde(default)]
    #[allow(dead_code)]
    #[prop(kind = "Integer", default = "10000")]
    pub fetch_size: Option<Value>,
    /// SQL run after the query, in the same transaction.
    #[serde(default, rename = "afterSQL", deserialize_with = "de::opt_string_lenient")]
    pub after_sql: Option<String>,
}

/// `Queries`' own property.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct TxProps {
    /// Run all statements in one transaction.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    pub transaction: Option<bool>,
}
