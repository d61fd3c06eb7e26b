//! The pages of a Kestra-like UI in a real browser (tests/ui/pages.mjs,
//! driven as [`crate::ui`]): the home dashboard (charts, failures, light
//! and dark themes), a flow's revisions with a side-by-side diff and
//! restore, its dependencies, its own Executions and Triggers tabs, disable
//! / enable / delete, the banner of a flow broken on disk, layouts that
//! hold with an 80-character namespace at 1440 px, sortable executions
//! with bulk kill / delete / replay, the topology's zoom and fit on the
//! zoomcamp taxi flow, its vertical layout and the live topology beside
//! the editor, the Namespaces page (KV, editable namespace
//! files, secret names), the Blueprints page (tags, search, Use), the
//! Plugins page (groups, search, a type's documentation), the flows
//! list's last executions and filters, a
//! brand-new broken file in the flow list, and the README's gallery of the
//! main pages in both themes. Each test then checks the API agrees.

use std::path::Path;

use serde_json::Value;

use crate::sched_support::api_server;
use crate::ui::{drive, shots};

const NS: &str = "ui.pages";

fn flow(id: &str, body: &str) -> String {
    format!("id: {id}\nnamespace: {NS}\n{body}")
}

const LOG: &str = "tasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ flow.id }}\"\n";

fn flows() -> Vec<(String, String)> {
    let long_ns = format!("ui.pages.{}", "x".repeat(80 - 9));
    vec![
        ("child.yml".into(), flow("child", LOG)),
        (
            "parent.yml".into(),
            flow(
                "parent",
                "tasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: ui.pages\n    flowId: child\n",
            ),
        ),
        (
            "after.yml".into(),
            flow(
                "after",
                &format!(
                    "{LOG}triggers:\n  - id: on_child\n    type: io.kestra.plugin.core.trigger.Flow\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionFlow\n        namespace: ui.pages\n        flowId: child\n"
                ),
            ),
        ),
        (
            "failing.yml".into(),
            flow(
                "failing",
                "tasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: boom\n",
            ),
        ),
        (
            "slow.yml".into(),
            flow("slow", "tasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT30S\n"),
        ),
        (
            "sched.yml".into(),
            flow(
                "sched",
                &format!(
                    "{LOG}triggers:\n  - id: nightly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 3 * * *\"\n"
                ),
            ),
        ),
        ("long.yml".into(), format!("id: a_flow_with_a_rather_long_identifier\nnamespace: {long_ns}\n{LOG}")),
        (
            "taxi.yml".into(),
            std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/flows/valid/02_taxi_scheduled.yaml"),
            )
            .expect("the zoomcamp taxi flow"),
        ),
        (
            "postgres_taxi.yml".into(),
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/postgres_taxi.yaml"))
                .expect("the examples' zoomcamp taxi flow"),
        ),
    ]
}

/// Runs `scenario` against a local server with [`flows`]; `before` may
/// change the flows folder once the server runs. Returns the server's URL
/// checks through `check`.
async fn run(scenario: &str, before: impl FnOnce(&Path), check: impl AsyncFnOnce(&Api)) {
    let owned = flows();
    let refs: Vec<(&str, &str)> = owned.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (server, home) = api_server("ui-pages", &refs, None).await;
    before(&home.join("flows"));
    drive(&server.url(), scenario, &shots(&home)).await;
    check(&Api(server.url())).await;
    server.shutdown().await;
}

struct Api(String);

impl Api {
    async fn get(&self, path: &str) -> (u16, Value) {
        let r = reqwest::get(format!("{}/api/v1{path}", self.0)).await.expect("GET");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revisions_tab_diffs_two_revisions_side_by_side_and_restores_one() {
    run(
        "revisions",
        |_| {},
        async |api| {
            let (_, revs) = api.get("/flows/ui.pages/child/revisions").await;
            let revs = revs.as_array().expect("revisions");
            assert_eq!(revs.len(), 3, "the file's, the edit, the restore: {revs:?}");
            assert_eq!(revs[2]["source"], revs[0]["source"], "the restore saved revision 1's source as revision 3");
            let (_, one) = api.get("/flows/ui.pages/child?revision=2&source=true").await;
            assert!(one["source"].as_str().is_some_and(|s| s.contains("edited in revision 2")), "{one}");
            let (status, _) = api.get("/flows/ui.pages/child?revision=9").await;
            assert_eq!(status, 404);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_tab_shows_the_calling_flow_and_the_flow_it_triggers() {
    run(
        "dependencies",
        |_| {},
        async |api| {
            let (_, g) = api.get("/flows/ui.pages/child/dependencies").await;
            let mut edges: Vec<(String, String, String)> = g["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| (e["source"].to_string(), e["target"].to_string(), e["relation"].to_string()))
                .collect();
            edges.sort();
            assert_eq!(
                edges,
                [
                    ("\"main_ui.pages_child\"".into(), "\"main_ui.pages_after\"".into(), "\"FLOW_TRIGGER\"".into()),
                    ("\"main_ui.pages_parent\"".into(), "\"main_ui.pages_child\"".into(), "\"FLOW_TASK\"".into()),
                ]
            );
            let (_, only) = api.get("/flows/ui.pages/child/dependencies?destinationOnly=true").await;
            assert_eq!(only["edges"].as_array().map(Vec::len), Some(1), "{only}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_page_charts_executions_by_state_and_lists_failures_in_both_themes() {
    run(
        "home",
        |_| {},
        async |api| {
            let (_, days) = api.get("/stats/executions/daily?days=7").await;
            let today = days.as_array().and_then(|d| d.last()).expect("today");
            assert!(today["executionCounts"]["FAILED"].as_u64() >= Some(1), "{today}");
            assert!(today["executionCounts"]["SUCCESS"].as_u64() >= Some(2), "{today}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_sort_by_column_and_bulk_kill_delete_and_replay_the_selection() {
    run(
        "bulk",
        |_| {},
        async |api| {
            let (_, killed) = api.get("/executions/search?flowId=slow&state=KILLED").await;
            assert_eq!(killed["total"], 1, "{killed}");
            let (_, child) = api.get("/executions/search?flowId=child&size=50").await;
            let replays = child["results"]
                .as_array()
                .expect("results")
                .iter()
                .filter(|e| e["labels"].as_array().is_some_and(|l| l.iter().any(|l| l["key"] == "system.replay")))
                .count();
            assert_eq!(replays, 1, "one replay of the kept execution: {child}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_page_tabs_are_the_flow_s_own_and_it_disables_enables_and_deletes_it() {
    run(
        "flowpage",
        |_| {},
        async |api| {
            let (status, _) = api.get("/flows/ui.pages/parent").await;
            assert_eq!(status, 404, "deleted from its page");
            let (_, sched) = api.get("/flows/ui.pages/sched").await;
            assert_eq!(sched["disabled"], false, "disabled then enabled again: {sched}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_broken_on_disk_shows_a_banner_over_its_last_valid_version() {
    run(
        "broken",
        |dir| {
            // a second later the poller sees a new modification time
            std::thread::sleep(std::time::Duration::from_millis(1100));
            std::fs::write(
                dir.join("child.yml"),
                "id: child\nnamespace: ui.pages\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Nope\n",
            )
            .expect("break the file");
        },
        async |api| {
            let (_, f) = api.get("/flows/ui.pages/child").await;
            assert!(f["exception"].as_str().is_some_and(|e| e.contains("child.yml") && e.contains("Nope")), "{f}");
            assert!(
                f["tasks"][0]["type"].as_str().is_some_and(|t| t.ends_with("log.Log")),
                "the last valid version is served"
            );
        },
    )
    .await;
}

/// The examples' taxi flow is drawn top to bottom (taller than wide, at
/// 100 % in 1280 px), every task there, its If blocks as boxes, the toggle
/// lays it left to right; the live topology beside the editor keeps the
/// last good graph on an invalid text and draws a task added to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_taxi_flow_is_drawn_top_to_bottom_and_the_editor_draws_it_live() {
    run(
        "taxi-topology",
        |_| {},
        async |api| {
            let (status, graph) = api.get("/flows/zoomcamp/02_postgres_taxi/graph").await;
            assert_eq!(status, 200, "{graph}");
            // the page's edit was never saved
            let (_, flow) = api.get("/flows/zoomcamp/02_postgres_taxi").await;
            assert!(!flow.to_string().contains("brand_new"), "{flow}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_fits_the_zoomcamp_taxi_flow_in_its_panel_and_zooms() {
    run("zoom", |_| {}, async |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_page_edits_kv_and_namespace_files_and_lists_secret_names() {
    run(
        "namespaces",
        |_| {},
        async |api| {
            let (_, kv) = api.get("/namespaces/ui.pages/kv/GREETING").await;
            assert_eq!(kv["value"], "edited", "{kv}");
            let r = reqwest::get(format!("{}/api/v1/namespaces/ui.pages/files?path=models/stg.sql", api.0))
                .await
                .expect("GET");
            assert_eq!(r.status(), 404, "the file was deleted at the end");
            let (_, secrets) = api.get("/namespaces/ui.pages/secrets").await;
            assert!(secrets["results"].as_array().is_some(), "{secrets}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blueprints_page_filters_by_tag_and_text_and_use_creates_the_flow() {
    run(
        "blueprints",
        |_| {},
        async |api| {
            let (status, f) = api.get("/flows/company.team/hello_world").await;
            assert_eq!(status, 200, "the blueprint was saved as a flow: {f}");
            let (_, list) = api.get("/blueprints/community/flow?size=100").await;
            assert!(list["total"].as_u64() >= Some(10), "{list}");
            let (status, _) = api.get("/blueprints/community/flow/nope").await;
            assert_eq!(status, 404);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brand_new_flow_file_broken_on_disk_is_listed_with_its_error() {
    run(
        "brokennew",
        |dir| {
            std::fs::write(
                dir.join("brand_new.yml"),
                "id: brand_new\nnamespace: ui.pages\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Nope\n",
            )
            .expect("write a broken file");
        },
        async |api| {
            let (_, broken) = api.get("/flow-files/broken").await;
            let list = broken.as_array().expect("a list");
            assert_eq!(list.len(), 1, "{broken}");
            assert!(list[0]["path"].as_str().is_some_and(|p| p.ends_with("brand_new.yml")), "{broken}");
            assert!(list[0]["message"].as_str().is_some_and(|m| m.contains("Nope")), "{broken}");
            let (status, _) = api.get("/flows/ui.pages/brand_new").await;
            assert_eq!(status, 404, "no flow comes from it");
        },
    )
    .await;
}

/// The README's screenshots of the main pages in both themes
/// (`BATON_UI_SCREENSHOTS=1` writes them to docs/screenshots).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gallery_of_the_main_pages_in_light_and_dark() {
    run("gallery", |_| {}, async |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_opened_while_the_previous_loads_is_the_only_one_shown() {
    run("race", |_| {}, async |_| {}).await;
}

/// The Plugins page lists every type by group, searches, shows a type's
/// documentation with its required properties marked (ForEach's `values`),
/// and opens on Kestra's path by an alias.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_page_lists_searches_and_documents_each_type() {
    run(
        "plugins",
        |_| {},
        async |api| {
            let (status, doc) = api.get("/plugins/io.kestra.plugin.core.flow.ForEach").await;
            assert_eq!(status, 200, "{doc}");
            assert_eq!(doc["schema"]["properties"]["values"]["$required"], serde_json::json!(true), "{doc}");
        },
    )
    .await;
}

/// The flows list shows each flow's last execution (its state, linked),
/// searches and filters by namespace with its children, in the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_list_shows_last_executions_and_filters_by_text_and_namespace() {
    run(
        "flowslist",
        |_| {},
        async |api| {
            let (status, page) = api.get("/executions/search?namespace=ui.pages&flowId=failing").await;
            assert_eq!(status, 200);
            assert_eq!(page["total"], 1, "{page}");
        },
    )
    .await;
}
