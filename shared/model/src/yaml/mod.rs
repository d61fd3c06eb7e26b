//! YAML loading with positions: converts a YAML document into a
//! `serde_json::Value` plus a map from each node's path (`tasks[2].then[0].message`)
//! to its line and column, so every later error can point into the file.

mod build;
mod scan;

use std::collections::HashMap;

use serde_json::Value;

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Where each node of a document sits, keyed by path. A sequence's items
/// are kept as one list of positions under the sequence's path (a list
/// of 100,000 values would otherwise be 100,000 paths to write and hash).
#[derive(Debug, Clone, Default)]
pub struct Locations {
    pub(super) map: HashMap<String, Position>,
    pub(super) items: HashMap<String, Vec<Position>>,
}

impl Locations {
    /// The position of `path`, or of its nearest ancestor that has one.
    pub fn find(&self, path: &str) -> Option<Position> {
        let mut p = path;
        loop {
            if let Some(pos) = self.get(p) {
                return Some(pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    /// The position of exactly `path`.
    fn get(&self, path: &str) -> Option<Position> {
        if let Some(pos) = self.map.get(path) {
            return Some(*pos);
        }
        let (sequence, index) = path.strip_suffix(']')?.rsplit_once('[')?;
        self.items.get(sequence)?.get(index.parse::<usize>().ok()?).copied()
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
    let mut path = String::with_capacity(parent.len() + 1 + key.len());
    path.push_str(parent);
    push_key(&mut path, key);
    path
}

/// Appends `.key` to `path` (`key` alone to the empty path).
pub fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// Joins a parent path and a sequence index (written without `format!`:
/// a flow with a list of 100,000 values joins 100,000 of them).
pub fn child_index(parent: &str, i: usize) -> String {
    let mut path = String::with_capacity(parent.len() + 8);
    path.push_str(parent);
    push_index(&mut path, i);
    path
}

/// Appends `[i]` to `path`.
pub fn push_index(path: &mut String, i: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = i;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    path.push('[');
    path.extend(digits[at..].iter().map(|&d| char::from(d)));
    path.push(']');
}

/// Parses one YAML document into JSON plus positions. An empty document is `null`.
///
/// The source is checked as it is read ([`scan`]): no aliases, no second
/// document, no duplicate keys, bounded nesting and size. A leading UTF-8
/// byte-order mark is skipped. A check's error wins over a value that cannot
/// be built (a mapping as a key, `!!int abc`) wherever each is in the file.
pub fn parse(source: &str) -> Result<(Value, Locations), YamlError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut checker = scan::Checker::default();
    let mut builder = build::Builder::default();
    let mut unbuildable = None;
    for event in saphyr_parser::Parser::new_from_str(source) {
        let (event, span) = event.map_err(scan::syntax)?;
        checker.on(&event, &span)?;
        if unbuildable.is_none()
            && let Err(e) = builder.on(event, span)
        {
            unbuildable = Some(e);
        }
    }
    match unbuildable {
        Some(e) => Err(e),
        None => Ok(builder.finish()),
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
