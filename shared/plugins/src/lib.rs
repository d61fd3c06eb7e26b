//! Runnable task plugins: the `RunnableTask` trait, the context a task runs
//! in, and the explicit registry keyed by Kestra type names and aliases.
//! Flowable tasks are not here: the executor interprets them.
//!
//! Layer: above the backend traits and the GCP clients, below the runtime.
//! May depend on `baton-model`, `baton-template`, `baton-executor` (its
//! wire types only), `baton-backend` and `baton-gcp`; never on `shared`
//! (the runtime, the API, the CLI), which run these tasks.

pub mod ai;
pub mod airbyte;
#[cfg(feature = "amqp")]
pub mod amqp;
pub mod apify;
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(any(feature = "compress", feature = "serdes"))]
pub(crate) mod bridge;
pub mod cloudflare;
#[cfg(feature = "compress")]
pub mod compress;
pub mod config;
pub mod context;
mod context_metrics;
pub mod core;
#[cfg(feature = "dbt")]
pub mod dbt;
pub mod de;
pub mod flow_store;
pub mod fs_local;
#[cfg(feature = "gcp")]
pub mod gcp;
#[cfg(feature = "git")]
pub mod git;
#[cfg(feature = "github")]
pub mod github;
pub mod gitlab;
pub mod graphql;
pub mod hightouch;
pub mod jdbc;
pub mod jenkins;
pub mod jira;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod klaviyo;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "notifications")]
pub mod notifications;
pub mod odoo;
#[cfg(feature = "redis")]
pub mod redis;
pub mod registry;
pub mod scripts;
#[cfg(feature = "serdes")]
pub mod serdes;
pub mod servicenow;
pub mod sockets;
pub mod xml;

use async_trait::async_trait;
use serde_json::{Map, Value};

pub use baton_derive::Declare;
pub use config::PluginConfig;
pub use context::RunContext;
pub use registry::{Declared, PluginDef, PropDecl, PropKind, PropSpec, Registry, TypeDecl, left_out};

use baton_model::{Label, StateType};

/// Why a task attempt failed. The message is shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// A property is missing or has the wrong type/value after rendering.
    #[error("invalid property '{property}': {message}")]
    Property { property: String, message: String },
    /// A template failed to render.
    #[error("{0}")]
    Template(String),
    /// The task ran and failed.
    #[error("{0}")]
    Failed(String),
}

impl TaskError {
    pub fn failed(msg: impl Into<String>) -> TaskError {
        TaskError::Failed(msg.into())
    }
    pub fn property(property: &str, msg: impl Into<String>) -> TaskError {
        TaskError::Property { property: property.to_string(), message: msg.into() }
    }
}

/// What a successful attempt produced.
#[derive(Debug, Clone, Default)]
pub struct TaskOutput {
    /// Kestra's output names (`uri`, `value`, `rows`…).
    pub outputs: Map<String, Value>,
    /// `Some(WARNING)` to end in WARNING (e.g. stderr with `warningOnStdErr`).
    pub state: Option<StateType>,
    /// Labels to set on the execution.
    pub labels: Vec<Label>,
    /// A change of the execution's variables (`SetVariables`, `UnsetVariables`).
    pub variables: Option<baton_model::variables::VariablesChange>,
    /// The task was started elsewhere (a Cloud Run Job execution) and its
    /// result is reported later by whoever sees it end (the sweep): the
    /// worker reports nothing now.
    pub detached: bool,
}

impl TaskOutput {
    /// No outputs (Kestra's `VoidOutput`).
    pub fn empty() -> TaskOutput {
        TaskOutput::default()
    }

    pub fn with(outputs: Map<String, Value>) -> TaskOutput {
        TaskOutput { outputs, ..TaskOutput::default() }
    }
}

/// A runnable task, built from its rendered properties.
#[async_trait]
pub trait RunnableTask: Send + Sync {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError>;
}

/// Deserializes rendered properties into a plugin's property struct, with
/// an error naming the property that is wrong.
pub fn parse_props<T: serde::de::DeserializeOwned>(props: &Map<String, Value>) -> Result<T, TaskError> {
    let v = Value::Object(props.clone());
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        TaskError::Property { property: if path == "." { String::new() } else { path }, message: e.inner().to_string() }
    })
}
