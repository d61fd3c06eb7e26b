//! Processes never outlive their task or the `baton` that started them,
//! without cgroups and without spawning `kill`: every process a script
//! task starts carries `BATON_TASK_PROCESS=<owner>:<task run>:<attempt>`
//! in its environment, where `<owner>` is the `baton` process's pid and
//! start time (`pid.starttime`, from `/proc/<pid>/stat`): unique on this
//! machine until it reboots, so a recycled pid is never taken for the
//! `baton` that died, and no process of another `baton` is ever killed.
//! Its children inherit it, also those that call `setsid` and leave the
//! process group. [`sweep`] finds them through `/proc/*/environ` and kills
//! them with `kill(2)`:
//! - when the task's process ends, times out or is killed (the group kill
//!   misses `setsid` children);
//! - from a watchdog process ([`spawn_watchdog`], [`watch`]) that notices
//!   its `baton` died (`kill -9` included) and sweeps what that `baton`
//!   started;
//! - when an engine opens ([`sweep_orphans`]): whatever a dead `baton`
//!   left is killed before any attempt is resumed, so a resumed attempt
//!   never runs beside a live earlier one.
//!
//! A process that clears its environment (`env -i`) loses the variable
//! but keeps the files it inherited: the task shim ([`super::shim`])
//! also holds the marker as the name of an empty in-memory file
//! (`memfd_create`) open on descriptor [`MARK_FD`] without close-on-exec,
//! so every process below it inherits it, and the sweep reads it from
//! `/proc/<pid>/fd/1000` where the environment has none ([`hold_in_file`]).
//! Only a process that clears its environment *and* closes the files it
//! inherited escapes both, once its shim is gone; a PID namespace
//! ([`super::pidns`]) covers that one. Each marked process is killed with
//! every process below it ([`super::tree`]).

use std::time::Duration;

/// The environment variable marking a task's processes.
pub const MARK: &str = "BATON_TASK_PROCESS";
/// The environment variable that makes a `baton` process a watchdog of
/// the `baton` whose pid it holds.
pub const WATCHDOG: &str = "BATON_WATCHDOG_FOR";
/// The descriptor on which a task's processes hold the marker file.
pub const MARK_FD: i32 = 1000;
/// Rounds of a sweep (a process forking while it is swept is found again).
const ROUNDS: usize = 50;

/// The marker of one attempt's processes, owned by this process.
pub fn mark(task_run_id: &str, attempt: u32) -> String {
    format!("{}:{task_run_id}:{attempt}", me())
}

/// This process's identity (`pid.starttime`), read once.
pub fn me() -> &'static str {
    static ME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ME.get_or_init(|| {
        let pid = std::process::id();
        // without /proc (not Linux) the pid alone; nothing is swept there
        identity(pid).unwrap_or_else(|| pid.to_string())
    })
}

/// The identity of a live process: its pid and its start time in clock
/// ticks since boot (field 22 of `/proc/<pid>/stat`, counted after the
/// command name, which may itself hold spaces and parentheses).
fn identity(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let start = stat.rsplit_once(')')?.1.split_whitespace().nth(19)?;
    Some(format!("{pid}.{start}"))
}

/// The identity of the `baton` that owns a marker.
fn owner(mark: &str) -> Option<&str> {
    mark.split(':').next().filter(|o| !o.is_empty())
}

/// True while the process with this identity runs (same pid, same start).
fn alive(owner: &str) -> bool {
    owner.split('.').next().and_then(|p| p.parse().ok()).and_then(identity).as_deref() == Some(owner)
}

/// The marker of a process: in its environment, or else in the name of
/// the file it holds on [`MARK_FD`].
fn mark_of(pid: u32) -> Option<String> {
    mark_in_environment(pid).or_else(|| mark_in_file(pid))
}

/// The marker in a process's environment, if any.
fn mark_in_environment(pid: u32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{MARK}=");
    env.split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(prefix.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The marker in the name of the file a process holds on [`MARK_FD`].
fn mark_in_file(pid: u32) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{MARK_FD}")).ok()?;
    mark_of_link(&link.to_string_lossy())
}

/// The marker in a marker file's link (`/memfd:BATON_TASK_PROCESS=<mark> (deleted)`).
fn mark_of_link(link: &str) -> Option<String> {
    let name = link.strip_prefix("/memfd:")?;
    let name = name.strip_suffix(" (deleted)").unwrap_or(name);
    name.strip_prefix(MARK)?.strip_prefix('=').filter(|m| !m.is_empty()).map(str::to_owned)
}

/// Opens the marker file of `mark` on [`MARK_FD`], inherited by every
/// process this one starts (a shim calls it once, before its program
/// starts); the file lives as long as one of them holds it.
#[cfg(target_os = "linux")]
pub(crate) fn hold_in_file(mark: &str) -> Result<std::os::fd::OwnedFd, String> {
    use rustix::fs::MemfdFlags;
    use rustix::io::FdFlags;
    let name = format!("{MARK}={mark}");
    let file =
        rustix::fs::memfd_create(name.as_str(), MemfdFlags::CLOEXEC).map_err(|e| format!("memfd_create: {e}"))?;
    let held = rustix::io::fcntl_dupfd_cloexec(&file, MARK_FD).map_err(|e| format!("descriptor {MARK_FD}: {e}"))?;
    if std::os::fd::AsRawFd::as_raw_fd(&held) != MARK_FD {
        return Err(format!("descriptor {MARK_FD} is taken"));
    }
    rustix::io::fcntl_setfd(&held, FdFlags::empty()).map_err(|e| format!("descriptor {MARK_FD}: {e}"))?;
    Ok(held)
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
        let roots: Vec<u32> =
            pids().into_iter().filter(|p| *p != me && mark_of(*p).is_some_and(|m| doomed(&m))).collect();
        // what is below a marked process first (under the task shim that
        // holds the orphans that cleared their environment), then it
        let round = if roots.is_empty() { 0 } else { super::tree::kill(&roots, true) };
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
    sweep(|m| owner(m).is_some_and(|o| o != me() && !alive(o)))
}

/// Starts this executable again as the watchdog of this process (in its
/// own process group, so a terminal's Ctrl-C reaches only `baton`).
/// Meant for binaries that call [`watch`] first thing when [`WATCHDOG`] is
/// set, as `baton` does.
pub fn spawn_watchdog() -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let child = std::process::Command::new(exe)
        .env(WATCHDOG, me())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()?;
    *watchdog().lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(child);
    Ok(())
}

/// The watchdog this process started, if any.
fn watchdog() -> &'static std::sync::Mutex<Option<std::process::Child>> {
    static CHILD: std::sync::Mutex<Option<std::process::Child>> = std::sync::Mutex::new(None);
    &CHILD
}

/// At a normal exit: kills what this process's tasks left, then ends its
/// watchdog and waits for it (so it is no zombie).
pub fn stop_watchdog() {
    let child = watchdog().lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    if let Some(mut child) = child {
        sweep(|m| owner(m) == Some(me()));
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The watchdog: waits until `owner` (an identity, `pid.starttime`) is no
/// longer its parent (it died or ended), then kills every process `owner`
/// started and had not ended, and ends.
pub fn watch(owner_id: &str) {
    let Some(owner_pid) = owner_id.split('.').next().and_then(|p| p.parse::<u32>().ok()) else { return };
    while std::os::unix::process::parent_id() == owner_pid {
        std::thread::sleep(Duration::from_millis(200));
    }
    // twice, a moment apart: a child forking as its parent dies
    for _ in 0..2 {
        sweep(|m| owner(m) == Some(owner_id));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setsid_grandchild_is_found_and_killed_by_its_marker() {
        let m = mark(&format!("test-{}", uuid::Uuid::new_v4()), 1);
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "setsid sleep 300 & sleep 300 & wait"])
            .env(MARK, &m)
            .spawn()
            .expect("sh");
        let count = || pids().into_iter().filter(|p| mark_of(*p).as_deref() == Some(m.as_str())).count();
        // up to 30 s: a loaded machine (the suite's other tests beside
        // this one) has taken over 10 s to start the shell's two children
        let mut found = 0;
        for _ in 0..1500 {
            found = count();
            if found >= 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(found >= 3, "the shell and its two sleeps (found {found})");
        // 3, or more when a fork was caught between fork and exec
        let killed = sweep(|x| x == m);
        assert!(killed >= 3, "{killed}");
        let _ = sh.wait();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(count(), 0);
        assert_eq!(owner(&m), Some(me()));
        assert!(alive(me()));
    }

    #[test]
    fn an_identity_is_pid_and_start_time_and_a_recycled_pid_is_not_alive() {
        let id = me();
        let (pid, start) = id.split_once('.').expect("pid.start");
        assert_eq!(pid, std::process::id().to_string());
        assert!(start.parse::<u64>().is_ok(), "{id}");
        // the same pid with another start time is another process
        assert!(!alive(&format!("{pid}.{}", start.parse::<u64>().unwrap_or(0) + 1)));
        assert!(!alive("999999999.1"));
        // a marker from a dead baton is an orphan; ours is not
        let dead = format!("{pid}.{}:tr:1", start.parse::<u64>().unwrap_or(0) + 1);
        assert!(owner(&dead).is_some_and(|o| o != me() && !alive(o)));
    }

    #[test]
    fn the_marker_files_link_names_the_marker() {
        let m = "12.345:tr:1";
        assert_eq!(mark_of_link(&format!("/memfd:{MARK}={m} (deleted)")).as_deref(), Some(m));
        assert_eq!(mark_of_link(&format!("/memfd:{MARK}={m}")).as_deref(), Some(m));
        assert_eq!(mark_of_link(&format!("/tmp/{MARK}={m}")), None);
        assert_eq!(mark_of_link(&format!("/memfd:{MARK}= (deleted)")), None);
        assert_eq!(mark_of_link("/memfd:other (deleted)"), None);
    }

    /// A process that cleared its environment and left the session
    /// (`setsid -f env -i`) is found by the marker file it inherited. The
    /// file is made here close-on-exec and opened on descriptor 1000 by the
    /// shell alone (through `/proc`), as the shim does for its program: the
    /// other tests' children never inherit it.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_that_cleared_its_environment_is_found_by_the_marker_file() {
        use std::os::fd::AsRawFd;
        let m = mark(&format!("test-{}", uuid::Uuid::new_v4()), 1);
        let file =
            rustix::fs::memfd_create(format!("{MARK}={m}").as_str(), rustix::fs::MemfdFlags::CLOEXEC).expect("memfd");
        let script = format!(
            "exec {MARK_FD}</proc/{}/fd/{}; setsid -f env -i sleep 300.11; sleep 300.12",
            std::process::id(),
            file.as_raw_fd()
        );
        let mut sh = std::process::Command::new("bash").args(["-c", &script]).env_clear().spawn().expect("bash");
        let marked = || pids().into_iter().filter(|p| mark_of(*p).as_deref() == Some(m.as_str())).collect::<Vec<_>>();
        let mut found = Vec::new();
        for _ in 0..1500 {
            found = marked();
            if found.len() >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(found.len() >= 2, "the shell and the orphan that cleared its environment (found {found:?})");
        assert!(found.iter().all(|p| mark_in_environment(*p).is_none()), "no process has the variable");
        let killed = sweep(|x| x == m);
        assert!(killed >= 2, "{killed}");
        let _ = sh.wait();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(marked(), Vec::<u32>::new());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_marker_file_is_held_on_its_descriptor() {
        // in a child: a descriptor 1000 without close-on-exec in this test
        // process would be inherited by the other tests' children
        let out = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args(["--exact", "scripts::reap::tests::hold_in_file_in_a_child", "--ignored", "--nocapture"])
            .output()
            .expect("child");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("held: ok"), "{text}{}", String::from_utf8_lossy(&out.stderr));
    }

    #[cfg(target_os = "linux")]
    #[test]
    #[ignore = "run by the_marker_file_is_held_on_its_descriptor in a process of its own"]
    fn hold_in_file_in_a_child() {
        let held = hold_in_file("1.2:tr:3").expect("held");
        assert_eq!(std::os::fd::AsRawFd::as_raw_fd(&held), MARK_FD);
        assert_eq!(mark_in_environment(std::process::id()), None);
        assert_eq!(mark_of(std::process::id()).as_deref(), Some("1.2:tr:3"));
        let flags = rustix::io::fcntl_getfd(&held).expect("flags");
        assert!(!flags.contains(rustix::io::FdFlags::CLOEXEC), "inherited across exec");
        println!("held: ok");
    }
}
