//! Amazon SQS (`io.kestra.plugin.aws.sqs.*`): [`publish`] and [`consume`]
//! tasks on the official SDK, and what they share with the triggers
//! (`baton_runtime::triggers::sqs`) in [`queue`].

pub mod consume;
pub mod publish;
pub mod queue;

use crate::Registry;

/// Registers the SQS tasks.
pub fn register(r: &mut Registry) {
    r.register(*publish::DEF);
    r.register(*consume::DEF);
}
