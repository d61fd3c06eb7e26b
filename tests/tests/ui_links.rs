//! A Kestra user's links in a real browser (tests/ui/links.mjs, driven as
//! [`crate::ui`]): under `/ui/` the UI routes on Kestra's paths, so
//! `/ui/main/flows/edit/{namespace}/{id}`, `/ui/main/executions/{namespace}/{flowId}/{id}`
//! (with their tabs) and the lists (flows, executions, namespaces, KV,
//! triggers, logs) open their page; links inside keep those paths and are
//! followed without a reload, Back works, and the old `/#/…` links still
//! open their page.

use std::path::Path;

use crate::sched_support::api_server;
use crate::ui::drive;

const HELLO: &str = "id: hello
namespace: ui.links
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hello from a link
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestra_ui_links_open_their_page_and_old_hash_links_still_work() {
    let (server, home) = api_server("ui-links", &[("hello.yml", HELLO)], None).await;
    let shots = if std::env::var("BATON_UI_SCREENSHOTS").is_ok_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
    } else {
        home.join("shots")
    };
    drive(&server.url(), "kestralinks", &shots).await;
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&home);
}
