//! Kestra's Kafka plugin (`io.kestra.plugin.kafka.*`, feature `kafka`) on
//! librdkafka (`rdkafka`): [`produce`] (`Produce`), [`consume`] (`Consume`)
//! and what the triggers share with it ([`subscribe`], [`pull`];
//! `baton_runtime::triggers::kafka`), over [`conn`] (the client's
//! properties) and [`serde`] (Kestra's serdes). Run by the `core` worker
//! group.

pub mod conn;
mod consume;
mod produce;
pub mod pull;
pub mod serde;
pub mod subscribe;

pub use rdkafka;

use crate::{Registry, TaskError};

/// What a validation check says of a property's error: its message alone
/// (the validator names the property and its position).
fn message(e: TaskError) -> String {
    match e {
        TaskError::Property { message, .. } => message,
        other => other.to_string(),
    }
}

/// Registers the Kafka tasks.
pub fn register(r: &mut Registry) {
    r.register(*produce::DEF);
    r.register(*consume::DEF);
}
