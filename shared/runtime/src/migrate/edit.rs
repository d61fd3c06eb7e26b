//! Text edits at node spans: replace a scalar, drop a mapping entry, add
//! entries to a block mapping, copy a block at another indentation. Every
//! edit is a byte range and its replacement; the rest of the source is kept
//! byte for byte.

use super::tree::{Node, line_end, line_start};

/// One replacement of `src[start..end]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The edits one rule makes to one text. Overlapping edits are refused
/// (the later one is dropped and reported by [`Edits::push`]).
#[derive(Debug, Default, Clone)]
pub struct Edits {
    list: Vec<Edit>,
}

impl Edits {
    /// Adds an edit; false when it overlaps one already made (the caller
    /// leaves that change for the next pass).
    pub fn push(&mut self, start: usize, end: usize, text: impl Into<String>) -> bool {
        let e = Edit { start, end, text: text.into() };
        let overlaps = self.list.iter().any(|o| {
            (e.start < o.end && o.start < e.end) || (e.start == e.end && o.start == o.end && e.start == o.start)
        });
        if overlaps {
            return false;
        }
        self.list.push(e);
        true
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// `src` with every edit applied.
    pub fn apply(&self, src: &str) -> String {
        let mut sorted: Vec<&Edit> = self.list.iter().collect();
        sorted.sort_by_key(|e| (e.start, e.end));
        let mut out = String::with_capacity(src.len());
        let mut at = 0;
        for e in sorted {
            out.push_str(&src[at..e.start]);
            out.push_str(&e.text);
            at = e.end;
        }
        out.push_str(&src[at..]);
        out
    }

    /// Maps an offset in the edited text back to the text before the edits.
    pub fn map_back(&self, mut off: usize) -> usize {
        let mut sorted: Vec<&Edit> = self.list.iter().collect();
        sorted.sort_by_key(|e| (e.start, e.end));
        let mut shift: isize = 0;
        for e in sorted {
            let new_start = (e.start as isize + shift) as usize;
            let new_end = new_start + e.text.len();
            if off < new_start {
                break;
            }
            if off < new_end {
                return e.start;
            }
            shift += e.text.len() as isize - (e.end - e.start) as isize;
        }
        off = (off as isize - shift).max(0) as usize;
        off
    }
}

/// The indentation (spaces) of the line holding `off`.
pub fn indent_at(src: &str, off: usize) -> usize {
    let ls = line_start(src, off);
    src[ls..].chars().take_while(|c| *c == ' ').count()
}

/// The range of a block mapping entry (its key's line through its value's
/// last line, newline included). When the key is not first on its line
/// (`- id: x`), the range starts at the key itself.
pub fn entry_range(src: &str, key: &Node, value: &Node) -> (usize, usize) {
    let ls = line_start(src, key.start);
    let start = if src[ls..key.start].trim().is_empty() { ls } else { key.start };
    let last = value.end.max(key.end).saturating_sub(1).max(key.start);
    (start, line_end(src, last))
}

/// The source lines of an entry, re-indented so that its key sits at
/// `indent` spaces (the key's own line first, then the value's lines
/// shifted by the same amount). Ends with a newline.
pub fn entry_text(src: &str, key: &Node, value: &Node, indent: usize) -> String {
    let own = key.column - 1;
    let body_start = key.start;
    let body_end = line_end(src, value.end.max(key.end).saturating_sub(1).max(key.start));
    let body = &src[body_start..body_end];
    let mut out = String::new();
    for (i, line) in body.split_inclusive('\n').enumerate() {
        if i == 0 {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
        } else {
            out.push_str(&shift_line(line, own, indent));
        }
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// One line moved from indentation `from` to `to` (blank lines kept blank).
pub fn shift_line(line: &str, from: usize, to: usize) -> String {
    if line.trim().is_empty() {
        return line.trim_start_matches(' ').to_string();
    }
    let have = line.chars().take_while(|c| *c == ' ').count();
    let new = (have as isize - from as isize + to as isize).max(0) as usize;
    format!("{}{}", " ".repeat(new), &line[have..])
}

/// The offset just after a block mapping's last line, where new entries go.
pub fn after_map(src: &str, map: &Node) -> usize {
    line_end(src, map.end.saturating_sub(1).max(map.start))
}

/// A scalar rendered as a YAML double-quoted string.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::super::tree::parse;
    use super::*;

    #[test]
    fn edits_apply_and_map_back() {
        let mut e = Edits::default();
        assert!(e.push(0, 2, "abcd"));
        assert!(!e.push(1, 3, "x"));
        assert!(e.push(5, 6, ""));
        let out = e.apply("0123456789");
        assert_eq!(out, "abcd2346789");
        assert_eq!(e.map_back(5), 3);
        assert_eq!(e.map_back(1), 0);
        assert_eq!(e.map_back(7), 6);
    }

    #[test]
    fn entries_move_with_their_block_lines() {
        let src = "a:\n  x: 1\n  y:\n    - |\n      keep\n        me\n  z: 2\n";
        let root = parse(src).unwrap().unwrap();
        let a = root.get("a").unwrap();
        let (k, v) = a.entry("y").unwrap();
        assert_eq!(&src[entry_range(src, k, v).0..entry_range(src, k, v).1], "  y:\n    - |\n      keep\n        me\n");
        assert_eq!(entry_text(src, k, v, 6), "      y:\n        - |\n          keep\n            me\n");
        assert_eq!(&src[after_map(src, a)..], "");
    }
}
