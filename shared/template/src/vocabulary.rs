//! The names a template can use, read from the renderer itself: the
//! functions (the environment's globals) and the filters (Baton's own, as
//! `filters::register` adds them, and minijinja's built-ins that resolve).
//! The flow editor completes `{{ … }}` from this list (the flow schema's
//! `$expressions`), so it cannot offer a name the renderer lacks.

use std::collections::BTreeSet;

use minijinja::functions::Function;
use minijinja::value::{FunctionArgs, FunctionResult};
use minijinja::{Environment, ErrorKind};

/// minijinja's built-in filters a Kestra flow may use (Pebble has the same
/// names). Only those the environment resolves are listed
/// ([`Vocabulary::of`] probes each), so a name minijinja drops cannot be
/// offered.
const BUILTIN_FILTERS: &[&str] = &[
    "abs",
    "batch",
    "capitalize",
    "count",
    "default",
    "dictsort",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "replace",
    "reverse",
    "round",
    "select",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "trim",
    "unique",
    "upper",
    "urlencode",
];

/// What `{{ }}` may call: function names and filter names, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vocabulary {
    pub functions: Vec<String>,
    pub filters: Vec<String>,
}

impl Vocabulary {
    /// Reads the names from `env`; `own_filters` are the filters Baton
    /// registered (minijinja cannot list filters).
    pub(crate) fn of(env: &Environment<'static>, own_filters: &[&'static str]) -> Vocabulary {
        // internal helpers (`__b_typed`…) are not for flows
        let functions: BTreeSet<String> =
            env.globals().map(|(n, _)| n.to_string()).filter(|n| !n.starts_with('_')).collect();
        let resolves = |name: &str| -> bool {
            let Ok(t) = env.template_from_str("") else { return false };
            let state = t.new_state();
            // an argument error still proves the filter exists
            !matches!(state.apply_filter(name, &[]), Err(e) if e.kind() == ErrorKind::UnknownFilter)
        };
        let filters: BTreeSet<String> = own_filters
            .iter()
            .copied()
            .chain(BUILTIN_FILTERS.iter().copied().filter(|n| resolves(n)))
            .map(str::to_string)
            .collect();
        Vocabulary { functions: functions.into_iter().collect(), filters: filters.into_iter().collect() }
    }
}

/// An environment that records the names of the filters added to it.
pub(crate) struct Recorder<'e> {
    env: &'e mut Environment<'static>,
    pub(crate) filters: Vec<&'static str>,
}

impl<'e> Recorder<'e> {
    pub(crate) fn new(env: &'e mut Environment<'static>) -> Recorder<'e> {
        Recorder { env, filters: Vec::new() }
    }

    /// `Environment::add_filter`, remembering the name.
    pub(crate) fn add_filter<F, Rv, Args>(&mut self, name: &'static str, f: F)
    where
        F: Function<Rv, Args>,
        Rv: FunctionResult,
        Args: for<'a> FunctionArgs<'a>,
    {
        self.filters.push(name);
        self.env.add_filter(name, f);
    }

    /// `Environment::add_test`.
    pub(crate) fn add_test<F, Rv, Args>(&mut self, name: &'static str, f: F)
    where
        F: Function<Rv, Args>,
        Rv: FunctionResult,
        Args: for<'a> FunctionArgs<'a>,
    {
        self.env.add_test(name, f);
    }
}

#[cfg(test)]
mod tests {
    use crate::{NoHost, Renderer};

    #[test]
    fn the_vocabulary_lists_what_templates_can_call_and_only_that() {
        let r = Renderer::new();
        let v = r.vocabulary();
        for f in ["now", "range", "kv", "secret", "currentEachOutput", "isWeekend", "fileSize"] {
            assert!(v.functions.iter().any(|n| n == f), "function {f}: {:?}", v.functions);
        }
        for f in ["date", "dateAdd", "toJson", "jq", "slugify", "numberFormat", "upper", "default", "join", "length"] {
            assert!(v.filters.iter().any(|n| n == f), "filter {f}: {:?}", v.filters);
        }
        assert!(!v.functions.iter().any(|n| n.starts_with('_')), "{:?}", v.functions);
        // every filter listed is one the renderer knows (an argument error is fine)
        let ctx = serde_json::json!({"x": "a"});
        for f in &v.filters {
            let t = format!("{{{{ x | {f} }}}}");
            if let Err(e) = r.render_str(&t, &ctx, &NoHost) {
                assert!(!e.message.contains("unknown filter"), "{t}: {}", e.message);
            }
        }
        let bogus = r.render_str("{{ x | noSuchFilter }}", &ctx, &NoHost).unwrap_err().message;
        assert!(bogus.contains("unknown"), "{bogus}");
    }
}
