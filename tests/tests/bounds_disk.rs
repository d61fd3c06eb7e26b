//! A full disk under the Baton home (issue 24), simulated with a small
//! tmpfs: the execution ends FAILED naming the home, `baton run` never
//! hangs and still stops on SIGTERM, read-only commands still answer.
//! Skipped, saying why, where a tmpfs cannot be mounted (not root).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A tmpfs of `mib` MiB, unmounted (and its folder removed) on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(mib: u32) -> Option<SmallDisk> {
        let dir = std::env::temp_dir().join(format!("baton-full-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: cannot mount a tmpfs here (not root?): no full disk to simulate");
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A flow whose first task fills the disk, then runs `then`.
fn filling_flow(disk: &Path, then: &str) -> String {
    format!(
        "id: fill\nnamespace: t\ntasks:\n  - id: fill\n    type: io.kestra.plugin.scripts.shell.Commands\n    \
         taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    commands:\n      \
         - dd if=/dev/zero of={}/filler bs=64k 2>/dev/null || true\n      - echo filled\n      - {then}\n  \
         - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: after\n",
        disk.display()
    )
}

fn baton(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(crate::support::baton_bin());
    c.args(args).env("BATON_HOME", home).stdin(Stdio::null());
    c
}

/// Runs to the end, killed (and failed) past `limit`. Its output is read
/// while it runs (a full pipe would block it, and look like a hang).
fn output_within(mut c: Command, limit: Duration) -> Output {
    let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn baton");
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as Box<dyn std::io::Read + Send>));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as Box<dyn std::io::Read + Send>));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("baton still running after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output { status, stdout: out.join().expect("stdout"), stderr: err.join().expect("stderr") }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_full_disk_fails_the_execution_naming_the_home_and_listings_still_work() {
    let Some(disk) = SmallDisk::mount(8) else { return };
    let home = disk.0.join("home");
    let flow = disk.0.join("fill.yml");
    // then 4 MiB of output lines, which must be stored: a write to the full
    // disk for certain (a few short lines could fit in pages SQLite's files
    // already hold, e.g. a WAL recycled by a checkpoint, and the run succeed)
    let more = "head -c 4194304 /dev/zero | tr '\\0' x | fold -w 1024";
    std::fs::write(&flow, filling_flow(&disk.0, more)).expect("flow");
    // written now, while there is room: the run started on the full disk
    // (running `fill.yml` again would truncate its filler and free the disk)
    let hello = disk.0.join("hello.yml");
    std::fs::write(
        &hello,
        "id: hello\nnamespace: t\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    )
    .expect("flow");
    let out = output_within(baton(&home, &["run", flow.to_str().expect("path")]), Duration::from_secs(60));
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    let named = format!("the disk holding the Baton home {} is full", home.display());
    assert!(said.contains("FAILED") && said.contains(&named), "{said}");
    // the disk is still full: listing and validating answer
    let list = output_within(baton(&home, &["executions", "list"]), Duration::from_secs(20));
    let listed = text(&list);
    assert!(list.status.success(), "{listed}");
    assert!(listed.contains("t.fill") && listed.contains("FAILED") && !listed.contains("RUNNING"), "{listed}");
    let valid = output_within(baton(&home, &["validate", flow.to_str().expect("path")]), Duration::from_secs(20));
    assert!(valid.status.success(), "{}", text(&valid));
    // what the failure's record left free is taken too (a write that stops
    // at ENOSPC leaves its partial file): the disk is full to the last byte
    let _ = std::fs::write(disk.0.join("filler2"), vec![0u8; 16 << 20]);
    // a run started while the disk is full ends at once with an error naming
    // the home, before anything starts
    let again = output_within(baton(&home, &["run", hello.to_str().expect("path")]), Duration::from_secs(30));
    let said = text(&again);
    assert_eq!(again.status.code(), Some(1), "{said}");
    assert!(said.contains(&named) && said.contains("RESERVE_BYTES"), "{said}");
    let list = output_within(baton(&home, &["executions", "list"]), Duration::from_secs(20));
    assert!(!text(&list).contains("t.hello"), "{}", text(&list));
}

#[test]
fn baton_run_on_a_full_disk_still_stops_on_sigterm() {
    let Some(disk) = SmallDisk::mount(8) else { return };
    let home = disk.0.join("home");
    let flow = disk.0.join("fill.yml");
    std::fs::write(&flow, filling_flow(&disk.0, "sleep 300")).expect("flow");
    let mut child = baton(&home, &["run", flow.to_str().expect("path")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn baton");
    // the disk is full once the filler stops growing
    let filler = disk.0.join("filler");
    let mut last = 0;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(200));
        let len = std::fs::metadata(&filler).map(|m| m.len()).unwrap_or(0);
        if len > 0 && len == last {
            break;
        }
        last = len;
    }
    assert!(last > 0, "the disk was never filled");
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(term.success());
    while child.try_wait().expect("wait").is_none() {
        if sent.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("baton run ignored SIGTERM on a full disk");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(sent.elapsed() < Duration::from_secs(25), "{:?}", sent.elapsed());
    let list = output_within(baton(&home, &["executions", "list"]), Duration::from_secs(20));
    let listed = text(&list);
    assert!(list.status.success() && listed.contains("t.fill") && !listed.contains("RUNNING"), "{listed}");
}
