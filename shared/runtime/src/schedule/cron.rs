//! A Schedule trigger's cron expression in its time zone: parsing (5 fields,
//! 6 with `withSeconds`, the `@yearly`…`@hourly` nicknames, Kestra's
//! day-of-week 0–7) and the ticks it produces as UTC instants.
//!
//! Ticks are computed on the wall clock of the trigger's zone and then
//! placed on the time line, with these rules at daylight-saving changes:
//! - **gap** (spring forward, the wall time does not exist): the tick runs
//!   shifted by the length of the gap (02:30 → 03:30 when 02:00 jumps to
//!   03:00), as `java.time.ZonedDateTime` resolves it; a shifted tick that
//!   lands on another tick is one tick. No run is skipped.
//! - **overlap** (fall back, the wall time happens twice): a job whose hour
//!   field is a wildcard (`*`, `*/2`, `@hourly`) follows real time and runs
//!   in both passes, so an hourly job stays hourly; any other job runs once,
//!   at the first pass. No run is doubled.
//!
//! A [`Cron`] may also be a list of dates (`ScheduleOnDates`): its ticks
//! are those instants, sorted and truncated to the second, each shown with
//! its own offset unless the trigger names a `timezone`.
//!
//! Every function here is pure and deterministic; ticks are whole seconds.

use std::sync::Arc;

use chrono::{
    DateTime, Datelike, FixedOffset, LocalResult, NaiveDateTime, Offset, SecondsFormat, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};

/// The widest wall-clock shift a daylight-saving change can cause (real
/// zones move by at most two hours); searches look this far around a date.
const DST_MARGIN: TimeDelta = TimeDelta::hours(3);

/// The nicknames Kestra accepts and the 5-field cron each stands for.
const NICKNAMES: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// Why a cron expression or time zone was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("invalid cron expression '{expr}': {reason}")]
    Invalid { expr: String, reason: String },
    #[error("unknown time zone '{0}': expected an IANA id such as Europe/Berlin or America/New_York")]
    Timezone(String),
}

/// A parsed cron expression bound to a time zone, or a list of dates.
#[derive(Debug, Clone)]
pub struct Cron {
    expr: String,
    kind: Kind,
    tz: Tz,
    /// The trigger named its zone (dates are then shown in it).
    zoned: bool,
}

#[derive(Debug, Clone)]
enum Kind {
    Pattern {
        cron: Box<croner::Cron>,
        /// The hour field is a wildcard: in an overlap the job runs in both passes.
        follows_real_time: bool,
    },
    /// Sorted, distinct instants (whole seconds), each with the offset it was written with.
    Dates(Arc<[(DateTime<Utc>, FixedOffset)]>),
}

impl Cron {
    /// Parses `expr` (5 fields, or 6 with a leading seconds field when
    /// `with_seconds`) in `timezone` (an IANA id; UTC when `None`).
    pub fn parse(expr: &str, with_seconds: bool, timezone: Option<&str>) -> Result<Cron, CronError> {
        let invalid = |reason: String| CronError::Invalid { expr: expr.to_string(), reason };
        let tz = parse_zone(timezone)?;
        let trimmed = expr.trim();
        let mut fields = if trimmed.starts_with('@') {
            let Some((_, base)) = NICKNAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(trimmed)) else {
                let names: Vec<&str> = NICKNAMES.iter().map(|(n, _)| *n).collect();
                return Err(invalid(format!("unknown nickname (expected one of {})", names.join(", "))));
            };
            let mut f: Vec<String> = base.split(' ').map(str::to_string).collect();
            if with_seconds {
                f.insert(0, "0".to_string());
            }
            f
        } else {
            trimmed.split_whitespace().map(str::to_string).collect::<Vec<_>>()
        };
        let want = if with_seconds { 6 } else { 5 };
        if fields.len() != want {
            let hint = if with_seconds { " (withSeconds: true)" } else { "" };
            return Err(invalid(format!("expected {want} fields{hint}, got {}", fields.len())));
        }
        let hour = &fields[if with_seconds { 2 } else { 1 }];
        let follows_real_time = hour.starts_with('*');
        // Kestra numbers Sunday 0 or 7; croner agrees. `?` means `*`.
        for f in fields.iter_mut() {
            if f == "?" {
                *f = "*".to_string();
            }
        }
        let parser = CronParser::builder()
            .seconds(if with_seconds { Seconds::Required } else { Seconds::Disallowed })
            .year(Year::Disallowed)
            .sloppy_ranges(true)
            .build();
        let cron = parser.parse(&fields.join(" ")).map_err(|e| invalid(e.to_string()))?;
        // A pattern that can never match (e.g. 30 February) is an error too.
        let probe = NaiveDateTime::default().with_year(2000).unwrap_or_default();
        if cron.find_next_occurrence(&probe, true).is_err() {
            return Err(invalid("it never matches a date".to_string()));
        }
        Ok(Cron {
            expr: expr.to_string(),
            kind: Kind::Pattern { cron: Box::new(cron), follows_real_time },
            tz,
            zoned: timezone.is_some(),
        })
    }

    /// The ticks of a list of dates (`ScheduleOnDates`): sorted, truncated
    /// to the second, duplicates once; shown in `timezone` when given, else
    /// each with its own offset.
    pub fn dates(dates: &[DateTime<FixedOffset>], timezone: Option<&str>) -> Result<Cron, CronError> {
        let tz = parse_zone(timezone)?;
        let mut list: Vec<(DateTime<Utc>, FixedOffset)> = dates
            .iter()
            .map(|d| {
                let whole = *d - TimeDelta::nanoseconds(i64::from(d.timestamp_subsec_nanos()));
                (whole.with_timezone(&Utc), *d.offset())
            })
            .collect();
        list.sort_by_key(|(d, _)| *d);
        list.dedup_by_key(|(d, _)| *d);
        let shown: Vec<String> =
            list.iter().map(|(d, o)| d.with_timezone(o).to_rfc3339_opts(SecondsFormat::Secs, true)).collect();
        let zoned = timezone.map(str::trim).is_some_and(|z| !z.is_empty());
        Ok(Cron { expr: shown.join(", "), kind: Kind::Dates(list.into()), tz, zoned })
    }

    /// Whether this is a list of dates rather than a cron expression.
    pub fn is_dates(&self) -> bool {
        matches!(self.kind, Kind::Dates(_))
    }

    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The expression and zone, e.g. `0 9 1 * * America/New_York` (to notice
    /// a changed schedule).
    pub fn signature(&self) -> String {
        match &self.kind {
            Kind::Pattern { .. } => format!("{} {}", self.expr.trim(), self.tz.name()),
            Kind::Dates(list) => {
                use sha2::Digest as _;
                let d = sha2::Sha256::digest(self.expr.as_bytes());
                let hex: String = d[..8].iter().map(|b| format!("{b:02x}")).collect();
                format!("dates:{}:{hex} {}", list.len(), self.tz.name())
            }
        }
    }

    /// The zone the expression is evaluated in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first tick strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let cron = match &self.kind {
            Kind::Pattern { cron, .. } => cron,
            Kind::Dates(list) => {
                let i = list.partition_point(|(d, _)| *d <= t);
                return list.get(i).map(|(d, _)| *d);
            }
        };
        let local = self.wall(t);
        if self.steady_around(t) {
            let n = cron.find_next_occurrence(&local, false).ok()?;
            if n <= local + DST_MARGIN
                && let Some(i) = self.resolve(n).into_iter().find(|i| *i > t)
            {
                return Some(i);
            }
        }
        // Near a change of offset (or a sparse expression): walk the wall
        // clock from before `t` and keep the earliest instant after `t`.
        let mut cursor = local - DST_MARGIN;
        let mut inclusive = true;
        let mut best: Option<(DateTime<Utc>, NaiveDateTime)> = None;
        while let Ok(n) = cron.find_next_occurrence(&cursor, inclusive) {
            if best.is_some_and(|(_, bn)| n > bn + DST_MARGIN) {
                break;
            }
            for i in self.resolve(n) {
                if i > t && best.is_none_or(|(b, _)| i < b) {
                    best = Some((i, n));
                }
            }
            cursor = n;
            inclusive = false;
        }
        best.map(|(i, _)| i)
    }

    /// The last tick strictly before `t`.
    pub fn previous_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let cron = match &self.kind {
            Kind::Pattern { cron, .. } => cron,
            Kind::Dates(list) => {
                let i = list.partition_point(|(d, _)| *d < t);
                return i.checked_sub(1).and_then(|i| list.get(i)).map(|(d, _)| *d);
            }
        };
        let local = self.wall(t);
        if self.steady_around(t) {
            let n = cron.find_previous_occurrence(&local, false).ok()?;
            if n >= local - DST_MARGIN
                && let Some(i) = self.resolve(n).into_iter().rev().find(|i| *i < t)
            {
                return Some(i);
            }
        }
        let mut cursor = local + DST_MARGIN;
        let mut inclusive = true;
        let mut best: Option<(DateTime<Utc>, NaiveDateTime)> = None;
        while let Ok(n) = cron.find_previous_occurrence(&cursor, inclusive) {
            if best.is_some_and(|(_, bn)| n < bn - DST_MARGIN) {
                break;
            }
            for i in self.resolve(n) {
                if i < t && best.is_none_or(|(b, _)| i > b) {
                    best = Some((i, n));
                }
            }
            cursor = n;
            inclusive = false;
        }
        best.map(|(i, _)| i)
    }

    /// The ticks `t` with `start <= t <= end`, in order.
    pub fn ticks_between(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Ticks<'_> {
        Ticks { cron: self, cursor: start - TimeDelta::nanoseconds(1), end }
    }

    /// Whether `t` is a tick.
    pub fn is_tick(&self, t: DateTime<Utc>) -> bool {
        self.next_after(t - TimeDelta::seconds(1)) == Some(t)
    }

    /// `t` as an ISO-8601 date-time with the zone's offset
    /// (`2024-03-10T03:30:00-04:00`, `2019-03-01T09:00:00Z`), as Kestra
    /// serialises `trigger.date`.
    pub fn format(&self, t: DateTime<Utc>) -> String {
        if let Kind::Dates(list) = &self.kind
            && !self.zoned
        {
            let i = list.partition_point(|(d, _)| *d < t);
            if let Some((d, o)) = list.get(i).filter(|(d, _)| *d == t) {
                return d.with_timezone(o).to_rfc3339_opts(SecondsFormat::Secs, true);
            }
        }
        t.with_timezone(&self.tz).fixed_offset().to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// The wall clock of the zone at `t`.
    fn wall(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.tz).naive_local()
    }

    /// No change of offset within the margin on either side of `t`.
    fn steady_around(&self, t: DateTime<Utc>) -> bool {
        let off = |x: DateTime<Utc>| self.tz.offset_from_utc_datetime(&x.naive_utc()).fix();
        let here = off(t);
        off(t - DST_MARGIN) == here && off(t + DST_MARGIN) == here
    }

    /// The instants a wall-clock tick stands for, in order (see the module
    /// documentation for gaps and overlaps).
    fn resolve(&self, n: NaiveDateTime) -> Vec<DateTime<Utc>> {
        let follows_real_time = matches!(self.kind, Kind::Pattern { follows_real_time: true, .. });
        match self.tz.from_local_datetime(&n) {
            LocalResult::Single(d) => vec![d.with_timezone(&Utc)],
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
                let (first, second) = if a <= b { (a, b) } else { (b, a) };
                if follows_real_time { vec![first, second] } else { vec![first] }
            }
            LocalResult::None => {
                // The offset before the gap: the wall time moved on by the gap's length.
                let before = self.tz.offset_from_utc_datetime(&(n - TimeDelta::days(1))).fix();
                vec![(n - TimeDelta::seconds(i64::from(before.local_minus_utc()))).and_utc()]
            }
        }
    }
}

/// The zone named by a trigger (UTC when absent or blank).
fn parse_zone(timezone: Option<&str>) -> Result<Tz, CronError> {
    match timezone.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Tz::UTC),
        Some(id) => id.parse::<Tz>().map_err(|_| CronError::Timezone(id.to_string())),
    }
}

/// The ticks of a [`Cron`] in a closed interval, in order.
#[derive(Debug, Clone)]
pub struct Ticks<'a> {
    cron: &'a Cron,
    cursor: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Iterator for Ticks<'_> {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        let n = self.cron.next_after(self.cursor)?;
        if n > self.end {
            self.cursor = self.end;
            return None;
        }
        self.cursor = n;
        Some(n)
    }
}
