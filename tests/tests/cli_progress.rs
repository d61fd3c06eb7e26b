//! What `baton run` prints as it goes: each task run's RUNNING line before
//! its log lines and its end, in the order the states were recorded (off a
//! terminal, where the lines are all there is), durations for humans,
//! colour by state on a terminal only, and a `--progress` bar that moves
//! through a long loop instead of sitting near 100 %.

use std::path::Path;

use crate::cli::{baton, on_terminal, text};
use crate::sched_support::temp_dir;

const THREE: &str = "id: three\nnamespace: cli.order\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: one\n  - id: maybe_fail\n    type: io.kestra.plugin.core.debug.Return\n    format: two\n  - id: last\n    type: io.kestra.plugin.core.log.Log\n    message: three\n";

fn write(dir: &Path, name: &str, yaml: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, yaml).expect("flow");
    p.display().to_string()
}

/// The index of the first line containing every needle.
fn at(lines: &[&str], needles: &[&str]) -> usize {
    lines
        .iter()
        .position(|l| needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| panic!("no line with {needles:?} in:\n{}", lines.join("\n")))
}

#[test]
fn each_task_run_says_running_before_its_logs_and_its_end_in_recorded_order() {
    let dir = temp_dir("baton-cli-order");
    let home = dir.join("home");
    let flow = write(&dir, "three.yml", THREE);
    // several runs: the order must not depend on which thread wins
    for _ in 0..3 {
        let o = baton(&home, &["run", &flow]);
        assert!(o.status.success(), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let lines: Vec<&str> = err.lines().collect();
        let mut last_end = 0;
        for task in ["first", "maybe_fail", "last"] {
            let running = at(&lines, &["…", task, "RUNNING"]);
            let end = at(&lines, &["✓", task, "SUCCESS"]);
            assert!(
                last_end < running && running < end,
                "{task}: RUNNING, then its end, after the previous task:\n{err}"
            );
            assert_eq!(lines.iter().filter(|l| l.contains(task) && l.contains("RUNNING")).count(), 1, "{err}");
            last_end = end;
        }
        let log = at(&lines, &["[first] one"]);
        assert!(at(&lines, &["first", "RUNNING"]) < log && log < at(&lines, &["first", "SUCCESS"]), "{err}");
        assert!(!err.contains(" PT") && !err.contains('\u{1b}'), "human durations, no colour off a terminal:\n{err}");
        assert!(
            lines.last().is_some_and(|l| l.contains("SUCCESS in ") && (l.ends_with(" ms") || l.ends_with(" s"))),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_loop_s_iterations_each_run_before_they_end() {
    let dir = temp_dir("baton-cli-loop-order");
    let values: Vec<String> = (0..60).map(|i| i.to_string()).collect();
    let yaml = format!(
        "id: each\nnamespace: cli.order\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [{}]\n    concurrencyLimit: 4\n    tasks:\n      - id: say\n        type: io.kestra.plugin.core.log.Log\n        message: \"value {{{{ taskrun.value }}}}\"\n",
        values.join(", ")
    );
    let flow = write(&dir, "each.yml", &yaml);
    let o = baton(&dir.join("home"), &["run", &flow]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let lines: Vec<&str> = err.lines().collect();
    for v in &values {
        let tag = format!("say [{v}] ");
        let running = at(&lines, &[&tag, "RUNNING"]);
        let log = at(&lines, &[&format!("[say] value {v}")]);
        let end = at(&lines, &[&tag, "SUCCESS"]);
        assert!(running < log && log < end, "iteration {v}: RUNNING, its log, its end:\n{err}");
    }
    assert!(at(&lines, &["… each RUNNING"]) < at(&lines, &["✓ each SUCCESS"]), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn states_are_coloured_on_a_terminal_and_not_under_no_color() {
    let dir = temp_dir("baton-cli-state-colour");
    let home = dir.join("home");
    let flow = write(
        &dir,
        "fails.yml",
        "id: fails\nnamespace: cli.colour\ntasks:\n  - id: ok\n    type: io.kestra.plugin.core.log.Log\n    message: fine\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n    errorMessage: broken on purpose\n",
    );
    let tty = on_terminal(&home, 120, &[], &["run", &flow]);
    assert!(tty.contains("\u{1b}[32m✓\u{1b}[0m ok"), "a green ✓ for SUCCESS: {tty:?}");
    assert!(tty.contains("\u{1b}[31m✗\u{1b}[0m boom"), "a red ✗ for FAILED: {tty:?}");
    assert!(tty.contains("\u{1b}[31m■ execution"), "the closing line red: {tty:?}");
    let plain = on_terminal(&home, 120, &[("NO_COLOR", "1")], &["run", &flow]);
    assert!(plain.contains("✗ boom FAILED") && !plain.contains('\u{1b}'), "NO_COLOR: {plain:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The `pos/len task runs ended` pairs a terminal showed.
fn bar_positions(screen: &str) -> Vec<(u64, u64)> {
    screen
        .split(" task runs ended")
        .filter_map(|before| {
            let word = before.rsplit(' ').next()?;
            let (pos, len) = word.split_once('/')?;
            Some((pos.parse().ok()?, len.parse().ok()?))
        })
        .collect()
}

#[test]
fn the_progress_bar_of_a_long_loop_moves_from_empty_to_full() {
    let dir = temp_dir("baton-cli-bar");
    let values: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    let yaml = format!(
        "id: long\nnamespace: cli.bar\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [{}]\n    tasks:\n      - id: say\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n",
        values.join(", ")
    );
    let flow = write(&dir, "long.yml", &yaml);
    let started = std::time::Instant::now();
    let screen = on_terminal(&dir.join("home"), 120, &[], &["run", "--progress", &flow]);
    let seen = bar_positions(&screen);
    assert!(seen.len() >= 3, "the bar was drawn several times in {:?}: {screen:?}", started.elapsed());
    let ratios: Vec<f64> = seen.iter().map(|(p, l)| *p as f64 / (*l).max(1) as f64).collect();
    assert!(
        ratios.iter().any(|r| (0.05..0.95).contains(r)),
        "somewhere between empty and full, not near 100 % all along: {seen:?}"
    );
    assert!(ratios.windows(2).filter(|w| w[1] > w[0]).count() >= 2, "it moves: {seen:?}");
    let lens: Vec<u64> = seen.iter().filter(|s| s.0 > 0).map(|s| s.1).collect();
    assert!(lens.iter().all(|l| *l >= 2900), "the length counts the values to come: {lens:?}");
    assert!(screen.contains("■ execution") && screen.contains("SUCCESS"), "{screen:?}");
    assert!(!screen.contains(" 0/0 "), "no full bar before anything is counted: {screen:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_backfill_on_a_terminal_draws_a_bar_of_ticks() {
    let dir = temp_dir("baton-cli-backfill-bar");
    let flow = write(
        &dir,
        "daily.yml",
        "id: daily\nnamespace: cli.bar\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ trigger.date }}\"\ntriggers:\n  - id: every_day\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 * * *\"\n",
    );
    let screen =
        on_terminal(&dir.join("home"), 160, &[], &["backfill", &flow, "--start", "2019-01-01", "--end", "2019-12-31"]);
    let ticks: Vec<u64> = screen
        .split(" ticks ")
        .filter_map(|before| {
            before.rsplit(' ').next()?.split_once('/').and_then(|(p, l)| (l == "365").then(|| p.parse().ok())?)
        })
        .collect();
    // drawn at most 20 times a second: the last draws may be skipped before the bar is cleared
    let mut distinct = ticks.clone();
    distinct.dedup();
    assert!(distinct.len() >= 2 && distinct[0] == 0, "a bar of the 365 ticks that moves: {ticks:?} {screen:?}");
    assert!(
        screen.contains("■ backfill") && screen.contains("365 ticks") && screen.contains("365 succeeded"),
        "{screen:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
