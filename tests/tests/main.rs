//! End-to-end tests: real flows on the embedded runtime (SQLite, a storage
//! folder, in-process queues, the worker pool), one test binary.

mod support;

mod concurrency;
mod flows;
mod http;
