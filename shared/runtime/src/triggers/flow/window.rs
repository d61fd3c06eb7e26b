//! `timeWindow` of Flow trigger preconditions (and of the legacy
//! `MultipleCondition`'s `window`/`windowAdvance`): its type, Kestra's
//! defaults and checks, and the `[start, end]` of the window an
//! evaluation at `now` opens — computed as Kestra's
//! `MultipleConditionStorageInterface.getOrCreate` does, in UTC.

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use serde_json::Value;

use super::spec::{Problems, join, only_keys};
use crate::model::duration::parse_iso;
use crate::model::flow::kind_of;

/// The window's kind (Kestra's `TimeWindow.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WindowType {
    #[default]
    DurationWindow,
    SlidingWindow,
    DailyTimeDeadline,
    DailyTimeWindow,
}

/// `timeWindow`, typed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeWindow {
    pub kind: WindowType,
    /// `window` (default one day for DURATION_WINDOW and SLIDING_WINDOW).
    pub window: Option<Duration>,
    pub window_advance: Option<Duration>,
    pub deadline: Option<NaiveTime>,
    pub start_time: Option<NaiveTime>,
    pub end_time: Option<NaiveTime>,
}

const KEYS: &[&str] = &["type", "window", "windowAdvance", "deadline", "startTime", "endTime"];

fn parse_time(v: &Value, path: &str, p: &mut Problems) -> Option<NaiveTime> {
    let Some(s) = v.as_str() else {
        p.at(path, format!("expected a time of day like \"09:00:00\", got {}", kind_of(v)));
        return None;
    };
    ["%H:%M:%S%.f", "%H:%M"].iter().find_map(|f| NaiveTime::parse_from_str(s.trim(), f).ok()).or_else(|| {
        p.at(path, format!("'{s}' is not a time of day like \"09:00:00\""));
        None
    })
}

fn parse_duration(v: &Value, path: &str, p: &mut Problems) -> Option<Duration> {
    match v.as_str().map(parse_iso) {
        Some(Ok(d)) if d >= Duration::zero() => Some(d),
        Some(Ok(_)) => {
            p.at(path, "a window duration cannot be negative");
            None
        }
        Some(Err(e)) => {
            p.at(path, e);
            None
        }
        None => {
            p.at(path, format!("expected an ISO-8601 duration (e.g. PT1H), got {}", kind_of(v)));
            None
        }
    }
}

impl TimeWindow {
    /// Parses `timeWindow` at `path`, with Kestra's checks of which keys
    /// each type takes.
    pub(crate) fn parse(v: &Value, path: &str, p: &mut Problems) -> Option<TimeWindow> {
        let Value::Object(m) = v else {
            p.at(path, format!("'timeWindow' must be a mapping, got {}", kind_of(v)));
            return None;
        };
        only_keys(m, path, KEYS, "timeWindow", p);
        let get = |k: &str| m.get(k).filter(|v| !v.is_null());
        let kind = match get("type").map(|t| t.as_str().unwrap_or_default()) {
            None | Some("DURATION_WINDOW") => WindowType::DurationWindow,
            Some("SLIDING_WINDOW") => WindowType::SlidingWindow,
            Some("DAILY_TIME_DEADLINE") => WindowType::DailyTimeDeadline,
            Some("DAILY_TIME_WINDOW") => WindowType::DailyTimeWindow,
            Some(other) => {
                p.at(
                    join(path, "type"),
                    format!(
                        "unknown time window type '{other}' (DURATION_WINDOW, SLIDING_WINDOW, DAILY_TIME_DEADLINE or DAILY_TIME_WINDOW)"
                    ),
                );
                return None;
            }
        };
        let mut tw = TimeWindow {
            kind,
            window: get("window").and_then(|v| parse_duration(v, &join(path, "window"), p)),
            window_advance: get("windowAdvance").and_then(|v| parse_duration(v, &join(path, "windowAdvance"), p)),
            deadline: get("deadline").and_then(|v| parse_time(v, &join(path, "deadline"), p)),
            start_time: get("startTime").and_then(|v| parse_time(v, &join(path, "startTime"), p)),
            end_time: get("endTime").and_then(|v| parse_time(v, &join(path, "endTime"), p)),
        };
        let name = match kind {
            WindowType::DurationWindow => "DURATION_WINDOW",
            WindowType::SlidingWindow => "SLIDING_WINDOW",
            WindowType::DailyTimeDeadline => "DAILY_TIME_DEADLINE",
            WindowType::DailyTimeWindow => "DAILY_TIME_WINDOW",
        };
        let allowed: &[&str] = match kind {
            WindowType::DurationWindow => &["window", "windowAdvance"],
            WindowType::SlidingWindow => &["window"],
            WindowType::DailyTimeDeadline => &["deadline"],
            WindowType::DailyTimeWindow => &["startTime", "endTime"],
        };
        for k in &KEYS[1..] {
            if get(k).is_some() && !allowed.contains(k) {
                p.at(join(path, k), format!("a time window of type `{name}` cannot have '{k}'"));
            }
        }
        match kind {
            WindowType::DailyTimeDeadline if get("deadline").is_none() => {
                p.at(path, "a time window of type `DAILY_TIME_DEADLINE` must have a 'deadline'")
            }
            WindowType::DailyTimeWindow => {
                for k in ["startTime", "endTime"] {
                    if get(k).is_none() {
                        p.at(path, format!("a time window of type `DAILY_TIME_WINDOW` must have a '{k}'"));
                    }
                }
            }
            _ => {}
        }
        if tw.window.is_some_and(|w| w.is_zero()) {
            p.at(join(path, "window"), "a window cannot be empty (PT0S)");
            tw.window = None;
        }
        Some(tw)
    }

    /// The legacy `MultipleCondition` form: `window` and `windowAdvance`
    /// on the condition itself.
    pub fn legacy(window: Option<Duration>, window_advance: Option<Duration>) -> TimeWindow {
        TimeWindow { window, window_advance, ..TimeWindow::default() }
    }

    /// The window an evaluation at `now` opens, `(start, end)`.
    pub fn bounds(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let now = now.with_nanosecond(0).unwrap_or(now);
        let midnight = now.date_naive().and_time(NaiveTime::MIN).and_utc();
        let day_at = |t: Option<NaiveTime>| {
            midnight + Duration::seconds(t.map(|t| t.num_seconds_from_midnight()).unwrap_or(0) as i64)
        };
        match self.kind {
            WindowType::DurationWindow => {
                let window = self.window.unwrap_or(Duration::days(1));
                // aligned as Kestra aligns it: to the day, the hour, or a
                // multiple of the window's minutes within the hour
                let mut at = now;
                if window.num_days() > 0 {
                    at = at.with_hour(0).unwrap_or(at);
                }
                if window.num_hours() > 0 {
                    at = at.with_minute(0).unwrap_or(at);
                }
                if window.num_minutes() > 0 {
                    let m = window.num_minutes();
                    let minute = at.minute() as i64;
                    at = at.with_second(0).and_then(|a| a.with_minute(0)).unwrap_or(at)
                        + Duration::minutes(m * (minute / m));
                }
                let start = self.window_advance.map(|a| at + a).unwrap_or(at);
                (start, start + window - Duration::milliseconds(1))
            }
            WindowType::SlidingWindow => (now, now + self.window.unwrap_or(Duration::days(1))),
            WindowType::DailyTimeWindow => (day_at(self.start_time), day_at(self.end_time)),
            WindowType::DailyTimeDeadline => (midnight, day_at(self.deadline)),
        }
    }
}

/// Whether `now` lies strictly inside `[start, end]` (Kestra's `isValid`).
pub fn is_open(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now > start && now < end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).expect("date")
    }

    fn parse(v: Value) -> (Option<TimeWindow>, Vec<String>) {
        let mut p = Problems(Vec::new());
        let tw = TimeWindow::parse(&v, "timeWindow", &mut p);
        (tw, p.0.into_iter().map(|x| format!("{}: {}", x.path, x.message)).collect())
    }

    #[test]
    fn default_window_is_the_utc_day() {
        let (s, e) = TimeWindow::default().bounds(at("2024-05-02T14:23:11.5Z"));
        assert_eq!(s, at("2024-05-02T00:00:00Z"));
        assert_eq!(e, at("2024-05-02T23:59:59.999Z"));
    }

    #[test]
    fn minute_windows_align_within_the_hour() {
        let tw = TimeWindow { window: Some(Duration::minutes(10)), ..TimeWindow::default() };
        let (s, e) = tw.bounds(at("2024-05-02T14:23:11Z"));
        assert_eq!(s, at("2024-05-02T14:20:00Z"));
        assert_eq!(e, at("2024-05-02T14:29:59.999Z"));
    }

    #[test]
    fn advance_shifts_the_start() {
        let tw = TimeWindow::legacy(Some(Duration::days(1)), Some(Duration::hours(6)));
        let (s, _) = tw.bounds(at("2024-05-02T14:23:11Z"));
        assert_eq!(s, at("2024-05-02T06:00:00Z"));
    }

    #[test]
    fn daily_kinds() {
        let (tw, errs) = parse(serde_json::json!({"type": "DAILY_TIME_DEADLINE", "deadline": "09:00:00"}));
        assert!(errs.is_empty(), "{errs:?}");
        let tw = tw.expect("parsed");
        let (s, e) = tw.bounds(at("2024-05-02T08:00:00Z"));
        assert_eq!((s, e), (at("2024-05-02T00:00:00Z"), at("2024-05-02T09:00:00Z")));
        assert!(is_open(s, e, at("2024-05-02T08:00:00Z")));
        assert!(!is_open(s, e, at("2024-05-02T09:30:00Z")));
        let (tw, errs) =
            parse(serde_json::json!({"type": "DAILY_TIME_WINDOW", "startTime": "06:00", "endTime": "09:00:00"}));
        assert!(errs.is_empty(), "{errs:?}");
        let (s, e) = tw.expect("parsed").bounds(at("2024-05-02T08:00:00Z"));
        assert_eq!((s, e), (at("2024-05-02T06:00:00Z"), at("2024-05-02T09:00:00Z")));
    }

    #[test]
    fn wrong_keys_per_type_are_named() {
        let (_, errs) = parse(serde_json::json!({"type": "DAILY_TIME_DEADLINE", "window": "PT1H"}));
        assert!(errs.iter().any(|e| e.starts_with("timeWindow.window: ")), "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("must have a 'deadline'")), "{errs:?}");
        let (_, errs) = parse(serde_json::json!({"type": "SLIDING", "bogus": 1}));
        assert!(errs.iter().any(|e| e.starts_with("timeWindow.bogus: ")), "{errs:?}");
        assert!(errs.iter().any(|e| e.starts_with("timeWindow.type: ")), "{errs:?}");
        let (_, errs) = parse(serde_json::json!({"type": "DAILY_TIME_WINDOW", "startTime": "25:00"}));
        assert!(errs.iter().any(|e| e.starts_with("timeWindow.startTime: ")), "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("'endTime'")), "{errs:?}");
    }
}
