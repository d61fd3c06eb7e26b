//! `io.kestra.plugin.jdbc.mysql.Query` (one statement; outputs `row`,
//! `rows`, `uri`, `size` per `fetchType`) and `Queries` (a `;`-separated
//! script, in one transaction by default; output `outputs`). `inputFile`
//! is copied into the working directory as `inputFile` and
//! `{{ inputFile }}` names it, for `LOAD DATA LOCAL INFILE`. Named
//! `:parameters` are written in as literals (`cells::literal`).

use std::sync::LazyLock;
use std::time::Instant;

use async_trait::async_trait;
use baton_model::decl::DeclaredProps;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::cells::{literal, row_to_json};
use super::connect::{ConnProps, Session, Target};
use crate::jdbc::fetch::{FetchProps, FetchType, ResultWriter};
use crate::jdbc::files::copy_from_storage;
use crate::jdbc::props::{StatementProps, TxProps};
use crate::jdbc::split::{Dialect, bind_named_in, one_line, only_one, split_statements_in};
use crate::registry::{PluginDef, PropDecl};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The file name `inputFile` is copied to in the working directory.
pub const INPUT_FILE: &str = "inputFile";

/// The MySQL tasks' own property.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct InputProps {
    /// A file of internal storage (kestra:// URI) copied into the working directory for LOAD DATA LOCAL INFILE '{{ inputFile }}'.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    input_file: Option<String>,
}

/// The properties of `Query`.
pub struct QueryProps;

impl DeclaredProps for QueryProps {
    fn props() -> Vec<PropDecl> {
        [ConnProps::props(), StatementProps::props(), InputProps::props(), FetchProps::props()].concat()
    }
}

/// The properties of `Queries`: `Query`'s and `transaction`.
pub struct QueriesProps;

impl DeclaredProps for QueriesProps {
    fn props() -> Vec<PropDecl> {
        [ConnProps::props(), StatementProps::props(), InputProps::props(), TxProps::props(), FetchProps::props()]
            .concat()
    }
}

/// What a MySQL task runs.
#[derive(Debug)]
struct Plan {
    target: Target,
    fetch: FetchType,
    statements: Vec<String>,
    parameters: Map<String, Value>,
    after_sql: Option<String>,
    input_file: Option<String>,
    transaction: bool,
}

fn plan(props: &Map<String, Value>) -> Result<Plan, TaskError> {
    let p: StatementProps = parse_props(props)?;
    let conn: ConnProps = parse_props(props)?;
    let input: InputProps = parse_props(props)?;
    let fetch: FetchProps = parse_props(props)?;
    let statements = split_statements_in(&p.sql, Dialect::MySql);
    if statements.is_empty() {
        return Err(TaskError::property("sql", "there is no SQL statement to run"));
    }
    Ok(Plan {
        target: conn.resolve()?,
        fetch: fetch.resolve(),
        statements,
        parameters: p.parameters.unwrap_or_default(),
        after_sql: p.after_sql.filter(|s| !s.trim().is_empty()),
        input_file: input.input_file.filter(|s| !s.trim().is_empty()),
        transaction: true,
    })
}

/// A server's or the driver's error, with the statement it came from.
fn sql_error(e: &mysql_async::Error, sql: &str) -> TaskError {
    let what = match e {
        mysql_async::Error::Server(s) => format!("MySQL error {} ({}): {}", s.code, s.state, s.message),
        other => other.to_string(),
    };
    TaskError::failed(format!("{what} [in: {}]", one_line(sql, 200)))
}

impl Plan {
    /// `sql` with its `:name` parameters written in.
    fn bound(&self, sql: &str) -> String {
        if self.parameters.is_empty() {
            return sql.to_string();
        }
        let names: Vec<&str> = self.parameters.keys().map(String::as_str).collect();
        let (marked, order) = bind_named_in(sql, Dialect::MySql, &names, |n| format!("\u{1}{n}\u{1}"));
        let mut out = String::with_capacity(marked.len());
        for (i, part) in marked.split('\u{1}').enumerate() {
            if i % 2 == 0 {
                out.push_str(part);
            } else {
                let name = part.parse::<usize>().ok().and_then(|n| order.get(n - 1));
                out.push_str(&literal(name.and_then(|n| self.parameters.get(n)).unwrap_or(&Value::Null)));
            }
        }
        out
    }

    /// Opens a session in the working directory, `inputFile` copied in.
    async fn open(&self, cx: &RunContext) -> Result<Session, TaskError> {
        let dir = cx.working_dir()?;
        if let Some(uri) = &self.input_file {
            copy_from_storage(cx, "inputFile", uri, &dir.join(INPUT_FILE)).await?;
        }
        self.target.connect(&dir).await
    }

    /// Runs one statement; `Some(outputs)` when it returned rows.
    async fn run(
        &self,
        cx: &RunContext,
        conn: &mut Conn,
        sql: &str,
        file_name: &str,
    ) -> Result<Option<Map<String, Value>>, TaskError> {
        let span = baton_backend::io_span!(
            "mysql.query",
            otel.kind = "client",
            db.system = "mysql",
            db.statement = %cx.mask_text(&one_line(sql, 200)),
        );
        tracing::Instrument::instrument(self.statement(cx, conn, sql, file_name), span).await
    }

    async fn statement(
        &self,
        cx: &RunContext,
        conn: &mut Conn,
        sql: &str,
        file_name: &str,
    ) -> Result<Option<Map<String, Value>>, TaskError> {
        let sent = self.bound(sql);
        let started = Instant::now();
        let mut result = conn.query_iter(sent.as_str()).await.map_err(|e| sql_error(&e, sql))?;
        if result.columns().is_none_or(|c| c.is_empty()) {
            let n = result.affected_rows();
            result.drop_result().await.map_err(|e| sql_error(&e, sql))?;
            cx.info(&format!("{} → {n} row(s) affected in {} ms", one_line(sql, 100), started.elapsed().as_millis()));
            return Ok(None);
        }
        let zero = self.target.url.zero_dates;
        let mut writer = ResultWriter::new(cx, self.fetch, file_name);
        while writer.wants_more() {
            match result.next().await.map_err(|e| sql_error(&e, sql))? {
                None => break,
                Some(row) => writer.push(row_to_json(&row, zero).map_err(TaskError::failed)?).await?,
            }
        }
        // the rest of the rows (FETCH_ONE, NONE) are read and dropped
        result.drop_result().await.map_err(|e| sql_error(&e, sql))?;
        let out = writer.finish().await?;
        let size =
            out.get("size").map(|s| format!(", {s} row(s) fetched ({})", self.fetch.as_str())).unwrap_or_default();
        cx.info(&format!("{}{size} in {} ms", one_line(sql, 100), started.elapsed().as_millis()));
        Ok(Some(out))
    }
}

async fn exec(conn: &mut Conn, sql: &str) -> Result<(), TaskError> {
    conn.query_drop(sql).await.map_err(|e| sql_error(&e, sql))
}

/// Run a SQL query on MySQL.
///
/// Runs one statement and fetches, stores or ignores its rows. With inputFile, the file is copied into the working directory for LOAD DATA LOCAL INFILE '{{ inputFile }}'.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.jdbc.mysql.Query",
    group = "jdbc",
    props = QueryProps,
    example = "id: query\ntype: io.kestra.plugin.jdbc.mysql.Query\nurl: jdbc:mysql://127.0.0.1:3306/stage\nusername: mysql_user\npassword: \"{{ secret('MYSQL_PASSWORD') }}\"\nsql: SELECT count(*) AS n FROM orders\nfetchType: FETCH_ONE\n",
    outputs(
        row(Map, "The first row (fetchType FETCH_ONE)."),
        rows(List, "The rows (fetchType FETCH)."),
        uri(String, "A file of the rows, one JSON (Ion) line each (fetchType STORE)."),
        size(Integer, "The number of rows fetched or stored.")
    ),
)]
pub struct Query {
    plan: Plan,
}

fn build_query(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let plan = plan(props)?;
    only_one(&plan.statements)?;
    Ok(Box::new(Query { plan }))
}

#[async_trait]
impl RunnableTask for Query {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut session = self.plan.open(cx).await?;
        let result = self.work(cx, session.conn()?).await;
        session.close().await;
        result
    }
}

impl Query {
    async fn work(&self, cx: &RunContext, conn: &mut Conn) -> Result<TaskOutput, TaskError> {
        let plan = &self.plan;
        let Some(after) = &plan.after_sql else {
            let out = plan.run(cx, conn, &plan.statements[0], "result.ion").await?;
            return Ok(TaskOutput::with(out.unwrap_or_default()));
        };
        exec(conn, "START TRANSACTION").await?;
        let result = async {
            let out = plan.run(cx, conn, &plan.statements[0], "result.ion").await?;
            plan.run(cx, conn, after, "after.ion").await?;
            exec(conn, "COMMIT").await?;
            Ok::<_, TaskError>(out)
        }
        .await;
        if result.is_err() {
            let _ = conn.query_drop("ROLLBACK").await;
        }
        Ok(TaskOutput::with(result?.unwrap_or_default()))
    }
}

/// Run several SQL statements on MySQL.
///
/// Runs statements separated by ';', in one transaction by default (MySQL commits DDL statements on its own).
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.jdbc.mysql.Queries",
    group = "jdbc",
    props = QueriesProps,
    example = "id: setup\ntype: io.kestra.plugin.jdbc.mysql.Queries\nurl: jdbc:mysql://127.0.0.1:3306/stage\nusername: mysql_user\npassword: \"{{ secret('MYSQL_PASSWORD') }}\"\nfetchType: FETCH\nsql: |\n  SELECT firstName, lastName FROM employee;\n  SELECT brand FROM laptop;\n",
    outputs(
        outputs(List, "One result per statement that returns rows.")
    ),
)]
pub struct Queries {
    plan: Plan,
}

fn build_queries(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let mut plan = plan(props)?;
    let tx: TxProps = parse_props(props)?;
    plan.transaction = tx.transaction.unwrap_or(true);
    Ok(Box::new(Queries { plan }))
}

#[async_trait]
impl RunnableTask for Queries {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut session = self.plan.open(cx).await?;
        let result = self.work(cx, session.conn()?).await;
        session.close().await;
        result
    }
}

impl Queries {
    async fn work(&self, cx: &RunContext, conn: &mut Conn) -> Result<TaskOutput, TaskError> {
        let plan = &self.plan;
        let tx = plan.transaction;
        if tx {
            exec(conn, "START TRANSACTION").await?;
        }
        let n = plan.statements.len();
        let mut outputs = Vec::new();
        let mut failed = None;
        for (i, sql) in plan.statements.iter().enumerate() {
            match plan.run(cx, conn, sql, &format!("result-{}.ion", i + 1)).await {
                Ok(Some(out)) => outputs.push(Value::Object(out)),
                Ok(None) => {}
                Err(e) => {
                    let which =
                        if n > 1 { format!("statement {} of {n} failed", i + 1) } else { "query failed".into() };
                    let undone = if tx && i > 0 { " (the transaction was rolled back)" } else { "" };
                    failed = Some(TaskError::failed(format!("{which}{undone}: {e}")));
                    break;
                }
            }
        }
        if failed.is_none()
            && let Some(after) = &plan.after_sql
            && let Err(e) = plan.run(cx, conn, after, "after.ion").await
        {
            failed = Some(TaskError::failed(format!("afterSQL failed: {e}")));
        }
        if let Some(e) = failed {
            if tx {
                let _ = conn.query_drop("ROLLBACK").await;
            }
            return Err(e);
        }
        if tx {
            exec(conn, "COMMIT").await?;
        }
        let mut out = Map::new();
        out.insert("outputs".into(), Value::Array(outputs));
        Ok(TaskOutput::with(out))
    }
}

pub static QUERY: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<Query>(build_query));

pub static QUERIES: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<Queries>(build_queries));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn plans_name_the_wrong_property() {
        let base = json!({"url": "jdbc:mysql://h/db", "sql": "SELECT 1; SELECT 2"});
        let e = build_query(&props(base.clone())).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("Use the Queries task"), "{e}");
        let e = plan(&props(json!({"url": "jdbc:postgresql://h/db", "sql": "SELECT 1"}))).unwrap_err().to_string();
        assert!(e.starts_with("invalid property 'url'"), "{e}");
        let e = plan(&props(json!({"url": "jdbc:mysql://h/db?useSSL=true", "sql": "SELECT 1"}))).unwrap_err();
        assert!(e.to_string().contains("encrypted"), "{e}");
    }

    #[test]
    fn parameters_are_written_in_where_named() {
        let p = plan(&props(json!({
            "url": "jdbc:mysql://h/db", "sql": "SELECT :a, ':a', :b, :a, :c",
            "parameters": {"a": 1, "b": "x'y"}
        })))
        .unwrap();
        assert_eq!(p.bound("SELECT :a, ':a', :b, :a, :c"), "SELECT 1, ':a', _utf8mb4 X'782779', 1, :c");
    }
}
