//! A task's program as PID 1 of a PID namespace of its own, where the
//! shim may create one: when that process dies — it ended, or the shim
//! that started it was killed (`PR_SET_PDEATHSIG`) — the kernel kills
//! every process of the namespace, those that left the task's session,
//! cleared their environment (`setsid -f env -i …`) and closed the files
//! they inherited included: the one kind that neither the environment
//! marker nor the marker file ([`super::reap`]) finds once the shim is
//! gone (no cgroups here).
//!
//! Root unshares the PID namespace alone (it keeps every capability); any
//! other user first enters a user namespace of its own that maps its user
//! and group to themselves (`getuid` is unchanged; a set-user-ID program,
//! `sudo` say, gains nothing inside). The user namespace has to be made
//! while the shim has one thread ([`prepare`]), the PID namespace once the
//! shim's watch thread runs ([`enter`]): a process whose children go to
//! another PID namespace can start no thread.
//!
//! No mount namespace and no `/proc` of the namespace: `/proc` stays the
//! machine's, so `/proc/self` still names the reading process and the
//! shim and the worker still read the whole tree from it; only the
//! program's own pid (`$$`, `getpid()`) is the namespace's (1). Where a
//! namespace is refused (a container without the capability, user
//! namespaces switched off), the task runs as before, and the shim says
//! why in one DEBUG line of the task's logs.

/// What [`prepare`] did, for [`enter`].
#[derive(Debug)]
pub(crate) enum Prepared {
    /// Nothing asked, or not Linux.
    Off,
    /// The shim may unshare a PID namespace (root, or in its own user namespace).
    Ready,
    /// A namespace was refused: why.
    Refused(String),
}

/// Before any thread: for a user other than root, a user namespace that
/// maps the user and its group to themselves.
pub(crate) fn prepare(asked: bool) -> Prepared {
    if !asked {
        return Prepared::Off;
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::thread::UnshareFlags;
        let (uid, gid) = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
        if uid == 0 {
            return Prepared::Ready;
        }
        if let Err(e) = unshare(UnshareFlags::NEWUSER) {
            return Prepared::Refused(format!("no user namespace for user {uid} ({e})"));
        }
        let maps = std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))
            .and_then(|()| std::fs::write("/proc/self/setgroups", "deny"))
            .and_then(|()| std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1")));
        match maps {
            Ok(()) => Prepared::Ready,
            Err(e) => Prepared::Refused(format!("cannot map user {uid} in its user namespace ({e})")),
        }
    }
    #[cfg(not(target_os = "linux"))]
    Prepared::Off
}

/// Once the shim's threads run: the next child (the task's program) is
/// PID 1 of a new PID namespace. `Ok(false)` when nothing was asked,
/// `Err(why)` when it was refused.
pub(crate) fn enter(prepared: Prepared) -> Result<bool, String> {
    match prepared {
        Prepared::Off => Ok(false),
        Prepared::Refused(why) => Err(why),
        #[cfg(target_os = "linux")]
        Prepared::Ready => {
            unshare(rustix::thread::UnshareFlags::NEWPID).map(|()| true).map_err(|e| format!("no PID namespace ({e})"))
        }
        #[cfg(not(target_os = "linux"))]
        Prepared::Ready => Ok(false),
    }
}

/// `unshare(2)` through rustix's safe (deprecated) wrapper: it is
/// deprecated because `CLONE_FILES` can break a file descriptor another
/// thread holds; only `CLONE_NEWUSER` (single-threaded, or refused by the
/// kernel) and `CLONE_NEWPID` (which changes no descriptor) are asked here.
#[cfg(target_os = "linux")]
fn unshare(flags: rustix::thread::UnshareFlags) -> rustix::io::Result<()> {
    #[allow(deprecated)]
    rustix::thread::unshare(flags)
}

/// The DEBUG line (a `::{"logs"}::` protocol line on stdout, read by the
/// worker as the task's own) saying why the program runs without a PID
/// namespace.
pub(crate) fn refused_line(why: &str) -> String {
    let message = format!(
        "the task's program runs without a PID namespace: {why}; a process it starts that leaves its session, \
         clears its environment and closes the files it inherited may outlive a killed shim"
    );
    let line = serde_json::json!({ "logs": [{ "level": "DEBUG", "message": message }] });
    format!("::{line}::")
}

/// The host pid of this process's parent: `getppid()` is 0 in a PID
/// namespace whose parent lives outside it, so it is read from `/proc`
/// (the machine's, where every pid is the host's).
pub(crate) fn parent_pid() -> Option<u32> {
    let direct = std::os::unix::process::parent_id();
    if direct != 0 {
        return Some(direct);
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("PPid:")).and_then(|p| p.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_one_debug_protocol_line() {
        let line = refused_line("no PID namespace (EPERM)");
        let super::super::protocol::Line::Protocol { logs, .. } = super::super::protocol::parse(&line) else {
            panic!("not a protocol line: {line}");
        };
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].0, "DEBUG");
        assert!(logs[0].1.contains("EPERM"), "{logs:?}");
    }

    #[test]
    fn nothing_asked_is_nothing_done() {
        assert!(matches!(prepare(false), Prepared::Off));
        assert_eq!(enter(Prepared::Off), Ok(false));
        assert_eq!(enter(Prepared::Refused("x".into())), Err("x".into()));
        assert!(parent_pid().is_some());
    }
}
