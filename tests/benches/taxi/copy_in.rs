//! (a) CopyIn of an N-row yellow CSV already in internal storage, through
//! the engine (flow → worker → `jdbc.postgresql.CopyIn`), against
//! `psql -c "\copy …"` of the same file into the same table, alternating,
//! three rounds each.

use std::time::{Duration, Instant};

use e2e::taxi::{self, Kind};
use serde_json::json;
use shared::model::StateType;

use crate::common::{Bench, InProcess, median, yellow_columns, yellow_staging_ddl};

pub struct Report {
    pub rows: usize,
    pub mb: f64,
    pub baton: Duration,
    pub psql: Duration,
}

pub fn run(b: &Bench, rt: &tokio::runtime::Runtime, rows: usize) -> Report {
    let csv = b.work.join("copy_in/yellow.csv");
    taxi::write_csv(Kind::Yellow, 2019, 1, rows, &csv).unwrap_or_else(|e| panic!("write csv: {e}"));
    let mb = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    let db = b.cluster.create_database("bench_copy");
    b.psql(&db, &yellow_staging_ddl());
    let columns = yellow_columns().join(",");

    // the engine spawns its workers: open it inside the runtime
    let engine = {
        let _guard = rt.enter();
        InProcess::open(&b.work.join("copy_in/home"))
    };
    let stored = "/bench/copy/yellow.csv";
    rt.block_on(async {
        let f = tokio::fs::File::open(&csv).await.unwrap_or_else(|e| panic!("{e}"));
        engine.embedded.engine.storage.put(stored, Box::pin(f)).await.unwrap_or_else(|e| panic!("store: {e}"));
    });
    let flow = engine.flow(&format!(
        "id: copy_in\nnamespace: bench\ntasks:\n  - id: copy\n    type: io.kestra.plugin.jdbc.postgresql.CopyIn\n    \
         from: kestra://{stored}\n    table: public.yellow_tripdata_staging\n    format: CSV\n    header: true\n    \
         columns: [{columns}]\n{}",
        b.plugin_defaults(&db)
    ));

    let (mut baton, mut psql) = (Vec::new(), Vec::new());
    for round in 0..3 {
        b.psql(&db, "TRUNCATE public.yellow_tripdata_staging");
        let (e, wall) = rt.block_on(engine.run(&flow, json!({})));
        assert_eq!(e.state.current, StateType::Success, "CopyIn failed: {:?}", e.error);
        assert_eq!(b.cluster.count(&db, "SELECT count(*) FROM public.yellow_tripdata_staging"), rows as i64);
        baton.push(wall);

        b.psql(&db, "TRUNCATE public.yellow_tripdata_staging");
        let started = Instant::now();
        let out = b
            .cluster
            .psql_command(&db)
            .arg("-c")
            .arg(format!(
                "\\copy public.yellow_tripdata_staging ({columns}) FROM '{}' WITH (FORMAT CSV, HEADER TRUE)",
                csv.display()
            ))
            .output()
            .unwrap_or_else(|e| panic!("psql: {e}"));
        let wall_psql = started.elapsed();
        assert!(out.status.success(), "psql \\copy failed: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(b.cluster.count(&db, "SELECT count(*) FROM public.yellow_tripdata_staging"), rows as i64);
        psql.push(wall_psql);
        eprintln!(
            "  copy round {}: baton {:.2} s, psql {:.2} s",
            round + 1,
            wall.as_secs_f64(),
            wall_psql.as_secs_f64()
        );
    }
    engine.embedded.shutdown();
    Report { rows, mb, baton: median(baton), psql: median(psql) }
}
