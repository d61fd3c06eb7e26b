//! Kestra's JDBC polling triggers, `io.kestra.plugin.jdbc.postgresql.Trigger`,
//! `io.kestra.plugin.jdbc.mysql.Trigger`, `io.kestra.plugin.jdbc.duckdb.Trigger` and
//! `io.kestra.plugin.jdbc.sqlite.Trigger`: every `interval` the
//! trigger runs its query — the database's `Query` task with the same
//! properties (`url`, `username`, `password`, `sql`, `parameters`,
//! `fetchType`, `afterSQL`, …) — and when it returns at least one row
//! starts an execution whose `trigger` holds the query's outputs (`rows`,
//! `row`, `uri`, `size`), as Kestra's `AbstractJdbcTrigger` does. Nothing
//! remembers the rows: a query that keeps returning them starts an
//! execution per interval, so the flow (or `afterSQL`, run after the query
//! in the same transaction) marks them done, as with Kestra.
//!
//! A JDBC trigger is polled exactly as an `http.Trigger` ([`super::http`]:
//! one evaluation per slot of `interval`, claimed in the trigger store, an
//! execution id derived from the slot, not evaluated while its last
//! execution runs unless `allowConcurrent`, `stopAfter`,
//! `failOnTriggerError`); its probe is the query instead of a request.

use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::{TriggerDef, TriggerProblem, prop};
use crate::model::decl::{Declared, DeclaredProps, OutDecl, PropDecl, TypeDecl};
use crate::model::{Flow, Trigger};
use crate::plugins::registry::PluginDef;
use crate::plugins::{Declare, PropKind};

pub const POSTGRES: &str = "io.kestra.plugin.jdbc.postgresql.Trigger";
pub const DUCKDB: &str = "io.kestra.plugin.jdbc.duckdb.Trigger";
pub const SQLITE: &str = "io.kestra.plugin.jdbc.sqlite.Trigger";
pub const MYSQL: &str = "io.kestra.plugin.jdbc.mysql.Trigger";

/// The databases, as [`JdbcTrigger`]'s parameter.
const PG: u8 = 0;
const DUCK: u8 = 1;
const LITE: u8 = 2;
const MY: u8 = 3;

/// The trigger's own properties beside its query's (also BigQuery's,
/// `super::bigquery`).
#[derive(serde::Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(super) struct PollProps {
    /// How often the query runs (whole minutes on Google Cloud).
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    /// Disable the trigger after an execution it started ends in one of these states.
    #[prop(kind = "List")]
    stop_after: Option<Value>,
    /// A query that fails becomes a FAILED execution (else it is logged and retried at the next interval).
    #[prop(kind = "Boolean", default = "false")]
    fail_on_trigger_error: Option<Value>,
}

/// Which query task a trigger type runs.
fn query_of(type_name: &str) -> Option<&'static PluginDef> {
    match type_name {
        POSTGRES => Some(&crate::plugins::jdbc::postgres::query::QUERY),
        DUCKDB => Some(&crate::plugins::jdbc::duckdb::QUERY),
        SQLITE => Some(&crate::plugins::jdbc::sqlite::QUERY),
        MYSQL => Some(&crate::plugins::jdbc::mysql::query::QUERY),
        _ => None,
    }
}

/// The declaration of the trigger type of database `DB` ([`PG`], [`DUCK`],
/// [`LITE`]): its query task's properties and [`PollProps`].
pub struct JdbcTrigger<const DB: u8>;

impl<const DB: u8> JdbcTrigger<DB> {
    fn type_name() -> &'static str {
        match DB {
            PG => POSTGRES,
            DUCK => DUCKDB,
            MY => MYSQL,
            _ => SQLITE,
        }
    }
}

impl<const DB: u8> DeclaredProps for JdbcTrigger<DB> {
    fn props() -> Vec<PropDecl> {
        let query = query_of(Self::type_name()).map(|d| d.decl.props.clone()).unwrap_or_default();
        [query, PollProps::props()].concat()
    }
}

impl<const DB: u8> Declared for JdbcTrigger<DB> {
    fn declaration() -> TypeDecl {
        let example = match DB {
            PG => {
                "id: watch\ntype: io.kestra.plugin.jdbc.postgresql.Trigger\ninterval: PT5M\nurl: jdbc:postgresql://127.0.0.1:5432/db\nusername: pg_user\npassword: \"{{ secret('PG_PASSWORD') }}\"\nsql: SELECT id FROM orders WHERE status = 'NEW'\nafterSQL: UPDATE orders SET status = 'SEEN' WHERE status = 'NEW'\nfetchType: FETCH\n"
            }
            MY => {
                "id: watch\ntype: io.kestra.plugin.jdbc.mysql.Trigger\ninterval: PT5M\nurl: jdbc:mysql://127.0.0.1:3306/shop\nusername: mysql_user\npassword: \"{{ secret('MYSQL_PASSWORD') }}\"\nsql: SELECT id FROM orders WHERE status = 'NEW'\nafterSQL: UPDATE orders SET status = 'SEEN' WHERE status = 'NEW'\nfetchType: FETCH\n"
            }
            DUCK => {
                "id: watch\ntype: io.kestra.plugin.jdbc.duckdb.Trigger\ninterval: PT5M\nurl: \"jdbc:duckdb:/data/lake.duckdb\"\nsql: SELECT * FROM events WHERE NOT seen\nfetchType: FETCH\n"
            }
            _ => {
                "id: watch\ntype: io.kestra.plugin.jdbc.sqlite.Trigger\ninterval: PT5M\nurl: \"jdbc:sqlite:/data/app.db\"\nsql: SELECT * FROM events WHERE seen = 0\nafterSQL: UPDATE events SET seen = 1\nfetchType: FETCH\n"
            }
        };
        let type_name = Self::type_name();
        let out = |name, kind, doc| OutDecl { name, kind, doc };
        TypeDecl {
            type_name,
            aliases: &[],
            group: "",
            title: match DB {
                PG => "Start an execution when a PostgreSQL query returns rows.",
                DUCK => "Start an execution when a DuckDB query returns rows.",
                MY => "Start an execution when a MySQL query returns rows.",
                _ => "Start an execution when a SQLite query returns rows.",
            },
            description: match DB {
                PG => {
                    "Runs the query every `interval` (as jdbc.postgresql.Query, afterSQL included) and starts an execution when it returns rows: trigger.rows, trigger.row, trigger.uri, trigger.size per fetchType. On Google Cloud it is polled by a Cloud Scheduler job, at most once a minute."
                }
                MY => {
                    "Runs the query every `interval` (as jdbc.mysql.Query, afterSQL included) and starts an execution when it returns rows: trigger.rows, trigger.row, trigger.uri, trigger.size per fetchType. On Google Cloud it is polled by a Cloud Scheduler job, at most once a minute."
                }
                DUCK => {
                    "Runs the query every `interval` (as jdbc.duckdb.Query, afterSQL included) and starts an execution when it returns rows: trigger.rows, trigger.row, trigger.uri, trigger.size per fetchType. On Google Cloud it is polled by a Cloud Scheduler job, at most once a minute."
                }
                _ => {
                    "Runs the query every `interval` (as jdbc.sqlite.Query, afterSQL included) and starts an execution when it returns rows: trigger.rows, trigger.row, trigger.uri, trigger.size per fetchType. On Google Cloud it is polled by a Cloud Scheduler job, at most once a minute."
                }
            },
            example,
            outputs: vec![
                out("rows", PropKind::List, "The rows (fetchType FETCH)."),
                out("row", PropKind::Map, "The first row (fetchType FETCH_ONE)."),
                out("uri", PropKind::String, "The rows as an Ion file (fetchType STORE)."),
                out("size", PropKind::Integer, "How many rows the query returned."),
            ],
            props: Self::props(),
        }
    }
}

pub static POSTGRES_DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<JdbcTrigger<PG>>(check, crate::conditions::ConditionUse::Polling));
pub static DUCKDB_DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<JdbcTrigger<DUCK>>(check, crate::conditions::ConditionUse::Polling));
pub static MYSQL_DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<JdbcTrigger<MY>>(check, crate::conditions::ConditionUse::Polling));
pub static SQLITE_DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<JdbcTrigger<LITE>>(check, crate::conditions::ConditionUse::Polling));

/// The query task a JDBC trigger runs and its properties (unrendered); `None` for another type.
pub fn query(t: &Trigger) -> Option<(&'static str, Map<String, Value>)> {
    let def = query_of(&t.type_)?;
    let props = t
        .props
        .iter()
        .filter(|(k, v)| !v.is_null() && def.decl.prop(k).is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Some((def.type_name, props))
}

fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    for needed in ["url", "sql"] {
        if prop(trig, needed).is_none() {
            out.push(TriggerProblem::at("", format!("trigger '{}': a JDBC trigger needs '{needed}'", trig.id)));
        }
    }
    if !trig.disabled {
        out.extend(super::http::poll_problem(trig));
    }
    out
}
