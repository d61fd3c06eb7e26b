//! The task shim: on Linux a script task's process is started under a
//! copy of the running binary (`baton`, a function) in shim mode, a child
//! subreaper (`PR_SET_CHILD_SUBREAPER`): a process of the task that its
//! parent leaves behind — `setsid -f`, a double fork, `nohup … &`, with or
//! without `env -i` — is re-parented to the shim, not to `init`. When the
//! task's program ends, the shim kills every process left below it
//! ([`super::tree`]) and exits with the program's status; when the task
//! is killed (timeout, Kill), the worker kills the whole tree below the
//! shim, which still holds every orphan. Nothing here relies on an
//! environment marker, which `env -i` clears.
//!
//! The shim also outlives no `baton`: [`SHIM`] holds the pid of the
//! process that started it, and a thread of the shim checks its parent
//! every [`PARENT_POLL`]; once the parent is another (that process died —
//! `kill -9` included, its watchdog with it), the shim kills everything
//! below it and exits. So an orphan that cleared its environment, which
//! no sweep by marker can find, ends within a fraction of a second of its
//! `baton` even when nothing is left to sweep. (Not `PR_SET_PDEATHSIG`:
//! it fires when the *thread* that spawned the shim ends, and a tokio
//! runtime's threads come and go.)
//!
//! The task's program dies with its shim: it is started through a second
//! copy of the binary ([`SHIM`] = `exec:<shim pid>`) that asks the kernel
//! for SIGKILL when its parent dies (`PR_SET_PDEATHSIG`, kept across
//! `execve`) and then becomes the program (`exec`); the shim's main
//! thread, which started it, lives as long as the shim. So a shim killed
//! by SIGKILL takes its program with it at once, and the worker kills the
//! program's process group and every marked process as soon as it sees
//! the shim end (`process::run`). A process that left the group and
//! cleared its environment (`setsid -f env -i`) is then re-parented to
//! `init`, but still holds the marker file the shim opened for its tree
//! ([`super::reap::hold_in_file`]), so the same sweep finds it. Only one
//! that also closed the files it inherited is out of reach without
//! cgroups — unless the program runs as PID 1 of a PID namespace of its
//! own ([`super::pidns`], asked for by a `+pidns` suffix on [`SHIM`]): its
//! death then kills the namespace.
//!
//! A binary opts in by calling [`enter_if_asked`] first thing in `main`
//! (`baton` and the functions do); elsewhere (a library's tests) a task's
//! program is started directly and the process group and the marker
//! ([`super::reap`]) are the only cleanup.

use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::process::{Signal, WaitOptions};

/// Set on a copy of the binary started as a task's shim, to the pid of
/// the process starting it (its parent); its arguments are the program to
/// run and the program's own.
pub const SHIM: &str = "BATON_TASK_SHIM";

/// How often a shim checks that its parent still runs.
const PARENT_POLL: std::time::Duration = std::time::Duration::from_millis(100);

static ENABLED: AtomicBool = AtomicBool::new(false);

/// In a shim, runs the task's program and exits (never returns);
/// otherwise enables the shim for this process's script tasks and returns.
pub fn enter_if_asked() {
    let Some(parent) = std::env::var_os(SHIM) else {
        ENABLED.store(cfg!(target_os = "linux"), Ordering::Relaxed);
        return;
    };
    if let Some(shim) = parent.to_str().and_then(|p| p.strip_prefix(EXEC_PREFIX)) {
        exec_program(shim.parse().ok());
    }
    let value = parent.to_str().unwrap_or_default();
    let (value, asked) = match value.strip_suffix(PIDNS_SUFFIX) {
        Some(v) => (v, true),
        None => (value, false),
    };
    // a user namespace needs a shim with one thread: before the watch
    let prepared = super::pidns::prepare(asked);
    // the process that started this shim: a shim outlives it by no more than a poll
    let parent = value.parse::<u32>().ok();
    if let Some(parent) = parent {
        if std::os::unix::process::parent_id() != parent {
            // it died before this shim started: nothing to run for
            std::process::exit(1);
        }
        watch_parent(parent);
    }
    // no thread may be started past this point (the children's PID namespace differs)
    if let Err(why) = super::pidns::enter(prepared) {
        println!("{}", super::pidns::refused_line(&why));
    }
    std::process::exit(run(std::env::args_os().skip(1).collect()));
}

/// The suffix of [`SHIM`]'s value asking for the program to run as PID 1
/// of a PID namespace of its own.
const PIDNS_SUFFIX: &str = "+pidns";

/// The prefix of [`SHIM`]'s value for the copy that becomes the task's
/// program (`exec:<shim pid>`).
const EXEC_PREFIX: &str = "exec:";

/// In the copy a shim starts: asks for SIGKILL when the shim dies, then
/// becomes the task's program (never returns).
fn exec_program(shim: Option<u32>) -> ! {
    use std::os::unix::process::CommandExt;
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::set_parent_process_death_signal(Some(Signal::KILL)) {
        eprintln!("baton task shim: cannot ask to die with the shim ({e}); the task's program may outlive it");
    }
    // the shim died before the request: the signal will never come (the
    // parent is read from `/proc` when it is outside this PID namespace)
    if shim.is_none_or(|p| super::pidns::parent_pid() != Some(p)) {
        std::process::exit(128 + 9);
    }
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("baton task shim: no program to run");
        std::process::exit(127);
    };
    let err = std::process::Command::new(&program).args(args).env_remove(SHIM).exec();
    eprintln!("cannot start '{}': {err}", program.to_string_lossy());
    std::process::exit(127);
}

/// The value of [`SHIM`] for a shim this process starts; `pid_namespace`
/// asks for the program to run as PID 1 of a PID namespace of its own.
pub(crate) fn shim_value(pid_namespace: bool) -> String {
    let suffix = if pid_namespace { PIDNS_SUFFIX } else { "" };
    format!("{}{suffix}", std::process::id())
}

/// A thread that ends the shim and everything below it once `parent` is
/// no longer its parent (it died, or ended without waiting for the task).
fn watch_parent(parent: u32) {
    // without the thread (none can be made) the shim still reaps and kills
    // at the program's end, and the next start sweeps by marker
    let _ = std::thread::Builder::new().name("baton-shim-parent".into()).spawn(move || {
        while std::os::unix::process::parent_id() == parent {
            std::thread::sleep(PARENT_POLL);
        }
        super::tree::kill(&[std::process::id()], false);
        // nothing may be printed: the pipes led to the dead parent
        std::process::exit(128 + 9);
    });
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
    let args: Vec<OsString> = args.collect();
    // the marker as a file every process below inherits, those that clear
    // their environment included (held until the shim exits)
    #[cfg(target_os = "linux")]
    let _held = std::env::var(super::reap::MARK).ok().and_then(|m| match super::reap::hold_in_file(&m) {
        Ok(fd) => Some(fd),
        Err(e) => {
            eprintln!("baton task shim: no marker file ({e}); a process of this task that clears its environment may survive it");
            None
        }
    });
    // through a copy of this binary that dies with the shim; directly if
    // it cannot be started (the binary was replaced on disk)
    let through = std::env::current_exe().ok().and_then(|me| {
        let value = format!("{EXEC_PREFIX}{}", std::process::id());
        std::process::Command::new(me).arg(&program).args(&args).env(SHIM, value).spawn().ok()
    });
    let spawned = match through {
        Some(c) => Ok(c),
        None => std::process::Command::new(&program).args(&args).env_remove(SHIM).spawn(),
    };
    let child = match spawned {
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
