//! Resource bounds under hostile flows (issue 24): template output, script
//! output, fan-out and ForEach size each stop at a documented bound with a
//! message naming it, and nothing is left RUNNING.

use std::sync::atomic::Ordering;

use serde_json::json;
use shared::model::StateType;

use crate::support::{harness, runs};

#[tokio::test]
async fn a_template_producing_gigabytes_fails_naming_the_bound() {
    let h = harness();
    let started = std::time::Instant::now();
    let e = h
        .run(
            "id: f\nnamespace: n\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ range(0, 50000) | join(range(0, 50000) | join(',')) | length }}\"\n",
            json!({}),
        )
        .await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "log")[0].error.clone().unwrap_or_default();
    assert!(err.contains("MAX_RENDER_BYTES") && err.contains("32 MiB"), "{err}");
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_output_is_bounded_per_line_and_per_task() {
    let h = harness();
    // a 3 MB line without a break, then 80 MB of 1 KB lines: the task goes on
    let yaml = r#"id: loud
namespace: n
tasks:
  - id: loud
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: ["../../etc/passwd"]
    commands:
      - head -c 3000000 /dev/zero | tr '\0' 'a'; echo
      - yes "$(head -c 1023 /dev/zero | tr '\0' 'b')" | head -c 80000000
      - echo done
"#;
    let e = h.run(yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", runs(&e, "loud")[0].error);
    let logs = h.logs(&e.id).await;
    let stored: usize = logs.iter().map(String::len).sum();
    assert!(stored <= 65 * 1024 * 1024, "{stored} bytes of logs stored");
    let long = logs.iter().find(|l| l.starts_with("aaaa")).expect("the long line");
    assert!(
        long.len() < 1024 * 1024 + 200 && long.contains("line truncated by Baton: 1951424 more bytes"),
        "{}",
        &long[long.len() - 100..]
    );
    // past the bound, the lines go to the attempt's log file, named in the
    // stored logs (once when it starts, once at the end with the counts)
    let file = runs(&e, "loud")[0].attempts[0].log_file.clone().expect("the attempt's log file");
    assert!(file.starts_with(&format!("kestra:///n/loud/executions/{}/tasks/loud/", e.id)), "{file}");
    let warns: Vec<_> = logs.iter().filter(|l| l.contains("MAX_TASK_LOG_BYTES")).collect();
    assert_eq!(warns.len(), 2, "{warns:?}");
    assert!(warns.iter().all(|w| w.contains(&file)), "{warns:?}");
    assert!(warns[1].contains("lines (") && warns[1].contains("bytes) past"), "{}", warns[1]);
    assert!(!logs.iter().any(|l| l == "done"), "the last line came after the bound");
    let path = shared::backend::storage_path(&file).expect("path");
    let mut text = String::new();
    tokio::io::AsyncReadExt::read_to_string(
        &mut h.embedded.engine.storage.get(&path).await.expect("the log file"),
        &mut text,
    )
    .await
    .expect("read");
    let (in_file, in_store) = (text.len(), stored);
    assert!(in_file + in_store > 80_000_000, "{in_file} + {in_store} bytes");
    assert!(text.contains(" INFO [loud] done\n"), "{}", &text[text.len().saturating_sub(400)..]);
    // what Baton says after the bound goes to the file too
    assert!(text.contains("outputFiles pattern '../../etc/passwd'"), "no WARN for the pattern");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_starting_itself_from_a_foreach_stops_at_the_descendant_bound() {
    let h = harness();
    h.embedded.engine.max_descendants.store(30, Ordering::SeqCst);
    let yaml = r#"id: spread
namespace: n
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    concurrencyLimit: 0
    tasks:
      - id: again
        type: io.kestra.plugin.core.flow.Subflow
        namespace: n
        flowId: "{{ flow.id }}"
        wait: false
"#;
    let e = h.run(yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Success);
    // every execution ends; none is created past the bound (plus the ones
    // started at once while the count was read). A child starts from its
    // own message (`StartSubflow`) after its parent's save, so every
    // execution listed may have ended while starts are still on their way:
    // waited for until the refusal past the bound is logged too
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let (all, said) = loop {
        let all = h.embedded.engine.state.list_executions(&Default::default()).await.expect("list");
        let ended = all.iter().all(|x| x.state.is_terminal());
        let mut said = false;
        if ended {
            for x in &all {
                said |= h.logs(&x.id).await.iter().any(|l| l.contains("MAX_DESCENDANTS") && l.contains("at most 30"));
            }
        }
        if (ended && said) || std::time::Instant::now() > deadline {
            break (all, said);
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    assert!(all.iter().all(|x| x.state.is_terminal()), "left running");
    assert!(said, "no log names the bound");
    assert!(all.len() <= 1 + 30 + 10, "{} executions", all.len());
    assert!(all.len() > 20, "{} executions", all.len());
    let count = shared::runtime::fanout::count(&h.embedded.engine, &e.id).await.expect("count");
    assert!((30..=40).contains(&count), "{count}");
}

#[tokio::test]
async fn a_foreach_over_too_many_values_fails_naming_the_bound() {
    let h = harness();
    let yaml = "id: many\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: \"[{{ range(0, 99999) | join(',') }},{{ range(0, 10) | join(',') }}]\"\n    tasks:\n      - id: log\n        type: io.kestra.plugin.core.log.Log\n        message: x\n";
    let e = h.run(yaml, json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "each")[0].error.clone().unwrap_or_default();
    assert!(err.contains("100011 values, more than 100000 (MAX_FOREACH_VALUES)"), "{err}");
}

/// Pids whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(needle))
        })
        .collect()
}

#[test]
fn processes_a_task_started_die_with_a_killed_baton() {
    use std::process::{Command, Stdio};
    let dir = std::env::temp_dir().join(format!("baton-orphans-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    // a unique sleep duration marks the grandchildren's command lines
    let marker = format!("777.{}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000);
    let flow = dir.join("orphans.yml");
    std::fs::write(
        &flow,
        format!(
            "id: orphans\nnamespace: t\ntasks:\n  - id: s\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    commands:\n      - setsid sleep {marker} &\n      - sh -c 'sleep {marker}; echo x' &\n      - sleep {marker}\n"
        ),
    )
    .expect("flow");
    let mut child = Command::new(crate::support::baton_bin())
        .args(["run", flow.to_str().expect("path")])
        .env("BATON_HOME", dir.join("home"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run");
    let mut seen = 0;
    for _ in 0..300 {
        seen = processes_with(&marker).len();
        if seen >= 4 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(seen >= 4, "the script's processes never all started ({seen})");
    child.kill().expect("kill -9");
    let _ = child.wait();
    let mut left = processes_with(&marker);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        left = processes_with(&marker);
    }
    for pid in &left {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    assert!(left.is_empty(), "{} processes outlived baton", left.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_each_item_batches_count_in_the_descendant_bound() {
    let h = harness();
    h.embedded.engine.max_descendants.store(5, Ordering::SeqCst);
    h.flow("id: child\nnamespace: n\ninputs:\n  - id: items\n    type: STRING\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ inputs.items }}\"\n");
    let parent = |rows: usize| {
        format!(
            "id: parent{rows}\nnamespace: n\ntasks:\n  - id: write\n    type: io.kestra.plugin.core.storage.Write\n    \
             content: \"{}\"\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEachItem\n    \
             items: \"{{{{ outputs.write.uri }}}}\"\n    batch:\n      rows: 1\n    namespace: n\n    flowId: child\n    \
             inputs:\n      items: \"{{{{ taskrun.items }}}}\"\n",
            (0..rows).map(|i| format!("{i}\\n")).collect::<String>()
        )
    };
    // 3 batches fit under 5; counted once each
    let e = h.run(&parent(3), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", e.error);
    assert_eq!(shared::runtime::fanout::count(&h.embedded.engine, &e.id).await.expect("count"), 3);
    // 10 batches do not: none starts, the task fails naming the bound
    let e = h.run(&parent(10), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "each_items")[0].error.clone().unwrap_or_default();
    assert!(err.contains("10 executions not started") && err.contains("at most 5, MAX_DESCENDANTS"), "{err}");
    assert_eq!(shared::runtime::fanout::count(&h.embedded.engine, &e.id).await.expect("count"), 0);
    let filter = shared::backend::ExecutionFilter { flow_id: Some("child".into()), ..Default::default() };
    let kids = h.embedded.engine.state.list_executions(&filter).await.expect("list");
    assert_eq!(kids.len(), 3, "only the first parent's batches ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_refuses_a_file_past_its_bound_and_reads_one_under_it() {
    let h = harness();
    // a 40 MB file (streamed in, never held whole here) and a small one
    let big = "/n/reader/executions/e0/big.txt";
    let zeros = tokio::io::AsyncReadExt::take(tokio::io::repeat(b'a'), 40_000_000);
    h.embedded.engine.storage.put(big, Box::pin(zeros)).await.expect("store the big file");
    h.embedded.engine.storage.put("/n/reader/executions/e0/small.txt", Box::pin(&b"hello"[..])).await.expect("store");
    let flow = |path: &str| {
        format!(
            "id: reader\nnamespace: n\ntasks:\n  - id: read\n    type: io.kestra.plugin.core.debug.Return\n    \
             format: \"{{{{ read('kestra://{path}') | length }}}}\"\n"
        )
    };
    let e = h.run(&flow("/n/reader/executions/e0/small.txt"), json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", runs(&e, "read")[0].error);
    assert_eq!(runs(&e, "read")[0].outputs.as_ref().map(|o| o["value"].clone()), Some(json!("5")));
    let started = std::time::Instant::now();
    let e = h.run(&flow(big), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "read")[0].error.clone().unwrap_or_default();
    assert!(err.contains("MAX_READ_BYTES") && err.contains("32 MiB") && err.contains("streams"), "{err}");
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_logs_refuses_an_execution_past_its_bound_and_reads_one_under_it() {
    let h = harness();
    let flow = |lines: u32| {
        format!(
            "id: errs\nnamespace: n\ntasks:\n  - id: noisy\n    type: io.kestra.plugin.scripts.shell.Commands\n    \
             taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    commands:\n      - seq 1 {lines} >&2\n  \
             - id: count\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ errorLogs() | length }}}}\"\n"
        )
    };
    // a script's stderr lines are ERROR lines (the task ends WARNING), as in Kestra
    let e = h.run(&flow(3), json!({})).await;
    assert_eq!(runs(&e, "count")[0].state.current, StateType::Success, "{:?}", runs(&e, "count")[0].error);
    assert_eq!(runs(&e, "count")[0].outputs.as_ref().map(|o| o["value"].clone()), Some(json!("3")));
    let started = std::time::Instant::now();
    let e = h.run(&flow(12_000), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let err = runs(&e, "count")[0].error.clone().unwrap_or_default();
    assert!(err.contains("errorLogs()") && err.contains("10000 lines (MAX_ERROR_LOG_LINES)"), "{err}");
    assert!(err.contains("/download") && err.contains("log.Fetch"), "{err}");
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}
