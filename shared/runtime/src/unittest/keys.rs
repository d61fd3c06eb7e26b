//! The keys of a test file, declared once: for each mapping of the format
//! (the suite, a test case, its fixtures, a task fixture, a trigger
//! fixture, an assertion) its keys with their kind, whether they are
//! required and what they mean. The parser's unknown-key and
//! required-key checks ([`super::parse`]), the test file's JSON Schema
//! ([`super::schema`], served at `GET /api/v1/plugins/schemas/test`, which
//! the UI's test editor completes from) and the reference page on test
//! files all read these tables; an assertion's operators come from
//! [`Operator`] itself.

use super::model::{Operator, UNIT_TEST_TYPE};
use crate::model::StateType;

/// What a key holds.
#[derive(Debug, Clone, Copy)]
pub enum KeyKind {
    /// Text (a number or a boolean is read as its text).
    Text,
    /// `true` or `false`.
    Boolean,
    /// A mapping of anything.
    Map,
    /// A mapping of names to text (the inline files).
    TextMap,
    /// Anything (an assertion's expression, as written or a literal).
    Any,
    /// The one test case type, [`UNIT_TEST_TYPE`].
    CaseType,
    /// The state a mocked task ends in, one of [`MOCK_STATES`].
    MockState,
    /// A mapping of the given shape.
    Object(&'static Shape),
    /// A non-empty list of mappings of the given shape.
    List(&'static Shape),
}

/// One key of a mapping.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub kind: KeyKind,
    pub required: bool,
    pub doc: &'static str,
}

const fn req(name: &'static str, kind: KeyKind, doc: &'static str) -> Key {
    Key { name, kind, required: true, doc }
}

const fn opt(name: &'static str, kind: KeyKind, doc: &'static str) -> Key {
    Key { name, kind, required: false, doc }
}

/// One mapping of the format.
#[derive(Debug)]
pub struct Shape {
    /// Kestra's class name (`TestSuite`, `Assertion`…).
    pub name: &'static str,
    /// How errors name it (`a test case`).
    pub what: &'static str,
    pub doc: &'static str,
    pub keys: &'static [Key],
    /// Whether it also takes the assertion operators ([`Operator::ALL`]
    /// and [`Operator::ALIASES`]), at least one of them.
    pub operators: bool,
}

impl Shape {
    /// Every key name it takes, operators included.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self.keys.iter().map(|k| k.name).collect();
        if self.operators {
            v.extend(Operator::ALL.iter().map(|o| o.key()));
            v.extend(Operator::ALIASES.iter().map(|(alias, _)| *alias));
        }
        v
    }

    /// Whether `name` is one of its required keys.
    pub fn requires(&self, name: &str) -> bool {
        self.keys.iter().any(|k| k.name == name && k.required)
    }

    /// The mappings nested in it, depth first, itself first.
    pub fn all(&'static self) -> Vec<&'static Shape> {
        let mut out = vec![self];
        for k in self.keys {
            if let KeyKind::Object(s) | KeyKind::List(s) = k.kind {
                for s in s.all() {
                    if !out.iter().any(|o| std::ptr::eq(*o, s)) {
                        out.push(s);
                    }
                }
            }
        }
        out
    }
}

/// The states a mocked task may end in.
pub const MOCK_STATES: [StateType; 4] = [StateType::Success, StateType::Warning, StateType::Failed, StateType::Killed];

/// A test file: the tests of one flow.
pub static SUITE: Shape = Shape {
    name: "TestSuite",
    what: "a test suite",
    doc: "A test file: the test cases of one flow, found by `baton test` beside the flows and kept with them by the server.",
    keys: &[
        req("id", KeyKind::Text, "The test suite's id, unique in its namespace."),
        req("namespace", KeyKind::Text, "The namespace of the flow under test."),
        req("flowId", KeyKind::Text, "The id of the flow under test."),
        opt("description", KeyKind::Text, "Free text about the suite."),
        opt(
            "disabled",
            KeyKind::Boolean,
            "A disabled suite runs none of its cases: each is reported SKIPPED (set by `POST /tests/disable/by-ids`).",
        ),
        req("testCases", KeyKind::List(&CASE), "The test cases, each run as its own transient execution of the flow."),
    ],
    operators: false,
};

/// One test case.
pub static CASE: Shape = Shape {
    name: UNIT_TEST_TYPE,
    what: "a test case",
    doc: "One test case: a transient execution of the flow with its fixtures, then its assertions on the ended execution.",
    keys: &[
        req("id", KeyKind::Text, "The case's id, unique in the suite."),
        req("type", KeyKind::CaseType, "Always io.kestra.core.tests.flow.UnitTest."),
        opt("description", KeyKind::Text, "Free text about the case, shown with its result."),
        opt("disabled", KeyKind::Boolean, "A disabled case is skipped (reported SKIPPED)."),
        opt("fixtures", KeyKind::Object(&FIXTURES), "What the case sets up: inputs, files, mocked tasks, a trigger."),
        req("assertions", KeyKind::List(&ASSERTION), "What must hold once the execution ended."),
    ],
    operators: false,
};

/// A case's fixtures.
pub static FIXTURES: Shape = Shape {
    name: "Fixtures",
    what: "fixtures",
    doc: "What a test case sets up before its execution starts.",
    keys: &[
        opt("inputs", KeyKind::Map, "The execution's inputs, as an API caller gives them."),
        opt(
            "files",
            KeyKind::TextMap,
            "Inline files: name → content, stored in internal storage; `{{ files['name'] }}` is its kestra:// URI.",
        ),
        opt(
            "namespaceFiles",
            KeyKind::TextMap,
            "Baton only: the flow namespace's files as this case sees them (path → content) and no other; `baton test --record` writes the ones its run read.",
        ),
        opt(
            "tasks",
            KeyKind::List(&TASK_FIXTURE),
            "Mocked tasks: each ends with the given outputs and state without running.",
        ),
        opt(
            "trigger",
            KeyKind::Object(&TRIGGER_FIXTURE),
            "The trigger the execution pretends to come from (`trigger.*`).",
        ),
    ],
    operators: false,
};

/// A mocked task.
pub static TASK_FIXTURE: Shape = Shape {
    name: "TaskFixture",
    what: "a task fixture",
    doc: "A mocked task: it ends in `state` with `outputs` without running; a task inside a flowable may be mocked too.",
    keys: &[
        req("id", KeyKind::Text, "The id of the task to mock."),
        opt("value", KeyKind::Text, "Only the task runs of this value (`taskrun.value`, in a ForEach)."),
        opt(
            "state",
            KeyKind::MockState,
            "The state the mocked task ends in: SUCCESS (the default), WARNING, FAILED or KILLED.",
        ),
        opt("outputs", KeyKind::Map, "The outputs the mocked task returns (templates are rendered)."),
        opt("assets", KeyKind::Any, "Kestra's asset lineage: refused, Baton has no asset catalog."),
        opt("description", KeyKind::Text, "Free text about the fixture."),
    ],
    operators: false,
};

/// The trigger of a case's execution.
pub static TRIGGER_FIXTURE: Shape = Shape {
    name: "TriggerFixture",
    what: "a trigger fixture",
    doc: "The trigger a test case's execution pretends to come from.",
    keys: &[
        req("id", KeyKind::Text, "The trigger's id (`trigger.id`)."),
        req("type", KeyKind::Text, "The trigger's type (`trigger.type`)."),
        opt("variables", KeyKind::Map, "The trigger's variables (`trigger.date`, `trigger.body`…)."),
    ],
    operators: false,
};

/// One assertion; its operators are [`Operator::ALL`].
pub static ASSERTION: Shape = Shape {
    name: "Assertion",
    what: "an assertion",
    doc: "An expression rendered once the execution ended, checked by each operator given (at least one).",
    keys: &[
        req("value", KeyKind::Any, "The expression checked (`{{ outputs.task.value }}`), rendered to text."),
        opt("taskId", KeyKind::Text, "Render the expression in this task's last task run (and name it in the result)."),
        opt("errorMessage", KeyKind::Text, "The message of a failure, instead of Kestra's."),
        opt("description", KeyKind::Text, "Free text about the assertion, shown with its result."),
    ],
    operators: true,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_is_reachable_and_its_keys_are_unique() {
        let all = SUITE.all();
        assert_eq!(all.len(), 6, "{:?}", all.iter().map(|s| s.name).collect::<Vec<_>>());
        for s in all {
            let names = s.names();
            let unique: std::collections::BTreeSet<_> = names.iter().collect();
            assert_eq!(unique.len(), names.len(), "{}: a key is declared twice", s.name);
        }
    }
}
