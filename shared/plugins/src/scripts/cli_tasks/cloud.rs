//! The cloud providers' CLI tasks — `aws.cli.AwsCLI`, `gcp.cli.GCloudCLI`,
//! `azure.cli.AzCLI` — whose own properties sign the CLI in (its
//! environment variables, a key file activated, `az login`).

use baton_model::decl::DeclaredProps;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::LazyLock;

use super::super::props::ExecProps;
use super::{CommandsProp, add_input_file, build_cli, prepend, set_env};
use crate::registry::PluginDef;
use crate::{Declare, PropDecl, RunnableTask, TaskError};

// --- AwsCLI ---------------------------------------------------------------

/// AwsCLI's own properties: the credentials and region the CLI reads from
/// its environment.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct AwsOwn {
    /// AWS_ACCESS_KEY_ID.
    #[prop(kind = "String")]
    access_key_id: Option<Value>,
    /// AWS_SECRET_ACCESS_KEY.
    #[prop(kind = "String")]
    secret_key_id: Option<Value>,
    /// AWS_SESSION_TOKEN.
    #[prop(kind = "String")]
    session_token: Option<Value>,
    /// AWS_DEFAULT_REGION.
    #[prop(kind = "String")]
    region: Option<Value>,
    /// AWS_ENDPOINT_URL: another S3-compatible or local endpoint.
    #[prop(kind = "String")]
    endpoint_override: Option<Value>,
}

struct AwsProps;
impl DeclaredProps for AwsProps {
    fn props() -> Vec<PropDecl> {
        [CommandsProp::props(), AwsOwn::props(), ExecProps::props()].concat()
    }
}

/// Run AWS CLI commands.
///
/// Runs `aws` commands in a shell, by default in the `amazon/aws-cli` image, with the credentials, region and endpoint given as the CLI's environment variables.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.aws.cli.AwsCLI",
    group = "scripts",
    props = AwsProps,
    example = "id: list\ntype: io.kestra.plugin.aws.cli.AwsCLI\naccessKeyId: \"{{ secret('AWS_ACCESS_KEY_ID') }}\"\nsecretKeyId: \"{{ secret('AWS_SECRET_KEY_ID') }}\"\nregion: eu-central-1\ncommands:\n  - aws s3 ls\n",
    outputs_of = crate::scripts::script_outputs,
)]
struct AwsCli;

const AWS_OWN: &[(&str, &str)] = &[
    ("accessKeyId", "AWS_ACCESS_KEY_ID"),
    ("secretKeyId", "AWS_SECRET_ACCESS_KEY"),
    ("sessionToken", "AWS_SESSION_TOKEN"),
    ("region", "AWS_DEFAULT_REGION"),
    ("endpointOverride", "AWS_ENDPOINT_URL"),
];

fn adapt_aws(p: &mut Map<String, Value>) -> Result<(), TaskError> {
    for (prop, env) in AWS_OWN {
        let v = p.get(*prop).cloned();
        set_env(p, env, v.as_ref());
    }
    Ok(())
}

fn build_aws(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let own: Vec<&str> = AWS_OWN.iter().map(|(k, _)| *k).collect();
    build_cli(p, &own, "amazon/aws-cli", adapt_aws)
}

pub static AWS: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<AwsCli>(build_aws));

// --- GCloudCLI ------------------------------------------------------------

/// GCloudCLI's own properties.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct GcloudOwn {
    /// A service account key (JSON): written to the working directory, activated with `gcloud auth activate-service-account`, and GOOGLE_APPLICATION_CREDENTIALS.
    #[prop(kind = "String")]
    service_account: Option<Value>,
    /// The project (CLOUDSDK_CORE_PROJECT).
    #[prop(kind = "String")]
    project_id: Option<Value>,
}

struct GcloudProps;
impl DeclaredProps for GcloudProps {
    fn props() -> Vec<PropDecl> {
        [CommandsProp::props(), GcloudOwn::props(), ExecProps::props()].concat()
    }
}

/// Run gcloud commands.
///
/// Runs `gcloud`, `gsutil` and `bq` commands in a shell, by default in the `google/cloud-sdk` image, signed in with `serviceAccount` when given.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.gcp.cli.GCloudCLI",
    group = "scripts",
    props = GcloudProps,
    example = "id: buckets\ntype: io.kestra.plugin.gcp.cli.GCloudCLI\nserviceAccount: \"{{ secret('GCP_SERVICE_ACCOUNT_JSON') }}\"\nprojectId: my-project\ncommands:\n  - gcloud storage ls\n",
    outputs_of = crate::scripts::script_outputs,
)]
struct GcloudCli;

/// The name of the key file GCloudCLI writes into the working directory.
const GCLOUD_KEY: &str = ".gcloud-service-account.json";

fn adapt_gcloud(p: &mut Map<String, Value>) -> Result<(), TaskError> {
    let project = p.get("projectId").cloned();
    set_env(p, "CLOUDSDK_CORE_PROJECT", project.as_ref());
    match p.get("serviceAccount").cloned() {
        None | Some(Value::Null) => {}
        Some(v) => {
            let key = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            if serde_json::from_str::<Map<String, Value>>(&key).is_err() {
                return Err(TaskError::property("serviceAccount", "is not a service account key (JSON)"));
            }
            add_input_file(p, GCLOUD_KEY, key);
            prepend(p, format!("gcloud auth activate-service-account --key-file=\"$PWD/{GCLOUD_KEY}\" --quiet"));
            prepend(p, format!("export GOOGLE_APPLICATION_CREDENTIALS=\"$PWD/{GCLOUD_KEY}\""));
        }
    }
    Ok(())
}

fn build_gcloud(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    build_cli(p, &["serviceAccount", "projectId"], "google/cloud-sdk", adapt_gcloud)
}

pub static GCLOUD: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<GcloudCli>(build_gcloud));

// --- AzCLI ----------------------------------------------------------------

/// AzCLI's own properties: the account `az login` signs in with first.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct AzOwn {
    /// The account (a service principal's appId): when set, `az login` runs before the commands.
    #[prop(kind = "String")]
    username: Option<Value>,
    /// The account's password (a service principal's client secret).
    #[prop(kind = "String")]
    password: Option<Value>,
    /// The tenant ID to sign in to.
    #[prop(kind = "String")]
    tenant: Option<Value>,
    /// Whether the account is a service principal (`az login --service-principal`).
    #[prop(kind = "Boolean", default = "false")]
    service_principal: Option<Value>,
}

struct AzProps;
impl DeclaredProps for AzProps {
    fn props() -> Vec<PropDecl> {
        [CommandsProp::props(), AzOwn::props(), ExecProps::props()].concat()
    }
}

/// Run Azure CLI commands.
///
/// Runs `az` commands in a shell, by default in the `mcr.microsoft.com/azure-cli` image; with `username` set, `az login` (with `password`, `tenant` and `--service-principal` when given) runs first.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.azure.cli.AzCLI",
    group = "scripts",
    props = AzProps,
    example = "id: locations\ntype: io.kestra.plugin.azure.cli.AzCLI\ntenant: \"{{ secret('AZURE_TENANT_ID') }}\"\nusername: \"{{ secret('AZURE_CLIENT_ID') }}\"\npassword: \"{{ secret('AZURE_CLIENT_SECRET') }}\"\nservicePrincipal: true\ncommands:\n  - az account list-locations -o table\n",
    outputs_of = crate::scripts::script_outputs,
)]
struct AzCli;

/// AzCLI's properties and the variables that carry them to `az login` (the
/// values stay out of the command line, so out of a process listing).
const AZ_OWN: &[(&str, &str)] = &[
    ("username", "AZ_LOGIN_USERNAME"),
    ("password", "AZ_LOGIN_PASSWORD"),
    ("tenant", "AZ_LOGIN_TENANT"),
    ("servicePrincipal", "AZ_LOGIN_SERVICE_PRINCIPAL"),
];

/// The `az login` line: each option only when its variable is set.
const AZ_LOGIN: &str = "az login -u \"$AZ_LOGIN_USERNAME\"${AZ_LOGIN_PASSWORD:+ -p \"$AZ_LOGIN_PASSWORD\"}\
${AZ_LOGIN_TENANT:+ --tenant \"$AZ_LOGIN_TENANT\"}\
$([ \"${AZ_LOGIN_SERVICE_PRINCIPAL:-false}\" = true ] && echo ' --service-principal')";

fn adapt_az(p: &mut Map<String, Value>) -> Result<(), TaskError> {
    let signs_in = p.get("username").is_some_and(|v| !v.is_null());
    for (prop, env) in AZ_OWN {
        let v = p.get(*prop).cloned();
        set_env(p, env, v.as_ref());
    }
    if signs_in {
        prepend(p, AZ_LOGIN.to_string());
    }
    Ok(())
}

fn build_az(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let own: Vec<&str> = AZ_OWN.iter().map(|(k, _)| *k).collect();
    build_cli(p, &own, "mcr.microsoft.com/azure-cli", adapt_az)
}

pub static AZURE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<AzCli>(build_az));

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aws_settings_become_the_cli_s_environment() {
        let mut p: Map<String, Value> = serde_json::from_value(json!({
            "commands": ["aws s3 ls"],
            "accessKeyId": "AKIA",
            "secretKeyId": "s3cr3t",
            "region": "eu-west-1",
            "env": {"AWS_DEFAULT_REGION": "us-east-1"}
        }))
        .unwrap();
        adapt_aws(&mut p).unwrap();
        assert_eq!(p["env"]["AWS_ACCESS_KEY_ID"], "AKIA");
        assert_eq!(p["env"]["AWS_SECRET_ACCESS_KEY"], "s3cr3t");
        assert_eq!(p["env"]["AWS_DEFAULT_REGION"], "us-east-1", "the flow's own env wins");
    }

    #[test]
    fn a_gcloud_key_is_written_and_activated_first() {
        let mut p: Map<String, Value> = serde_json::from_value(json!({
            "commands": ["gcloud storage ls"],
            "serviceAccount": "{\"type\": \"service_account\"}",
            "beforeCommands": ["echo hi"],
            "projectId": "p1"
        }))
        .unwrap();
        adapt_gcloud(&mut p).unwrap();
        assert_eq!(p["inputFiles"][GCLOUD_KEY], "{\"type\": \"service_account\"}");
        let before: Vec<&str> = p["beforeCommands"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(before[0].starts_with("export GOOGLE_APPLICATION_CREDENTIALS"), "{before:?}");
        assert!(before[1].starts_with("gcloud auth activate-service-account"), "{before:?}");
        assert_eq!(before[2], "echo hi");
        assert_eq!(p["env"]["CLOUDSDK_CORE_PROJECT"], "p1");
        let mut bad: Map<String, Value> = serde_json::from_value(json!({"serviceAccount": "nope"})).unwrap();
        assert!(adapt_gcloud(&mut bad).is_err());
    }

    #[test]
    fn az_signs_in_first_only_with_a_username() {
        let mut p: Map<String, Value> = serde_json::from_value(json!({
            "commands": ["az vm list"],
            "username": "app-id",
            "password": "{{ secret('AZ') }}",
            "servicePrincipal": true,
            "beforeCommands": ["echo hi"]
        }))
        .unwrap();
        adapt_az(&mut p).unwrap();
        let before: Vec<&str> = p["beforeCommands"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(before, [AZ_LOGIN, "echo hi"]);
        assert_eq!(p["env"]["AZ_LOGIN_USERNAME"], "app-id");
        assert_eq!(p["env"]["AZ_LOGIN_PASSWORD"], "{{ secret('AZ') }}");
        assert_eq!(p["env"]["AZ_LOGIN_SERVICE_PRINCIPAL"], "true");
        assert!(p["env"].get("AZ_LOGIN_TENANT").is_none());
        let mut anonymous: Map<String, Value> = serde_json::from_value(json!({"commands": ["az --help"]})).unwrap();
        adapt_az(&mut anonymous).unwrap();
        assert!(anonymous.get("beforeCommands").is_none(), "no login without a username");
    }

    #[test]
    fn the_az_login_line_passes_only_what_is_set() {
        let run = |env: &[(&str, &str)]| {
            let script = format!("az() {{ printf '%s|' \"$@\"; }}\n{AZ_LOGIN}");
            let out =
                std::process::Command::new("sh").arg("-c").arg(script).envs(env.iter().copied()).output().unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        assert_eq!(run(&[("AZ_LOGIN_USERNAME", "u 1")]), "login|-u|u 1|");
        assert_eq!(
            run(&[
                ("AZ_LOGIN_USERNAME", "u"),
                ("AZ_LOGIN_PASSWORD", "p w"),
                ("AZ_LOGIN_TENANT", "t"),
                ("AZ_LOGIN_SERVICE_PRINCIPAL", "true")
            ]),
            "login|-u|u|-p|p w|--tenant|t|--service-principal|"
        );
        assert_eq!(run(&[("AZ_LOGIN_USERNAME", "u"), ("AZ_LOGIN_SERVICE_PRINCIPAL", "false")]), "login|-u|u|");
    }
}
