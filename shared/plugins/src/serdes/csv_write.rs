//! `io.kestra.plugin.serdes.csv.IonToCsv`: an Ion file (one value a line)
//! to CSV, streamed. As Kestra (FastCSV's writer): a struct writes its
//! values in its own field order, after a header of the first struct's
//! names (`header: true`, the default); a list writes its items (refused
//! with a header); other values are skipped but counted. A value is
//! written as Java's `toString` writes it (`[a, b]`, `{k=v}`, `1.0E10`);
//! null is an empty field. Quoting follows `quoteMode` (REQUIRED unless
//! set; `alwaysDelimitText: true` means ALWAYS): REQUIRED quotes a field
//! holding the separator, the quote, CR or LF, or a first field starting
//! with `#`; ALWAYS quotes every field, null and empty included;
//! NON_NUMERIC quotes non-empty values that are not plain decimals.
//!
//! Kestra's `dateFormat`, `timeFormat`, `dateTimeFormat` and `timeZoneId`
//! format Ion timestamps; Baton's Ion values hold timestamps as text, so
//! these are not declared (a flow setting them is refused).

use std::io::{BufReader, Write};
use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::charset;
use super::common::{self, IonLines, Job, Report};
use super::csv_read::Delimiters;
use crate::bridge::{SyncReader, SyncWriter};
use crate::core::ion_text;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Convert an Ion file into CSV.
///
/// Writes the records of an Ion file (structs or lists, one a line) as CSV, with a header of the first struct's field names.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.serdes.csv.IonToCsv",
    aliases = ["io.kestra.plugin.serdes.csv.CsvWriter"],
    group = "core",
    example = "id: to_csv\ntype: io.kestra.plugin.serdes.csv.IonToCsv\nfrom: \"{{ outputs.query.uri }}\"\n",
    outputs(
        uri(String, "The CSV file."),
        size(Integer, "Records written.")
    )
)]
struct Props {
    /// The Ion file (kestra:// URI).
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// Write a header line of the first struct's field names.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    header: Option<bool>,
    #[serde(flatten)]
    delimiters: Delimiters,
    /// The end of a line: `\n`, `\r\n` or `\r`.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"\\n\"")]
    line_delimiter: Option<String>,
    /// Deprecated: quote every field (`quoteMode: ALWAYS`); `quoteMode` wins when set.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    always_delimit_text: Option<bool>,
    /// Which fields are quoted.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ALWAYS", "REQUIRED", "NON_NUMERIC"])]
    quote_mode: Option<String>,
    /// The charset written.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"UTF-8\"")]
    charset: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    Always,
    Required,
    NonNumeric,
}

#[derive(Debug, Clone)]
struct Options {
    header: bool,
    separator: u8,
    quote_char: u8,
    line: &'static str,
    quote: Quote,
    encoding: &'static encoding_rs::Encoding,
}

#[derive(Debug)]
struct IonToCsv {
    from: String,
    options: Options,
}

fn options(p: &Props) -> Result<Options, TaskError> {
    let line = match p.line_delimiter.as_deref().unwrap_or("\n") {
        "\n" => "\n",
        "\r\n" => "\r\n",
        "\r" => "\r",
        o => {
            return Err(TaskError::property(
                "lineDelimiter",
                format!("{o:?} is not one of \"\\n\", \"\\r\\n\", \"\\r\""),
            ));
        }
    };
    let quote = match p.quote_mode.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("ALWAYS") => Quote::Always,
        Some("REQUIRED") => Quote::Required,
        Some("NON_NUMERIC") => Quote::NonNumeric,
        Some(o) => {
            return Err(TaskError::property("quoteMode", format!("'{o}' is not one of ALWAYS, REQUIRED, NON_NUMERIC")));
        }
        None if p.always_delimit_text == Some(true) => Quote::Always,
        None => Quote::Required,
    };
    Ok(Options {
        header: p.header.unwrap_or(true),
        separator: p.delimiters.separator()?,
        quote_char: p.delimiters.quote()?,
        line,
        quote,
        encoding: charset::parse_output("charset", p.charset.as_deref().unwrap_or("UTF-8"))?,
    })
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    let options = options(&p)?;
    Ok(Box::new(IonToCsv { from: p.from, options }))
}

#[async_trait]
impl RunnableTask for IonToCsv {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let options = self.options.clone();
        let uri = self.from.trim().to_string();
        let job: Job = Box::new(move |src, out| write(src, out, &options, &uri));
        common::convert(cx, &self.from, "data.csv", job).await
    }
}

/// A JSON value as Java's `toString` writes it (null stays null).
pub fn java_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(super::exact::java_text(v).unwrap_or_else(|| ion_text::plain_text(s).to_string())),
        _ => {
            let mut s = String::new();
            java_into(v, &mut s);
            Some(s)
        }
    }
}

fn java_into(v: &Value, s: &mut String) {
    match v {
        Value::Null => s.push_str("null"),
        Value::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
        Value::String(t) => match super::exact::java_text(v) {
            Some(n) => s.push_str(&n),
            None => s.push_str(ion_text::plain_text(t)),
        },
        Value::Number(n) => match n.as_f64().filter(|_| n.is_f64()) {
            Some(f) => s.push_str(&java_double(f)),
            None => s.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            s.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                java_into(item, s);
            }
            s.push(']');
        }
        Value::Object(m) => {
            s.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                s.push_str(k);
                s.push('=');
                java_into(item, s);
            }
            s.push('}');
        }
    }
}

/// Java's `Double.toString`: plain between 10⁻³ and 10⁷, else `d.dddE±n`.
pub fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let a = f.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{f:?}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    let s = format!("{f:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{mantissa}.0") };
    format!("{mantissa}E{exp}")
}

/// Kestra's NON_NUMERIC test: an optional sign, digits, at most one `.`.
fn is_numeric(v: &str) -> bool {
    let body = v.strip_prefix(['-', '+']).unwrap_or(v);
    !body.is_empty() && body.chars().all(|c| c.is_ascii_digit() || c == '.') && body.matches('.').count() <= 1
}

/// Writes one record.
fn record(fields: &[Option<String>], o: &Options, out: &mut impl Write) -> std::io::Result<()> {
    let q = o.quote_char as char;
    let mut line = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push(o.separator as char);
        }
        let quoted = match f {
            None => o.quote == Quote::Always,
            Some(v) if v.is_empty() => o.quote == Quote::Always,
            Some(v) => {
                let required = v.contains(o.separator as char)
                    || v.contains(q)
                    || v.contains(['\r', '\n'])
                    || (i == 0 && v.starts_with('#'));
                required || o.quote == Quote::Always || (o.quote == Quote::NonNumeric && !is_numeric(v))
            }
        };
        let v = f.as_deref().unwrap_or("");
        if quoted {
            line.push(q);
            for c in v.chars() {
                if c == q {
                    line.push(q);
                }
                line.push(c);
            }
            line.push(q);
        } else {
            line.push_str(v);
        }
    }
    line.push_str(o.line);
    out.write_all(line.as_bytes())
}

/// The conversion, on a blocking thread.
fn write(src: SyncReader, out: &mut SyncWriter, o: &Options, uri: &str) -> Result<Report, String> {
    let mut lines = IonLines::new(BufReader::new(src), uri).exact();
    let mut w = charset::Encode::new(out, o.encoding);
    let mut report = Report::default();
    let mut first = true;
    while let Some(v) = lines.next_value()? {
        match &v {
            Value::Array(items) => {
                if o.header {
                    return Err(format!(
                        "line {} of {uri} is a list, which cannot be written with a header (set header: false)",
                        lines.line
                    ));
                }
                let fields: Vec<Option<String>> = items.iter().map(java_string).collect();
                record(&fields, o, &mut w).map_err(common::write_err)?;
            }
            Value::Object(m) => {
                if first && o.header {
                    let names: Vec<Option<String>> = m.keys().map(|k| Some(k.clone())).collect();
                    record(&names, o, &mut w).map_err(common::write_err)?;
                }
                first = false;
                let fields: Vec<Option<String>> = m.values().map(java_string).collect();
                record(&fields, o, &mut w).map_err(common::write_err)?;
            }
            _ => {}
        }
        report.records += 1;
    }
    Ok(report)
}

pub static ION_TO_CSV: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<Props>(build).parsed_by::<Props>());

/// Runs the conversion over Ion text (unit tests): the CSV or the error.
#[cfg(test)]
pub(super) fn convert_bytes(input: &str, props: Value) -> Result<Vec<u8>, String> {
    let mut map = props.as_object().cloned().unwrap_or_default();
    map.insert("from".into(), "kestra:///t/f.ion".into());
    let p: Props = parse_props(&map).map_err(|e| e.to_string())?;
    let o = options(&p).map_err(|e| e.to_string())?;
    super::test_support::run_bytes(input.as_bytes().to_vec(), move |src, out| write(src, out, &o, "kestra:///t/f.ion"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn csv(ion: &str, props: Value) -> String {
        String::from_utf8(convert_bytes(ion, props).unwrap()).unwrap()
    }

    #[test]
    fn structs_write_a_header_then_their_values() {
        let ion = "{id:1,name:\"Alice\",tags:[\"a\",\"b\"],ok:true,price:1.5,none:null}\n{id:2,name:\"Bob, \\\"Jr\\\"\",tags:[],ok:false,price:1e10,none:null}\n";
        assert_eq!(
            csv(ion, json!({})),
            "id,name,tags,ok,price,none\n1,Alice,\"[a, b]\",true,1.5,\n2,\"Bob, \"\"Jr\"\"\",[],false,1.0E10,\n"
        );
        assert_eq!(csv("{a:1}\n", json!({"header": false, "lineDelimiter": "\r\n"})), "1\r\n");
        assert_eq!(csv("[\"x\",null,\"\"]\n", json!({"header": false, "quoteMode": "ALWAYS"})), "\"x\",\"\",\"\"\n");
        assert_eq!(
            csv("{a:\"x\",b:\"-1.5\",c:\"\",d:\"1e3\"}\n", json!({"quoteMode": "NON_NUMERIC", "fieldSeparator": ";"})),
            "\"a\";\"b\";\"c\";\"d\"\n\"x\";-1.5;;\"1e3\"\n"
        );
        assert_eq!(csv("{a:\"x\"}\n", json!({"alwaysDelimitText": true})), "\"a\"\n\"x\"\n");
    }

    #[test]
    fn a_list_with_a_header_is_refused_naming_its_line() {
        let e = convert_bytes("{a:1}\n[1]\n", json!({})).unwrap_err();
        assert!(e.starts_with("line 2 of kestra:///t/f.ion is a list"), "{e}");
        assert!(convert_bytes("{a:1}\n", json!({"lineDelimiter": ";"})).is_err());
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(1e-4), "1.0E-4");
        assert_eq!(java_double(12345678.9), "1.23456789E7");
    }
}
