//! The files a recorded case reads from outside its test, inlined into
//! it (`baton test --record`): a FILE input given as a local path, or any
//! input given as a `kestra://` URI of the user's home (`$BATON_HOME`'s
//! internal storage), is read, becomes a `fixtures.files` entry, and the
//! input names it (`{{ files['name'] }}`), so the recorded test needs
//! neither the path nor the home. Each file is at most
//! [`MAX_RECORDED_FILE`] bytes of UTF-8 text, all of a recording's files
//! at most [`MAX_RECORDED_BYTES`]; past either the recording stops with an
//! error naming the bound.

use std::path::{Path, PathBuf};

use serde_json::Value;
use shared::model::{Flow, InputType};
use shared::unittest::UnitTest;
use shared::unittest::record::{MAX_RECORDED_BYTES, MAX_RECORDED_FILE};

/// One input read from outside: its id, the file's name in
/// `fixtures.files` and its content.
#[derive(Debug, Clone)]
pub struct Inlined {
    pub input: String,
    pub name: String,
    pub content: String,
}

/// Reads the inputs of `case` that name a file outside the test (see the
/// module), adds them to its `fixtures.files` and points the inputs at
/// them: what the recording run reads, and what the test file gets.
pub fn inline_inputs(flow: &Flow, case: &mut UnitTest, home: &Path) -> Result<Vec<Inlined>, String> {
    let mut out: Vec<Inlined> = Vec::new();
    let mut total: u64 = case.fixtures.files.iter().map(|(_, c)| c.len() as u64).sum();
    let names: Vec<String> = case.fixtures.inputs.keys().cloned().collect();
    for input in names {
        let Some(Value::String(given)) = case.fixtures.inputs.get(&input) else { continue };
        let given = given.trim().to_string();
        if given.contains("{{") || given.is_empty() {
            continue;
        }
        let is_file = flow.inputs.iter().any(|i| i.id == input && i.type_ == InputType::File);
        let source = if given.starts_with("kestra://") {
            let path = shared::backend::storage_path(&given)
                .map_err(|e| format!("input '{input}': {given} is not an internal storage URI: {e}"))?;
            home.join("storage").join(path.trim_start_matches('/'))
        } else if is_file && !given.contains("://") {
            PathBuf::from(&given)
        } else {
            continue;
        };
        let content = read(&input, &given, &source)?;
        total += content.len() as u64;
        if total > MAX_RECORDED_BYTES {
            return Err(format!(
                "input '{input}': the files recorded into the test pass {MAX_RECORDED_BYTES} bytes in all \
                 (MAX_RECORDED_BYTES); record the case on smaller files"
            ));
        }
        let file = source.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_else(|| input.clone());
        let name = unique(&file, case);
        case.fixtures.files.push((name.clone(), content.clone()));
        case.fixtures.inputs.insert(input.clone(), Value::String(files_ref(&name)));
        out.push(Inlined { input, name, content });
    }
    Ok(out)
}

/// `{{ files['name'] }}`.
pub fn files_ref(name: &str) -> String {
    format!("{{{{ files['{name}'] }}}}")
}

/// A file name not yet among the case's files, without quotes or backslashes.
fn unique(file: &str, case: &UnitTest) -> String {
    let base: String = file.chars().map(|c| if c == '\'' || c == '\\' || c.is_control() { '_' } else { c }).collect();
    let base = if base.is_empty() { "input".to_string() } else { base };
    let taken = |n: &str| case.fixtures.files.iter().any(|(f, _)| f == n);
    if !taken(&base) {
        return base;
    }
    (2usize..).map(|i| format!("{i}_{base}")).find(|n| !taken(n)).unwrap_or(base)
}

/// The text of `source`, at most [`MAX_RECORDED_FILE`] bytes.
fn read(input: &str, given: &str, source: &Path) -> Result<String, String> {
    use std::io::Read;
    let f = std::fs::File::open(source)
        .map_err(|e| format!("input '{input}': cannot read {given} ({}): {e}", source.display()))?;
    let mut buf = Vec::new();
    f.take(MAX_RECORDED_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("input '{input}': cannot read {given}: {e}"))?;
    if buf.len() as u64 > MAX_RECORDED_FILE {
        return Err(format!(
            "input '{input}': {given} is larger than {MAX_RECORDED_FILE} bytes (MAX_RECORDED_FILE), the most a \
             recorded fixture file holds (fixtures.files are inline text); record the case on a smaller file"
        ));
    }
    String::from_utf8(buf).map_err(|_| {
        format!(
            "input '{input}': {given} is not UTF-8 text, which fixtures.files cannot hold; give the case a text file"
        )
    })
}
