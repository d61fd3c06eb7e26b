//! XML to JSON values the way Kestra's `XmlToIon` makes them (org.json's
//! `XML.toJSONObject`): an element's attributes and children become the
//! keys of a map, repeated children an array, text alone the element's
//! value, text beside children or attributes the key `content`; an empty
//! element is `""`; text and attribute values are typed (`true`, `null`,
//! `42`, `1.50` kept as a decimal; `007` stays text), CDATA is kept as text; names listed in
//! `forceList` are always arrays. Read on quick-xml, event by event, so
//! only the record being built is held ([`Frame`]s on a stack, no
//! recursion); errors name the line.

use std::collections::{HashSet, VecDeque};
use std::io::Read;

use quick_xml::events::BytesStart;
use serde_json::{Map, Value};

use super::xml_number;

/// The deepest nesting read (org.json's default bound).
pub const MAX_DEPTH: usize = 512;
/// What Kestra's org.json calls the text of an element that has more.
const CONTENT: &str = "content";
/// Bytes of input kept to find the line of an error.
const WINDOW: usize = 64 * 1024;

/// A `Read` that remembers the newlines it has passed, so a byte
/// position of the parser can be told as a line.
pub struct Tracked<R> {
    inner: R,
    read: u64,
    lines_before: u64,
    window: VecDeque<u8>,
}

impl<R: Read> Tracked<R> {
    pub fn new(inner: R) -> Tracked<R> {
        Tracked { inner, read: 0, lines_before: 0, window: VecDeque::with_capacity(WINDOW) }
    }

    /// The 1-based line of byte `pos` (the last line read when it is too far back).
    pub fn line_at(&self, pos: u64) -> u64 {
        let start = self.read - self.window.len() as u64;
        let upto = usize::try_from(pos.saturating_sub(start)).unwrap_or(usize::MAX).min(self.window.len());
        self.lines_before + self.window.iter().take(upto).filter(|b| **b == b'\n').count() as u64 + 1
    }
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        self.window.extend(&buf[..n]);
        if self.window.len() > WINDOW {
            let excess = self.window.len() - WINDOW;
            self.lines_before += self.window.drain(..excess).filter(|b| *b == b'\n').count() as u64;
        }
        Ok(n)
    }
}

/// Java's `trim()`: every character up to U+0020 at either end.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// org.json's `XML.stringToValue`: the typed value of a text (numbers
/// as [`super::xml_number`] carries them).
pub fn typed(s: &str) -> Value {
    if s.is_empty() {
        return Value::String(String::new());
    }
    if s.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if s.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if s.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    let first = s.as_bytes()[0];
    if (first.is_ascii_digit() || first == b'-')
        && let Some(n) = xml_number::number(s)
    {
        return n;
    }
    xml_number::text(s)
}

/// org.json's `accumulate`: a second value under a key makes an array.
fn accumulate(obj: &mut Map<String, Value>, key: &str, v: Value) {
    match obj.get_mut(key) {
        None => {
            obj.insert(key.to_string(), v);
        }
        Some(Value::Array(a)) => a.push(v),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, v]);
        }
    }
}

/// org.json's `append`: always an array.
fn append(obj: &mut Map<String, Value>, key: &str, v: Value) {
    match obj.get_mut(key) {
        Some(Value::Array(a)) => a.push(v),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, v]);
        }
        None => {
            obj.insert(key.to_string(), Value::Array(vec![v]));
        }
    }
}

/// An open element.
#[derive(Debug, Default)]
pub struct Frame {
    pub name: String,
    pub obj: Map<String, Value>,
    /// Text read since the last markup (one org.json token).
    text: String,
}

/// How names are read: whole (`ns:tag`, with `xmlns` attributes, as
/// org.json does) or local (as Kestra's `query` streaming does).
#[derive(Debug, Clone)]
pub struct Names {
    pub local: bool,
    pub force_list: HashSet<String>,
}

impl Names {
    fn name(&self, e: &BytesStart) -> String {
        if self.local { e.local_name().into_inner().to_string() } else { e.name().into_inner().to_string() }
    }

    /// A frame for element `e`, its attributes read.
    pub fn open(&self, e: &BytesStart) -> Result<Frame, String> {
        let mut f = Frame { name: self.name(e), ..Frame::default() };
        for a in e.attributes() {
            let a = a.map_err(|err| format!("a bad attribute in <{}>: {err}", f.name))?;
            if self.local && a.key.as_namespace_binding().is_some() {
                continue;
            }
            let key =
                if self.local { a.key.local_name().into_inner().to_string() } else { a.key.into_inner().to_string() };
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| format!("a bad value of attribute '{key}' in <{}>: {err}", f.name))?;
            accumulate(&mut f.obj, &key, typed(&v));
        }
        Ok(f)
    }

    /// What an element closing with `f` gives its parent (`empty_tag`: it
    /// was written `<a/>`, whose lone `content` attribute stays a map).
    pub fn close(&self, mut f: Frame, empty_tag: bool) -> (String, Closed) {
        f.flush();
        let forced = self.force_list.contains(&f.name);
        let closed = if f.obj.is_empty() {
            if forced { Closed::EmptyList } else { Closed::Value(Value::String(String::new())) }
        } else if !empty_tag && f.obj.len() == 1 && f.obj.contains_key(CONTENT) {
            let v = f.obj.remove(CONTENT).unwrap_or_default();
            if forced { Closed::Append(v) } else { Closed::Value(v) }
        } else if forced {
            Closed::Append(Value::Object(f.obj))
        } else {
            Closed::Value(Value::Object(f.obj))
        };
        (f.name, closed)
    }
}

/// What a closed element adds to its parent.
#[derive(Debug)]
pub enum Closed {
    Value(Value),
    Append(Value),
    EmptyList,
}

impl Closed {
    /// Adds it to `obj` under `name`.
    pub fn add_to(self, obj: &mut Map<String, Value>, name: &str) {
        match self {
            Closed::Value(v) => accumulate(obj, name, v),
            Closed::Append(v) => append(obj, name, v),
            Closed::EmptyList => {
                obj.insert(name.to_string(), Value::Array(Vec::new()));
            }
        }
    }

    /// It as the value of a document holding only it (`XML.toJSONObject`
    /// of one element, then the element's key).
    pub fn alone(self) -> Value {
        match self {
            Closed::Value(v) => v,
            Closed::Append(v) => Value::Array(vec![v]),
            Closed::EmptyList => Value::Array(Vec::new()),
        }
    }
}

impl Frame {
    /// Text read so far becomes one `content` value (trimmed, typed).
    pub fn flush(&mut self) {
        if !self.text.is_empty() {
            let t = java_trim(&self.text);
            if !t.is_empty() {
                let v = typed(t);
                accumulate(&mut self.obj, CONTENT, v);
            }
            self.text.clear();
        }
    }

    pub fn push_text(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// CDATA: its own `content` value, kept as text.
    pub fn push_cdata(&mut self, s: &str) {
        self.flush();
        if !s.is_empty() {
            accumulate(&mut self.obj, CONTENT, xml_number::text(s));
        }
    }

    /// True when text waits to be flushed.
    pub fn has_text(&self) -> bool {
        !java_trim(&self.text).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn texts_are_typed_as_org_json_types_them() {
        assert_eq!(typed("42"), json!(42));
        assert_eq!(typed("-7"), json!(-7));
        assert_eq!(typed("TRUE"), json!(true));
        assert_eq!(typed("null"), Value::Null);
        assert_eq!(typed("007"), json!("007"));
        assert_eq!(typed("-01"), json!("-01"));
        assert_eq!(typed("1-2"), json!("1-2"));
        assert_eq!(typed("1.2.3"), json!("1.2.3"));
        assert_eq!(typed("abc"), json!("abc"));
    }

    #[test]
    fn the_line_of_a_position() {
        let mut t = Tracked::new("a\nb\nc".as_bytes());
        let mut s = String::new();
        t.read_to_string(&mut s).unwrap();
        assert_eq!((t.line_at(0), t.line_at(2), t.line_at(4)), (1, 2, 3));
    }
}
