//! End-to-end tests: real flows on the embedded runtime (SQLite, a storage
//! folder, in-process queues, the worker pool), one test binary.

mod support;

mod compress;
mod concurrency;
mod flows;
mod functions;
mod gcp_backends;
mod http;
mod scripts;
mod postgres;
mod taxi_pg;
mod terraform;
#[cfg(feature = "duckdb")]
mod duckdb;
