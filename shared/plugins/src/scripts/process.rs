//! Runs one child process for a script task: its own process group, killed
//! (with the whole group) when the task's future is dropped (timeout,
//! kill), stdout and stderr streamed into the task's logs line by line as
//! they come (bounded as `output` says), `::{…}::` protocol lines parsed
//! into `vars`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Map, Value};

use super::output::{Lines, LogBudget};
use super::protocol::{self, Line};
use crate::{RunContext, TaskError};

/// How many trailing stderr lines a failure message quotes.
const STDERR_TAIL: usize = 10;
/// How long output is still read after the main process exited (for
/// background children that keep the pipes open).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// What to start.
#[derive(Debug, Clone)]
pub(crate) struct Spawn {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// Variables set on top of the inherited environment.
    pub env: Vec<(String, String)>,
    /// Inherited variables removed (secrets).
    pub env_remove: Vec<String>,
    /// Under the task shim, run the program as PID 1 of a PID namespace of
    /// its own ([`super::pidns`]): the task's own program, not a container
    /// engine (whose detached containers must outlive it) nor a setup step.
    pub pid_namespace: bool,
}

/// How output lines are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The user's script: stderr at ERROR and counted, protocol lines parsed.
    Script,
    /// A setup step (pip install): everything at INFO, nothing parsed.
    Setup,
    /// dbt's commands (DbtCLI): protocol lines parsed, every other line on
    /// either stream read as dbt's JSON logs (`dbt_log`), none counted as
    /// stderr (Kestra's DbtCLI reads both streams so).
    Dbt,
}

/// How the process ended and what it said.
#[derive(Debug, Default)]
pub(crate) struct Finished {
    /// The exit code (`None` if killed by a signal).
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stderr_lines: usize,
    /// The last stderr lines, for the failure message.
    pub stderr_tail: VecDeque<String>,
    /// Merged `outputs` of the protocol lines.
    pub vars: Map<String, Value>,
    /// Their size as JSON ([`super::output::merge_outputs`]).
    pub vars_bytes: usize,
    /// Set when the outputs passed their bound: why the task fails.
    pub vars_refused: Option<String>,
    /// dbt logged a warning (`Mode::Dbt`): the task ends in WARNING.
    pub warning: bool,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// "Command failed with exit code 2" plus the last stderr lines.
    pub fn failure_message(&self, what: &str) -> String {
        let mut msg = match (self.exit_code, self.signal) {
            (Some(code), _) => format!("{what} failed with exit code {code}"),
            (None, Some(sig)) => format!("{what} was killed by signal {sig}"),
            (None, None) => format!("{what} ended without an exit code"),
        };
        if !self.stderr_tail.is_empty() {
            msg.push_str("; last lines of stderr:\n");
            msg.push_str(&self.stderr_tail.iter().cloned().collect::<Vec<_>>().join("\n"));
        }
        msg
    }
}

/// Kills the child's whole process tree when dropped: every process below
/// it by parent pid (under the task shim, a child subreaper, that is every
/// process the task started, `setsid` and `env -i` ones included), then
/// its process group (the child itself is also killed by tokio's
/// `kill_on_drop`), with the `kill(2)` system call (rustix's safe
/// wrapper): spawning the `kill` utility cannot work when a fork bomb has
/// used up the process limit.
/// Then every process still carrying the attempt's marker (`reap`), which
/// finds the children that left the group with `setsid`.
/// The tree is read only while the child is not reaped (`reaped` false):
/// its pid cannot have been given to another process then.
struct GroupKill(Option<u32>, String, bool);

impl GroupKill {
    /// Kills the process group and the marked processes now (the child was
    /// reaped): under the task shim, whatever is left once it ended was
    /// orphaned — it kills what is below it before it exits, and a shim
    /// killed by SIGKILL could not — so it is not left running while the
    /// output drains.
    fn orphans_now(&mut self) {
        let pid = self.0.take().and_then(|p| i32::try_from(p).ok()).and_then(rustix::process::Pid::from_raw);
        if let Some(pgid) = pid {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
        if cfg!(target_os = "linux") {
            let mark = self.1.clone();
            super::reap::sweep(|m| m == mark);
        }
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        if cfg!(target_os = "linux")
            && !self.2
            && let Some(root) = self.0
        {
            super::tree::kill(&[root], false);
        }
        let pid = self.0.take().and_then(|p| i32::try_from(p).ok()).and_then(rustix::process::Pid::from_raw);
        if let Some(pgid) = pid {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
        if cfg!(target_os = "linux") {
            let mark = std::mem::take(&mut self.1);
            super::reap::sweep(|m| m == mark);
        }
    }
}

/// Starts the process and streams its output into the task's logs until it
/// exits. A start failure is a task error; a non-zero exit is not (the
/// caller decides).
/// Traced as a `process` span (the program's file name and its exit code).
pub(crate) async fn run(cx: &RunContext, spawn: &Spawn, mode: Mode) -> Result<Finished, TaskError> {
    let span = baton_backend::io_span!(
        "process",
        process.executable.name = %std::path::Path::new(&spawn.program).file_name().map_or_else(
            || spawn.program.clone(),
            |n| n.to_string_lossy().into_owned(),
        ),
        process.exit.code = tracing::field::Empty,
    );
    let fin = tracing::Instrument::instrument(run_process(cx, spawn, mode), span.clone()).await?;
    if let Some(code) = fin.exit_code {
        span.record("process.exit.code", code);
    }
    Ok(fin)
}

async fn run_process(cx: &RunContext, spawn: &Spawn, mode: Mode) -> Result<Finished, TaskError> {
    // under the task shim when this binary has one: it outlives no orphan
    let shimmed = super::shim::program();
    let under_shim = shimmed.is_some();
    let mut cmd = match shimmed {
        Some(shim) => {
            let mut cmd = tokio::process::Command::new(shim);
            cmd.env(
                super::shim::SHIM,
                super::shim::shim_value(spawn.pid_namespace && cx.services.config.scripts.pid_namespace),
            )
            .arg(&spawn.program);
            cmd
        }
        None => tokio::process::Command::new(&spawn.program),
    };
    cmd.args(&spawn.args)
        .current_dir(&spawn.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    for k in &spawn.env_remove {
        cmd.env_remove(k);
    }
    for (k, v) in &spawn.env {
        cmd.env(k, v);
    }
    let mark = super::reap::mark(&cx.task_run_id, cx.attempt);
    cmd.env(super::reap::MARK, &mark);
    let mut child = cmd.spawn().map_err(|e| TaskError::failed(format!("cannot start '{}': {e}", spawn.program)))?;
    let mut group = GroupKill(if cfg!(unix) { child.id() } else { None }, mark, false);
    cx.log("DEBUG", &format!("Starting command with pid {} [{}]", child.id().unwrap_or(0), spawn.program));

    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(TaskError::failed(format!("cannot read the output of '{}'", spawn.program)));
    };
    let mut out = Lines::new(stdout);
    let mut err = Lines::new(stderr);
    let (mut out_done, mut err_done) = (false, false);
    let mut status = None;
    let mut drain_until: Option<tokio::time::Instant> = None;
    let mut fin = Finished::default();
    let mut budget = LogBudget::new(cx);
    loop {
        budget.wait_for_store().await;
        tokio::select! {
            line = out.next(), if !out_done => match line {
                Some(l) => on_stdout(&mut budget, mode, &l, &mut fin),
                None => out_done = true,
            },
            line = err.next(), if !err_done => match line {
                Some(l) => on_stderr(&mut budget, mode, l, &mut fin),
                None => err_done = true,
            },
            s = child.wait(), if status.is_none() => {
                let s = s.map_err(|e| TaskError::failed(format!("cannot wait for '{}': {e}", spawn.program)))?;
                status = Some(s);
                group.2 = true;
                if under_shim {
                    group.orphans_now();
                }
                drain_until = Some(tokio::time::Instant::now() + DRAIN_GRACE);
            },
            _ = sleep_until(drain_until), if drain_until.is_some() && !(out_done && err_done) => break,
            else => break,
        }
    }
    if let Some(s) = status {
        fin.exit_code = s.code();
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            fin.signal = s.signal();
        }
    }
    Ok(fin)
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Applies a protocol line (`::{…}::`) of a script, parsed on both
/// streams as Kestra does (its Python library's logger writes on stderr);
/// false for any other line.
fn on_protocol(cx: &mut LogBudget<'_>, line: &str, fin: &mut Finished) -> bool {
    let Line::Protocol { outputs, logs, metrics } = protocol::parse(line) else {
        return false;
    };
    super::output::merge_outputs(cx, fin, outputs);
    for (level, message) in logs {
        cx.log(&level, &message);
    }
    cx.record(metrics);
    true
}

fn on_stdout(cx: &mut LogBudget<'_>, mode: Mode, line: &str, fin: &mut Finished) {
    match mode {
        Mode::Setup => cx.log("INFO", line),
        _ if on_protocol(cx, line, fin) => {}
        Mode::Dbt => on_dbt(cx, line, fin),
        Mode::Script => cx.log("INFO", line),
    }
}

/// A dbt command's line that is not a protocol line.
fn on_dbt(cx: &mut LogBudget<'_>, line: &str, fin: &mut Finished) {
    let l = super::dbt_log::read(line);
    fin.warning |= l.warn;
    cx.record(l.metrics);
    cx.log(l.level, &l.message);
}

fn on_stderr(cx: &mut LogBudget<'_>, mode: Mode, line: String, fin: &mut Finished) {
    match mode {
        Mode::Setup => cx.log("INFO", &line),
        _ if on_protocol(cx, &line, fin) => return,
        Mode::Dbt => on_dbt(cx, &line, fin),
        Mode::Script => {
            // Kestra (0.21+) logs a script's stderr at ERROR.
            cx.log("ERROR", &line);
            fin.stderr_lines += 1;
        }
    }
    if fin.stderr_tail.len() == STDERR_TAIL {
        fin.stderr_tail.pop_front();
    }
    fin.stderr_tail.push_back(line);
}
