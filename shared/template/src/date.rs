//! Dates for the `date`, `dateAdd`, `timestamp*` filters and `now()`: input
//! parsing (ISO strings, epoch seconds, `existingFormat`), time zones (IANA
//! via chrono-tz, fixed offsets) and Java `DateTimeFormatter` patterns and
//! named formats (`iso`, `iso_sec`, `sql`, `iso_instant`, `full`…).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::{OffsetName, Tz};

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

fn java_to_strftime(pattern: &str) -> Result<String, String> {
    let mut out = String::new();
    for tok in tokenize(pattern)? {
        match tok {
            Tok::Lit(s) => out.push_str(&s.replace('%', "%%")),
            Tok::Field(c, n) => out.push_str(match (c, n) {
                ('y' | 'u', 2) => "%y",
                ('y' | 'u', _) => "%Y",
                ('M' | 'L', 1 | 2) => "%m",
                ('M' | 'L', 3) => "%b",
                ('M' | 'L', _) => "%B",
                ('d', _) => "%d",
                ('D', _) => "%j",
                ('H' | 'k', _) => "%H",
                ('h' | 'K', _) => "%I",
                ('m', _) => "%M",
                ('s', _) => "%S",
                ('S', 3) => "%3f",
                ('S', 6) => "%6f",
                ('S', 9) => "%9f",
                ('S', _) => "%f",
                ('a', _) => "%p",
                ('E', 4) => "%A",
                ('E', _) => "%a",
                ('X' | 'x', 1 | 2) | ('Z', 1..=3) => "%z",
                ('X' | 'x', _) | ('Z', _) => "%:z",
                ('z' | 'V', _) => "%Z",
                (c, _) => return Err(format!("Unsupported pattern letter '{c}' in existingFormat")),
            }),
        }
    }
    Ok(out)
}

// ------------------------------------------------------------ formatting

enum Tok {
    Lit(String),
    Field(char, usize),
}

fn tokenize(pattern: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                out.push(Tok::Lit("'".into()));
                i += 2;
                continue;
            }
            let mut lit = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("Pattern ends with an incomplete string literal: {pattern}")),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        lit.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        lit.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Lit(lit));
        } else if c.is_ascii_alphabetic() {
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            out.push(Tok::Field(c, n));
            i += n;
        } else if c == '[' || c == ']' {
            i += 1;
        } else {
            out.push(Tok::Lit(c.to_string()));
            i += 1;
        }
    }
    Ok(out)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

fn pad(out: &mut String, v: i64, n: usize) {
    if v < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:0n$}", v.unsigned_abs()));
}

fn offset_fmt(out: &mut String, secs: i32, colon: bool, with_minutes: bool, z_for_zero: bool, seconds: bool) {
    if secs == 0 && z_for_zero {
        out.push('Z');
        return;
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    out.push(sign);
    out.push_str(&format!("{h:02}"));
    if with_minutes || m != 0 || s != 0 {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{m:02}"));
    }
    if seconds && s != 0 {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{s:02}"));
    }
}

/// Formats with a Java `DateTimeFormatter` pattern.
pub fn format_pattern(pattern: &str, dt: &Dt) -> Result<String, String> {
    let l = dt.local();
    let off = dt.offset().local_minus_utc();
    let mut out = String::with_capacity(pattern.len() + 8);
    for tok in tokenize(pattern)? {
        let (c, n) = match tok {
            Tok::Lit(s) => {
                out.push_str(&s);
                continue;
            }
            Tok::Field(c, n) => (c, n),
        };
        match c {
            'y' | 'u' | 'Y' => {
                let y = if c == 'Y' { l.iso_week().year() } else { l.year() } as i64;
                if n == 2 { pad(&mut out, y.rem_euclid(100), 2) } else { pad(&mut out, y, n) }
            }
            'M' | 'L' => match n {
                1 | 2 => pad(&mut out, l.month() as i64, n),
                3 => out.push_str(&MONTHS[l.month0() as usize][..3]),
                4 => out.push_str(MONTHS[l.month0() as usize]),
                _ => out.push_str(&MONTHS[l.month0() as usize][..1]),
            },
            'd' => pad(&mut out, l.day() as i64, n),
            'D' => pad(&mut out, l.ordinal() as i64, n),
            'H' => pad(&mut out, l.hour() as i64, n),
            'k' => pad(&mut out, if l.hour() == 0 { 24 } else { l.hour() as i64 }, n),
            'h' => pad(&mut out, (l.hour() as i64 + 11) % 12 + 1, n),
            'K' => pad(&mut out, l.hour() as i64 % 12, n),
            'm' => pad(&mut out, l.minute() as i64, n),
            's' => pad(&mut out, l.second() as i64, n),
            'S' => {
                let digits = format!("{:09}", l.nanosecond().min(999_999_999));
                if n <= 9 {
                    out.push_str(&digits[..n]);
                } else {
                    out.push_str(&digits);
                    out.push_str(&"0".repeat(n - 9));
                }
            }
            'n' => out.push_str(&l.nanosecond().to_string()),
            'A' => out.push_str(
                &(l.num_seconds_from_midnight() as u64 * 1000 + l.nanosecond() as u64 / 1_000_000).to_string(),
            ),
            'a' => out.push_str(if l.hour() < 12 { "AM" } else { "PM" }),
            'E' | 'e' | 'c' => {
                let wd = l.weekday().num_days_from_monday() as usize;
                match (c, n) {
                    ('e' | 'c', 1 | 2) => pad(&mut out, (l.weekday().num_days_from_sunday() + 1) as i64, n),
                    (_, 4) => out.push_str(DAYS[wd]),
                    (_, 5) => out.push_str(&DAYS[wd][..1]),
                    _ => out.push_str(&DAYS[wd][..3]),
                }
            }
            'w' => pad(&mut out, l.iso_week().week() as i64, n),
            'W' => pad(&mut out, ((l.day() + 6 - l.weekday().num_days_from_monday()) / 7 + 1) as i64, n),
            'Q' | 'q' => {
                let q = l.month0() / 3 + 1;
                match n {
                    1 | 2 => pad(&mut out, q as i64, n),
                    3 => out.push_str(&format!("Q{q}")),
                    _ => out.push_str(["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"][q as usize - 1]),
                }
            }
            'G' => out.push_str(if n == 4 { "Anno Domini" } else { "AD" }),
            'X' => match n {
                1 => offset_fmt(&mut out, off, false, false, true, false),
                2 => offset_fmt(&mut out, off, false, true, true, false),
                3 => offset_fmt(&mut out, off, true, true, true, false),
                4 => offset_fmt(&mut out, off, false, true, true, true),
                _ => offset_fmt(&mut out, off, true, true, true, true),
            },
            'x' => match n {
                1 => offset_fmt(&mut out, off, false, false, false, false),
                2 => offset_fmt(&mut out, off, false, true, false, false),
                3 => offset_fmt(&mut out, off, true, true, false, false),
                4 => offset_fmt(&mut out, off, false, true, false, true),
                _ => offset_fmt(&mut out, off, true, true, false, true),
            },
            'Z' => match n {
                1..=3 => offset_fmt(&mut out, off, false, true, false, false),
                4 => {
                    out.push_str("GMT");
                    if off != 0 {
                        offset_fmt(&mut out, off, true, true, false, true);
                    }
                }
                _ => offset_fmt(&mut out, off, true, true, true, true),
            },
            'O' => {
                out.push_str("GMT");
                if off != 0 {
                    if n == 4 {
                        offset_fmt(&mut out, off, true, true, false, true);
                    } else {
                        let a = off.abs();
                        out.push(if off < 0 { '-' } else { '+' });
                        out.push_str(&(a / 3600).to_string());
                        if a / 60 % 60 != 0 {
                            out.push_str(&format!(":{:02}", a / 60 % 60));
                        }
                    }
                }
            }
            'z' => {
                if n == 4 {
                    match dt.zone {
                        Zone::Named(Tz::UTC) | Zone::Named(Tz::Etc__UTC) => out.push_str("Coordinated Universal Time"),
                        _ => out.push_str(&dt.zone_id()),
                    }
                } else {
                    out.push_str(&dt.zone_abbrev());
                }
            }
            'V' => out.push_str(&dt.zone_id()),
            other => return Err(format!("Unknown pattern letter: {other}")),
        }
    }
    Ok(out)
}

fn named_pattern(name: &str) -> Option<&'static str> {
    Some(match name {
        "iso" | "iso8601" => "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
        "iso_sec" => "yyyy-MM-dd'T'HH:mm:ssXXX",
        "iso_milli" => "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
        "sql" => "yyyy-MM-dd HH:mm:ss.SSSSSS",
        "sql_sec" | "sql_seconds" => "yyyy-MM-dd HH:mm:ss",
        "sql_milli" => "yyyy-MM-dd HH:mm:ss.SSS",
        "short" => "M/d/yy, h:mm\u{202f}a",
        "medium" => "MMM d, y, h:mm:ss\u{202f}a",
        "long" => "MMMM d, y 'at' h:mm:ss\u{202f}a z",
        "full" => "EEEE, MMMM d, y 'at' h:mm:ss\u{202f}a zzzz",
        _ => return None,
    })
}

fn is_iso_name(name: &str) -> bool {
    name.starts_with("iso_") || name == "basic_iso_date" || name == "rfc_1123_date_time"
}

/// Java's ISO fraction: minimal digits, none when zero.
fn iso_fraction(out: &mut String, nanos: u32, groups_of_3: bool) {
    if nanos == 0 {
        return;
    }
    let mut d = format!("{:09}", nanos.min(999_999_999));
    if groups_of_3 {
        while d.ends_with("000") {
            d.truncate(d.len() - 3);
        }
    } else {
        while d.ends_with('0') {
            d.pop();
        }
    }
    out.push('.');
    out.push_str(&d);
}

fn iso_named(name: &str, dt: &Dt) -> Option<String> {
    let l = dt.local();
    let off = dt.offset().local_minus_utc();
    let date = format!("{:04}-{:02}-{:02}", l.year(), l.month(), l.day());
    let mut time = format!("{:02}:{:02}:{:02}", l.hour(), l.minute(), l.second());
    iso_fraction(&mut time, l.nanosecond(), false);
    let mut offset = String::new();
    offset_fmt(&mut offset, off, true, true, true, true);
    let region = match dt.zone {
        Zone::Named(tz) => format!("[{}]", tz.name()),
        Zone::Fixed(_) => String::new(),
    };
    Some(match name {
        "iso_local_date" => date,
        "iso_local_time" => time,
        "iso_local_date_time" => format!("{date}T{time}"),
        "iso_date" | "iso_offset_date" => format!("{date}{offset}"),
        "iso_time" | "iso_offset_time" => format!("{time}{offset}"),
        "iso_offset_date_time" => format!("{date}T{time}{offset}"),
        "iso_date_time" | "iso_zoned_date_time" => format!("{date}T{time}{offset}{region}"),
        "iso_instant" => {
            let u = dt.instant.naive_utc();
            let mut s = u.format("%Y-%m-%dT%H:%M:%S").to_string();
            iso_fraction(&mut s, u.nanosecond(), true);
            s.push('Z');
            s
        }
        "iso_ordinal_date" => format!("{:04}-{:03}{offset}", l.year(), l.ordinal()),
        "iso_week_date" => {
            let w = l.iso_week();
            format!("{:04}-W{:02}-{}{offset}", w.year(), w.week(), l.weekday().number_from_monday())
        }
        "basic_iso_date" => {
            let mut o = String::new();
            offset_fmt(&mut o, off, false, true, true, false);
            format!("{:04}{:02}{:02}{o}", l.year(), l.month(), l.day())
        }
        "rfc_1123_date_time" => {
            let mut o = String::new();
            if off == 0 {
                o.push_str("GMT");
            } else {
                offset_fmt(&mut o, off, false, true, false, false);
            }
            format!(
                "{}, {} {} {:04} {:02}:{:02}:{:02} {o}",
                &DAYS[l.weekday().num_days_from_monday() as usize][..3],
                l.day(),
                &MONTHS[l.month0() as usize][..3],
                l.year(),
                l.hour(),
                l.minute(),
                l.second()
            )
        }
        _ => return None,
    })
}

/// Formats with a named format or a Java pattern; None means `iso`.
pub fn format(dt: &Dt, format: Option<&str>) -> Result<String, String> {
    let f = format.unwrap_or("iso");
    if let Some(p) = named_pattern(f) {
        return format_pattern(p, dt);
    }
    if let Some(s) = iso_named(&f.to_ascii_lowercase(), dt).filter(|_| is_iso_name(&f.to_ascii_lowercase())) {
        return Ok(s);
    }
    format_pattern(f, dt)
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
