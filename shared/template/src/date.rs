//! Dates for the `date`, `dateAdd`, `timestamp*` filters and `now()`: input
//! parsing (ISO strings, epoch seconds, `existingFormat`), time zones (IANA
//! via chrono-tz, fixed offsets), `dateAdd` arithmetic; Java
//! `DateTimeFormatter` patterns and named formats (`iso`, `iso_sec`, `sql`,
//! `iso_instant`, `full`…) in `java_format`.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetName, Tz};

mod java_format;

pub use java_format::format;
use java_format::{is_iso_name, java_to_strftime, named_pattern};

/// Where a date is displayed: a fixed offset or a region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// A fixed offset such as `+02:00` or `Z`.
    Fixed(FixedOffset),
    /// An IANA region such as `Europe/Paris` (or `UTC`).
    Named(Tz),
}

impl Zone {
    /// Parses a Java zone id (`UTC`, `Europe/Paris`, `+02:00`, `Z`); None means UTC.
    pub fn parse(id: Option<&str>) -> Result<Zone, String> {
        let Some(id) = id.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(Zone::Named(Tz::UTC));
        };
        if id == "Z" {
            return Ok(Zone::Fixed(FixedOffset::east_opt(0).unwrap_or(Utc.fix())));
        }
        if id.starts_with('+') || id.starts_with('-') {
            return parse_offset(id).map(Zone::Fixed).ok_or_else(|| format!("Invalid ID for ZoneOffset: {id}"));
        }
        if let Ok(tz) = id.parse::<Tz>() {
            return Ok(Zone::Named(tz));
        }
        for prefix in ["UTC", "GMT", "UT"] {
            if let Some(rest) = id.strip_prefix(prefix)
                && let Some(o) = parse_offset(rest)
            {
                return Ok(Zone::Fixed(o));
            }
        }
        Err(format!("Unknown time-zone ID: {id}"))
    }
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| c.is_ascii_digit()).collect();
    let (h, m, sec) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0, 0),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?, 0),
        6 => (digits[..2].parse().ok()?, digits[2..4].parse().ok()?, digits[4..].parse().ok()?),
        _ => return None,
    };
    FixedOffset::east_opt(sign * (h * 3600 + m * 60 + sec))
}

/// An instant shown in a zone.
#[derive(Debug, Clone, Copy)]
pub struct Dt {
    /// The instant.
    pub instant: DateTime<Utc>,
    /// The display zone.
    pub zone: Zone,
}

impl Dt {
    /// The instant `now` in UTC.
    pub fn now(zone: Zone) -> Dt {
        Dt { instant: Utc::now(), zone }
    }
    /// The UTC offset at this instant in the zone.
    pub fn offset(&self) -> FixedOffset {
        match self.zone {
            Zone::Fixed(o) => o,
            Zone::Named(tz) => tz.offset_from_utc_datetime(&self.instant.naive_utc()).fix(),
        }
    }
    /// The wall-clock date-time in the zone.
    pub fn local(&self) -> NaiveDateTime {
        self.instant.with_timezone(&self.offset()).naive_local()
    }
    fn zone_abbrev(&self) -> String {
        match self.zone {
            Zone::Fixed(o) => offset_id(o),
            Zone::Named(tz) => {
                let off = tz.offset_from_utc_datetime(&self.instant.naive_utc());
                off.abbreviation().map(str::to_string).unwrap_or_else(|| offset_id(off.fix()))
            }
        }
    }
    fn zone_id(&self) -> String {
        match self.zone {
            Zone::Fixed(o) => offset_id(o),
            Zone::Named(tz) => tz.name().to_string(),
        }
    }
    /// Builds a date from a wall-clock time in `zone`.
    pub fn from_local(local: NaiveDateTime, zone: Zone) -> Dt {
        let instant = match zone {
            Zone::Fixed(o) => o.from_local_datetime(&local).earliest().map(|d| d.with_timezone(&Utc)),
            Zone::Named(tz) => tz
                .from_local_datetime(&local)
                .earliest()
                .or_else(|| tz.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest())
                .map(|d| d.with_timezone(&Utc)),
        };
        Dt { instant: instant.unwrap_or_else(|| Utc.from_utc_datetime(&local)), zone }
    }
}

fn offset_id(o: FixedOffset) -> String {
    let s = o.local_minus_utc();
    if s == 0 {
        return "Z".into();
    }
    let sign = if s < 0 { '-' } else { '+' };
    let a = s.abs();
    if a % 60 != 0 {
        format!("{sign}{:02}:{:02}:{:02}", a / 3600, a / 60 % 60, a % 60)
    } else {
        format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
    }
}

/// A date input: an ISO string, epoch seconds or a string in `existing_format`.
pub enum Input<'a> {
    /// A string.
    Str(&'a str),
    /// Epoch seconds.
    Epoch(f64),
}

/// Converts an input to a date shown in `zone` (Kestra's `AbstractDate.convert`).
pub fn convert(input: Input<'_>, zone: Zone, existing_format: Option<&str>) -> Result<Dt, String> {
    match input {
        Input::Epoch(secs) => {
            let whole = secs.floor();
            let nanos = ((secs - whole) * 1e9).round() as u32;
            let instant = Utc
                .timestamp_opt(whole as i64, nanos.min(999_999_999))
                .single()
                .ok_or_else(|| format!("invalid epoch seconds {secs}"))?;
            Ok(Dt { instant, zone })
        }
        Input::Str(s) => {
            let s = s.trim();
            if let Some(fmt) = existing_format {
                return parse_with_pattern(s, fmt, zone);
            }
            parse_iso(s, zone).ok_or_else(|| format!("Text '{s}' could not be parsed as a date"))
        }
    }
}

fn parse_iso(s: &str, zone: Zone) -> Option<Dt> {
    let (body, _region) = match s.find('[') {
        Some(i) if s.ends_with(']') => (&s[..i], Some(&s[i + 1..s.len() - 1])),
        _ => (s, None),
    };
    let normalized = if let Some(b) = body.strip_suffix('Z').or_else(|| body.strip_suffix('z')) {
        format!("{b}+00:00")
    } else {
        body.to_string()
    };
    for f in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(d) = DateTime::parse_from_str(&normalized, f) {
            return Some(Dt { instant: d.with_timezone(&Utc), zone });
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(body, f) {
            return Some(Dt::from_local(d, zone));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(body, "%Y-%m-%d") {
        return Some(Dt::from_local(d.and_time(chrono::NaiveTime::MIN), zone));
    }
    None
}

/// Parses `s` with a Java pattern (`existingFormat`).
fn parse_with_pattern(s: &str, pattern: &str, zone: Zone) -> Result<Dt, String> {
    if let Some(named) = named_pattern(pattern) {
        return parse_with_pattern(s, named, zone);
    }
    if is_iso_name(pattern) {
        return parse_iso(s, zone).ok_or_else(|| format!("Text '{s}' could not be parsed with format {pattern}"));
    }
    let fmt = java_to_strftime(pattern)?;
    if let Ok(d) = DateTime::parse_from_str(s, &fmt) {
        return Ok(Dt { instant: d.with_timezone(&Utc), zone });
    }
    for (extra_f, extra_s) in [("", ""), ("|%M", "|00"), ("|%M|%S", "|00|00")] {
        if let Ok(d) = NaiveDateTime::parse_from_str(&format!("{s}{extra_s}"), &format!("{fmt}{extra_f}")) {
            return Ok(Dt::from_local(d, zone));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, &fmt) {
        return Ok(Dt::from_local(d.and_time(chrono::NaiveTime::MIN), zone));
    }
    for (extra_f, extra_s) in [("|%d", "|01"), ("|%m|%d", "|01|01")] {
        if let Ok(d) = NaiveDate::parse_from_str(&format!("{s}{extra_s}"), &format!("{fmt}{extra_f}")) {
            return Ok(Dt::from_local(d.and_time(chrono::NaiveTime::MIN), zone));
        }
    }
    Err(format!("Text '{s}' could not be parsed with format '{pattern}'"))
}

/// `dateAdd`: adds `amount` ChronoUnits (`DAYS`, `HOURS`…).
pub fn add(dt: &Dt, amount: i64, unit: &str) -> Result<Dt, String> {
    // every step is checked: an absurd amount is "date out of range", never a panic
    let out_of_range = || format!("dateAdd({amount}, '{unit}'): date out of range");
    let time = |secs: i64, nanos: i64| -> Result<Dt, String> {
        let d = secs
            .checked_mul(amount)
            .and_then(chrono::TimeDelta::try_seconds)
            .zip(nanos.checked_mul(amount).map(chrono::TimeDelta::nanoseconds))
            .and_then(|(a, b)| a.checked_add(&b))
            .ok_or_else(out_of_range)?;
        let instant = dt.instant.checked_add_signed(d).ok_or_else(out_of_range)?;
        Ok(Dt { instant, zone: dt.zone })
    };
    let months = |m: i64| -> Result<Dt, String> {
        let total = m.checked_mul(amount).ok_or_else(out_of_range)?;
        let n = u32::try_from(total.unsigned_abs()).map_err(|_| out_of_range())?;
        let l = dt.local();
        let r = if total >= 0 {
            l.checked_add_months(chrono::Months::new(n))
        } else {
            l.checked_sub_months(chrono::Months::new(n))
        };
        Ok(Dt::from_local(r.ok_or_else(out_of_range)?, dt.zone))
    };
    match unit.to_ascii_uppercase().as_str() {
        "NANOS" => time(0, 1),
        "MICROS" => time(0, 1_000),
        "MILLIS" => time(0, 1_000_000),
        "SECONDS" => time(1, 0),
        "MINUTES" => time(60, 0),
        "HOURS" => time(3600, 0),
        "HALF_DAYS" => time(43200, 0),
        "DAYS" | "WEEKS" => {
            let days: i64 = if unit.eq_ignore_ascii_case("WEEKS") { 7 } else { 1 };
            let l = dt.local();
            let r = days
                .checked_mul(amount)
                .and_then(chrono::TimeDelta::try_days)
                .and_then(|d| l.checked_add_signed(d))
                .ok_or_else(out_of_range)?;
            Ok(Dt::from_local(r, dt.zone))
        }
        "MONTHS" => months(1),
        "YEARS" => months(12),
        "DECADES" => months(120),
        "CENTURIES" => months(1200),
        "MILLENNIA" => months(12000),
        other => Err(format!("No enum constant java.time.temporal.ChronoUnit.{other}")),
    }
}

#[cfg(test)]
mod tests;
