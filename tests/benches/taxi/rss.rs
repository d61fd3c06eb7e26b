//! (c) Peak RSS of `baton run` (launcher, executor and worker in one
//! process) for download → decompress → CopyIn of a yellow CSV.gz of a
//! given uncompressed size: `core.http.Download` (streamed to storage),
//! `compress.FileDecompress` (streamed), `jdbc.postgresql.CopyIn`
//! (streamed). Measured with `/usr/bin/time -v` at several sizes to show it
//! stays flat.

use std::time::Duration;

use e2e::taxi::{self, Kind};

use crate::common::{Bench, bytes_per_row, run_baton, yellow_columns, yellow_staging_ddl};

pub struct Report {
    pub csv_mb: f64,
    pub gz_mb: f64,
    pub rows: usize,
    pub wall: Duration,
    pub max_rss_kb: Option<u64>,
}

pub fn run(b: &Bench, target_mb: u64) -> Report {
    let rows = ((target_mb as f64 * 1e6) / bytes_per_row()) as usize;
    let name = format!("rss/yellow_{target_mb}mb.csv.gz");
    let gz = b.served.join(&name);
    taxi::write_csv_gz(Kind::Yellow, 2020, 1, rows, &gz).unwrap_or_else(|e| panic!("write gz: {e}"));
    let gz_mb = std::fs::metadata(&gz).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    let db = b.cluster.create_database("bench_rss");
    b.psql(&db, &yellow_staging_ddl());
    let flow = b.work.join(format!("rss-{target_mb}.yaml"));
    std::fs::write(
        &flow,
        format!(
            r#"id: rss
namespace: bench
tasks:
  - id: download
    type: io.kestra.plugin.core.http.Download
    uri: {base}/{name}
  - id: decompress
    type: io.kestra.plugin.compress.FileDecompress
    from: "{{{{ outputs.download.uri }}}}"
    compression: GZIP
  - id: copy
    type: io.kestra.plugin.jdbc.postgresql.CopyIn
    from: "{{{{ outputs.decompress.uri }}}}"
    table: public.yellow_tripdata_staging
    format: CSV
    header: true
    columns: [{columns}]
  - id: purge
    type: io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles
{defaults}"#,
            base = b.base,
            columns = yellow_columns().join(","),
            defaults = b.plugin_defaults(&db)
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let home = b.work.join(format!("rss-home-{target_mb}"));
    let r = run_baton(&b.baton, &flow, &[], &home);
    assert!(r.success, "baton run failed:\n{}", r.stderr_tail);
    assert_eq!(b.cluster.count(&db, "SELECT count(*) FROM public.yellow_tripdata_staging"), rows as i64);
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_file(&gz);
    b.psql("postgres", &format!("DROP DATABASE {db}"));
    Report { csv_mb: rows as f64 * bytes_per_row() / 1e6, gz_mb, rows, wall: r.wall, max_rss_kb: r.max_rss_kb }
}
