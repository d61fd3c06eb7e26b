//! The task shim: on Linux a script task's process is started under a
//! copy of the running binary (`baton`, a function) in shim mode, a child
//! subreaper (`PR_SET_CHILD_SUBREAPER`): a process of the task that its
//! parent leaves behind — `setsid -f`, a double fork, `nohup … &`, with or
//! without `env -i` — is re-parented to the shim, not to `init`. When the
//! task's program ends, the shim kills every process left below it
//! ([`super::tree`]) and exits with the program's status; when the task
//! is killed (timeout, Kill), the worker kills the whole tree below the
//! shim, which still holds every orphan. Nothing relies on an environment
//! marker, which `env -i` clears.
//!
//! A binary opts in by calling [`enter_if_asked`] first thing in `main`
//! (`baton` and the functions do); elsewhere (a library's tests) a task's
//! program is started directly and the process group and the marker
//! ([`super::reap`]) are the only cleanup.

use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::process::{Signal, WaitOptions};

/// Set on a copy of the binary started as a task's shim; its arguments
/// are the program to run and the program's own.
pub const SHIM: &str = "BATON_TASK_SHIM";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// In a shim, runs the task's program and exits (never returns);
/// otherwise enables the shim for this process's script tasks and returns.
pub fn enter_if_asked() {
    if std::env::var_os(SHIM).is_none() {
        ENABLED.store(cfg!(target_os = "linux"), Ordering::Relaxed);
        return;
    }
    std::process::exit(run(std::env::args_os().skip(1).collect()));
}

/// The shim to start a task's program under: this binary, when it opted in.
pub(crate) fn program() -> Option<std::path::PathBuf> {
    if !ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    std::env::current_exe().ok()
}

/// Runs `argv` (program and arguments) as a child, reaps whatever is
/// re-parented here while it runs, kills what is left once it ended, and
/// returns the status to exit with (a signal is raised again).
fn run(argv: Vec<OsString>) -> i32 {
    let mut args = argv.into_iter();
    let Some(program) = args.next() else {
        eprintln!("baton task shim: no program to run");
        return 127;
    };
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        eprintln!("baton task shim: cannot become a child subreaper ({e}); orphans of this task may survive it");
    }
    let child = match std::process::Command::new(&program).args(args).env_remove(SHIM).spawn() {
        Ok(c) => c.id(),
        Err(e) => {
            eprintln!("cannot start '{}': {e}", program.to_string_lossy());
            return 127;
        }
    };
    // any child is reaped as it ends (orphans included); the program's
    // own end is the one that counts
    let status = loop {
        match rustix::process::wait(WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid.as_raw_nonzero().get() as u32 == child => break Some(status),
            Ok(Some(_)) => {}
            Err(rustix::io::Errno::INTR) => {}
            Ok(None) | Err(_) => break None,
        }
    };
    super::tree::kill(&[std::process::id()], false);
    reap_all();
    match status {
        Some(s) => match (s.exit_status(), s.terminating_signal()) {
            (Some(code), _) => code,
            (None, Some(sig)) => {
                if let Some(signal) = Signal::from_named_raw(sig) {
                    let _ = rustix::process::kill_process(rustix::process::getpid(), signal);
                }
                128 + sig
            }
            (None, None) => 1,
        },
        None => 1,
    }
}

/// Reaps the children killed (no zombie is left to `init`), for at most
/// [`REAP_WAIT`]: a process stuck in the kernel may outlast it.
fn reap_all() {
    let until = std::time::Instant::now() + REAP_WAIT;
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some(_)) => continue,
            Ok(None) if std::time::Instant::now() < until => std::thread::sleep(std::time::Duration::from_millis(5)),
            Ok(None) | Err(_) => return,
        }
    }
}

/// How long the shim waits for the processes it killed to be reaped.
const REAP_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
