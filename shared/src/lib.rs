//! Baton: Kestra flows without a Kestra server.
//!
//! One engine with two runtimes. The pure parts — the flow model
//! ([`model`]), validation ([`validate`]), templates ([`template`]) and the
//! executor's step function ([`executor`]) — do no I/O. The runtime
//! ([`runtime`]) wires them to backends ([`backend`]) through small traits,
//! and plugins ([`plugins`]) run the runnable tasks in workers.

pub mod api;
pub mod blueprints;
#[cfg(feature = "gcp")]
pub mod functions;
pub mod prometheus;
pub mod reference;
pub mod serve;
pub mod serve_guard;
pub mod server;
pub mod telemetry;

// The layers below, as crates of their own (`shared/model`,
// `shared/template`, `shared/executor`, `shared/backend`, `shared/local`,
// `shared/gcp`, `shared/plugins`, `shared/runtime`), under the paths the
// rest of this crate and its users name them by.
pub use baton_executor as executor;
#[cfg(feature = "gcp")]
pub use baton_gcp as gcp;
pub use baton_model as model;
pub use baton_model::{dialect, yaml};
pub use baton_plugins as plugins;
pub use baton_runtime::{backend, graph, migrate, runtime, schedule, schema, triggers, unittest, validate};
pub use baton_template as template;
pub use baton_template::{conditions, inputs};

pub use baton_allocator as allocator;
pub use baton_allocator::Allocator;

/// The version and the commit built from (`shared/build.rs`):
/// `0.1.0 (commit 1a2b3c4d5e)`, `-dirty` after the hash when tracked files
/// differed from it, `unknown` when not built from a git checkout.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("BUILD_GIT_COMMIT"), ")");
