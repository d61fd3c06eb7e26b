//! Kestra's AMQP plugin (`io.kestra.plugin.amqp.*`, feature `amqp`;
//! RabbitMQ and any AMQP 0-9-1 broker) on lapin: [`publish`] (`Publish`),
//! [`consume`] (`Consume`, and what the triggers share with it:
//! `baton_runtime::triggers::amqp`), [`admin`] (`CreateQueue`,
//! `DeclareExchange`, `QueueBind`), over [`conn`] and [`message`]. Run by
//! the `core` worker group.

mod admin;
pub mod conn;
pub mod consume;
pub mod message;
mod publish;

pub use lapin;

use crate::{Registry, TaskError};

/// What a validation check says of a property's error: its message alone
/// (the validator names the property and its position).
fn message(e: TaskError) -> String {
    match e {
        TaskError::Property { message, .. } => message,
        other => other.to_string(),
    }
}

/// Registers the AMQP tasks.
pub fn register(r: &mut Registry) {
    r.register(*publish::DEF);
    r.register(*consume::DEF);
    r.register(*admin::CREATE_QUEUE);
    r.register(*admin::DECLARE_EXCHANGE);
    r.register(*admin::QUEUE_BIND);
}
