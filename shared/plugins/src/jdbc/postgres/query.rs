//! `io.kestra.plugin.jdbc.postgresql.Query` (one statement; outputs `row`,
//! `rows`, `uri`, `size` per `fetchType`) and `Queries` (a `;`-separated
//! script run in one transaction by default; output `outputs`: one entry per
//! statement that returns rows). Named `:parameters` are bound positionally
//! with the types the server infers.

use std::sync::LazyLock;
use std::time::Instant;

use async_trait::async_trait;
use baton_model::decl::DeclaredProps;
use futures::StreamExt;
use serde_json::{Map, Value};
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::cells::{Param, row_to_json};
use super::connect::{Conn, ConnProps};
use super::errors::sql_error;
use crate::jdbc::fetch::{FetchProps, FetchType, ResultWriter};
use crate::jdbc::props::{StatementProps, TxProps};
use crate::jdbc::split::{bind_named, one_line, only_one, split_statements};
use crate::registry::{PluginDef, PropDecl};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, parse_props};

/// The properties of `Query`: the connection's, the statement's and the
/// fetch ones, each parsed apart (so that an error names its property).
pub struct QueryProps;

impl DeclaredProps for QueryProps {
    fn props() -> Vec<PropDecl> {
        [ConnProps::props(), StatementProps::props(), FetchProps::props()].concat()
    }
}

/// The properties of `Queries`: `Query`'s and `transaction`.
pub struct QueriesProps;

impl DeclaredProps for QueriesProps {
    fn props() -> Vec<PropDecl> {
        [ConnProps::props(), StatementProps::props(), TxProps::props(), FetchProps::props()].concat()
    }
}

/// What a query task runs.
#[derive(Debug)]
struct Plan {
    conn: Conn,
    fetch: FetchType,
    statements: Vec<String>,
    parameters: Map<String, Value>,
    after_sql: Option<String>,
    transaction: bool,
}

fn plan(props: &Map<String, Value>) -> Result<Plan, TaskError> {
    let p: StatementProps = parse_props(props)?;
    // parsed apart, not flattened, so that an error names its property
    let conn: ConnProps = parse_props(props)?;
    let fetch: FetchProps = parse_props(props)?;
    let statements = split_statements(&p.sql);
    if statements.is_empty() {
        return Err(TaskError::property("sql", "there is no SQL statement to run"));
    }
    Ok(Plan {
        conn: conn.resolve()?,
        fetch: fetch.resolve(),
        statements,
        parameters: p.parameters.unwrap_or_default(),
        after_sql: p.after_sql.filter(|s| !s.trim().is_empty()),
        // `Queries` reads its `transaction` (`build_queries`)
        transaction: true,
    })
}

/// Runs one statement; `Some(outputs)` when it returned rows. Traced as a
/// `postgresql.query` span (the statement masked as logs are).
async fn run_statement(
    cx: &RunContext,
    client: &Client,
    plan: &Plan,
    sql: &str,
    file_name: &str,
) -> Result<Option<Map<String, Value>>, TaskError> {
    let span = baton_backend::io_span!(
        "postgresql.query",
        otel.kind = "client",
        db.system = "postgresql",
        db.statement = %cx.mask_text(&one_line(sql, 200)),
    );
    tracing::Instrument::instrument(statement(cx, client, plan, sql, file_name), span).await
}

async fn statement(
    cx: &RunContext,
    client: &Client,
    plan: &Plan,
    sql: &str,
    file_name: &str,
) -> Result<Option<Map<String, Value>>, TaskError> {
    let names: Vec<&str> = plan.parameters.keys().map(String::as_str).collect();
    let (sent, order) =
        if names.is_empty() { (sql.to_string(), Vec::new()) } else { bind_named(sql, &names, |n| format!("${n}")) };
    let params: Vec<Param> = order
        .into_iter()
        .map(|name| Param { value: plan.parameters.get(&name).cloned().unwrap_or(Value::Null), name, tz: plan.conn.tz })
        .collect();
    let args = params.iter().map(|p| p as &dyn ToSql);
    let started = Instant::now();
    let stmt = client.prepare(&sent).await.map_err(|e| TaskError::failed(sql_error(&e, Some(&sent))))?;
    if stmt.columns().is_empty() {
        let n = client.execute_raw(&stmt, args).await.map_err(|e| TaskError::failed(sql_error(&e, Some(&sent))))?;
        cx.info(&format!("{} → {n} row(s) affected in {} ms", one_line(sql, 100), started.elapsed().as_millis()));
        return Ok(None);
    }
    let rows = client.query_raw(&stmt, args).await.map_err(|e| TaskError::failed(sql_error(&e, Some(&sent))))?;
    let mut rows = std::pin::pin!(rows);
    let mut writer = ResultWriter::new(cx, plan.fetch, file_name);
    while writer.wants_more() {
        match rows.next().await {
            None => break,
            Some(Err(e)) => return Err(TaskError::failed(sql_error(&e, Some(&sent)))),
            Some(Ok(row)) => writer.push(row_to_json(&row, plan.conn.tz).map_err(TaskError::failed)?).await?,
        }
    }
    let out = writer.finish().await?;
    let size = out.get("size").map(|s| format!(", {s} row(s) fetched ({})", plan.fetch.as_str())).unwrap_or_default();
    cx.info(&format!("{}{size} in {} ms", one_line(sql, 100), started.elapsed().as_millis()));
    Ok(Some(out))
}

async fn rollback(client: &Client) {
    let _ = client.batch_execute("ROLLBACK").await;
}

/// Run a SQL query on PostgreSQL.
///
/// Runs one statement and fetches, stores or ignores its rows.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.jdbc.postgresql.Query",
    group = "jdbc",
    props = QueryProps,
    example = "id: count\ntype: io.kestra.plugin.jdbc.postgresql.Query\nurl: jdbc:postgresql://localhost:5432/postgres\nusername: postgres\npassword: \"{{ secret('PG_PASSWORD') }}\"\nsql: SELECT count(*) AS n FROM trips\nfetchType: FETCH_ONE\n",
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
        let session = self.plan.conn.connect(cx).await?;
        let result = self.work(cx, &session).await;
        session.close();
        result
    }
}

impl Query {
    async fn work(&self, cx: &RunContext, client: &Client) -> Result<TaskOutput, TaskError> {
        let tx = self.plan.after_sql.is_some();
        if tx {
            client.batch_execute("BEGIN").await.map_err(|e| TaskError::failed(sql_error(&e, Some("BEGIN"))))?;
        }
        let result = async {
            let out = run_statement(cx, client, &self.plan, &self.plan.statements[0], "result.ion").await?;
            if let Some(after) = &self.plan.after_sql {
                run_statement(cx, client, &self.plan, after, "after.ion").await?;
                client.batch_execute("COMMIT").await.map_err(|e| TaskError::failed(sql_error(&e, Some("COMMIT"))))?;
            }
            Ok::<_, TaskError>(out)
        }
        .await;
        match result {
            Ok(out) => Ok(TaskOutput::with(out.unwrap_or_default())),
            Err(e) => {
                if tx {
                    rollback(client).await;
                }
                Err(e)
            }
        }
    }
}

/// Run several SQL statements on PostgreSQL.
///
/// Runs statements separated by ';', in one transaction by default.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.jdbc.postgresql.Queries",
    group = "jdbc",
    props = QueriesProps,
    example = "id: setup\ntype: io.kestra.plugin.jdbc.postgresql.Queries\nurl: jdbc:postgresql://localhost:5432/postgres\nusername: postgres\npassword: \"{{ secret('PG_PASSWORD') }}\"\nsql: |\n  CREATE TABLE IF NOT EXISTS t (id int);\n  TRUNCATE t;\n",
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
        let session = self.plan.conn.connect(cx).await?;
        let result = self.work(cx, &session).await;
        session.close();
        result
    }
}

impl Queries {
    async fn work(&self, cx: &RunContext, client: &Client) -> Result<TaskOutput, TaskError> {
        let tx = self.plan.transaction;
        if tx {
            client.batch_execute("BEGIN").await.map_err(|e| TaskError::failed(sql_error(&e, Some("BEGIN"))))?;
        }
        let n = self.plan.statements.len();
        let mut outputs = Vec::new();
        for (i, sql) in self.plan.statements.iter().enumerate() {
            match run_statement(cx, client, &self.plan, sql, &format!("result-{}.ion", i + 1)).await {
                Ok(Some(out)) => outputs.push(Value::Object(out)),
                Ok(None) => {}
                Err(e) => {
                    if tx {
                        rollback(client).await;
                    }
                    let which =
                        if n > 1 { format!("statement {} of {n} failed", i + 1) } else { "query failed".into() };
                    let undone = if tx && i > 0 { " (the transaction was rolled back)" } else { "" };
                    return Err(TaskError::failed(format!("{which}{undone}: {e}")));
                }
            }
        }
        if let Some(after) = &self.plan.after_sql
            && let Err(e) = run_statement(cx, client, &self.plan, after, "after.ion").await
        {
            if tx {
                rollback(client).await;
            }
            return Err(TaskError::failed(format!("afterSQL failed: {e}")));
        }
        if tx {
            client.batch_execute("COMMIT").await.map_err(|e| TaskError::failed(sql_error(&e, Some("COMMIT"))))?;
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
        let base = json!({"url": "jdbc:postgresql://h/db", "sql": "SELECT 1; SELECT 2"});
        let e = build_query(&props(base.clone())).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("Use the Queries task to run multiple statements"), "{e}");
        let p = plan(&props(base)).unwrap();
        assert_eq!(p.statements, vec!["SELECT 1", "SELECT 2"]);
        assert_eq!(p.fetch, FetchType::None);
        assert!(p.transaction);
        let e = plan(&props(json!({"url": "jdbc:postgresql://h/db", "sql": "SELECT 1", "fetchType": "ALL"})))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("invalid property 'fetchType'"), "{e}");
        let e = plan(&props(json!({"url": "jdbc:mysql://h/db", "sql": "SELECT 1"}))).unwrap_err().to_string();
        assert!(e.starts_with("invalid property 'url'"), "{e}");
        let e = plan(&props(json!({"url": "jdbc:postgresql://h/db", "sql": " -- nothing\n"}))).unwrap_err().to_string();
        assert!(e.contains("no SQL statement"), "{e}");
    }
}
