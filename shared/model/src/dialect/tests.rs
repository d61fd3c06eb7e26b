use super::*;

fn info(yaml: &str) -> DialectInfo {
    let (root, _) = crate::yaml::parse(yaml).expect("yaml");
    DialectInfo::of(&root)
}

const NEUTRAL: &str =
    "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

#[test]
fn a_flow_using_neither_dialect_is_1x_by_default_and_follows_the_server() {
    let i = info(NEUTRAL);
    assert!(i.markers.is_empty());
    let r = i.resolve(Policy::AUTO);
    assert_eq!((r.dialect, r.basis), (Dialect::V1, Basis::Default));
    let r = i.resolve(Policy::parse("2").unwrap());
    assert_eq!((r.dialect, r.basis), (Dialect::V2, Basis::Server));
}

#[test]
fn a_2_0_construct_makes_the_flow_2_0_and_says_where() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.flow.Loop\n    values: [1]\n    tasks: []\n";
    let r = info(y).resolve(Policy::AUTO);
    assert_eq!((r.dialect, r.basis), (Dialect::V2, Basis::Detected));
    assert!(r.reason.contains("tasks[0].type"), "{}", r.reason);
    let y = "id: f\nnamespace: n\ntasks: []\ntriggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: '0 9 * * *'\n    when: \"{{ not isWeekend(trigger.date) }}\"\n";
    let i = info(y);
    assert_eq!(i.resolve(Policy::AUTO).dialect, Dialect::V2);
    assert!(i.markers.iter().all(|m| m.dialect == Dialect::V2));
}

#[test]
fn a_1x_construct_makes_the_flow_1x() {
    let y = "id: f\nnamespace: n\npluginDefaults:\n  - type: io.kestra.plugin.core.log.Log\n    values: {level: WARN}\ntasks:\n  - id: e\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [1]\n    tasks: []\n";
    let i = info(y);
    let r = i.resolve(Policy::AUTO);
    assert_eq!((r.dialect, r.basis), (Dialect::V1, Basis::Detected));
    let paths: Vec<&str> = i.markers.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(paths, ["pluginDefaults", "tasks[0].type"]);
    assert_eq!(i.conflicts(Dialect::V1).count(), 0);
    // forced to 2.0, both are errors naming their replacement
    let forced = i.resolve(Policy::parse("2").unwrap());
    let msgs: Vec<String> = i.conflicts(forced.dialect).map(|m| conflict_message(m, &forced)).collect();
    assert_eq!(msgs.len(), 2);
    assert!(msgs[1].contains("io.kestra.plugin.core.flow.Loop"), "{}", msgs[1]);
}

#[test]
fn a_mixed_flow_is_2_0_and_its_1x_constructs_conflict() {
    let y = "id: f\nnamespace: n\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.x | json }}\"\ntriggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: '0 9 * * *'\n    when: \"{{ true }}\"\n";
    let i = info(y);
    let r = i.resolve(Policy::AUTO);
    assert_eq!(r.dialect, Dialect::V2);
    let c: Vec<&Marker> = i.conflicts(Dialect::V2).collect();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].path, "tasks[0].format");
    assert!(conflict_message(c[0], &r).contains("toJson"));
}

#[test]
fn the_label_wins_over_constructs_and_server() {
    let y = "id: f\nnamespace: n\nlabels:\n  baton.dialect: \"1\"\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.flow.Loop\n";
    let i = info(y);
    let r = i.resolve(Policy::parse("2").unwrap());
    assert_eq!((r.dialect, r.basis), (Dialect::V1, Basis::Label));
    let c: Vec<&Marker> = i.conflicts(r.dialect).collect();
    assert_eq!(c.len(), 1);
    assert!(conflict_message(c[0], &r).contains("ForEach"));
    let y = "id: f\nnamespace: n\nlabels:\n  - key: baton.dialect\n    value: '2.0'\ntasks: []\n";
    assert_eq!(info(y).label, Some(Dialect::V2));
    let y = "id: f\nnamespace: n\nlabels:\n  baton.dialect: three\ntasks: []\n";
    let i = info(y);
    assert_eq!(i.label, None);
    assert_eq!(i.label_error.as_ref().map(|(p, _)| p.as_str()), Some("labels.baton.dialect"));
}

#[test]
fn template_and_state_markers() {
    let cases = [
        ("\"{{ json(outputs.r.body).a }}\"", Dialect::V1),
        ("\"{{ read('f.sql', version=3) }}\"", Dialect::V1),
        ("\"{{ read('f.sql', revision=3) }}\"", Dialect::V2),
        ("\"{{ loopOutputs('l') }}\"", Dialect::V2),
        ("\"{{ schedule.date }}\"", Dialect::V1),
        // each marker's pattern is reached past its plain-word search
        ("\"{{ x | json }}\"", Dialect::V1),
        ("\"{{ subflow('ns', 'f') }}\"", Dialect::V2),
        ("\"{{ isWeekend(trigger.date) }}\"", Dialect::V2),
        ("\"{{ hourOfDay (now()) }}\"", Dialect::V2),
    ];
    for (expr, d) in cases {
        let y = format!(
            "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: {expr}\n"
        );
        let i = info(&y);
        assert_eq!(i.markers.len(), 1, "{expr}");
        assert_eq!(i.markers[0].dialect, d, "{expr}");
    }
    for expr in [
        "\"{{ fromJson(x) | toJson }}\"",
        "\"{% if x is json %}y{% endif %}\"",
        "\"{{ outputs.jsonpath }}\"",
        // plain text around an expression is not one
        "\"python schedule.py {{ trigger.date ?? execution.startDate }}\"",
        "\"see json(x) and read(f, version=1) {{ inputs.a }}\"",
    ] {
        let y = format!(
            "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: {expr}\n"
        );
        assert!(info(&y).markers.is_empty(), "{expr}");
    }
    let y = "id: f\nnamespace: n\ntasks: []\ntriggers:\n  - id: t\n    type: io.kestra.plugin.core.trigger.Flow\n    states: [SUCCESS, CANCELED]\n";
    let i = info(y);
    assert_eq!(i.markers[0].path, "triggers[0].states[1]");
    assert_eq!(i.markers[0].replacement, "use CANCELLED");
}

#[test]
fn input_markers() {
    let y = "id: f\nnamespace: n\ninputs:\n  - id: s\n    type: SELECT\n    values:\n      - {label: A, value: a}\n  - id: j\n    type: JSON\n    jsonSchema: {type: object}\n  - id: o\n    type: STRING\n    required: false\n    defaults: x\ntasks: []\n";
    let i = info(y);
    let got: Vec<(&str, Dialect)> = i.markers.iter().map(|m| (m.path.as_str(), m.dialect)).collect();
    assert_eq!(
        got,
        [
            ("inputs[0].values[0]", Dialect::V2),
            ("inputs[1].jsonSchema", Dialect::V2),
            ("inputs[2].required", Dialect::V1)
        ]
    );
}

#[test]
fn a_schedule_missing_a_required_input_is_1x_only() {
    let y = "id: f\nnamespace: n\ninputs:\n  - id: day\n    type: STRING\ntasks: []\ntriggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: '@daily'\n";
    let i = info(y);
    assert_eq!(i.markers.len(), 1);
    assert_eq!((i.markers[0].path.as_str(), i.markers[0].dialect), ("triggers[0]", Dialect::V1));
    let y = y.replace("'@daily'\n", "'@daily'\n    inputs: {day: mon}\n");
    assert!(info(&y).markers.is_empty());
}

#[test]
fn dialect_names_parse() {
    for (s, d) in
        [("1", Dialect::V1), ("1.x", Dialect::V1), ("v1", Dialect::V1), ("2", Dialect::V2), ("2.0", Dialect::V2)]
    {
        assert_eq!(s.parse::<Dialect>(), Ok(d));
    }
    assert!("3".parse::<Dialect>().is_err());
    assert_eq!(Policy::parse("auto"), Ok(Policy::AUTO));
}

#[test]
fn label_value_options_read_as_their_values() {
    let y = "id: f\nnamespace: n\ninputs:\n  - id: s\n    type: SELECT\n    values:\n      - {label: North, value: n}\n      - s\n    defaults: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let (root, _) = crate::yaml::parse(y).expect("yaml");
    let (flow, problems) = crate::Flow::from_value(&root, y);
    assert!(problems.is_empty(), "{problems:?}");
    let flow = flow.expect("flow");
    assert_eq!(flow.inputs[0].values.as_deref(), Some(&["n".to_string(), "s".to_string()][..]));
    assert_eq!(flow.dialect.resolve(Policy::AUTO).dialect, Dialect::V2);
    let bad = y.replace("{label: North, value: n}", "{label: North, colour: red}");
    let (root, _) = crate::yaml::parse(&bad).expect("yaml");
    let (_, problems) = crate::Flow::from_value(&root, &bad);
    assert!(problems.iter().any(|p| p.message.contains("unknown option key 'colour'")), "{problems:?}");
}

#[test]
fn a_check_when_is_its_condition_in_2_0() {
    let y = "id: f\nnamespace: n\ninputs:\n  - id: env\n    type: STRING\n    defaults: dev\nchecks:\n  - when: \"{{ inputs.env == 'production' }}\"\n    message: production only\n    behavior: FAIL_EXECUTION\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let (root, _) = crate::yaml::parse(y).expect("yaml");
    let (flow, problems) = crate::Flow::from_value(&root, y);
    assert!(problems.is_empty(), "{problems:?}");
    let flow = flow.expect("flow");
    assert_eq!(flow.checks.len(), 1);
    assert_eq!(flow.checks[0].condition, "{{ inputs.env == 'production' }}");
    let r = flow.dialect.resolve(Policy::AUTO);
    assert_eq!(r.dialect, Dialect::V2);
    assert!(r.reason.contains("checks[0].when"), "{}", r.reason);
    // 1.x's `condition` is 2.0's alias: neutral; both at once is an error, neither too
    let old = y.replace("  - when:", "  - condition:");
    let (root, _) = crate::yaml::parse(&old).expect("yaml");
    let (flow, problems) = crate::Flow::from_value(&root, &old);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(flow.expect("flow").checks[0].condition, "{{ inputs.env == 'production' }}");
    let both = y.replace("    message: production only", "    condition: \"{{ true }}\"\n    message: production only");
    let (root, _) = crate::yaml::parse(&both).expect("yaml");
    let (_, problems) = crate::Flow::from_value(&root, &both);
    assert!(problems.iter().any(|p| p.path == "checks[0].condition" && p.message.contains("not both")), "{problems:?}");
    let neither = y.replace("  - when: \"{{ inputs.env == 'production' }}\"\n    message:", "  - message:");
    let (root, _) = crate::yaml::parse(&neither).expect("yaml");
    let (_, problems) = crate::Flow::from_value(&root, &neither);
    assert!(problems.iter().any(|p| p.message.contains("missing required property 'when'")), "{problems:?}");
}

#[test]
fn exit_state_spelling_names_its_dialect() {
    let exit = |s: &str| {
        format!(
            "id: f\nnamespace: n\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.execution.Exit\n    state: {s}\n"
        )
    };
    let i = info(&exit("CANCELLED"));
    assert_eq!((i.markers[0].path.as_str(), i.markers[0].dialect), ("tasks[0].state", Dialect::V2));
    assert_eq!(i.markers[0].replacement, "use CANCELED");
    let i = info(&exit("CANCELED"));
    assert_eq!((i.markers[0].path.as_str(), i.markers[0].dialect), ("tasks[0].state", Dialect::V1));
    assert!(info(&exit("KILLED")).markers.is_empty());
}
