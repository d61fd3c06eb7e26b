//! YAML loading with positions: converts a YAML document into a
//! `serde_json::Value` plus a map from each node's path (`tasks[2].then[0].message`)
//! to its line and column, so every later error can point into the file.

mod scan;

use std::collections::HashMap;

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};
use serde_json::{Map, Number, Value};

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Where each node of a document sits, keyed by path.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    map: HashMap<String, Position>,
}

impl Locations {
    /// The position of `path`, or of its nearest ancestor that has one.
    pub fn find(&self, path: &str) -> Option<Position> {
        let mut p = path.to_string();
        loop {
            if let Some(pos) = self.map.get(&p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p.truncate(cut);
        }
    }

    pub fn insert(&mut self, path: String, pos: Position) {
        self.map.insert(path, pos);
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, thiserror::Error)]
#[error("line {}, column {}: {message}", position.line, position.column)]
pub struct YamlError {
    pub message: String,
    pub position: Position,
}

/// The largest flow file Baton reads (a flow is a few kilobytes; this
/// stops `baton run /dev/zero` or a runaway file from filling memory).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Reads a flow file of at most [`MAX_FILE_BYTES`].
pub fn read_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(path)?.take(MAX_FILE_BYTES + 1).read_to_string(&mut s)?;
    if s.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!("larger than {} MiB: not a flow file", MAX_FILE_BYTES >> 20)));
    }
    Ok(s)
}

/// Joins a parent path and a mapping key.
pub fn child_key(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
}

/// Joins a parent path and a sequence index.
pub fn child_index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// Parses one YAML document into JSON plus positions. An empty document is `null`.
///
/// The source is checked first ([`scan::check`]): no aliases, no second
/// document, no duplicate keys, bounded nesting and size. A leading UTF-8
/// byte-order mark is skipped.
pub fn parse(source: &str) -> Result<(Value, Locations), YamlError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    scan::check(source)?;
    let docs = MarkedYamlOwned::load_from_str(source).map_err(|e| YamlError {
        message: e.info().to_string(),
        position: Position { line: e.marker().line(), column: e.marker().col() + 1 },
    })?;
    let mut locs = Locations::default();
    let Some(doc) = docs.into_iter().next() else {
        return Ok((Value::Null, locs));
    };
    let v = convert(&doc, "", &mut locs)?;
    Ok((v, locs))
}

/// A node's position. The loader only marks scalars, so a container takes
/// the position of its first entry.
fn pos(node: &MarkedYamlOwned) -> Position {
    node_pos(node).unwrap_or(Position { line: 1, column: 1 })
}

fn node_pos(node: &MarkedYamlOwned) -> Option<Position> {
    if node.span.start.line() > 0 {
        return Some(Position { line: node.span.start.line(), column: node.span.start.col() + 1 });
    }
    match &node.data {
        YamlDataOwned::Sequence(items) => items.first().and_then(node_pos),
        YamlDataOwned::Mapping(m) => m.iter().next().and_then(|(k, _)| node_pos(k)),
        YamlDataOwned::Tagged(_, inner) => node_pos(inner),
        _ => None,
    }
}

fn convert(node: &MarkedYamlOwned, path: &str, locs: &mut Locations) -> Result<Value, YamlError> {
    if node.span.start.line() > 0 || !path.is_empty() {
        // a mapping value keeps its key's position, set by the caller
        if !locs.map.contains_key(path) {
            locs.insert(path.to_string(), pos(node));
        }
    }
    Ok(match &node.data {
        YamlDataOwned::Value(s) => scalar(s),
        YamlDataOwned::Representation(s, _, _) => Value::String(s.clone()),
        YamlDataOwned::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(convert(item, &child_index(path, i), locs)?);
            }
            Value::Array(out)
        }
        YamlDataOwned::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m.iter() {
                let key = match &k.data {
                    YamlDataOwned::Value(s) => match scalar(s) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    },
                    YamlDataOwned::Representation(s, _, _) => s.clone(),
                    _ => {
                        return Err(YamlError {
                            message: "mapping keys must be plain scalars".into(),
                            position: pos(k),
                        });
                    }
                };
                let p = child_key(path, &key);
                locs.insert(p.clone(), pos(k));
                let val = convert(v, &p, locs)?;
                out.insert(key, val);
            }
            Value::Object(out)
        }
        YamlDataOwned::Tagged(_, inner) => convert(inner, path, locs)?,
        YamlDataOwned::Alias(_) => {
            return Err(YamlError { message: "YAML aliases are not supported".into(), position: pos(node) });
        }
        YamlDataOwned::BadValue => {
            return Err(YamlError { message: "invalid YAML value".into(), position: pos(node) });
        }
    })
}

fn scalar(s: &ScalarOwned) -> Value {
    match s {
        ScalarOwned::Null => Value::Null,
        ScalarOwned::Boolean(b) => Value::Bool(*b),
        ScalarOwned::Integer(i) => Value::Number((*i).into()),
        ScalarOwned::FloatingPoint(f) => Number::from_f64(f.into_inner()).map(Value::Number).unwrap_or(Value::Null),
        ScalarOwned::String(s) => Value::String(s.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_types_and_positions() {
        let src = "id: hello\nn: 3\nq: '3'\nb: true\nf: 1.5\nz: ~\ntasks:\n  - id: a\n    type: x\n";
        let (v, locs) = parse(src).unwrap();
        assert_eq!(v["n"], 3);
        assert_eq!(v["q"], "3");
        assert_eq!(v["b"], true);
        assert_eq!(v["f"], 1.5);
        assert!(v["z"].is_null());
        assert_eq!(v["tasks"][0]["id"], "a");
        assert_eq!(locs.find("tasks[0].type"), Some(Position { line: 9, column: 5 }));
        assert_eq!(locs.find("tasks[0].nothing"), Some(Position { line: 8, column: 5 }));
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = parse("id: a\ntasks:\n  - id: [\n").unwrap_err();
        assert!(err.position.line >= 3, "{err}");
    }
}
