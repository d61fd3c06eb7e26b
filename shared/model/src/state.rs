//! Kestra's execution and task-run states (`models/flows/State.java`) and the
//! `state` object with its history, exactly as the REST API serialises it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thin_vec::{ThinVec, thin_vec};

/// One of Kestra's states. The names serialise exactly as Kestra's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StateType {
    Created,
    Running,
    Paused,
    Restarted,
    Killing,
    Success,
    Warning,
    Failed,
    Killed,
    Cancelled,
    Queued,
    Retrying,
    Retried,
    Skipped,
}

impl StateType {
    /// Every state, in declaration order.
    pub const ALL: [StateType; 14] = [
        StateType::Created,
        StateType::Running,
        StateType::Paused,
        StateType::Restarted,
        StateType::Killing,
        StateType::Success,
        StateType::Warning,
        StateType::Failed,
        StateType::Killed,
        StateType::Cancelled,
        StateType::Queued,
        StateType::Retrying,
        StateType::Retried,
        StateType::Skipped,
    ];

    /// Terminal states never change again (Kestra's `isTerminated`).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            StateType::Success
                | StateType::Warning
                | StateType::Failed
                | StateType::Killed
                | StateType::Cancelled
                | StateType::Retried
                | StateType::Skipped
        )
    }

    /// States that count as a failure for the enclosing block.
    pub fn is_failed(self) -> bool {
        matches!(self, StateType::Failed | StateType::Killed | StateType::Cancelled)
    }

    /// States that count as running for flow concurrency.
    pub fn is_active(self) -> bool {
        matches!(self, StateType::Running | StateType::Paused | StateType::Killing | StateType::Retrying)
    }

    /// The Kestra name, e.g. `SUCCESS`.
    pub fn as_str(self) -> &'static str {
        match self {
            StateType::Created => "CREATED",
            StateType::Running => "RUNNING",
            StateType::Paused => "PAUSED",
            StateType::Restarted => "RESTARTED",
            StateType::Killing => "KILLING",
            StateType::Success => "SUCCESS",
            StateType::Warning => "WARNING",
            StateType::Failed => "FAILED",
            StateType::Killed => "KILLED",
            StateType::Cancelled => "CANCELLED",
            StateType::Queued => "QUEUED",
            StateType::Retrying => "RETRYING",
            StateType::Retried => "RETRIED",
            StateType::Skipped => "SKIPPED",
        }
    }

    /// Parses a Kestra state name (case-insensitive).
    pub fn parse(s: &str) -> Option<StateType> {
        serde_json::from_value(serde_json::Value::String(s.to_ascii_uppercase())).ok()
    }
}

impl std::fmt::Display for StateType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a state history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub state: StateType,
    #[serde(serialize_with = "crate::date_text::write")]
    pub date: DateTime<Utc>,
}

/// Kestra's `state` object: the current state plus its history. Its
/// `startDate` (the first entry's date), `endDate` (the last one's, once
/// terminal) and `duration` (from the one to the other) are written from
/// the history, not held, as Kestra's `State` derives them: every task run
/// and attempt in memory would carry them (a loop may hold 100,000); read,
/// they are ignored for the same reason.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub current: StateType,
    /// A pointer wide (`ThinVec`, its length and capacity beside the
    /// items), not three: every task run held in memory carries one.
    pub histories: ThinVec<History>,
}

impl Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Written<'a> {
            current: StateType,
            histories: &'a [History],
            #[serde(skip_serializing_if = "Option::is_none", serialize_with = "crate::date_text::write_opt")]
            start_date: Option<DateTime<Utc>>,
            #[serde(skip_serializing_if = "Option::is_none", serialize_with = "crate::date_text::write_opt")]
            end_date: Option<DateTime<Utc>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            duration: Option<String>,
        }
        Written {
            current: self.current,
            histories: &self.histories,
            start_date: self.start_date(),
            end_date: self.end_date(),
            duration: self.duration(),
        }
        .serialize(s)
    }
}

impl State {
    /// A new state history starting in `state` at `at`.
    pub fn new(state: StateType, at: DateTime<Utc>) -> State {
        State { current: state, histories: thin_vec![History { state, date: at }] }
    }

    /// Moves to `state` at `at`, appending to the history. Moving to the
    /// current state is a no-op, so replays are harmless.
    pub fn set(&mut self, state: StateType, at: DateTime<Utc>) {
        if self.current == state {
            return;
        }
        self.current = state;
        self.histories.push(History { state, date: at });
    }

    /// When the state started: its history's first date.
    pub fn start_date(&self) -> Option<DateTime<Utc>> {
        self.histories.first().map(|h| h.date)
    }

    /// When it ended: its history's last date, once terminal.
    pub fn end_date(&self) -> Option<DateTime<Utc>> {
        self.last_date().filter(|_| self.current.is_terminal())
    }

    /// Kestra's ISO 8601 `duration`, from the start to the end: `None`
    /// until the state is terminal.
    pub fn duration(&self) -> Option<String> {
        Some(crate::duration::format_iso(self.end_date()? - self.start_date()?))
    }

    /// When the state last changed.
    pub fn last_date(&self) -> Option<DateTime<Utc>> {
        self.histories.last().map(|h| h.date)
    }

    pub fn is_terminal(&self) -> bool {
        self.current.is_terminal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_and_duration_are_written_from_the_history_and_never_read() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").expect("date").with_timezone(&Utc);
        let mut s = State::new(StateType::Running, t0);
        let running = serde_json::to_value(&s).expect("json");
        assert_eq!(running.get("duration"), None, "a running state has no duration: {running}");
        assert_eq!(running.get("endDate"), None);
        s.set(StateType::Success, t0 + chrono::Duration::milliseconds(1500));
        let ended = serde_json::to_value(&s).expect("json");
        assert_eq!(ended["duration"], json!("PT1.5S"));
        assert_eq!(ended["current"], json!("SUCCESS"));
        assert_eq!(ended["histories"].as_array().map(Vec::len), Some(2));
        // a stored `duration` is not believed: the dates say it
        let mut read = ended.clone();
        read["duration"] = json!("PT9H");
        read["startDate"] = json!("2020-01-01T00:00:00Z");
        read["endDate"] = json!("2020-01-02T00:00:00Z");
        let back: State = serde_json::from_value(read).expect("state");
        assert_eq!(back, s);
        assert_eq!(serde_json::to_value(&back).expect("json"), ended);
    }
}
