//! A Server-Sent Events parser (the WHATWG `text/event-stream` format) for
//! `http.SseRequest`: fed the response's chunks as they come, it returns
//! each event completed by a blank line. Lines end with `\n`, `\r\n` or
//! `\r`; `data:` lines join with `\n`; `event:` names the event, `id:` and
//! `retry:` (milliseconds) are kept, `:` lines are comments. An event with
//! no data (a keep-alive comment) is not dispatched, nor is an unfinished
//! one at the end of the stream, as the format says.
//!
//! Bound: an event (or a line) larger than the parser's `max_event_bytes`
//! is an error naming the bound, before it is kept whole in memory.

use serde_json::{Map, Value};

/// One event as Kestra's `HttpSseEvent` outputs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub data: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub comment: Option<String>,
    pub retry_ms: Option<u64>,
}

impl SseEvent {
    /// Kestra's JSON of the event: `data` parsed as JSON when it is JSON
    /// (else the text), then `id`, `name`, `comment`, `retry` (an ISO
    /// duration) when present.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let data = serde_json::from_str::<Value>(&self.data).unwrap_or_else(|_| Value::String(self.data.clone()));
        m.insert("data".into(), data);
        for (k, v) in [("id", &self.id), ("name", &self.name), ("comment", &self.comment)] {
            if let Some(v) = v {
                m.insert(k.into(), Value::String(v.clone()));
            }
        }
        if let Some(ms) = self.retry_ms {
            m.insert("retry".into(), Value::String(iso_millis(ms)));
        }
        Value::Object(m)
    }
}

/// `PT1.5S`, as Java prints a `Duration` of milliseconds.
fn iso_millis(ms: u64) -> String {
    if ms == 0 {
        return "PT0S".into();
    }
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, frac) = (rest / 1000, rest % 1000);
    let mut out = String::from("PT");
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{m}M"));
    }
    if s > 0 || frac > 0 {
        let frac = if frac > 0 { format!(".{frac:03}").trim_end_matches('0').to_string() } else { String::new() };
        out.push_str(&format!("{s}{frac}S"));
    }
    out
}

/// The parser's state between chunks.
#[derive(Debug)]
pub struct SseParser {
    max_event_bytes: usize,
    /// Bytes of the line being read.
    line: Vec<u8>,
    /// A `\r` ended the last line: a `\n` right after it belongs to it.
    after_cr: bool,
    /// Whether the first line (and its BOM) is still to come.
    at_start: bool,
    event: SseEvent,
    has_data: bool,
    /// Bytes of the event being built.
    event_bytes: usize,
}

impl SseParser {
    pub fn new(max_event_bytes: usize) -> SseParser {
        SseParser {
            max_event_bytes,
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            event: SseEvent::default(),
            has_data: false,
            event_bytes: 0,
        }
    }

    /// Feeds a chunk; returns the events it completes, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, String> {
        let mut out = Vec::new();
        for &b in chunk {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(e) = self.line_done(&line)? {
                        out.push(e);
                    }
                }
                _ => {
                    self.line.push(b);
                    if self.line.len() + self.event_bytes > self.max_event_bytes {
                        return Err(self.too_big());
                    }
                }
            }
        }
        Ok(out)
    }

    fn too_big(&self) -> String {
        format!("an event is larger than {} bytes, the most Baton keeps per event", self.max_event_bytes)
    }

    fn line_done(&mut self, raw: &[u8]) -> Result<Option<SseEvent>, String> {
        let mut line = String::from_utf8_lossy(raw).into_owned();
        if self.at_start {
            self.at_start = false;
            if let Some(rest) = line.strip_prefix('\u{feff}') {
                line = rest.to_string();
            }
        }
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            let had = std::mem::replace(&mut self.has_data, false);
            self.event_bytes = 0;
            return Ok(had.then_some(event));
        }
        self.event_bytes += line.len() + 1;
        if self.event_bytes > self.max_event_bytes {
            return Err(self.too_big());
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "" => {
                let c = self.event.comment.get_or_insert_with(String::new);
                if !c.is_empty() {
                    c.push('\n');
                }
                c.push_str(value);
            }
            "data" => {
                if self.has_data {
                    self.event.data.push('\n');
                }
                self.event.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event.name = Some(value.to_string()),
            "id" if !value.contains('\0') => self.event.id = Some(value.to_string()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.event.retry_ms = value.parse().ok();
            }
            _ => {}
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(chunks: &[&str]) -> Vec<SseEvent> {
        let mut p = SseParser::new(1024);
        chunks.iter().flat_map(|c| p.feed(c.as_bytes()).unwrap()).collect()
    }

    #[test]
    fn events_across_chunks_and_line_endings() {
        let evs = parse(&[
            "\u{feff}data: a\n\nda",
            "ta: line1\r\ndata: line2\r",
            "\n\r\nevent: up\nid: 7\nretry: 1500\n: hi\ndata:{\"x\":1}\n\n",
        ]);
        assert_eq!(evs.len(), 3);
        assert_eq!(evs[0].data, "a");
        assert_eq!(evs[1].data, "line1\nline2");
        assert_eq!(
            evs[2].to_json(),
            json!({"data": {"x": 1}, "id": "7", "name": "up", "comment": "hi", "retry": "PT1.5S"})
        );
        assert_eq!(evs[0].to_json(), json!({"data": "a"}));
    }

    #[test]
    fn keep_alives_and_unfinished_events_are_not_dispatched() {
        assert!(parse(&[": ping\n\n", "event: x\n\n", "data: never finished\n"]).is_empty());
        assert_eq!(parse(&["data\n\n"])[0].data, "", "a bare data field is an empty line of data");
        assert_eq!(parse(&["data: 1\ndata: 2\n\n"])[0].to_json(), json!({"data": "1\n2"}));
        assert_eq!(parse(&["data: 123\n\n"])[0].to_json(), json!({"data": 123}), "JSON data is parsed");
    }

    #[test]
    fn an_event_past_the_bound_names_it() {
        let mut p = SseParser::new(16);
        let e = p.feed(b"data: 0123456789abcdef").unwrap_err();
        assert!(e.contains("16 bytes"), "{e}");
        let mut p = SseParser::new(16);
        assert!(p.feed(b"data: 01234\ndata: 56789\n").is_err(), "lines of one event add up");
        let mut p = SseParser::new(16);
        assert_eq!(p.feed(b"data: 01234\n\ndata: 56789\n\n").unwrap().len(), 2, "per event");
    }

    #[test]
    fn retry_prints_as_java_durations() {
        assert_eq!(iso_millis(3000), "PT3S");
        assert_eq!(iso_millis(1500), "PT1.5S");
        assert_eq!(iso_millis(90_000), "PT1M30S");
        assert_eq!(iso_millis(3_600_000), "PT1H");
        assert_eq!(iso_millis(0), "PT0S");
    }
}
