//! Java `DateTimeFormatter` patterns and named formats (`iso`, `iso_sec`,
//! `sql`, `iso_instant`, `full`…): the pattern tokenizer, formatting a
//! [`Dt`] with a pattern or a name, and a pattern's strftime translation
//! for parsing (`existingFormat`).

use chrono::{Datelike, Timelike};
use chrono_tz::Tz;

use super::{Dt, Zone};

pub(super) fn java_to_strftime(pattern: &str) -> Result<String, String> {
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

pub(super) fn named_pattern(name: &str) -> Option<&'static str> {
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

pub(super) fn is_iso_name(name: &str) -> bool {
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
