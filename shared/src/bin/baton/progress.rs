//! Live progress on the terminal: one line per task-run state change and
//! the task log lines (or, with `--progress`, a bar of task runs ended; a
//! loop of many values also gets the bar on a terminal), and a progress bar
//! for long downloads when stderr is a terminal.
//!
//! Lines come in the recorded order of state changes: each update's task
//! runs are read through their state histories (a task that started and
//! ended between two updates still says RUNNING first), and state lines and
//! log lines (which the log writer echoes on its own schedule) wait
//! [`HOLD`] in a buffer ordered by their recorded time before they are
//! printed. State marks and log levels are coloured on a terminal
//! ([`super::style`]), durations read as `217 ms`.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use shared::backend::LogEntry;
use shared::model::{StateType, TaskRun};
use shared::plugins::context::Progress;
use shared::runtime::engine::ExecutionUpdate;

use super::run_bar::RunBar;
use super::style::{colour, dim, human, paint};

/// How long a line waits for earlier ones (a log line echoed late, a
/// state recorded before the update that carries it) before it is printed.
pub const HOLD: Duration = Duration::from_millis(250);

/// A line waiting in the buffer.
enum Pending {
    Text(String),
    /// A failed task run's end: its error is added unless an ERROR log
    /// line already said it by the time the line is printed.
    End {
        task_run: String,
        line: String,
        error: String,
    },
}

type Key = (DateTime<Utc>, u64);

/// The terminal's view of one execution: task-run state lines and task log
/// lines, in recorded order, each thing said once: a task run's RUNNING
/// line before its log lines and its end (once per attempt), a failure
/// already printed as an ERROR line not repeated on the FAILED line.
#[derive(Default)]
pub struct Console {
    pending: BTreeMap<Key, Pending>,
    seq: u64,
    /// History entries read per task run.
    read: HashMap<String, usize>,
    /// The last attempt whose RUNNING line was queued, per task run, and
    /// where that line waits while it is not printed yet.
    running: HashMap<String, (usize, Option<Key>)>,
    /// ERROR lines seen per task run.
    errors: HashMap<String, Vec<String>>,
    /// Nothing is printed before the execution's first line ([`Console::start`]):
    /// the console is installed before the launch, so that no line of a fast
    /// task escapes it.
    held: bool,
    /// Ended: the flusher thread stops.
    closed: bool,
    /// `-q`: only failures are said (a failed task run's line), not every
    /// state change — a loop of 10,000 iterations prints nothing while it
    /// succeeds.
    quiet: bool,
    colour: bool,
    /// On a terminal: the bar of task runs ended (drawn with `--progress`,
    /// or once a large loop runs).
    bar: Option<RunBar>,
    /// Whether a large loop brings the bar up by itself (a terminal, no `-q`).
    auto_bar: bool,
}

/// A console shared by the state lines, the echoed log lines and the thread
/// that prints what has waited long enough.
pub type SharedConsole = Arc<Mutex<Console>>;

impl Console {
    /// A console that also receives the engine's echoed log lines.
    pub fn install() -> SharedConsole {
        Console::install_with(Console::new(false, false, false))
    }

    fn new(held: bool, quiet: bool, progress: bool) -> Console {
        let tty = std::io::stderr().is_terminal();
        let bar = (tty || progress).then(|| RunBar::new(progress));
        Console { held, quiet, colour: colour(), bar, auto_bar: tty && !quiet, ..Console::default() }
    }

    /// A console installed before its execution is launched: what it
    /// hears is held until [`Console::start`] prints the first line.
    /// `bar`: a `--progress` bar instead of the per-task lines.
    pub fn install_held(quiet: bool, bar: bool) -> SharedConsole {
        Console::install_with(Console::new(true, quiet, bar))
    }

    /// Prints `first`, and from now on the lines that waited [`HOLD`].
    pub fn start(console: &SharedConsole, first: &str) {
        if let Ok(mut c) = console.lock() {
            c.print(first.to_string());
            c.held = false;
            c.flush(Utc::now() - HOLD);
        }
    }

    fn print(&self, line: String) {
        match &self.bar {
            // (println would drop the line when the bar is hidden, off a terminal)
            Some(b) => b.bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn queue(&mut self, at: DateTime<Utc>, p: Pending) -> Key {
        self.seq += 1;
        let key = (at, self.seq);
        self.pending.insert(key, p);
        key
    }

    /// Prints the lines recorded at or before `until`, in order.
    fn flush(&mut self, until: DateTime<Utc>) {
        if self.held {
            return;
        }
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > until {
                break;
            }
            let line = match entry.remove() {
                Pending::Text(t) => t,
                Pending::End { task_run, line, error } => {
                    let said = self.errors.get(&task_run).is_some_and(|v| v.iter().any(|m| m.contains(&error)));
                    if said {
                        line
                    } else {
                        self.errors.entry(task_run).or_default().push(error.clone());
                        format!("{line}: {error}")
                    }
                }
            };
            self.print(line);
        }
        for r in self.running.values_mut() {
            if r.1.is_some_and(|k| !self.pending.contains_key(&k)) {
                r.1 = None;
            }
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
        let weak: Weak<Mutex<Console>> = Arc::downgrade(&console);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(50));
                let Some(c) = weak.upgrade() else { return };
                let Ok(mut c) = c.lock() else { return };
                if c.closed {
                    return;
                }
                c.flush(Utc::now() - HOLD);
            }
        });
        console
    }

    /// Feeds an update to a shared console.
    pub fn feed(console: &SharedConsole, u: &ExecutionUpdate) {
        if let Ok(mut c) = console.lock() {
            c.update(u);
        }
    }

    /// Prints every line still waiting, then the closing line of an
    /// execution that ended.
    pub fn print_end(console: &SharedConsole, done: &shared::model::Execution) {
        let Ok(mut c) = console.lock() else { return };
        c.held = false;
        c.flush(DateTime::<Utc>::MAX_UTC);
        c.closed = true;
        if let Some(b) = &c.bar {
            b.bar.finish_and_clear();
        }
        let state = done.state.current;
        let dur = human(&done.state.duration().unwrap_or_default());
        let head = paint(c.colour, state, &format!("■ execution {} {state}", done.id));
        match &done.error {
            Some(err) if state.is_failed() => eprintln!("{head} in {dur}: {}", c.closing_error(err)),
            _ => eprintln!("{head} in {dur}"),
        }
    }

    /// Queues a RUNNING line for `attempt` of `tr` at `at`, unless one is
    /// queued or printed already; moves a queued one earlier to `at`.
    fn running_line(&mut self, trid: &str, task: &str, value: Option<&str>, attempt: usize, at: DateTime<Utc>) {
        let (said, key) = self.running.get(trid).copied().unwrap_or((0, None));
        if said >= attempt {
            if said == attempt
                && let Some(k) = key
                && at < k.0
                && let Some(p) = self.pending.remove(&k)
            {
                let k = self.queue(at, p);
                self.running.insert(trid.to_string(), (attempt, Some(k)));
            }
            return;
        }
        let value = value.map(|v| format!(" [{v}]")).unwrap_or_default();
        let n = if attempt > 1 { format!(" attempt {attempt}") } else { String::new() };
        let line = format!("  {} {task}{value} {}{n}", paint(self.colour, StateType::Running, "…"), StateType::Running);
        let key = (!self.quiet).then(|| self.queue(at, Pending::Text(line)));
        self.running.insert(trid.to_string(), (attempt, key));
    }

    /// A log line of the execution, after its task run's RUNNING line.
    pub fn log(&mut self, l: &LogEntry) {
        if let (Some(trid), Some(task), Some(attempt)) = (&l.task_run_id, &l.task_id, l.attempt_number) {
            self.running_line(trid, task, None, attempt as usize, l.timestamp);
        }
        if l.level == "ERROR"
            && let Some(trid) = &l.task_run_id
        {
            self.errors.entry(trid.clone()).or_default().push(l.message.clone());
        }
        let line = shared::runtime::logs::echo_line(l);
        let line = if self.colour {
            let level = match l.level.as_str() {
                "ERROR" => StateType::Failed,
                "WARN" => StateType::Warning,
                _ => StateType::Created,
            };
            let (time, rest) = line.split_at(line.find(' ').unwrap_or(0));
            format!(
                "{}{}",
                dim(true, time),
                if level == StateType::Created { rest.to_string() } else { paint(true, level, rest) }
            )
        } else {
            line
        };
        self.queue(l.timestamp, Pending::Text(line));
    }

    /// The task runs an update changed: each state entered since the last
    /// update, at its recorded time.
    pub fn update(&mut self, u: &ExecutionUpdate) {
        for tr in &u.changed {
            if let Some(bar) = &mut self.bar {
                bar.see(tr, self.auto_bar);
            }
            self.states(tr);
        }
    }

    fn states(&mut self, tr: &TaskRun) {
        let from = self.read.get(&tr.id).copied().unwrap_or(0);
        let hist = &tr.state.histories;
        // a restarted task run may have had its history shortened: read it afresh
        let from = if from > hist.len() { 0 } else { from };
        self.read.insert(tr.id.clone(), hist.len());
        let mut runs = hist[..from].iter().filter(|h| h.state == StateType::Running).count();
        let last = hist.len().saturating_sub(1);
        for (i, h) in hist.iter().enumerate().skip(from) {
            let value = tr.value.as_deref();
            match h.state {
                StateType::Created => {}
                StateType::Running => {
                    runs += 1;
                    let attempt = if tr.attempts.len() > 1 { runs.min(tr.attempts.len()) } else { 1 };
                    self.running_line(&tr.id, &tr.task_id, value, attempt, h.date);
                }
                s => {
                    if self.quiet && !s.is_failed() {
                        continue;
                    }
                    let value = value.map(|v| format!(" [{v}]")).unwrap_or_default();
                    let mark = match s {
                        StateType::Success => "✓",
                        StateType::Warning => "!",
                        s if s.is_failed() => "✗",
                        _ => "·",
                    };
                    let current = i == last;
                    let dur = match (tr.state.duration(), current && s.is_terminal()) {
                        (Some(d), true) => format!(" {}", human(&d)),
                        _ => String::new(),
                    };
                    let attempt = if tr.attempts.len() > 1 && s != StateType::Retrying {
                        format!(" attempt {}", runs.max(1))
                    } else {
                        String::new()
                    };
                    let line = format!(
                        "  {} {}{value} {}{attempt}{dur}",
                        paint(self.colour, s, mark),
                        tr.task_id,
                        paint(self.colour, s, s.as_str())
                    );
                    match (&tr.error, s.is_failed() && current) {
                        (Some(e), true) => {
                            self.queue(h.date, Pending::End { task_run: tr.id.clone(), line, error: e.clone() });
                        }
                        _ => {
                            self.queue(h.date, Pending::Text(line));
                        }
                    }
                }
            }
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
