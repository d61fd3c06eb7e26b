//! End-to-end tests: real flows on the embedded runtime (SQLite, a storage
//! folder, in-process queues, the worker pool), one test binary.

mod sched_support;
mod support;

mod compress;
mod backfill;
mod concurrency;
#[cfg(feature = "duckdb")]
mod duckdb;
mod flows;
mod functions;
mod gcp_backends;
mod gcp_tasks;
mod http;
mod schedule;
mod server;
mod postgres;
mod scripts;
mod taxi_pg;
mod terraform;
