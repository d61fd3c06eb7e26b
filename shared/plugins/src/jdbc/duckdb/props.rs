//! The rendered properties of `jdbc.duckdb.Query`/`Queries`, checked and
//! turned into a [`Spec`]: which database to open, the statements, the
//! files going in and out, and what to fetch.

use std::path::PathBuf;

use baton_model::decl::DeclaredProps;
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::de::{self, value_to_string};
use crate::jdbc::fetch::{FetchProps, FetchType};
use crate::jdbc::files::output_file_names;
use crate::jdbc::split::{parameters, split_statements};
use crate::{Declare, PropDecl, TaskError, parse_props};

/// The properties both tasks share (Kestra's `DuckDbQueryInterface` and
/// the JDBC ones), apart from the fetch ones.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct Props {
    /// The SQL to run.
    #[serde(deserialize_with = "de::string_lenient")]
    sql: String,
    /// The JDBC URL (jdbc:postgresql://host:5432/db, jdbc:duckdb:…).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    url: Option<String>,
    /// The database user: DuckDB has no users, so it is read and unused (as with Kestra's DuckDB driver).
    #[serde(default)]
    #[allow(dead_code)]
    #[prop(kind = "String")]
    username: Option<Value>,
    /// The user's password: DuckDB has none, so it is read and unused (as with Kestra's DuckDB driver).
    #[serde(default)]
    #[allow(dead_code)]
    #[prop(kind = "String")]
    password: Option<Value>,
    /// The time zone dates are read in.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    time_zone_id: Option<String>,
    /// Named parameters bound in the SQL (:name).
    #[serde(default)]
    parameters: Value,
    /// Rows fetched per round trip: a driver hint with no effect on the result; DuckDB runs in the worker's process, so it is unused.
    #[serde(default)]
    #[allow(dead_code)]
    #[prop(kind = "Integer", default = "10000")]
    fetch_size: Option<Value>,
    /// SQL run after the query, in the same transaction.
    #[serde(default, rename = "afterSQL", deserialize_with = "de::opt_string_lenient")]
    after_sql: Option<String>,
    /// Commit each statement on its own: Baton always does, so `false` is refused (`Queries` with `transaction` runs statements in one transaction).
    #[serde(default)]
    #[prop(kind = "Boolean", default = "true", check = auto_commit_ok)]
    auto_commit: Option<Value>,
    /// Files put in DuckDB's working directory: name → content or kestra:// URI.
    #[serde(default)]
    input_files: Value,
    /// Files of the working directory kept as outputs.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    output_files: Vec<String>,
    /// A stored DuckDB database file to open (kestra:// URI).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    database_uri: Option<String>,
    /// Keep the database file as an output.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    output_db_file: Option<bool>,
    /// DuckDB community extensions to load.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(kind = "StringOrList")]
    community_extensions: Vec<String>,
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

/// The properties of `duckdb.Query`: the shared ones and the fetch ones,
/// parsed apart (so that an error names its property).
pub struct QueryProps;

impl DeclaredProps for QueryProps {
    fn props() -> Vec<PropDecl> {
        [Props::props(), FetchProps::props()].concat()
    }
}

/// The properties of `duckdb.Queries`: `Query`'s and `transaction`.
pub struct QueriesProps;

impl DeclaredProps for QueriesProps {
    fn props() -> Vec<PropDecl> {
        [Props::props(), TxProps::props(), FetchProps::props()].concat()
    }
}

/// Which database the task opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A fresh database for this attempt (a file in the working directory
    /// when `outputDbFile` asks for it, else in memory).
    Fresh,
    /// A database file on this machine, used in place (kept between runs).
    Path(PathBuf),
    /// Kestra's `databaseUri`: a `kestra://` database file, copied into the
    /// working directory first.
    Stored(String),
}

/// A DuckDB task, ready to run.
#[derive(Debug, Clone)]
pub struct Spec {
    /// `Queries` (one output per result, in a transaction) vs `Query`.
    pub multi: bool,
    pub statements: Vec<String>,
    pub after_sql: Vec<String>,
    pub database: Database,
    pub output_db_file: bool,
    pub input_files: Vec<(String, String)>,
    pub output_files: Vec<String>,
    /// `:name` → value.
    pub parameters: Map<String, Value>,
    pub time_zone: Option<Tz>,
    pub extensions: Vec<String>,
    pub transaction: bool,
    pub fetch: FetchType,
}

/// `autoCommit` as written: only true (or a template rendering it) is
/// carried out.
fn auto_commit_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::Bool(false) => Err("false is not carried out: Baton commits each statement (use Queries with transaction: true for one transaction)".into()),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => auto_commit_ok(&Value::Bool(false)),
        _ => Ok(()),
    }
}

impl Spec {
    pub fn parse(props: &Map<String, Value>, multi: bool) -> Result<Spec, TaskError> {
        let p: Props = parse_props(props)?;
        if let Some(v) = &p.auto_commit {
            auto_commit_ok(v).map_err(|e| TaskError::property("autoCommit", e))?;
        }
        // apart, not flattened: an error then names the property
        let fetch: FetchProps = parse_props(props)?;
        // `transaction` is `Queries`' only
        let transaction = if multi { parse_props::<TxProps>(props)?.transaction.unwrap_or(true) } else { false };
        let statements = split_statements(&p.sql);
        if statements.is_empty() {
            return Err(TaskError::property("sql", "no SQL statement to run"));
        }
        let database = database(p.url.as_deref(), p.database_uri.as_deref())?;
        let time_zone = match p.time_zone_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(z) => Some(z.parse::<Tz>().map_err(|_| {
                TaskError::property("timeZoneId", format!("'{z}' is not a time zone (e.g. Europe/Paris)"))
            })?),
        };
        let output_files = output_file_names(p.output_files)?;
        let parameters = parameters(p.parameters)?;
        let extensions = p.community_extensions.into_iter().map(|e| e.trim().to_string()).filter(|e| !e.is_empty());
        let extensions: Vec<String> = extensions.collect();
        if let Some(bad) = extensions.iter().find(|e| !e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
            return Err(TaskError::property("communityExtensions", format!("'{bad}' is not an extension name")));
        }
        Ok(Spec {
            multi,
            statements,
            after_sql: p.after_sql.as_deref().map(split_statements).unwrap_or_default(),
            database,
            output_db_file: p.output_db_file.unwrap_or(false),
            input_files: input_files(&p.input_files)?,
            output_files,
            parameters,
            time_zone,
            extensions,
            transaction,
            fetch: fetch.resolve(),
        })
    }
}

/// `databaseUri` wins over `url` (as in Kestra). `url` is JDBC's
/// `jdbc:duckdb:` (fresh), `jdbc:duckdb::memory:`, or `jdbc:duckdb:/path`.
fn database(url: Option<&str>, database_uri: Option<&str>) -> Result<Database, TaskError> {
    if let Some(uri) = database_uri.map(str::trim).filter(|s| !s.is_empty()) {
        if uri.starts_with("kestra://") {
            return Ok(Database::Stored(uri.to_string()));
        }
        let path = uri.strip_prefix("file://").unwrap_or(uri);
        if path.contains("://") {
            return Err(TaskError::property(
                "databaseUri",
                format!("'{uri}' is neither a kestra:// URI nor a database file path"),
            ));
        }
        return Ok(Database::Path(PathBuf::from(path)));
    }
    let Some(url) = url.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(Database::Fresh) };
    let Some(rest) = url.strip_prefix("jdbc:duckdb:") else {
        return Err(TaskError::property(
            "url",
            format!("'{url}' is not a DuckDB JDBC URL (jdbc:duckdb: or jdbc:duckdb:/path/to/file.db)"),
        ));
    };
    let path = rest.split('?').next().unwrap_or_default();
    match path {
        "" | ":memory:" | "memory:" => Ok(Database::Fresh),
        p if p.starts_with("md:") || p.starts_with("motherduck:") => {
            Err(TaskError::property("url", format!("'{url}': MotherDuck is not supported; use a local database file")))
        }
        p => Ok(Database::Path(PathBuf::from(p))),
    }
}

/// `inputFiles`: a map (or a string holding a JSON map) of file name →
/// literal content or `kestra://` URI.
fn input_files(v: &Value) -> Result<Vec<(String, String)>, TaskError> {
    let parsed;
    let map = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Object(m) => m,
        Value::String(s) if s.trim().is_empty() => return Ok(Vec::new()),
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok();
            match &parsed {
                Some(Value::Object(m)) => m,
                _ => {
                    return Err(TaskError::property(
                        "inputFiles",
                        "expected a map of file name to content or kestra:// URI",
                    ));
                }
            }
        }
        other => return Err(TaskError::property("inputFiles", format!("expected a map, found {other}"))),
    };
    Ok(map.iter().map(|(k, v)| (k.clone(), value_to_string(v))).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value, multi: bool) -> Result<Spec, TaskError> {
        Spec::parse(v.as_object().unwrap(), multi)
    }

    #[test]
    fn auto_commit_false_is_refused_by_name() {
        assert!(parse(json!({"sql": "SELECT 1", "autoCommit": true}), false).is_ok());
        for off in [json!(false), json!("false")] {
            let e = parse(json!({"sql": "SELECT 1", "autoCommit": off}), false).err().map(|e| e.to_string());
            assert!(e.as_deref().is_some_and(|e| e.contains("autoCommit") && e.contains("not carried out")), "{e:?}");
        }
    }

    #[test]
    fn databases() {
        assert_eq!(database(None, None).unwrap(), Database::Fresh);
        assert_eq!(database(Some("jdbc:duckdb:"), None).unwrap(), Database::Fresh);
        assert_eq!(database(Some("jdbc:duckdb::memory:"), None).unwrap(), Database::Fresh);
        assert_eq!(database(Some("jdbc:duckdb:/data/x.db"), None).unwrap(), Database::Path("/data/x.db".into()));
        assert_eq!(database(Some("jdbc:duckdb:/x.db"), Some("/y.db")).unwrap(), Database::Path("/y.db".into()));
        assert_eq!(database(None, Some("file:///y.db")).unwrap(), Database::Path("/y.db".into()));
        assert_eq!(database(None, Some("kestra:///a/b.db")).unwrap(), Database::Stored("kestra:///a/b.db".into()));
        assert!(database(Some("jdbc:postgresql://h/db"), None).unwrap_err().to_string().contains("url"));
        assert!(database(Some("jdbc:duckdb:md:mydb"), None).unwrap_err().to_string().contains("MotherDuck"));
        assert!(database(None, Some("gs://b/x.db")).is_err());
    }

    #[test]
    fn parses_kestra_properties() {
        let s = parse(
            json!({
                "sql": "CREATE TABLE t AS SELECT 1 AS a; SELECT * FROM t;",
                "inputFiles": "{\"in.csv\": \"a,b\"}",
                "outputFiles": ["out.parquet"],
                "fetchType": "FETCH",
                "parameters": {"x": 1},
                "timeZoneId": "Europe/Paris",
            }),
            true,
        )
        .unwrap();
        assert_eq!(s.statements.len(), 2);
        assert_eq!(s.input_files, vec![("in.csv".to_string(), "a,b".to_string())]);
        assert_eq!(s.output_files, vec!["out.parquet"]);
        assert_eq!(s.fetch, FetchType::Fetch);
        assert!(s.transaction);
        assert_eq!(s.parameters.get("x"), Some(&json!(1)));
        let s = parse(json!({"sql": "SELECT 1", "fetchOne": true}), false).unwrap();
        assert_eq!(s.fetch, FetchType::FetchOne);
        assert!(!s.transaction);
    }

    #[test]
    fn rejects_bad_values() {
        let e = parse(json!({"sql": " ; -- nothing\n"}), false).unwrap_err();
        assert!(e.to_string().contains("no SQL statement"), "{e}");
        let e = parse(json!({"sql": "SELECT 1", "outputFiles": ["*.csv"]}), false).unwrap_err();
        assert!(e.to_string().contains("plain file name"), "{e}");
        let e = parse(json!({"sql": "SELECT 1", "timeZoneId": "Mars/Olympus"}), false).unwrap_err();
        assert!(e.to_string().contains("timeZoneId"), "{e}");
        let e = parse(json!({"sql": "SELECT 1", "inputFiles": "nope"}), false).unwrap_err();
        assert!(e.to_string().contains("inputFiles"), "{e}");
        let e = parse(json!({"sql": "SELECT 1", "fetchType": "ALL"}), false).unwrap_err();
        assert!(e.to_string().contains("fetchType"), "{e}");
    }
}
