//! Live progress on the terminal: one line per task-run state change, and a
//! progress bar for long downloads when stderr is a terminal.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};
use shared::model::StateType;
use shared::plugins::context::Progress;
use shared::runtime::engine::ExecutionUpdate;

/// Prints task-run state changes once each.
#[derive(Default)]
pub struct StateLines {
    seen: HashMap<String, (StateType, usize)>,
}

impl StateLines {
    pub fn print(&mut self, u: &ExecutionUpdate) {
        for tr in &u.changed {
            if matches!(tr.state.current, StateType::Created) {
                continue;
            }
            let key = (tr.state.current, tr.attempts.len());
            if self.seen.get(&tr.id) == Some(&key) {
                continue;
            }
            self.seen.insert(tr.id.clone(), key);
            let value = tr.value.as_deref().map(|v| format!(" [{v}]")).unwrap_or_default();
            let mark = match tr.state.current {
                StateType::Success => "✓",
                StateType::Warning => "!",
                s if s.is_failed() => "✗",
                StateType::Running => "…",
                _ => "·",
            };
            let dur = tr.state.duration.as_deref().map(|d| format!(" {d}")).unwrap_or_default();
            let attempt = if tr.attempts.len() > 1 { format!(" attempt {}", tr.attempts.len()) } else { String::new() };
            let err = match (&tr.error, tr.state.current.is_failed()) {
                (Some(e), true) => format!(": {e}"),
                _ => String::new(),
            };
            eprintln!("  {mark} {}{value} {}{attempt}{dur}{err}", tr.task_id, tr.state.current);
        }
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
