//! Runs one test case: its files stored, its inputs rendered, its mocked
//! tasks registered with the engine (`runtime::fixtures`), one transient
//! execution launched and awaited (under a time bound), then every
//! assertion rendered in the ended execution's context.
//!
//! Beyond Kestra, an assertion's value may also read `test.taskRunCount`
//! (task id → how many task runs it had), `test.logs` (every log line's
//! message, one a line) and `test.taskLogs` (task id → its log lines).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::assert::{AssertionResult, Rendered, evaluate};
use super::check::output_refs;
use super::model::{TestSuite, UnitTest};
use crate::model::{Execution, Flow, StateType, TaskRun};
use crate::runtime::embedded::Embedded;
use crate::runtime::fixtures::{ExecutionMocks, TaskMock};
use crate::runtime::launcher::LaunchRequest;

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaseState {
    /// Every assertion held.
    Success,
    /// An assertion failed, or the case could not run.
    Failed,
    /// `disabled: true`.
    Skipped,
}

/// One assertion's outcome and the task run it is about.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckedAssertion {
    #[serde(flatten)]
    pub result: AssertionResult,
    /// `task 'id' (task run …, STATE)`: the task the value reads.
    pub task_run: Option<String>,
}

/// The outcome of one test case.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseOutcome {
    pub suite_id: String,
    pub case_id: String,
    pub description: Option<String>,
    pub state: CaseState,
    pub execution_id: Option<String>,
    pub execution_state: Option<StateType>,
    pub assertions: Vec<CheckedAssertion>,
    /// Why the case could not run or be judged.
    pub errors: Vec<String>,
    /// Fixtures the execution never used (a task it never reached).
    pub warnings: Vec<String>,
    pub duration: Duration,
}

impl CaseOutcome {
    /// A case not run yet: failed until it is judged.
    pub(super) fn pending(suite: &TestSuite, case: &UnitTest) -> CaseOutcome {
        CaseOutcome {
            suite_id: suite.id.clone(),
            case_id: case.id.clone(),
            description: case.description.clone(),
            state: CaseState::Failed,
            execution_id: None,
            execution_state: None,
            assertions: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            duration: Duration::ZERO,
        }
    }
}

/// The longest a file name of `fixtures.files` (or a path of
/// `fixtures.namespaceFiles`) may be.
pub(super) const MAX_FILE_NAME: usize = 255;

/// Whether `name` is a relative file name: not empty, at most
/// [`MAX_FILE_NAME`] bytes, no leading `/`, no empty or `..` segment.
pub(super) fn relative_name(name: &str) -> bool {
    !(name.is_empty()
        || name.len() > MAX_FILE_NAME
        || name.starts_with('/')
        || name.split(['/', '\\']).any(|s| s == ".." || s.is_empty()))
}

/// Runs `case` of `suite` on `embedded`, whose repository holds `flow`
/// (and any subflow it calls). `timeout` bounds the execution.
pub async fn run_case(
    embedded: &Embedded,
    flow: &Arc<Flow>,
    suite: &TestSuite,
    case: &UnitTest,
    timeout: Duration,
) -> CaseOutcome {
    let started = Instant::now();
    let mut out = CaseOutcome::pending(suite, case);
    if case.disabled {
        out.state = CaseState::Skipped;
        return out;
    }
    // every case runs on a home of its own (`nsfiles`): its KV entries,
    // files and executions are not another case's
    let own = match super::nsfiles::own_home(embedded, flow, case).await {
        Ok(own) => Some(own),
        Err(e) => {
            out.errors.push(e);
            None
        }
    };
    if out.errors.is_empty() {
        let embedded = own.as_ref().and_then(|o| o.embedded()).unwrap_or(embedded);
        match execute(embedded, flow, case, timeout, &mut out).await {
            Ok((exec, files)) => judge(embedded, flow, case, &exec, files, &mut out).await,
            Err(e) => out.errors.push(e),
        }
    }
    drop(own);
    out.state =
        if out.errors.is_empty() && out.assertions.iter().all(|a| a.result.is_success) && !out.assertions.is_empty() {
            CaseState::Success
        } else {
            CaseState::Failed
        };
    out.duration = started.elapsed();
    out
}

/// Launches the case's execution and waits for its end.
pub(super) async fn execute(
    embedded: &Embedded,
    flow: &Arc<Flow>,
    case: &UnitTest,
    timeout: Duration,
    out: &mut CaseOutcome,
) -> Result<(Execution, Map<String, Value>), String> {
    let engine = &embedded.engine;
    let execution_id = crate::model::ids::new_id();
    out.execution_id = Some(execution_id.clone());
    let prefix = crate::model::storage::execution_prefix(&flow.namespace, &flow.id, &execution_id);
    let mut files = Map::new();
    for (name, content) in &case.fixtures.files {
        if !relative_name(name) {
            return Err(format!(
                "fixtures.files: '{name}' is not a relative file name (no '..', at most {MAX_FILE_NAME} bytes)"
            ));
        }
        let path = format!("{prefix}/files/{name}");
        let data = std::io::Cursor::new(content.clone().into_bytes());
        engine.storage.put(&path, Box::pin(data)).await.map_err(|e| format!("fixtures.files: '{name}': {e}"))?;
        files.insert(name.clone(), Value::String(format!("kestra://{path}")));
    }
    let file_ctx = json!({ "files": Value::Object(files.clone()) });
    let inputs = match engine.renderer.render_value(
        &Value::Object(case.fixtures.inputs.clone()),
        &file_ctx,
        engine.host.as_ref(),
    ) {
        Ok(Value::Object(m)) => m,
        Ok(_) => Map::new(),
        Err(e) => return Err(format!("fixtures.inputs do not render: {e}")),
    };
    let tasks = case
        .fixtures
        .tasks
        .iter()
        .map(|t| TaskMock { task_id: t.id.clone(), value: t.value.clone(), state: t.state, outputs: t.outputs.clone() })
        .collect();
    engine.mocks.insert(&execution_id, ExecutionMocks { tasks, files: files.clone() });
    let trigger = case.fixtures.trigger.as_ref().map(|t| crate::model::execution::TriggerContext {
        id: t.id.clone(),
        type_: t.type_.clone(),
        variables: t.variables.clone(),
    });
    let updates = embedded.notable_updates();
    let req = LaunchRequest { inputs, trigger, execution_id: Some(execution_id.clone()), ..LaunchRequest::default() };
    let ran = async {
        let exec = embedded.launch(flow, req).await.map_err(|e| format!("the execution could not start: {e}"))?;
        embedded.wait(&exec.id, updates, |_| {}).await.map_err(|e| format!("waiting for the execution: {e}"))
    };
    let ended = tokio::time::timeout(timeout, ran).await;
    let result = match ended {
        Ok(r) => r,
        Err(_) => {
            let _ = embedded.kill(&execution_id).await;
            Err(format!("the execution did not end within {} s (--timeout)", timeout.as_secs()))
        }
    };
    engine.mocks.remove(&execution_id);
    let exec = result?;
    out.execution_state = Some(exec.state.current);
    Ok((exec, files))
}

/// Renders every assertion in the ended execution and notes the fixtures
/// it never used.
async fn judge(
    embedded: &Embedded,
    flow: &Flow,
    case: &UnitTest,
    exec: &Execution,
    files: Map<String, Value>,
    out: &mut CaseOutcome,
) {
    let engine = &embedded.engine;
    for t in &case.fixtures.tasks {
        let reached = exec.task_run_list.iter().any(|r| r.task_id == t.id && (t.value.is_none() || r.value == t.value));
        if !reached {
            let which = t.value.as_ref().map(|v| format!(" with value '{v}'")).unwrap_or_default();
            out.warnings.push(format!(
                "fixture for task '{}'{which} ({}) was never used: the execution never reached that task",
                t.id, t.path
            ));
        }
    }
    let logs = engine.state.logs(&exec.id).await.unwrap_or_default();
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &exec.task_run_list {
        *counts.entry(r.task_id.as_str()).or_default() += 1;
    }
    let mut task_logs: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for l in &logs {
        if let Some(t) = &l.task_id {
            task_logs.entry(t.clone()).or_default().push(l.message.as_str());
        }
    }
    let extras = json!({
        "taskRunCount": counts,
        "logs": logs.iter().map(|l| l.message.as_str()).collect::<Vec<_>>().join("\n"),
        "taskLogs": task_logs.into_iter().map(|(k, v)| (k, Value::String(v.join("\n")))).collect::<Map<_, _>>(),
    });
    let by_id = crate::executor::context::runs_by_id(exec);
    let runs = |id: &str| by_id.get(id).copied();
    for a in &case.assertions {
        let task = a.task_id.clone().or_else(|| output_refs(&a.value).into_iter().next());
        let task_run = task.as_deref().and_then(|t| exec.task_run_list.iter().rev().find(|r| r.task_id == t));
        let in_run = a.task_id.as_ref().and(task_run);
        let mut ctx = crate::executor::context::build(flow, exec, in_run, &runs, true);
        if let Some(o) = ctx.as_object_mut() {
            o.insert("envs".into(), Value::Object(engine.envs.clone()));
            o.insert("files".into(), Value::Object(files.clone()));
            o.insert("test".into(), extras.clone());
        }
        let render = |expr: &str| -> Rendered {
            match engine.renderer.render_str(expr, &ctx, engine.host.as_ref()) {
                Ok(s) => Ok(Some(s)),
                Err(e) if e.message.contains("is undefined") => Ok(None),
                Err(e) => Err(e.message),
            }
        };
        let described = match (&task, task_run) {
            (Some(t), Some(r)) => Some(describe(t, r)),
            (Some(t), None) => Some(format!("task '{t}' (no task run: the execution never reached it)")),
            _ => None,
        };
        for result in evaluate(a, &render) {
            out.assertions.push(CheckedAssertion { result, task_run: described.clone() });
        }
    }
}

/// `task 'id' (task run X, STATE, value v)`.
fn describe(task: &str, r: &TaskRun) -> String {
    let value = r.value.as_ref().map(|v| format!(", value '{v}'")).unwrap_or_default();
    let state = serde_json::to_value(r.state.current).ok().and_then(|v| v.as_str().map(str::to_string));
    format!("task '{task}' (task run {}, {}{value})", r.id, state.unwrap_or_default())
}
