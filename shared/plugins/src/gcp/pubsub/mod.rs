//! The Pub/Sub tasks (`io.kestra.plugin.gcp.pubsub.*`): Publish and
//! Consume, with Kestra's message model in [`message`]. The Pub/Sub
//! triggers are the runtime's (`triggers::pubsub`).

pub mod consume;
pub mod message;
pub mod publish;

use crate::Registry;

/// Registers the Pub/Sub tasks.
pub fn register(r: &mut Registry) {
    r.register(*publish::DEF);
    r.register(*consume::DEF);
}
