//! The `jq` filter and the SSE task's `concatJqExpression`: jq programs run
//! by jaq (`jaq-core` with `jaq-std` and `jaq-json`'s definitions), a
//! maintained implementation of the whole language — paths, `map`,
//! `select`, `has`, `to_entries`, `//`, `[...]`, `if … then … else … end`,
//! `reduce`, string interpolation, variables. Kestra runs jackson-jq; both
//! follow jq 1.6+, so a program from Kestra's docs gives the same values.
//!
//! Results are the program's output stream, as a list. Bounded: at most
//! [`MAX_RESULTS`] results per run; a program that emits nothing forever
//! (`last(range(infinite))`) is not stopped — jaq has no step budget.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde::Deserialize;
use serde_json::Value;

/// At most this many results from one run of a program.
pub const MAX_RESULTS: usize = 100_000;

type Filter = jaq_core::compile::Filter<jaq_core::Native<data::JustLut<Val>>>;

/// Parses and compiles `expr`; a readable error naming what is wrong.
fn compile(expr: &str) -> Result<Filter, String> {
    let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
    let funs = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs());
    let arena = Arena::default();
    let modules =
        Loader::new(defs).load(&arena, File { code: expr, path: () }).map_err(|errs| {
            let mut msgs = Vec::new();
            for (_, e) in errs {
                match e {
                    jaq_core::load::Error::Io(v) => msgs.extend(v.into_iter().map(|(_, m)| m)),
                    jaq_core::load::Error::Lex(v) => msgs
                        .extend(v.into_iter().map(|(exp, at)| format!("expected {} at '{}'", exp.as_str(), near(at)))),
                    jaq_core::load::Error::Parse(v) => msgs
                        .extend(v.into_iter().map(|(exp, at)| format!("expected {} at '{}'", exp.as_str(), near(at)))),
                }
            }
            format!("syntax error: {}", msgs.join("; "))
        })?;
    Compiler::default().with_funs(funs).compile(modules).map_err(|errs| {
        let msgs: Vec<String> = errs
            .into_iter()
            .flat_map(|(_, v)| v.into_iter().map(|(name, what)| format!("undefined {} '{name}'", what.as_str())))
            .collect();
        msgs.join("; ")
    })
}

/// The start of the rest of the program, where an error was found.
fn near(rest: &str) -> String {
    let s: String = rest.chars().take(20).collect();
    if s.is_empty() { "the end".into() } else { s }
}

/// Runs `expr` on `input`; every result of the stream, in order.
pub fn run(input: Value, expr: &str) -> Result<Vec<Value>, String> {
    let filter = compile(expr)?;
    let input = Val::deserialize(input).map_err(|e| format!("cannot read the input: {e}"))?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut out = Vec::new();
    for r in filter.id.run((ctx, input)).map(unwrap_valr) {
        let v = r.map_err(|e| e.to_string())?;
        if out.len() == MAX_RESULTS {
            return Err(format!("more than {MAX_RESULTS} results (the bound of one jq run)"));
        }
        out.push(to_json(&v)?);
    }
    Ok(out)
}

/// A jq value as JSON (jaq prints JSON; its non-JSON values — NaN,
/// infinities, byte strings — are refused, naming the value).
fn to_json(v: &Val) -> Result<Value, String> {
    let text = v.to_string();
    serde_json::from_str(&text).map_err(|_| format!("the result {text} is not JSON"))
}

/// Checks that `expr` is a valid jq program, without running it.
pub fn check(expr: &str) -> Result<(), String> {
    compile(expr).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_builtins() {
        let v = json!({"a": {"b": [1, 2]}, "k-1": "x", "list": [{"n": 1}, {"n": 2}]});
        assert_eq!(run(v.clone(), ".a.b[1]").unwrap(), vec![json!(2)]);
        assert_eq!(run(v.clone(), ".").unwrap(), vec![v.clone()]);
        assert_eq!(run(v.clone(), ".list[].n").unwrap(), vec![json!(1), json!(2)]);
        assert_eq!(run(v.clone(), ".[\"k-1\"]").unwrap(), vec![json!("x")]);
        assert_eq!(run(v.clone(), ".a.b | length").unwrap(), vec![json!(2)]);
        assert_eq!(run(v.clone(), ".a | keys").unwrap(), vec![json!(["b"])]);
        assert_eq!(run(v.clone(), ".a.b[-1]").unwrap(), vec![json!(2)]);
        assert!(run(v, ".a.b.c").is_err());
    }

    /// What the subset refused and Kestra's blueprints write.
    #[test]
    fn the_language_beyond_paths() {
        let v = json!({"items": [{"id": 1, "ok": true}, {"id": 2, "ok": false}], "m": {"x": 1}});
        assert_eq!(run(v.clone(), ".items | map(.id)").unwrap(), vec![json!([1, 2])]);
        assert_eq!(run(v.clone(), ".items[] | select(.ok) | .id").unwrap(), vec![json!(1)]);
        assert_eq!(run(v.clone(), "[.items[].id]").unwrap(), vec![json!([1, 2])]);
        assert_eq!(run(v.clone(), ".m | has(\"x\")").unwrap(), vec![json!(true)]);
        assert_eq!(run(v.clone(), ".m | to_entries").unwrap(), vec![json!([{"key": "x", "value": 1}])]);
        assert_eq!(run(v.clone(), ".missing // \"none\"").unwrap(), vec![json!("none")]);
        assert_eq!(run(v.clone(), "if .m.x > 0 then \"pos\" else \"neg\" end").unwrap(), vec![json!("pos")]);
        assert_eq!(run(v.clone(), "\"id=\\(.items[0].id)\"").unwrap(), vec![json!("id=1")]);
        assert_eq!(run(v, "reduce .items[] as $i (0; . + $i.id)").unwrap(), vec![json!(3)]);
    }

    #[test]
    fn errors_and_bounds() {
        let e = check(".a | map(").unwrap_err();
        assert!(e.starts_with("syntax error"), "{e}");
        let e = check("nosuchfn").unwrap_err();
        assert!(e.contains("undefined") && e.contains("nosuchfn"), "{e}");
        let e = run(json!(null), "range(1e9)").unwrap_err();
        assert!(e.contains("more than 100000 results"), "{e}");
        assert!(run(json!(null), "error(\"boom\")").unwrap_err().contains("boom"));
    }
}
