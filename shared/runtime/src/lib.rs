//! Baton's runtime: what turns a flow file into executions that run.
//!
//! Flow loading and validation with file:line:column errors ([`validate`]),
//! the JSON Schema and editor completion ([`schema`]), triggers and their
//! conditions ([`triggers`], [`schedule`]), the topology graph ([`graph`]),
//! flow migration between Kestra dialects ([`migrate`]), and the engine
//! ([`runtime`]): the launcher, the executor service around the pure step,
//! the workers that run the plugins, and the embedded runtime on the local
//! backends.
//!
//! Layer: above the flow model, the templates, the executor, the backend
//! contracts and their implementations, and the plugins; below the API and
//! UI (`baton-api`), the `baton` CLI and the Cloud Run functions
//! (`shared`), which use it and which it never names. The crates below are
//! re-exported under the names the code uses for them ([`model`],
//! [`template`], [`executor`], [`backend`], [`plugins`]…).

pub mod backend;
pub mod graph;
pub mod migrate;
pub mod runtime;
pub mod schedule;
pub mod schema;
pub mod triggers;
pub mod unittest;
pub mod validate;

pub use baton_executor as executor;
#[cfg(feature = "gcp")]
pub use baton_gcp as gcp;
pub use baton_model as model;
pub use baton_model::{dialect, yaml};
pub use baton_plugins as plugins;
pub use baton_template as template;
pub use baton_template::{conditions, inputs};
