//! PostgreSQL's binary `numeric` ⇄ decimal text: decoding (NaN and the
//! infinities included), the JSON a numeric shows as (an integer, a
//! number when a double holds it exactly enough, else the exact string),
//! and encoding decimal text for a parameter.

use bytes::{BufMut, BytesMut};

use super::BoxError;

const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// The decimal text of a binary `numeric`.
pub fn numeric_from_sql(raw: &[u8]) -> Result<String, BoxError> {
    let rd = |i: usize| -> Result<u16, BoxError> {
        Ok(u16::from_be_bytes(raw.get(i..i + 2).ok_or("invalid numeric")?.try_into()?))
    };
    let ndigits = rd(0)? as usize;
    let weight = rd(2)? as i16 as i64;
    let sign = rd(4)?;
    let dscale = rd(6)? as usize;
    match sign {
        NUMERIC_NAN => return Ok("NaN".into()),
        NUMERIC_PINF => return Ok("Infinity".into()),
        NUMERIC_NINF => return Ok("-Infinity".into()),
        _ => {}
    }
    let mut digits = Vec::with_capacity(ndigits);
    for k in 0..ndigits {
        digits.push(rd(8 + 2 * k)?);
    }
    let digit = |i: i64| -> u16 { if i >= 0 && (i as usize) < digits.len() { digits[i as usize] } else { 0 } };
    let mut s = String::new();
    if sign == NUMERIC_NEG {
        s.push('-');
    }
    if weight >= 0 {
        for i in 0..=weight {
            if i == 0 {
                s.push_str(&digit(i).to_string());
            } else {
                s.push_str(&format!("{:04}", digit(i)));
            }
        }
    } else {
        s.push('0');
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut i = weight + 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", digit(i)));
            i += 1;
        }
        frac.truncate(dscale);
        s.push('.');
        s.push_str(&frac);
    }
    Ok(s)
}

/// Encodes decimal text (`-12.340`, `NaN`, `Infinity`) as a binary numeric.
pub fn numeric_to_sql(text: &str, out: &mut BytesMut) -> Result<(), BoxError> {
    let t = text.trim();
    let special = match t.to_ascii_lowercase().as_str() {
        "nan" => Some(NUMERIC_NAN),
        "infinity" | "+infinity" | "inf" => Some(NUMERIC_PINF),
        "-infinity" | "-inf" => Some(NUMERIC_NINF),
        _ => None,
    };
    if let Some(sign) = special {
        out.put_u16(0);
        out.put_i16(0);
        out.put_u16(sign);
        out.put_u16(0);
        return Ok(());
    }
    // exponent forms go through f64's plain formatting
    let owned;
    let t = if t.contains(['e', 'E']) {
        owned = format!("{}", t.parse::<f64>().map_err(|_| format!("'{text}' is not a number"))?);
        owned.as_str()
    } else {
        t
    };
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if (int.is_empty() && frac.is_empty()) || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return Err(format!("'{text}' is not a number").into());
    }
    let dscale = frac.len();
    let int = int.trim_start_matches('0');
    let pad_left = (4 - int.len() % 4) % 4;
    let int_padded = format!("{}{}", "0".repeat(pad_left), int);
    let pad_right = (4 - frac.len() % 4) % 4;
    let frac_padded = format!("{}{}", frac, "0".repeat(pad_right));
    let mut groups: Vec<u16> = Vec::new();
    for chunk in int_padded.as_bytes().chunks(4).chain(frac_padded.as_bytes().chunks(4)) {
        let s = std::str::from_utf8(chunk)?;
        groups.push(s.parse::<u16>()?);
    }
    let mut weight = (int_padded.len() / 4) as i64 - 1;
    let mut start = 0;
    while start < groups.len() && groups[start] == 0 {
        start += 1;
        weight -= 1;
    }
    let mut end = groups.len();
    while end > start && groups[end - 1] == 0 {
        end -= 1;
    }
    let digits = &groups[start..end];
    if digits.is_empty() {
        weight = 0;
    }
    out.put_u16(u16::try_from(digits.len())?);
    out.put_i16(i16::try_from(weight)?);
    out.put_u16(if neg && !digits.is_empty() { NUMERIC_NEG } else { 0 });
    out.put_u16(u16::try_from(dscale)?);
    for d in digits {
        out.put_u16(*d);
    }
    Ok(())
}
