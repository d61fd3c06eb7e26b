//! The other tools' CLI tasks — `terraform.cli.TerraformCLI`,
//! `ansible.cli.AnsibleCLI`, `trivy.cli.TrivyCLI`, `cloudquery.CloudQueryCLI`,
//! `sqlmesh.cli.SQLMeshCLI`, `spark.SparkCLI`, `modal.cli.ModalCLI` — the
//! tool's image as the default, and the little each adds.

use baton_model::decl::DeclaredProps;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::LazyLock;

use super::super::props::ExecProps;
use super::{CommandsProp, PlainCliProps, add_input_file, build_cli, no_adapt, prepend};
use crate::registry::PluginDef;
use crate::{Declare, PropDecl, RunnableTask, TaskError, de, parse_props};

// --- TerraformCLI ---------------------------------------------------------

/// Run Terraform commands.
///
/// Runs `terraform` commands in a shell, by default in the `hashicorp/terraform` image (its entrypoint replaced by the shell), with the script tasks' files, runners and outputs.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.terraform.cli.TerraformCLI",
    group = "scripts",
    props = PlainCliProps,
    example = "id: plan\ntype: io.kestra.plugin.terraform.cli.TerraformCLI\nnamespaceFiles:\n  enabled: true\ncommands:\n  - terraform init\n  - terraform plan\n",
    outputs_of = crate::scripts::script_outputs,
)]
struct TerraformCli;

fn build_terraform(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    build_cli(p, &[], "hashicorp/terraform", no_adapt)
}

pub static TERRAFORM: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<TerraformCli>(build_terraform));

// --- AnsibleCLI -----------------------------------------------------------

/// AnsibleCLI's own property.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct AnsibleOwn {
    /// The content of ansible.cfg, written to the working directory (ANSIBLE_CONFIG points at it).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    ansible_config: Option<String>,
}

struct AnsibleProps;
impl DeclaredProps for AnsibleProps {
    fn props() -> Vec<PropDecl> {
        [CommandsProp::props(), AnsibleOwn::props(), ExecProps::props()].concat()
    }
}

/// Run Ansible commands.
///
/// Runs `ansible-playbook` and other Ansible commands in a shell, by default in the `cytopia/ansible:latest-tools` image; `ansibleConfig` becomes the working directory's `ansible.cfg`.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.ansible.cli.AnsibleCLI",
    group = "scripts",
    props = AnsibleProps,
    example = "id: playbook\ntype: io.kestra.plugin.ansible.cli.AnsibleCLI\ninputFiles:\n  inventory.ini: localhost ansible_connection=local\n  playbook.yml: |\n    - hosts: localhost\n      tasks:\n        - debug: {msg: hello}\ncommands:\n  - ansible-playbook -i inventory.ini playbook.yml\n",
    outputs_of = crate::scripts::script_outputs,
)]
struct AnsibleCli;

fn adapt_ansible(p: &mut Map<String, Value>) -> Result<(), TaskError> {
    let own: AnsibleOwn = parse_props(p)?;
    if let Some(cfg) = own.ansible_config.filter(|c| !c.trim().is_empty()) {
        add_input_file(p, "ansible.cfg", cfg);
        prepend(p, "export ANSIBLE_CONFIG=\"$PWD/ansible.cfg\"".into());
    }
    Ok(())
}

fn build_ansible(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    build_cli(p, &["ansibleConfig"], "cytopia/ansible:latest-tools", adapt_ansible)
}

pub static ANSIBLE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<AnsibleCli>(build_ansible));

// --- TrivyCLI -------------------------------------------------------------

/// Run Trivy commands.
///
/// Runs `trivy` commands (scans of images, file systems, repositories and configuration) in a shell, by default in the `aquasec/trivy:latest` image, with the script tasks' files, runners and outputs.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.trivy.cli.TrivyCLI",
    group = "scripts",
    props = PlainCliProps,
    example = "id: scan\ntype: io.kestra.plugin.trivy.cli.TrivyCLI\noutputFiles:\n  - report.json\ncommands:\n  - trivy image --format json --output report.json nginx:latest\n",
    outputs_of = crate::scripts::script_outputs,
)]
struct TrivyCli;

fn build_trivy(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    build_cli(p, &[], "aquasec/trivy:latest", no_adapt)
}

pub static TRIVY: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<TrivyCli>(build_trivy));

// --- CloudQueryCLI, SQLMeshCLI, SparkCLI, ModalCLI ----------------------

/// Run CloudQuery commands.
///
/// Runs `cloudquery` commands (a `sync` of a configuration given in `inputFiles`) in a shell, by default in the `ghcr.io/cloudquery/cloudquery:latest` image, where `cloudquery` is `/app/cloudquery`.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.cloudquery.CloudQueryCLI",
    group = "scripts",
    props = PlainCliProps,
    example = "id: sync\ntype: io.kestra.plugin.cloudquery.CloudQueryCLI\nenv:\n  CLOUDQUERY_API_KEY: \"{{ secret('CLOUDQUERY_API_KEY') }}\"\ninputFiles:\n  config.yml: \"...\"\ncommands:\n  - cloudquery sync config.yml --log-console\n",
    outputs_of = crate::scripts::script_outputs,
)]
struct CloudQueryCli;

/// The image's `cloudquery` binary, named as Kestra's task names it for the
/// commands (only where that file exists: on the Process runner the
/// worker's own `cloudquery` on PATH is used).
const CLOUDQUERY_ALIAS: &str = "if [ -x /app/cloudquery ]; then alias cloudquery=/app/cloudquery; fi";

fn adapt_cloudquery(p: &mut Map<String, Value>) -> Result<(), TaskError> {
    prepend(p, CLOUDQUERY_ALIAS.to_string());
    Ok(())
}

fn build_cloudquery(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    build_cli(p, &[], "ghcr.io/cloudquery/cloudquery:latest", adapt_cloudquery)
}

pub static CLOUDQUERY: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<CloudQueryCli>(build_cloudquery));

/// Run SQLMesh commands.
///
/// Runs `sqlmesh` commands (`sqlmesh plan --auto-apply`…) in a shell, by default in the `ghcr.io/kestra-io/sqlmesh` image, with the script tasks' files, runners and outputs.
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.sqlmesh.cli.SQLMeshCLI",
    group = "scripts",
    props = PlainCliProps,
    example = "id: transform\ntype: io.kestra.plugin.sqlmesh.cli.SQLMeshCLI\nbeforeCommands:\n  - sqlmesh init duckdb\ncommands:\n  - sqlmesh plan --auto-apply\n",
    outputs_of = crate::scripts::script_outputs,
)]
struct SqlMeshCli;

fn build_sqlmesh(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    build_cli(p, &[], "ghcr.io/kestra-io/sqlmesh", no_adapt)
}

pub static SQLMESH: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<SqlMeshCli>(build_sqlmesh));

/// Run Spark commands.
///
/// Runs `spark-submit` and other Spark commands in a shell, by default in the `bitnami/spark` image. Spark writes its whole log to stderr, so, as in Kestra, stderr lines do not end the task in WARNING unless `warningOnStdErr: true` is set (they are logged at ERROR, where Kestra logs them at INFO).
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.spark.SparkCLI",
    group = "scripts",
    props = PlainCliProps,
    example = "id: pi\ntype: io.kestra.plugin.spark.SparkCLI\nnamespaceFiles:\n  enabled: true\ncommands:\n  - spark-submit --name Pi --master spark://localhost:7077 pi.py\n",
    outputs_of = crate::scripts::script_outputs,
)]
struct SparkCli;

fn adapt_spark(p: &mut Map<String, Value>) -> Result<(), TaskError> {
    p.entry("warningOnStdErr").or_insert(Value::Bool(false));
    Ok(())
}

fn build_spark(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    build_cli(p, &[], "bitnami/spark", adapt_spark)
}

pub static SPARK: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<SparkCli>(build_spark));

/// Run Modal commands.
///
/// Runs `modal` commands (`modal run script.py`) in a shell, by default in the `ghcr.io/kestra-io/modal` image; the Modal token is given in `env` (`MODAL_TOKEN_ID`, `MODAL_TOKEN_SECRET`).
#[derive(Declare)]
#[plugin(
    type = "io.kestra.plugin.modal.cli.ModalCLI",
    group = "scripts",
    props = PlainCliProps,
    example = "id: hello\ntype: io.kestra.plugin.modal.cli.ModalCLI\nenv:\n  MODAL_TOKEN_ID: \"{{ secret('MODAL_TOKEN_ID') }}\"\n  MODAL_TOKEN_SECRET: \"{{ secret('MODAL_TOKEN_SECRET') }}\"\nnamespaceFiles:\n  enabled: true\ncommands:\n  - modal run hello.py\n",
    outputs_of = crate::scripts::script_outputs,
)]
struct ModalCli;

fn build_modal(p: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    build_cli(p, &[], "ghcr.io/kestra-io/modal", no_adapt)
}

pub static MODAL: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<ModalCli>(build_modal));

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cloudquery_names_the_image_s_binary_only_where_it_is() {
        let mut p: Map<String, Value> =
            serde_json::from_value(json!({"commands": ["cloudquery sync config.yml"]})).unwrap();
        adapt_cloudquery(&mut p).unwrap();
        assert_eq!(p["beforeCommands"], json!([CLOUDQUERY_ALIAS]));
        let out =
            std::process::Command::new("sh").arg("-c").arg(format!("{CLOUDQUERY_ALIAS}\necho ok")).output().unwrap();
        assert_eq!((out.status.success(), String::from_utf8_lossy(&out.stdout).trim()), (true, "ok"));
    }

    #[test]
    fn spark_s_stderr_does_not_warn_unless_asked() {
        let mut p: Map<String, Value> = serde_json::from_value(json!({"commands": ["spark-submit x.py"]})).unwrap();
        adapt_spark(&mut p).unwrap();
        assert_eq!(p["warningOnStdErr"], json!(false));
        let mut asked: Map<String, Value> =
            serde_json::from_value(json!({"commands": ["spark-submit x.py"], "warningOnStdErr": true})).unwrap();
        adapt_spark(&mut asked).unwrap();
        assert_eq!(asked["warningOnStdErr"], json!(true));
    }
}
