//! The rendered properties of `jdbc.sqlite.Query`/`Queries`, checked and
//! turned into a [`Spec`]: which database file to open (Kestra's `url`,
//! `sqliteFile`, `outputDbFile`), the statements, the output files and
//! what to fetch.

use baton_model::decl::DeclaredProps;
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::de;
use crate::jdbc::fetch::{FetchProps, FetchType};
use crate::jdbc::files::output_file_names;
use crate::jdbc::split::{parameters, split_statements};
use crate::{Declare, PropDecl, TaskError, parse_props};

/// The properties both tasks share (Kestra's `SqliteQueryInterface` and
/// the JDBC ones), apart from the fetch ones.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct Props {
    /// The SQL to run.
    #[serde(deserialize_with = "de::string_lenient")]
    sql: String,
    /// The JDBC URL: `jdbc:sqlite:` (in memory), `jdbc:sqlite:/path/to/file.db`, or a relative path (in the task's working directory).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"jdbc:sqlite:\"")]
    url: Option<String>,
    /// The database user: SQLite has no users, so it is read and unused (as with Kestra's SQLite driver).
    #[serde(default)]
    #[allow(dead_code)]
    #[prop(kind = "String")]
    username: Option<Value>,
    /// The user's password: SQLite has none, so it is read and unused (as with Kestra's SQLite driver).
    #[serde(default)]
    #[allow(dead_code)]
    #[prop(kind = "String")]
    password: Option<Value>,
    /// The time zone of DATETIME/TIMESTAMP text written without an offset.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    time_zone_id: Option<String>,
    /// Named parameters bound in the SQL (:name).
    #[serde(default)]
    parameters: Value,
    /// Rows fetched per round trip: a driver hint with no effect on the result; SQLite runs in the worker's process, so it is unused.
    #[serde(default)]
    #[allow(dead_code)]
    #[prop(kind = "Integer", default = "10000")]
    fetch_size: Option<Value>,
    /// SQL run after the query, in the same transaction.
    #[serde(default, rename = "afterSQL", deserialize_with = "de::opt_string_lenient")]
    after_sql: Option<String>,
    /// Files of the working directory kept as outputs (`{{ outputFiles.<name> }}` in the SQL is where to write each).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    output_files: Vec<String>,
    /// A SQLite database file of internal storage (kestra:// URI), copied into the working directory and used.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    sqlite_file: Option<String>,
    /// Store the database file used in internal storage: output `databaseUri`.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    output_db_file: Option<bool>,
}

/// `Queries`' own property.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct TxProps {
    /// Run all statements in one transaction.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    transaction: Option<bool>,
}

/// The properties of `sqlite.Query`: the shared ones and the fetch ones,
/// parsed apart (so that an error names its property).
pub struct QueryProps;

impl DeclaredProps for QueryProps {
    fn props() -> Vec<PropDecl> {
        [Props::props(), FetchProps::props()].concat()
    }
}

/// The properties of `sqlite.Queries`: `Query`'s and `transaction`.
pub struct QueriesProps;

impl DeclaredProps for QueriesProps {
    fn props() -> Vec<PropDecl> {
        [Props::props(), TxProps::props(), FetchProps::props()].concat()
    }
}

/// Where the database is, as the URL says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `jdbc:sqlite:`, `:memory:`, `file::memory:`…
    Memory,
    /// A file path (relative: in the working directory).
    Path(String),
}

/// A SQLite task, ready to run.
#[derive(Debug, Clone)]
pub struct Spec {
    /// `Queries` (one output per result, in a transaction) vs `Query`.
    pub multi: bool,
    pub statements: Vec<String>,
    pub after_sql: Vec<String>,
    pub location: Location,
    pub sqlite_file: Option<String>,
    pub output_db_file: bool,
    pub output_files: Vec<String>,
    /// `:name` → value.
    pub parameters: Map<String, Value>,
    pub time_zone: Tz,
    pub transaction: bool,
    pub fetch: FetchType,
}

impl Spec {
    pub fn parse(props: &Map<String, Value>, multi: bool) -> Result<Spec, TaskError> {
        let p: Props = parse_props(props)?;
        // apart, not flattened: an error then names the property
        let fetch: FetchProps = parse_props(props)?;
        let transaction = if multi { parse_props::<TxProps>(props)?.transaction.unwrap_or(true) } else { false };
        let statements = split_statements(&p.sql);
        if statements.is_empty() {
            return Err(TaskError::property("sql", "no SQL statement to run"));
        }
        let time_zone = match p.time_zone_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Tz::UTC,
            Some(z) => z.parse::<Tz>().map_err(|_| {
                TaskError::property("timeZoneId", format!("'{z}' is not a time zone (e.g. Europe/Paris)"))
            })?,
        };
        let output_files = output_file_names(p.output_files)?;
        let parameters = parameters(p.parameters)?;
        let sqlite_file = p.sqlite_file.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        if let Some(f) = &sqlite_file
            && !f.starts_with("kestra://")
        {
            return Err(TaskError::property("sqliteFile", format!("'{f}' is not a kestra:// URI")));
        }
        Ok(Spec {
            multi,
            statements,
            after_sql: p.after_sql.as_deref().map(split_statements).unwrap_or_default(),
            location: location(p.url.as_deref())?,
            sqlite_file,
            output_db_file: p.output_db_file.unwrap_or(false),
            output_files,
            parameters,
            time_zone,
            transaction,
            fetch: fetch.resolve(),
        })
    }
}

/// Kestra's `url`: `jdbc:sqlite:` then a path, nothing (in memory),
/// `:memory:`, or a `file:` URI.
fn location(url: Option<&str>) -> Result<Location, TaskError> {
    let url = url.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("jdbc:sqlite:");
    let Some(path) = url.strip_prefix("jdbc:sqlite:") else {
        return Err(TaskError::property(
            "url",
            format!("'{url}' is not a SQLite JDBC URL (jdbc:sqlite:, jdbc:sqlite:/path/to/file.db)"),
        ));
    };
    let path = path.trim();
    let lower = path.to_ascii_lowercase();
    if lower.is_empty()
        || lower == ":memory:"
        || lower.starts_with("file::memory:")
        || (lower.starts_with("file:") && lower.contains("mode=memory"))
    {
        return Ok(Location::Memory);
    }
    let path = path.strip_prefix("file://").or_else(|| path.strip_prefix("file:")).unwrap_or(path);
    if path.contains('?') {
        return Err(TaskError::property(
            "url",
            format!("'{url}': connection options after '?' are not supported; set them with PRAGMA statements"),
        ));
    }
    Ok(Location::Path(path.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value, multi: bool) -> Result<Spec, TaskError> {
        Spec::parse(v.as_object().unwrap(), multi)
    }

    #[test]
    fn urls() {
        assert_eq!(location(None).unwrap(), Location::Memory);
        assert_eq!(location(Some("jdbc:sqlite:")).unwrap(), Location::Memory);
        assert_eq!(location(Some("jdbc:sqlite::memory:")).unwrap(), Location::Memory);
        assert_eq!(location(Some("jdbc:sqlite:file::memory:?cache=shared")).unwrap(), Location::Memory);
        assert_eq!(location(Some("jdbc:sqlite:kestra.db")).unwrap(), Location::Path("kestra.db".into()));
        assert_eq!(location(Some("jdbc:sqlite:/data/x.db")).unwrap(), Location::Path("/data/x.db".into()));
        assert_eq!(location(Some("jdbc:sqlite:file:/data/x.db")).unwrap(), Location::Path("/data/x.db".into()));
        assert!(location(Some("jdbc:duckdb:x")).unwrap_err().to_string().contains("url"));
        assert!(location(Some("jdbc:sqlite:x.db?journal_mode=WAL")).unwrap_err().to_string().contains("PRAGMA"));
    }

    #[test]
    fn parses_kestra_properties() {
        let s = parse(
            json!({"sql": "CREATE TABLE t (a); SELECT * FROM t;", "fetchType": "STORE",
                "sqliteFile": "kestra:///a/b.db", "outputDbFile": true, "outputFiles": ["x.csv"]}),
            true,
        )
        .unwrap();
        assert_eq!(s.statements.len(), 2);
        assert_eq!(s.fetch, FetchType::Store);
        assert!(s.transaction && s.output_db_file);
        assert_eq!(s.sqlite_file.as_deref(), Some("kestra:///a/b.db"));
        let e = parse(json!({"sql": "SELECT 1", "sqliteFile": "/tmp/x.db"}), false).unwrap_err();
        assert!(e.to_string().contains("sqliteFile"), "{e}");
        let e = parse(json!({"sql": "SELECT 1", "timeZoneId": "Nowhere/City"}), false).unwrap_err();
        assert!(e.to_string().contains("timeZoneId"), "{e}");
    }
}
