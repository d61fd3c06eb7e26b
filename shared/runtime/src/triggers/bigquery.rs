//! `io.kestra.plugin.gcp.bigquery.Trigger` (plugin-gcp
//! `bigquery/Trigger.java`): every `interval` the trigger runs `sql` as
//! the `bigquery.Query` task with the trigger's own properties
//! (`projectId`, `serviceAccount`, `scopes`, `legacySql`, `fetchType` and
//! the older `fetch`/`fetchOne`/`store`), and when it returns at least one
//! row starts an execution whose `trigger` holds the query's outputs
//! (`rows`, `row`, `uri`, `size`, `jobId`) as Kestra's does. Kestra's
//! trigger accepts no other Query property, and neither does Baton.
//!
//! Kestra tests `size == 0`, which its Query leaves unset under fetchType
//! NONE (its default): such a trigger fails at every poll. Baton refuses it
//! at validation instead, naming the fetch types that work.
//!
//! Polled exactly as the JDBC triggers ([`super::jdbc`], [`super::http`]):
//! one evaluation per slot of `interval`, claimed in the trigger store, an
//! execution id derived from the slot, `allowConcurrent`, `stopAfter`,
//! `failOnTriggerError`; on Google Cloud through the scheduler function.

use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::{TriggerDef, TriggerProblem, prop};
use crate::model::decl::{Declared, DeclaredProps, OutDecl, PropDecl, TypeDecl};
use crate::model::{Flow, Trigger};
use crate::plugins::PropKind;
use crate::plugins::registry::PluginDef;

pub const TYPE: &str = "io.kestra.plugin.gcp.bigquery.Trigger";

/// The Query properties Kestra's trigger declares (it builds its Query
/// from these alone).
const QUERY_PROPS: &[&str] =
    &["projectId", "serviceAccount", "scopes", "sql", "legacySql", "fetchType", "fetch", "fetchOne", "store"];

fn query_def() -> &'static PluginDef {
    &crate::plugins::gcp::bigquery::query::DEF
}

/// The declaration: [`QUERY_PROPS`] of `bigquery.Query` and the
/// polling properties of the JDBC triggers.
pub struct BigQueryTrigger;

impl DeclaredProps for BigQueryTrigger {
    fn props() -> Vec<PropDecl> {
        let query = query_def().decl.props.iter().filter(|p| QUERY_PROPS.contains(&p.name)).cloned().collect();
        [query, super::jdbc::PollProps::props()].concat()
    }
}

impl Declared for BigQueryTrigger {
    fn declaration() -> TypeDecl {
        let out = |name, kind, doc| OutDecl { name, kind, doc };
        TypeDecl {
            type_name: TYPE,
            aliases: &[],
            group: "",
            title: "Start an execution when a BigQuery query returns rows.",
            description: "Runs `sql` every `interval` (as bigquery.Query) and starts an execution when it returns rows: trigger.rows, trigger.row, trigger.uri, trigger.size per fetchType (FETCH, FETCH_ONE or STORE; NONE, Kestra's default, gives no rows to test and is refused). On Google Cloud it is polled by a Cloud Scheduler job, at most once a minute.",
            example: "id: watch\ntype: io.kestra.plugin.gcp.bigquery.Trigger\ninterval: PT5M\nsql: SELECT * FROM `myproject.mydataset.mytable`\nfetchType: FETCH\n",
            outputs: vec![
                out("rows", PropKind::List, "The rows (fetchType FETCH)."),
                out("row", PropKind::Map, "The first row (fetchType FETCH_ONE)."),
                out("uri", PropKind::String, "The rows as an Ion file (fetchType STORE)."),
                out("size", PropKind::Integer, "How many rows the query returned."),
                out("jobId", PropKind::String, "The BigQuery job's id."),
            ],
            props: Self::props(),
        }
    }
}

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<BigQueryTrigger>(check, crate::conditions::ConditionUse::Polling));

/// The query task a BigQuery trigger runs and its properties
/// (unrendered); `None` for another type.
pub fn query(t: &Trigger) -> Option<(&'static str, Map<String, Value>)> {
    if t.type_ != TYPE {
        return None;
    }
    let props = t
        .props
        .iter()
        .filter(|(k, v)| !v.is_null() && QUERY_PROPS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Some((query_def().type_name, props))
}

/// The fetch type written (as Kestra resolves the older flags), `None`
/// when one of them is a template.
fn fetch_type(trig: &Trigger) -> Option<String> {
    for (flag, kind) in [("fetch", "FETCH"), ("fetchOne", "FETCH_ONE"), ("store", "STORE")] {
        match prop(trig, flag) {
            Some(Value::Bool(true)) => return Some(kind.to_string()),
            Some(Value::String(s)) if crate::template::is_template(s) => return None,
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => return Some(kind.to_string()),
            _ => {}
        }
    }
    match prop(trig, "fetchType") {
        None => Some("NONE".to_string()),
        Some(Value::String(s)) if crate::template::is_template(s) => None,
        Some(Value::String(s)) => Some(s.trim().to_ascii_uppercase()),
        Some(other) => Some(other.to_string()),
    }
}

fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    if prop(trig, "sql").is_none() {
        out.push(TriggerProblem::at("", format!("trigger '{}': a BigQuery trigger needs 'sql'", trig.id)));
    }
    if fetch_type(trig).as_deref() == Some("NONE") {
        out.push(TriggerProblem::at(
            "fetchType",
            format!(
                "trigger '{}': fetchType NONE (the default) gives no rows to test, so Kestra's trigger fails at every poll; set fetchType FETCH, FETCH_ONE or STORE",
                trig.id
            ),
        ));
    }
    if !trig.disabled {
        out.extend(super::http::poll_problem(trig));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::flow;
    use super::*;

    fn trigger(props: Value) -> Trigger {
        super::super::tests::trigger_of("w", TYPE, props)
    }

    #[test]
    fn declares_kestra_s_properties_and_refuses_fetch_type_none() {
        let names: Vec<&str> = DEF.decl.props.iter().map(|p| p.name).collect();
        for p in QUERY_PROPS.iter().chain(&["interval", "stopAfter", "failOnTriggerError"]) {
            assert!(names.contains(p), "{p} in {names:?}");
        }
        assert!(!names.contains(&"destinationTable"), "{names:?}");
        let flow = flow();
        let problems = check(&trigger(json!({"sql": "SELECT 1"})), &flow);
        assert!(problems.iter().any(|p| p.path == "fetchType" && p.message.contains("NONE")), "{problems:?}");
        let fetch = trigger(json!({"sql": "SELECT 1", "fetchType": "FETCH", "interval": "PT10S"}));
        assert!(check(&fetch, &flow).is_empty());
        assert!(check(&trigger(json!({"sql": "SELECT 1", "fetchOne": true})), &flow).is_empty());
        assert!(
            check(&trigger(json!({"fetchType": "FETCH"})), &flow).iter().any(|p| p.message.contains("needs 'sql'"))
        );
        let (task, props) = query(&fetch).expect("a query");
        assert_eq!(task, "io.kestra.plugin.gcp.bigquery.Query");
        assert_eq!(props.keys().collect::<Vec<_>>(), ["sql", "fetchType"]);
        let polled = super::super::http::HttpTrigger::of(&fetch).expect("polled").expect("valid");
        assert_eq!(polled.type_name, TYPE);
    }
}
