//! Which task runs' outputs a task's templates can read, from their text:
//! a job's context carries `outputs` only for the tasks its templates
//! name (`outputs.extract…`, `outputs['my-task']…`), so a job's context is
//! the size of what it reads, and a step on a partly loaded execution
//! (`partial`) loads those tasks' runs instead of every run.
//!
//! The rule is safe by construction: a template reads a key of `outputs`
//! only by naming it literally right after `outputs`; any other use —
//! `outputs` alone, in a filter or a loop, indexed by an expression, not
//! at the root of a path (`x.outputs`), or a function that renders or
//! reads the context (`render`, `*Output*()`, `printContext`) — reads them
//! all. A name missed here is therefore never read, and the context holds
//! every `outputs.<task>` the template can reach. The flow's variables
//! count as the task's (`render(vars.x)`).

use std::collections::BTreeSet;

use serde_json::Value;

use baton_model::{Flow, Task};

/// What a task's templates read of `outputs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum OutputRefs {
    /// Nothing.
    None,
    /// The outputs of these tasks only.
    Tasks(BTreeSet<String>),
    /// Possibly any.
    All,
}

impl OutputRefs {
    fn add(&mut self, other: OutputRefs) {
        *self = match (std::mem::replace(self, OutputRefs::None), other) {
            (OutputRefs::All, _) | (_, OutputRefs::All) => OutputRefs::All,
            (OutputRefs::None, x) | (x, OutputRefs::None) => x,
            (OutputRefs::Tasks(mut a), OutputRefs::Tasks(b)) => {
                a.extend(b);
                OutputRefs::Tasks(a)
            }
        }
    }

    /// Whether the outputs of `task_id` are read.
    pub(super) fn reads(&self, task_id: &str) -> bool {
        match self {
            OutputRefs::None => false,
            OutputRefs::Tasks(t) => t.contains(task_id),
            OutputRefs::All => true,
        }
    }
}

/// What the templates of `task`'s properties and `runIf` (and the flow's
/// variables) read of `outputs`.
pub(super) fn output_refs(task: &Task, flow: &Flow) -> OutputRefs {
    let mut refs = task.run_if.as_deref().map_or(OutputRefs::None, text_refs);
    for v in task.props.values().chain(flow.variables.values()) {
        value_refs(v, &mut refs);
        if refs == OutputRefs::All {
            break;
        }
    }
    refs
}

fn value_refs(v: &Value, refs: &mut OutputRefs) {
    match v {
        Value::String(s) => refs.add(text_refs(s)),
        Value::Array(a) => a.iter().for_each(|v| value_refs(v, refs)),
        Value::Object(m) => m.values().for_each(|v| value_refs(v, refs)),
        _ => {}
    }
}

/// What one template text reads of `outputs` (see the module's header).
pub(super) fn text_refs(s: &str) -> OutputRefs {
    if s.contains("Output") || s.contains("Context") || s.contains("render") {
        return OutputRefs::All;
    }
    let mut tasks = BTreeSet::new();
    for (at, _) in s.match_indices("outputs") {
        let before = s[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            return OutputRefs::All;
        }
        match key_after(&s[at + "outputs".len()..]) {
            Some(task) => tasks.insert(task.to_string()),
            None => return OutputRefs::All,
        };
    }
    if tasks.is_empty() { OutputRefs::None } else { OutputRefs::Tasks(tasks) }
}

/// The key named right after `outputs`: `.name` or `['name']` / `["name"]`.
fn key_after(rest: &str) -> Option<&str> {
    if let Some(r) = rest.strip_prefix('.') {
        let end = r.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(r.len());
        return (end > 0).then(|| &r[..end]);
    }
    let r = rest.strip_prefix('[')?.trim_start();
    let quote = r.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let r = &r[1..];
    let end = r.find(quote)?;
    let after = r[end + 1..].trim_start();
    (end > 0 && after.starts_with(']') && !r[..end].contains('\\')).then(|| &r[..end])
}

/// The tasks whose outputs some template of `flow` may read (its tasks'
/// properties and `runIf`, its variables and its outputs); `None` when any
/// task's may be (a template reads `outputs` as a whole, or the flow has
/// plugin defaults, listeners or SLAs, whose templates are not looked at
/// here). The outputs of a task not named are never read by a step: the
/// executor may drop them from a finished task run it holds in memory.
pub fn outputs_read(flow: &Flow) -> Option<BTreeSet<String>> {
    if !flow.plugin_defaults.is_empty() || !flow.listeners.is_empty() || !flow.sla.is_empty() {
        return None;
    }
    let mut refs = OutputRefs::None;
    for v in &flow.outputs {
        value_refs(v, &mut refs);
    }
    for task in flow.all_tasks() {
        if refs == OutputRefs::All {
            break;
        }
        refs.add(output_refs(task, flow));
    }
    match refs {
        OutputRefs::None => Some(BTreeSet::new()),
        OutputRefs::Tasks(t) => Some(t),
        OutputRefs::All => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks(ids: &[&str]) -> OutputRefs {
        OutputRefs::Tasks(ids.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn literal_keys_are_read_and_anything_else_reads_all() {
        assert_eq!(text_refs("echo {{ inputs.x }}"), OutputRefs::None);
        assert_eq!(text_refs("{{ outputs.extract.uri }}"), tasks(&["extract"]));
        assert_eq!(text_refs("{{ outputs['my-task'].uri }} {{ outputs.b[taskrun.value] }}"), tasks(&["b", "my-task"]));
        assert_eq!(text_refs("{{ outputs [ \"q\" ] }}"), OutputRefs::All, "no space after the root");
        assert_eq!(text_refs("{{ outputs[ \"q\" ] }}"), tasks(&["q"]));
        for all in [
            "{{ outputs }}",
            "{{ outputs | keys }}",
            "{% for k, v in outputs %}{% endfor %}",
            "{{ outputs[vars.task] }}",
            "{{ (outputs).a }}",
            "{{ x.outputs.a }}",
            "{{ myoutputs.a }}",
            "{{ outputs.}}",
            "{{ outputs['a' ~ 'b'] }}",
            "{{ outputs['a\\'b'] }}",
            "{{ render(vars.x) }}",
            "{{ iterationOutput('a') }}",
            "{{ printContext() }}",
            "plain text about outputs",
        ] {
            assert_eq!(text_refs(all), OutputRefs::All, "{all}");
        }
    }

    #[test]
    fn a_flow_reads_what_its_tasks_and_outputs_name() {
        let flow = |yaml: &str| {
            let (v, _) = baton_model::yaml::parse(yaml).expect("yaml");
            Flow::from_value(&v, yaml).0.expect("flow")
        };
        let named = flow(
            "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n  \
             - id: b\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.a.value }}\"\n\
             outputs:\n  - id: o\n    type: STRING\n    value: \"{{ outputs.b.value }}\"\n",
        );
        assert_eq!(outputs_read(&named), Some(["a".to_string(), "b".to_string()].into()));
        let all = flow(
            "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.debug.Return\n    \
             format: \"{{ outputs }}\"\n",
        );
        assert_eq!(outputs_read(&all), None);
    }

    #[test]
    fn a_task_reads_what_its_properties_and_the_flow_variables_name() {
        let yaml = "id: f\nnamespace: n\nvariables:\n  v: \"{{ outputs.c.x }}\"\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: [\"{{ outputs.a.x }}\", {k: \"{{ outputs['b'] }}\"}]\n";
        let (v, _) = baton_model::yaml::parse(yaml).expect("yaml");
        let flow = Flow::from_value(&v, yaml).0.expect("flow");
        let refs = output_refs(&flow.tasks[0], &flow);
        assert_eq!(refs, tasks(&["a", "b", "c"]));
        assert!(refs.reads("a") && !refs.reads("t"));
    }
}
