//! Issue 53, item 4: a task's processes never outlive it. A shell task
//! starts a tree — a background `sleep`, a grandchild through `sh -c`, a
//! `setsid` child, a `nohup` child and a double fork — and the whole tree
//! is gone (checked in `/proc` by a marker in the command lines) after the
//! task's timeout, after a Kill of the execution through the API, after
//! SIGTERM to `baton run`, after `kill -9` of `baton server local` (its
//! watchdog sweeps), after `kill -9` of both the server and its watchdog
//! (the task's shim sees its `baton` die and ends the tree, within
//! seconds and without a restart), and after `kill -9` of the server, its
//! watchdog and the shim (the next start sweeps the orphans, never a
//! recycled pid).
//! One of them leaves its session and clears its environment (`setsid -f
//! env -i`), so the environment marker does not find it: the task shim, a
//! child subreaper, holds it; it keeps the marker file the shim opened for
//! its tree (descriptor 1000); and the task's program runs as PID 1 of a
//! PID namespace of its own, whose death kills it. A task that starts
//! such orphans and ends on its own leaves none behind either, under
//! `baton run` and `baton server local`. A `kill -9` of the shim alone, or
//! of the server, its watchdog and the shim at once, ends the whole tree
//! within 2 s; with the namespace switched off
//! (`BATON_TASK_PID_NAMESPACE=false`) a `kill -9` of the shim alone still
//! does (the worker sweeps by marker, the file included), and after one of
//! the server, its watchdog and the shim the next start sweeps the whole
//! tree, the orphan that cleared its environment included. All of it holds
//! for a `baton` run by a user other than root too (its shim makes a user
//! namespace first).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::local_server::{KillOnDrop, LocalServer, Proc, alive, procs_with, test_dir, wait_for};
use crate::support::baton_bin;

/// How many processes of the tree carry the marker at least: seven
/// `sleep`s and the `sh -c` that waits for one of them.
const TREE: usize = 8;

/// The flow: `inputs.m` is the marker, a unique number that every sleep's
/// duration ends with (`sleep 300.<m>1`), so `/proc/*/cmdline` finds them.
fn flow(timeout: Option<&str>) -> String {
    let timeout = timeout.map(|t| format!("    timeout: {t}\n")).unwrap_or_default();
    format!(
        "id: tree\nnamespace: hygiene\ninputs:\n  - id: m\n    type: STRING\ntasks:\n  - id: sh\n    \
         type: io.kestra.plugin.scripts.shell.Commands\n{timeout}    taskRunner:\n      \
         type: io.kestra.plugin.core.runner.Process\n    commands:\n      \
         - sleep 300.{{{{ inputs.m }}}}1 &\n      \
         - sh -c 'sleep 300.{{{{ inputs.m }}}}2; true' &\n      \
         - setsid sleep 300.{{{{ inputs.m }}}}3 &\n      \
         - nohup sleep 300.{{{{ inputs.m }}}}4 > /dev/null 2>&1 &\n      \
         - (sleep 300.{{{{ inputs.m }}}}5 &)\n      \
         - setsid -f env -i sleep 300.{{{{ inputs.m }}}}7\n      \
         - sleep 300.{{{{ inputs.m }}}}6\n"
    )
}

/// A fresh marker: `300.<m>` is in every command line of the tree.
fn marker() -> String {
    let m = uuid::Uuid::new_v4().as_u128() % 1_000_000_000;
    format!("{m:09}")
}

fn pattern(m: &str) -> String {
    format!("300.{m}")
}

/// Waits until the whole tree runs (a failure names what was seen).
async fn tree_started(m: &str) -> Vec<Proc> {
    let p = pattern(m);
    // the last sleeps included (the script's own command lines carry the marker too)
    let orphan = format!("sleep 300.{m}7");
    let ok = wait_for(Duration::from_secs(30), || {
        let seen = procs_with(&p);
        seen.len() >= TREE && seen.iter().any(|x| x.cmdline.starts_with(&orphan))
    })
    .await;
    let seen = procs_with(&p);
    assert!(ok, "the task's process tree did not start: {seen:?}");
    seen
}

/// Asserts that no process of the tree is left within `within`.
async fn tree_gone(m: &str, within: Duration, after: &str) {
    let p = pattern(m);
    let ok = wait_for(within, || procs_with(&p).is_empty()).await;
    assert!(ok, "processes survived {after}: {:?}", procs_with(&p));
}

async fn start_execution(client: &reqwest::Client, server: &LocalServer, flow_id: &str, m: &str) -> String {
    let r = client
        .post(server.api(&format!("/executions/hygiene/{flow_id}")))
        .json(&serde_json::json!({ "m": m }))
        .send()
        .await
        .expect("create an execution");
    assert!(r.status().is_success(), "{}", r.status());
    let v: Value = r.json().await.expect("JSON");
    v["id"].as_str().expect("an id").to_string()
}

async fn state(client: &reqwest::Client, server: &LocalServer, id: &str) -> String {
    let v: Value =
        client.get(server.api(&format!("/executions/{id}"))).send().await.expect("get").json().await.expect("JSON");
    v["state"]["current"].as_str().unwrap_or_default().to_string()
}

async fn wait_state(client: &reqwest::Client, server: &LocalServer, id: &str, want: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s = state(client, server, id).await;
        if s == want {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{id} is {s}, not {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Kills execution `id` through the API; it ends KILLED and its tree is gone.
async fn kill_through_the_api(client: &reqwest::Client, server: &LocalServer, id: &str, m: &str, what: &str) {
    let r = client.delete(server.api(&format!("/executions/{id}/kill"))).send().await.expect("kill");
    assert!(r.status().is_success(), "{}", r.status());
    wait_state(client, server, id, "KILLED").await;
    tree_gone(m, Duration::from_secs(5), what).await;
}

/// `baton run` of `flows/<flow>.yaml` in `dir` with marker `m` (stderr piped).
fn baton_run(dir: &Path, flow: &str, m: &str) -> std::process::Child {
    Command::new(baton_bin())
        .arg("run")
        .arg(dir.join(format!("flows/{flow}.yaml")))
        .args(["--input", &format!("m={m}")])
        .env("BATON_HOME", dir.join("home"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baton run")
}

fn write_flows(dir: &Path) {
    std::fs::write(dir.join("flows/tree.yaml"), flow(None)).expect("flow");
    std::fs::write(dir.join("flows/timed.yaml"), flow(Some("PT5S")).replace("id: tree", "id: timed")).expect("flow");
}

/// The task's timeout and a Kill through the API each end the whole tree,
/// while the server goes on running (no end-of-process sweep helps).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_and_an_api_kill_end_the_whole_process_tree() {
    let dir = test_dir("baton-hygiene");
    write_flows(&dir);
    let server = LocalServer::start(&dir, 2, &[]).await;
    let client = reqwest::Client::new();

    let m = marker();
    let _guard = KillOnDrop(pattern(&m));
    let id = start_execution(&client, &server, "timed", &m).await;
    tree_started(&m).await;
    wait_state(&client, &server, &id, "FAILED").await;
    tree_gone(&m, Duration::from_secs(5), "the task's timeout").await;

    let m = marker();
    let _guard = KillOnDrop(pattern(&m));
    let id = start_execution(&client, &server, "tree", &m).await;
    tree_started(&m).await;
    kill_through_the_api(&client, &server, &id, &m, "a Kill of the execution through the API").await;
    server.kill_9();
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGTERM (what Ctrl-C's SIGINT and a service manager's stop do) to
/// `baton run` kills the execution and the whole tree before it exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_to_baton_run_ends_the_whole_process_tree() {
    let dir = test_dir("baton-hygiene-run");
    write_flows(&dir);
    for signal in [rustix::process::Signal::TERM, rustix::process::Signal::INT] {
        let m = marker();
        let _guard = KillOnDrop(pattern(&m));
        let child = baton_run(&dir, "tree", &m);
        tree_started(&m).await;
        let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("pid");
        rustix::process::kill_process(pid, signal).expect("signal");
        let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.expect("join").expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{signal:?}: {stderr}");
        assert!(stderr.contains("KILLED"), "{signal:?}: {stderr}");
        tree_gone(&m, Duration::from_secs(5), &format!("{signal:?} to baton run")).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The processes whose environment holds `var=value` (`/proc/*/environ`).
fn procs_with_env(var: &str, value: &str) -> Vec<u32> {
    let want = format!("{var}={value}");
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()))
        })
        .collect()
}

/// The watchdog of a `baton` process (`BATON_WATCHDOG_FOR=<pid>.<start>`).
fn watchdog_of(server_pid: u32) -> Option<u32> {
    let prefix = format!("BATON_WATCHDOG_FOR={server_pid}.");
    std::fs::read_dir("/proc").ok()?.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).find(|pid| {
        std::fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv.starts_with(prefix.as_bytes())))
    })
}

fn kill_9(pid: u32) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill -9");
}

/// The orphan of the tree that left its session and cleared its
/// environment (`setsid -f env -i sleep 300.<m>7`): the environment
/// marker does not find it; the marker file it inherited on descriptor
/// 1000 does.
fn unmarked_orphan(tree: &[Proc], m: &str) -> Proc {
    let orphan = tree.iter().find(|p| p.cmdline.starts_with(&format!("sleep 300.{m}7"))).expect("the env -i orphan");
    let env = std::fs::read(format!("/proc/{}/environ", orphan.pid)).unwrap_or_default();
    assert!(
        !env.split(|b| *b == 0).any(|kv| kv.starts_with(b"BATON_TASK_PROCESS=")),
        "the orphan cleared its environment"
    );
    let file = std::fs::read_link(format!("/proc/{}/fd/1000", orphan.pid)).unwrap_or_default();
    assert!(
        file.to_string_lossy().starts_with("/memfd:BATON_TASK_PROCESS="),
        "the orphan holds the marker file: {file:?}"
    );
    orphan.clone()
}

/// `kill -9` of `baton server local`: its watchdog ends the tree at once.
/// With the watchdog killed too, nothing is left to sweep by marker, and
/// the orphan that cleared its environment is found by no marker at all:
/// the task's shim, which sees its `baton` die, ends the whole tree within
/// seconds, without a restart. With the shim killed as well, the program
/// (PID 1 of its namespace) dies with it and the whole tree with the
/// namespace, within 2 s; without the namespace the marked processes (the
/// one that cleared its environment included: it holds the marker file)
/// are orphaned until the next start over the home sweeps them — before
/// the execution goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_server_leaves_no_process_of_its_tasks() {
    let dir = test_dir("baton-hygiene-k9");
    write_flows(&dir);
    let client = reqwest::Client::new();

    // the watchdog
    let server = LocalServer::start(&dir, 2, &[]).await;
    let m1 = marker();
    let _guard1 = KillOnDrop(pattern(&m1));
    let id1 = start_execution(&client, &server, "tree", &m1).await;
    tree_started(&m1).await;
    assert!(watchdog_of(server.child.id()).is_some(), "the server has no watchdog");
    server.kill_9();
    tree_gone(&m1, Duration::from_secs(5), "kill -9 of the server (its watchdog)").await;

    // the server and its watchdog, while an `env -i` orphan runs: the shim
    let server = LocalServer::start(&dir, 2, &[]).await;
    let m2 = marker();
    let _guard2 = KillOnDrop(pattern(&m2));
    let id2 = start_execution(&client, &server, "tree", &m2).await;
    let tree = tree_started(&m2).await;
    let orphan = unmarked_orphan(&tree, &m2);
    let dog = watchdog_of(server.child.id()).expect("the server's watchdog");
    kill_9(dog);
    let killed = std::time::Instant::now();
    server.kill_9();
    tree_gone(&m2, Duration::from_secs(2), "kill -9 of the server and its watchdog").await;
    assert!(!alive(&orphan), "the env -i orphan survived: {orphan:?}");
    eprintln!("kill -9 of the server and its watchdog: the tree ended in {:?}", killed.elapsed());

    // the server, its watchdog and the task's shim at once: the program, PID
    // 1 of its namespace, dies with the shim, and the namespace with it
    let server = LocalServer::start(&dir, 2, &[]).await;
    // the two executions above resumed here (their attempts run again) hold
    // both task slots: a Kill ends them and their trees
    kill_through_the_api(&client, &server, &id1, &m1, "the kill of the first, resumed").await;
    kill_through_the_api(&client, &server, &id2, &m2, "the kill of the second, resumed").await;
    let m3 = marker();
    let _guard3 = KillOnDrop(pattern(&m3));
    let id3 = start_execution(&client, &server, "tree", &m3).await;
    let tree = tree_started(&m3).await;
    let unmarked = unmarked_orphan(&tree, &m3);
    let dog = watchdog_of(server.child.id()).expect("the server's watchdog");
    let shims = procs_with_env("BATON_TASK_SHIM", &format!("{}+pidns", server.child.id()));
    assert_eq!(shims.len(), 1, "one task, one shim asking for a PID namespace: {shims:?}");
    kill_9(dog);
    kill_9(shims[0]);
    let killed = std::time::Instant::now();
    server.kill_9();
    tree_gone(&m3, Duration::from_secs(2), "kill -9 of the server, its watchdog and the shim").await;
    assert!(!alive(&unmarked), "the setsid -f env -i orphan survived: {unmarked:?}");
    eprintln!("kill -9 of the server, its watchdog and the shim: the tree ended in {:?}", killed.elapsed());

    // the same without the namespace: the next start sweeps what is marked
    let no_ns = [("BATON_TASK_PID_NAMESPACE", "false")];
    let server = LocalServer::start(&dir, 2, &no_ns).await;
    kill_through_the_api(&client, &server, &id3, &m3, "the kill of the third, resumed").await;
    let m = marker();
    let _guard = KillOnDrop(pattern(&m));
    let id = start_execution(&client, &server, "tree", &m).await;
    let tree = tree_started(&m).await;
    let unmarked = unmarked_orphan(&tree, &m);
    let dog = watchdog_of(server.child.id()).expect("the server's watchdog");
    // the shims of this server's tasks (the earlier executions resumed here have theirs)
    let shims = procs_with_env("BATON_TASK_SHIM", &server.child.id().to_string());
    assert!(!shims.is_empty(), "the task's shim");
    kill_9(dog);
    for shim in &shims {
        kill_9(*shim);
    }
    server.kill_9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // the task's program dies with its shim (PR_SET_PDEATHSIG); a SIGKILLed
    // shim hands the rest to init, the orphan that cleared its environment
    // among them, holding the marker file
    let (program, orphans): (Vec<Proc>, Vec<Proc>) =
        tree.into_iter().filter(|p| !shims.contains(&p.pid)).partition(|p| p.cmdline.starts_with("/bin/sh -c"));
    assert!(orphans.iter().any(|p| p.pid == unmarked.pid), "the env -i orphan is one of the tree: {orphans:?}");
    assert!(!program.is_empty() && !program.iter().any(alive), "the program outlived its shim: {program:?}");
    // some of the orphaned tree is ended meanwhile, by design: the server's
    // worker sees the shim end before the server's own SIGKILL lands and
    // kills the program's process group, then the marked processes; and
    // any engine opening on the machine (another test's) sweeps the marked
    // processes of a dead `baton` (docs/src/guides/security.md). What is
    // still alive must be left to the next start. With other tests running
    // beside this one, their engines may have swept every orphan already:
    // then no process survived, which is the claim, but the next start's
    // sweep is not exercised in this run (it is when the test runs alone)
    let orphans: Vec<Proc> = orphans.into_iter().filter(alive).collect();
    if orphans.is_empty() {
        println!("process_hygiene: every orphan was already swept; the restart's sweep is not exercised");
    }
    let server = LocalServer::start(&dir, 2, &no_ns).await;
    let swept = wait_for(Duration::from_secs(10), || !orphans.iter().any(alive)).await;
    assert!(
        swept,
        "the next start did not sweep the orphaned tree: {:?}",
        orphans.iter().filter(|p| alive(p)).collect::<Vec<_>>()
    );
    assert!(!alive(&unmarked), "the setsid -f env -i orphan survived the restart's sweep: {unmarked:?}");
    // the execution goes on (its attempt runs again), and a kill ends it all
    kill_through_the_api(&client, &server, &id, &m, "the kill after the restart").await;
    server.kill_9();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kill -9` of a task's shim while its `baton` runs: the program dies
/// with it (`PR_SET_PDEATHSIG`), and as PID 1 of its namespace it takes
/// every process of the namespace with it — one that left the session and
/// cleared its environment (`setsid -f env -i`) included — within 2 s; the
/// task fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_tasks_shim_ends_its_tree_within_2_s() {
    shim_killed("baton-hygiene-shim", true).await;
}

/// The same with the PID namespace switched off: the worker sees the shim
/// end and sweeps by marker — the environment's, and the marker file the
/// orphan that cleared its environment still holds — within 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_pid_namespace_kill_9_of_a_tasks_shim_ends_its_tree_within_2_s() {
    shim_killed("baton-hygiene-shim-nons", false).await;
}

async fn shim_killed(name: &str, pid_namespace: bool) {
    let dir = test_dir(name);
    let flow = flow(None).replace("id: tree", "id: shimkill");
    assert!(flow.contains("- setsid -f env -i sleep"), "{flow}");
    std::fs::write(dir.join("flows/shimkill.yaml"), flow).expect("flow");
    let env: &[(&str, &str)] = if pid_namespace { &[] } else { &[("BATON_TASK_PID_NAMESPACE", "false")] };
    let server = LocalServer::start(&dir, 2, env).await;
    let client = reqwest::Client::new();
    let m = marker();
    let _guard = KillOnDrop(pattern(&m));
    let id = start_execution(&client, &server, "shimkill", &m).await;
    let tree = tree_started(&m).await;
    let cleared = unmarked_orphan(&tree, &m);
    let suffix = if pid_namespace { "+pidns" } else { "" };
    let shims = procs_with_env("BATON_TASK_SHIM", &format!("{}{suffix}", server.child.id()));
    assert_eq!(shims.len(), 1, "one task, one shim: {shims:?}");
    let killed = std::time::Instant::now();
    kill_9(shims[0]);
    let what = if pid_namespace { "kill -9 of the task's shim" } else { "kill -9 of the task's shim, no namespace" };
    tree_gone(&m, Duration::from_secs(2), what).await;
    eprintln!("{what}: its tree ended in {:?}", killed.elapsed());
    assert!(!alive(&cleared), "the setsid -f env -i child survived: {cleared:?}");
    wait_state(&client, &server, &id, "FAILED").await;
    server.kill_9();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A task that leaves orphans which clear their environment and leave its
/// session, then ends by itself: the orphans end with it.
fn escaping_flow() -> &'static str {
    "id: escape\nnamespace: hygiene\ninputs:\n  - id: m\n    type: STRING\ntasks:\n  - id: sh\n    \
     type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      \
     type: io.kestra.plugin.core.runner.Process\n    commands:\n      \
     - setsid -f env -i sleep 300.{{ inputs.m }}1\n      \
     - setsid sh -c 'exec env -i sleep 300.{{ inputs.m }}2' > /dev/null 2>&1 < /dev/null &\n      \
     - sleep 3\n"
}

/// The escaped orphans run while the task does (else the test proves nothing).
async fn escapees_started(m: &str) {
    let p = pattern(m);
    let ok = wait_for(Duration::from_secs(30), || {
        procs_with(&p).iter().filter(|x| x.cmdline.starts_with("sleep")).count() >= 2
    })
    .await;
    assert!(ok, "the escaping processes did not start: {:?}", procs_with(&p));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_that_clear_their_environment_end_with_their_task() {
    let dir = test_dir("baton-hygiene-escape");
    std::fs::write(dir.join("flows/escape.yaml"), escaping_flow()).expect("flow");

    // baton run
    let m = marker();
    let _guard = KillOnDrop(pattern(&m));
    let child = baton_run(&dir, "escape", &m);
    escapees_started(&m).await;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.expect("join").expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    tree_gone(&m, Duration::from_secs(5), "the end of the task under baton run").await;

    // baton server local, which goes on running: only the task's end kills them
    let server = LocalServer::start(&dir, 2, &[]).await;
    let client = reqwest::Client::new();
    let m = marker();
    let _guard = KillOnDrop(pattern(&m));
    let id = start_execution(&client, &server, "escape", &m).await;
    escapees_started(&m).await;
    wait_state(&client, &server, &id, "SUCCESS").await;
    tree_gone(&m, Duration::from_secs(5), "the end of the task under baton server local").await;
    server.kill_9();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The user the non-root test runs `baton` as (`nobody`).
const NOBODY: u32 = 65534;

/// `baton run` of `flows/<flow>.yaml` in `dir` as user `NOBODY` when this
/// test runs as root (as this process's user otherwise: not root either).
fn baton_run_unprivileged(dir: &Path, flow: &str, m: &str) -> std::process::Child {
    use std::os::unix::process::CommandExt as _;
    // a copy in the test's folder, with the libduckdb it links: the build's
    // folder and the set-up cache may be ones the user cannot enter
    // (scripts/test.sh keeps them under root's home); the copy's library is
    // found first through LD_LIBRARY_PATH, which the task's shim inherits
    let bin = dir.join("baton");
    if !bin.exists() {
        std::fs::copy(baton_bin(), &bin).expect("copy baton for the unprivileged user");
        let lib = std::env::var_os("DUCKDB_LIB_DIR").map(|d| Path::new(&d).join("libduckdb.so"));
        if let Some(lib) = lib.filter(|l| l.exists()) {
            std::fs::copy(&lib, dir.join("libduckdb.so")).expect("copy libduckdb for the unprivileged user");
        }
    }
    let mut cmd = Command::new(&bin);
    cmd.env("LD_LIBRARY_PATH", dir);
    cmd.arg("run")
        .arg(dir.join(format!("flows/{flow}.yaml")))
        .args(["--input", &format!("m={m}")])
        .env("BATON_HOME", dir.join("home"))
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if rustix::process::geteuid().is_root() {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    cmd.spawn().expect("baton run")
}

/// The PID namespace of process `pid`, or of this process for `None`.
fn pid_namespace(pid: Option<u32>) -> String {
    let path = pid.map_or("/proc/self/ns/pid".to_string(), |p| format!("/proc/{p}/ns/pid"));
    std::fs::read_link(path).map(|l| l.display().to_string()).unwrap_or_default()
}

/// As a user other than root the shim first makes a user namespace of its
/// own (`scripts::pidns`): the task's program still runs as PID 1 of a PID
/// namespace (its processes sit in another PID namespace than this test),
/// orphans that left its session and cleared their environment end with
/// the task, and a `kill -9` of the shim ends the whole tree within 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_a_user_other_than_root_a_tasks_orphans_end_with_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = test_dir("baton-hygiene-nobody");
    std::fs::write(dir.join("flows/escape.yaml"), escaping_flow()).expect("flow");
    std::fs::write(dir.join("flows/shimkill.yaml"), flow(None).replace("id: tree", "id: shimkill")).expect("flow");
    for d in [dir.clone(), dir.join("flows")] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }

    // orphans that cleared their environment end with the task that ends
    let m = marker();
    let _guard = KillOnDrop(pattern(&m));
    let child = baton_run_unprivileged(&dir, "escape", &m);
    escapees_started(&m).await;
    let ours = pid_namespace(None);
    for p in procs_with(&pattern(&m)).iter().filter(|p| p.cmdline.starts_with("sleep")) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", p.pid)).unwrap_or_default();
        if rustix::process::geteuid().is_root() {
            assert!(status.lines().any(|l| l.starts_with("Uid:\t65534")), "not run as nobody: {status}");
        }
        assert_ne!(pid_namespace(Some(p.pid)), ours, "{p:?} is in this test's PID namespace");
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.expect("join").expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    tree_gone(&m, Duration::from_secs(5), "the end of the task run by another user").await;

    // a kill -9 of the shim takes the whole tree with it
    let m = marker();
    let _guard = KillOnDrop(pattern(&m));
    let child = baton_run_unprivileged(&dir, "shimkill", &m);
    let tree = tree_started(&m).await;
    let cleared = unmarked_orphan(&tree, &m);
    let shims = procs_with_env("BATON_TASK_SHIM", &format!("{}+pidns", child.id()));
    assert_eq!(shims.len(), 1, "one task, one shim: {shims:?}");
    kill_9(shims[0]);
    tree_gone(&m, Duration::from_secs(2), "kill -9 of the shim of a task run by another user").await;
    assert!(!alive(&cleared), "the setsid -f env -i child survived: {cleared:?}");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.expect("join").expect("wait");
    assert_eq!(out.status.code(), Some(1), "the execution fails: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
