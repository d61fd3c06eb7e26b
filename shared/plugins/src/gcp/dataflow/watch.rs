//! What `io.kestra.plugin.gcp.dataflow.Trigger` (plugin-gcp
//! `dataflow/Trigger.java`) does at each poll, without the trigger
//! machinery (in `triggers::dataflow` and `runtime::events::dataflow`):
//! read its rendered properties ([`Watch::read`]), list the jobs of
//! `location` (`jobs.list`, every page, filtered `TERMINATED` or `ACTIVE`
//! as Kestra's for the target states it names), and decide from the
//! trigger's state which job fires ([`decide`]).
//!
//! As Kestra's `StatefulTriggerService`: the state is a list of entries
//! `{uri: jobId, version: state, modifiedAt: currentStateTime, lastSeenAt}`;
//! entries not seen within `stateTtl` are forgotten when read. A job whose
//! name starts with `jobNamePrefix`, in `targetState`, with its state time
//! strictly within the last `lookback` (default: the trigger's `interval`)
//! is a candidate: it fires when new (`on` CREATE or CREATE_OR_UPDATE) or
//! when its state changed since it was recorded (UPDATE or
//! CREATE_OR_UPDATE), and every candidate is recorded. One poll starts at
//! most one execution, for the firing job with the latest state time; the
//! other candidates are recorded and do not fire later, as in Kestra.
//! Bounds: [`MAX_LIST_PAGES`] pages a poll, [`MAX_ENTRIES`] entries kept.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Conn;
use crate::{RunContext, TaskError, de, parse_props};

/// Kestra's `JobState` values, which `targetState` takes.
pub const JOB_STATES: &[&str] = &[
    "JOB_STATE_UNKNOWN",
    "JOB_STATE_STOPPED",
    "JOB_STATE_RUNNING",
    "JOB_STATE_DONE",
    "JOB_STATE_FAILED",
    "JOB_STATE_CANCELLED",
    "JOB_STATE_UPDATED",
    "JOB_STATE_DRAINING",
    "JOB_STATE_DRAINED",
    "JOB_STATE_PENDING",
    "JOB_STATE_CANCELLING",
    "JOB_STATE_QUEUED",
];

/// The values `on` takes.
pub const ON: &[&str] = &["CREATE", "UPDATE", "CREATE_OR_UPDATE"];

/// The most pages of `jobs.list` one poll reads.
pub const MAX_LIST_PAGES: usize = 100;

/// The most entries the state keeps (the ones seen longest ago are forgotten).
pub const MAX_ENTRIES: usize = 5000;

/// The trigger's rendered properties, as read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rendered {
    #[serde(flatten)]
    conn: Conn,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    job_name_prefix: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    target_state: Option<String>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    lookback: Option<chrono::Duration>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    on: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    state_key: Option<String>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    state_ttl: Option<chrono::Duration>,
}

/// One poll's settings.
#[derive(Debug)]
pub struct Watch {
    pub conn: Conn,
    pub prefix: String,
    pub target: String,
    pub lookback: Duration,
    pub on: String,
    pub state_key: Option<String>,
    pub state_ttl: Option<Duration>,
}

/// A positive `d`, or an error naming `property`.
fn positive(property: &str, d: chrono::Duration) -> Result<Duration, TaskError> {
    d.to_std().ok().filter(|d| !d.is_zero()).ok_or_else(|| TaskError::property(property, "must be a positive duration"))
}

impl Watch {
    /// The rendered properties checked; `interval` is `lookback`'s default.
    pub fn read(props: &Map<String, Value>, interval: Duration) -> Result<Watch, TaskError> {
        let r: Rendered = parse_props(props)?;
        let prefix = r.job_name_prefix.ok_or_else(|| TaskError::property("jobNamePrefix", "is required"))?;
        let target = match r.target_state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => "JOB_STATE_DONE".to_string(),
            Some(s) if JOB_STATES.contains(&s) => s.to_string(),
            Some(s) => {
                return Err(TaskError::property(
                    "targetState",
                    format!("'{s}' is not one of {}", JOB_STATES.join(", ")),
                ));
            }
        };
        let on = match r.on.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => "CREATE_OR_UPDATE".to_string(),
            Some(s) if ON.contains(&s) => s.to_string(),
            Some(s) => return Err(TaskError::property("on", format!("'{s}' is not one of {}", ON.join(", ")))),
        };
        Ok(Watch {
            conn: r.conn,
            prefix,
            target,
            lookback: r.lookback.map(|d| positive("lookback", d)).transpose()?.unwrap_or(interval),
            on,
            state_key: r.state_key.filter(|k| !k.trim().is_empty()),
            state_ttl: r.state_ttl.map(|d| positive("stateTtl", d)).transpose()?,
        })
    }

    /// `jobs.list`'s filter for the target state, as Kestra's.
    fn filter(&self) -> Option<&'static str> {
        match self.target.as_str() {
            "JOB_STATE_DONE"
            | "JOB_STATE_FAILED"
            | "JOB_STATE_CANCELLED"
            | "JOB_STATE_DRAINED"
            | "JOB_STATE_UPDATED" => Some("TERMINATED"),
            "JOB_STATE_RUNNING" | "JOB_STATE_PENDING" | "JOB_STATE_QUEUED" => Some("ACTIVE"),
            _ => None,
        }
    }

    /// The jobs of the location (every page, at most [`MAX_LIST_PAGES`]).
    pub async fn list(&self, cx: &RunContext) -> Result<Vec<Value>, TaskError> {
        let df = self.conn.connect(cx).await?;
        let mut jobs = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let mut query = Vec::new();
            if let Some(f) = self.filter() {
                query.push(format!("filter={f}"));
            }
            if let Some(t) = &token {
                query.push(format!("pageToken={}", baton_gcp::percent::encode(t)));
            }
            let q = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
            let page = df.api.get(cx, &format!("{}/jobs{q}", df.base)).await?;
            jobs.extend(page["jobs"].as_array().into_iter().flatten().cloned());
            token = page["nextPageToken"].as_str().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                return Ok(jobs);
            }
        }
        Err(TaskError::failed(format!(
            "Dataflow jobs.list in {} answered more than {MAX_LIST_PAGES} pages (MAX_LIST_PAGES): narrow the jobs the trigger lists",
            df.base.trim_start_matches("/v1b3/")
        )))
    }
}

/// One entry of the state (Kestra's `StatefulTriggerService.Entry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub uri: String,
    pub version: Option<String>,
    pub modified_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// The state: job id → its entry.
pub type State = BTreeMap<String, Entry>;

/// The stored entries less those not seen within `ttl` (as Kestra's `readState`).
pub fn read_state(entries: Vec<Entry>, ttl: Option<Duration>, now: DateTime<Utc>) -> State {
    let cutoff = ttl.and_then(|t| chrono::Duration::from_std(t).ok()).map(|t| now - t);
    entries
        .into_iter()
        .filter(|e| cutoff.is_none_or(|c| e.last_seen_at.unwrap_or(now) > c))
        .map(|e| (e.uri.clone(), e))
        .collect()
}

/// The entries to store: the state, at most [`MAX_ENTRIES`] (the ones seen longest ago dropped).
pub fn entries_of(state: &State) -> Vec<Entry> {
    let mut all: Vec<Entry> = state.values().cloned().collect();
    if all.len() > MAX_ENTRIES {
        all.sort_by_key(|e| std::cmp::Reverse(e.last_seen_at));
        all.truncate(MAX_ENTRIES);
    }
    all
}

/// Whether a candidate of `version` fires given its previous entry (Kestra's `shouldFire`).
fn fires(prev: Option<&Entry>, version: &str, on: &str) -> bool {
    match prev {
        None => on == "CREATE" || on == "CREATE_OR_UPDATE",
        Some(p) if p.version.as_deref() != Some(version) => on == "UPDATE" || on == "CREATE_OR_UPDATE",
        Some(_) => false,
    }
}

/// What one poll decided: the job that fires (if any) and whether the state changed.
#[derive(Debug, Default)]
pub struct Decision {
    pub fired: Option<Value>,
    pub updated: bool,
}

/// Records every candidate of `jobs` in `state` and picks the firing job
/// with the latest state time (see the module documentation).
pub fn decide(w: &Watch, state: &mut State, jobs: &[Value], now: DateTime<Utc>) -> Decision {
    let start = now - chrono::Duration::from_std(w.lookback).unwrap_or(chrono::Duration::MAX);
    let mut d = Decision::default();
    let mut best: Option<DateTime<Utc>> = None;
    for job in jobs {
        let (Some(id), Some(name), Some(state_name)) =
            (job["id"].as_str(), job["name"].as_str(), job["currentState"].as_str())
        else {
            continue;
        };
        if !name.starts_with(&w.prefix) || state_name != w.target {
            continue;
        }
        let Some(at) = job["currentStateTime"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()) else {
            continue;
        };
        let at = at.with_timezone(&Utc);
        if at <= start || at >= now {
            continue;
        }
        let prev = state.get(id);
        let fire = fires(prev, state_name, &w.on);
        let last_seen = match prev {
            Some(p) if !fire => p.last_seen_at.or(Some(now)),
            _ => Some(now),
        };
        let entry = Entry {
            uri: id.to_string(),
            version: Some(state_name.to_string()),
            modified_at: Some(at),
            last_seen_at: last_seen,
        };
        state.insert(id.to_string(), entry);
        d.updated = true;
        if fire && best.is_none_or(|b| at > b) {
            best = Some(at);
            d.fired = Some(job.clone());
        }
    }
    d
}

/// The trigger's outputs for the job that fired (Kestra's `Output`).
pub fn output(job: &Value) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, field) in [("jobId", "id"), ("jobName", "name"), ("state", "currentState")] {
        m.insert(k.into(), job.get(field).cloned().unwrap_or(Value::Null));
    }
    m
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn watch(props: Value) -> Result<Watch, TaskError> {
        Watch::read(props.as_object().expect("map"), Duration::from_secs(60))
    }

    fn job(id: &str, name: &str, state: &str, at: &str) -> Value {
        json!({"id": id, "name": name, "currentState": state, "currentStateTime": at})
    }

    #[test]
    fn properties_have_kestra_s_defaults_and_values() {
        let w = watch(json!({"location": "us-central1", "jobNamePrefix": "etl-"})).expect("valid");
        assert_eq!(
            (w.target.as_str(), w.on.as_str(), w.lookback),
            ("JOB_STATE_DONE", "CREATE_OR_UPDATE", Duration::from_secs(60))
        );
        assert_eq!(w.filter(), Some("TERMINATED"));
        let w = watch(
            json!({"location": "l", "jobNamePrefix": "", "targetState": "JOB_STATE_RUNNING", "lookback": "PT1H"}),
        )
        .expect("valid");
        assert_eq!((w.filter(), w.lookback), (Some("ACTIVE"), Duration::from_secs(3600)));
        assert_eq!(
            watch(json!({"location": "l", "jobNamePrefix": "", "targetState": "JOB_STATE_STOPPED"}))
                .expect("v")
                .filter(),
            None
        );
        for (bad, field) in [
            (json!({"location": "l"}), "'jobNamePrefix'"),
            (json!({"location": "l", "jobNamePrefix": "a", "targetState": "DONE"}), "'targetState'"),
            (json!({"location": "l", "jobNamePrefix": "a", "on": "DELETE"}), "'on'"),
            (json!({"location": "l", "jobNamePrefix": "a", "lookback": "PT0S"}), "'lookback'"),
        ] {
            let e = watch(bad.clone()).expect_err("refused").to_string();
            assert!(e.contains(field), "{bad}: {e}");
        }
    }

    #[test]
    fn the_latest_new_job_fires_once_and_every_candidate_is_recorded() {
        let w = watch(json!({"location": "l", "jobNamePrefix": "etl-", "lookback": "PT10M"})).expect("valid");
        let now = DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z").expect("t").with_timezone(&Utc);
        let jobs = [
            job("j1", "etl-a", "JOB_STATE_DONE", "2026-01-01T11:55:00Z"),
            job("j2", "etl-b", "JOB_STATE_DONE", "2026-01-01T11:58:00.5Z"),
            job("j3", "other", "JOB_STATE_DONE", "2026-01-01T11:59:00Z"),
            job("j4", "etl-c", "JOB_STATE_FAILED", "2026-01-01T11:59:00Z"),
            job("j5", "etl-d", "JOB_STATE_DONE", "2026-01-01T11:40:00Z"),
        ];
        let mut state = State::new();
        let d = decide(&w, &mut state, &jobs, now);
        assert_eq!(d.fired.as_ref().map(|j| output(j)["jobId"].clone()), Some(json!("j2")));
        assert!(d.updated);
        assert_eq!(state.keys().collect::<Vec<_>>(), ["j1", "j2"], "candidates recorded, j1 never fires after");
        let d = decide(&w, &mut state, &jobs, now + chrono::Duration::seconds(30));
        assert!(d.fired.is_none() && d.updated, "seen already: {d:?}");
        let first_seen = state["j1"].last_seen_at;
        assert_eq!(first_seen, Some(now), "an unchanged entry keeps when it was first seen");
        // a TTL forgets entries seen too long ago
        let stored = entries_of(&state);
        assert_eq!(
            read_state(stored.clone(), Some(Duration::from_secs(10)), now + chrono::Duration::seconds(11)).len(),
            0
        );
        assert_eq!(read_state(stored, None, now + chrono::Duration::days(400)).len(), 2);
        // on: UPDATE fires only on a change of state of a recorded job
        let u = watch(json!({"location": "l", "jobNamePrefix": "etl-", "lookback": "PT10M", "on": "UPDATE"}))
            .expect("valid");
        let mut s = State::new();
        assert!(decide(&u, &mut s, &jobs, now).fired.is_none());
        s.get_mut("j2").expect("j2").version = Some("JOB_STATE_RUNNING".into());
        assert_eq!(decide(&u, &mut s, &jobs, now).fired.map(|j| j["id"].clone()), Some(json!("j2")));
    }
}
