//! The flow unit test format, as Kestra defines it (`io.kestra.core.test`:
//! `TestSuite`, `UnitTest`, `Fixtures`, `TaskFixture`, `TriggerFixture`,
//! `Assertion`): a test file names a flow and holds test cases, each with
//! fixtures (inputs, files, mocked tasks, a trigger) and assertions.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::StateType;

/// The only test case type Kestra defines.
pub const UNIT_TEST_TYPE: &str = "io.kestra.core.tests.flow.UnitTest";

/// One test file: the tests of one flow.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSuite {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub description: Option<String>,
    pub test_cases: Vec<UnitTest>,
}

/// One test case: a transient execution of the flow, then its assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitTest {
    pub id: String,
    pub description: Option<String>,
    pub disabled: bool,
    pub fixtures: Fixtures,
    pub assertions: Vec<Assertion>,
    /// Where it sits in the file, e.g. `testCases[1]`.
    pub path: String,
}

/// What a case sets up before its execution starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fixtures {
    /// The execution's inputs, as an API caller gives them.
    pub inputs: Map<String, Value>,
    /// Inline files: name → content, stored in internal storage; the
    /// `files` variable maps each name to its `kestra://` URI.
    pub files: Vec<(String, String)>,
    /// Baton's own fixture (Kestra has none): the flow namespace's files
    /// as this case's execution sees them, path → content, and no other
    /// (`read('path')`, `namespaceFiles`); the case runs on a home of its
    /// own, so no other case sees them.
    pub namespace_files: Vec<(String, String)>,
    pub tasks: Vec<TaskFixture>,
    pub trigger: Option<TriggerFixture>,
}

/// A mocked task: it ends in `state` with `outputs`, without running.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFixture {
    pub id: String,
    /// Only its task runs of this value (`taskrun.value`).
    pub value: Option<String>,
    pub state: StateType,
    pub outputs: Map<String, Value>,
    pub description: Option<String>,
    /// Where it sits in the file, e.g. `testCases[0].fixtures.tasks[1]`.
    pub path: String,
}

/// The trigger the execution pretends to come from (`trigger.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerFixture {
    pub id: String,
    pub type_: String,
    pub variables: Map<String, Value>,
}

/// One assertion: `value` rendered once the execution ended, checked by
/// each operator given.
#[derive(Debug, Clone, PartialEq)]
pub struct Assertion {
    /// The expression, as written (`{{ outputs.t.value }}`).
    pub value: String,
    /// The task it is about: rendered in that task's last task run.
    pub task_id: Option<String>,
    pub error_message: Option<String>,
    pub description: Option<String>,
    pub checks: Vec<Check>,
    /// Where it sits in the file, e.g. `testCases[0].assertions[2]`.
    pub path: String,
}

/// One operator of an assertion and what it expects (unrendered).
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub operator: Operator,
    pub expected: Value,
}

/// Kestra's assertion operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Operator {
    EndsWith,
    StartsWith,
    Contains,
    EqualTo,
    NotEqualTo,
    GreaterThan,
    GreaterThanOrEqualTo,
    LessThan,
    LessThanOrEqualTo,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Operator {
    /// Every operator, in the order Kestra runs them.
    pub const ALL: [Operator; 13] = [
        Operator::IsNull,
        Operator::IsNotNull,
        Operator::EndsWith,
        Operator::StartsWith,
        Operator::EqualTo,
        Operator::Contains,
        Operator::NotEqualTo,
        Operator::GreaterThan,
        Operator::GreaterThanOrEqualTo,
        Operator::LessThan,
        Operator::LessThanOrEqualTo,
        Operator::In,
        Operator::NotIn,
    ];

    /// The property name.
    pub fn key(self) -> &'static str {
        match self {
            Operator::EndsWith => "endsWith",
            Operator::StartsWith => "startsWith",
            Operator::Contains => "contains",
            Operator::EqualTo => "equalTo",
            Operator::NotEqualTo => "notEqualTo",
            Operator::GreaterThan => "greaterThan",
            Operator::GreaterThanOrEqualTo => "greaterThanOrEqualTo",
            Operator::LessThan => "lessThan",
            Operator::LessThanOrEqualTo => "lessThanOrEqualTo",
            Operator::In => "in",
            Operator::NotIn => "notIn",
            Operator::IsNull => "isNull",
            Operator::IsNotNull => "isNotNull",
        }
    }

    /// The names Kestra 0.23 shipped and its docs still list.
    pub const ALIASES: [(&'static str, Operator); 2] =
        [("equalsTo", Operator::EqualTo), ("notEqualsTo", Operator::NotEqualTo)];

    /// The operator a property names: its name, or one of [`Self::ALIASES`].
    pub fn from_key(key: &str) -> Option<Operator> {
        Operator::ALIASES
            .iter()
            .find(|(alias, _)| *alias == key)
            .map(|(_, o)| *o)
            .or_else(|| Operator::ALL.into_iter().find(|o| o.key() == key))
    }

    /// What it holds, in words (docs, schema, completion).
    pub fn doc(self) -> &'static str {
        match self {
            Operator::EndsWith => "The value ends with this text.",
            Operator::StartsWith => "The value starts with this text.",
            Operator::Contains => "The value contains this text.",
            Operator::EqualTo => "The value, as text, equals this (a number or a boolean compares as its text).",
            Operator::NotEqualTo => "The value, as text, differs from this.",
            Operator::GreaterThan => "The value is a number greater than this one.",
            Operator::GreaterThanOrEqualTo => "The value is a number greater than or equal to this one.",
            Operator::LessThan => "The value is a number less than this one.",
            Operator::LessThanOrEqualTo => "The value is a number less than or equal to this one.",
            Operator::In => "The value is one of this list.",
            Operator::NotIn => "The value is none of this list.",
            Operator::IsNull => "true: the value is null (undefined); false: it is not.",
            Operator::IsNotNull => "true: the value is not null; false: it is.",
        }
    }

    /// What it expects.
    pub fn expects(self) -> Expects {
        match self {
            Operator::IsNull | Operator::IsNotNull => Expects::Flag,
            Operator::In | Operator::NotIn => Expects::List,
            Operator::EqualTo | Operator::NotEqualTo => Expects::Anything,
            _ => Expects::Scalar,
        }
    }
}

/// What an operator expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expects {
    /// `true` or `false` (or a template rendering to it).
    Flag,
    /// A list, or one value (a template rendering to a list).
    List,
    /// Any value, compared as text.
    Anything,
    /// A text, a number or a boolean.
    Scalar,
}

impl Expects {
    /// Whether it accepts `v` as written.
    pub fn accepts(self, v: &Value) -> bool {
        match self {
            Expects::Flag => v.is_boolean() || v.is_string(),
            Expects::List => v.is_array() || v.is_string(),
            Expects::Anything => true,
            Expects::Scalar => !v.is_array() && !v.is_object(),
        }
    }
}

impl std::fmt::Display for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}
