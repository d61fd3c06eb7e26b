//! Kestra's own test flows run as Kestra's tests expect: every `run` line
//! of `tests/fixtures/kestra-corpus/expected.txt` (final state, and the
//! number of task runs where Kestra's test asserts it), through the `baton`
//! binary as a user runs them, subflows looked up among the corpus's valids.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::baton_bin;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/kestra-corpus")
}

#[test]
fn kestras_corpus_flows_end_as_kestras_tests_expect() {
    let text = std::fs::read_to_string(corpus().join("expected.txt")).expect("expected.txt");
    let runs: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|p| p.get(1) == Some(&"run"))
        .collect();
    assert!(runs.len() >= 30, "the run lines: {}", runs.len());
    let mut wrong = Vec::new();
    for p in &runs {
        let (path, state) = (p[0], p[2]);
        let taskruns =
            p.iter().skip(3).find_map(|t| t.strip_prefix("taskruns=")).map(|n| n.parse::<usize>().expect("count"));
        // `attempts=I:N` (exactly) or `attempts=I:>=N` for the I-th task run
        let attempts: Vec<(usize, bool, usize)> = p
            .iter()
            .skip(3)
            .filter_map(|t| t.strip_prefix("attempts="))
            .map(|a| {
                let (i, n) = a.split_once(':').expect("attempts=I:N");
                let (at_least, n) = n.strip_prefix(">=").map_or((false, n), |n| (true, n));
                (i.parse().expect("index"), at_least, n.parse().expect("attempts"))
            })
            .collect();
        let home = std::env::temp_dir().join(format!("baton-corpus-{}", uuid::Uuid::new_v4()));
        let out = Command::new(baton_bin())
            .args(["run", "-q", "--json", "--home"])
            .arg(&home)
            .arg("--flows")
            .arg(corpus().join("valids"))
            .arg(corpus().join(path))
            .stdin(Stdio::null())
            .output()
            .expect("baton run");
        let _ = std::fs::remove_dir_all(&home);
        let Ok(e) = serde_json::from_slice::<Value>(&out.stdout) else {
            wrong.push(format!("{path}: no execution: {}", String::from_utf8_lossy(&out.stderr)));
            continue;
        };
        let got = e["state"]["current"].as_str().unwrap_or("?");
        let n = e["taskRunList"].as_array().map_or(0, Vec::len);
        if got != state || taskruns.is_some_and(|t| t != n) {
            wrong.push(format!(
                "{path}: Kestra's test expects {state} {taskruns:?} task runs, Baton ended {got} with {n}"
            ));
        }
        for (i, at_least, want) in attempts {
            let had = e["taskRunList"][i]["attempts"].as_array().map_or(0, Vec::len);
            if had != want && !(at_least && had > want) {
                let how = if at_least { ">=" } else { "" };
                wrong.push(format!(
                    "{path}: Kestra's test expects task run {i} to have {how}{want} attempts, it had {had}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {} differ:\n{}", wrong.len(), runs.len(), wrong.join("\n"));
}
