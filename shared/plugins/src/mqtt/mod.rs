//! Kestra's MQTT plugin (`io.kestra.plugin.mqtt.*`, feature `mqtt`): the
//! [`publish`] and [`subscribe`] tasks over one session with the broker
//! ([`conn`]: MQTT 3.1.1 or 5, TCP or TLS), and what they share with the
//! triggers (`baton_runtime::triggers::mqtt`): the session, [`message`]'s
//! payloads and records, and [`subscribe::collect`]. Run by the `core`
//! worker group.

pub mod conn;
mod driver;
pub mod message;
pub mod publish;
pub mod subscribe;
mod tls;

use crate::Registry;

/// Registers the MQTT tasks.
pub fn register(r: &mut Registry) {
    r.register(*publish::DEF);
    r.register(*subscribe::DEF);
}
