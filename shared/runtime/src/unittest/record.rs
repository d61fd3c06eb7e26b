//! `baton test --record CASE`: runs a case's flow once for real (its inputs
//! and files, none of its task fixtures) and turns the task runs of every
//! task that touched the outside world — by type family: HTTP, JDBC,
//! cloud, scripts, … ([`touches_outside`]) — into task fixtures: id, value
//! (in a ForEach), outputs, and state when not SUCCESS. Files the outputs
//! point at (`kestra://…`) are read back and become `fixtures.files`
//! entries, the output then naming `{{ files['name'] }}`, so the mocked
//! task hands the flow a file that exists. [`super::write`] puts the
//! result into the test file.
//!
//! The namespace files the run read from the user's home become
//! `fixtures.namespaceFiles` ([`super::nsfiles`]), under the same bounds.
//!
//! While recording, `PurgeCurrentExecutionFiles` tasks are mocked (they
//! would delete the files before they are read back); nothing else is.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;

use super::model::{TaskFixture, TestSuite, UnitTest};
use super::run::CaseOutcome;
use crate::model::{Execution, Flow, StateType};
use crate::runtime::embedded::Embedded;

/// Task type prefixes of the families whose tasks reach outside Baton:
/// networks, databases, clouds, processes.
const OUTSIDE: &[&str] = &[
    "io.kestra.plugin.core.http.",
    "io.kestra.plugin.jdbc.",
    "io.kestra.plugin.gcp.",
    "io.kestra.plugin.aws.",
    "io.kestra.plugin.azure.",
    "io.kestra.plugin.scripts.",
    "io.kestra.plugin.fs.",
    "io.kestra.plugin.git.",
    "io.kestra.plugin.github.",
    "io.kestra.plugin.dbt.",
    "io.kestra.plugin.notifications.",
    "io.kestra.plugin.redis.",
    "io.kestra.plugin.ai.",
    "io.kestra.plugin.graphql.",
    "io.kestra.plugin.kafka.",
    "io.kestra.plugin.mongodb.",
    "io.kestra.plugin.sockets.",
];

/// The task types a recording run mocks, so the files stay to be read.
const PURGES: &[&str] = &["io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles"];

/// The largest output file recorded inline into `fixtures.files`.
pub const MAX_RECORDED_FILE: u64 = 1024 * 1024;
/// The most bytes of files one recording adds to a test file (which
/// must stay under the 8 MiB Baton reads).
pub const MAX_RECORDED_BYTES: u64 = 4 * 1024 * 1024;
/// The most output files one recording captures.
pub const MAX_RECORDED_FILES: usize = 100;

/// Whether a task of this type (its current Kestra name) touches the
/// outside world, so a hermetic test must mock it.
pub fn touches_outside(kind: &str) -> bool {
    OUTSIDE.iter().any(|p| kind.starts_with(p))
}

/// What one real run of a case gave.
#[derive(Debug, Clone)]
pub struct Recording {
    pub execution_id: String,
    pub state: StateType,
    /// One fixture per recorded task (and value), in the order they ran.
    pub tasks: Vec<TaskFixture>,
    /// The files the recorded outputs point at: name → content.
    pub files: Vec<(String, String)>,
    /// The flow namespace's files the run read from the user's home
    /// (`fixtures.namespaceFiles`): path → content.
    pub namespace_files: Vec<(String, String)>,
    /// The task ids that ran for real and were not recorded (Baton-only
    /// work: logs, labels, flowables, KV…).
    pub not_recorded: Vec<String>,
}

/// Runs `case` of `suite` for real on `embedded` (whose repository holds
/// `flow` and the subflows it calls) and records it; `reads` is the
/// storage `embedded` was opened over when the namespace files the run
/// reads come from the user's home ([`super::nsfiles::ReadThrough`]).
pub async fn record_case(
    embedded: &Embedded,
    flow: &Arc<Flow>,
    suite: &TestSuite,
    case: &UnitTest,
    timeout: Duration,
    reads: Option<&super::nsfiles::ReadThrough>,
) -> Result<Recording, String> {
    let mut real = case.clone();
    real.disabled = false;
    // the run reads the namespace files of the user's home, not the case's
    real.fixtures.namespace_files.clear();
    real.fixtures.tasks = flow
        .all_tasks()
        .into_iter()
        .filter(|t| PURGES.contains(&t.kind.as_str()))
        .map(|t| TaskFixture {
            id: t.id.clone(),
            value: None,
            state: StateType::Success,
            outputs: Map::from_iter([("uris".to_string(), Value::Array(Vec::new()))]),
            description: None,
            path: String::new(),
        })
        .collect();
    let mut out = CaseOutcome::pending(suite, case);
    let (exec, _) = super::run::execute(embedded, flow, &real, timeout, &mut out).await?;
    let mut rec = collect(flow, &exec);
    // the case's own files count toward the bound too
    let own: u64 = case.fixtures.files.iter().map(|(_, c)| c.len() as u64).sum();
    capture_files(embedded, &mut rec, own).await?;
    if let Some(reads) = reads {
        let so_far = own + rec.files.iter().map(|(_, c)| c.len() as u64).sum::<u64>();
        rec.namespace_files = reads.read_back(&flow.namespace, so_far).await?;
    }
    Ok(rec)
}

/// The fixtures of the task runs of `exec` that touched the outside world.
fn collect(flow: &Flow, exec: &Execution) -> Recording {
    let tasks = flow.all_tasks();
    let mut rec = Recording {
        execution_id: exec.id.clone(),
        state: exec.state.current,
        tasks: Vec::new(),
        files: Vec::new(),
        namespace_files: Vec::new(),
        not_recorded: Vec::new(),
    };
    for r in &exec.task_run_list {
        let Some(t) = tasks.iter().find(|t| t.id == r.task_id) else { continue };
        if !touches_outside(&t.kind) {
            if t.flowable.is_none() && !PURGES.contains(&t.kind.as_str()) && !rec.not_recorded.contains(&t.id) {
                rec.not_recorded.push(t.id.clone());
            }
            continue;
        }
        let state = match r.state.current {
            s @ (StateType::Success | StateType::Warning | StateType::Failed | StateType::Killed) => s,
            _ => StateType::Failed,
        };
        let fixture = TaskFixture {
            id: r.task_id.clone(),
            value: r.value.clone(),
            state,
            outputs: r.outputs.as_deref().cloned().unwrap_or_default(),
            description: None,
            path: String::new(),
        };
        match rec.tasks.iter().position(|f| f.id == fixture.id && f.value == fixture.value) {
            Some(i) => rec.tasks[i] = fixture,
            None => rec.tasks.push(fixture),
        }
    }
    rec
}

/// Reads back every `kestra://` file the recorded outputs name into
/// `rec.files`, and points the outputs at the fixture file instead;
/// escapes other strings that would render as templates.
async fn capture_files(embedded: &Embedded, rec: &mut Recording, own: u64) -> Result<(), String> {
    let mut uris: Vec<(String, String)> = Vec::new(); // uri → file name
    let mut tasks = std::mem::take(&mut rec.tasks);
    for t in &mut tasks {
        let mut found = Vec::new();
        for (k, v) in &t.outputs {
            file_uris(v, k, &mut found);
        }
        for (uri, named) in found {
            if uris.iter().any(|(u, _)| *u == uri) {
                continue;
            }
            if uris.len() >= MAX_RECORDED_FILES {
                return Err(format!(
                    "task '{}': more than {MAX_RECORDED_FILES} output files to record (MAX_RECORDED_FILES); record a case that produces fewer",
                    t.id
                ));
            }
            let name = unique_name(&named, &uris, &rec.files);
            let content = read_file(embedded, &t.id, &uri).await?;
            let total: u64 = own + rec.files.iter().map(|(_, c)| c.len() as u64).sum::<u64>() + content.len() as u64;
            if total > MAX_RECORDED_BYTES {
                return Err(format!(
                    "task '{}': the recorded files pass {} MiB in all (MAX_RECORDED_BYTES), more than a test file may hold; record the case on smaller inputs",
                    t.id,
                    MAX_RECORDED_BYTES >> 20
                ));
            }
            rec.files.push((name.clone(), content));
            uris.push((uri, name));
        }
        for v in t.outputs.values_mut() {
            rewrite(v, &uris);
        }
    }
    rec.tasks = tasks;
    Ok(())
}

/// Every string of `v` (the value of output `key`) that is a `kestra://`
/// URI, with the name its file is recorded under: the key when it names a
/// file (`outputFiles: {a.csv: kestra://…/x-a.csv}`), else the URI's last
/// segment.
fn file_uris(v: &Value, key: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) if s.starts_with("kestra://") => {
            let named = if key.contains('.') && !key.contains('/') { key } else { s.rsplit('/').next().unwrap_or(s) };
            out.push((s.clone(), named.to_string()));
        }
        Value::Array(a) => a.iter().for_each(|x| file_uris(x, key, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| file_uris(x, k, out)),
        _ => {}
    }
}

/// Points recorded URIs at their fixture file, and keeps every other
/// string literal when the fixture's outputs are rendered.
fn rewrite(v: &mut Value, uris: &[(String, String)]) {
    match v {
        Value::String(s) => {
            if let Some((_, name)) = uris.iter().find(|(u, _)| u == s) {
                *s = format!("{{{{ files['{name}'] }}}}");
            } else if s.contains("{{") || s.contains("{%") || s.contains("{#") {
                *s = format!("{{% raw %}}{s}{{% endraw %}}");
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite(x, uris)),
        Value::Object(m) => m.values_mut().for_each(|x| rewrite(x, uris)),
        _ => {}
    }
}

/// The file name a file is recorded under, made safe and unique among
/// the names taken (a case's own `files` included).
fn unique_name(named: &str, taken: &[(String, String)], files: &[(String, String)]) -> String {
    let base: String = named.chars().map(|c| if c == '\'' || c == '\\' || c.is_control() { '_' } else { c }).collect();
    let base = if base.is_empty() { "file".to_string() } else { base };
    let used = |n: &str| taken.iter().any(|(_, t)| t == n) || files.iter().any(|(f, _)| f == n);
    if !used(&base) {
        return base;
    }
    let mut i = 2usize;
    loop {
        let n = format!("{i}_{base}");
        if !used(&n) {
            return n;
        }
        i += 1;
    }
}

/// The text of an output file, at most [`MAX_RECORDED_FILE`] bytes.
async fn read_file(embedded: &Embedded, task: &str, uri: &str) -> Result<String, String> {
    let path = crate::backend::storage_path(uri).map_err(|e| format!("task '{task}': output {uri}: {e}"))?;
    let r = embedded.engine.storage.get(&path).await.map_err(|e| format!("task '{task}': cannot read {uri}: {e}"))?;
    let Some(buf) = read_capped(r).await.map_err(|e| format!("task '{task}': cannot read {uri}: {e}"))? else {
        return Err(format!(
            "task '{task}': output file {uri} is larger than {} KiB (MAX_RECORDED_FILE), the most a recorded fixture file holds (fixtures.files are inline text); record the case on a smaller input",
            MAX_RECORDED_FILE >> 10
        ));
    };
    String::from_utf8(buf).map_err(|_| {
        format!("task '{task}': output file {uri} is not UTF-8 text, which fixtures.files cannot hold; mock this task by hand")
    })
}

/// The bytes of `r` when it holds at most [`MAX_RECORDED_FILE`]; `None`
/// past it (read no further than one byte past the bound).
pub(super) async fn read_capped(r: crate::backend::ByteStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    r.take(MAX_RECORDED_FILE + 1).read_to_end(&mut buf).await?;
    Ok((buf.len() as u64 <= MAX_RECORDED_FILE).then_some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_that_reach_outside_are_recorded() {
        assert!(touches_outside("io.kestra.plugin.core.http.Download"));
        assert!(touches_outside("io.kestra.plugin.jdbc.postgresql.CopyIn"));
        assert!(touches_outside("io.kestra.plugin.scripts.shell.Commands"));
        assert!(touches_outside("io.kestra.plugin.gcp.bigquery.Query"));
        assert!(!touches_outside("io.kestra.plugin.core.log.Log"));
        assert!(!touches_outside("io.kestra.plugin.core.flow.If"));
    }

    #[test]
    fn uris_become_fixture_files_and_templates_stay_literal() {
        let uris = vec![("kestra:///a/b/x.csv".to_string(), "x.csv".to_string())];
        let mut v = serde_json::json!({"f": {"x.csv": "kestra:///a/b/x.csv"}, "s": "{{ no }}", "n": 3});
        rewrite(&mut v, &uris);
        assert_eq!(v["f"]["x.csv"], "{{ files['x.csv'] }}");
        assert_eq!(v["s"], "{% raw %}{{ no }}{% endraw %}");
        assert_eq!(v["n"], 3);
        let taken = vec![("kestra:///x.csv".to_string(), "x.csv".to_string())];
        assert_eq!(unique_name("x.csv", &taken, &[]), "2_x.csv");
        assert_eq!(unique_name("it's.csv", &[], &[]), "it_s.csv");
        let mut found = Vec::new();
        file_uris(&serde_json::json!({"a.csv": "kestra:///e/x-a.csv"}), "outputFiles", &mut found);
        file_uris(&serde_json::json!("kestra:///e/y-b.csv"), "uri", &mut found);
        assert_eq!(found[0].1, "a.csv");
        assert_eq!(found[1].1, "y-b.csv");
    }
}
