//! `io.kestra.plugin.serdes.xml.XmlToIon` (plugin-serdes
//! `xml/XmlToIon.java`), streamed on quick-xml with values made as
//! org.json makes them ([`super::xml_tree`]).
//!
//! Without `query` the document is one value, unwrapped as Kestra does:
//! `<items><item>…</item><item>…</item></items>` gives one record per
//! `item`, any other document one record. Kestra holds the document whole;
//! Baton holds it up to [`MAX_RECORD_BYTES`], and past that streams the
//! root's children as records when they are such a list (any other
//! document that large is refused: it would be one record past the bound).
//! With `query` (`/catalog/book`) each matching element is a record, read
//! one at a time, names without their namespace prefix (as Kestra's StAX
//! path reads them). `parserConfiguration.forceList`: names always read as
//! lists. A malformed document fails naming the line.

use std::collections::HashSet;
use std::io::BufReader;
use std::sync::LazyLock;

use async_trait::async_trait;
use quick_xml::Reader;
use quick_xml::events::Event;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::charset;
use super::common::{self, MAX_RECORD_BYTES, Report};
use super::xml_number;
use super::xml_tree::{Closed, Frame, MAX_DEPTH, Names, Tracked};
use crate::bridge::{SyncReader, SyncWriter};
use crate::registry::PluginDef;
use crate::xml::entity;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// `parserConfiguration`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ParserConfiguration {
    #[serde(default, deserialize_with = "de::string_or_list")]
    force_list: Vec<String>,
}

fn parser_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) if baton_model::expr::is_template(s) => Ok(()),
        Value::Object(m) if m.values().any(|v| v.as_str().is_some_and(baton_model::expr::is_template)) => Ok(()),
        other => serde_json::from_value::<ParserConfiguration>(other.clone()).map(|_| ()).map_err(|e| e.to_string()),
    }
}

fn query_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => parse_query(s).map(|_| ()),
        _ => Ok(()),
    }
}

/// `/catalog/book` → (["catalog"], "book").
fn parse_query(q: &str) -> Result<(Vec<String>, String), String> {
    let t = q.trim();
    let t = t.strip_prefix('/').unwrap_or(t).trim_end_matches('/');
    let mut parts: Vec<String> = t.split('/').map(str::to_string).collect();
    if parts.iter().any(String::is_empty) {
        return Err(format!("'{q}' is not a path of element names like /catalog/book"));
    }
    let last = parts.pop().unwrap_or_default();
    Ok((parts, last))
}

/// Convert an XML file into Ion.
///
/// Reads an XML document into an Ion file: one record, a record per element of a list, or with query a record per matching element.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.serdes.xml.XmlToIon",
    aliases = ["io.kestra.plugin.serdes.xml.XmlReader"],
    group = "core",
    example = "id: to_ion\ntype: io.kestra.plugin.serdes.xml.XmlToIon\nfrom: \"{{ outputs.download.uri }}\"\nquery: /catalog/book\n",
    outputs(uri(String, "The Ion file."), size(Integer, "Records written."))
)]
struct Props {
    /// The source file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The charset of the XML file.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"UTF-8\"")]
    charset: Option<String>,
    /// A path of element names (`/catalog/book`): each matching element becomes a record, streamed.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(check = query_ok)]
    query: Option<String>,
    /// The parser's options: forceList, the element names always read as lists.
    #[serde(default)]
    #[prop(kind = "Map", check = parser_ok)]
    parser_configuration: Option<ParserConfiguration>,
}

#[derive(Debug)]
struct XmlToIon {
    from: String,
    encoding: &'static encoding_rs::Encoding,
    query: Option<(Vec<String>, String)>,
    force_list: HashSet<String>,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let encoding = charset::parse("charset", p.charset.as_deref().unwrap_or("UTF-8"))?;
    let query = match p.query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) => Some(parse_query(q).map_err(|e| TaskError::property("query", e))?),
        None => None,
    };
    let force_list = p.parser_configuration.unwrap_or_default().force_list.into_iter().collect();
    Ok(Box::new(XmlToIon { from: p.from, encoding, query, force_list }))
}

#[async_trait]
impl RunnableTask for XmlToIon {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (enc, uri, query) = (self.encoding, self.from.trim().to_string(), self.query.clone());
        let names = Names { local: query.is_some(), force_list: self.force_list.clone() };
        common::convert(cx, &self.from, "data.ion", Box::new(move |src, out| to_ion(src, out, enc, query, names, &uri)))
            .await
    }
}

/// The parse state shared by both modes.
struct Parse<'a> {
    reader: Reader<BufReader<Tracked<charset::Decode<SyncReader>>>>,
    out: &'a mut SyncWriter,
    uri: &'a str,
    report: Report,
    /// Where the record being read started (bytes).
    record_start: u64,
}

impl Parse<'_> {
    fn line(&self, pos: u64) -> u64 {
        self.reader.get_ref().get_ref().line_at(pos)
    }

    fn fail(&self, what: impl std::fmt::Display) -> String {
        format!("{} at line {}: {what}", self.uri, self.line(self.reader.buffer_position()))
    }

    fn write(&mut self, v: &Value) -> Result<(), String> {
        xml_number::write_record(v, self.out).map_err(common::write_err)?;
        self.report.records += 1;
        self.record_start = self.reader.buffer_position();
        Ok(())
    }

    /// A record of the `query` mode: a map, each item of a list, or a scalar.
    fn write_spread(&mut self, v: Value) -> Result<(), String> {
        match v {
            Value::Array(items) => items.iter().try_for_each(|i| self.write(i)),
            other => self.write(&other),
        }
    }

    fn too_long(&self) -> bool {
        self.reader.buffer_position().saturating_sub(self.record_start) > MAX_RECORD_BYTES
    }

    fn bound_error(&self) -> String {
        self.fail(format!(
            "one record is longer than {MAX_RECORD_BYTES} bytes, the longest record Baton reads \
             (give `query` to read the document's elements one by one)"
        ))
    }
}

/// XML to Ion, on a blocking thread.
fn to_ion(
    src: SyncReader,
    out: &mut SyncWriter,
    enc: &'static encoding_rs::Encoding,
    query: Option<(Vec<String>, String)>,
    names: Names,
    uri: &str,
) -> Result<Report, String> {
    let mut reader = Reader::from_reader(BufReader::new(Tracked::new(charset::Decode::new(src, enc, true))));
    reader.config_mut().trim_text(false);
    let mut p = Parse { reader, out, uri, report: Report::default(), record_start: 0 };
    match query {
        Some((parents, element)) => by_query(&mut p, &names, &parents, &element)?,
        None => whole(&mut p, &names)?,
    }
    Ok(p.report)
}

/// Without `query`: the document, unwrapped.
fn whole(p: &mut Parse, names: &Names) -> Result<(), String> {
    let mut stack: Vec<Frame> = vec![Frame::default()];
    // the root's children are being written as records: their name
    let mut streaming: Option<String> = None;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let ev = p
            .reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("{} at line {}: malformed XML: {e}", p.uri, p.line(p.reader.error_position())))?;
        match ev {
            Event::Start(e) => {
                if let Some(top) = stack.last_mut() {
                    top.flush();
                }
                if stack.len() > MAX_DEPTH {
                    return Err(p.fail(format!("elements nest deeper than {MAX_DEPTH}, the most Baton reads")));
                }
                if stack.len() == 1 && streaming.is_some() {
                    return Err(p.fail("a second root element"));
                }
                stack.push(names.open(&e).map_err(|m| p.fail(m))?);
            }
            Event::Empty(e) => {
                if let Some(top) = stack.last_mut() {
                    top.flush();
                }
                let (name, closed) = names.close(names.open(&e).map_err(|m| p.fail(m))?, true);
                add(p, &mut stack, &mut streaming, name, closed)?;
            }
            Event::End(_) => {
                let Some(f) = stack.pop().filter(|_| !stack.is_empty()) else {
                    return Err(p.fail("an end tag without its start"));
                };
                if stack.len() == 1 && streaming.is_some() {
                    if f.has_text() || !f.obj.is_empty() {
                        return Err(p.bound_error());
                    }
                    continue;
                }
                let (name, closed) = names.close(f, false);
                add(p, &mut stack, &mut streaming, name, closed)?;
            }
            Event::Text(t) if stack.len() > 1 => {
                if let Some(top) = stack.last_mut() {
                    top.push_text(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) if stack.len() > 1 => {
                let s = entity(&r).map_err(|m| p.fail(m))?;
                if let Some(top) = stack.last_mut() {
                    top.push_text(&s);
                }
            }
            Event::CData(c) if stack.len() > 1 => {
                if let Some(top) = stack.last_mut() {
                    top.push_cdata(&c.xml10_content());
                }
            }
            Event::Eof => {
                if let Some(open) = stack.get(1) {
                    return Err(p.fail(format!("the document ends inside <{}>", open.name)));
                }
                break;
            }
            _ => {
                if let Some(top) = stack.last_mut() {
                    top.flush();
                }
            }
        }
        if p.too_long() && (streaming.is_some() || !start_streaming(p, &mut stack, &mut streaming, names)?) {
            return Err(p.bound_error());
        }
    }
    if streaming.is_some() {
        return Ok(());
    }
    let doc = std::mem::take(&mut stack[0].obj);
    p.write_spread_doc(doc)
}

/// Adds a closed element to its parent, or writes it when the root's
/// children are streamed.
fn add(
    p: &mut Parse,
    stack: &mut [Frame],
    streaming: &mut Option<String>,
    name: String,
    closed: Closed,
) -> Result<(), String> {
    if stack.len() == 2
        && let Some(s) = streaming.as_deref()
    {
        if s != name || stack[1].has_text() {
            return Err(p.bound_error());
        }
        return match closed {
            Closed::Value(v) | Closed::Append(v) => p.write(&v),
            Closed::EmptyList => Ok(()),
        };
    }
    if let Some(parent) = stack.last_mut() {
        closed.add_to(&mut parent.obj, &name);
    }
    Ok(())
}

/// Past the bound: when the root so far is a list of one name (what
/// Kestra unwraps), its items are written and the rest streams. False
/// when it is not such a list.
fn start_streaming(
    p: &mut Parse,
    stack: &mut [Frame],
    streaming: &mut Option<String>,
    names: &Names,
) -> Result<bool, String> {
    let Some(root) = stack.get_mut(1) else { return Ok(false) };
    if root.has_text() || root.obj.len() != 1 || names.force_list.contains(&root.name) {
        return Ok(false);
    }
    let Some((name, Value::Array(_))) = root.obj.iter().next() else { return Ok(false) };
    let name = name.clone();
    let Some(Value::Array(items)) = root.obj.remove(&name) else { return Ok(false) };
    for item in &items {
        p.write(item)?;
    }
    *streaming = Some(name);
    Ok(true)
}

impl Parse<'_> {
    /// Kestra's `unwrapRootArray`: `{root: [...]}` or `{root: {child: [...]}}`
    /// gives the list's items, anything else is one record.
    fn write_spread_doc(&mut self, doc: Map<String, Value>) -> Result<(), String> {
        if doc.len() == 1
            && let Some(v) = doc.values().next()
        {
            match v {
                Value::Array(items) => return items.iter().try_for_each(|i| self.write(i)),
                Value::Object(inner) if inner.len() == 1 => {
                    if let Some(Value::Array(items)) = inner.values().next() {
                        return items.iter().try_for_each(|i| self.write(i));
                    }
                }
                _ => {}
            }
        }
        self.write(&Value::Object(doc))
    }
}

/// With `query`: every element at the path is a record.
fn by_query(p: &mut Parse, names: &Names, parents: &[String], element: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut matched = 0usize;
    let mut skip_until: Option<usize> = None;
    let mut record: Vec<Frame> = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let ev = p
            .reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("{} at line {}: malformed XML: {e}", p.uri, p.line(p.reader.error_position())))?;
        let at_children = matched == parents.len() && depth == matched;
        match ev {
            Event::Start(e) => {
                depth += 1;
                if !record.is_empty() {
                    if let Some(top) = record.last_mut() {
                        top.flush();
                    }
                    if record.len() >= MAX_DEPTH {
                        return Err(p.fail(format!("elements nest deeper than {MAX_DEPTH}, the most Baton reads")));
                    }
                    record.push(names.open(&e).map_err(|m| p.fail(m))?);
                } else if skip_until.is_some() {
                } else if at_children && e.local_name().into_inner() == element {
                    p.record_start = p.reader.buffer_position();
                    record.push(names.open(&e).map_err(|m| p.fail(m))?);
                } else if matched < parents.len()
                    && depth == matched + 1
                    && e.local_name().into_inner() == parents[matched]
                {
                    matched += 1;
                } else {
                    skip_until = Some(depth);
                }
            }
            Event::Empty(e) => {
                if let Some(top) = record.last_mut() {
                    top.flush();
                    let (name, closed) = names.close(names.open(&e).map_err(|m| p.fail(m))?, true);
                    closed.add_to(&mut top.obj, &name);
                } else if skip_until.is_some() {
                } else if at_children && e.local_name().into_inner() == element {
                    let (_, closed) = names.close(names.open(&e).map_err(|m| p.fail(m))?, true);
                    p.write_spread(closed.alone())?;
                } else if matched < parents.len() && depth == matched && e.local_name().into_inner() == parents[matched]
                {
                    // the parent, with no children: nothing to read
                    return Ok(());
                }
            }
            Event::End(_) => {
                if let Some(f) = record.pop() {
                    let (name, closed) = names.close(f, false);
                    match record.last_mut() {
                        Some(parent) => closed.add_to(&mut parent.obj, &name),
                        None => p.write_spread(closed.alone())?,
                    }
                } else if skip_until == Some(depth) {
                    skip_until = None;
                } else if skip_until.is_none() && depth == matched && matched > 0 {
                    if matched == parents.len() {
                        // the parent ended: Kestra stops here
                        return Ok(());
                    }
                    matched -= 1;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => {
                if let Some(top) = record.last_mut() {
                    top.push_text(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = record.last_mut() {
                    top.push_text(&entity(&r).map_err(|m| p.fail(m))?);
                }
            }
            Event::CData(c) => {
                if let Some(top) = record.last_mut() {
                    top.push_cdata(&c.xml10_content());
                }
            }
            Event::Eof => {
                if depth > 0 {
                    return Err(p.fail("the document ends inside an element"));
                }
                return Ok(());
            }
            _ => {
                if let Some(top) = record.last_mut() {
                    top.flush();
                }
            }
        }
        if record.is_empty() {
            p.record_start = p.reader.buffer_position();
        } else if p.too_long() {
            return Err(
                p.fail(format!("one record is longer than {MAX_RECORD_BYTES} bytes, the longest record Baton reads"))
            );
        }
    }
}

pub static XML_TO_ION: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

/// XML to Ion over text, the whole document (unit tests of other converters).
#[cfg(test)]
pub(super) fn convert_text(input: &str) -> Result<String, String> {
    let input = input.as_bytes().to_vec();
    let names = Names { local: false, force_list: Default::default() };
    super::test_support::run_job(input, move |src, out| {
        to_ion(src, out, encoding_rs::UTF_8, None, names, "kestra:///f.xml")
    })
}

#[cfg(test)]
#[path = "xml_read_tests.rs"]
mod tests;
