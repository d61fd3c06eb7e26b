//! Public holidays for `PublicHoliday`, offline. Kestra asks the jollyday
//! library; Baton implements jollyday's rules for the countries in
//! [`SUPPORTED`] (national holidays, plus the subdivisions listed for each),
//! and any other country or subdivision is a validation error naming the
//! supported ones. Easter is computed (Gregorian computus), so every
//! Easter-based holiday follows.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use super::DayInMonth;
use super::dates::nth_in_month;

/// The countries (ISO 3166-1 alpha-2) whose holidays Baton computes.
pub const SUPPORTED: &[&str] = &["US", "FR", "DE", "GB"];

/// The subdivisions (jollyday's codes; `DE-BY` is read as `by`) Baton knows per country.
fn subdivisions(country: &str) -> &'static [&'static str] {
    match country {
        "FR" => &["ma", "gu", "gy", "lr", "br", "hr", "mo"],
        "DE" => &["be", "bb", "bw", "by", "he", "mv", "nw", "rp", "sl", "sn", "st", "th", "sh", "hh", "hb", "ni"],
        "GB" => &["al", "en", "gu", "im", "je", "ni", "sc", "wa"],
        _ => &[],
    }
}

/// The country code as Baton reads it (upper case).
fn norm_country(country: &str) -> String {
    country.trim().to_ascii_uppercase()
}

/// The subdivision code: lower case, without a `CC-` prefix.
fn norm_sub(country: &str, sub: &str) -> String {
    let s = sub.trim().to_ascii_lowercase();
    let prefix = format!("{}-", country.to_ascii_lowercase());
    s.strip_prefix(&prefix).map(str::to_string).unwrap_or(s)
}

/// Whether `country` (and `sub_division`) can be evaluated: `Err` names the
/// problem (prefixed `subDivision` when it is about the subdivision).
pub fn check(country: &str, sub_division: Option<&str>) -> Result<(), String> {
    let c = norm_country(country);
    if !SUPPORTED.contains(&c.as_str()) {
        return Err(format!(
            "country '{country}' is not supported by Baton's offline holiday calendar (supported: {})",
            SUPPORTED.join(", ")
        ));
    }
    if let Some(sub) = sub_division {
        let known = subdivisions(&c);
        if !known.contains(&norm_sub(&c, sub).as_str()) {
            let list = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            return Err(format!("subDivision '{sub}' of {c} is not supported (supported: {list})"));
        }
    }
    Ok(())
}

/// Whether `day` is a public holiday of `country` (and `sub_division`).
pub fn is_holiday(country: &str, sub_division: Option<&str>, day: NaiveDate) -> Result<bool, String> {
    check(country, sub_division)?;
    let c = norm_country(country);
    let sub = sub_division.map(|s| norm_sub(&c, s));
    let y = day.year();
    let mut days = match c.as_str() {
        "US" => us(y),
        "FR" => fr(y),
        "DE" => de(y),
        _ => gb(y),
    };
    if let Some(sub) = &sub {
        days.extend(match c.as_str() {
            "FR" => fr_sub(y, sub),
            "DE" => de_sub(y, sub),
            _ => gb_sub(y, sub),
        });
    }
    Ok(days.contains(&day))
}

/// Easter Sunday (Gregorian, the anonymous computus).
pub fn easter(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn easter_plus(y: i32, days: i64) -> Option<NaiveDate> {
    easter(y).map(|e| e + Duration::days(days))
}

fn nth(y: i32, m: u32, dow: Weekday, which: DayInMonth) -> Option<NaiveDate> {
    ymd(y, m, 1).and_then(|d| nth_in_month(d, dow, which))
}

/// A fixed date moved when it falls on a Saturday or a Sunday (jollyday's `MovingCondition`).
fn moved(d: Option<NaiveDate>, sat: (bool, Weekday), sun: (bool, Weekday)) -> Option<NaiveDate> {
    let d = d?;
    let to = |(next, wd): (bool, Weekday)| {
        let mut x = d;
        loop {
            x = if next { x.succ_opt()? } else { x.pred_opt()? };
            if x.weekday() == wd {
                return Some(x);
            }
        }
    };
    match d.weekday() {
        Weekday::Sat => to(sat),
        Weekday::Sun => to(sun),
        _ => Some(d),
    }
}

/// The Wednesday before November 23rd (Buß- und Bettag).
fn repentance(y: i32) -> Option<NaiveDate> {
    let mut d = ymd(y, 11, 23)?;
    loop {
        d = d.pred_opt()?;
        if d.weekday() == Weekday::Wed {
            return Some(d);
        }
    }
}

fn in_years(y: i32, from: i32, to: i32, d: Option<NaiveDate>) -> Option<NaiveDate> {
    if y >= from && y <= to { d } else { None }
}

const NEXT_MON: (bool, Weekday) = (true, Weekday::Mon);
const NEXT_TUE: (bool, Weekday) = (true, Weekday::Tue);

fn us(y: i32) -> Vec<NaiveDate> {
    use DayInMonth::*;
    use Weekday::*;
    let election = if y % 2 == 0 { nth(y, 11, Mon, First).map(|d| d + Duration::days(1)) } else { None };
    [
        ymd(y, 1, 1),
        in_years(y, 1869, 1967, ymd(y, 5, 30)),
        in_years(y, 2021, i32::MAX, moved(ymd(y, 6, 19), (false, Fri), NEXT_MON)),
        in_years(y, 1776, i32::MAX, ymd(y, 7, 4)),
        in_years(y, 1938, i32::MAX, ymd(y, 11, 11)),
        ymd(y, 12, 25),
        election,
        in_years(y, 1986, i32::MAX, nth(y, 1, Mon, Third)),
        in_years(y, 1971, i32::MAX, nth(y, 2, Mon, Third)),
        in_years(y, 1968, i32::MAX, nth(y, 5, Mon, Last)),
        in_years(y, 1895, i32::MAX, nth(y, 9, Mon, First)),
        in_years(y, 1937, i32::MAX, nth(y, 10, Mon, Second)),
        in_years(y, 1863, i32::MAX, nth(y, 11, Thu, Fourth)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn fr(y: i32) -> Vec<NaiveDate> {
    let whit_monday = if y <= 2003 || y >= 2008 { easter_plus(y, 50) } else { None };
    [
        ymd(y, 1, 1),
        ymd(y, 5, 1),
        ymd(y, 5, 8),
        ymd(y, 7, 14),
        ymd(y, 8, 15),
        ymd(y, 11, 1),
        ymd(y, 11, 11),
        ymd(y, 12, 25),
        easter(y),
        easter_plus(y, 1),
        easter_plus(y, 39),
        whit_monday,
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn fr_sub(y: i32, sub: &str) -> Vec<NaiveDate> {
    let v = match sub {
        "ma" => vec![ymd(y, 5, 22)],
        "gu" => vec![ymd(y, 5, 27)],
        "gy" => vec![ymd(y, 6, 10)],
        "lr" => vec![ymd(y, 12, 20)],
        "br" | "hr" => vec![ymd(y, 12, 26), easter_plus(y, -2)],
        "mo" => vec![ymd(y, 12, 26)],
        _ => vec![],
    };
    v.into_iter().flatten().collect()
}

fn de(y: i32) -> Vec<NaiveDate> {
    [
        ymd(y, 1, 1),
        ymd(y, 5, 1),
        in_years(y, 1954, 1990, ymd(y, 6, 17)),
        in_years(y, 1990, i32::MAX, ymd(y, 10, 3)),
        in_years(y, 2017, 2017, ymd(y, 10, 31)),
        ymd(y, 12, 25),
        ymd(y, 12, 26),
        in_years(y, 1934, 1938, repentance(y)),
        in_years(y, 1990, 1994, repentance(y)),
        easter_plus(y, -2),
        easter_plus(y, 1),
        easter_plus(y, 39),
        easter_plus(y, 50),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn de_sub(y: i32, sub: &str) -> Vec<NaiveDate> {
    let rep_45_89 = in_years(y, 1945, 1989, repentance(y));
    let corpus = easter_plus(y, 60);
    let reformation_2018 = in_years(y, 2018, i32::MAX, ymd(y, 10, 31));
    let v = match sub {
        "be" => vec![in_years(y, 2019, i32::MAX, ymd(y, 3, 8)), in_years(y, 2020, 2020, ymd(y, 5, 8)), rep_45_89],
        "bb" => vec![ymd(y, 10, 31), easter(y), easter_plus(y, 49)],
        "bw" => vec![ymd(y, 1, 6), ymd(y, 11, 1), rep_45_89, corpus],
        "by" => vec![ymd(y, 1, 6), ymd(y, 11, 1), in_years(y, 1981, 1989, repentance(y)), corpus],
        "he" => vec![rep_45_89, easter(y), corpus, easter_plus(y, 49)],
        "mv" => vec![in_years(y, 2023, i32::MAX, ymd(y, 3, 8)), ymd(y, 10, 31)],
        "nw" | "rp" => vec![ymd(y, 11, 1), rep_45_89, corpus],
        "sl" => vec![ymd(y, 11, 1), ymd(y, 8, 15), rep_45_89, corpus],
        "sn" => vec![ymd(y, 10, 31), in_years(y, 1995, i32::MAX, repentance(y))],
        "st" => vec![ymd(y, 10, 31), ymd(y, 1, 6)],
        "th" => vec![in_years(y, 2019, i32::MAX, ymd(y, 9, 20)), ymd(y, 10, 31)],
        "sh" | "hh" | "hb" | "ni" => vec![reformation_2018, rep_45_89],
        _ => vec![],
    };
    v.into_iter().flatten().collect()
}

fn gb(y: i32) -> Vec<NaiveDate> {
    use DayInMonth::*;
    use Weekday::*;
    [
        moved(ymd(y, 12, 26), NEXT_MON, NEXT_TUE),
        moved(ymd(y, 12, 25), NEXT_MON, NEXT_TUE),
        in_years(y, 2020, 2020, ymd(y, 5, 8)),
        in_years(y, 2022, 2022, ymd(y, 6, 2)),
        in_years(y, 2022, 2022, ymd(y, 6, 3)),
        in_years(y, 2022, 2022, ymd(y, 9, 19)),
        in_years(y, 2023, 2023, ymd(y, 5, 8)),
        in_years(y, 1900, 2019, nth(y, 5, Mon, First)),
        in_years(y, 2020, 2020, nth(y, 5, Fri, Second)),
        in_years(y, 2021, i32::MAX, nth(y, 5, Mon, First)),
        in_years(y, i32::MIN, 2021, nth(y, 5, Mon, Last)),
        in_years(y, 2023, i32::MAX, nth(y, 5, Mon, Last)),
        easter_plus(y, -2),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn gb_sub(y: i32, sub: &str) -> Vec<NaiveDate> {
    use DayInMonth::*;
    use Weekday::*;
    let v = match sub {
        "al" => vec![ymd(y, 1, 1)],
        "en" | "wa" => vec![moved(ymd(y, 1, 1), NEXT_MON, NEXT_MON), nth(y, 8, Mon, Last), easter_plus(y, 1)],
        "gu" | "je" => vec![ymd(y, 1, 1), ymd(y, 5, 9)],
        "im" => vec![ymd(y, 1, 1), ymd(y, 7, 5), nth(y, 6, Fri, Second)],
        "ni" => vec![
            ymd(y, 1, 1),
            moved(ymd(y, 3, 17), NEXT_MON, NEXT_MON),
            moved(ymd(y, 7, 12), NEXT_MON, NEXT_MON),
            nth(y, 8, Mon, Last),
            easter_plus(y, 1),
        ],
        "sc" => vec![
            moved(ymd(y, 1, 1), NEXT_TUE, NEXT_TUE),
            moved(ymd(y, 1, 2), NEXT_MON, NEXT_MON),
            ymd(y, 11, 30),
            nth(y, 8, Mon, First),
        ],
        _ => vec![],
    };
    v.into_iter().flatten().collect()
}
