//! Kestra's Redis plugin (`io.kestra.plugin.redis.*`, feature `redis`):
//! the string tasks (`Set`, `Get`, `Delete`, `Increment`, `Ttl`), the list
//! tasks (`ListPush`, `ListPop`) and `pubsub.Publish`, over one RESP
//! connection per task run (`conn`). Run by the `core` worker group.
//!
//! Not here, refused by name (see `registry::FAMILIES`): the RedisJSON
//! tasks (`json.*`, a server module Debian's Redis lacks), the vector
//! tasks (`vector.*`, Redis Stack) and `cli.RedisCLI`. The list triggers
//! are the runtime's (`triggers::redis`); [`batch`] pops for them.

pub mod batch;
mod conn;
mod list;
mod pubsub;
mod records;
mod string;

use super::Registry;

/// Registers this group's plugins.
pub fn register(r: &mut Registry) {
    r.register(*string::SET);
    r.register(*string::GET);
    r.register(*string::DELETE);
    r.register(*string::INCREMENT);
    r.register(*string::TTL);
    r.register(*list::PUSH);
    r.register(*list::POP);
    r.register(*pubsub::PUBLISH);
}
