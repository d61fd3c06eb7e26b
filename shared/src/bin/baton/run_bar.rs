//! The progress bar of `baton run`: task runs ended out of those the
//! execution will have. Loops create their iterations' task runs as they
//! go, so counting only the task runs created so far sits near 100 % all
//! along (`300/301`); the length also counts what each running loop has
//! left: its values not started yet (from the values it evaluated) times
//! the task runs an iteration has made so far. Drawn on a terminal only.

use std::collections::{HashMap, HashSet};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use shared::model::TaskRun;

/// A loop's values and the iterations seen started.
#[derive(Default)]
struct LoopSeen {
    total: usize,
    started: HashSet<String>,
    children: usize,
    ended: bool,
}

impl LoopSeen {
    /// Task runs still to be created: values not started × task runs per iteration so far.
    fn remaining(&self) -> u64 {
        if self.ended || self.started.is_empty() {
            return 0;
        }
        let per = self.children.div_ceil(self.started.len());
        (self.total.saturating_sub(self.started.len()) * per) as u64
    }
}

/// The bar and what it counts: each task run once, ended when its last
/// state seen is terminal (a restarted one counts as open again).
pub struct RunBar {
    pub bar: ProgressBar,
    ended: HashMap<String, bool>,
    done: u64,
    loops: HashMap<String, LoopSeen>,
    /// Whether the bar is drawn (on a terminal: with `--progress`, or once a
    /// loop of [`LARGE_LOOP`] values or more runs).
    shown: bool,
}

/// A loop this long gets the bar on a terminal without `--progress`.
pub const LARGE_LOOP: usize = 100;

impl RunBar {
    /// A bar, drawn at once when `shown`.
    pub fn new(shown: bool) -> RunBar {
        let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template(
            "  {bar:40.cyan/blue} {pos}/{len} task runs ended  {percent:>3}%  {elapsed_precise}  eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("█▉▊▋▌▍▎▏ "));
        let mut b = RunBar { bar, ended: HashMap::new(), done: 0, loops: HashMap::new(), shown: false };
        if shown {
            b.show();
        }
        b
    }

    fn show(&mut self) {
        if !self.shown {
            self.shown = true;
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// The length and position as counted (for tests and the final line).
    pub fn counts(&self) -> (u64, u64) {
        (self.done, self.ended.len() as u64 + self.loops.values().map(LoopSeen::remaining).sum::<u64>())
    }

    /// A task run as it is now.
    pub fn see(&mut self, tr: &TaskRun, auto: bool) {
        let terminal = tr.state.current.is_terminal();
        let values = match tr.evaluated.as_deref() {
            Some(Value::Array(a)) => Some(a.len()),
            Some(Value::Object(m)) if !m.contains_key("executionId") => Some(m.len()),
            _ => None,
        };
        if let Some(n) = values {
            let l = self.loops.entry(tr.id.clone()).or_default();
            l.total = n;
            l.ended = terminal;
            if auto && n >= LARGE_LOOP {
                self.show();
            }
        }
        let reopened = match self.ended.get_mut(&tr.id) {
            Some(was) if *was == terminal => return self.draw(),
            Some(was) => std::mem::replace(was, terminal),
            None => {
                self.ended.insert(tr.id.clone(), terminal);
                if let (Some(p), Some(v)) = (&tr.parent_task_run_id, &tr.value)
                    && let Some(l) = self.loops.get_mut(p)
                {
                    l.started.insert(v.clone());
                    l.children += 1;
                }
                false
            }
        };
        if terminal {
            self.done += 1;
        } else if reopened {
            self.done = self.done.saturating_sub(1);
        }
        self.draw();
    }

    fn draw(&self) {
        let (pos, len) = self.counts();
        self.bar.set_length(len.max(pos).max(1));
        self.bar.set_position(pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::model::{State, StateType};

    fn run(id: &str, parent: Option<&str>, value: Option<&str>, state: StateType, evaluated: Option<Value>) -> TaskRun {
        let mut tr: TaskRun = serde_json::from_value(serde_json::json!({
            "id": id, "executionId": "e", "namespace": "n", "flowId": "f", "taskId": id,
            "state": {"current": "CREATED", "histories": []}
        }))
        .expect("task run");
        tr.parent_task_run_id = parent.map(String::from);
        tr.value = value.map(String::from);
        tr.state = State { current: state, ..tr.state };
        tr.evaluated = evaluated.map(std::sync::Arc::new);
        tr
    }

    #[test]
    fn a_loop_s_bar_counts_the_iterations_not_started_yet() {
        let mut b = RunBar::new(false);
        let values = Value::Array((0..300).map(|i| Value::from(i.to_string())).collect());
        b.see(&run("each", None, None, StateType::Running, Some(values.clone())), false);
        b.see(&run("c0", Some("each"), Some("0"), StateType::Running, None), false);
        // 1 parent + 1 child + 299 values to go
        assert_eq!(b.counts(), (0, 301));
        b.see(&run("c0", Some("each"), Some("0"), StateType::Success, None), false);
        for i in 1..150 {
            let id = format!("c{i}");
            b.see(&run(&id, Some("each"), Some(&i.to_string()), StateType::Success, None), false);
        }
        let (pos, len) = b.counts();
        assert_eq!((pos, len), (150, 301), "half way, the bar is half full");
        b.see(&run("each", None, None, StateType::Success, Some(values)), false);
        assert_eq!(b.counts().0, 151);
        assert!(!b.shown);
    }

    #[test]
    fn a_large_loop_shows_the_bar_on_its_own_and_a_restart_reopens_a_run() {
        let mut b = RunBar::new(false);
        let values = Value::Array((0..LARGE_LOOP).map(Value::from).collect());
        b.see(&run("each", None, None, StateType::Running, Some(values)), true);
        assert!(b.shown);
        b.see(&run("t", None, None, StateType::Failed, None), true);
        assert_eq!(b.counts().0, 1);
        b.see(&run("t", None, None, StateType::Running, None), true);
        assert_eq!(b.counts().0, 0);
    }
}
