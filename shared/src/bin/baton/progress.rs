//! Live progress on the terminal: one line per task-run state change (or,
//! with `--progress`, one bar of task runs ended for long loops), and a
//! progress bar for long downloads when stderr is a terminal.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};
use shared::backend::LogEntry;
use shared::model::StateType;
use shared::plugins::context::Progress;
use shared::runtime::engine::ExecutionUpdate;

/// The terminal's view of one execution: task-run state lines and task log
/// lines, in order, each thing said once. A task run's first log line is
/// preceded by its RUNNING line (the worker logs before the executor has
/// recorded the start); a failure already printed as an ERROR line is not
/// repeated on the FAILED line; RETRYING is said once per retry.
#[derive(Default)]
pub struct Console {
    /// The last state line printed per task run: (state, attempt).
    seen: HashMap<String, (StateType, usize)>,
    /// ERROR lines printed per task run.
    errors: HashMap<String, Vec<String>>,
    /// The last attempt whose RUNNING line was printed, per task run.
    running: HashMap<String, usize>,
    /// Lines held until the execution's first line is printed (`Some` while
    /// held): the console is installed before the launch, so that no line
    /// of a fast task escapes it, and says nothing before "started".
    held: Option<Vec<String>>,
    /// `-q`: only failures are said (a failed task run's line), not every
    /// state change — a loop of 10,000 iterations prints nothing while it
    /// succeeds.
    quiet: bool,
    /// `--progress`: a bar of task runs ended out of those created.
    bar: Option<RunBar>,
}

/// The `--progress` bar and what it counts: each task run once, ended when
/// its last state seen is terminal (a restarted one counts as open again).
struct RunBar {
    bar: ProgressBar,
    ended: HashMap<String, bool>,
    done: u64,
}

impl RunBar {
    fn new() -> RunBar {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template("  {bar:30} {pos}/{len} task runs ended  {per_sec}  {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        RunBar { bar, ended: HashMap::new(), done: 0 }
    }

    fn see(&mut self, id: &str, terminal: bool) {
        let reopened = match self.ended.get_mut(id) {
            Some(was) if *was == terminal => return,
            Some(was) => std::mem::replace(was, terminal),
            None => {
                self.ended.insert(id.to_string(), terminal);
                self.bar.inc_length(1);
                false
            }
        };
        if terminal {
            self.done += 1;
        } else if reopened {
            self.done = self.done.saturating_sub(1);
        }
        self.bar.set_position(self.done);
    }
}

/// A console shared by the state lines and the echoed log lines.
pub type SharedConsole = Arc<Mutex<Console>>;

impl Console {
    /// A console that also receives the engine's echoed log lines.
    pub fn install() -> SharedConsole {
        Console::install_with(Console::default())
    }

    /// A console installed before its execution is launched: what it
    /// hears is held until [`Console::start`] prints the first line.
    /// `bar`: a `--progress` bar instead of the per-task lines.
    pub fn install_held(quiet: bool, bar: bool) -> SharedConsole {
        let bar = bar.then(RunBar::new);
        Console::install_with(Console { held: Some(Vec::new()), quiet, bar, ..Console::default() })
    }

    /// Prints `first` and then the lines held until now.
    pub fn start(console: &SharedConsole, first: &str) {
        if let Ok(mut c) = console.lock() {
            eprintln!("{first}");
            for line in c.held.take().unwrap_or_default() {
                eprintln!("{line}");
            }
        }
    }

    fn say(&mut self, line: String) {
        match &mut self.held {
            Some(lines) => lines.push(line),
            None => match &self.bar {
                // (println would drop the line when the bar is hidden, off a terminal)
                Some(b) => b.bar.suspend(|| eprintln!("{line}")),
                None => eprintln!("{line}"),
            },
        }
    }

    fn install_with(console: Console) -> SharedConsole {
        let console = Arc::new(Mutex::new(console));
        let echo = console.clone();
        shared::runtime::logs::set_echo_hook(Box::new(move |l| {
            if let Ok(mut c) = echo.lock() {
                c.log(l);
            }
        }));
        console
    }

    /// Feeds an update to a shared console.
    pub fn feed(console: &SharedConsole, u: &ExecutionUpdate) {
        if let Ok(mut c) = console.lock() {
            c.update(u);
        }
    }

    /// The closing line of an execution that ended.
    pub fn print_end(console: &SharedConsole, done: &shared::model::Execution) {
        if let Ok(c) = console.lock()
            && let Some(b) = &c.bar
        {
            b.bar.finish_and_clear();
        }
        let state = done.state.current;
        let dur = done.state.duration.clone().unwrap_or_default();
        match &done.error {
            Some(err) if state.is_failed() => {
                let err = console.lock().map(|c| c.closing_error(err)).unwrap_or_else(|_| err.clone());
                eprintln!("■ execution {} {state} in {dur}: {err}", done.id)
            }
            _ => eprintln!("■ execution {} {state} in {dur}", done.id),
        }
    }

    /// A log line of the execution, after its task run's RUNNING line.
    pub fn log(&mut self, l: &LogEntry) {
        if let (Some(trid), Some(task), Some(attempt)) = (&l.task_run_id, &l.task_id, l.attempt_number) {
            let attempt = attempt as usize;
            if attempt > self.running.get(trid).copied().unwrap_or(0) {
                self.running.insert(trid.clone(), attempt);
                self.seen.insert(trid.clone(), (StateType::Running, attempt));
                let n = if attempt > 1 { format!(" attempt {attempt}") } else { String::new() };
                self.say(format!("  … {task} RUNNING{n}"));
            }
        }
        if l.level == "ERROR"
            && let Some(trid) = &l.task_run_id
        {
            self.errors.entry(trid.clone()).or_default().push(l.message.clone());
        }
        self.say(shared::runtime::logs::echo_line(l));
    }

    /// The task runs an update changed, each new state once.
    pub fn update(&mut self, u: &ExecutionUpdate) {
        for tr in &u.changed {
            if let Some(bar) = &mut self.bar {
                bar.see(&tr.id, tr.state.current.is_terminal());
            }
            if matches!(tr.state.current, StateType::Created) {
                continue;
            }
            let mut key = (tr.state.current, tr.attempts.len());
            if key.0 == StateType::Retrying {
                // RETRYING names the attempt that failed: the next one, once
                // created and pending, is not a new retry; once started (its
                // RUNNING line or log seen), the retry is old news
                let pending = tr.attempts.last().is_some_and(|a| !a.state.is_terminal());
                key.1 -= usize::from(pending && key.1 > 0);
                if self.running.get(&tr.id).copied().unwrap_or(0) > key.1 {
                    continue;
                }
            }
            if key.0 == StateType::Running {
                // once per attempt, whether a log line or this update says it first
                if self.running.get(&tr.id).copied().unwrap_or(0) >= key.1 {
                    continue;
                }
                self.running.insert(tr.id.clone(), key.1);
            } else {
                if self.seen.get(&tr.id) == Some(&key) {
                    continue;
                }
            }
            self.seen.insert(tr.id.clone(), key);
            if self.quiet && !tr.state.current.is_failed() {
                continue;
            }
            let value = tr.value.as_deref().map(|v| format!(" [{v}]")).unwrap_or_default();
            let mark = match tr.state.current {
                StateType::Success => "✓",
                StateType::Warning => "!",
                s if s.is_failed() => "✗",
                StateType::Running => "…",
                _ => "·",
            };
            let dur = tr.state.duration.as_deref().map(|d| format!(" {d}")).unwrap_or_default();
            let attempt = if key.1 > 1 { format!(" attempt {}", key.1) } else { String::new() };
            let shown = |e: &str| self.errors.get(&tr.id).is_some_and(|v| v.iter().any(|m| m.contains(e)));
            let err = match (&tr.error, tr.state.current.is_failed()) {
                (Some(e), true) if !shown(e) => {
                    self.errors.entry(tr.id.clone()).or_default().push(e.clone());
                    format!(": {e}")
                }
                _ => String::new(),
            };
            self.say(format!("  {mark} {}{value} {}{attempt}{dur}{err}", tr.task_id, tr.state.current));
        }
    }

    /// The execution's error for its closing line: only the failing task's
    /// name when that task's error is already on screen.
    pub fn closing_error(&self, error: &str) -> String {
        if let Some(rest) = error.strip_prefix("task '")
            && let Some(end) = rest.find("' failed: ")
        {
            let detail = &rest[end + "' failed: ".len()..];
            if self.errors.values().flatten().any(|m| m.contains(detail)) {
                return format!("task '{}' failed", &rest[..end]);
            }
        }
        error.to_string()
    }
}

/// A progress bar per task for large transfers, only on a terminal.
pub struct TerminalProgress {
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl TerminalProgress {
    pub fn new() -> Option<Arc<TerminalProgress>> {
        std::io::stderr().is_terminal().then(|| Arc::new(TerminalProgress { bars: Mutex::new(HashMap::new()) }))
    }
}

impl Progress for TerminalProgress {
    fn update(&self, task_id: &str, done: u64, total: Option<u64>) {
        let Ok(mut bars) = self.bars.lock() else { return };
        let bar = bars.entry(task_id.to_string()).or_insert_with(|| {
            let b = match total {
                Some(t) => ProgressBar::new(t),
                None => ProgressBar::new_spinner(),
            };
            let style = ProgressStyle::with_template("  {prefix} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            b.set_style(style);
            b.set_prefix(task_id.to_string());
            b
        });
        bar.set_position(done);
    }

    fn finish(&self, task_id: &str) {
        if let Ok(mut bars) = self.bars.lock()
            && let Some(b) = bars.remove(task_id)
        {
            b.finish_and_clear();
        }
    }
}
