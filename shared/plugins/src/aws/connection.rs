//! What every AWS type shares (plugin-aws `AbstractConnection`): `region`,
//! `endpointOverride`, `forcePathStyle`, `compatibilityMode`, static keys
//! (`accessKeyId`, `secretKeyId`, `sessionToken`) and an STS role to assume
//! (`stsRoleArn`, …). Without keys the AWS default chain is used (the
//! `AWS_*` environment variables, the shared config files, web identity,
//! ECS and EC2 instance roles), as Kestra does.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_s3::config::Region;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use serde::Deserialize;

use crate::{Declare, TaskError, de};

/// Kestra's `AWS_MIN_STS_ROLE_SESSION_DURATION` (the default session length).
pub const DEFAULT_STS_SESSION: Duration = Duration::from_secs(900);

/// The names of [`AwsProps`]' properties as a flow writes them (a
/// trigger picks them out of its own).
pub const AWS_PROPS: &[&str] = &[
    "region",
    "endpointOverride",
    "forcePathStyle",
    "compatibilityMode",
    "accessKeyId",
    "secretKeyId",
    "sessionToken",
    "stsRoleArn",
    "stsRoleExternalId",
    "stsRoleSessionName",
    "stsEndpointOverride",
    "stsRoleSessionDuration",
];

/// The connection properties, `#[serde(flatten)]`ed into each AWS type's.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct AwsProps {
    /// The AWS region (else the default chain's: AWS_REGION, the config file…).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub region: Option<String>,
    /// Another endpoint for the service (an S3-compatible server such as MinIO, a local AWS server): its URL.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub endpoint_override: Option<String>,
    /// Address buckets as a path (`endpoint/bucket/key`) rather than a host name.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    pub force_path_style: Option<bool>,
    /// Kestra's choice of Java client for S3-compatible services; Baton's one client serves both, so either value works the same.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    pub compatibility_mode: Option<bool>,
    /// The access key id (else the default credential chain).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub access_key_id: Option<String>,
    /// The secret access key (with accessKeyId).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub secret_key_id: Option<String>,
    /// A session token for temporary credentials (with accessKeyId).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub session_token: Option<String>,
    /// An IAM role to assume (STS AssumeRole) with the credentials above.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub sts_role_arn: Option<String>,
    /// The external id the role requires.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub sts_role_external_id: Option<String>,
    /// The role session's name.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub sts_role_session_name: Option<String>,
    /// Another STS endpoint (URL).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    pub sts_endpoint_override: Option<String>,
    /// How long the role session lasts.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration", default = "\"PT15M\"")]
    pub sts_role_session_duration: Option<chrono::TimeDelta>,
}

/// An SDK error of `service` (S3, ECR) as a task error: the service's
/// message and code when it answered, else why no answer came.
pub fn sdk_error<E, R>(service: &str, what: &str, e: SdkError<E, R>) -> TaskError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(se) if se.code().is_some() => TaskError::failed(format!(
            "{what}: {} ({})",
            se.message().map_or_else(|| format!("{service} refused the request"), str::to_string),
            se.code().unwrap_or_default()
        )),
        _ => TaskError::failed(format!("{what}: {}", DisplayErrorContext(&e))),
    }
}

fn blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A client of one AWS service for the properties: the shared SDK
/// configuration (region, credentials, STS role) and `endpointOverride`.
/// Every service client is built the same way; each SDK has its own types.
macro_rules! sdk_client {
    ($(#[$doc:meta])* $name:ident, $sdk:ident) => {
        $(#[$doc])*
        pub async fn $name(&self) -> Result<$sdk::Client, TaskError> {
            let conf = self.sdk_config().await?;
            let mut b = $sdk::config::Builder::from(&conf);
            if let Some(url) = blank(&self.endpoint_override) {
                b = b.endpoint_url(url);
            }
            Ok($sdk::Client::from_conf(b.build()))
        }
    };
}

impl AwsProps {
    /// Checks what can be told before any request: keys come in pairs,
    /// endpoints are URLs (not the instance metadata address).
    pub fn check(&self) -> Result<(), TaskError> {
        if blank(&self.access_key_id).is_some() != blank(&self.secret_key_id).is_some() {
            let missing = if blank(&self.access_key_id).is_some() { "secretKeyId" } else { "accessKeyId" };
            return Err(TaskError::property(missing, "accessKeyId and secretKeyId go together: set both or neither"));
        }
        if blank(&self.session_token).is_some() && blank(&self.access_key_id).is_none() {
            return Err(TaskError::property("sessionToken", "a session token needs accessKeyId and secretKeyId"));
        }
        for (name, v) in
            [("endpointOverride", &self.endpoint_override), ("stsEndpointOverride", &self.sts_endpoint_override)]
        {
            if let Some(url) = blank(v) {
                let parsed = reqwest::Url::parse(url)
                    .map_err(|e| TaskError::property(name, format!("'{url}' is not a URL: {e}")))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(TaskError::property(name, format!("'{url}' is not an http(s) URL")));
                }
                // as Kestra: never the instance metadata service
                if parsed.host_str().is_some_and(|h| h.starts_with("169.254.") || h == "[fd00:ec2::254]") {
                    return Err(TaskError::property(name, format!("'{url}' is a link-local address")));
                }
            }
        }
        Ok(())
    }

    /// The SDK configuration: region, credentials (static keys, else the
    /// default chain), then the role assumed with them when `stsRoleArn`.
    async fn sdk_config(&self) -> Result<aws_config::SdkConfig, TaskError> {
        self.check()?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(r) = blank(&self.region) {
            loader = loader.region(Region::new(r.to_string()));
        }
        if let (Some(id), Some(secret)) = (blank(&self.access_key_id), blank(&self.secret_key_id)) {
            let token = blank(&self.session_token).map(str::to_string);
            let creds = Credentials::new(id, secret, token, None, "baton-task-properties");
            loader = loader.credentials_provider(creds);
        }
        let mut conf = loader.load().await;
        if conf.region().is_none() && blank(&self.endpoint_override).is_some() {
            // an S3-compatible server ignores the region, but the signature needs one
            conf = conf.into_builder().region(Region::new("us-east-1")).build();
        }
        if let Some(role) = blank(&self.sts_role_arn) {
            let mut sts_conf = conf.clone();
            if let Some(url) = blank(&self.sts_endpoint_override) {
                sts_conf = sts_conf.into_builder().endpoint_url(url).build();
            }
            let mut b = AssumeRoleProvider::builder(role)
                .session_length(
                    self.sts_role_session_duration.and_then(|d| d.to_std().ok()).unwrap_or(DEFAULT_STS_SESSION),
                )
                .configure(&sts_conf);
            if let Some(n) = blank(&self.sts_role_session_name) {
                b = b.session_name(n);
            }
            if let Some(x) = blank(&self.sts_role_external_id) {
                b = b.external_id(x);
            }
            let provider = b.build().await;
            conf = conf.into_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build();
        }
        Ok(conf)
    }

    /// An S3 client for these properties.
    pub async fn s3(&self) -> Result<aws_sdk_s3::Client, TaskError> {
        let conf = self.sdk_config().await?;
        let mut b = aws_sdk_s3::config::Builder::from(&conf);
        if let Some(url) = blank(&self.endpoint_override) {
            b = b.endpoint_url(url);
        }
        if self.force_path_style == Some(true) {
            b = b.force_path_style(true);
        }
        // checksums only where asked for (`checksumAlgorithm`, `validateChecksum`), as Kestra's client
        b = b
            .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired);
        Ok(aws_sdk_s3::Client::from_conf(b.build()))
    }

    sdk_client!(
        /// An ECR client for these properties.
        ecr, aws_sdk_ecr
    );
    sdk_client!(
        /// An EventBridge client for these properties.
        eventbridge, aws_sdk_eventbridge
    );
    sdk_client!(
        /// A Kinesis Data Streams client for these properties.
        kinesis, aws_sdk_kinesis
    );
    sdk_client!(
        /// An Athena client for these properties.
        athena, aws_sdk_athena
    );
    sdk_client!(
        /// A DynamoDB client for these properties.
        dynamodb, aws_sdk_dynamodb
    );

    /// An SQS client for these properties, waiting at most `connect` for a connection.
    pub async fn sqs(&self, connect: Duration) -> Result<aws_sdk_sqs::Client, TaskError> {
        self.sqs_retrying(connect, 3).await
    }

    /// [`Self::sqs`] making at most `attempts` attempts of a request.
    pub async fn sqs_retrying(&self, connect: Duration, attempts: u32) -> Result<aws_sdk_sqs::Client, TaskError> {
        let conf = self.sdk_config().await?;
        let timeouts = aws_sdk_sqs::config::timeout::TimeoutConfig::builder().connect_timeout(connect).build();
        let retry = aws_sdk_sqs::config::retry::RetryConfig::standard().with_max_attempts(attempts.max(1));
        let mut b = aws_sdk_sqs::config::Builder::from(&conf).timeout_config(timeouts).retry_config(retry);
        if let Some(url) = blank(&self.endpoint_override) {
            b = b.endpoint_url(url);
        }
        Ok(aws_sdk_sqs::Client::from_conf(b.build()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn props(v: serde_json::Value) -> Result<AwsProps, TaskError> {
        let p: AwsProps = crate::parse_props(v.as_object().expect("map"))?;
        p.check().map(|_| p)
    }

    #[test]
    fn the_property_names_are_the_declared_ones() {
        use baton_model::decl::DeclaredProps;
        let declared: Vec<&str> = AwsProps::props().iter().map(|p| p.name).collect();
        assert_eq!(declared, AWS_PROPS);
    }

    #[test]
    fn reads_kestra_s_names_and_checks_them() {
        let p =
            props(json!({"region": "eu-west-1", "accessKeyId": "AK", "secretKeyId": "SK", "forcePathStyle": "true",
            "endpointOverride": "http://127.0.0.1:9000", "stsRoleSessionDuration": "PT30M"}))
            .expect("valid");
        assert_eq!((p.region.as_deref(), p.force_path_style), (Some("eu-west-1"), Some(true)));
        assert_eq!(p.sts_role_session_duration, Some(chrono::TimeDelta::minutes(30)));
        let err = |v| props(v).expect_err("invalid").to_string();
        assert!(err(json!({"accessKeyId": "AK"})).contains("'secretKeyId'"));
        assert!(err(json!({"sessionToken": "T"})).contains("'sessionToken'"));
        assert!(err(json!({"endpointOverride": "not a url"})).contains("'endpointOverride'"));
        assert!(err(json!({"endpointOverride": "http://169.254.169.254/"})).contains("link-local"));
        assert!(err(json!({"stsRoleSessionDuration": "soon"})).contains("stsRoleSessionDuration"));
    }

    #[tokio::test]
    async fn builds_a_client_for_a_local_endpoint_without_a_region() {
        let p = props(json!({"endpointOverride": "http://127.0.0.1:1", "accessKeyId": "a", "secretKeyId": "b"}))
            .expect("valid");
        let c = p.s3().await.expect("client");
        assert_eq!(c.config().region().map(|r| r.as_ref()), Some("us-east-1"));
    }
}
