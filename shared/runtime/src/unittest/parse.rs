//! Reads a test file into a [`TestSuite`], collecting every problem with
//! its file:line:column like flow validation does: a property Kestra does
//! not define, a missing required one, a value of the wrong kind.

use serde_json::{Map, Value};

use super::keys::{ASSERTION, CASE, FIXTURES, MOCK_STATES, SUITE, Shape, TASK_FIXTURE, TRIGGER_FIXTURE};
use super::model::{
    Assertion, Check, Fixtures, Operator, TaskFixture, TestSuite, TriggerFixture, UNIT_TEST_TYPE, UnitTest,
};
use crate::model::StateType;
use crate::validate::Diagnostic;
use crate::yaml::{self, Locations, child_index, child_key};

/// The most test cases one file may hold.
pub const MAX_CASES: usize = 1000;

/// Whether a parsed YAML document is a test file rather than a flow: a
/// mapping with `flowId` and `testCases`.
pub fn is_test_document(root: &Value) -> bool {
    root.get("flowId").is_some() && root.get("testCases").is_some()
}

/// Collects problems for one file.
struct Sink<'a> {
    file: &'a str,
    locs: &'a Locations,
    diags: Vec<Diagnostic>,
}

impl Sink<'_> {
    fn at(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.locs.find(path);
        self.diags.push(Diagnostic {
            file: self.file.to_string(),
            line: Some(pos.map_or(1, |p| p.line)),
            column: Some(pos.map_or(1, |p| p.column)),
            path: path.to_string(),
            task_id: None,
            message: message.into(),
        });
    }

    /// The mapping at `path`, or a problem.
    fn map<'v>(&mut self, v: &'v Value, path: &str, what: &str) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.at(path, format!("{what} must be a mapping, not {}", crate::model::flow::kind_of(other)));
                None
            }
        }
    }

    /// Reports every key of `m` that `shape` does not declare, naming what is allowed.
    fn unknown_keys(&mut self, m: &Map<String, Value>, path: &str, shape: &Shape) {
        let (known, what) = (shape.names(), shape.what);
        for k in m.keys().filter(|k| !known.contains(&k.as_str())) {
            if k == "executionId" {
                self.at(&child_key(path, k), dangling_execution(what));
                continue;
            }
            let hint = crate::validate::suggest::closest(k, known.iter().copied())
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            self.at(
                &child_key(path, k),
                format!("unknown property '{k}' of {what}{hint}; Kestra defines: {}", known.join(", ")),
            );
        }
    }

    /// A string property of `shape`: a required one reports its absence.
    fn string(&mut self, m: &Map<String, Value>, path: &str, shape: &Shape, key: &str) -> Option<String> {
        match m.get(key) {
            None | Some(Value::Null) => {
                if shape.requires(key) {
                    self.at(path, format!("missing required property '{key}'"));
                }
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Some(crate::model::flow::scalar_string(v)),
            Some(other) => {
                self.at(
                    &child_key(path, key),
                    format!("'{key}' must be a string, not {}", crate::model::flow::kind_of(other)),
                );
                None
            }
        }
    }
}

/// Parses one test file's text. Returns the suite whenever it could be read
/// (even with problems) and every problem, sorted by position.
pub fn parse_source(file: &str, source: &str) -> (Option<TestSuite>, Vec<Diagnostic>) {
    let (root, locs) = match yaml::parse(source) {
        Ok(x) => x,
        Err(e) => return (None, vec![Diagnostic::invalid_yaml(file, &e)]),
    };
    let mut sink = Sink { file, locs: &locs, diags: Vec::new() };
    let suite = suite(&root, &mut sink);
    let mut diags = sink.diags;
    diags.sort_by_key(|d| (d.line.unwrap_or(usize::MAX), d.column.unwrap_or(usize::MAX)));
    diags.dedup();
    (suite, diags)
}

fn suite(root: &Value, sink: &mut Sink<'_>) -> Option<TestSuite> {
    let m = sink.map(root, "", "a test file")?;
    sink.unknown_keys(m, "", &SUITE);
    let id = sink.string(m, "", &SUITE, "id");
    let namespace = sink.string(m, "", &SUITE, "namespace");
    let flow_id = sink.string(m, "", &SUITE, "flowId");
    let description = sink.string(m, "", &SUITE, "description");
    let disabled = match m.get("disabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            sink.at("disabled", format!("'disabled' must be true or false, not {other}"));
            false
        }
    };
    let mut test_cases = Vec::new();
    match m.get("testCases") {
        Some(Value::Array(cases)) if !cases.is_empty() => {
            if cases.len() > MAX_CASES {
                sink.at("testCases", format!("{} test cases: a test file holds at most {MAX_CASES}", cases.len()));
            }
            for (i, c) in cases.iter().enumerate().take(MAX_CASES) {
                if let Some(case) = unit_test(c, &child_index("testCases", i), sink) {
                    test_cases.push(case);
                }
            }
        }
        Some(Value::Array(_)) => sink.at("testCases", "'testCases' must hold at least one test case"),
        None | Some(Value::Null) => sink.at("", "missing required property 'testCases'"),
        Some(other) => {
            sink.at("testCases", format!("'testCases' must be a list, not {}", crate::model::flow::kind_of(other)))
        }
    }
    let mut seen = std::collections::HashSet::new();
    for c in &test_cases {
        if !seen.insert(c.id.as_str()) {
            sink.at(&c.path, format!("duplicate test case id '{}'", c.id));
        }
    }
    // a disabled suite runs none of its cases: each is reported SKIPPED
    if disabled {
        for c in &mut test_cases {
            c.disabled = true;
        }
    }
    Some(TestSuite { id: id?, namespace: namespace?, flow_id: flow_id?, description, test_cases })
}

fn unit_test(v: &Value, path: &str, sink: &mut Sink<'_>) -> Option<UnitTest> {
    let m = sink.map(v, path, "a test case")?;
    sink.unknown_keys(m, path, &CASE);
    let id = sink.string(m, path, &CASE, "id");
    if let Some(t) = sink.string(m, path, &CASE, "type").filter(|t| t != UNIT_TEST_TYPE) {
        sink.at(
            &child_key(path, "type"),
            format!("unknown test case type '{t}': Kestra defines only {UNIT_TEST_TYPE}"),
        );
    }
    let description = sink.string(m, path, &CASE, "description");
    let disabled = match m.get("disabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            sink.at(&child_key(path, "disabled"), format!("'disabled' must be true or false, not {other}"));
            false
        }
    };
    let fixtures = match m.get("fixtures") {
        None | Some(Value::Null) => Fixtures::default(),
        Some(f) => fixtures(f, &child_key(path, "fixtures"), sink).unwrap_or_default(),
    };
    let mut assertions = Vec::new();
    match m.get("assertions") {
        Some(Value::Array(list)) => {
            for (i, a) in list.iter().enumerate() {
                let p = child_index(&child_key(path, "assertions"), i);
                if let Some(a) = assertion(a, &p, sink) {
                    assertions.push(a);
                }
            }
        }
        None | Some(Value::Null) => sink.at(path, "missing required property 'assertions'"),
        Some(other) => sink.at(
            &child_key(path, "assertions"),
            format!("'assertions' must be a list, not {}", crate::model::flow::kind_of(other)),
        ),
    }
    Some(UnitTest { id: id?, description, disabled, fixtures, assertions, path: path.to_string() })
}

/// A mapping of file names to their text (`files`, `namespaceFiles`).
fn text_map(v: Option<&Value>, fp: &str, what: &str, sink: &mut Sink<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(v) = v.filter(|v| !v.is_null()) else { return out };
    for (name, content) in sink.map(v, fp, what).cloned().unwrap_or_default() {
        match content {
            Value::String(s) => out.push((name, s)),
            other => sink.at(
                &child_key(fp, &name),
                format!("file '{name}' must be its content as text, not {}", crate::model::flow::kind_of(&other)),
            ),
        }
    }
    out
}

fn fixtures(v: &Value, path: &str, sink: &mut Sink<'_>) -> Option<Fixtures> {
    let m = sink.map(v, path, "'fixtures'")?;
    sink.unknown_keys(m, path, &FIXTURES);
    let mut out = Fixtures::default();
    if let Some(i) = m.get("inputs").filter(|v| !v.is_null()) {
        out.inputs = sink.map(i, &child_key(path, "inputs"), "'inputs'").cloned().unwrap_or_default();
    }
    out.files = text_map(m.get("files"), &child_key(path, "files"), "'files'", sink);
    out.namespace_files =
        text_map(m.get("namespaceFiles"), &child_key(path, "namespaceFiles"), "'namespaceFiles'", sink);
    match m.get("tasks") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, t) in list.iter().enumerate() {
                if let Some(t) = task_fixture(t, &child_index(&child_key(path, "tasks"), i), sink) {
                    out.tasks.push(t);
                }
            }
        }
        Some(other) => sink.at(
            &child_key(path, "tasks"),
            format!("'tasks' must be a list, not {}", crate::model::flow::kind_of(other)),
        ),
    }
    if let Some(t) = m.get("trigger").filter(|v| !v.is_null()) {
        out.trigger = trigger_fixture(t, &child_key(path, "trigger"), sink);
    }
    Some(out)
}

fn task_fixture(v: &Value, path: &str, sink: &mut Sink<'_>) -> Option<TaskFixture> {
    let m = sink.map(v, path, "a task fixture")?;
    sink.unknown_keys(m, path, &TASK_FIXTURE);
    if m.get("assets").is_some_and(|a| !a.is_null()) {
        sink.at(
            &child_key(path, "assets"),
            "'assets' of a task fixture is not supported by Baton (it has no asset catalog)",
        );
    }
    let id = sink.string(m, path, &TASK_FIXTURE, "id");
    let value = sink.string(m, path, &TASK_FIXTURE, "value");
    let description = sink.string(m, path, &TASK_FIXTURE, "description");
    let state = match sink.string(m, path, &TASK_FIXTURE, "state") {
        None => StateType::Success,
        Some(s) => match StateType::parse(&s).filter(|s| MOCK_STATES.contains(s)) {
            Some(st) => st,
            None => {
                sink.at(
                    &child_key(path, "state"),
                    format!("state '{s}' cannot end a mocked task: use SUCCESS, WARNING, FAILED or KILLED"),
                );
                StateType::Success
            }
        },
    };
    let outputs = match m.get("outputs") {
        None | Some(Value::Null) => Map::new(),
        Some(o) => sink.map(o, &child_key(path, "outputs"), "'outputs'").cloned().unwrap_or_default(),
    };
    Some(TaskFixture { id: id?, value, state, outputs, description, path: path.to_string() })
}

fn trigger_fixture(v: &Value, path: &str, sink: &mut Sink<'_>) -> Option<TriggerFixture> {
    let m = sink.map(v, path, "'trigger'")?;
    sink.unknown_keys(m, path, &TRIGGER_FIXTURE);
    let id = sink.string(m, path, &TRIGGER_FIXTURE, "id");
    let type_ = sink.string(m, path, &TRIGGER_FIXTURE, "type");
    let variables = match m.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(o) => sink.map(o, &child_key(path, "variables"), "'variables'").cloned().unwrap_or_default(),
    };
    Some(TriggerFixture { id: id?, type_: type_?, variables })
}

fn assertion(v: &Value, path: &str, sink: &mut Sink<'_>) -> Option<Assertion> {
    let m = sink.map(v, path, "an assertion")?;
    sink.unknown_keys(m, path, &ASSERTION);
    let value = match m.get("value") {
        None => {
            sink.at(path, "missing required property 'value'");
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        // a literal is its text, as Kestra renders a property
        Some(v) => Some(crate::model::flow::scalar_string(v)),
    };
    let task_id = sink.string(m, path, &ASSERTION, "taskId");
    let error_message = sink.string(m, path, &ASSERTION, "errorMessage");
    let description = sink.string(m, path, &ASSERTION, "description");
    let mut checks = Vec::new();
    for (k, expected) in m {
        let Some(operator) = Operator::from_key(k) else { continue };
        if expected.is_null() {
            continue;
        }
        let kp = child_key(path, k);
        if !operator.expects().accepts(expected) {
            sink.at(&kp, format!("'{k}' cannot be {}", crate::model::flow::kind_of(expected)));
            continue;
        }
        if checks.iter().any(|c: &Check| c.operator == operator) {
            sink.at(&kp, format!("'{k}' repeats the operator '{operator}'"));
            continue;
        }
        checks.push(Check { operator, expected: expected.clone() });
    }
    if checks.is_empty() {
        sink.at(
            path,
            format!(
                "no assertion to run: give one of {}",
                Operator::ALL.iter().map(|o| o.key()).collect::<Vec<_>>().join(", ")
            ),
        );
    }
    checks.sort_by_key(|c| Operator::ALL.iter().position(|o| *o == c.operator));
    Some(Assertion { value: value?, task_id, error_message, description, checks, path: path.to_string() })
}

/// Why `executionId` in `what` (a fixture, an assertion) is refused: each
/// run of a case creates its execution, in a home of its own, so an id
/// written in the file points at no execution the case can see.
pub fn dangling_execution(what: &str) -> String {
    format!(
        "'executionId' of {what} points at no execution: each run of a test case creates its own execution in an \
         isolated home, where no other execution exists; assert on {{{{ execution.id }}}} or on the task's outputs instead"
    )
}
