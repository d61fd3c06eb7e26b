//! Processes never outlive their task or the `baton` that started them,
//! without cgroups and without spawning `kill`: every process a script
//! task starts carries `BATON_TASK_PROCESS=<owner pid>:<task run>:<attempt>`
//! in its environment, which its children (also those that call `setsid`
//! and leave the process group) inherit. [`sweep`] finds them through
//! `/proc/*/environ` and kills them with `kill(2)`:
//! - when the task's process ends, times out or is killed (the group kill
//!   misses `setsid` children);
//! - from a watchdog process ([`spawn_watchdog`], [`watch`]) that notices
//!   its `baton` died (`kill -9` included) and sweeps what that `baton`
//!   started;
//! - when an engine opens ([`sweep_orphans`]): whatever a dead `baton`
//!   left is killed before any attempt is resumed, so a resumed attempt
//!   never runs beside a live earlier one.
//!
//! A process that clears its environment (`env -i`) escapes this marker.

use std::time::Duration;

/// The environment variable marking a task's processes.
pub const MARK: &str = "BATON_TASK_PROCESS";
/// The environment variable that makes a `baton` process a watchdog of
/// the `baton` whose pid it holds.
pub const WATCHDOG: &str = "BATON_WATCHDOG_FOR";
/// Rounds of a sweep (a process forking while it is swept is found again).
const ROUNDS: usize = 50;

/// The marker of one attempt's processes, owned by this process.
pub fn mark(task_run_id: &str, attempt: u32) -> String {
    format!("{}:{task_run_id}:{attempt}", std::process::id())
}

/// The pid of the `baton` that owns a marker.
fn owner(mark: &str) -> Option<u32> {
    mark.split(':').next()?.parse().ok()
}

/// The marker in a process's environment, if any.
fn mark_of(pid: u32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{MARK}=");
    env.split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(prefix.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()
}

/// Kills (SIGKILL) every process whose marker `doomed` accepts, round
/// after round until none is left; returns how many were killed.
pub fn sweep(doomed: impl Fn(&str) -> bool) -> usize {
    let me = std::process::id();
    let mut killed = 0;
    for _ in 0..ROUNDS {
        let mut round = 0;
        for pid in pids().into_iter().filter(|p| *p != me) {
            if mark_of(pid).is_some_and(|m| doomed(&m))
                && let Some(p) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw)
                && rustix::process::kill_process(p, rustix::process::Signal::KILL).is_ok()
            {
                round += 1;
            }
        }
        killed += round;
        if round == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    killed
}

/// Kills the processes left by a `baton` that is no longer alive.
pub fn sweep_orphans() -> usize {
    sweep(|m| {
        owner(m).is_some_and(|o| o != std::process::id() && !std::path::Path::new(&format!("/proc/{o}")).exists())
    })
}

/// Starts this executable again as the watchdog of this process (in its
/// own process group, so a terminal's Ctrl-C reaches only `baton`).
/// Meant for binaries that call [`watch`] first thing when [`WATCHDOG`] is
/// set, as `baton` does.
pub fn spawn_watchdog() -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    std::process::Command::new(exe)
        .env(WATCHDOG, std::process::id().to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
}

/// The watchdog: waits until `owner` is no longer its parent (it died or
/// ended), then kills every process `owner` started and had not ended.
pub fn watch(owner_pid: u32) {
    while std::os::unix::process::parent_id() == owner_pid {
        std::thread::sleep(Duration::from_millis(200));
    }
    // twice, a moment apart: a child forking as its parent dies
    for _ in 0..2 {
        sweep(|m| owner(m) == Some(owner_pid));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setsid_grandchild_is_found_and_killed_by_its_marker() {
        let m = format!("{}:test-{}:1", std::process::id(), uuid::Uuid::new_v4());
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "setsid sleep 300 & sleep 300 & wait"])
            .env(MARK, &m)
            .spawn()
            .expect("sh");
        let count = || pids().into_iter().filter(|p| mark_of(*p).as_deref() == Some(m.as_str())).count();
        for _ in 0..100 {
            if count() == 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(count(), 3, "the shell and its two sleeps");
        assert_eq!(sweep(|x| x == m), 3);
        let _ = sh.wait();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(count(), 0);
        assert_eq!(owner(&m), Some(std::process::id()));
    }
}
