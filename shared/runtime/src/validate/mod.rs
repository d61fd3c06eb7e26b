//! `baton validate`: every problem in a flow file at once, each with its
//! file position, path and task id — malformed YAML, structural problems
//! from `Flow::from_value`, ids, unknown types, plugin properties,
//! flowable requirements, input definitions, templates and triggers.

#[cfg(test)]
mod audit_tests;
#[cfg(test)]
mod conditions_tests;
#[cfg(test)]
mod corpus_tests;
mod dialect;
mod flowables;
#[cfg(test)]
mod flowables_tests;
mod for_each_item;
#[cfg(test)]
mod plugin_tests;
mod rules;
pub use crate::model::suggest;
mod tasks;
mod templates;
#[cfg(test)]
mod tests;
mod triggers;
pub mod type_names;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use crate::dialect::{Policy, Resolved};
use crate::inputs;
use crate::model::flow::{Flow, Input};
use crate::plugins::Registry;
use crate::template::Renderer;
use crate::yaml::{self, Locations, child_index};

static FLOW_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$").expect("static regex"));
static NAMESPACE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9._-]*$").expect("static regex"));

/// One problem found in a flow file (serialized in camelCase for JSON output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// The file as given to the validator.
    pub file: String,
    /// 1-based line, when the problem could be located.
    pub line: Option<usize>,
    /// 1-based column, when the problem could be located.
    pub column: Option<usize>,
    /// Where in the flow, e.g. `tasks[2].then[0]` (empty for the whole file).
    pub path: String,
    /// The id of the task concerned, if any.
    pub task_id: Option<String>,
    pub message: String,
}

impl Diagnostic {
    /// A file that is not YAML at all, at the parser's position.
    pub fn invalid_yaml(file: &str, e: &crate::yaml::YamlError) -> Diagnostic {
        Diagnostic {
            file: file.to_string(),
            line: Some(e.position.line),
            column: Some(e.position.column),
            path: String::new(),
            task_id: None,
            message: format!("invalid YAML: {}", e.message),
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:column: path (task 'id'): message`, leaving out what is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": ")?;
        if !self.path.is_empty() {
            write!(f, "{}", self.path)?;
            if let Some(t) = self.task_id.as_deref().filter(|t| !t.is_empty()) {
                write!(f, " (task '{t}')")?;
            }
            write!(f, ": ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// Collects diagnostics for one file, locating paths in the source.
pub(crate) struct Sink<'a> {
    file: &'a str,
    locs: &'a Locations,
    /// Task path → task id, to name the task of any path inside it.
    task_ids: HashMap<String, String>,
    diags: Vec<Diagnostic>,
}

impl Sink<'_> {
    /// Reports a problem at `path`, naming the task it sits in.
    pub(crate) fn at(&mut self, path: &str, message: impl Into<String>) {
        self.located(path, path, message);
    }

    /// Reports a problem about `path`, positioned at `pos_path`.
    pub(crate) fn located(&mut self, pos_path: &str, path: &str, message: impl Into<String>) {
        let pos = self.locs.find(pos_path);
        let task_id = self.task_of(path);
        self.diags.push(Diagnostic {
            file: self.file.to_string(),
            line: Some(pos.map_or(1, |p| p.line)),
            column: Some(pos.map_or(1, |p| p.column)),
            path: path.to_string(),
            task_id,
            message: message.into(),
        });
    }

    /// The id of the innermost task whose path is a prefix of `path`.
    fn task_of(&self, path: &str) -> Option<String> {
        let mut p = path;
        loop {
            if let Some(id) = self.task_ids.get(p) {
                return Some(id.clone());
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

/// Validates one flow source under the built-in dialect policy
/// ([`Policy::AUTO`]). Returns the flow whenever it could be read (even
/// with problems) and every diagnostic, sorted by position.
pub fn validate_source(
    file: &str,
    source: &str,
    registry: &Registry,
    renderer: &Renderer,
) -> (Option<Flow>, Vec<Diagnostic>) {
    let r = validate_source_with(file, source, registry, renderer, Policy::AUTO);
    (r.flow, r.diagnostics)
}

/// One flow source checked: the flow (whenever it could be read), its
/// dialect and why (whenever it is a mapping), and every diagnostic.
#[derive(Debug)]
pub struct Report {
    pub flow: Option<Flow>,
    pub dialect: Option<Resolved>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Validates one flow source in the dialect it resolves to under `policy`
/// (`crate::dialect`): constructs of the other dialect are errors naming
/// their replacement.
pub fn validate_source_with(
    file: &str,
    source: &str,
    registry: &Registry,
    renderer: &Renderer,
    policy: Policy,
) -> Report {
    match yaml::parse(source) {
        Ok((root, locs)) => validate_parsed(file, source, &root, &locs, registry, renderer, policy),
        Err(e) => Report { flow: None, dialect: None, diagnostics: vec![Diagnostic::invalid_yaml(file, &e)] },
    }
}

/// [`validate_source_with`] of a source already parsed (`root`, `locs`).
fn validate_parsed(
    file: &str,
    source: &str,
    root: &Value,
    locs: &Locations,
    registry: &Registry,
    renderer: &Renderer,
    policy: Policy,
) -> Report {
    let (flow, problems) = Flow::from_value_with(root, source, &type_names::current);
    let mut sink = Sink { file, locs, task_ids: HashMap::new(), diags: Vec::new() };
    if let Some(flow) = &flow {
        sink.task_ids = flow.all_tasks().into_iter().map(|t| (t.path.clone(), t.id.clone())).collect();
    }
    for p in problems {
        sink.at(&p.path, p.message);
    }
    let mut resolved = None;
    if let Some(flow) = &flow {
        resolved = Some(dialect::check(flow, policy, &mut sink));
        check_flow_ids(flow, root, &mut sink);
        check_inputs(root, &mut sink);
        tasks::check(flow, root, registry, &mut sink);
        rules::check(flow, root, &mut sink);
        triggers::check(flow, root, &mut sink);
        templates::check(flow, root, renderer, &mut sink);
    }
    let mut diags = sink.diags;
    diags.sort_by_key(|d| (d.line.unwrap_or(usize::MAX), d.column.unwrap_or(usize::MAX)));
    diags.dedup();
    Report { flow, dialect: resolved, diagnostics: diags }
}

fn check_flow_ids(flow: &Flow, root: &Value, sink: &mut Sink<'_>) {
    let id = &flow.id;
    if root.get("id").is_some_and(Value::is_string) && (!FLOW_ID.is_match(id) || id.chars().count() > 100) {
        sink.at(
            "id",
            format!("invalid flow id '{id}': it must match ^[a-zA-Z0-9][a-zA-Z0-9._-]* (at most 100 characters)"),
        );
    }
    let ns = &flow.namespace;
    if root.get("namespace").is_some_and(Value::is_string) && (!NAMESPACE.is_match(ns) || ns.chars().count() > 150) {
        sink.at(
            "namespace",
            format!("invalid namespace '{ns}': it must be lowercase and match ^[a-z0-9][a-z0-9._-]* (at most 150 characters)"),
        );
    }
}

/// Checks input definitions, located at their index in the file (inputs
/// that could not be read at all were already reported by the model).
fn check_inputs(root: &Value, sink: &mut Sink<'_>) {
    let Some(items) = root.get("inputs").and_then(Value::as_array) else { return };
    let mut defs = Vec::new();
    let mut index = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Ok(d) = Input::read(item) {
            defs.push(d);
            index.push(i);
        }
    }
    for (i, message) in inputs::check_definitions(&defs) {
        let path = child_index("inputs", index[i]);
        sink.at(&path, message);
    }
}

/// Finds the raw value at a model path such as `tasks[1].cases.a.b[0]`
/// (mapping keys may contain dots: the longest matching key wins).
pub(crate) fn lookup<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return Some(v);
    }
    if let Some(rest) = path.strip_prefix('[') {
        let end = rest.find(']')?;
        let i: usize = rest[..end].parse().ok()?;
        let rest = &rest[end + 1..];
        return lookup(v.as_array()?.get(i)?, rest.strip_prefix('.').unwrap_or(rest));
    }
    let (_, val, rest) = v
        .as_object()?
        .iter()
        .filter_map(|(k, val)| {
            let rest = path.strip_prefix(k.as_str())?;
            (rest.is_empty() || rest.starts_with(['.', '['])).then_some((k.len(), val, rest))
        })
        .max_by_key(|(len, _, _)| *len)?;
    lookup(val, rest.strip_prefix('.').unwrap_or(rest))
}

/// Validates files and folders (folders are searched recursively for
/// `*.yml` / `*.yaml`, in sorted order). Every file found is returned,
/// with its diagnostics (empty when valid).
pub fn validate_paths(paths: &[PathBuf], registry: &Registry, renderer: &Renderer) -> Vec<(PathBuf, Vec<Diagnostic>)> {
    validate_paths_with(paths, registry, renderer, Policy::AUTO).into_iter().map(|(p, r)| (p, r.diagnostics)).collect()
}

/// [`validate_paths`] under a dialect `policy`, with each file's dialect.
pub fn validate_paths_with(
    paths: &[PathBuf],
    registry: &Registry,
    renderer: &Renderer,
    policy: Policy,
) -> Vec<(PathBuf, Report)> {
    let only = |diags| Report { flow: None, dialect: None, diagnostics: diags };
    let mut out = Vec::new();
    for p in paths {
        let mut files = Vec::new();
        if p.is_dir() {
            if let Err(e) = collect_yaml(p, &mut files) {
                out.push((p.clone(), only(vec![io_diag(p, &e)])));
            }
        } else {
            files.push(p.clone());
        }
        for f in files {
            let name = f.display().to_string();
            let report = match crate::yaml::read_file(&f) {
                Ok(src) => match yaml::parse(&src) {
                    // a flow unit test file (`baton test`) is checked as one
                    Ok((root, _)) if crate::unittest::is_test_document(&root) => {
                        only(crate::unittest::parse_source(&name, &src).1)
                    }
                    Ok((root, locs)) => validate_parsed(&name, &src, &root, &locs, registry, renderer, policy),
                    Err(e) => only(vec![Diagnostic::invalid_yaml(&name, &e)]),
                },
                Err(e) => only(vec![io_diag(&f, &e)]),
            };
            out.push((f, report));
        }
    }
    out
}

fn io_diag(p: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic {
        file: p.display().to_string(),
        line: None,
        column: None,
        path: String::new(),
        task_id: None,
        message: format!("cannot read: {e}"),
    }
}

/// The `*.yml` / `*.yaml` files under `dir`, recursively, in sorted order.
pub fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect_yaml(&e, out)?;
        } else if e.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(e);
        }
    }
    Ok(())
}
