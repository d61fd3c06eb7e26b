//! End-to-end tests: real flows on the embedded runtime (SQLite, a storage
//! folder, in-process queues, the worker pool), one test binary.

mod support;

mod compress;
mod concurrency;
#[cfg(feature = "duckdb")]
mod duckdb;
mod flows;
mod functions;
mod gcp_backends;
mod gcp_tasks;
mod http;
mod postgres;
mod scripts;
mod taxi_pg;
mod terraform;
