//! Numbers of XML texts as Kestra's `XmlToIon` writes them. org.json's
//! `XML.stringToValue` (the version plugin-serdes pins) makes a text in
//! decimal notation (a `.`, an `e`/`E`, or `-0`) a `BigDecimal`, which
//! keeps its digits and scale (`1.50` stays `1.50`, `1e3` is `1d3`); a
//! negative zero a `Double`; an integer the smallest of Integer, Long and
//! BigInteger (so past 64 bits still an integer); leading zeros (`007`,
//! `-01`) keep the text. A `BigDecimal` that Java cannot build falls back
//! to `Double.valueOf` (`1.5d`, `2f`).
//!
//! A JSON value cannot hold a decimal's scale or an integer past 64 bits,
//! so the tree carries such a number as a string marked by a leading NUL
//! ([`RAW`]) holding its Ion text; a text that itself starts with NUL is
//! stored with a second NUL. [`super::exact`] turns the marks back into
//! Ion numbers (and plain strings) on the output line.

use std::io::Write;

use serde_json::Value;

use crate::core::ion_text::RAW;

/// A text kept as a string in the tree (a leading NUL doubled).
pub fn text(s: &str) -> Value {
    if s.starts_with(RAW) { Value::String(format!("{RAW}{s}")) } else { Value::String(s.to_string()) }
}

/// org.json's `stringToNumber`, for a text starting with a digit or `-`.
pub fn number(s: &str) -> Option<Value> {
    if s.contains(['.', 'e', 'E']) || s == "-0" {
        return match big_decimal(s) {
            Some(d) => Some(d),
            None => java_double(s),
        };
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    let b = digits.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    match s.parse::<i64>() {
        Ok(n) => Some(Value::from(n)),
        // a BigInteger: an Ion int of any size
        Err(_) => Some(raw(s.to_string())),
    }
}

fn raw(ion: String) -> Value {
    Value::String(format!("{RAW}{ion}"))
}

/// `new BigDecimal(s)` written as an Ion decimal with the same digits and
/// scale; `-0`, `-0.0`… are the `Double` -0.0 (Ion float `-0e0`).
fn big_decimal(s: &str) -> Option<Value> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let exp: i64 = match exp {
        None => 0,
        Some(e) => {
            let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
            if unsigned.is_empty() || !all_digits(unsigned) {
                return None;
            }
            // Java's exponent is an int
            i32::try_from(e.parse::<i64>().ok()?).ok()?.into()
        }
    };
    let scale = i32::try_from(frac.len() as i64 - exp).ok()?;
    let unscaled = format!("{int}{frac}");
    let unscaled = unscaled.trim_start_matches('0');
    if unscaled.is_empty() {
        if neg {
            return Some(raw("-0e0".to_string()));
        }
        return Some(raw(decimal_text(false, "0", scale)));
    }
    Some(raw(decimal_text(neg, unscaled, scale)))
}

/// Ion text of unscaled × 10^-scale: plain digits with a point when the
/// scale is positive (`1.50`, `0.001`, also valid JSON), else `d` notation.
fn decimal_text(neg: bool, unscaled: &str, scale: i32) -> String {
    let sign = if neg { "-" } else { "" };
    if scale > 0 {
        let width = scale as usize + 1;
        let digits = format!("{unscaled:0>width$}");
        let (int, frac) = digits.split_at(digits.len() - scale as usize);
        format!("{sign}{int}.{frac}")
    } else {
        format!("{sign}{unscaled}d{}", -i64::from(scale))
    }
}

/// `Double.valueOf`, where `BigDecimal` refused: a decimal with Java's
/// `d`/`f` suffix (hexadecimal floats stay text).
fn java_double(s: &str) -> Option<Value> {
    let body = s.strip_suffix(['d', 'D', 'f', 'F'])?;
    big_decimal(body)?;
    let f = body.parse::<f64>().ok().filter(|f| f.is_finite())?;
    Some(raw(format!("{f:e}")))
}

/// Writes one record as an Ion line (see [`super::exact`]).
pub fn write_record(v: &Value, out: &mut impl Write) -> std::io::Result<()> {
    super::exact::write_ion_record(v, out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn line(v: &Value) -> String {
        let mut out = Vec::new();
        write_record(v, &mut out).unwrap();
        String::from_utf8(out).unwrap().trim_end().to_string()
    }

    fn ion(s: &str) -> String {
        line(&crate::serdes::xml_tree::typed(s))
    }

    #[test]
    fn decimals_keep_their_digits_and_scale_as_big_decimal_does() {
        assert_eq!(ion("1.50"), "1.50");
        assert_eq!(ion("-1.50"), "-1.50");
        assert_eq!(ion("0.001"), "0.001");
        assert_eq!(ion(".5"), "\".5\""); // a text not starting with a digit or '-'
        assert_eq!(ion("-.5"), "-0.5");
        assert_eq!(ion("00.50"), "0.50");
        assert_eq!(ion("1e3"), "1d3");
        assert_eq!(ion("1.5E3"), "15d2");
        assert_eq!(ion("1.5e-3"), "0.0015");
        assert_eq!(ion("5."), "5d0");
        assert_eq!(ion("0.00"), "0.00");
        assert_eq!(ion("-0"), "-0e0");
        assert_eq!(ion("-0.0"), "-0e0");
        assert_eq!(ion("1.5d"), "1.5e0");
        assert_eq!(ion("1e"), "\"1e\"");
        assert_eq!(ion("1.2.3"), "\"1.2.3\"");
        assert_eq!(ion("1e99999999999"), "\"1e99999999999\"");
    }

    #[test]
    fn integers_narrow_and_past_64_bits_stay_integers() {
        assert_eq!(ion("42"), "42");
        assert_eq!(ion("-7"), "-7");
        assert_eq!(ion("9223372036854775807"), "9223372036854775807");
        assert_eq!(ion("12345678901234567890123"), "12345678901234567890123");
        assert_eq!(ion("007"), "\"007\"");
        assert_eq!(ion("-01"), "\"-01\"");
        assert_eq!(ion("1-2"), "\"1-2\"");
    }

    #[test]
    fn a_text_starting_with_nul_stays_that_text() {
        let v = json!({"a": text("\u{0}1.5"), "b": [number("2.50").unwrap()]});
        assert_eq!(line(&v), r#"{"a":"\u00001.5","b":[2.50]}"#);
    }

    #[test]
    fn written_lines_read_back_as_the_same_numbers() {
        let v = json!({"p": number("1.50").unwrap(), "r": number("1e3").unwrap()});
        let back = crate::core::ion_text::parse_line(&line(&v)).unwrap();
        assert_eq!(back, json!({"p": 1.5, "r": 1000.0}));
    }
}
