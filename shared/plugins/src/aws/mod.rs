//! The AWS task plugins (`io.kestra.plugin.aws.*`, worker group `aws`):
//! S3 ([`s3`]), SQS ([`sqs`]), DynamoDB ([`dynamodb`]), EventBridge ([`eventbridge`]), Kinesis Data Streams ([`kinesis`]), Athena queries ([`athena`]) and ECR's authorization token ([`ecr`]), on the official AWS
//! SDK, with what every AWS type shares in [`connection`] (region,
//! endpoint, credentials, STS role).

pub mod athena;
pub mod connection;
pub mod dynamodb;
pub mod ecr;
pub mod eventbridge;
pub mod kinesis;
pub mod s3;
pub mod sqs;

pub use aws_sdk_athena;
pub use aws_sdk_dynamodb;
pub use aws_sdk_eventbridge;
pub use aws_sdk_kinesis;
pub use aws_sdk_s3;
pub use aws_sdk_s3::Client as S3Client;
pub use aws_sdk_sqs;
pub use connection::AwsProps;

use super::Registry;

/// Registers this group's plugins.
pub fn register(r: &mut Registry) {
    s3::register(r);
    sqs::register(r);
    dynamodb::register(r);
    kinesis::register(r);
    r.register(*ecr::DEF);
    r.register(*eventbridge::DEF);
    r.register(*athena::DEF);
}
