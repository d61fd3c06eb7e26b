//! Reads one line of an Ion text file (Kestra's `.ion` files: one value a
//! line) as JSON. Baton writes its Ion files as JSON lines, which are
//! valid Ion, so JSON is tried first; a file written by Kestra itself may
//! use Ion's own syntax, which [`parse_line`] also reads: unquoted and
//! `'symbol'` field names, bare symbols, `'''long'''` strings, decimals
//! with `d` exponents, `_` digit separators, hex and binary integers,
//! timestamps (kept as their text), typed nulls (`null.int`),
//! annotations (`a::v`, dropped), comments and s-expressions (as lists).
//! Blobs and clobs are refused with an error naming them. [`write_line`]
//! is the writing side: one value as a JSON line. [`parse_line_with`]
//! hands timestamps and date-time annotations to the caller.
//! [`parse_line_exact`] keeps what a JSON number cannot hold: an Ion
//! decimal's digits and scale (`1.50`, `12345678901234567890.123`), as a
//! string marked by a leading [`RAW`] holding its Ion text, a real string
//! starting with NUL getting a second one ([`exact_number`], [`plain_text`]
//! read them back).

use serde_json::{Map, Number, Value};

/// The mark of a number carried as its Ion text in a string.
pub const RAW: char = '\0';

/// The Ion text of a number [`parse_line_exact`] marked, if `v` is one.
pub fn exact_number(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => s.strip_prefix(RAW).filter(|rest| !rest.starts_with(RAW)),
        _ => None,
    }
}

/// A string as it was written: a text that started with NUL lost the
/// second NUL it was given. (For a marked number, see [`exact_number`].)
pub fn plain_text(s: &str) -> &str {
    match s.strip_prefix(RAW) {
        Some(rest) if rest.starts_with(RAW) => rest,
        _ => s,
    }
}

/// Appends `value` as one line of Ion text (JSON is valid Ion) to `out`.
/// A double is written as JSON writes it, except where Java prints a
/// `Double` in E notation (below 10⁻³ or from 10⁷): there with an exponent
/// (`1e-4`, `1.25e7`), an Ion float, so that it reads back as the double
/// Kestra's writer makes of it, not as a decimal printed otherwise.
pub fn write_line<T: serde::Serialize + ?Sized, W: std::io::Write>(value: &T, out: &mut W) -> std::io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, IonFloats);
    value.serialize(&mut ser).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

/// serde_json's compact formatter, doubles outside Java's plain range
/// written with an exponent ([`write_line`]).
struct IonFloats;

impl serde_json::ser::Formatter for IonFloats {
    fn write_f64<W: std::io::Write + ?Sized>(&mut self, writer: &mut W, value: f64) -> std::io::Result<()> {
        writer.write_all(float_text(value).as_bytes())
    }
}

/// A double as Ion text that reads back as a double: JSON's text in Java's
/// plain range, else Rust's shortest `e` form (`1e-4`); not finite: null,
/// as JSON writes it.
pub fn float_text(f: f64) -> String {
    let a = f.abs();
    match Number::from_f64(f) {
        None => "null".into(),
        Some(n) if a == 0.0 || (1e-3..1e7).contains(&a) => n.to_string(),
        Some(_) => format!("{f:e}"),
    }
}

/// Parses one Ion (or JSON) value spanning the whole line.
pub fn parse_line(line: &str) -> Result<Value, String> {
    parse_line_with(line, None)
}

/// A date-time of an Ion line as written: an Ion timestamp token, or a
/// string annotated with the Java type Kestra wrote it from
/// (`ZonedDateTime::"2024-01-02T03:04:05+02:00"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DateToken<'t> {
    Timestamp(&'t str),
    Annotated { annotation: &'t str, text: &'t str },
}

/// What a reader makes of a [`DateToken`]; `None` keeps the text.
pub type DateHook<'h> = &'h dyn Fn(DateToken) -> Option<Value>;

/// [`parse_line`], with the line's date-times passed through `dates`
/// (a JSON line has none: it holds no timestamps nor annotations).
pub fn parse_line_with(line: &str, dates: Option<DateHook>) -> Result<Value, String> {
    if let Ok(v) = serde_json::from_str::<Value>(line) {
        return Ok(v);
    }
    parse_ion(line, dates, false)
}

/// [`parse_line_with`], keeping Ion decimals exact, as Kestra's Ion reader
/// makes them `BigDecimal`s: every decimal (`1.50`, `0.0001`,
/// `12345678901234567890.123`, `1d3`; not a float, `1.5e0`) and an integer
/// past 64 bits are the string [`RAW`] + their Ion text
/// (`\u{0}1.50`), and a string that starts with NUL gets a second one.
/// A JSON line is read as Ion too: its numbers with a fraction and no
/// exponent are decimals there.
pub fn parse_line_exact(line: &str, dates: Option<DateHook>) -> Result<Value, String> {
    if let Ok(v) = serde_json::from_str::<Value>(line)
        && !needs_exact(&v)
    {
        return Ok(v);
    }
    parse_ion(line, dates, true)
}

/// Whether a value read as JSON holds a number with a fraction or a string
/// starting with NUL (which the exact reading changes).
fn needs_exact(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::String(s) => s.starts_with(RAW),
        Value::Array(items) => items.iter().any(needs_exact),
        Value::Object(m) => m.values().any(needs_exact),
        _ => false,
    }
}

fn parse_ion(line: &str, dates: Option<DateHook>, exact: bool) -> Result<Value, String> {
    let mut p = Parser { s: line.as_bytes(), i: 0, depth: 0, dates, exact };
    let v = p.value()?;
    p.ws()?;
    if p.i < p.s.len() {
        return Err(format!("unexpected '{}' at column {}", p.s[p.i] as char, p.i + 1));
    }
    Ok(v)
}

/// Nesting bound of one value (lists and structs inside each other).
const MAX_DEPTH: usize = 128;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
    dates: Option<DateHook<'a>>,
    /// Decimals as marked strings ([`parse_line_exact`]).
    exact: bool,
}

/// A string value (a leading NUL doubled when reading exactly).
fn text(exact: bool, s: String) -> Value {
    if exact && s.starts_with(RAW) { Value::String(format!("{RAW}{s}")) } else { Value::String(s) }
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$')
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at column {}", self.i + 1))
    }

    /// Skips white space and comments.
    fn ws(&mut self) -> Result<(), String> {
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_whitespace() => self.i += 1,
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'/') => self.i = self.s.len(),
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'*') => {
                    let rest = &self.s[self.i + 2..];
                    match rest.windows(2).position(|w| w == b"*/") {
                        Some(n) => self.i += n + 4,
                        None => return self.err("unterminated comment"),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws()?;
        let Some(c) = self.peek() else { return self.err("missing value") };
        let v = match c {
            b'{' if self.s.get(self.i + 1) == Some(&b'{') => return self.err("Ion blobs and clobs are not supported"),
            b'{' => self.nested(b'}', true)?,
            b'[' => self.nested(b']', false)?,
            b'(' => self.nested(b')', false)?,
            b'"' => text(self.exact, self.quoted(b'"')?),
            b'\'' if self.s[self.i..].starts_with(b"'''") => text(self.exact, self.long_strings()?),
            b'\'' => text(self.exact, self.quoted(b'\'')?),
            c if c.is_ascii_digit() || c == b'-' || c == b'+' => self.number_or_timestamp()?,
            c if is_ident(c) => {
                let word = self.ident();
                match word.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => {
                        // a typed null: `null.int`
                        if self.peek() == Some(b'.') {
                            self.i += 1;
                            self.ident();
                        }
                        Value::Null
                    }
                    "nan" => Value::String(word),
                    _ => Value::String(word),
                }
            }
            _ => return self.err(&format!("unexpected '{}'", c as char)),
        };
        // `annotation::value`: the annotation is dropped (a date-time's
        // is passed to the date hook)
        self.ws()?;
        if self.s[self.i..].starts_with(b"::") {
            self.i += 2;
            let inner = self.value()?;
            if let (Some(hook), Value::String(annotation), Value::String(text)) = (self.dates, &v, &inner)
                && let Some(d) = hook(DateToken::Annotated { annotation, text })
            {
                return Ok(d);
            }
            return Ok(inner);
        }
        Ok(v)
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(is_ident) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    /// A list, s-expression or struct, from its opening bracket.
    fn nested(&mut self, close: u8, is_struct: bool) -> Result<Value, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(&format!("nested deeper than {MAX_DEPTH} levels"));
        }
        self.i += 1;
        let mut list = Vec::new();
        let mut map = Map::new();
        let sexp = close == b')';
        loop {
            self.ws()?;
            match self.peek() {
                None => return self.err(&format!("missing '{}'", close as char)),
                Some(c) if c == close => {
                    self.i += 1;
                    break;
                }
                _ => {}
            }
            if is_struct {
                let key = match self.peek() {
                    Some(b'"') => self.quoted(b'"')?,
                    Some(b'\'') if self.s[self.i..].starts_with(b"'''") => self.long_strings()?,
                    Some(b'\'') => self.quoted(b'\'')?,
                    Some(c) if is_ident(c) => self.ident(),
                    _ => return self.err("expected a field name"),
                };
                self.ws()?;
                if self.peek() != Some(b':') {
                    return self.err("expected ':' after a field name");
                }
                self.i += 1;
                let v = self.value()?;
                map.insert(key, v);
            } else if sexp && self.peek().is_some_and(|c| !is_ident(c) && b"!#%&*+-./;<=>?@^`|~".contains(&c)) {
                // an s-expression operator symbol
                let start = self.i;
                while self.peek().is_some_and(|c| b"!#%&*+-./;<=>?@^`|~".contains(&c)) {
                    self.i += 1;
                }
                list.push(Value::String(String::from_utf8_lossy(&self.s[start..self.i]).into_owned()));
                continue;
            } else {
                list.push(self.value()?);
            }
            self.ws()?;
            match self.peek() {
                Some(b',') if !sexp => self.i += 1,
                Some(c) if c == close => {}
                _ if sexp => {}
                _ => return self.err(&format!("expected ',' or '{}'", close as char)),
            }
        }
        self.depth -= 1;
        Ok(if is_struct { Value::Object(map) } else { Value::Array(list) })
    }

    /// A `"string"` or `'symbol'` with escapes, from its opening quote.
    fn quoted(&mut self, quote: u8) -> Result<String, String> {
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else { return self.err("unterminated string") };
            self.i += 1;
            match c {
                c if c == quote => break,
                b'\\' => self.escape(&mut out)?,
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| format!("invalid UTF-8 before column {}", self.i))
    }

    /// Adjacent `'''…'''` strings, concatenated.
    fn long_strings(&mut self) -> Result<String, String> {
        let mut out: Vec<u8> = Vec::new();
        while self.s[self.i..].starts_with(b"'''") {
            self.i += 3;
            loop {
                if self.s[self.i..].starts_with(b"'''") {
                    self.i += 3;
                    break;
                }
                let Some(c) = self.peek() else { return self.err("unterminated long string") };
                self.i += 1;
                if c == b'\\' {
                    self.escape(&mut out)?;
                } else {
                    out.push(c);
                }
            }
            self.ws()?;
        }
        String::from_utf8(out).map_err(|_| format!("invalid UTF-8 before column {}", self.i))
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let Some(e) = self.peek() else { return self.err("unterminated escape") };
        self.i += 1;
        let simple = match e {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'0' => Some(0),
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'v' => Some(11),
            b'"' | b'\'' | b'\\' | b'/' | b'?' => Some(e),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            return Ok(());
        }
        let n = match e {
            b'x' => 2,
            b'u' => 4,
            b'U' => 8,
            _ => return self.err(&format!("unknown escape '\\{}'", e as char)),
        };
        let hex = self.s.get(self.i..self.i + n).ok_or_else(|| format!("short escape at column {}", self.i))?;
        self.i += n;
        let mut code = u32::from_str_radix(std::str::from_utf8(hex).unwrap_or(""), 16)
            .map_err(|_| format!("bad escape at column {}", self.i))?;
        // a JSON surrogate pair (`\ud83d\ude00`) is one code point
        if (0xD800..0xDC00).contains(&code)
            && self.s[self.i..].starts_with(b"\\u")
            && let Some(low) = self.s.get(self.i + 2..self.i + 6)
            && let Ok(low) = u32::from_str_radix(std::str::from_utf8(low).unwrap_or(""), 16)
            && (0xDC00..0xE000).contains(&low)
        {
            self.i += 6;
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        }
        let ch = char::from_u32(code).ok_or_else(|| format!("bad code point at column {}", self.i))?;
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    /// An int, decimal or float, or a timestamp (kept as its text).
    fn number_or_timestamp(&mut self) -> Result<Value, String> {
        let start = self.i;
        self.i += 1;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'+' | b'-' | b':')) {
            self.i += 1;
        }
        let tok = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        let digits = tok.trim_start_matches(['-', '+']);
        match tok {
            "+inf" | "-inf" => return Ok(Value::String(tok.to_string())),
            _ => {}
        }
        let is_timestamp = digits.len() >= 5
            && digits.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && matches!(digits.as_bytes()[4], b'-' | b'T');
        if is_timestamp {
            if let Some(d) = self.dates.and_then(|hook| hook(DateToken::Timestamp(tok))) {
                return Ok(d);
            }
            return Ok(Value::String(tok.to_string()));
        }
        let clean: String = tok.chars().filter(|c| *c != '_').collect();
        let neg = clean.starts_with('-');
        let unsigned = clean.trim_start_matches(['-', '+']);
        let radix = match unsigned.get(..2) {
            Some("0x" | "0X") => Some(16),
            Some("0b" | "0B") => Some(2),
            _ => None,
        };
        if let Some(r) = radix {
            let n = i64::from_str_radix(&unsigned[2..], r).map_err(|_| format!("bad integer '{tok}'"))?;
            return Ok(Value::Number(Number::from(if neg { -n } else { n })));
        }
        if let Ok(n) = clean.parse::<i64>() {
            return Ok(Value::Number(Number::from(n)));
        }
        let float: String = clean.replace(['d', 'D'], "e");
        let decimal = !clean.contains(['e', 'E']) && clean.contains(['.', 'd', 'D']);
        let big_int = !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit());
        let number = float.parse::<f64>().ok().and_then(Number::from_f64);
        if self.exact && (big_int || decimal) {
            // a BigDecimal (or BigInteger) in Kestra, printed as one: kept as the text
            return Ok(Value::String(format!("{RAW}{clean}")));
        }
        match number {
            Some(n) => Ok(Value::Number(n)),
            None => Err(format!("'{tok}' is not an Ion number or timestamp (column {})", start + 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_json_and_ion_text() {
        assert_eq!(parse_line(r#"{"a": 1, "b": [true, null]}"#).unwrap(), json!({"a": 1, "b": [true, null]}));
        assert_eq!(
            parse_line(r#"{id:1,name:"Alice",'odd key':sym,price:12.50,big:1_000,t:2024-01-31T10:00:00Z}"#).unwrap(),
            json!({"id": 1, "name": "Alice", "odd key": "sym", "price": 12.5, "big": 1000, "t": "2024-01-31T10:00:00Z"})
        );
        assert_eq!(
            parse_line("{a:null.int, b:1.5d2, c:0x1F, d:'''x''' '''y''', e:ann::[1, (+ 2 3)], f:\"\\u00e9\"}").unwrap(),
            json!({"a": null, "b": 150.0, "c": 31, "d": "xy", "e": [1, ["+", 2, 3]], "f": "é"})
        );
        assert_eq!(parse_line("{d:2024-01-31}").unwrap(), json!({"d": "2024-01-31"}));
        for bad in ["{a:1", "{a 1}", "{a:{{aGVsbG8=}}}", "{a:1} x", "", "{a:\"x}"] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(parse_line(&deep).unwrap_err().contains("nested deeper"), "depth bound");
    }

    #[test]
    fn exact_reading_keeps_decimals_and_big_integers_as_their_text() {
        let exact = |l: &str| parse_line_exact(l, None).unwrap();
        let v = exact(r#"{"p":1.50,"big":12345678901234567890.123,"f":1.5e0,"i":7,"n":123456789012345678901234}"#);
        assert_eq!(exact_number(&v["p"]), Some("1.50"));
        assert_eq!(exact_number(&v["big"]), Some("12345678901234567890.123"));
        assert_eq!(v["f"], json!(1.5), "an Ion float is a double");
        assert_eq!(v["i"], json!(7));
        assert_eq!(exact_number(&v["n"]), Some("123456789012345678901234"));
        let v = exact(r#"{a:1_000.5d-1, s:"\u0000x", t:'''y''', e:"\ud83d\ude00"}"#);
        assert_eq!(exact_number(&v["a"]), Some("1000.5d-1"));
        assert_eq!(exact_number(&v["s"]), None, "a text starting with NUL is no number");
        assert_eq!(plain_text(v["s"].as_str().unwrap()), "\u{0}x");
        assert_eq!(v["t"], json!("y"));
        assert_eq!(v["e"], json!("😀"));
        assert_eq!(exact(r#"{"a":[1,"x",true]}"#), json!({"a": [1, "x", true]}), "plain JSON as it is");
        let v = exact(r#"{"a":1.5,"b":2.0,"c":[0.0001],"d":1e-4}"#);
        assert_eq!(exact_number(&v["a"]), Some("1.5"), "a JSON fraction is an Ion decimal");
        assert_eq!(exact_number(&v["b"]), Some("2.0"));
        assert_eq!(exact_number(&v["c"][0]), Some("0.0001"));
        assert_eq!(v["d"], json!(1e-4), "an exponent makes an Ion float");
        assert_eq!(parse_line("{a:1.50}").unwrap(), json!({"a": 1.5}), "the other readers keep doubles");
    }

    #[test]
    fn doubles_java_prints_with_an_exponent_are_written_as_ion_floats() {
        let line = |v: Value| {
            let mut out = Vec::new();
            write_line(&v, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            line(
                json!({"a": 1.5, "b": 2.0, "c": 0.001, "d": 0.0001, "e": 12345678.9, "f": 1e-7, "g": 9999999.5, "i": 3})
            ),
            "{\"a\":1.5,\"b\":2.0,\"c\":0.001,\"d\":1e-4,\"e\":1.23456789e7,\"f\":1e-7,\"g\":9999999.5,\"i\":3}\n"
        );
        // still JSON, and read back as the same doubles by every reader
        let text = line(json!([0.0001, -2.5e10]));
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json!([0.0001, -2.5e10]));
        assert_eq!(parse_line_exact(&text, None).unwrap(), json!([0.0001, -2.5e10]));
    }
}
