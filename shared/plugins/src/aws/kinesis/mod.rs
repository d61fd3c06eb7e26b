//! Amazon Kinesis Data Streams (`io.kestra.plugin.aws.kinesis.*`, plugin-aws
//! `kinesis/`): [`put`] (`PutRecords`) and [`consume`] (`Consume`), on the
//! official SDK's Kinesis client. The polling `Trigger` reads through
//! [`consume::Reader`] (the runtime's `triggers::kinesis`); the realtime
//! trigger is not implemented: refused by name at validation
//! (`registry::left_out`).

pub mod consume;
pub mod put;

use serde::Deserialize;

use crate::{Declare, TaskError, de};

use super::super::Registry;

/// Registers this family's plugins.
pub fn register(r: &mut Registry) {
    r.register(*put::DEF);
    r.register(*consume::DEF);
}

/// Which stream: by name or by ARN (`PutRecords` takes either).
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct StreamProps {
    /// The stream's name (this or streamArn).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub stream_name: Option<String>,
    /// The stream's ARN (this or streamName).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub stream_arn: Option<String>,
}

/// The stream as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stream {
    Name(String),
    Arn(String),
}

impl Stream {
    /// How logs and errors name it.
    pub fn label(&self) -> &str {
        match self {
            Stream::Name(s) | Stream::Arn(s) => s,
        }
    }
}

impl StreamProps {
    /// The stream, the ARN first as Kestra; an error when neither is set.
    pub fn stream(&self) -> Result<Stream, TaskError> {
        let set = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        match (set(&self.stream_arn), set(&self.stream_name)) {
            (Some(arn), _) => Ok(Stream::Arn(arn)),
            (None, Some(name)) => Ok(Stream::Name(name)),
            (None, None) => Err(TaskError::property("streamName", "either streamName or streamArn has to be set")),
        }
    }
}
