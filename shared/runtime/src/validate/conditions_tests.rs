//! Validation of flows whose triggers carry conditions: problems located
//! at their file:line:column, and Kestra's corpus flows with conditions.

use crate::template::Renderer;

fn validate(src: &str) -> Vec<String> {
    let (_, d) =
        crate::validate::validate_source("f.yaml", src, &crate::plugins::Registry::builtin(), &Renderer::new());
    d.iter().map(|d| d.to_string()).collect()
}

#[test]
fn validation_locates_condition_problems() {
    let src = "id: f\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 11 * * *\"\n    conditions:\n      - type: io.kestra.plugin.core.condition.DayWeekInMonth\n        dayOfWeek: MONDAY\n        dayInMonth: FIFTH\n      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in: [SUCCESS]\n";
    let d = validate(src);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].starts_with("f.yaml:14:") && d[0].contains("dayInMonth") && d[0].contains("FIFTH"), "{d:?}");
    let misused = validate(&src.replace("FIFTH", "FIRST"));
    assert_eq!(misused.len(), 1, "{misused:?}");
    assert!(misused[0].starts_with("f.yaml:15:") && misused[0].contains("ExecutionStatus"), "{misused:?}");
    let ok = src
        .replace("FIFTH", "FIRST")
        .replace("      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in: [SUCCESS]\n", "");
    assert!(validate(&ok).is_empty(), "{:?}", validate(&ok));
}

/// A polling trigger takes Kestra's date and expression conditions (tested
/// before each poll); an execution condition is an error at its place.
#[test]
fn polling_triggers_take_conditions_but_no_execution_condition() {
    let src = "id: f\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: h\n    type: io.kestra.plugin.core.http.Trigger\n    uri: http://example.com\n    conditions:\n      - type: io.kestra.plugin.core.condition.DayWeek\n        dayOfWeek: MONDAY\n      - type: io.kestra.plugin.core.condition.Not\n        conditions:\n          - type: io.kestra.plugin.core.condition.Weekend\n      - type: io.kestra.plugin.core.condition.Expression\n        expression: \"{{ flow.id == 'f' }}\"\n";
    assert!(validate(src).is_empty(), "{:?}", validate(src));
    let misused = validate(&format!(
        "{src}      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in: [SUCCESS]\n"
    ));
    assert_eq!(misused.len(), 1, "{misused:?}");
    assert!(
        misused[0].starts_with("f.yaml:19:")
            && misused[0].contains("ExecutionStatus")
            && misused[0].contains("polling"),
        "{misused:?}"
    );
    let jdbc = src.replace(
        "type: io.kestra.plugin.core.http.Trigger\n    uri: http://example.com",
        "type: io.kestra.plugin.jdbc.sqlite.Trigger\n    url: jdbc:sqlite:x.db\n    sql: select 1",
    );
    assert!(validate(&jdbc).is_empty(), "{:?}", validate(&jdbc));
}

#[test]
fn kestra_corpus_flows_with_conditions_validate() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/kestra-corpus/valids");
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut seen = 0;
    for entry in entries.flatten() {
        let src = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if !src.contains("conditions:") || !src.contains("triggers:") {
            continue;
        }
        seen += 1;
        let name = entry.file_name().to_string_lossy().to_string();
        let d: Vec<String> = validate(&src).into_iter().filter(|d| d.contains("condition")).collect();
        assert!(d.is_empty(), "{name}: {d:?}");
    }
    assert!(seen >= 5, "the corpus flows with conditions were found ({seen})");
}
