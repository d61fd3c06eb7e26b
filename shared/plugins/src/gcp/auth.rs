//! `io.kestra.plugin.gcp.auth.OauthAccessToken` (plugin-gcp
//! `auth/OauthAccessToken.java`): a fresh OAuth access token for the
//! task's credentials and `scopes` (see `baton_gcp::oauth`), output as
//! `accessToken` {`tokenValue`, `expirationTime`, `scopes`}. The token is
//! never logged, and not masked (the outputs are masked like the logs: a
//! masked token would be no token). Kestra encrypts it in the outputs when
//! an encryption key is configured; Baton has no output encryption, so it
//! is stored as the other outputs are.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::{GcpProps, auth_error};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, parse_props};

/// Fetch a GCP OAuth access token.
///
/// Outputs an OAuth access token for the service account (or the runtime's credentials) and scopes.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.auth.OauthAccessToken",
    group = "gcp",
    example = "id: token\ntype: io.kestra.plugin.gcp.auth.OauthAccessToken\nserviceAccount: \"{{ secret('GCP_SERVICE_ACCOUNT_JSON') }}\"\n",
    outputs(accessToken(Map, "The token: {tokenValue, expirationTime, scopes}."))
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
}

struct OauthAccessToken {
    gcp: GcpProps,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    Ok(Box::new(OauthAccessToken { gcp: p.gcp }))
}

#[async_trait]
impl RunnableTask for OauthAccessToken {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let endpoints = &cx.services.config.gcp.endpoints;
        let t = baton_gcp::oauth::access_token(&r.spec, &endpoints.iam_credentials, &cx.services.http)
            .await
            .map_err(auth_error)?;
        cx.info(&format!("Got an access token {} for {}", r.spec.describe(), t.scopes.join(" ")));
        let mut token = Map::new();
        token.insert("tokenValue".into(), Value::String(t.token));
        if let Some(at) = t.expires_at {
            let at: DateTime<Utc> = at.into();
            token.insert("expirationTime".into(), json!(at.to_rfc3339_opts(SecondsFormat::Millis, true)));
        }
        token.insert("scopes".into(), json!(t.scopes));
        let mut out = Map::new();
        out.insert("accessToken".into(), Value::Object(token));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));
