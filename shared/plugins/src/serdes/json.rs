//! `io.kestra.plugin.serdes.json.JsonToIon` and `IonToJson`, streamed.
//!
//! JsonToIon keeps JSON's types (numbers, booleans, nulls, nested values).
//! `newLine: true` (the default) reads JSON lines, one value a line (an
//! empty line is an error, as in Kestra); `false` reads one document: an
//! array gives one record per item, any other value one record. Kestra
//! loads that document whole; Baton streams the array's items, each
//! bounded by [`MAX_RECORD_BYTES`].
//!
//! IonToJson writes one JSON value a line (`newLine: true`), or with
//! `false` the only value, or an array of them all when there are several.
//! Kestra's `timeZoneId` and `shouldKeepAnnotations` are not declared:
//! Baton's Ion values hold timestamps as text and drop annotations.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::charset;
use super::common::{self, Bounded, IonLines, Job, MAX_RECORD_BYTES, Report};
use super::exact;
use crate::bridge::{SyncReader, SyncWriter};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The properties both tasks have.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct Props {
    /// The source file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The charset of the JSON file.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"UTF-8\"")]
    charset: Option<String>,
    /// JSON lines (one value a line) rather than one JSON document.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    new_line: Option<bool>,
}

/// Convert a JSON file into Ion.
///
/// Reads JSON lines, or one JSON document (an array gives one record per item), into an Ion file; JSON's types are kept.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.serdes.json.JsonToIon",
    aliases = ["io.kestra.plugin.serdes.json.JsonReader"],
    group = "core",
    props = Props,
    example = "id: to_ion\ntype: io.kestra.plugin.serdes.json.JsonToIon\nfrom: \"{{ outputs.download.uri }}\"\nnewLine: false\n",
    outputs(
        uri(String, "The Ion file."),
        size(Integer, "Records written.")
    )
)]
struct JsonToIonDecl;

/// Convert an Ion file into JSON.
///
/// Writes the values of an Ion file as JSON lines, or as one JSON document.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.serdes.json.IonToJson",
    aliases = ["io.kestra.plugin.serdes.json.JsonWriter"],
    group = "core",
    props = Props,
    example = "id: to_json\ntype: io.kestra.plugin.serdes.json.IonToJson\nfrom: \"{{ outputs.query.uri }}\"\n",
    outputs(
        uri(String, "The JSON file."),
        size(Integer, "Records written.")
    )
)]
struct IonToJsonDecl;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToIon,
    ToJson,
}

#[derive(Debug)]
struct JsonTask {
    from: String,
    encoding: &'static encoding_rs::Encoding,
    new_line: bool,
    direction: Direction,
}

fn build(props: &Map<String, Value>, direction: Direction) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let label = p.charset.as_deref().unwrap_or("UTF-8");
    let encoding = match direction {
        Direction::ToIon => charset::parse("charset", label)?,
        Direction::ToJson => charset::parse_output("charset", label)?,
    };
    Ok(Box::new(JsonTask { from: p.from, encoding, new_line: p.new_line.unwrap_or(true), direction }))
}

#[async_trait]
impl RunnableTask for JsonTask {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (enc, new_line, uri) = (self.encoding, self.new_line, self.from.trim().to_string());
        let (job, name): (Job, &str) = match self.direction {
            Direction::ToIon => (Box::new(move |src, out| to_ion(src, out, enc, new_line, &uri)), "data.ion"),
            Direction::ToJson => (
                Box::new(move |src, out| to_json(src, out, enc, new_line, &uri)),
                if new_line { "data.jsonl" } else { "data.json" },
            ),
        };
        common::convert(cx, &self.from, name, job).await
    }
}

/// JSON to Ion, on a blocking thread.
fn to_ion(
    src: SyncReader,
    out: &mut SyncWriter,
    enc: &'static encoding_rs::Encoding,
    new_line: bool,
    uri: &str,
) -> Result<Report, String> {
    let decoded = charset::Decode::new(src, enc, false);
    let mut report = Report::default();
    if new_line {
        let mut r = BufReader::new(decoded);
        let mut buf = Vec::new();
        let mut line = 0u64;
        loop {
            buf.clear();
            let n = (&mut r)
                .take(MAX_RECORD_BYTES + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|e| format!("cannot read {uri}: {e}"))?;
            if n == 0 {
                break;
            }
            line += 1;
            if buf.last() != Some(&b'\n') && n as u64 > MAX_RECORD_BYTES {
                return Err(format!(
                    "line {line} of {uri} is longer than {MAX_RECORD_BYTES} bytes, the longest record Baton reads"
                ));
            }
            let v: Value =
                serde_json::from_slice(&buf).map_err(|e| format!("line {line} of {uri} is not JSON: {e}"))?;
            common::write_ion(&v, out)?;
            report.records += 1;
        }
        return Ok(report);
    }
    let bounded = Bounded::new(decoded, MAX_RECORD_BYTES, "JSON value");
    let counter = bounded.counter();
    let mut de = serde_json::Deserializer::from_reader(bounded);
    let mut seed = Items { out, records: 0, counter, error: None };
    let result = (&mut seed).deserialize(&mut de);
    if let Some(e) = seed.error {
        return Err(e);
    }
    result.map_err(|e| format!("{uri} is not JSON: {e}"))?;
    report.records = seed.records;
    Ok(report)
}

/// Writes a document's records as they are read: an array's items one by
/// one, any other value whole.
struct Items<'a> {
    out: &'a mut SyncWriter,
    records: u64,
    counter: std::rc::Rc<std::cell::Cell<u64>>,
    error: Option<String>,
}

impl<'de> DeserializeSeed<'de> for &mut Items<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Items<'_> {
    fn write<E: serde::de::Error>(&mut self, v: &Value) -> Result<(), E> {
        self.counter.set(0);
        if let Err(e) = common::write_ion(v, self.out) {
            self.error = Some(e.clone());
            return Err(E::custom(e));
        }
        self.records += 1;
        Ok(())
    }
}

macro_rules! scalar {
    ($name:ident, $t:ty) => {
        fn $name<E: serde::de::Error>(self, v: $t) -> Result<(), E> {
            self.write(&Value::from(v))
        }
    };
}

impl<'de> Visitor<'de> for &mut Items<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            self.write(&v)?;
        }
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let v = Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        self.write(&v)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.write(&Value::Null)
    }
    scalar!(visit_bool, bool);
    scalar!(visit_i64, i64);
    scalar!(visit_u64, u64);
    scalar!(visit_f64, f64);
    scalar!(visit_str, &str);
}

/// Ion to JSON, on a blocking thread.
fn to_json(
    src: SyncReader,
    out: &mut SyncWriter,
    enc: &'static encoding_rs::Encoding,
    new_line: bool,
    uri: &str,
) -> Result<Report, String> {
    let mut lines = IonLines::new(BufReader::new(src), uri).exact();
    let mut w = charset::Encode::new(out, enc);
    let mut report = Report::default();
    let mut first: Option<Value> = None;
    while let Some(v) = lines.next_value()? {
        report.records += 1;
        if new_line {
            exact::write_json(&v, &mut w).map_err(common::write_err)?;
            w.write_all(b"\n").map_err(common::write_err)?;
            continue;
        }
        // one value is written alone, several as an array
        if report.records == 1 {
            first = Some(v);
            continue;
        }
        if let Some(f) = first.take() {
            w.write_all(b"[").map_err(common::write_err)?;
            exact::write_json(&f, &mut w).map_err(common::write_err)?;
        }
        w.write_all(b",").map_err(common::write_err)?;
        exact::write_json(&v, &mut w).map_err(common::write_err)?;
    }
    if !new_line {
        match first {
            Some(f) => exact::write_json(&f, &mut w).map_err(common::write_err)?,
            None if report.records > 1 => w.write_all(b"]").map_err(common::write_err)?,
            None => {}
        }
    }
    Ok(report)
}

pub static JSON_TO_ION: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<JsonToIonDecl>(|p| build(p, Direction::ToIon)).parsed_by::<Props>());

pub static ION_TO_JSON: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<IonToJsonDecl>(|p| build(p, Direction::ToJson)).parsed_by::<Props>());

/// JSON to Ion and Ion to JSON over text (unit tests of other converters).
#[cfg(test)]
pub(super) fn convert_text(input: &str, to_ion_side: bool, new_line: bool) -> Result<String, String> {
    let input = input.as_bytes().to_vec();
    super::test_support::run_job(input, move |src, out| match to_ion_side {
        true => to_ion(src, out, encoding_rs::UTF_8, new_line, "kestra:///f.json"),
        false => to_json(src, out, encoding_rs::UTF_8, new_line, "kestra:///f.ion"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serdes::test_support::run_job;

    fn ion(input: &str, new_line: bool) -> Result<String, String> {
        let input = input.as_bytes().to_vec();
        run_job(input, move |src, out| to_ion(src, out, encoding_rs::UTF_8, new_line, "kestra:///f.json"))
    }

    fn json(input: &str, new_line: bool) -> Result<String, String> {
        let input = input.as_bytes().to_vec();
        run_job(input, move |src, out| to_json(src, out, encoding_rs::UTF_8, new_line, "kestra:///f.ion"))
    }

    #[test]
    fn json_lines_and_documents_keep_their_types() {
        let lines = "{\"a\":1,\"b\":[true,null],\"c\":1.5}\n{\"a\":\"x\"}\n";
        assert_eq!(ion(lines, true).unwrap(), lines);
        assert_eq!(
            ion("[{\"a\":1},{\"a\":2}, 3, \"s\", null]", false).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n3\n\"s\"\nnull\n"
        );
        assert_eq!(ion("{\"a\":{\"b\":[1]}}", false).unwrap(), "{\"a\":{\"b\":[1]}}\n");
        let e = ion("{\"a\":1}\n{oops\n", true).unwrap_err();
        assert!(e.starts_with("line 2 of kestra:///f.json is not JSON"), "{e}");
        assert!(ion("{\"a\":1}\n\n{\"a\":2}\n", true).unwrap_err().starts_with("line 2 "));
        assert!(ion("[1, 2", false).unwrap_err().contains("is not JSON"));
    }

    #[test]
    fn a_document_item_is_bounded() {
        let big = format!("[\"{}\"]", "x".repeat(MAX_RECORD_BYTES as usize + 10));
        let e = ion(&big, false).unwrap_err();
        assert!(e.contains(&format!("longer than {MAX_RECORD_BYTES} bytes")), "{e}");
    }

    #[test]
    fn ion_becomes_json_lines_or_one_document() {
        let src = "{a:1,b:\"x\"}\n{a:2,b:null}\n";
        assert_eq!(json(src, true).unwrap(), "{\"a\":1,\"b\":\"x\"}\n{\"a\":2,\"b\":null}\n");
        assert_eq!(json(src, false).unwrap(), "[{\"a\":1,\"b\":\"x\"},{\"a\":2,\"b\":null}]");
        assert_eq!(json("{a:1}\n", false).unwrap(), "{\"a\":1}");
        assert_eq!(json("", false).unwrap(), "");
    }
}
