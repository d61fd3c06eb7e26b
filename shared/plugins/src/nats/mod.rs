//! Kestra's NATS plugin (`io.kestra.plugin.nats.*`, feature `nats`) on the
//! official client: [`produce`] (`core.Produce`, `core.Request`),
//! [`consume`] (`core.Consume` on JetStream, and what the triggers share
//! with it: `baton_runtime::triggers::nats`) and [`kv`] (key-value
//! buckets), over [`conn`]. Run by the `core` worker group.

pub mod conn;
pub mod consume;
mod kv;
mod produce;

pub use async_nats;

use crate::Registry;

/// Registers the NATS tasks.
pub fn register(r: &mut Registry) {
    r.register(*produce::PRODUCE);
    r.register(*produce::REQUEST);
    r.register(*consume::DEF);
    r.register(*kv::CREATE_BUCKET);
    r.register(*kv::PUT);
    r.register(*kv::GET);
    r.register(*kv::DELETE);
}
