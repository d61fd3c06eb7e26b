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

    /// The operator a property names: its name, or the names Kestra 0.23
    /// shipped and its docs still list (`equalsTo`, `notEqualsTo`).
    pub fn from_key(key: &str) -> Option<Operator> {
        match key {
            "equalsTo" => Some(Operator::EqualTo),
            "notEqualsTo" => Some(Operator::NotEqualTo),
            _ => Operator::ALL.into_iter().find(|o| o.key() == key),
        }
    }
}

impl std::fmt::Display for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}
