//! (b) The whole zoomcamp taxi pipeline for an N-row yellow month through
//! `baton run` (the example flow: Labels, shell wget | gunzip, If, create
//! tables, truncate, CopyIn, md5 UPDATE, MERGE, purge) against the same
//! steps done directly: the same `wget | gunzip`, then the flow's own SQL
//! with `psql` (`\copy` for CopyIn). Fresh database per run, alternating.

use std::process::Command;
use std::time::{Duration, Instant};

use e2e::taxi::{self, Kind};
use e2e::zoomcamp::{self, Step};

use crate::common::{Bench, median, run_baton};

pub struct Report {
    pub rows: usize,
    pub baton: Duration,
    pub psql: Duration,
    pub baton_rss_kb: Option<u64>,
}

pub fn run(b: &Bench, rows: usize, rounds: usize) -> Report {
    let (year, month) = (2019, 1);
    let asset = zoomcamp::asset_path(&b.served, Kind::Yellow, year, month);
    taxi::write_csv_gz(Kind::Yellow, year, month, rows, &asset).unwrap_or_else(|e| panic!("write gz: {e}"));
    let file = taxi::file_name(Kind::Yellow, year, month);
    let url = format!("{}/DataTalksClub/nyc-tlc-data/releases/download/yellow/{file}.gz", b.base);

    let (mut baton, mut psql, mut rss) = (Vec::new(), Vec::new(), None);
    for round in 0..rounds {
        // Baton
        let db = b.cluster.create_database("bench_pipe_baton");
        let flow = b.work.join(format!("pipeline-{round}.yaml"));
        let text = zoomcamp::postgres_taxi_flow(&b.base, &b.cluster.jdbc_url(&db), e2e::pg::USER, e2e::pg::PASSWORD);
        std::fs::write(&flow, text).unwrap_or_else(|e| panic!("{e}"));
        let home = b.work.join(format!("pipeline-home-{round}"));
        let r = run_baton(&b.baton, &flow, &[("taxi", "yellow"), ("year", "2019"), ("month", "01")], &home);
        assert!(r.success, "baton run failed:\n{}", r.stderr_tail);
        assert_eq!(b.cluster.count(&db, "SELECT count(*) FROM yellow_tripdata"), rows as i64);
        baton.push(r.wall);
        rss = rss.max(r.max_rss_kb);
        let _ = std::fs::remove_dir_all(&home);

        // psql
        let db = b.cluster.create_database("bench_pipe_psql");
        let dir = b.work.join(format!("psql-{round}"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let csv = dir.join(&file);
        let mut script = String::new();
        for step in zoomcamp::branch_steps(Kind::Yellow, year, month) {
            match step {
                Step::Sql(sql) => script.push_str(&format!("{}\n", sql.trim())),
                Step::CopyIn { table, columns } => script.push_str(&format!(
                    "\\copy {table} ({}) FROM '{}' WITH (FORMAT CSV, HEADER TRUE)\n",
                    columns.join(","),
                    csv.display()
                )),
            }
        }
        let sql_file = dir.join("pipeline.sql");
        std::fs::write(&sql_file, script).unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        let st = Command::new("sh")
            .arg("-c")
            .arg(format!("wget -qO- '{url}' | gunzip > '{}'", csv.display()))
            .status()
            .unwrap_or_else(|e| panic!("sh: {e}"));
        assert!(st.success(), "wget | gunzip failed");
        let out = b.cluster.psql_command(&db).arg("-f").arg(&sql_file).output().unwrap_or_else(|e| panic!("{e}"));
        let wall = started.elapsed();
        assert!(out.status.success(), "psql -f failed: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(b.cluster.count(&db, "SELECT count(*) FROM yellow_tripdata"), rows as i64);
        psql.push(wall);
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!(
            "  pipeline round {}: baton {:.2} s, wget|gunzip + psql {:.2} s",
            round + 1,
            baton[round].as_secs_f64(),
            wall.as_secs_f64()
        );
    }
    Report { rows, baton: median(baton), psql: median(psql), baton_rss_kb: rss }
}
