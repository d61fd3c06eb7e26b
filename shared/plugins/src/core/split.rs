//! Splitting an internal-storage file into smaller files, as Kestra's
//! `StorageService.split` does, for `io.kestra.plugin.core.storage.Split`
//! (`from`; `regexPattern`, else `bytes`, else `partitions`, else `rows`;
//! `separator` written after each row; output `uris`) and for the items of
//! a `ForEachItem` (`plugins::core::for_each_item`).
//!
//! Rows are the file's lines (`\n` or `\r\n`). `rows: n` starts a new file
//! every n rows; `bytes: 10MB` starts one once the current file holds that
//! many bytes (so a file may pass it by one row); `partitions: n` deals the
//! rows round-robin into at most n files; `regexPattern` routes each row
//! by its first capture group (one file per key, in order of first
//! appearance; rows that do not match are dropped). A split file keeps the
//! source's extension (`.tmp` without one) and is named by its index:
//! `{task prefix}/{i}{ext}`. Streams: memory is bounded by one buffered
//! chunk per open file, whatever the source's size. At most
//! [`max_files`] files (`BATON_MAX_BATCHES`, [`DEFAULT_MAX_FILES`]): more
//! is an error naming the bound.

use std::sync::LazyLock;

use async_trait::async_trait;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::AsyncBufReadExt;

use crate::jdbc::fetch::StoreSink;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most files one split (and so one ForEachItem's batches) may make
/// unless `BATON_MAX_BATCHES` says otherwise.
pub const DEFAULT_MAX_FILES: usize = 10_000;

/// The bound on files per split: `BATON_MAX_BATCHES` from the plugin
/// configuration, else [`DEFAULT_MAX_FILES`].
pub fn max_files(cx: &RunContext) -> usize {
    cx.services.config.max_batches.unwrap_or(DEFAULT_MAX_FILES)
}

/// How rows are grouped into files.
#[derive(Debug, Clone)]
pub enum Mode {
    Rows(u64),
    Bytes(u64),
    Partitions(u64),
    Regex(Regex),
}

/// A split's settings, read from `rows`/`bytes`/`partitions`/`regexPattern`/`separator`.
#[derive(Debug, Clone)]
pub struct SplitSpec {
    pub mode: Mode,
    pub separator: String,
}

/// The split options as written (each a string or a number), from the
/// properties struct of the task that splits.
#[derive(Debug, Clone, Copy, Default)]
pub struct SplitOptions<'a> {
    pub bytes: Option<&'a Value>,
    pub partitions: Option<&'a Value>,
    pub rows: Option<&'a Value>,
    pub separator: Option<&'a Value>,
    pub regex_pattern: Option<&'a Value>,
}

impl SplitSpec {
    /// From the split options as written; `default_rows` when none of the modes is
    /// given (ForEachItem's `batch` defaults to one row; Split has none).
    pub fn from_options(o: SplitOptions<'_>, default_rows: Option<u64>) -> Result<SplitSpec, TaskError> {
        let get = |v: Option<&Value>| v.filter(|v| !v.is_null()).map(de::value_to_string);
        let separator = get(o.separator).unwrap_or_else(|| "\n".to_string());
        let positive = |k: &str, s: String| -> Result<u64, TaskError> {
            match s.trim().parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(TaskError::property(k, format!("expected a positive integer, got '{s}'"))),
            }
        };
        let mode = if let Some(p) = get(o.regex_pattern) {
            let re = Regex::new(&p).map_err(|e| TaskError::property("regexPattern", format!("invalid regex: {e}")))?;
            Mode::Regex(re)
        } else if let Some(b) = get(o.bytes) {
            Mode::Bytes(
                parse_bytes(&b)
                    .ok_or_else(|| TaskError::property("bytes", format!("Invalid size with value '{b}'")))?,
            )
        } else if let Some(p) = get(o.partitions) {
            Mode::Partitions(positive("partitions", p)?)
        } else if let Some(r) = get(o.rows) {
            Mode::Rows(positive("rows", r)?)
        } else if let Some(r) = default_rows {
            Mode::Rows(r)
        } else {
            return Err(TaskError::failed("Invalid configuration with no size, count, rows, nor regexPattern"));
        };
        Ok(SplitSpec { mode, separator })
    }
}

/// A readable size: `512`, `10KB`, `1.5MB`, `2GB` (1024-based, case-insensitive).
pub fn parse_bytes(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_uppercase();
    let (num, mult) = [("GB", 1u64 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)]
        .iter()
        .find_map(|(suffix, m)| t.strip_suffix(suffix).map(|n| (n.trim().to_string(), *m)))
        .unwrap_or((t.clone(), 1));
    let n: f64 = num.parse().ok()?;
    (n > 0.0).then_some((n * mult as f64) as u64)
}

/// The extension of a URI's file name, with its dot (`.tmp` without one).
pub fn extension_of(uri: &str) -> String {
    let name = uri.rsplit('/').next().unwrap_or(uri);
    match name.rfind('.') {
        Some(i) if i > 0 => name[i..].to_string(),
        _ => ".tmp".to_string(),
    }
}

/// One output file being written.
struct Open {
    sink: StoreSink,
    bytes: u64,
    rows: u64,
}

/// Splits the file at `uri` (property `prop`) by `spec` into files under
/// this task's prefix; their URIs in order.
pub async fn split(cx: &RunContext, prop: &str, uri: &str, spec: &SplitSpec) -> Result<Vec<String>, TaskError> {
    let path = cx.readable_path(prop, uri)?;
    let stream = cx
        .services
        .storage
        .get(&path)
        .await
        .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", uri.trim())))?;
    let ext = extension_of(&path);
    let max = max_files(cx);
    let mut reader = tokio::io::BufReader::new(stream);
    let mut files: Vec<Open> = Vec::new();
    // regex keys → file index
    let mut keys: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut current: Option<usize> = None;
    let mut next_partition = 0usize;
    let mut line = Vec::new();
    let too_many = || {
        TaskError::failed(format!(
            "splitting {} makes more than {max} files, the most one split or ForEachItem may make \
             (BATON_MAX_BATCHES; use larger batches: more rows or bytes per file)",
            uri.trim()
        ))
    };
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| TaskError::failed(format!("cannot read {}: {e}", uri.trim())))?;
        if n == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let target = match &spec.mode {
            Mode::Rows(_) | Mode::Bytes(_) => {
                let full = current.is_none_or(|i| {
                    let f = &files[i];
                    match spec.mode {
                        Mode::Rows(r) => f.rows >= r,
                        Mode::Bytes(b) => f.bytes >= b,
                        _ => false,
                    }
                });
                if full {
                    if files.len() >= max {
                        return Err(too_many());
                    }
                    files.push(Open { sink: StoreSink::open(cx, &format!("{}{ext}", files.len())), bytes: 0, rows: 0 });
                    current = Some(files.len() - 1);
                }
                files.len() - 1
            }
            Mode::Partitions(p) => {
                let i = next_partition;
                next_partition = (next_partition + 1) % (*p as usize).max(1);
                if i == files.len() {
                    if files.len() >= max {
                        return Err(too_many());
                    }
                    files.push(Open { sink: StoreSink::open(cx, &format!("{i}{ext}")), bytes: 0, rows: 0 });
                }
                i
            }
            Mode::Regex(re) => {
                let text = String::from_utf8_lossy(&line);
                let Some(key) = re.captures(&text).and_then(|c| c.get(1)).map(|m| m.as_str().to_string()) else {
                    continue;
                };
                match keys.get(&key) {
                    Some(i) => *i,
                    None => {
                        if files.len() >= max {
                            return Err(too_many());
                        }
                        let i = files.len();
                        files.push(Open { sink: StoreSink::open(cx, &format!("{i}{ext}")), bytes: 0, rows: 0 });
                        keys.insert(key, i);
                        i
                    }
                }
            }
        };
        line.extend_from_slice(spec.separator.as_bytes());
        let f = &mut files[target];
        f.sink.write(&line).await?;
        f.bytes += line.len() as u64;
        f.rows += 1;
    }
    let mut uris = Vec::with_capacity(files.len());
    for f in files {
        uris.push(f.sink.finish().await?);
    }
    Ok(uris)
}

// ---------------------------------------------------------------- Split ---

/// Split a stored file into pieces.
///
/// Cuts a file into pieces by rows, bytes or a number of partitions.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.core.storage.Split",
    aliases = ["io.kestra.core.tasks.storages.Split"],
    group = "core",
    example = "id: pieces\ntype: io.kestra.plugin.core.storage.Split\nfrom: \"{{ outputs.report.uri }}\"\nrows: 1000\n",
    outputs(
        uris(List, "The pieces.")
    ),
)]
struct SplitProps {
    /// The file to split.
    #[serde(deserialize_with = "de::string_lenient")]
    from: String,
    /// Bytes per piece (e.g. 10MB).
    #[serde(default)]
    #[prop(kind = "String")]
    bytes: Option<Value>,
    /// The number of pieces.
    #[serde(default)]
    #[prop(kind = "Integer")]
    partitions: Option<Value>,
    /// Rows per piece.
    #[serde(default)]
    #[prop(kind = "Integer")]
    rows: Option<Value>,
    /// The row separator.
    #[serde(default)]
    #[prop(kind = "String", default = "\"\\n\"")]
    separator: Option<Value>,
    /// Rows matching this regular expression start a new piece.
    #[serde(default)]
    #[prop(kind = "String")]
    regex_pattern: Option<Value>,
}

/// `storage.Split`.
#[derive(Debug)]
pub struct Split {
    from: String,
    spec: SplitSpec,
}

fn build_split(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SplitProps = parse_props(props)?;
    let options = SplitOptions {
        bytes: p.bytes.as_ref(),
        partitions: p.partitions.as_ref(),
        rows: p.rows.as_ref(),
        separator: p.separator.as_ref(),
        regex_pattern: p.regex_pattern.as_ref(),
    };
    let spec = SplitSpec::from_options(options, None)?;
    Ok(Box::new(Split { from: p.from, spec }))
}

#[async_trait]
impl RunnableTask for Split {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let uris = split(cx, "from", &self.from, &self.spec).await?;
        let mut out = Map::new();
        out.insert("uris".into(), Value::Array(uris.into_iter().map(Value::String).collect()));
        Ok(TaskOutput::with(out))
    }
}

pub static SPLIT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SplitProps>(build_split));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::test_support::Env;

    const SRC: &str = "/company/team/my-flow/executions/exec1/inputs/file/data.csv";

    async fn run(env: &Env, props: Value) -> Result<Vec<String>, TaskError> {
        let out = env.run(&SPLIT, props).await?;
        Ok(out.outputs["uris"].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_string()).collect())
    }

    fn read(env: &Env, uri: &str) -> String {
        String::from_utf8(env.storage.bytes(uri.strip_prefix("kestra://").unwrap()).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn rows_bytes_partitions_and_regex_split_as_kestra() {
        let env = Env::new();
        let body: String = (0..10).map(|i| format!("r{i}\n")).collect();
        env.storage.insert(SRC, body.clone()).unwrap();
        let from = format!("kestra://{SRC}");
        let uris = run(&env, json!({"from": from, "rows": 4})).await.unwrap();
        assert_eq!(uris.len(), 3);
        assert!(uris[0].ends_with("/0.csv") && uris[2].ends_with("/2.csv"), "{uris:?}");
        assert_eq!(read(&env, &uris[0]), "r0\nr1\nr2\nr3\n");
        assert_eq!(read(&env, &uris[2]), "r8\nr9\n");
        // bytes: a new file once 6 bytes are written (3 rows of 3 bytes → 2 per file)
        let uris = run(&env, json!({"from": from, "bytes": "6"})).await.unwrap();
        assert_eq!(uris.len(), 5);
        assert_eq!(read(&env, &uris[0]), "r0\nr1\n");
        // partitions: round robin
        let uris = run(&env, json!({"from": from, "partitions": 3, "separator": ";"})).await.unwrap();
        assert_eq!(uris.len(), 3);
        assert_eq!(read(&env, &uris[0]), "r0;r3;r6;r9;");
        // more partitions than rows: no empty files
        env.storage.insert(SRC, "a\r\nb\n").unwrap();
        let uris = run(&env, json!({"from": from, "partitions": 5})).await.unwrap();
        assert_eq!(uris.len(), 2);
        assert_eq!(read(&env, &uris[0]), "a\n");
        // regex: routed by the first group, non-matching rows dropped
        env.storage.insert(SRC, "x,1\ny,2\nx,3\nnone\n").unwrap();
        let uris = run(&env, json!({"from": from, "regexPattern": "^(\\w),"})).await.unwrap();
        assert_eq!(uris.len(), 2);
        assert_eq!((read(&env, &uris[0]).as_str(), read(&env, &uris[1]).as_str()), ("x,1\nx,3\n", "y,2\n"));
    }

    #[tokio::test]
    async fn bad_settings_and_too_many_files_are_errors_naming_them() {
        let env = Env::new();
        env.storage.insert(SRC, "a\nb\n").unwrap();
        let from = format!("kestra://{SRC}");
        let e = run(&env, json!({"from": from})).await.unwrap_err().to_string();
        assert!(e.contains("no size, count, rows"), "{e}");
        let e = run(&env, json!({"from": from, "bytes": "lots"})).await.unwrap_err().to_string();
        assert!(e.contains("bytes") && e.contains("lots"), "{e}");
        let e = run(&env, json!({"from": from, "rows": 0})).await.unwrap_err().to_string();
        assert!(e.contains("rows"), "{e}");
        assert_eq!(parse_bytes("10MB"), Some(10 << 20));
        assert_eq!(parse_bytes("1kb"), Some(1024));
        let body: String = (0..DEFAULT_MAX_FILES + 1).map(|i| format!("{i}\n")).collect();
        env.storage.insert(SRC, body.clone()).unwrap();
        let e = run(&env, json!({"from": from, "rows": 1})).await.unwrap_err().to_string();
        assert!(e.contains("BATON_MAX_BATCHES") && e.contains("10000"), "{e}");
        // another namespace's file is refused
        let e = run(&env, json!({"from": "kestra:///other/f/executions/e/x.csv", "rows": 1})).await.unwrap_err();
        assert!(e.to_string().contains("other"), "{e}");
    }
}
