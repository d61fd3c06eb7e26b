//! The string and number algorithms behind the filters, as Kestra's Java
//! computes them: `slugify`, hex digests, `urlencode`/`urldecode`
//! (`URLEncoder`), `number`, `numberFormat` (a `DecimalFormat` subset),
//! `indent`, and the output bound of `replace`.

use minijinja::Error;
use minijinja::value::Value;

use super::err;
use crate::{json, size};

/// Kestra's slug: whitespace to `-`, accents stripped, other symbols dropped.
pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = strip_accent(c);
        if c.is_whitespace() || c == '-' {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c.to_ascii_lowercase());
        }
    }
    out.trim_matches('-').to_string()
}

fn strip_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'A',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' => 'E',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'O',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
        'ç' => 'c',
        'Ç' => 'C',
        'ñ' => 'n',
        'Ñ' => 'N',
        'ý' | 'ÿ' => 'y',
        'Ý' => 'Y',
        other => other,
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Java's `URLEncoder.encode(s, UTF-8)`.
pub(super) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub(super) fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(x) => {
                        out.push(x);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn number(v: Value, kind: Option<String>) -> Result<Value, Error> {
    let s = match v.as_str() {
        Some(s) => s.trim().to_string(),
        None if v.is_number() => return Ok(v),
        None => return Err(err(format!("number: cannot convert '{}'", json::to_text(&v)))),
    };
    let bad = || err(format!("number: '{s}' is not a number"));
    match kind.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("INT" | "INTEGER" | "LONG" | "BIGINTEGER") => s.parse::<i64>().map(Value::from).map_err(|_| bad()),
        Some("FLOAT" | "DOUBLE" | "BIGDECIMAL") => s.parse::<f64>().map(Value::from).map_err(|_| bad()),
        _ => {
            if let Ok(i) = s.parse::<i64>() {
                Ok(Value::from(i))
            } else {
                s.parse::<f64>().map(Value::from).map_err(|_| bad())
            }
        }
    }
}

/// Java `DecimalFormat` subset: `#`, `0`, `,` grouping, `.` decimals, `%`.
pub(super) fn number_format(v: f64, pattern: &str) -> String {
    let percent = pattern.contains('%');
    let v = if percent { v * 100.0 } else { v };
    let core: String = pattern.chars().filter(|c| matches!(c, '#' | '0' | ',' | '.')).collect();
    let (int_p, frac_p) = core.split_once('.').unwrap_or((&core, ""));
    let min_frac = frac_p.chars().filter(|&c| c == '0').count();
    let max_frac = frac_p.len();
    let min_int = int_p.chars().filter(|&c| c == '0').count();
    let grouping = int_p.rfind(',').map(|p| int_p.len() - p - 1).filter(|&g| g > 0);
    let mut s = format!("{:.*}", max_frac, v.abs());
    if let Some(dot) = s.find('.') {
        while s.len() > dot + 1 + min_frac && s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    let (ip, fp) = match s.split_once('.') {
        Some((a, b)) => (a.to_string(), Some(b.to_string())),
        None => (s.clone(), None),
    };
    let mut ip = ip.trim_start_matches('0').to_string();
    while ip.len() < min_int {
        ip.insert(0, '0');
    }
    if let Some(g) = grouping {
        let chars: Vec<char> = ip.chars().collect();
        let mut grouped = String::new();
        for (i, c) in chars.iter().enumerate() {
            if i > 0 && (chars.len() - i).is_multiple_of(g) {
                grouped.push(',');
            }
            grouped.push(*c);
        }
        ip = grouped;
    }
    let mut out = String::new();
    if v < 0.0
        && (ip.chars().any(|c| c != '0' && c != ',') || fp.as_deref().is_some_and(|f| f.chars().any(|c| c != '0')))
    {
        out.push('-');
    }
    out.push_str(if ip.is_empty() && fp.is_none() { "0" } else { &ip });
    if let Some(f) = fp {
        out.push('.');
        out.push_str(&f);
    }
    if percent {
        out.push('%');
    }
    out
}

/// Fails when `s.replace(from, to)` would break the output bound.
pub(super) fn replaced_len(s: &str, from: &str, to: &str) -> Result<(), Error> {
    if to.len() <= from.len() {
        return Ok(());
    }
    let hits = if from.is_empty() { s.chars().count() + 1 } else { s.matches(from).count() };
    size::check(s.len().saturating_add(hits.saturating_mul(to.len() - from.len())), "replace")
}

pub(super) fn indent_text(s: &str, n: usize, prefix: &str, first: bool) -> Result<String, Error> {
    let lines = s.split_inclusive('\n').count() + 1;
    size::check(s.len().saturating_add(prefix.len().saturating_mul(n).saturating_mul(lines)), "indent")?;
    let pad = prefix.repeat(n);
    let mut out = String::with_capacity(s.len() + pad.len() * 4);
    for (i, line) in s.split_inclusive('\n').enumerate() {
        if (i > 0 || first) && !line.trim_end_matches(['\r', '\n']).is_empty() {
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(slugify("Hello World!"), "hello-world");
        assert_eq!(slugify("  Café  déjà--vu "), "cafe-deja-vu");
        assert_eq!(url_encode("a b&c/é"), "a+b%26c%2F%C3%A9");
        assert_eq!(url_decode("a+b%26c%2F%C3%A9"), "a b&c/é");
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(number_format(1234.5, "#,##0.00"), "1,234.50");
        assert_eq!(number_format(0.5, "#.##"), ".5");
        assert_eq!(number_format(12.3456, "0.00"), "12.35");
        assert_eq!(indent_text("a\nb\n", 2, " ", false).unwrap(), "a\n  b\n");
        assert_eq!(indent_text("a\nb", 2, " ", true).unwrap(), "  a\n  b");
    }
}
