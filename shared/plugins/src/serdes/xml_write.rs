//! `io.kestra.plugin.serdes.xml.IonToXml` (plugin-serdes
//! `xml/IonToXml.java`): the records of an Ion file as one XML document,
//! laid out as Kestra's Jackson `XmlMapper` lays it out — the declaration
//! `<?xml version='1.0' encoding='UTF-8'?>` (Kestra writes UTF-8 there
//! whatever `charset` the file is written in), a root element `rootName`
//! (`items`), one `<item>` per record indented by two spaces, a map's keys
//! as elements, a list as its key repeated, null and empty maps as empty
//! elements. Streamed: one record in memory at a time (Kestra holds them
//! all). A key that is not an XML name fails naming the record's line.
//! `timeZoneId`: Ion date-times are printed as Kestra's Jackson prints
//! them in that zone ([`super::ion_dates`]: a timestamp with an offset
//! moved to the zone, one in UTC as an instant). Numbers are read as
//! Kestra's Ion reader reads them and printed as Jackson prints those Java
//! values ([`super::exact`]): an Ion decimal keeps its digits and scale
//! (`1.50`, `0.0001`, `1E+3`), a float is a `Double` (`1.0E-4`).

use std::io::{BufReader, Write};
use std::sync::LazyLock;

use async_trait::async_trait;
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::common::{self, IonLines, Report};
use super::csv_write::java_string;
use super::{charset, ion_dates};
use crate::bridge::{SyncReader, SyncWriter};
use crate::core::ion_text::DateToken;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The deepest nesting written (bounds the recursion).
const MAX_DEPTH: usize = 512;

fn root_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => xml_name(s.trim()),
        _ => Ok(()),
    }
}

/// An XML element name: a letter, `_` or `:`, then letters, digits, `-`, `.`, `_`, `:`.
fn xml_name(s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    let ok = match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' || c == ':' => {
            chars.all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | ':' | '\u{B7}'))
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(format!("'{s}' is not an XML element name")) }
}

/// Convert an Ion file into XML.
///
/// Writes the records of an Ion file as one XML document: one item element per record under a root element.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.serdes.xml.IonToXml",
    aliases = ["io.kestra.plugin.serdes.xml.XmlWriter"],
    group = "core",
    example = "id: to_xml\ntype: io.kestra.plugin.serdes.xml.IonToXml\nfrom: \"{{ outputs.query.uri }}\"\nrootName: rows\n",
    outputs(uri(String, "The XML file."), size(Integer, "Records written."))
)]
struct Props {
    /// The source file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// The charset of the XML file written.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"UTF-8\"")]
    charset: Option<String>,
    /// The root element's name.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"items\"", check = root_ok)]
    root_name: Option<String>,
    /// The time zone Ion timestamps with an offset are written in (UTC when not set).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    time_zone_id: Option<String>,
}

#[derive(Debug)]
struct IonToXml {
    from: String,
    encoding: &'static encoding_rs::Encoding,
    root: String,
    zone: Tz,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let encoding = charset::parse_output("charset", p.charset.as_deref().unwrap_or("UTF-8"))?;
    let root = p.root_name.as_deref().map(str::trim).unwrap_or("items").to_string();
    xml_name(&root).map_err(|e| TaskError::property("rootName", e))?;
    let zone = ion_dates::zone(p.time_zone_id.as_deref())?;
    Ok(Box::new(IonToXml { from: p.from, encoding, root, zone }))
}

#[async_trait]
impl RunnableTask for IonToXml {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (enc, uri, root, zone) = (self.encoding, self.from.trim().to_string(), self.root.clone(), self.zone);
        common::convert(cx, &self.from, "data.xml", Box::new(move |src, out| to_xml(src, out, enc, &root, &uri, zone)))
            .await
    }
}

/// Text content escaped as Jackson's XML writer escapes it (`&`, `<`, `>`).
fn text(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::partial_escape(s)
}

/// A scalar as Jackson's XML writer prints the Java value Kestra's Ion
/// reader makes: a decimal as `BigDecimal.toString` (`1.50`, `1E+3`), a
/// float as `Double.toString` (`1.0E-4`), text escaped.
fn scalar(v: &Value) -> String {
    text(&java_string(v).unwrap_or_default()).into_owned()
}

/// Writes `<name>…</name>` for `v` at `depth` (two spaces a level).
fn element(w: &mut impl Write, name: &str, v: &Value, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("values nest deeper than {MAX_DEPTH}, the most Baton writes"));
    }
    let pad = "  ".repeat(depth);
    let io = common::write_err;
    match v {
        Value::Null => writeln!(w, "{pad}<{name}/>").map_err(io),
        Value::Object(m) if m.is_empty() => writeln!(w, "{pad}<{name}/>").map_err(io),
        Value::Object(m) => {
            writeln!(w, "{pad}<{name}>").map_err(io)?;
            for (k, v) in m {
                xml_name(k).map_err(|e| format!("key {e}"))?;
                match v {
                    Value::Array(items) => {
                        for item in items {
                            element(w, k, item, depth + 1)?;
                        }
                    }
                    other => element(w, k, other, depth + 1)?,
                }
            }
            writeln!(w, "{pad}</{name}>").map_err(io)
        }
        Value::Array(items) => {
            writeln!(w, "{pad}<{name}>").map_err(io)?;
            for item in items {
                element(w, "item", item, depth + 1)?;
            }
            writeln!(w, "{pad}</{name}>").map_err(io)
        }
        other => writeln!(w, "{pad}<{name}>{}</{name}>", scalar(other)).map_err(io),
    }
}

/// Ion to XML, on a blocking thread.
fn to_xml(
    src: SyncReader,
    out: &mut SyncWriter,
    enc: &'static encoding_rs::Encoding,
    root: &str,
    uri: &str,
    zone: Tz,
) -> Result<Report, String> {
    let mut lines = IonLines::new(BufReader::new(src), uri)
        .exact()
        .with_dates(Box::new(move |t: DateToken<'_>| ion_dates::in_zone(t, zone)));
    let mut w = charset::Encode::new(out, enc);
    let mut report = Report::default();
    w.write_all(b"<?xml version='1.0' encoding='UTF-8'?>\n").map_err(common::write_err)?;
    while let Some(v) = lines.next_value()? {
        if report.records == 0 {
            writeln!(w, "<{root}>").map_err(common::write_err)?;
        }
        element(&mut w, "item", &v, 1).map_err(|e| format!("line {} of {uri}: {e}", lines.line))?;
        report.records += 1;
    }
    if report.records == 0 {
        writeln!(w, "<{root}/>").map_err(common::write_err)?;
    } else {
        writeln!(w, "</{root}>").map_err(common::write_err)?;
    }
    w.flush().map_err(common::write_err)?;
    Ok(report)
}

pub static ION_TO_XML: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::serdes::test_support::run_job;

    pub(crate) fn xml(input: &str, root: &str) -> Result<String, String> {
        let (input, root) = (input.as_bytes().to_vec(), root.to_string());
        run_job(input, move |src, out| to_xml(src, out, encoding_rs::UTF_8, &root, "kestra:///f.ion", Tz::UTC))
    }

    #[test]
    fn time_zone_id_moves_ion_timestamps_with_an_offset() {
        let input =
            "{at:2024-01-02T03:04:05+02:00,utc:2024-01-02T03:04:05Z,day:2024-01-02,s:\"2024-01-02T03:04:05+02:00\"}\n";
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let got = run_job(input.as_bytes().to_vec(), move |src, out| {
            to_xml(src, out, encoding_rs::UTF_8, "items", "kestra:///f.ion", paris)
        })
        .unwrap();
        assert!(got.contains("<at>2024-01-02T02:04:05+01:00</at>"), "{got}");
        assert!(got.contains("<utc>2024-01-02T03:04:05Z</utc>"), "{got}");
        assert!(got.contains("<day>2024-01-02</day>"), "{got}");
        // a string is a string, whatever it looks like
        assert!(got.contains("<s>2024-01-02T03:04:05+02:00</s>"), "{got}");
        let props = serde_json::json!({"from": "kestra:///f.ion", "timeZoneId": "Nowhere/City"});
        let e = build(props.as_object().unwrap()).err().unwrap().to_string();
        assert!(e.contains("timeZoneId"), "{e}");
    }

    #[test]
    fn records_are_items_under_the_root_as_jackson_lays_them_out() {
        let got = xml("{String:\"a<b&c\",Int:2,Double:3.2,n:null,m:{x:1},l:[1,2],e:{}}\n{k:true}\n", "items").unwrap();
        assert_eq!(
            got,
            "<?xml version='1.0' encoding='UTF-8'?>\n<items>\n  <item>\n    <String>a&lt;b&amp;c</String>\n    \
             <Int>2</Int>\n    <Double>3.2</Double>\n    <n/>\n    <m>\n      <x>1</x>\n    </m>\n    <l>1</l>\n    \
             <l>2</l>\n    <e/>\n  </item>\n  <item>\n    <k>true</k>\n  </item>\n</items>\n"
        );
        assert_eq!(xml("", "rows").unwrap(), "<?xml version='1.0' encoding='UTF-8'?>\n<rows/>\n");
    }

    #[test]
    fn numbers_print_as_jackson_prints_kestras_java_values() {
        let got =
            xml("{d:1.50,s:0.0001,e:1d3,b:12345678901234567890123,f:1e-4,g:2.5e0,n:\"\\u0000x\"}\n", "items").unwrap();
        for want in [
            "<d>1.50</d>",
            "<s>0.0001</s>",
            "<e>1E+3</e>",
            "<b>12345678901234567890123</b>",
            "<f>1.0E-4</f>",
            "<g>2.5</g>",
            "<n>\u{0}x</n>",
        ] {
            assert!(got.contains(want), "{want}: {got}");
        }
        // XML → Ion → XML keeps the texts of decimals
        let ion = crate::serdes::xml_read::convert_text("<r><p>0.0001</p><q>1.50</q><big>1e3</big></r>").unwrap();
        let back = xml(&ion, "items").unwrap();
        assert!(
            back.contains("<p>0.0001</p>") && back.contains("<q>1.50</q>") && back.contains("<big>1E+3</big>"),
            "{back}"
        );
    }

    #[test]
    fn a_key_that_is_no_xml_name_fails_naming_the_line() {
        let e = xml("{a:1}\n{\"b c\":1}\n", "items").unwrap_err();
        assert_eq!(e, "line 2 of kestra:///f.ion: key 'b c' is not an XML element name");
        assert!(
            build(&serde_json::json!({"from": "kestra:///f.ion", "rootName": "1x"}).as_object().cloned().unwrap())
                .err()
                .unwrap()
                .to_string()
                .contains("'rootName'")
        );
    }
}
