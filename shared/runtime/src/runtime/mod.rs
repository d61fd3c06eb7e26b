//! The runtime: the launcher, the executor service and the workers that
//! drive the pure engine over backends and queues, plus the embedded
//! (single-process) wiring.

pub mod attempt_logs;
pub mod backfill;
pub mod batch;
pub mod diskfull;
pub mod embedded;
pub mod engine;
pub mod env;
pub mod events;
pub mod executor;
pub mod fanout;
pub mod fixtures;
pub mod flow_catalog;
pub mod flow_files;
pub mod flow_triggers;
pub mod flows;
pub mod for_each_item;
pub mod host;
pub use baton_model::wire::job_context;
pub mod launcher;
pub mod log_bounds;
pub mod logs;
pub mod messages;
mod metric_handles;
pub mod metrics;
pub mod recovery;
pub mod resume;
pub mod scheduler;
pub mod secrets;
pub mod slots;
pub mod stop_after;
pub mod subflow_fn;
pub mod subflow_outputs;
pub mod subflow_start;
pub mod task_cache;
pub mod telemetry;
pub mod toggle;
pub mod worker;
