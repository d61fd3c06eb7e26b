//! The command line as a Kestra user types it: `baton flow validate` and
//! `baton flow namespace update` (Kestra's spellings), `flows list` and
//! `flows delete` on a server, `backfill --server` given a flow's id alone
//! or a flow with two schedules, `kv set` reading JSON as the API does, an
//! aligned `backfill list`, and `validate` giving the shared dialect note
//! once.

use std::path::Path;

use crate::cli::{baton, text};
use crate::sched_support::{api_server, temp_dir};
use crate::support::baton_bin;

fn flow(ns: &str, id: &str) -> String {
    format!(
        "id: {id}\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: {id}\n"
    )
}

const TWO_SCHEDULES: &str = "id: taxi_scheduled\nnamespace: zoomcamp\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ trigger.date }}\"\ntriggers:\n  - id: green_schedule\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 1 * *\"\n  - id: yellow_schedule\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 10 1 * *\"\n";

async fn run(home: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(baton_bin())
        .env("BATON_HOME", home)
        .env_remove("BATON_SERVER_BASIC_AUTH")
        .args(args)
        .output()
        .await
        .expect("baton")
}

#[test]
fn flow_validate_is_validate_and_says_the_shared_dialect_note_once() {
    let dir = temp_dir("baton-cli-flow-validate");
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("dir");
    for id in ["a", "b", "c"] {
        std::fs::write(flows.join(format!("{id}.yml")), flow("cli.v", id)).expect("flow");
    }
    for cmd in [&["flow", "validate"][..], &["flows", "validate"], &["validate"]] {
        let mut args = cmd.to_vec();
        let path = flows.display().to_string();
        args.push(&path);
        let o = baton(&dir.join("home"), &args);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{cmd:?}: {}", text(&o));
        assert_eq!(out.lines().filter(|l| l.starts_with('✓')).count(), 3, "{out}");
        assert_eq!(out.matches("uses no construct of either dialect").count(), 1, "said once:\n{out}");
        assert!(out.contains("note: every flow — Kestra"), "{out}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flows_list_delete_and_namespace_update_on_a_server() {
    let (server, dir) = api_server("baton-cli-flows", &[("x.yml", &flow("cli.keep", "x"))], None).await;
    let url = server.url();
    let home = dir.join("cli-home");
    let ns_dir = dir.join("team");
    std::fs::create_dir_all(&ns_dir).expect("dir");
    std::fs::write(ns_dir.join("one.yml"), flow("cli.team", "one")).expect("flow");
    std::fs::write(ns_dir.join("two.yml"), flow("cli.team", "a_rather_long_flow_identifier")).expect("flow");
    let ns_path = ns_dir.display().to_string();
    let o = run(&home, &["flow", "namespace", "update", "cli.team", &ns_path, "--server", &url]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("cli.team: 2 flow(s) pushed"), "{}", text(&o));
    // a folder with another namespace's flow is refused by name
    std::fs::write(ns_dir.join("other.yml"), flow("cli.other", "o")).expect("flow");
    let o = run(&home, &["flow", "namespace", "update", "cli.team", &ns_path, "--server", &url]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("cli.other"), "{}", text(&o));
    // list: aligned columns
    let o = run(&home, &["flows", "list", "--server", &url]).await;
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NAMESPACE") && lines.len() == 4, "a header and 3 flows:\n{out}");
    let col = lines[0].find("REVISION").expect("REVISION");
    for l in &lines[1..] {
        assert!(l.chars().nth(col).is_some_and(|c| c.is_ascii_digit()), "the revision under its header:\n{out}");
    }
    let o = run(&home, &["flows", "list", "--server", &url, "--namespace", "cli.team", "--json"]).await;
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    // delete
    let o = run(&home, &["flow", "delete", "cli.team", "one", "--server", &url]).await;
    assert!(o.status.success() && text(&o).contains("deleted cli.team.one"), "{}", text(&o));
    let o = run(&home, &["flows", "delete", "cli.team", "one", "--server", &url]).await;
    assert_eq!(o.status.code(), Some(1), "gone already: {}", text(&o));
    assert!(text(&o).contains("404"), "{}", text(&o));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backfill_on_a_server_names_the_flow_it_means_and_lists_two_schedules() {
    let (server, dir) = api_server("baton-cli-bf-names", &[("t.yml", TWO_SCHEDULES)], None).await;
    let url = server.url();
    let home = dir.join("cli-home");
    let o = run(&home, &["backfill", "--server", &url, "taxi_scheduled", "--start", "2019-01-01"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("namespace.id: did you mean zoomcamp.taxi_scheduled?"), "{}", text(&o));
    let o = run(&home, &["backfill", "--server", &url, "zoomcamp.taxi_scheduled", "--start", "2019-01-01"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains("--trigger")
            && said.contains("green_schedule (cron \"0 9 1 * *\")")
            && said.contains("yellow_schedule"),
        "{said}"
    );
    server.shutdown().await;
}

#[test]
fn kv_set_parses_json_as_the_api_and_backfill_list_is_aligned() {
    let dir = temp_dir("baton-cli-kv-json");
    let home = dir.join("home");
    let o = baton(&home, &["kv", "set", "-n", "cli.kv", "answer", "\"yes\""]);
    assert!(o.status.success(), "{}", text(&o));
    let o = baton(&home, &["kv", "get", "-n", "cli.kv", "answer"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "yes", "the quotes are JSON's: {}", text(&o));
    // two backfills of flows with names of different lengths
    let short = dir.join("s.yml");
    std::fs::write(&short, TWO_SCHEDULES.replace("taxi_scheduled", "s").replace("namespace: zoomcamp", "namespace: a"))
        .expect("flow");
    let long = dir.join("l.yml");
    std::fs::write(&long, TWO_SCHEDULES.replace("namespace: zoomcamp", "namespace: cli.a.much.longer.namespace"))
        .expect("flow");
    for f in [&short, &long] {
        let f = f.display().to_string();
        let o = baton(
            &home,
            &["backfill", &f, "--trigger", "green_schedule", "--start", "2019-01-01", "--end", "2019-02-15"],
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = baton(&home, &["backfill", "list"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    for header in ["TRIGGER", "STATE", "PROGRESS", "WINDOW", "CREATED"] {
        let at = lines[0].find(header).expect("header");
        for l in &lines[1..] {
            let chars: Vec<char> = l.chars().collect();
            assert!(
                chars[at - 2..at] == [' ', ' '] && chars[at] != ' ',
                "column {header} starts at the same place on every line:\n{out}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
