//! Reading back a script task that ran as a Cloud Run execution (see
//! `cloudrun_runner`): the container's stdout (log lines and Kestra's
//! `::{"outputs":…}::` lines), stderr, exit code, and its output files,
//! all from the working folder in internal storage; and the task's outcome
//! as Kestra gives it (`exitCode`, `vars`, `outputFiles`; a failure names
//! the image, the exit code and the last lines of stderr).

use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;

use super::cloudrun::Outcome;
use super::cloudrun_runner::Attempt;
use super::dbt_log;
use super::files::glob_set;
use super::protocol::{self, Line};
use baton_backend::Storage;
use baton_model::StateType;

/// Lines of stderr quoted in a failure.
const STDERR_TAIL: usize = 10;
/// The most of stdout / stderr read back (the rest is cut, with a note).
const MAX_OUTPUT: u64 = 16 << 20;

/// How the attempt ended, ready to report.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub state: StateType,
    pub outputs: Map<String, Value>,
    pub error: Option<String>,
    /// `(level, message)` for the task's logs, in order.
    pub logs: Vec<(String, String)>,
    /// The metrics of the script's protocol lines, in order.
    pub metrics: Vec<protocol::Metric>,
}

async fn read_text(storage: &dyn Storage, path: &str) -> Option<String> {
    let stream = storage.get(path).await.ok()?;
    let mut buf = Vec::new();
    stream.take(MAX_OUTPUT).read_to_end(&mut buf).await.ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Collects the result of attempt `a`, whose execution ended with `outcome`.
pub async fn collect(storage: &dyn Storage, a: &Attempt, outcome: &Outcome) -> Finished {
    let wp = &a.work_path;
    let stdout = read_text(storage, &format!("{wp}/.baton-stdout")).await.unwrap_or_default();
    let stderr = read_text(storage, &format!("{wp}/.baton-stderr")).await.unwrap_or_default();
    let exit: Option<i64> = read_text(storage, &format!("{wp}/.baton-exit")).await.and_then(|s| s.trim().parse().ok());
    let mut logs = Vec::new();
    let mut metrics = Vec::new();
    let mut vars = Map::new();
    let mut warned = false;
    // the protocol is parsed on stderr too (Kestra's Python logger writes there)
    let mut err_lines: Vec<&str> = Vec::new();
    let lines = stdout.lines().map(|l| (l, false)).chain(stderr.lines().map(|l| (l, true)));
    for (line, is_err) in lines {
        match protocol::parse(line) {
            Line::Protocol { outputs, logs: l, metrics: m } => {
                vars.extend(outputs);
                logs.extend(l);
                metrics.extend(m);
            }
            Line::Text if a.dbt_logs => {
                let d = dbt_log::read(line);
                warned |= d.warn;
                metrics.extend(d.metrics);
                logs.push((d.level.to_string(), d.message));
                // quoted in a failure, as the local runners do; not counted
                // for `warningOnStdErr` (Kestra's DbtCLI reads both streams alike)
                if is_err {
                    err_lines.push(line);
                }
            }
            Line::Text if is_err => {
                logs.push(("ERROR".to_string(), line.to_string()));
                err_lines.push(line);
            }
            Line::Text => logs.push(("INFO".to_string(), line.to_string())),
        }
    }
    let tail = || {
        let from = err_lines.len().saturating_sub(STDERR_TAIL);
        if from == err_lines.len() {
            String::new()
        } else {
            format!("; last lines of stderr:\n{}", err_lines[from..].join("\n"))
        }
    };
    let fail = |error: String, logs: Vec<(String, String)>| Finished {
        state: StateType::Failed,
        outputs: Map::new(),
        error: Some(error),
        logs,
        metrics: metrics.clone(),
    };
    match outcome {
        Outcome::Running => return fail("the Cloud Run execution has not ended".into(), logs),
        Outcome::Cancelled => {
            return fail(format!("Cloud Run execution {} (image '{}') was cancelled", a.execution, a.image), logs);
        }
        Outcome::Failed(reason) => {
            let msg = match exit {
                Some(code) => format!("Command failed with exit code {code} (image '{}'){}", a.image, tail()),
                None => format!("Cloud Run execution {} (image '{}') failed: {reason}{}", a.execution, a.image, tail()),
            };
            return fail(msg, logs);
        }
        Outcome::Succeeded => {}
    }
    let output_files = match output_files(storage, a).await {
        Ok(f) => f,
        Err(e) => return fail(e, logs),
    };
    let mut outputs = Map::new();
    outputs.insert("exitCode".into(), Value::from(exit.unwrap_or(0)));
    outputs.insert("vars".into(), Value::Object(vars));
    outputs.insert("outputFiles".into(), Value::Object(output_files));
    let state = if (a.warning_on_std_err && !a.dbt_logs && !err_lines.is_empty()) || warned {
        StateType::Warning
    } else {
        StateType::Success
    };
    Finished { state, outputs, error: None, logs, metrics }
}

/// `{name: kestra:// URI}` of the files matching `outputFiles`, and every
/// file of the output directory (named relative to it).
async fn output_files(storage: &dyn Storage, a: &Attempt) -> Result<Map<String, Value>, String> {
    let prefix = format!("{}/", a.work_path);
    let listed = storage.list(&prefix).await.map_err(|e| format!("cannot list the output files: {e}"))?;
    let set = if a.output_files.is_empty() {
        None
    } else {
        Some(glob_set("outputFiles", &a.output_files).map_err(|e| e.to_string())?)
    };
    let out_prefix = a.output_dir.as_ref().map(|d| format!("{d}/"));
    let mut out = Map::new();
    for path in listed {
        let rel = path.strip_prefix(&prefix).unwrap_or(&path).to_string();
        if a.skip.contains(&rel) {
            continue;
        }
        let uri = Value::String(format!("kestra://{path}"));
        if let Some(name) = out_prefix.as_ref().and_then(|p| rel.strip_prefix(p.as_str())) {
            out.insert(name.to_string(), uri.clone());
        }
        if set.as_ref().is_some_and(|s| s.is_match(&rel)) {
            out.insert(rel, uri);
        }
    }
    Ok(out)
}
