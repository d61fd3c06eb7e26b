//! What the taxi benchmarks share: a work folder served over HTTP, the
//! throwaway PostgreSQL cluster, the release `baton` binary run as a child
//! (wall time and peak RSS via `/usr/bin/time -v`), an in-process engine,
//! and small statistics helpers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::pg::{self, PgCluster};
use e2e::{http, taxi};
use serde_json::{Map, Value};
use shared::model::{Execution, Flow};
use shared::runtime::embedded::{Embedded, LocalOptions};
use shared::runtime::launcher::LaunchRequest;

/// The shared state of one benchmark run.
pub struct Bench {
    pub cluster: PgCluster,
    /// Scratch space (deleted at the end).
    pub work: PathBuf,
    /// Served over HTTP at `base`.
    pub served: PathBuf,
    pub base: String,
    pub baton: PathBuf,
}

impl Bench {
    pub fn new(baton: PathBuf) -> Bench {
        let work = std::env::temp_dir().join(format!("baton-bench-{}", std::process::id()));
        let served = work.join("served");
        std::fs::create_dir_all(&served).unwrap_or_else(|e| panic!("{}: {e}", served.display()));
        let base = http::serve_dir(&served);
        // the settings performance.md's measurements used
        let cluster =
            PgCluster::start(&[("shared_buffers", "1GB"), ("max_wal_size", "8GB"), ("checkpoint_timeout", "30min")])
                .unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}"));
        Bench { cluster, work, served, base, baton }
    }

    /// `pluginDefaults` for the Postgres tasks, pointing at `db`.
    pub fn plugin_defaults(&self, db: &str) -> String {
        format!(
            "pluginDefaults:\n  - type: io.kestra.plugin.jdbc.postgresql\n    values:\n      url: {}\n      username: {}\n      password: {}\n",
            self.cluster.jdbc_url(db),
            pg::USER,
            pg::PASSWORD
        )
    }

    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.cluster.psql(db, sql).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// The release `baton`: `$BATON_BIN`, else built with cargo (a no-op when fresh).
pub fn baton_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("BATON_BIN") {
        return PathBuf::from(p);
    }
    let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--quiet", "-p", "shared", "--bin", "baton"])
        .status()
        .unwrap_or_else(|e| panic!("cargo build baton: {e}"));
    assert!(st.success(), "cargo build --release --bin baton failed");
    // this bench runs from <target>/release/deps/
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let release = exe.parent().and_then(Path::parent).unwrap_or_else(|| panic!("odd bench path {}", exe.display()));
    let bin = release.join("baton");
    assert!(bin.exists(), "{} not found", bin.display());
    bin
}

/// One `baton run` as a child process.
pub struct ChildRun {
    pub wall: Duration,
    /// Peak RSS in kB (`/usr/bin/time -v`), when available.
    pub max_rss_kb: Option<u64>,
    pub success: bool,
    pub stderr_tail: String,
}

/// `baton run FLOW --input k=v… --home HOME`, timed.
pub fn run_baton(bin: &Path, flow: &Path, inputs: &[(&str, &str)], home: &Path) -> ChildRun {
    let timed = Path::new("/usr/bin/time").exists();
    let mut cmd = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-v").arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.arg("run").arg(flow).arg("--home").arg(home);
    for (k, v) in inputs {
        cmd.arg("--input").arg(format!("{k}={v}"));
    }
    let started = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let max_rss_kb = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok());
    let tail: Vec<&str> = stderr.lines().rev().take(25).collect();
    ChildRun {
        wall,
        max_rss_kb,
        success: out.status.success(),
        stderr_tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    }
}

/// An embedded engine in a temp home, as `baton run` builds it.
pub struct InProcess {
    pub embedded: Embedded,
}

impl InProcess {
    pub fn open(home: &Path) -> InProcess {
        let embedded = Embedded::open_local(LocalOptions {
            home: home.to_path_buf(),
            workers: 4,
            echo_logs: false,
            secrets: Default::default(),
            envs: Map::new(),
            progress: None,
            plugins: Default::default(),
            sweep_in_background: false,
        })
        .unwrap_or_else(|e| panic!("open engine: {e}"));
        InProcess { embedded }
    }

    pub fn flow(&self, yaml: &str) -> Arc<Flow> {
        let registry = shared::plugins::Registry::builtin();
        let renderer = shared::template::Renderer::new();
        let (flow, diags) = shared::validate::validate_source("bench.yaml", yaml, &registry, &renderer);
        assert!(diags.is_empty(), "invalid bench flow: {diags:?}");
        self.embedded.engine.flows.insert(flow.unwrap_or_else(|| panic!("no flow")))
    }

    /// Runs a flow to the end; its wall time.
    pub async fn run(&self, flow: &Flow, inputs: Value) -> (Execution, Duration) {
        let updates = self.embedded.updates();
        let req = LaunchRequest { inputs: inputs.as_object().cloned().unwrap_or_default(), ..LaunchRequest::default() };
        let started = Instant::now();
        let exec = self.embedded.launch(flow, req).await.unwrap_or_else(|e| panic!("launch: {e}"));
        let done = self.embedded.wait(&exec.id, updates, |_| {}).await.unwrap_or_else(|e| panic!("wait: {e}"));
        (done, started.elapsed())
    }
}

/// The median of some durations.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    let n = v.len();
    if n == 0 {
        Duration::ZERO
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

/// Average CSV bytes per data row of the generator.
pub fn bytes_per_row() -> f64 {
    let n = 20_000;
    let total: usize = (0..n).map(|i| taxi::csv_line(taxi::Kind::Yellow, 2019, 1, 1_000_000, i).len() + 1).sum();
    total as f64 / n as f64
}

/// The staging table DDL of the example flow for yellow.
pub fn yellow_staging_ddl() -> String {
    match &e2e::zoomcamp::branch_steps(taxi::Kind::Yellow, 2019, 1)[1] {
        e2e::zoomcamp::Step::Sql(s) => s.clone(),
        other => panic!("unexpected step {other:?}"),
    }
}

/// The yellow CopyIn columns of the example flow.
pub fn yellow_columns() -> Vec<String> {
    e2e::zoomcamp::branch_steps(taxi::Kind::Yellow, 2019, 1)
        .into_iter()
        .find_map(|s| match s {
            e2e::zoomcamp::Step::CopyIn { columns, .. } => Some(columns),
            _ => None,
        })
        .unwrap_or_default()
}
