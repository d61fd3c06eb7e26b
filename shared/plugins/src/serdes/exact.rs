//! Numbers a JSON value cannot hold — an Ion decimal's digits and scale
//! (`1.50`, `12345678901234567890.123`), an integer past 64 bits — carried
//! through a conversion as strings marked by [`ion_text::RAW`] holding
//! their Ion text: made by `XmlToIon` (`xml_number`) and by the exact Ion
//! reading of `IonToJson` and `IonToCsv` ([`ion_text::parse_line_exact`]).
//! This file writes them back: as Ion text on an Ion line, and as Kestra
//! prints the `BigDecimal`/`BigInteger` its Ion reader makes, Java's
//! `toString` (`1.50`, `1E+3`), in JSON and CSV.

use std::io::Write;

use serde_json::Value;

use crate::core::ion_text;

/// Writes one record as an Ion line: JSON, with the marked numbers as
/// their Ion text.
pub fn write_ion_record(v: &Value, out: &mut impl Write) -> std::io::Result<()> {
    write_value(v, out, Target::Ion)?;
    out.write_all(b"\n")
}

/// Writes one value as compact JSON (as `serde_json::to_writer` does), the
/// marked numbers as Java prints them.
pub fn write_json(v: &Value, out: &mut impl Write) -> std::io::Result<()> {
    write_value(v, out, Target::Json)
}

/// A marked number as Java's `toString` prints the `BigDecimal` (or
/// `BigInteger`, or `Double` for an Ion float) Kestra reads it into;
/// `None` if `v` is not a marked number.
pub fn java_text(v: &Value) -> Option<String> {
    ion_text::exact_number(v).map(java_of_ion)
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Ion,
    Json,
}

fn write_value(v: &Value, out: &mut impl Write, target: Target) -> std::io::Result<()> {
    match v {
        Value::String(s) => match ion_text::exact_number(v) {
            Some(ion) if target == Target::Ion => out.write_all(ion.as_bytes()),
            Some(ion) => out.write_all(java_of_ion(ion).as_bytes()),
            None => scalar(out, ion_text::plain_text(s)),
        },
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_value(item, out, target)?;
            }
            out.write_all(b"]")
        }
        Value::Object(m) => {
            out.write_all(b"{")?;
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                scalar(out, k)?;
                out.write_all(b":")?;
                write_value(item, out, target)?;
            }
            out.write_all(b"}")
        }
        other => scalar(out, other),
    }
}

/// serde_json's compact writing of a scalar.
fn scalar<T: serde::Serialize + ?Sized>(out: &mut impl Write, v: &T) -> std::io::Result<()> {
    serde_json::to_writer(out, v).map_err(std::io::Error::other)
}

/// Java's text of an Ion number: an int as written, a float as
/// `Double.toString`, a decimal as `BigDecimal.toString`.
fn java_of_ion(ion: &str) -> String {
    let (neg, body) = match ion.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, ion.strip_prefix('+').unwrap_or(ion)),
    };
    if ion.contains(['e', 'E']) {
        return match ion.parse::<f64>() {
            Ok(f) => super::csv_write::java_double(f),
            Err(_) => ion.to_string(),
        };
    }
    let (mantissa, exp) = match body.find(['d', 'D']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()),
        None => (body, Some(0)),
    };
    let Some(exp) = exp else { return ion.to_string() };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    let unscaled = digits.trim_start_matches('0');
    let unscaled = if unscaled.is_empty() { "0" } else { unscaled };
    let scale = frac.len() as i64 - exp;
    big_decimal_string(neg && unscaled != "0", unscaled, scale)
}

/// `BigDecimal.toString` of `±unscaled × 10^-scale`: plain when the scale
/// is not negative and the adjusted exponent is at least -6, else
/// scientific (`1.23E+5`, `1E-7`).
fn big_decimal_string(neg: bool, unscaled: &str, scale: i64) -> String {
    let sign = if neg { "-" } else { "" };
    let len = unscaled.len() as i64;
    let adjusted = len - 1 - scale;
    if scale == 0 {
        return format!("{sign}{unscaled}");
    }
    if scale > 0 && adjusted >= -6 {
        return if len > scale {
            let (a, b) = unscaled.split_at((len - scale) as usize);
            format!("{sign}{a}.{b}")
        } else {
            format!("{sign}0.{}{unscaled}", "0".repeat((scale - len) as usize))
        };
    }
    let (first, rest) = unscaled.split_at(1);
    let point = if rest.is_empty() { String::new() } else { format!(".{rest}") };
    let plus = if adjusted > 0 { "+" } else { "" };
    format!("{sign}{first}{point}E{plus}{adjusted}")
}

/// A marked number whose Ion text is `ion` (tests and readers).
#[cfg(test)]
pub fn mark(ion: &str) -> Value {
    Value::String(format!("{}{ion}", ion_text::RAW))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::ion_text::RAW;

    #[test]
    fn decimals_print_as_big_decimal_does() {
        for (ion, java) in [
            ("1.50", "1.50"),
            ("-1.50", "-1.50"),
            ("12345678901234567890.123", "12345678901234567890.123"),
            ("1d3", "1E+3"),
            ("15d2", "1.5E+3"),
            ("0.0015", "0.0015"),
            ("0.0000001", "1E-7"),
            ("0.00", "0.00"),
            ("-0.0", "0.0"),
            ("0d3", "0E+3"),
            ("5d0", "5"),
            ("1.", "1"),
            ("123456789012345678901234", "123456789012345678901234"),
            ("1.5e0", "1.5"),
            ("-0e0", "-0.0"),
        ] {
            assert_eq!(java_of_ion(ion), java, "{ion}");
        }
    }

    #[test]
    fn json_and_ion_lines_keep_the_digits() {
        let v = json!({"p": mark("1.50"), "r": mark("1d3"), "s": format!("{RAW}{RAW}x"), "n": [1, 2.5, null]});
        let mut j = Vec::new();
        write_json(&v, &mut j).unwrap();
        assert_eq!(String::from_utf8(j).unwrap(), r#"{"p":1.50,"r":1E+3,"s":"\u0000x","n":[1,2.5,null]}"#);
        let mut i = Vec::new();
        write_ion_record(&v, &mut i).unwrap();
        assert_eq!(String::from_utf8(i).unwrap(), "{\"p\":1.50,\"r\":1d3,\"s\":\"\\u0000x\",\"n\":[1,2.5,null]}\n");
        assert_eq!(java_text(&v["p"]).as_deref(), Some("1.50"));
        assert_eq!(java_text(&v["s"]), None);
        let plain = json!({"a": "x", "b": [true, {"c": 1.25}]});
        let mut j = Vec::new();
        write_json(&plain, &mut j).unwrap();
        assert_eq!(j, serde_json::to_vec(&plain).unwrap(), "plain values as serde_json writes them");
    }

    fn ion_to_json(ion: &str) -> String {
        super::super::json::convert_text(ion, false, true).unwrap()
    }

    fn ion_to_csv(ion: &str) -> String {
        let csv = super::super::csv_write::convert_bytes(ion, json!({})).unwrap();
        String::from_utf8(csv).unwrap()
    }

    #[test]
    fn xml_to_ion_to_json_and_csv_keeps_decimals_as_kestra_does() {
        let xml = "<r><p>1.50</p><big>12345678901234567890.123</big><e>1e3</e><n>12345678901234567890123</n>\
                   <f>2.5</f><t>007</t></r>";
        let ion = super::super::xml_read::convert_text(xml).unwrap();
        assert_eq!(
            ion,
            "{\"r\":{\"p\":1.50,\"big\":12345678901234567890.123,\"e\":1d3,\"n\":12345678901234567890123,\"f\":2.5,\"t\":\"007\"}}\n"
        );
        assert_eq!(
            ion_to_json(&ion),
            "{\"r\":{\"p\":1.50,\"big\":12345678901234567890.123,\"e\":1E+3,\"n\":12345678901234567890123,\"f\":2.5,\"t\":\"007\"}}\n"
        );
        let flat = "{p:1.50,big:12345678901234567890.123,e:1d3,f:2.5,g:1.5e0,t:\"007\"}\n";
        assert_eq!(ion_to_csv(flat), "p,big,e,f,g,t\n1.50,12345678901234567890.123,1E+3,2.5,1.5,007\n");
    }

    #[test]
    fn csv_and_json_to_ion_and_back_as_kestra_does() {
        // CsvToIon keeps texts: nothing to lose
        let ion = super::super::csv_read::convert_bytes(b"p,big\n1.50,12345678901234567890.123\n", json!({})).unwrap();
        assert_eq!(ion, "{\"p\":\"1.50\",\"big\":\"12345678901234567890.123\"}\n");
        assert_eq!(ion_to_json(&ion), "{\"p\":\"1.50\",\"big\":\"12345678901234567890.123\"}\n");
        assert_eq!(ion_to_csv(&ion), "p,big\n1.50,12345678901234567890.123\n");
        // JsonToIon reads numbers as doubles (Kestra's Jackson without
        // USE_BIG_DECIMAL_FOR_FLOATS): 1.50 is 1.5 there too
        let ion = super::super::json::convert_text("{\"p\":1.50,\"q\":0.25}", true, false).unwrap();
        assert_eq!(ion, "{\"p\":1.5,\"q\":0.25}\n");
        assert_eq!(ion_to_json(&ion), "{\"p\":1.5,\"q\":0.25}\n");
        // an Ion file with decimals (Kestra's own, or a JSON line read as Ion) keeps them
        let ion = "{\"p\":1.50,\"big\":12345678901234567890.123,\"s\":\"\\u0000x\"}\n";
        assert_eq!(ion_to_json(ion), ion);
        assert_eq!(ion_to_csv(ion), "p,big,s\n1.50,12345678901234567890.123,\u{0}x\n");
    }
}
