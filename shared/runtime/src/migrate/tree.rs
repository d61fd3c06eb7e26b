//! A YAML document as a tree of nodes that remember where they sit in the
//! source text (byte ranges, 1-based lines), so a rule can edit the text at
//! one node and leave every other byte — comments, blank lines, quoting —
//! as written. Built from the parser's events; the source is first checked
//! by [`crate::yaml::parse`] (no aliases, bounded size and depth).

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::yaml::{Position, YamlError};

/// One node: a scalar, a mapping or a sequence, with its source range.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    /// Byte offset of the node's first character (a block mapping: its first key).
    pub start: usize,
    /// Byte offset just after its last content character (never trailing
    /// blank lines or comments).
    pub end: usize,
    /// 1-based line and column of `start`.
    pub line: usize,
    pub column: usize,
}

/// What a node holds.
#[derive(Debug, Clone)]
pub enum Kind {
    Scalar { value: String, style: ScalarStyle },
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
}

impl Node {
    /// The scalar's value, if this is a scalar.
    pub fn str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The value under `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key and value nodes under `key`.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|(k, _)| k.str() == Some(key)).map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The mapping's entries (empty for anything else).
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.kind {
            Kind::Map(e) => e,
            _ => &[],
        }
    }

    /// The sequence's items (empty for anything else).
    pub fn items(&self) -> &[Node] {
        match &self.kind {
            Kind::Seq(i) => i,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map(_))
    }

    /// The scalar string under `key`.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::str)
    }

    /// Whether the node is written in flow style (`{…}` or `[…]`).
    pub fn is_flow(&self, src: &str) -> bool {
        !matches!(self.kind, Kind::Scalar { .. }) && matches!(src.as_bytes().get(self.start), Some(b'{' | b'['))
    }

    /// The position of the node's start.
    pub fn position(&self) -> Position {
        Position { line: self.line, column: self.column }
    }

    /// Every scalar below this node (itself included), depth first.
    pub fn scalars<'a>(&'a self, out: &mut Vec<&'a Node>) {
        match &self.kind {
            Kind::Scalar { .. } => out.push(self),
            Kind::Map(e) => {
                for (k, v) in e {
                    k.scalars(out);
                    v.scalars(out);
                }
            }
            Kind::Seq(i) => i.iter().for_each(|n| n.scalars(out)),
        }
    }
}

/// Byte offsets of each line's start, to turn (line, column) into offsets.
struct Lines<'a> {
    src: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(src: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        Lines { src, starts }
    }

    /// The byte offset of a 1-based line and 0-based character column.
    fn offset(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return self.src.len();
        };
        let rest = &self.src[start..];
        rest.char_indices().nth(col).map(|(i, _)| start + i).unwrap_or(self.src.len())
    }
}

/// Parses `src` into a [`Node`] tree; an empty document is `None`.
pub fn parse(src: &str) -> Result<Option<Node>, YamlError> {
    crate::yaml::parse(src)?;
    let lines = Lines::new(src);
    let mut stack: Vec<Building> = Vec::new();
    let mut root = None;
    for ev in Parser::new_from_str(src) {
        let (ev, span) = ev.map_err(|e| YamlError {
            message: e.info().to_string(),
            position: Position { line: e.marker().line(), column: e.marker().col() + 1 },
        })?;
        let done = match ev {
            Event::Scalar(value, style, ..) => Some(scalar(&lines, src, value.to_string(), style, &span)),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                stack.push(Building {
                    map: matches!(ev, Event::MappingStart(..)),
                    start: lines.offset(span.start.line(), span.start.col()),
                    line: span.start.line(),
                    column: span.start.col() + 1,
                    children: Vec::new(),
                });
                None
            }
            Event::MappingEnd | Event::SequenceEnd => stack.pop().map(|b| b.finish(src, &lines, &span)),
            _ => None,
        };
        if let Some(node) = done {
            match stack.last_mut() {
                Some(parent) => parent.children.push(node),
                None => root = Some(node),
            }
        }
    }
    Ok(root)
}

struct Building {
    map: bool,
    start: usize,
    line: usize,
    column: usize,
    children: Vec<Node>,
}

impl Building {
    fn finish(self, src: &str, lines: &Lines, end_span: &Span) -> Node {
        let first = self.children.first();
        // a block collection starts at its first child (the event may sit
        // earlier, e.g. on the key's line); a flow one at its bracket
        let flow_start = matches!(src.as_bytes().get(self.start), Some(b'{' | b'['));
        let (start, line, column) = match first {
            Some(f) if !flow_start => (f.start, f.line, f.column),
            _ => (self.start, self.line, self.column),
        };
        let end = if flow_start {
            lines.offset(end_span.end.line(), end_span.end.col()).max(start)
        } else {
            self.children.iter().map(|c| c.end).max().unwrap_or(start)
        };
        let kind = if self.map {
            let mut entries = Vec::new();
            let mut it = self.children.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                entries.push((k, v));
            }
            Kind::Map(entries)
        } else {
            Kind::Seq(self.children)
        };
        let mut node = Node { kind, start, end, line, column };
        if let (Kind::Seq(items), false) = (&node.kind, flow_start) {
            // a block sequence starts at its first dash
            if let Some(f) = items.first() {
                let ls = line_start(src, f.start);
                if let Some(dash) = src[ls..f.start].rfind('-') {
                    node.start = ls + dash;
                    node.column = src[ls..ls + dash].chars().count() + 1;
                }
            }
        }
        node
    }
}

fn scalar(lines: &Lines, src: &str, value: String, style: ScalarStyle, span: &Span) -> Node {
    let start = lines.offset(span.start.line(), span.start.col());
    let mut end = lines.offset(span.end.line(), span.end.col()).max(start);
    if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
        // a block scalar's span runs over trailing blank lines: stop at
        // the last non-blank character
        end = start + src[start..end].trim_end().len();
    }
    Node { kind: Kind::Scalar { value, style }, start, end, line: span.start.line(), column: span.start.col() + 1 }
}

/// The byte offset where the line holding `off` starts.
pub fn line_start(src: &str, off: usize) -> usize {
    src[..off.min(src.len())].rfind('\n').map(|i| i + 1).unwrap_or(0)
}

/// The byte offset just after the newline ending the line holding `off`
/// (or the end of the text).
pub fn line_end(src: &str, off: usize) -> usize {
    let off = off.min(src.len());
    src[off..].find('\n').map(|i| off + i + 1).unwrap_or(src.len())
}

/// 1-based line and column of a byte offset.
pub fn position_of(src: &str, off: usize) -> Position {
    let off = off.min(src.len());
    let ls = line_start(src, off);
    Position { line: src[..ls].matches('\n').count() + 1, column: src[ls..off].chars().count() + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_the_source_text() {
        let src = "id: a # c\ntasks:\n  - id: t\n    msg: |\n      hi\n\n    q: \"x y\"\n    m: {a: 1}\n";
        let root = parse(src).unwrap().unwrap();
        let tasks = root.get("tasks").unwrap();
        assert_eq!(&src[tasks.start..tasks.end], "- id: t\n    msg: |\n      hi\n\n    q: \"x y\"\n    m: {a: 1}");
        let t = &tasks.items()[0];
        // a block scalar's span is its content
        assert_eq!(&src[t.get("msg").unwrap().start..t.get("msg").unwrap().end], "hi");
        assert_eq!(&src[t.get("q").unwrap().start..t.get("q").unwrap().end], "\"x y\"");
        assert_eq!(&src[t.get("m").unwrap().start..t.get("m").unwrap().end], "{a: 1}");
        assert!(t.get("m").unwrap().is_flow(src));
        assert_eq!(t.get("q").unwrap().line, 7);
        assert_eq!(position_of(src, t.get("q").unwrap().start), Position { line: 7, column: 8 });
    }
}
