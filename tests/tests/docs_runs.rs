//! The flows the documentation says the reader can run are run (issue 47):
//! a YAML block of README.md or docs/src/**/*.md whose fence follows
//! `<!-- runs: STATE CHECK… -->` is saved to a file and run with the
//! `baton run --json` the reader types, in a fresh home, offline; the
//! execution must end in STATE, and each CHECK must hold:
//!
//! - `TASK.OUTPUT=VALUE`: the first task run of TASK has output OUTPUT
//!   equal to VALUE (a string, or a number or boolean as JSON writes it);
//! - `log="TEXT"`: the run's log lines (stderr) contain TEXT.
//!
//! Values with spaces are double-quoted. The marker format is documented in
//! docs/src/contributing/testing.md.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::docs_flows::{flow_blocks, markdown_files};
use crate::support::baton_bin;
use crate::terraform::TempDir;

/// How long one documented flow may run.
const RUN_BOUND: Duration = Duration::from_secs(60);

/// The marker's words: space-separated, `"…"` keeping spaces.
fn words(marker: &str) -> Result<Vec<String>, String> {
    let (mut out, mut cur, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in marker.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err(format!("unclosed quote in `{marker}`"));
    }
    if any {
        out.push(cur);
    }
    Ok(out)
}

/// A JSON output as the marker writes it.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs one block; the problems found, named after `at`.
fn run_block(at: &str, source: &str, marker: &str, dir: &Path) -> Vec<String> {
    let words = match words(marker) {
        Ok(w) if !w.is_empty() => w,
        Ok(_) => return vec![format!("{at}: `<!-- runs: -->` names no state")],
        Err(e) => return vec![format!("{at}: {e}")],
    };
    std::fs::create_dir_all(dir).expect("block dir");
    let file = dir.join("flow.yaml");
    std::fs::write(&file, source).expect("write the block");
    let mut child = Command::new(baton_bin())
        .args(["run", "--json", "--home"])
        .arg(dir.join("home"))
        .arg(&file)
        .env_remove("BATON_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start baton run");
    let started = Instant::now();
    while child.try_wait().expect("wait for baton run").is_none() {
        if started.elapsed() > RUN_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            return vec![format!("{at}: still running after {RUN_BOUND:?} (RUN_BOUND)")];
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("baton run output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let Ok(exec) = serde_json::from_slice::<Value>(&out.stdout) else {
        return vec![format!("{at}: `baton run --json` printed no execution:\n{stderr}")];
    };
    let mut problems = Vec::new();
    let state = exec["state"]["current"].as_str().unwrap_or("?");
    if state != words[0] {
        problems.push(format!("{at}: ended {state}, the docs say {}:\n{stderr}", words[0]));
    }
    let runs = exec["taskRunList"].as_array().cloned().unwrap_or_default();
    for check in &words[1..] {
        let Some((what, want)) = check.split_once('=') else {
            problems.push(format!("{at}: `{check}` is neither TASK.OUTPUT=VALUE nor log=\"TEXT\""));
            continue;
        };
        if what == "log" {
            if !stderr.contains(want) {
                problems.push(format!("{at}: the log has no `{want}`:\n{stderr}"));
            }
            continue;
        }
        let Some((task, output)) = what.split_once('.') else {
            problems.push(format!("{at}: `{check}` is neither TASK.OUTPUT=VALUE nor log=\"TEXT\""));
            continue;
        };
        let got = runs.iter().find(|r| r["taskId"] == task).map(|r| &r["outputs"][output]);
        match got {
            None => problems.push(format!("{at}: no task run of `{task}`")),
            Some(v) if shown(v) != want => problems.push(format!("{at}: {task}.{output} is {v}, the docs say {want}")),
            Some(_) => {}
        }
    }
    problems
}

#[test]
fn every_flow_the_docs_mark_runnable_runs_to_its_stated_end() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tmp = TempDir::new("docs-runs");
    let (mut problems, mut ran) = (Vec::new(), Vec::new());
    for rel in markdown_files(&root) {
        let text = std::fs::read_to_string(root.join(&rel)).expect("read markdown");
        for b in flow_blocks(&text) {
            let Some(marker) = b.runs else { continue };
            let at = format!("{}:{}", rel.display(), b.line);
            let dir = tmp.0.join(ran.len().to_string());
            problems.extend(run_block(&at, &b.source, &marker, &dir));
            ran.push(at);
        }
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
    // README's and the quick start's first flow, the editor guide's: at least three
    assert!(ran.len() >= 3, "only {} runnable block(s) found: {ran:?}", ran.len());
    eprintln!("ran {} documented flow(s): {ran:?}", ran.len());
}

/// The check is real: a wrong state, a wrong output and a missing log line
/// are each reported, naming the block.
#[test]
fn a_documented_flow_that_does_not_end_as_stated_is_reported() {
    let tmp = TempDir::new("docs-runs");
    let flow = "id: d\nnamespace: docs\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ 1 + 1 }}\"\n";
    let ok = run_block("ok.md:1", flow, "SUCCESS r.value=2", &tmp.0.join("a"));
    assert!(ok.is_empty(), "{ok:?}");
    let bad = run_block("bad.md:7", flow, "FAILED r.value=3 log=\"not said\"", &tmp.0.join("b"));
    assert_eq!(bad.len(), 3, "{bad:#?}");
    assert!(bad[0].starts_with("bad.md:7: ended SUCCESS, the docs say FAILED"), "{}", bad[0]);
    assert!(bad[1].contains("r.value is \"2\", the docs say 3"), "{}", bad[1]);
    assert!(bad[2].contains("the log has no `not said`"), "{}", bad[2]);
    assert_eq!(words("A b=\"c d\" e").expect("words"), ["A", "b=c d", "e"]);
    assert!(words("A \"open").is_err());
}
