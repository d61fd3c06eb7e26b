//! Hostile templates: each must end quickly with an error naming the bound
//! it broke, never a stack overflow, a hang or unbounded memory.

use serde_json::{Value, json};

use super::{NoHost, Renderer, TemplateError};

fn ctx(vars: Value) -> Value {
    json!({"flow": {"id": "f", "namespace": "n"}, "vars": vars, "inputs": {}})
}

/// CPU time (ms) this thread has used, from /proc: the bound is on work
/// done, which a loaded machine does not stretch as it does wall time.
fn thread_cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let Some(end) = stat.rfind(')') else { return 0 };
    let fields: Vec<&str> = stat[end + 2..].split(' ').collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) * 10
}

fn render(t: &str, vars: Value) -> Result<String, TemplateError> {
    let started = thread_cpu_ms();
    let out = Renderer::new().render_str(t, &ctx(vars), &NoHost);
    let used = thread_cpu_ms() - started;
    assert!(used < 20_000, "{t} used {used} ms of CPU");
    out
}

fn fails_with(t: &str, vars: Value, needle: &str) {
    match render(t, vars) {
        Ok(s) => panic!("{t} rendered {} chars", s.len()),
        Err(e) => assert!(e.message.contains(needle), "{t}: {}", e.message),
    }
}

#[test]
fn a_variable_rendering_itself_stops_at_the_nesting_bound() {
    fails_with("{{ render(vars.a) }}", json!({"a": "{{ render(vars.a) }}"}), "nested more than 8 levels");
    fails_with("{{ render(vars.a) }}", json!({"a": "x{{ render(vars.b) }}", "b": "{{ render(vars.a) }}"}), "nested");
}

#[test]
fn render_fan_out_is_bounded() {
    let twice = "{{ render(vars.b) ~ render(vars.b) ~ render(vars.b) ~ render(vars.b) }}";
    let vars = json!({"a": twice.replace(".b", ".c"), "c": twice.replace(".b", ".d"), "d": twice.replace(".b", ".e"),
        "e": twice.replace(".b", ".f"), "f": twice.replace(".b", ".g"), "g": twice.replace(".b", ".h"), "h": "x"});
    fails_with("{{ render(vars.a) }}", vars, "more than 1000 times");
}

#[test]
fn legitimate_nesting_still_renders() {
    let vars = json!({"a": "{{ render(vars.b) }}!", "b": "{{ render(vars.c) }}?", "c": "ok"});
    assert_eq!(render("{{ render(vars.a) }}", vars).unwrap(), "ok?!");
}

#[test]
fn huge_loops_run_out_of_fuel() {
    let t = "{% for i in range(0, 99999) %}{% for j in range(0, 99999) %}x{% endfor %}{% endfor %}";
    fails_with(t, json!({}), "operations");
}

#[test]
fn huge_strings_are_refused() {
    let edges =
        "{{ range(-9223372036854775808, 9223372036854775807) }}{{ range(9223372036854775806, 9223372036854775807) }}";
    assert!(render(edges, json!({})).is_err());
    for t in ["{{ 'x' * 9999999999 }}", "{{ range(1, 999999999) | join(',') }}"] {
        if let Ok(s) = render(t, json!({})) {
            panic!("{t} rendered {} chars", s.len());
        }
    }
}

#[test]
fn deeply_nested_expressions_fail_cleanly() {
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
    assert!(render(&deep, json!({})).is_err());
    let lists = format!("{{{{ {}1{} }}}}", "[".repeat(5000), "]".repeat(5000));
    assert!(render(&lists, json!({})).is_err());
}

#[test]
fn long_chains_fail_cleanly_or_render() {
    // the longest chain allowed renders; a longer one is refused before any recursion
    let ok = format!("{{{{ {}1 }}}}", "1 + ".repeat(30));
    assert_eq!(render(&ok, json!({})).unwrap(), "31");
    fails_with(&format!("{{{{ {}1 }}}}", "1 + ".repeat(400)), json!({}), "operations deep");
    let long = format!("{{{{ {}1 }}}}", "1 + ".repeat(5000));
    fails_with(&long, json!({}), "longer than 1000 tokens");
    let nots = format!("{{{{ {}true }}}}", "not ".repeat(900));
    fails_with(&nots, json!({}), "nested more than");
    let filters = format!("{{{{ 'a'{} }}}}", " | upper".repeat(490));
    let _ = render(&filters, json!({}));
}

#[test]
fn every_shape_at_the_depth_bound_renders_or_fails_without_overflow() {
    // the tree depth bound (40) must hold on a 2 MiB test thread in a debug build
    let n = 38;
    let shapes = [
        format!("{{{{ {}1 }}}}", "1 ~ ".repeat(900)),
        format!("{{{{ {}1 }}}}", "1 + ".repeat(n)),
        format!("{{{{ {}true }}}}", "true and ".repeat(n)),
        format!("{{{{ {}true }}}}", "false or ".repeat(n)),
        format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n)),
        format!("{{{{ {}1{} }}}}", "[".repeat(n), "]".repeat(n)),
        format!("{{{{ 'a'{} }}}}", " | upper".repeat(n)),
        format!("{{{{ vars{} }}}}", ".a".repeat(n)),
        format!("{{{{ {}1{} }}}}", "max(".repeat(n), ", 2)".repeat(n)),
        format!("{{{{ {}1 }}}}", "1 ?? ".repeat(900)),
        format!("{{{{ {}1 }}}}", "1 ?? 2 ~ ".repeat(n / 2)),
        format!("{{{{ {}1 }}}}", "true ? 1 : ".repeat(n)),
        format!("{{{{ {}'x' }}}}", "'x' if false else ".repeat(n)),
    ];
    for t in shapes {
        eprintln!("SHAPE {}", &t[..40.min(t.len())]);
        let _ = render(&t, json!({"a": {}}));
    }
    assert_eq!(render(&format!("{{{{ {}1 }}}}", "1 ~ ".repeat(400)), json!({})).unwrap(), "1".repeat(401));
}

fn fails_on_output_bound(t: &str, vars: Value) {
    fails_with(t, vars, "MAX_RENDER_BYTES");
}

#[test]
fn output_and_intermediate_strings_are_bounded_in_bytes() {
    // the issue's one-liner: a 14 GB join refused before it is built
    fails_on_output_bound("{{ range(0, 50000) | join(range(0, 50000) | join(',')) | length }}", json!({}));
    let big = "y".repeat(1 << 20);
    // raw text in a nested loop: 400 MB of output
    let raw = "x".repeat(400);
    fails_on_output_bound(
        &format!("{{% for i in range(0, 99999) %}}{{% for j in range(0, 10) %}}{raw}{{% endfor %}}{{% endfor %}}"),
        json!({}),
    );
    // emissions captured by a block `set`, never written out
    fails_on_output_bound(
        "{% set s %}{% for i in range(0, 100) %}{{ vars.big }}{% endfor %}{% endset %}{{ s | length }}",
        json!({"big": big}),
    );
    fails_on_output_bound("{{ vars.big | replace('y', vars.big) | length }}", json!({"big": "y".repeat(8192)}));
    fails_on_output_bound("{{ vars.big | replace({'y': vars.big}) | length }}", json!({"big": "y".repeat(8192)}));
    fails_on_output_bound("{{ 'a' | indent(99999999999) }}", json!({}));
    fails_on_output_bound(
        "{{ render(vars.r) | length }}",
        json!({"r": format!("{{% for i in range(0, 99999) %}}{raw}{{% endfor %}}")}),
    );
    // doubling through `~` in a recursive macro
    let doubling = "{% macro d(s, n) %}{% if n == 0 %}{{ s | length }}{% else %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ d('x', 40) }}";
    fails_on_output_bound(doubling, json!({}));
    // just under the bound renders
    let ok = render("{{ vars.big ~ vars.big }}", json!({"big": big})).unwrap();
    assert_eq!(ok.len(), 2 << 20);
}
