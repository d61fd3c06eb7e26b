//! `io.kestra.plugin.core.storage.PurgeStorage` (Kestra 2.0): deletes the
//! execution files (`/{namespace}/{flow}/executions/{id}/…`) whose
//! last-modified time is within `[startDate, endDate]` (both inclusive;
//! `startDate` optional), under `namespace` and its sub-namespaces (every
//! namespace when absent), or one flow's with `flowId` (which needs
//! `namespace`). `dryRun` (default **true**, as Kestra) only counts.
//! Outputs: `scannedCount` (execution folders looked at), `purgedCount`
//! (executions with a file in the window), `deletedFilesCount` (0 in a dry
//! run). Namespace files (`_files`), KV and other folders starting with `_`
//! or `.` are never touched, nor is a folder named `executions` read as a
//! flow unless `flowId` names it (Kestra's walk).
//!
//! Bound: the listing is held in memory, at most [`MAX_FILES`] files; a
//! larger scope is an error saying to narrow it with `namespace`/`flowId`.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_model::ids::slugify;

/// Most files one purge lists.
pub const MAX_FILES: usize = 1_000_000;

/// Purge execution files by last-modified date (Kestra 2.0).
///
/// Deletes the execution files of internal storage modified between `startDate` and `endDate`, under a namespace and its sub-namespaces (or one flow); only counts them unless `dryRun: false`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.storage.PurgeStorage",
    group = "core",
    example = "id: purge\ntype: io.kestra.plugin.core.storage.PurgeStorage\nnamespace: company.team\nendDate: \"{{ now() | dateAdd(-7, 'DAYS') }}\"\ndryRun: false\n",
    outputs(
        scannedCount(Integer, "Execution folders looked at."),
        purgedCount(Integer, "Executions with at least one file in the window."),
        deletedFilesCount(Integer, "Files deleted (0 in a dry run).")
    )
)]
struct Props {
    /// The namespace, with its sub-namespaces (every namespace when absent).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    namespace: Option<String>,
    /// One flow of `namespace`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    flow_id: Option<String>,
    /// Only files modified at or after this ISO date-time.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    start_date: Option<String>,
    /// Only files modified at or before this ISO date-time.
    #[serde(deserialize_with = "de::string_lenient")]
    end_date: String,
    /// Only count, delete nothing.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    dry_run: Option<bool>,
}

/// The task, its properties rendered.
#[derive(Debug)]
pub struct PurgeStorage {
    namespace: Option<String>,
    flow_id: Option<String>,
    start: Option<DateTime<Utc>>,
    end: DateTime<Utc>,
    dry_run: bool,
}

fn date(property: &str, s: &str) -> Result<DateTime<Utc>, TaskError> {
    baton_template::conditions::dates::parse_date_time(s.trim())
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(|| TaskError::property(property, format!("'{s}' is not an ISO-8601 date-time with a zone")))
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let blank = |o: Option<String>| o.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (namespace, flow_id) = (blank(p.namespace), blank(p.flow_id));
    if flow_id.is_some() && namespace.is_none() {
        return Err(TaskError::property("namespace", "'namespace' is required when 'flowId' is set."));
    }
    let start = blank(p.start_date).map(|s| date("startDate", &s)).transpose()?;
    let end = date("endDate", &p.end_date)?;
    Ok(Box::new(PurgeStorage { namespace, flow_id, start, end, dry_run: p.dry_run.unwrap_or(true) }))
}

/// An execution file's execution folder (`/ns/…/flow/executions/{id}`) and
/// its flow's namespace and flow folder, read as Kestra's walk reads the
/// storage: the first folder (below at least one namespace segment) that
/// holds an `executions` folder is a flow, unless it is named `executions`.
fn execution_of(path: &str) -> Option<(String, String, String)> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for i in 1..segs.len().saturating_sub(3) {
        if segs[..=i].iter().any(|s| s.starts_with('_') || s.starts_with('.') || s.is_empty()) {
            return None;
        }
        if segs[i + 1] == "executions" && segs[i] != "executions" {
            let exec = format!("/{}", segs[..i + 3].join("/"));
            return Some((segs[..i].join("."), segs[i].to_string(), exec));
        }
    }
    None
}

#[async_trait]
impl RunnableTask for PurgeStorage {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let prefix = match (&self.namespace, &self.flow_id) {
            (Some(ns), Some(f)) => format!("/{}/{}/executions/", ns.replace('.', "/"), slugify(f)),
            (Some(ns), None) => format!("/{}/", ns.replace('.', "/")),
            _ => "/".to_string(),
        };
        cx.info(&format!(
            "Starting PurgeStorage (dryRun={}) scope=[namespace={}, flowId={}] window=[{}, {}]",
            self.dry_run,
            self.namespace.as_deref().unwrap_or("*"),
            self.flow_id.as_deref().unwrap_or("*"),
            self.start.map(|d| d.to_rfc3339()).unwrap_or_else(|| "-".into()),
            self.end.to_rfc3339()
        ));
        let files = cx
            .services
            .storage
            .list_modified(&prefix)
            .await
            .map_err(|e| TaskError::failed(format!("cannot list the internal storage under {prefix}: {e}")))?;
        if files.len() > MAX_FILES {
            return Err(TaskError::failed(format!(
                "{} files under {prefix}: more than PurgeStorage lists at once ({MAX_FILES}); narrow it with namespace or flowId",
                files.len()
            )));
        }
        let mut scanned = std::collections::BTreeSet::new();
        let mut purged = std::collections::BTreeSet::new();
        let mut matched = Vec::new();
        for (path, at) in files {
            let Some((ns, flow, exec)) = execution_of(&path) else { continue };
            if let Some(f) = &self.flow_id
                && (flow != slugify(f) || Some(&ns) != self.namespace.as_ref())
            {
                continue;
            }
            scanned.insert(exec.clone());
            if self.start.is_some_and(|s| at < s) || at > self.end {
                continue;
            }
            purged.insert(exec);
            matched.push(path);
        }
        let mut deleted = 0usize;
        if !self.dry_run {
            for path in &matched {
                // one file at a time: a folder prefix would take newer files too
                let gone = cx
                    .services
                    .storage
                    .delete_prefix(path)
                    .await
                    .map_err(|e| TaskError::failed(format!("cannot delete {path}: {e}")))?;
                deleted += gone.iter().filter(|g| *g == path).count();
            }
        }
        cx.info(&format!(
            "PurgeStorage complete (dryRun={}): scanned={}, purged={}, deletedFiles={deleted}",
            self.dry_run,
            scanned.len(),
            purged.len()
        ));
        let mut out = Map::new();
        out.insert("scannedCount".into(), json!(scanned.len()));
        out.insert("purgedCount".into(), json!(purged.len()));
        out.insert("deletedFilesCount".into(), json!(deleted));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    #[test]
    fn execution_folders_are_read_as_kestras_walk() {
        let e = |p| execution_of(p);
        assert_eq!(
            e("/company/team/etl/executions/abc/tasks/t/tr/f.csv"),
            Some(("company.team".into(), "etl".into(), "/company/team/etl/executions/abc".into()))
        );
        assert_eq!(e("/company/_files/x/executions/abc/f"), None, "namespace files are never execution files");
        assert_eq!(e("/company/_kv/k.ion"), None);
        assert_eq!(e("/etl/executions/abc/f"), None, "a flow sits under a namespace");
        assert_eq!(
            e("/a/executions/b/flow/executions/id/f"),
            Some(("a.executions.b".into(), "flow".into(), "/a/executions/b/flow/executions/id".into()))
        );
    }

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).single().unwrap_or_default()
    }

    fn seeded() -> Env {
        let env = Env::new();
        for (path, day) in [
            ("/company/team/etl/executions/e1/tasks/a/tr/x.csv", 1),
            ("/company/team/etl/executions/e1/outputs/y.csv", 9),
            ("/company/team/etl/executions/e2/tasks/a/tr/x.csv", 2),
            ("/company/team/sub/load/executions/e3/tasks/a/tr/x.csv", 3),
            ("/company/other/executions/e4/tasks/a/tr/x.csv", 3),
            ("/company/team/_files/etl.sql", 1),
            ("/company/team/_kv/key.ion", 1),
        ] {
            env.storage.insert(path, "x").unwrap();
            env.storage.set_modified(path, at(day)).unwrap();
        }
        env
    }

    fn counts(out: &TaskOutput) -> (u64, u64, u64) {
        let n = |k: &str| out.outputs.get(k).and_then(Value::as_u64).unwrap_or(u64::MAX);
        (n("scannedCount"), n("purgedCount"), n("deletedFilesCount"))
    }

    #[tokio::test]
    async fn a_dry_run_counts_and_deletes_nothing() {
        let env = seeded();
        let out = env.run(&DEF, json!({"namespace": "company.team", "endDate": "2026-01-05T00:00:00Z"})).await.unwrap();
        assert_eq!(counts(&out), (3, 3, 0), "e1, e2 and e3 (a sub-namespace) scanned and matched");
        assert_eq!(baton_backend::Storage::list(env.storage.as_ref(), "/").await.unwrap().len(), 7);
    }

    #[tokio::test]
    async fn files_in_the_window_go_and_the_rest_stays() {
        let env = seeded();
        let raw = json!({"namespace": "company", "startDate": "2026-01-02T00:00:00+00:00", "endDate": "2026-01-03T00:00:00Z", "dryRun": false});
        let out = env.run(&DEF, raw).await.unwrap();
        assert_eq!(counts(&out), (4, 3, 3), "e2, e3, e4 deleted; e1's files are outside the window");
        let left = baton_backend::Storage::list(env.storage.as_ref(), "/").await.unwrap();
        assert_eq!(
            left,
            [
                "/company/team/_files/etl.sql",
                "/company/team/_kv/key.ion",
                "/company/team/etl/executions/e1/outputs/y.csv",
                "/company/team/etl/executions/e1/tasks/a/tr/x.csv",
            ]
        );
    }

    #[tokio::test]
    async fn one_flow_and_its_errors() {
        let env = seeded();
        let raw =
            json!({"namespace": "company.team", "flowId": "etl", "endDate": "2026-12-31T00:00:00Z", "dryRun": "false"});
        let out = env.run(&DEF, raw).await.unwrap();
        assert_eq!(counts(&out), (2, 2, 3));
        assert_eq!(baton_backend::Storage::list(env.storage.as_ref(), "/company/team/etl").await.unwrap().len(), 0);
        let e = env.run(&DEF, json!({"flowId": "etl", "endDate": "2026-01-01T00:00:00Z"})).await.unwrap_err();
        assert!(e.to_string().contains("'namespace' is required when 'flowId' is set"), "{e}");
        let e = env.run(&DEF, json!({"endDate": "yesterday"})).await.unwrap_err();
        assert!(e.to_string().contains("endDate") && e.to_string().contains("'yesterday'"), "{e}");
    }
}
