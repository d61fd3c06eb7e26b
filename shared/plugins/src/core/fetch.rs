//! `io.kestra.plugin.core.log.Fetch`: the log lines of an execution (the
//! current one unless `executionId` is given; with `namespace`/`flowId`
//! the execution must belong to that flow), at or above `level` (INFO by
//! default), of the tasks in `tasksId` if given, written one per line to
//! an ION file in internal storage. Outputs `uri` and `size` (the number
//! of lines). Lines still queued in this process are stored first; a line
//! emitted on another instance a moment ago may not be stored yet (Kestra
//! documents the same for its asynchronous logs).

use std::sync::Arc;
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::resume::ExecutionControl;
use crate::Declare;
use crate::registry::PluginDef;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};
use baton_model::log_level::LogLevel;

/// Gather logs into a file.
///
/// Writes the logs of an execution (this one by default) to a file, one JSON line each.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.log.Fetch",
    aliases = ["io.kestra.core.tasks.log.Fetch"],
    group = "core",
    example = "id: logs\ntype: io.kestra.plugin.core.log.Fetch\nlevel: WARN\n",
    outputs(
        uri(String, "The file of log lines."),
        size(Integer, "The number of lines.")
    ),
)]
struct Props {
    /// The execution's namespace.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    namespace: Option<String>,
    /// The execution's flow.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    flow_id: Option<String>,
    /// The execution; this one when absent.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    execution_id: Option<String>,
    /// Only the logs of these task ids.
    #[serde(default)]
    #[prop(kind = "StringOrList")]
    tasks_id: Option<Value>,
    /// The lowest level kept.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"INFO\"", values = ["TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR"])]
    level: Option<String>,
}

/// The task, built from rendered properties.
#[derive(Debug)]
pub struct Fetch {
    namespace: Option<String>,
    flow_id: Option<String>,
    execution_id: Option<String>,
    tasks_id: Option<Vec<String>>,
    level: LogLevel,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let level = match p.level.as_deref() {
        None => LogLevel::Info,
        Some(l) => LogLevel::parse(l).ok_or_else(|| {
            TaskError::property("level", format!("unknown level '{l}' (expected TRACE, DEBUG, INFO, WARN or ERROR)"))
        })?,
    };
    let tasks_id = match p.tasks_id {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.iter().map(de::value_to_string).collect()),
        Some(Value::String(s)) => match serde_json::from_str::<Vec<String>>(&s) {
            Ok(v) => Some(v),
            Err(_) => Some(vec![s]),
        },
        Some(other) => return Err(TaskError::property("tasksId", format!("expected a list of task ids, got {other}"))),
    };
    let blank = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    Ok(Box::new(Fetch {
        namespace: blank(p.namespace),
        flow_id: blank(p.flow_id),
        execution_id: blank(p.execution_id),
        tasks_id,
        level,
    }))
}

/// One stored line in Kestra's `LogEntry` shape (also what `errorLogs()`
/// returns).
pub fn kestra_line(l: &baton_backend::LogEntry) -> Value {
    serde_json::json!({
        "namespace": l.namespace,
        "flowId": l.flow_id,
        "taskId": l.task_id,
        "executionId": l.execution_id,
        "taskRunId": l.task_run_id,
        "attemptNumber": l.attempt_number,
        "timestamp": l.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "level": l.level,
        "message": l.message,
    })
}

#[async_trait]
impl RunnableTask for Fetch {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let control: Arc<dyn ExecutionControl> = cx.services.executions.clone().ok_or_else(|| {
            TaskError::failed("this runtime cannot read execution logs (no engine given to its workers)")
        })?;
        let id = self.execution_id.clone().unwrap_or_else(|| cx.execution_id.clone());
        if id != cx.execution_id {
            let want_ns = self.namespace.clone().unwrap_or_else(|| cx.namespace.clone());
            let want_flow = self.flow_id.clone().unwrap_or_else(|| cx.flow_id.clone());
            match control.owner(&id).await.map_err(TaskError::failed)? {
                Some((ns, flow)) if ns == want_ns && flow == want_flow => {}
                _ => {
                    return Err(TaskError::property(
                        "executionId",
                        format!("execution {id} of flow {want_ns}.{want_flow} not found"),
                    ));
                }
            }
        }
        let lines = control.logs(&id).await.map_err(TaskError::failed)?;
        let mut out = Vec::new();
        let mut size = 0u64;
        for l in &lines {
            if LogLevel::parse(&l.level).is_some_and(|lv| lv < self.level) {
                continue;
            }
            if let Some(ids) = &self.tasks_id
                && !l.task_id.as_ref().is_some_and(|t| ids.contains(t))
            {
                continue;
            }
            serde_json::to_writer(&mut out, &kestra_line(l))
                .map_err(|e| TaskError::failed(format!("cannot serialize a log line: {e}")))?;
            out.push(b'\n');
            size += 1;
        }
        let (uri, _) = cx.put_file("logs.ion", Box::pin(std::io::Cursor::new(out))).await?;
        let mut o = Map::new();
        o.insert("uri".into(), uri.into());
        o.insert("size".into(), size.into());
        Ok(TaskOutput::with(o))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
