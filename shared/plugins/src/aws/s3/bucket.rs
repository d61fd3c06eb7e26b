//! `io.kestra.plugin.aws.s3.CreateBucket`: creates a bucket (ACL grants,
//! canned `acl`, Object Lock), in the client's region (a location
//! constraint outside us-east-1, which S3 requires there). Outputs `bucket`
//! and `region` (the location S3 answers).

use std::sync::LazyLock;

use async_trait::async_trait;
use aws_sdk_s3::types::{BucketCannedAcl, BucketLocationConstraint, CreateBucketConfiguration};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::AwsProps;
use super::common::{blank, bucket_name, s3_error};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Create an S3 bucket.
///
/// Creates a bucket, with optional ACL grants and Object Lock.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.s3.CreateBucket",
    group = "aws",
    example = "id: create_bucket\ntype: io.kestra.plugin.aws.s3.CreateBucket\nregion: eu-central-1\nbucket: my-bucket\n",
    outputs(bucket(String, "The bucket."), region(String, "The bucket's location, as S3 answers it."))
)]
struct Props {
    #[serde(flatten)]
    aws: AwsProps,
    /// The bucket's name.
    #[serde(deserialize_with = "de::string_lenient")]
    bucket: String,
    /// Grantees with read, write, read ACP and write ACP permissions.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    grant_full_control: Option<String>,
    /// Grantees who may list the objects.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    grant_read: Option<String>,
    /// Grantees who may read the bucket's ACL.
    #[serde(default, deserialize_with = "de::opt_string_lenient", rename = "grantReadACP")]
    grant_read_acp: Option<String>,
    /// Grantees who may create, overwrite and delete objects.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    grant_write: Option<String>,
    /// Grantees who may write the bucket's ACL.
    #[serde(default, deserialize_with = "de::opt_string_lenient", rename = "grantWriteACP")]
    grant_write_acp: Option<String>,
    /// The canned ACL (private, public-read…).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    acl: Option<String>,
    /// Enable Object Lock on the bucket.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    object_lock_enabled_for_bucket: Option<bool>,
}

struct CreateBucket {
    p: Props,
    bucket: String,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.aws.check()?;
    let bucket = bucket_name(&p.bucket)?;
    Ok(Box::new(CreateBucket { p, bucket }))
}

#[async_trait]
impl RunnableTask for CreateBucket {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.p.aws.s3().await?;
        let region = client.config().region().map(|r| r.as_ref().to_string());
        let config = region.as_deref().filter(|r| *r != "us-east-1").map(|r| {
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(r)).build()
        });
        let p = &self.p;
        let r = client
            .create_bucket()
            .bucket(&self.bucket)
            .set_create_bucket_configuration(config)
            .set_grant_full_control(blank(&p.grant_full_control))
            .set_grant_read(blank(&p.grant_read))
            .set_grant_read_acp(blank(&p.grant_read_acp))
            .set_grant_write(blank(&p.grant_write))
            .set_grant_write_acp(blank(&p.grant_write_acp))
            .set_acl(blank(&p.acl).as_deref().map(BucketCannedAcl::from))
            .set_object_lock_enabled_for_bucket(p.object_lock_enabled_for_bucket)
            .send()
            .await
            .map_err(|e| s3_error(&format!("cannot create bucket '{}'", self.bucket), e))?;
        cx.info(&format!("Created bucket '{}'", self.bucket));
        let mut out = Map::new();
        out.insert("bucket".into(), json!(self.bucket));
        out.insert("region".into(), json!(r.location()));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
