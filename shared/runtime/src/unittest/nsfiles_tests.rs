//! Namespace files in flow tests: cases run side by side each see their
//! own `fixtures.namespaceFiles` and no other's, their own KV entries and
//! no other's, and a recording run
//! notes the namespace files the flow read from the user's home — only
//! those, within the bounds — so the recorded case runs without that home.

use std::sync::Arc;
use std::time::Duration;

use super::nsfiles::ReadThrough;
use super::record::record_case;
use super::run::CaseState;
use super::*;
use crate::backend::Storage;
use crate::backend::local::FsStorage;
use crate::backend::nsfiles::namespace_files;
use crate::model::StateType;
use crate::runtime::embedded::{Embedded, LocalOptions};

const FLOW: &str = "id: reader\nnamespace: company.team\ntasks:\n  - id: greet\n    \
                    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ read('data/greeting.txt') }}\"\n";

const BIG_FLOW: &str = "id: big_reader\nnamespace: company.team\ntasks:\n  - id: size\n    \
                        type: io.kestra.plugin.core.debug.Return\n    format: \"{{ read('big.txt') | length }}\"\n";

fn case(id: &str, greeting: Option<&str>, expected: &str) -> String {
    let files = greeting
        .map(|g| format!("    fixtures:\n      namespaceFiles:\n        data/greeting.txt: {g}\n"))
        .unwrap_or_default();
    format!(
        "  - id: {id}\n    type: io.kestra.core.tests.flow.UnitTest\n{files}    assertions:\n      \
         - value: \"{{{{ outputs.greet.value }}}}\"\n        equalTo: {expected}\n"
    )
}

fn options(home: &std::path::Path) -> LocalOptions {
    LocalOptions::throwaway(home.to_path_buf(), 2)
}

fn load(embedded: &Embedded, name: &str, src: &str) -> Arc<crate::model::Flow> {
    let e = &embedded.engine;
    let (flow, d) = crate::validate::validate_source(name, src, &e.registry, &e.renderer);
    assert!(d.is_empty(), "{d:?}");
    e.flows.insert(flow.expect("flow"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_side_by_side_each_see_their_own_namespace_files_only() {
    let home = std::env::temp_dir().join(format!("baton-nsfiles-{}", uuid::Uuid::new_v4()));
    let embedded = Embedded::open_local(options(&home)).expect("embedded");
    let flow = load(&embedded, "reader.yaml", FLOW);
    let src = format!(
        "id: suite\nnamespace: company.team\nflowId: reader\ntestCases:\n{}{}{}",
        case("hello", Some("hello"), "hello"),
        case("bye", Some("bye"), "bye"),
        case("none", None, "hello"),
    );
    let (suite, d) = parse_source("t.yaml", &src);
    assert!(d.is_empty(), "{d:?}");
    let suite = suite.expect("suite");
    let t = Duration::from_secs(30);
    let started = std::time::Instant::now();
    let (hello, bye, none) = tokio::join!(
        run_case(&embedded, &flow, &suite, &suite.test_cases[0], t),
        run_case(&embedded, &flow, &suite, &suite.test_cases[1], t),
        run_case(&embedded, &flow, &suite, &suite.test_cases[2], t),
    );
    eprintln!("three cases side by side, each on a home of its own: {:?}", started.elapsed());
    assert_eq!(hello.state, CaseState::Success, "{hello:#?}");
    assert_eq!(bye.state, CaseState::Success, "{bye:#?}");
    // no fixture, no file: its own home has none, and saw no other case's
    assert_eq!(none.execution_state, Some(StateType::Failed), "{none:#?}");
    embedded.shutdown();
    let _ = std::fs::remove_dir_all(&home);
}

const KV_FLOW: &str = "id: kv_writer\nnamespace: company.team\ninputs:\n  - id: taxi\n    type: STRING\n\
                       tasks:\n  - id: set\n    type: io.kestra.plugin.core.kv.Set\n    key: last_taxi\n    \
                       value: \"{{ inputs.taxi }}\"\n  - id: wait\n    type: io.kestra.plugin.core.flow.Sleep\n    \
                       duration: PT0.3S\n  - id: read\n    type: io.kestra.plugin.core.debug.Return\n    \
                       format: \"{{ kv('last_taxi') }}\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_side_by_side_each_read_their_own_kv_entries() {
    let home = std::env::temp_dir().join(format!("baton-nskv-{}", uuid::Uuid::new_v4()));
    let embedded = Embedded::open_local(options(&home)).expect("embedded");
    let flow = load(&embedded, "kv_writer.yaml", KV_FLOW);
    let case = |taxi: &str| {
        format!(
            "  - id: {taxi}\n    type: io.kestra.core.tests.flow.UnitTest\n    fixtures:\n      inputs:\n        \
             taxi: {taxi}\n    assertions:\n      - value: \"{{{{ outputs.read.value }}}}\"\n        equalTo: {taxi}\n"
        )
    };
    let src = format!(
        "id: suite\nnamespace: company.team\nflowId: kv_writer\ntestCases:\n{}{}",
        case("yellow"),
        case("green")
    );
    let (suite, d) = parse_source("t.yaml", &src);
    assert!(d.is_empty(), "{d:?}");
    let suite = suite.expect("suite");
    let t = Duration::from_secs(30);
    // both write the key, wait, then read it: on one shared KV the later write wins for both
    let (yellow, green) = tokio::join!(
        run_case(&embedded, &flow, &suite, &suite.test_cases[0], t),
        run_case(&embedded, &flow, &suite, &suite.test_cases[1], t),
    );
    assert_eq!(yellow.state, CaseState::Success, "{yellow:#?}");
    assert_eq!(green.state, CaseState::Success, "{green:#?}");
    embedded.shutdown();
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_keeps_the_namespace_files_the_run_read_and_runs_without_the_home() {
    let root = std::env::temp_dir().join(format!("baton-nsfiles-rec-{}", uuid::Uuid::new_v4()));
    // the user's home: two namespace files, one the flow reads
    let user: Arc<dyn Storage> = Arc::new(FsStorage::new(&root.join("user/storage")).expect("user storage"));
    let user_files = namespace_files(user.clone());
    for (path, text) in [("data/greeting.txt", "from the home".to_string()), ("unread.txt", "x".to_string())] {
        user_files.put("company.team", path, Box::pin(std::io::Cursor::new(text.into_bytes()))).await.expect("put");
    }
    let big = "b".repeat((record::MAX_RECORDED_FILE + 1) as usize);
    user_files.put("company.team", "big.txt", Box::pin(std::io::Cursor::new(big.into_bytes()))).await.expect("put");

    let mut reads = None;
    let embedded = Embedded::open_local_with(options(&root.join("rec")), |inner| {
        let through = Arc::new(ReadThrough::new(inner, Some(user.clone())));
        reads = Some(through.clone());
        through
    })
    .expect("recording home");
    let reads = reads.expect("the storage was wrapped");
    let flow = load(&embedded, "reader.yaml", FLOW);
    let src = format!("id: suite\nnamespace: company.team\nflowId: reader\ntestCases:\n{}", case("c", None, "x"));
    let suite = parse_source("t.yaml", &src).0.expect("suite");
    let t = Duration::from_secs(30);
    let rec = record_case(&embedded, &flow, &suite, &suite.test_cases[0], t, Some(&reads)).await.expect("recorded");
    assert_eq!(rec.state, StateType::Success);
    assert_eq!(rec.namespace_files, vec![("data/greeting.txt".to_string(), "from the home".to_string())]);

    // a file past the bound is refused, naming it
    let big_flow = load(&embedded, "big.yaml", BIG_FLOW);
    let big_src = "id: big\nnamespace: company.team\nflowId: big_reader\ntestCases:\n  - id: b\n    \
                   type: io.kestra.core.tests.flow.UnitTest\n    assertions:\n      - value: x\n        equalTo: x\n";
    let big_suite = parse_source("b.yaml", big_src).0.expect("suite");
    let err = record_case(&embedded, &big_flow, &big_suite, &big_suite.test_cases[0], t, Some(&reads))
        .await
        .expect_err("past the bound");
    assert!(err.contains("MAX_RECORDED_FILE") && err.contains("big.txt"), "{err}");
    embedded.shutdown();

    // the recorded case, written and read back, runs on a home without them
    let root_doc = crate::yaml::parse(&src).expect("yaml").0;
    let merged = write::merged_case(&root_doc, 0, &rec.tasks, &rec.files, &rec.namespace_files).expect("merged");
    assert_eq!(merged["fixtures"]["namespaceFiles"]["data/greeting.txt"], "from the home");
    let mut recorded = suite.test_cases[0].clone();
    recorded.fixtures.namespace_files = rec.namespace_files.clone();
    recorded.assertions[0].checks[0].expected = serde_json::json!("from the home");
    let plain = Embedded::open_local(options(&root.join("plain"))).expect("plain home");
    let flow = load(&plain, "reader.yaml", FLOW);
    let out = run_case(&plain, &flow, &suite, &recorded, t).await;
    assert_eq!(out.state, CaseState::Success, "{out:#?}");
    plain.shutdown();
    let _ = std::fs::remove_dir_all(&root);
}
