//! ISO-8601 durations as Kestra writes them (`PT5M`, `PT1H30M`, `P1D`,
//! `PT0.5S`, `-PT1S`): parsing into `chrono::Duration`, formatting back in
//! Java's `Duration.toString()` shape.

use chrono::Duration;

/// Parses an ISO-8601 duration (`PnDTnHnMn.nS`, also `PnW`). Years and
/// months are rejected, as in `java.time.Duration`.
pub fn parse_iso(s: &str) -> Result<Duration, String> {
    let err = || format!("'{s}' is not an ISO-8601 duration (e.g. PT5M, PT1H30M, P1D, PT0.5S)");
    let t = s.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let t = t.strip_prefix('P').or_else(|| t.strip_prefix('p')).ok_or_else(err)?;
    if t.is_empty() {
        return Err(err());
    }
    let mut total_ms: f64 = 0.0;
    let mut in_time = false;
    let mut num = String::new();
    let mut any = false;
    for c in t.chars() {
        match c {
            'T' | 't' => {
                if in_time || !num.is_empty() {
                    return Err(err());
                }
                in_time = true;
            }
            '0'..='9' | '.' | ',' | '-' => num.push(if c == ',' { '.' } else { c }),
            _ => {
                let v: f64 = num.parse().map_err(|_| err())?;
                num.clear();
                any = true;
                let unit_ms = match (in_time, c.to_ascii_uppercase()) {
                    (false, 'W') => 7.0 * 86_400_000.0,
                    (false, 'D') => 86_400_000.0,
                    (true, 'H') => 3_600_000.0,
                    (true, 'M') => 60_000.0,
                    (true, 'S') => 1000.0,
                    _ => return Err(err()),
                };
                total_ms += v * unit_ms;
            }
        }
    }
    if !num.is_empty() || !any {
        return Err(err());
    }
    // beyond i64 milliseconds (about 292 million years) Java's Duration overflows too
    if !total_ms.is_finite() || total_ms.abs() >= i64::MAX as f64 {
        return Err(format!("'{s}' is too long a duration"));
    }
    let ms = total_ms.round() as i64;
    Ok(Duration::milliseconds(if neg { -ms } else { ms }))
}

/// Formats like Java's `Duration.toString()`: `PT0S`, `PT1.5S`, `PT1H2M3S`,
/// `PT48H` (Java never prints days).
pub fn format_iso(d: Duration) -> String {
    let mut ms = d.num_milliseconds();
    if ms == 0 {
        return "PT0S".to_string();
    }
    let mut out = String::from("PT");
    let neg = ms < 0;
    if neg {
        ms = -ms;
    }
    let sign = if neg { "-" } else { "" };
    let h = ms / 3_600_000;
    let m = (ms % 3_600_000) / 60_000;
    let s = (ms % 60_000) / 1000;
    let frac = ms % 1000;
    if h > 0 {
        out.push_str(&format!("{sign}{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{sign}{m}M"));
    }
    if s > 0 || frac > 0 {
        if frac > 0 {
            let f = format!("{frac:03}");
            out.push_str(&format!("{sign}{s}.{}S", f.trim_end_matches('0')));
        } else {
            out.push_str(&format!("{sign}{s}S"));
        }
    }
    out
}

/// Serde helpers for `Option<Duration>` fields written as ISO strings.
pub mod serde_opt {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::format_iso(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        match v {
            None => Ok(None),
            Some(s) => super::parse_iso(&s).map(Some).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_iso("PT5M").unwrap(), Duration::minutes(5));
        assert_eq!(parse_iso("PT1H30M").unwrap(), Duration::minutes(90));
        assert_eq!(parse_iso("P1D").unwrap(), Duration::days(1));
        assert_eq!(parse_iso("PT0.5S").unwrap(), Duration::milliseconds(500));
        assert_eq!(parse_iso("P1DT2H").unwrap(), Duration::hours(26));
        assert_eq!(parse_iso("-PT1S").unwrap(), Duration::seconds(-1));
        assert!(parse_iso("PT9999999999999999999H").unwrap_err().contains("too long"));
        assert!(parse_iso(&format!("PT{}S", "9".repeat(400))).unwrap_err().contains("too long"));
        assert!(parse_iso("5 minutes").is_err());
        assert!(parse_iso("P").is_err());
        assert!(parse_iso("PT").is_err());
        assert!(parse_iso("P1M").is_err());
    }

    #[test]
    fn formats_like_java() {
        assert_eq!(format_iso(Duration::zero()), "PT0S");
        assert_eq!(format_iso(Duration::milliseconds(1500)), "PT1.5S");
        assert_eq!(format_iso(Duration::seconds(3723)), "PT1H2M3S");
        assert_eq!(format_iso(Duration::hours(48)), "PT48H");
        assert_eq!(format_iso(Duration::milliseconds(12)), "PT0.012S");
    }
}
