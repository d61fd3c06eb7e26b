//! The loader: builds a document's `serde_json::Value` and its
//! [`Locations`] straight from the parser's events, in the one pass that
//! also makes the checks of `scan.rs`. (A generic YAML tree built first and
//! converted after cost three passes and a node object per value: a flow
//! with a ForEach of 100,000 values took 1.6 G instructions to validate,
//! 0.8 G since.)
//!
//! The values and positions are those of saphyr's loader: scalars typed by
//! the YAML 1.2 core schema (`Scalar::parse_from_cow_and_metadata`, a core
//! tag forcing its type, another tag ignored), a mapping key's position for
//! its value, and a sequence item that is a container placed at its first
//! entry (a mapping's first key), or at line 1, column 1 when it is empty.

use saphyr::{Scalar, Tag};
use saphyr_parser::{Event, ScalarStyle, Span};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;

use super::{Locations, Position, YamlError, child_index, child_key};

/// A container being built.
enum Kind {
    /// A sequence: its items and their positions.
    Seq(Vec<Value>, Vec<Position>),
    /// A mapping, and the key (with its path) whose value comes next.
    Map(Map<String, Value>, Option<(String, String)>),
}

struct Frame {
    kind: Kind,
    path: String,
    /// The position of the first entry, once there is one (`Some(None)`:
    /// the first entry is an empty container, which has none).
    first: Option<Option<Position>>,
}

/// Builds one document from its events.
#[derive(Default)]
pub(super) struct Builder {
    stack: Vec<Frame>,
    locs: Locations,
    root: Option<Value>,
}

fn at(span: &Span) -> Position {
    Position { line: span.start.line(), column: span.start.col() + 1 }
}

/// Where a container with no entry is placed (as saphyr's loader did).
const NOWHERE: Position = Position { line: 1, column: 1 };

fn invalid(position: Position) -> YamlError {
    YamlError { message: "invalid YAML value".into(), position }
}

fn keys_must_be_scalars(position: Position) -> YamlError {
    YamlError { message: "mapping keys must be plain scalars".into(), position }
}

/// A scalar's value; `None` when a core tag's type refuses the text.
fn scalar(v: Cow<'_, str>, style: ScalarStyle, tag: Option<&Cow<'_, Tag>>) -> Option<Value> {
    Some(match Scalar::parse_from_cow_and_metadata(v, style, tag)? {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(b),
        Scalar::Integer(i) => Value::Number(i.into()),
        Scalar::FloatingPoint(f) => Number::from_f64(f.into_inner()).map(Value::Number).unwrap_or(Value::Null),
        Scalar::String(s) => Value::String(s.into_owned()),
    })
}

impl Builder {
    /// Takes one event (already checked).
    pub(super) fn on(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        match event {
            Event::Scalar(v, style, _, tag) => {
                if self.expecting_key() {
                    return self.key(v, style, tag.as_ref(), at(&span));
                }
                let position = at(&span);
                if !self.in_sequence() {
                    let path = self.child_path();
                    if !self.locs.map.contains_key(&path) {
                        self.locs.insert(path, position);
                    }
                }
                let value = scalar(v, style, tag.as_ref()).ok_or_else(|| invalid(position))?;
                self.attach(value, Some(position));
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if self.expecting_key() {
                    return Err(keys_must_be_scalars(at(&span)));
                }
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    Kind::Seq(Vec::new(), Vec::new())
                } else {
                    Kind::Map(Map::new(), None)
                };
                let path = self.child_path();
                self.stack.push(Frame { kind, path, first: None });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else { return Ok(()) };
                let position = frame.first.flatten();
                if !self.in_sequence() && !frame.path.is_empty() && !self.locs.map.contains_key(&frame.path) {
                    self.locs.insert(frame.path.clone(), position.unwrap_or(NOWHERE));
                }
                let value = match frame.kind {
                    Kind::Seq(mut items, mut positions) => {
                        // grown by doubling: a long list (a ForEach's literal
                        // values) is held as long as its flow, at its length
                        items.shrink_to_fit();
                        positions.shrink_to_fit();
                        if !positions.is_empty() {
                            self.locs.items.insert(frame.path, positions);
                        }
                        Value::Array(items)
                    }
                    Kind::Map(map, _) => Value::Object(map),
                };
                self.attach(value, position);
            }
            Event::Alias(_) => {
                return Err(YamlError { message: "YAML aliases are not supported".into(), position: at(&span) });
            }
            Event::DocumentEnd if self.root.is_none() && self.stack.is_empty() => {
                return Err(invalid(at(&span)));
            }
            _ => {}
        }
        Ok(())
    }

    /// The document (`null` when the source has none) and its positions.
    pub(super) fn finish(self) -> (Value, Locations) {
        (self.root.unwrap_or(Value::Null), self.locs)
    }

    fn in_sequence(&self) -> bool {
        matches!(self.stack.last(), Some(Frame { kind: Kind::Seq(..), .. }))
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame { kind: Kind::Map(_, None), .. }))
    }

    /// The path of the node that comes next.
    fn child_path(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame { kind: Kind::Seq(items, _), path, .. }) => child_index(path, items.len()),
            Some(Frame { kind: Kind::Map(_, key), path, .. }) => {
                key.as_ref().map_or_else(|| path.clone(), |(_, key_path)| key_path.clone())
            }
        }
    }

    /// A mapping key: a scalar, typed then written as text (`1`, `true`).
    fn key(
        &mut self,
        v: Cow<'_, str>,
        style: ScalarStyle,
        tag: Option<&Cow<'_, Tag>>,
        position: Position,
    ) -> Result<(), YamlError> {
        if tag.is_some_and(|t| !t.is_yaml_core_schema()) {
            return Err(keys_must_be_scalars(position));
        }
        // (saphyr's loader took a key its tag refuses for no key at all, and
        // the value after it for the key)
        let key = match scalar(v, style, tag).ok_or_else(|| invalid(position))? {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let Some(Frame { kind: Kind::Map(_, slot), path, first }) = self.stack.last_mut() else { return Ok(()) };
        let key_path = child_key(path, &key);
        self.locs.insert(key_path.clone(), position);
        first.get_or_insert(Some(position));
        *slot = Some((key, key_path));
        Ok(())
    }

    /// Puts a finished node into its container (or makes it the document).
    fn attach(&mut self, value: Value, position: Option<Position>) {
        match self.stack.last_mut() {
            None => {
                self.root.get_or_insert(value);
            }
            Some(Frame { kind: Kind::Seq(items, positions), first, .. }) => {
                first.get_or_insert(position);
                items.push(value);
                positions.push(position.unwrap_or(NOWHERE));
            }
            Some(Frame { kind: Kind::Map(map, slot), .. }) => {
                if let Some((key, _)) = slot.take() {
                    map.insert(key, value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Position, parse};
    use serde_json::json;

    fn pos(line: usize, column: usize) -> Option<Position> {
        Some(Position { line, column })
    }

    #[test]
    fn values_are_typed_by_the_core_schema_and_tags() {
        let src = "a: 0x1f\nb: '7'\nc: !!str 8\nd: !custom 9\ne: .inf\nf: ~\ng: [1, two, 3.5]\n1: one\ntrue: yes\n";
        let (v, _) = parse(src).unwrap();
        assert_eq!(
            v,
            json!({"a": 31, "b": "7", "c": "8", "d": 9, "e": null, "f": null, "g": [1, "two", 3.5], "1": "one", "true": "yes"})
        );
        assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["a", "b", "c", "d", "e", "f", "g", "1", "true"]);
    }

    #[test]
    fn containers_take_their_first_entrys_position() {
        let src = "tasks:\n  - id: a\n    type: x\n  - []\n  - - 5\n    - 6\nv: [7, 8]\n";
        let (_, locs) = parse(src).unwrap();
        assert_eq!(locs.find("tasks"), pos(1, 1));
        assert_eq!(locs.find("tasks[0]"), pos(2, 5));
        assert_eq!(locs.find("tasks[0].type"), pos(3, 5));
        // an empty container has no entry to be placed at
        assert_eq!(locs.find("tasks[1]"), pos(1, 1));
        assert_eq!(locs.find("tasks[2]"), pos(5, 7));
        assert_eq!(locs.find("tasks[2][1]"), pos(6, 7));
        assert_eq!(locs.find("v[1]"), pos(7, 8));
        assert_eq!(locs.find("v[1].deeper"), pos(7, 8));
        let (_, root) = parse("just text\n").unwrap();
        assert_eq!(root.find(""), pos(1, 1));
    }

    #[test]
    fn unbuildable_values_are_located_but_a_check_error_wins() {
        let e = parse("a: 1\nb: !!int abc\n").unwrap_err();
        assert_eq!((e.message.as_str(), e.position), ("invalid YAML value", Position { line: 2, column: 10 }));
        let e = parse("a: 1\n? [x]\n: 2\n").unwrap_err();
        assert_eq!(e.message, "mapping keys must be plain scalars");
        let e = parse("b: !custom x\n!tag k: 1\n").unwrap_err();
        assert_eq!(e.message, "mapping keys must be plain scalars");
        let e = parse("b: !!int abc\nc: 1\nc: 2\n").unwrap_err();
        assert!(e.message.contains("duplicate key 'c'"), "{e}");
        assert_eq!(parse("").unwrap().0, serde_json::Value::Null);
        assert_eq!(parse("# only a comment\n").unwrap().0, serde_json::Value::Null);
    }

    #[test]
    fn paths_are_joined_without_format() {
        assert_eq!(super::super::child_index("values", 0), "values[0]");
        assert_eq!(super::super::child_index("", 1234567), "[1234567]");
        assert_eq!(super::super::child_index("a.b", usize::MAX), format!("a.b[{}]", usize::MAX));
        assert_eq!(super::super::child_key("", "id"), "id");
        assert_eq!(super::super::child_key("tasks[0]", "id"), "tasks[0].id");
    }
}
