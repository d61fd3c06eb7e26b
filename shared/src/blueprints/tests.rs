//! Every blueprint validates (so none can rot), and the catalogue's search
//! and shapes.

use super::*;
use crate::plugins::Registry;
use crate::template::Renderer;

#[test]
fn every_blueprint_is_a_valid_flow() {
    let registry = Registry::builtin();
    let renderer = Renderer::new();
    assert!(ALL.len() >= 10, "at least 10 blueprints, got {}", ALL.len());
    for b in ALL {
        let (flow, diags) = crate::validate::validate_source(b.id, b.source, &registry, &renderer);
        let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
        // a build without the Google Cloud family refuses those blueprints,
        // naming the feature to build with
        if !cfg!(feature = "gcp") && b.source.contains("io.kestra.plugin.gcp.") {
            assert!(text.iter().any(|t| t.contains("--features gcp")), "blueprint {}: {text:?}", b.id);
            continue;
        }
        assert!(text.is_empty(), "blueprint {} does not validate:\n{}", b.id, text.join("\n"));
        assert!(flow.is_some(), "{}", b.id);
    }
}

#[test]
fn ids_are_unique_and_every_tag_is_known() {
    for (i, b) in ALL.iter().enumerate() {
        assert!(ALL[..i].iter().all(|o| o.id != b.id), "duplicate blueprint id {}", b.id);
        assert!(!b.title.is_empty() && !b.description.is_empty() && !b.tags.is_empty(), "{}", b.id);
        for t in b.tags {
            assert!(tag_name(t).is_some(), "blueprint {} has unknown tag {t}", b.id);
        }
    }
    for (id, _) in TAGS {
        assert!(ALL.iter().any(|b| b.tags.contains(id)), "tag {id} is on no blueprint");
    }
}

#[test]
fn search_matches_text_task_types_and_all_tags() {
    assert_eq!(search(None, &[]).len(), ALL.len());
    let ids = |v: Vec<&Blueprint>| v.iter().map(|b| b.id).collect::<Vec<_>>();
    assert_eq!(ids(search(Some("WEBHOOK"), &["trigger"])), ["webhook"]);
    assert!(ids(search(Some("DbtCLI"), &[])).contains(&"dbt-build"));
    assert_eq!(ids(search(None, &["zoomcamp", "postgres"])), ["zoomcamp-postgres-taxi"]);
    assert!(search(Some("no such thing"), &[]).is_empty());
}

#[test]
fn included_tasks_are_plugin_types_once_each() {
    let b = find("zoomcamp-postgres-taxi").expect("blueprint");
    let t = included_tasks(b);
    assert!(t.contains(&"io.kestra.plugin.jdbc.postgresql.CopyIn".to_string()), "{t:?}");
    // the pluginDefaults prefix is not a type
    assert!(!t.contains(&"io.kestra.plugin.jdbc.postgresql".to_string()), "{t:?}");
    assert_eq!(t.iter().filter(|x| x.ends_with("postgresql.Queries")).count(), 1);
    let v = item_with_source_json(b);
    assert_eq!(v["kind"], "FLOW");
    assert_eq!(v["source"], b.source);
    assert_eq!(tags_json(&[b]).len(), b.tags.len());
}
