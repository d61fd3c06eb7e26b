//! The checks on a YAML source's events, made as the loader (`build.rs`)
//! reads them: refuses what would make loading explode or silently lose
//! data, with the line and column of the offending node. Aliases are
//! refused (a 600-byte "billion laughs" file expands to gigabytes in a
//! loader that follows them); so are documents nested deeper than
//! [`MAX_DEPTH`], files with more than [`MAX_NODES`] nodes, a second
//! document, and duplicate keys (which a map would silently collapse to
//! the last one).

use std::collections::HashSet;

#[cfg(test)]
use saphyr_parser::Parser;
use saphyr_parser::{Event, Span};

use super::{Position, YamlError};

/// How deeply mappings and sequences may nest.
pub const MAX_DEPTH: usize = 100;
/// How many nodes (scalars, mappings, sequences) one document may have.
pub const MAX_NODES: usize = 1_000_000;

enum Frame {
    /// A mapping: the keys seen and whether the next node is a key.
    Map {
        keys: HashSet<String>,
        expecting_key: bool,
    },
    Seq,
}

fn at(span: &Span, message: String) -> YamlError {
    YamlError { message, position: Position { line: span.start.line(), column: span.start.col() + 1 } }
}

/// The checks, fed one event at a time (by [`check`], and by the loader
/// in `build.rs` as it builds).
#[derive(Default)]
pub(super) struct Checker {
    stack: Vec<Frame>,
    documents: usize,
    nodes: usize,
}

/// A parser error, located.
pub(super) fn syntax(e: saphyr_parser::ScanError) -> YamlError {
    YamlError {
        message: e.info().to_string(),
        position: Position { line: e.marker().line(), column: e.marker().col() + 1 },
    }
}

impl Checker {
    /// Checks one event.
    pub(super) fn on(&mut self, event: &Event<'_>, span: &Span) -> Result<(), YamlError> {
        let is_node = matches!(event, Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..));
        if is_node {
            self.nodes += 1;
            if self.nodes > MAX_NODES {
                return Err(at(span, format!("the document has more than {MAX_NODES} YAML nodes")));
            }
            // a node in a mapping is a key or a value, in turn
            if let Some(Frame::Map { keys, expecting_key }) = self.stack.last_mut() {
                if *expecting_key
                    && let Event::Scalar(key, ..) = event
                    && !keys.insert(key.to_string())
                {
                    return Err(at(span, format!("duplicate key '{key}' in the same mapping")));
                }
                *expecting_key = !*expecting_key;
            }
        }
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(at(span, "a second YAML document ('---'): a flow file holds exactly one flow".into()));
                }
            }
            Event::Alias(_) => {
                return Err(at(span, "YAML aliases are not supported (write the value out in full)".into()));
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(at(span, format!("YAML nested more than {MAX_DEPTH} levels deep")));
                }
                self.stack.push(if matches!(event, Event::MappingStart(..)) {
                    Frame::Map { keys: HashSet::new(), expecting_key: true }
                } else {
                    Frame::Seq
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
        Ok(())
    }
}

/// Checks `source` event by event, without building anything.
#[cfg(test)]
pub fn check(source: &str) -> Result<(), YamlError> {
    let mut checker = Checker::default();
    for event in Parser::new_from_str(source) {
        let (event, span) = event.map_err(syntax)?;
        checker.on(&event, &span)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        let e = check(src).expect_err(src);
        format!("{e}")
    }

    #[test]
    fn a_billion_laughs_is_refused_before_expansion() {
        let mut src = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (prev, name) in
            ["a", "b", "c", "d", "e", "f", "g", "h", "i"].iter().zip(["b", "c", "d", "e", "f", "g", "h", "i", "j"])
        {
            src.push_str(&format!(
                "{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
        }
        let started = std::time::Instant::now();
        assert!(err(&src).contains("line 2, column 8: YAML aliases are not supported"), "{}", err(&src));
        assert!(started.elapsed().as_millis() < 500);
        assert!(super::super::parse(&src).is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
        assert!(
            err(&deep).contains("nested more than 100 levels") || err(&deep).contains("recursion"),
            "{}",
            err(&deep)
        );
        let maps: String = (0..1000).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect();
        assert!(err(&maps).contains("nested more than 100 levels"));
        assert!(check(&format!("{}1{}", "[".repeat(99), "]".repeat(99))).is_ok());
    }

    #[test]
    fn second_documents_and_duplicate_keys_are_refused() {
        assert!(err("id: a\n---\nid: b\n").contains("line 2, column 1: a second YAML document"));
        assert!(check("---\nid: a\n").is_ok());
        assert!(err("id: a\nnamespace: n\nid: b\n").contains("line 3, column 1: duplicate key 'id'"));
        assert!(err("tasks:\n  - id: a\n    type: x\n    type: y\n").contains("duplicate key 'type'"));
        // the same key in sibling mappings is fine
        assert!(check("tasks:\n  - id: a\n  - id: b\n").is_ok());
        assert!(check("a: {x: 1}\nb: {x: 1}\n").is_ok());
    }
}
