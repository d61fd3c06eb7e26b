//! `baton migrate`: rewrites a Kestra 1.x flow into the Kestra 2.0 dialect.
//!
//! Pure: text in, text and findings out. Each rule (one file under
//! [`rules`]) reads the flow as a span-keeping tree ([`tree`]) and edits the
//! source text at the nodes it changes ([`edit`]), so comments, blank lines
//! and quoting elsewhere stay as written. Rules run in order, each on the
//! text the previous one produced; the whole list runs until nothing changes
//! (at most [`MAX_PASSES`] times). A construct with no mechanical
//! equivalent is left in place and reported as a [`Finding`] with
//! `manual: true` and a suggestion — never dropped. Migrating a migrated
//! flow changes nothing.

pub mod diff;
pub mod edit;
pub mod expr;
pub mod rules;
pub mod tree;
pub mod verify;
pub mod walk;

use edit::Edits;
use tree::Node;

use crate::yaml::{Position, YamlError};

/// How many times the rule list may run over one flow before the migration
/// stops (each pass normally settles everything; a rule whose edit
/// overlapped another's finishes in the next pass).
pub const MAX_PASSES: usize = 4;

/// Something the migration changed, or could not change.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Where, in the original source.
    pub position: Position,
    /// The rule's name (`plugin-defaults`, `loop`…).
    pub rule: &'static str,
    pub message: String,
    /// True when the construct was left in place for a human to rewrite.
    pub manual: bool,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.manual { "manual" } else { "rewritten" };
        write!(f, "{}:{}: {} ({kind}): {}", self.position.line, self.position.column, self.rule, self.message)
    }
}

/// The result of migrating one flow.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The 2.0 source (equal to the input when nothing changed).
    pub output: String,
    pub findings: Vec<Finding>,
}

impl Migration {
    /// Whether the flow needs migrating: something changed or is left for a human.
    pub fn needed(&self) -> bool {
        !self.findings.is_empty()
    }

    /// The findings left for a human.
    pub fn manual(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.manual)
    }
}

/// Why a flow could not be migrated at all.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("not valid YAML: {0}")]
    Yaml(#[from] YamlError),
    #[error("the flow changed again on pass {MAX_PASSES} (a rule does not settle): {0}")]
    NoFixpoint(String),
}

/// What one rule sees and does: the current text and tree, the edits it
/// makes and what it reports.
pub struct Cx<'a> {
    pub src: &'a str,
    pub root: &'a Node,
    pub edits: Edits,
    found: Vec<(usize, &'static str, String, bool)>,
    rule: &'static str,
}

impl<'a> Cx<'a> {
    /// Records a change made at `node`.
    pub fn changed(&mut self, at: usize, message: impl Into<String>) {
        self.found.push((at, self.rule, message.into(), false));
    }

    /// Records a construct left for a human, with a suggestion in the message.
    pub fn manual(&mut self, at: usize, message: impl Into<String>) {
        self.found.push((at, self.rule, message.into(), true));
    }

    /// Replaces a node's source text.
    pub fn replace(&mut self, node: &Node, text: impl Into<String>) -> bool {
        self.edits.push(node.start, node.end, text)
    }

    /// Removes a block mapping entry (its lines).
    pub fn remove_entry(&mut self, key: &Node, value: &Node) -> bool {
        let (s, e) = edit::entry_range(self.src, key, value);
        self.edits.push(s, e, "")
    }
}

/// One migration rule.
pub struct Rule {
    pub name: &'static str,
    pub apply: fn(&mut Cx),
}

/// Migrates one flow's source.
pub fn migrate(src: &str) -> Result<Migration, MigrateError> {
    let mut text = src.to_string();
    // the edits of every rule run so far, to map positions back
    let mut history: Vec<Edits> = Vec::new();
    let mut findings: Vec<Finding> = Vec::new();
    for _ in 0..MAX_PASSES {
        let mut changed = false;
        for rule in rules::ALL {
            let Some(root) = tree::parse(&text)? else { return Ok(Migration { output: text, findings }) };
            let mut cx = Cx { src: &text, root: &root, edits: Edits::default(), found: Vec::new(), rule: rule.name };
            (rule.apply)(&mut cx);
            let Cx { edits, found, .. } = cx;
            for (at, rule, message, manual) in found {
                let mut off = at;
                for h in history.iter().rev() {
                    off = h.map_back(off);
                }
                let position = tree::position_of(src, off);
                let f = Finding { position, rule, message, manual };
                if !findings.contains(&f) {
                    findings.push(f);
                }
            }
            if !edits.is_empty() {
                let next = edits.apply(&text);
                if next != text {
                    changed = true;
                    // the result must still be YAML: a rule that broke it is a bug
                    tree::parse(&next).map_err(|e| {
                        MigrateError::NoFixpoint(format!("rule {} produced invalid YAML: {e}", rule.name))
                    })?;
                    text = next;
                    history.push(edits);
                }
            }
        }
        if !changed {
            findings.sort_by_key(|f| (f.position.line, f.position.column));
            return Ok(Migration { output: text, findings });
        }
    }
    Err(MigrateError::NoFixpoint(text.lines().take(3).collect::<Vec<_>>().join(" ")))
}

/// Whether `src` still holds anything of the 1.x dialect that this module
/// knows (the findings), empty when it reads as a 2.0 flow.
pub fn remaining_v1(src: &str) -> Result<Vec<Finding>, MigrateError> {
    Ok(migrate(src)?.findings)
}
