//! A task's process tree, read from `/proc` by parent pid, and killed
//! whole: every process below a root is stopped (`SIGSTOP`, so none forks
//! while the tree is read again), then killed (`SIGKILL`), round after
//! round until nothing is left below the root. No environment variable is
//! needed: a process that clears its environment (`env -i`) or leaves its
//! session (`setsid`) is still a descendant of its task's root while that
//! root lives — and under the task shim ([`super::shim`]), a child
//! subreaper, orphans are re-parented to the root instead of to `init`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process};

/// Rounds of a tree kill (a process forking while it is killed is found
/// again); each round waits [`ROUND_PAUSE`] at most once.
const ROUNDS: usize = 100;
const ROUND_PAUSE: Duration = Duration::from_millis(10);

/// One live (not zombie) process: its pid and its parent's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Proc {
    pub pid: u32,
    pub ppid: u32,
}

/// Every live process on the machine (zombies are dead: not listed).
pub(crate) fn table() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).filter_map(read).collect()
}

/// Fields 3 (state) and 4 (ppid) of `/proc/<pid>/stat`, read after the
/// command name, which may hold spaces and parentheses.
fn read(pid: u32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    (state != "Z" && state != "X").then_some(Proc { pid, ppid })
}

/// The live descendants of `roots` in `procs` (the roots not included).
pub(crate) fn descendants(procs: &[Proc], roots: &[u32]) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut seen: HashSet<u32> = roots.iter().copied().collect();
    let mut out = Vec::new();
    let mut next: Vec<u32> = roots.to_vec();
    while let Some(pid) = next.pop() {
        for c in children.get(&pid).into_iter().flatten() {
            if seen.insert(*c) {
                out.push(*c);
                next.push(*c);
            }
        }
    }
    out
}

fn signal(pid: u32, sig: Signal) -> bool {
    i32::try_from(pid).ok().and_then(Pid::from_raw).is_some_and(|p| kill_process(p, sig).is_ok())
}

/// Kills every process below `roots`, then (when `with_roots`) the roots:
/// each round stops what it finds, reads the tree again until it holds no
/// new process, then kills all of it. Never signals this process. Returns
/// how many processes were killed.
pub(crate) fn kill(roots: &[u32], with_roots: bool) -> usize {
    let me = std::process::id();
    let mut killed = 0;
    for _ in 0..ROUNDS {
        let mut stopped: Vec<u32> = Vec::new();
        loop {
            let procs = table();
            let fresh: Vec<u32> =
                descendants(&procs, roots).into_iter().filter(|p| *p != me && !stopped.contains(p)).collect();
            if fresh.is_empty() {
                break;
            }
            for p in &fresh {
                signal(*p, Signal::STOP);
            }
            stopped.extend(fresh);
        }
        if stopped.is_empty() {
            break;
        }
        killed += stopped.iter().filter(|p| signal(**p, Signal::KILL)).count();
        std::thread::sleep(ROUND_PAUSE);
    }
    if with_roots {
        killed += roots.iter().filter(|p| **p != me && signal(**p, Signal::KILL)).count();
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_is_read_by_parent_pid_and_killed_whole_whatever_the_session() {
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "setsid sleep 301.5 & env -i sleep 301.6 & wait"])
            .spawn()
            .expect("sh");
        let root = sh.id();
        let count = || descendants(&table(), &[root]).len();
        for _ in 0..200 {
            if count() >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(count() >= 2, "{:?}", descendants(&table(), &[root]));
        assert!(kill(&[root], false) >= 2);
        assert_eq!(count(), 0);
        let _ = sh.wait();
    }
}
