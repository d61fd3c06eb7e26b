//! Baton: Kestra flows without a Kestra server.
//!
//! One engine with two runtimes. The pure parts — the flow model
//! ([`model`]), validation ([`validate`]), templates ([`template`]) and the
//! executor's step function ([`executor`]) — do no I/O. The runtime
//! ([`runtime`]) wires them to backends ([`backend`]) through small traits,
//! and plugins ([`plugins`]) run the runnable tasks in workers.

pub mod api;
pub mod backend;
pub mod blueprints;
pub mod conditions;
pub mod dialect;
pub mod executor;
pub mod functions;
pub mod gcp;
pub mod graph;
pub mod inputs;
pub mod migrate;
pub mod model;
pub mod plugins;
pub mod runtime;
pub mod schedule;
pub mod schema;
pub mod serve;
pub mod server;
pub mod template;
pub mod triggers;
pub mod validate;
pub mod yaml;

pub use baton_allocator as allocator;
pub use baton_allocator::Allocator;
