//! `io.kestra.plugin.serdes.excel.IonToExcel` on `rust_xlsxwriter` in its
//! constant-memory mode (each row goes to a temporary file as it is
//! written), so an Ion file of any size passes with a bounded footprint up
//! to Excel's own bounds (1,048,576 rows, 16,384 columns, 32,767
//! characters a cell), which are errors naming them.
//!
//! As Kestra: `from` is one Ion file (sheet `sheetsTitle`) or a map of
//! sheet name → Ion file, one sheet each; a struct writes its values in its
//! own field order, after a header row of the first struct's names
//! (`header`); a list writes its items (refused with a header); other
//! values are counted and skipped. Numbers are read as Kestra's Ion reader
//! reads them ([`super::exact`]): an integer, a float or a decimal is a
//! numeric cell (a decimal's nearest double, as Kestra's `doubleValue()`),
//! an integer past 64 bits a text cell of its digits, as Kestra; text
//! starting with `Formula:` a formula, lists and structs their Java text.
//! Two differences, both where Kestra loses data: a boolean is written as
//! itself (Kestra writes FALSE), and null leaves the cell empty (Kestra
//! writes the text "null"). Kestra's `dateFormat`, `timeFormat`,
//! `dateTimeFormat` and `timeZoneId` style Ion timestamps; Baton's Ion
//! holds timestamps as text, written as text, so they are not declared (a
//! flow setting them is refused); `styles` (on dates only) and `charset`
//! (unused by Kestra's writer too) are accepted, with no effect on text.

use std::io::BufReader;
use std::path::Path;
use std::sync::LazyLock;

use async_trait::async_trait;
use rust_xlsxwriter::{Workbook, Worksheet, XlsxError};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::charset;
use super::common::IonLines;
use super::csv_write::java_string;
use super::exact::Exact;
use crate::bridge::{STOPPED, SyncReader};
use crate::core::ion_text;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Convert an Ion file into Excel.
///
/// Writes the records of an Ion file, or of several (a map of sheet name to file), as sheets of an Excel (.xlsx) workbook.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.serdes.excel.IonToExcel",
    group = "core",
    example = "id: to_excel\ntype: io.kestra.plugin.serdes.excel.IonToExcel\nfrom:\n  Products: \"{{ outputs.products.uri }}\"\n  Fruit: \"{{ outputs.fruit.uri }}\"\n",
    outputs(uri(String, "The Excel file."), size(Integer, "Records written, all sheets together."))
)]
struct Props {
    /// The Ion file (kestra:// URI), or a map of sheet name → Ion file.
    #[prop(kind = "Any", required, check = from_ok)]
    from: Value,
    /// The name of the sheet when `from` is one file.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"Sheet\"")]
    sheets_title: Option<String>,
    /// Write a header row of the first struct's field names.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    header: Option<bool>,
    /// Style date cells with the date format (Baton's Ion holds dates as text, written as text).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    #[allow(dead_code)]
    styles: Option<bool>,
    /// The name of a character set (unused: an .xlsx file is UTF-8).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(default = "\"UTF-8\"")]
    charset: Option<String>,
}

/// `from`: a URI (or a template), or a map of sheet name → URI.
fn from_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::String(_) => Ok(()),
        Value::Object(m) if m.is_empty() => Err("the map of sheet name → Ion file is empty".into()),
        Value::Object(m) => match m.iter().find(|(_, v)| !v.is_string()) {
            Some((k, v)) => Err(format!("sheet '{k}': expected a kestra:// URI, found {v}")),
            None => Ok(()),
        },
        other => Err(format!("expected a kestra:// URI or a map of sheet name → URI, found {other}")),
    }
}

#[derive(Debug)]
struct IonToExcel {
    /// Sheet name → Ion file, in order.
    sheets: Vec<(String, String)>,
    header: bool,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    from_ok(&p.from).map_err(|e| TaskError::property("from", e))?;
    if let Some(c) = &p.charset {
        charset::parse("charset", c)?;
    }
    let sheets = match p.from {
        Value::String(uri) => vec![(p.sheets_title.unwrap_or_else(|| "Sheet".into()), uri)],
        Value::Object(m) => m.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string())).collect(),
        _ => Vec::new(),
    };
    Ok(Box::new(IonToExcel { sheets, header: p.header.unwrap_or(true) }))
}

#[async_trait]
impl RunnableTask for IonToExcel {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut sources = Vec::with_capacity(self.sheets.len());
        for (name, uri) in &self.sheets {
            let path = cx.readable_path("from", uri)?;
            let src = cx
                .services
                .storage
                .get(&path)
                .await
                .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", uri.trim())))?;
            sources.push((name.clone(), uri.trim().to_string(), SyncReader::pump(src)));
        }
        let dir = cx.working_dir()?;
        let file = dir.join("data.xlsx");
        let (target, header) = (file.clone(), self.header);
        let work = tokio::task::spawn_blocking(move || write_workbook(sources, header, &target));
        let written = work.await.map_err(|e| TaskError::failed(format!("the conversion stopped: {e}")))?;
        let out = match written {
            Ok(sizes) => store(cx, &file, &sizes).await,
            Err(e) => Err(TaskError::failed(e)),
        };
        if !cx.shares_working_dir() {
            let _ = tokio::fs::remove_dir_all(&dir).await;
        }
        out
    }
}

/// Uploads the workbook; Kestra's outputs.
async fn store(cx: &RunContext, file: &Path, sizes: &[(String, u64)]) -> Result<TaskOutput, TaskError> {
    let f = tokio::fs::File::open(file)
        .await
        .map_err(|e| TaskError::failed(format!("cannot read the workbook {}: {e}", file.display())))?;
    let (uri, _) = cx.put_file("data.xlsx", Box::pin(f)).await?;
    let total: u64 = sizes.iter().map(|(_, n)| n).sum();
    cx.counter("records", total as f64, &[]);
    let sheets: Vec<String> = sizes.iter().map(|(s, n)| format!("{s} ({n} records)")).collect();
    cx.info(&format!("Wrote {uri}: {}", sheets.join(", ")));
    let mut out = Map::new();
    out.insert("uri".into(), Value::String(uri));
    out.insert("size".into(), Value::from(total));
    Ok(TaskOutput::with(out))
}

/// Writes every sheet, then the workbook, on a blocking thread; records
/// per sheet.
fn write_workbook(
    sources: Vec<(String, String, SyncReader)>,
    header: bool,
    target: &Path,
) -> Result<Vec<(String, u64)>, String> {
    let mut book = Workbook::new();
    if let Some(dir) = target.parent() {
        book.set_tempdir(dir).map_err(|e| format!("cannot use {} for temporary files: {e}", dir.display()))?;
    }
    let mut sizes = Vec::new();
    for (name, uri, src) in sources {
        let sheet = book.add_worksheet_with_constant_memory().map_err(|e| xlsx_err(&name, e))?;
        sheet.set_name(&name).map_err(|e| xlsx_err(&name, e))?;
        let n = write_sheet(sheet, src, header, &name, &uri)?;
        sizes.push((name, n));
    }
    book.save(target).map_err(|e| format!("cannot write the Excel file: {e}"))?;
    Ok(sizes)
}

fn xlsx_err(sheet: &str, e: XlsxError) -> String {
    match e {
        XlsxError::RowColumnLimitError => {
            format!("sheet '{sheet}': more than 1,048,576 rows or 16,384 columns, the most an Excel sheet holds")
        }
        XlsxError::MaxStringLengthExceeded => {
            format!("sheet '{sheet}': a text longer than 32,767 characters, the most an Excel cell holds")
        }
        e if e.to_string() == STOPPED => STOPPED.to_string(),
        e => format!("sheet '{sheet}': {e}"),
    }
}

/// One sheet from one Ion file; the records read.
fn write_sheet(sheet: &mut Worksheet, src: SyncReader, header: bool, name: &str, uri: &str) -> Result<u64, String> {
    let mut lines = IonLines::new(BufReader::new(src), uri).exact();
    let (mut row, mut records, mut first) = (0u32, 0u64, true);
    while let Some(v) = lines.next_value()? {
        records += 1;
        let cells: Vec<Value> = match v {
            Value::Array(items) => {
                if header {
                    return Err(format!(
                        "line {} of {uri} is a list, which cannot be written with a header (set header: false)",
                        lines.line
                    ));
                }
                items
            }
            Value::Object(m) => {
                if first && header {
                    let names: Vec<Value> = m.keys().map(|k| Value::String(k.clone())).collect();
                    write_row(sheet, row, &names, name)?;
                    row = next_row(row, name)?;
                }
                first = false;
                m.into_iter().map(|(_, v)| v).collect()
            }
            _ => continue,
        };
        write_row(sheet, row, &cells, name)?;
        row = next_row(row, name)?;
    }
    Ok(records)
}

fn next_row(row: u32, sheet: &str) -> Result<u32, String> {
    row.checked_add(1).ok_or_else(|| xlsx_err(sheet, XlsxError::RowColumnLimitError))
}

fn write_row(sheet: &mut Worksheet, row: u32, cells: &[Value], name: &str) -> Result<(), String> {
    for (i, v) in cells.iter().enumerate() {
        let col = u16::try_from(i).map_err(|_| xlsx_err(name, XlsxError::RowColumnLimitError))?;
        let written = match v {
            Value::Null => continue,
            Value::Bool(b) => sheet.write_boolean(row, col, *b).map(|_| ()),
            Value::Number(n) => sheet.write_number(row, col, n.as_f64().unwrap_or(f64::NAN)).map(|_| ()),
            Value::String(s) => match Exact::of(v) {
                // Kestra: a BigDecimal's doubleValue(), a BigInteger's text
                Some(n @ Exact::BigDecimal(_)) => {
                    sheet.write_number(row, col, n.to_f64().unwrap_or(f64::NAN)).map(|_| ())
                }
                Some(Exact::BigInteger(digits)) => sheet.write_string(row, col, digits).map(|_| ()),
                None => {
                    let s = ion_text::plain_text(s);
                    match s.strip_prefix("Formula:") {
                        Some(f) => sheet.write_formula(row, col, f).map(|_| ()),
                        None => sheet.write_string(row, col, s).map(|_| ()),
                    }
                }
            },
            other => sheet.write_string(row, col, java_string(other).unwrap_or_default()).map(|_| ()),
        };
        written.map_err(|e| xlsx_err(name, e))?;
    }
    Ok(())
}

pub static ION_TO_EXCEL: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare_as::<Props>(build).parsed_by::<Props>());

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn from_is_a_uri_or_a_map_of_sheets() {
        assert!(from_ok(&json!("kestra:///a.ion")).is_ok());
        assert!(from_ok(&json!({"A": "kestra:///a.ion", "B": "{{ x }}"})).is_ok());
        assert!(from_ok(&json!({})).unwrap_err().contains("empty"));
        assert!(from_ok(&json!({"A": 1})).unwrap_err().contains("sheet 'A'"));
        assert!(from_ok(&json!([1])).is_err());
        let e = build(json!({"from": "kestra:///a.ion", "charset": "NOPE"}).as_object().unwrap()).err().unwrap();
        assert!(e.to_string().contains("charset"), "{e}");
    }

    #[test]
    fn decimals_are_numeric_cells_and_big_integers_text_as_kestra_writes_them() {
        use calamine::{Data, Reader, Xlsx};
        let dir = std::env::temp_dir().join(format!("baton-ion-to-excel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("t.xlsx");
        let ion = b"{d:1.50,s:0.0001,b:12345678901234567890123,f:1e-4,i:7,t:\"x\"}\n".to_vec();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let t = target.clone();
        rt.block_on(async move {
            let src = SyncReader::pump(Box::pin(std::io::Cursor::new(ion)));
            let sources = vec![("S".to_string(), "kestra:///f.ion".to_string(), src)];
            tokio::task::spawn_blocking(move || write_workbook(sources, true, &t)).await.unwrap()
        })
        .unwrap();
        let mut book: Xlsx<_> = calamine::open_workbook(&target).unwrap();
        let range = book.worksheet_range("S").unwrap();
        let row: Vec<Data> = range.rows().nth(1).unwrap().to_vec();
        assert_eq!(
            row,
            vec![
                Data::Float(1.5),
                Data::Float(0.0001),
                Data::String("12345678901234567890123".into()),
                Data::Float(0.0001),
                Data::Float(7.0),
                Data::String("x".into()),
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
