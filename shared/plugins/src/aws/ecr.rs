//! `io.kestra.plugin.aws.ecr.GetAuthToken` (plugin-aws
//! `ecr/GetAuthToken.java`): the password a Docker client signs in to the
//! account's Amazon ECR registry with (ECR's GetAuthorizationToken, the
//! base64 `AWS:<password>` pair decoded and its user name dropped), output
//! as `token` for a `docker.Build`/`Push` `credentials` block (user name
//! `AWS`). The token is never logged, and not masked (the outputs are
//! masked like the logs: a masked token would be no token). Kestra
//! encrypts it in the outputs when an encryption key is configured; Baton
//! has no output encryption, so it is stored as the other outputs are.

use std::sync::LazyLock;

use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AwsProps;
use super::connection::sdk_error;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, parse_props};

/// Get an Amazon ECR authorization token.
///
/// Outputs the password (`token`) a Docker client signs in to the account's ECR registry with, as user `AWS`, to push images to it or pull them.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.ecr.GetAuthToken",
    group = "aws",
    example = "id: ecr\ntype: io.kestra.plugin.aws.ecr.GetAuthToken\naccessKeyId: \"{{ secret('AWS_ACCESS_KEY_ID') }}\"\nsecretKeyId: \"{{ secret('AWS_SECRET_KEY_ID') }}\"\nregion: eu-central-1\n",
    outputs(token(String, "The registry password (user name AWS)."))
)]
struct Props {
    #[serde(flatten)]
    aws: AwsProps,
}

struct GetAuthToken {
    aws: AwsProps,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.aws.check()?;
    Ok(Box::new(GetAuthToken { aws: p.aws }))
}

/// The password in ECR's `authorizationToken`: base64 of `user:password`
/// (the part after the first colon; the whole text when it has none).
fn password(encoded: &str) -> Result<String, TaskError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| TaskError::failed(format!("ECR answered an authorization token that is not base64: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| TaskError::failed("ECR answered an authorization token that is not text"))?;
    Ok(match text.split_once(':') {
        Some((user, pass)) if !user.is_empty() => pass.to_string(),
        _ => text,
    })
}

#[async_trait]
impl RunnableTask for GetAuthToken {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.aws.ecr().await?;
        let answer = client
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| sdk_error("ECR", "cannot get an ECR authorization token", e))?;
        let data = answer.authorization_data().first();
        let encoded = data
            .and_then(|d| d.authorization_token())
            .ok_or_else(|| TaskError::failed("ECR answered no authorization token"))?;
        let token = password(encoded)?;
        let endpoint = data.and_then(|d| d.proxy_endpoint()).unwrap_or("the account's registry");
        cx.info(&format!("Got an ECR authorization token for {endpoint}"));
        let mut out = Map::new();
        out.insert("token".into(), json!(token));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_part_after_the_user_name() {
        assert_eq!(password("QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu").unwrap(), "123456789012-auth-token");
        assert_eq!(password("dG9rZW4=").unwrap(), "token", "no user name: the whole text");
        assert_eq!(password("QVdTOmE6Yg==").unwrap(), "a:b", "only the first colon splits");
        assert!(password("not base64!").unwrap_err().to_string().contains("not base64"));
    }
}
