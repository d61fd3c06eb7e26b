//! Validation of plugin properties as the registry declares them: every
//! name a hint proposes validates, refused properties are named at their
//! position.

use crate::plugins::Registry;

/// The AI tasks' memory, guardrails and observability, which Baton does not
/// carry out, are refused naming the property, the type and the line.
#[test]
fn what_baton_does_not_carry_out_is_refused_by_name_and_position() {
    // validation: the property, the type and the line of the written value
    let src = "id: f\nnamespace: company.team\ntasks:\n  - id: ask\n    type: io.kestra.plugin.ai.completion.ChatCompletion\n    messages:\n      - type: USER\n        content: hi\n    provider:\n      type: io.kestra.plugin.ai.provider.OpenAI\n      apiKey: k\n      modelName: m\n    guardrails:\n      input: []\n";
    let registry = Registry::builtin();
    let (_, d) = super::validate_source("f.yaml", src, &registry, &crate::template::Renderer::new());
    let d: Vec<String> = d.iter().map(ToString::to_string).collect();
    assert!(
        d.iter().any(|m| m.starts_with("f.yaml:13:5:") && m.contains("guardrails") && m.contains("refuses it")),
        "{d:?}"
    );
}

/// Every name a "did you mean" hint may propose validates when used
/// with its required properties (a hint never names a type Baton then
/// rejects), and the legacy Echo is proposed as the current one.
#[test]
fn suggested_names_all_validate() {
    let r = Registry::builtin();
    let renderer = crate::template::Renderer::new();
    for name in r.canonical_names() {
        let def = r.get(name).unwrap();
        let mut task = format!("  - id: t\n    type: {name}\n");
        for p in def.props.iter().filter(|p| p.required) {
            task.push_str(&format!("    {}: \"{{{{ inputs.x }}}}\"\n", p.name));
        }
        let src = format!("id: f\nnamespace: company.team\ninputs:\n  - id: x\n    type: STRING\ntasks:\n{task}");
        let (_, d) = super::validate_source("f.yaml", &src, &r, &renderer);
        let bad: Vec<String> = d
            .iter()
            .map(|d| d.message.clone())
            .filter(|m| m.contains("unknown task type") || m.contains("property"))
            // a property Kestra types as an object or a list of objects (no
            // `Property<…>`: CustomJob's `spec`, MultimodalCompletion's
            // `contents`) takes no template, and says so
            .filter(|m| !m.contains("expected an object, found \"{{") && !m.contains("expected a list of {"))
            .collect();
        assert!(bad.is_empty(), "{name}: {bad:?}");
    }
    let src = "id: f\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Ecko\n";
    let (_, d) = super::validate_source("f.yaml", src, &r, &renderer);
    assert!(d[0].message.contains("did you mean io.kestra.plugin.core.debug.Echo?"), "{:?}", d[0].message);
}
