//! End-to-end tests: real flows on the embedded runtime (SQLite, a storage
//! folder, in-process queues, the worker pool), one test binary.

mod sched_support;
mod support;

mod ai;
mod backfill;
mod bounds;
mod bounds_disk;
mod cloud_run;
mod compress;
mod concurrency;
mod containers;
mod core_flowables;
mod core_tasks;
mod dbt;
mod deployed;
mod deployed_backfill;
mod deployed_pause;
mod dialect;
#[cfg(feature = "duckdb")]
mod duckdb;
mod events;
mod events_pubsub;
mod flow_triggers;
mod flowkeys;
mod flows;
mod for_each_item;
mod functions;
mod fuzz;
mod gcp_backends;
mod gcp_tasks;
mod git;
mod hostile;
mod http;
mod kestra_client;
mod loops;
mod migrate;
mod nsfiles;
mod postgres;
mod schedule;
mod schedule_conditions;
mod scripts;
mod server;
mod server_bounds;
mod server_bulk;
mod server_graph;
mod server_http;
mod server_pause;
mod server_replay;
mod taxi_pg;
mod terraform;
mod terraform_deploy;
mod terraform_events;
mod ui;
mod ui_ops;
mod webhook;
