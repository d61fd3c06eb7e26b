//! Taxi pipeline benchmarks (numbers, not tests), on a throwaway PostgreSQL
//! 15 cluster started for the run:
//!   (a) CopyIn of a 1M-row yellow CSV from internal storage vs `psql \copy`;
//!   (b) the zoomcamp taxi pipeline for a 1M-row month via `baton run` vs the
//!       same steps with wget | gunzip and psql;
//!   (c) peak RSS of `baton run` for download → decompress → CopyIn at
//!       several CSV sizes (default 256 MB and 1 GB).
//!
//! `cargo bench -p e2e --bench taxi [-- copy|pipeline|rss]`. Environment:
//! `BATON_BENCH_ROWS` (default 1000000), `BATON_BENCH_RSS_MB` (default
//! "256,1024"), `BATON_BENCH_ROUNDS` (pipeline rounds, default 2),
//! `BATON_BIN` (a prebuilt release baton; else it is built).

mod common;
mod copy_in;
mod pipeline;
mod rss;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    let rows: usize = env_or("BATON_BENCH_ROWS", 1_000_000);
    let rounds: usize = env_or("BATON_BENCH_ROUNDS", 2);
    let rss_sizes: Vec<u64> = std::env::var("BATON_BENCH_RSS_MB")
        .unwrap_or_else(|_| "256,1024".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();

    let baton = common::baton_binary();
    let bench = common::Bench::new(baton);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let mut lines = Vec::new();

    if wanted("copy") {
        eprintln!("== (a) CopyIn {rows} rows vs psql \\copy");
        let r = copy_in::run(&bench, &rt, rows);
        let (tb, tp) = (r.baton.as_secs_f64(), r.psql.as_secs_f64());
        lines.push(format!(
            "| CopyIn {} rows ({:.0} MB CSV) from internal storage | Baton {:.2} s = {:.0} rows/s | psql \\copy {:.2} s = {:.0} rows/s | {:.2}x of psql (aim >= 0.9x) |",
            r.rows,
            r.mb,
            tb,
            r.rows as f64 / tb,
            tp,
            r.rows as f64 / tp,
            tp / tb
        ));
    }
    if wanted("pipeline") {
        eprintln!("== (b) taxi pipeline {rows} rows, baton run vs wget|gunzip + psql");
        let r = pipeline::run(&bench, rows, rounds);
        let (tb, tp) = (r.baton.as_secs_f64(), r.psql.as_secs_f64());
        lines.push(format!(
            "| taxi pipeline, {} rows (median of {rounds}) | baton run {:.2} s (peak RSS {}) | wget|gunzip + psql {:.2} s | overhead {:+.1}% (aim < 10%) |",
            r.rows,
            tb,
            r.baton_rss_kb.map(|k| format!("{:.0} MB", k as f64 / 1024.0)).unwrap_or_else(|| "n/a".into()),
            tp,
            (tb - tp) / tp * 100.0
        ));
    }
    if wanted("rss") {
        for mb in &rss_sizes {
            eprintln!("== (c) peak RSS, download → decompress → CopyIn of a {mb} MB CSV");
            let r = rss::run(&bench, *mb);
            lines.push(format!(
                "| download → FileDecompress → CopyIn, {:.0} MB CSV ({:.0} MB gz, {} rows) | {:.1} s | peak RSS {} | (aim < 64 MB, flat) |",
                r.csv_mb,
                r.gz_mb,
                r.rows,
                r.wall.as_secs_f64(),
                r.max_rss_kb.map(|k| format!("{:.1} MB", k as f64 / 1024.0)).unwrap_or_else(|| "n/a".into()),
            ));
        }
    }
    println!(
        "\nTaxi benchmarks (PostgreSQL 15, fsync=off, {} cores):",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    for l in lines {
        println!("{l}");
    }
}
