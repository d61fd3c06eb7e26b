//! Numbers a JSON value cannot hold — an Ion decimal's digits and scale
//! (`1.50`, `0.0001`, `12345678901234567890.123`), an integer past 64
//! bits — carried through a conversion as strings marked by
//! [`ion_text::RAW`] holding their Ion text: made by `XmlToIon`
//! (`xml_number`), `AvroToIon` (Avro decimals) and by the exact Ion
//! reading ([`ion_text::parse_line_exact`]) of every `IonTo*` task (JSON,
//! CSV, XML, Excel, Avro), Baton's one reading of Kestra's Ion reader,
//! which makes an Ion decimal a `BigDecimal` and an Ion float a `Double`.
//! This file writes them back: as Ion text on an Ion line, and as Kestra
//! prints the `BigDecimal`/`BigInteger` its Ion reader makes, Java's
//! `toString` (`1.50`, `1E+3`), in JSON, CSV and XML, a `Double` as
//! `Double.toString` (`1.0E-4`); [`Exact`] gives the other writers the
//! Java value (Excel's numeric or text cell, Avro's field types).

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

/// A marked number, as the Java value Kestra's Ion reader makes of it.
#[derive(Debug, Clone, PartialEq)]
pub enum Exact {
    /// A `BigInteger` (an integer past 64 bits): its digits.
    BigInteger(String),
    /// A `BigDecimal`: its Ion text.
    BigDecimal(String),
}

impl Exact {
    /// The marked number `v` is, if it is one.
    pub fn of(v: &Value) -> Option<Exact> {
        let ion = ion_text::exact_number(v)?;
        let digits = ion.strip_prefix(['-', '+']).unwrap_or(ion);
        Some(if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            Exact::BigInteger(ion.to_string())
        } else {
            Exact::BigDecimal(ion.to_string())
        })
    }

    /// `doubleValue()` (the nearest double).
    pub fn to_f64(&self) -> Option<f64> {
        match self {
            Exact::BigInteger(t) | Exact::BigDecimal(t) => t.replace(['d', 'D'], "e").parse().ok(),
        }
    }

    /// `toPlainString()`: the digits with a point, no exponent (`1d3` is
    /// `1000`, `1.50` stays `1.50`); `None` past a million digits.
    pub fn plain(&self) -> Option<String> {
        let (Exact::BigInteger(t) | Exact::BigDecimal(t)) = self;
        let (neg, unscaled, scale) = decimal_parts(t)?;
        let sign = if neg { "-" } else { "" };
        if scale <= 0 {
            let zeros = usize::try_from(-scale).ok().filter(|z| *z <= MAX_PLAIN_DIGITS)?;
            let zeros = if unscaled == "0" { 0 } else { zeros };
            return Some(format!("{sign}{unscaled}{}", "0".repeat(zeros)));
        }
        let scale = usize::try_from(scale).ok().filter(|s| *s <= MAX_PLAIN_DIGITS)?;
        let digits = format!("{unscaled:0>width$}", width = scale + 1);
        let (int, frac) = digits.split_at(digits.len() - scale);
        Some(format!("{sign}{int}.{frac}"))
    }
}

/// The most digits [`Exact::plain`] writes out (`1d999999999` is not
/// spelled in full).
const MAX_PLAIN_DIGITS: usize = 1_000_000;

/// A double as Java's `Double.toString` prints it (Jackson's writers).
pub fn java_double(f: f64) -> String {
    super::csv_write::java_double(f)
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Ion,
    Json,
}

fn write_value(v: &Value, out: &mut impl Write, target: Target) -> std::io::Result<()> {
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or_default();
            // a Double: an Ion float on an Ion line, `Double.toString` in JSON
            let text = if target == Target::Ion { ion_text::float_text(f) } else { java_double(f) };
            out.write_all(text.as_bytes())
        }
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
    if ion.contains(['e', 'E']) {
        return match ion.parse::<f64>() {
            Ok(f) => java_double(f),
            Err(_) => ion.to_string(),
        };
    }
    match decimal_parts(ion) {
        Some((neg, unscaled, scale)) => big_decimal_string(neg, &unscaled, scale),
        None => ion.to_string(),
    }
}

/// An Ion decimal or integer as `(negative, unscaled digits, scale)`:
/// `-1.50` is `(true, "150", 2)`, `1d3` `(false, "1", -3)`; a zero is
/// never negative (as `BigDecimal`).
fn decimal_parts(ion: &str) -> Option<(bool, String, i64)> {
    let (neg, body) = match ion.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, ion.strip_prefix('+').unwrap_or(ion)),
    };
    let (mantissa, exp) = match body.find(['d', 'D']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !(int.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit()) || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let unscaled = digits.trim_start_matches('0');
    let unscaled = if unscaled.is_empty() { "0" } else { unscaled };
    let scale = (frac.len() as i64).checked_sub(exp)?;
    Some((neg && unscaled != "0", unscaled.to_string(), scale))
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
        // a small decimal stays plain, as BigDecimal.toString (a double would be 1.0E-4)
        let ion =
            super::super::xml_read::convert_text("<r><s>0.0001</s><m>0.0000001</m><x>10000000.5</x></r>").unwrap();
        assert_eq!(ion, "{\"r\":{\"s\":0.0001,\"m\":0.0000001,\"x\":10000000.5}}\n");
        assert_eq!(ion_to_json(&ion), "{\"r\":{\"s\":0.0001,\"m\":1E-7,\"x\":10000000.5}}\n");
        let flat = ion.replace("{\"r\":", "").replacen("}}", "}", 1);
        assert_eq!(ion_to_csv(&flat), "s,m,x\n0.0001,1E-7,10000000.5\n");
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
        // … so doubles Java prints in E notation are Ion floats, and print so
        let ion = super::super::json::convert_text("{\"s\":0.0001,\"b\":12345678.9,\"p\":0.5}", true, false).unwrap();
        assert_eq!(ion, "{\"s\":1e-4,\"b\":1.23456789e7,\"p\":0.5}\n");
        assert_eq!(ion_to_json(&ion), "{\"s\":1.0E-4,\"b\":1.23456789E7,\"p\":0.5}\n");
        assert_eq!(ion_to_csv(&ion), "s,b,p\n1.0E-4,1.23456789E7,0.5\n");
        // an Ion file with decimals (Kestra's own, or a JSON line read as Ion) keeps them
        let ion = "{\"p\":1.50,\"big\":12345678901234567890.123,\"s\":\"\\u0000x\"}\n";
        assert_eq!(ion_to_json(ion), ion);
        assert_eq!(ion_to_csv(ion), "p,big,s\n1.50,12345678901234567890.123,\u{0}x\n");
    }
}
