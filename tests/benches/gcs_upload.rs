//! Upload of a large file (1 GiB by default, `BATON_BENCH_GCS_MB` to
//! change it) to the GCS emulator (fake-gcs-server, `e2e::emulators`):
//! Baton's `gcs.Upload` task, run by the embedded engine in a child
//! process so its peak RSS (`VmHWM`) is the uploading process's own, versus
//! `gsutil cp` of the same file in the same run. `gsutil` here is the SDK's
//! gcloud-storage shim (`GSUtil:use_gcloud_storage=True`), pointed at the
//! emulator with `CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE` and no
//! credentials: the classic gsutil JSON client always speaks HTTPS, which
//! the emulator does not. Its peak RSS comes from `/usr/bin/time`.
//!
//! `cargo bench -p e2e --bench gcs_upload`. Prints a table; asserts only
//! that every upload stored the whole file, nothing about speed.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::{Map, Value, json};
use shared::plugins::PluginConfig;
use shared::plugins::gcp::GcpConfig;
use shared::runtime::embedded::{Embedded, LocalOptions};
use shared::runtime::launcher::LaunchRequest;

const CHILD: &str = "--baton-upload-child";

/// `VmHWM` (peak RSS) or `VmRSS` of this process, in KiB.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// Deterministic bytes that do not compress.
fn write_file(path: &Path, len: u64) {
    use std::io::Write;
    let mut f =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create the source file"));
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for c in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).expect("write the source file");
        left -= n as u64;
    }
}

async fn run(embedded: &Embedded, yaml: &str) -> shared::model::Execution {
    let registry = shared::plugins::Registry::builtin();
    let renderer = shared::template::Renderer::new();
    let (flow, diags) = shared::validate::validate_source("bench.yaml", yaml, &registry, &renderer);
    assert!(diags.is_empty(), "{diags:?}");
    let flow = embedded.engine.flows.insert(flow.expect("flow"));
    let updates = embedded.updates();
    let exec = embedded.launch(&flow, LaunchRequest::default()).await.expect("launch");
    embedded.wait(&exec.id, updates, |_| {}).await.expect("wait")
}

/// The child: Baton's engine uploading `file` to `gs://bucket/object`.
fn child(args: &[String]) {
    let [storage_host, file, bucket, object] = args else { panic!("child arguments: host file bucket object") };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let home = std::env::temp_dir().join(format!("baton-bench-gcs-{}", std::process::id()));
    let out = rt.block_on(async {
        let plugins = PluginConfig { gcp: GcpConfig::emulators(Some(storage_host), None), ..PluginConfig::default() };
        let embedded = Embedded::open_local(LocalOptions {
            home: home.clone(),
            workers: 2,
            echo_logs: false,
            secrets: Default::default(),
            envs: Map::new(),
            progress: None,
            plugins,
            sweep_in_background: false,
        })
        .expect("engine");
        let defaults = "pluginDefaults:\n  - type: io.kestra.plugin.gcp\n    values:\n      projectId: bench\n";
        let setup = format!(
            "id: setup\nnamespace: bench\ntasks:\n  - id: bucket\n    type: io.kestra.plugin.gcp.gcs.CreateBucket\n    name: {bucket}\n    ifExists: SKIP\n{defaults}"
        );
        let e = run(&embedded, &setup).await;
        assert_eq!(e.state.current.as_str(), "SUCCESS", "{:?}", e.error);
        let upload = format!(
            "id: upload\nnamespace: bench\ntasks:\n  - id: upload\n    type: io.kestra.plugin.gcp.gcs.Upload\n    from: {file}\n    to: gs://{bucket}/{object}\n{defaults}"
        );
        let before = status_kib("VmHWM:");
        let start = Instant::now();
        let e = run(&embedded, &upload).await;
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(e.state.current.as_str(), "SUCCESS", "{:?}", e.error);
        json!({"seconds": secs, "hwm_before_kib": before, "hwm_kib": status_kib("VmHWM:")})
    });
    let _ = std::fs::remove_dir_all(&home);
    println!("{out}");
}

struct Row {
    tool: &'static str,
    seconds: f64,
    peak_rss_kib: Option<u64>,
    note: String,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == CHILD) {
        return child(&args[i + 1..]);
    }
    let mb: u64 = std::env::var("BATON_BENCH_GCS_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let len = mb * 1024 * 1024;
    let emu = e2e::emulators::emulators();
    let src = emu.dir.join("bench-source.bin");
    eprintln!("writing a {mb} MiB source file…");
    write_file(&src, len);
    let bucket = format!("bench-{}", std::process::id());
    let mut rows = Vec::new();

    // Baton, in its own process.
    let exe = std::env::current_exe().expect("bench executable");
    let out = Command::new(&exe)
        .arg(CHILD)
        .args([&emu.storage_host, &src.display().to_string(), &bucket, "baton/source.bin"])
        .output()
        .expect("run the upload child");
    assert!(out.status.success(), "the Baton upload failed: {}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(line.lines().last().unwrap_or_default()).expect("child output");
    let stored = emu.gcs_root.join(&bucket).join("baton/source.bin");
    assert_eq!(std::fs::metadata(&stored).map(|m| m.len()).ok(), Some(len), "Baton stored the whole file");
    let _ = std::fs::remove_file(&stored);
    rows.push(Row {
        tool: "Baton gcs.Upload",
        seconds: v["seconds"].as_f64().unwrap_or(0.0),
        peak_rss_kib: v["hwm_kib"].as_u64(),
        note: format!("engine started: {} MiB before the upload", v["hwm_before_kib"].as_u64().unwrap_or(0) / 1024),
    });

    // gsutil cp (the gcloud-storage shim), same file, same emulator.
    let time_file = emu.dir.join("gsutil.time");
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&time_file)
        .args(["gsutil", "-o", "GSUtil:use_gcloud_storage=True", "-o", "GSUtil:hidden_shim_mode=no_fallback", "cp"])
        .arg(&src)
        .arg(format!("gs://{bucket}/gsutil/source.bin"))
        .env("CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE", format!("http://{}/", emu.storage_host))
        .env("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true")
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .env("CLOUDSDK_CORE_PROJECT", "bench")
        .output();
    let secs = start.elapsed().as_secs_f64();
    match out {
        Ok(o) if o.status.success() => {
            let stored = emu.gcs_root.join(&bucket).join("gsutil/source.bin");
            assert_eq!(std::fs::metadata(&stored).map(|m| m.len()).ok(), Some(len), "gsutil stored the whole file");
            let rss =
                std::fs::read_to_string(&time_file).ok().and_then(|t| t.trim().lines().last()?.trim().parse().ok());
            rows.push(Row { tool: "gsutil cp", seconds: secs, peak_rss_kib: rss, note: "gcloud storage shim".into() });
        }
        Ok(o) => eprintln!("gsutil cp failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => eprintln!("gsutil cp could not run: {e}"),
    }
    let _ = std::fs::remove_file(&src);

    println!("\nUpload of {mb} MiB to fake-gcs-server ({}), one run each\n", emu.storage_host);
    println!("| tool | seconds | MB/s | peak RSS | note |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        let mbs = len as f64 / 1e6 / r.seconds;
        let rss = r.peak_rss_kib.map(|k| format!("{} MiB", k / 1024)).unwrap_or_else(|| "?".into());
        println!("| {} | {:.2} | {:.0} | {} | {} |", r.tool, r.seconds, mbs, rss, r.note);
    }
    if let [baton, gsutil] = rows.as_slice() {
        println!("\nBaton / gsutil throughput: {:.2}x", gsutil.seconds / baton.seconds);
    }
}
