//! The wire types the engine and the runtime exchange: the events the
//! executor reacts to, the jobs it hands workers (with their template
//! context) and the metrics an attempt reports. JSON on every queue, so the
//! embedded runtime and Pub/Sub carry the same bytes.

pub mod job_context;
pub mod messages;
pub mod metric;
