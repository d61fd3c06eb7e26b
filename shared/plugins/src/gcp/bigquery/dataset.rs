//! `io.kestra.plugin.gcp.bigquery.CreateDataset`, `…UpdateDataset` and
//! `…DeleteDataset`. The dataset's settings are Kestra's `AbstractDataset`,
//! declared once ([`DatasetProps`]) and flattened into the create and update
//! tasks: `name`, `friendlyName`, `description` (the task's own
//! `description`, as in Kestra, where the two are one property), `labels`,
//! `location`, `defaultTableLifetime` and `defaultPartitionExpirationMs` (in
//! milliseconds), and `acl` (`[{entity: {type, value}, role}]`, Kestra's
//! USER/GROUP/DOMAIN/IAM_MEMBER entities and READER/WRITER/OWNER roles),
//! `defaultEncryptionConfiguration` (`{kmsKeyName}`, the Cloud KMS key of
//! new tables).
//!
//! CreateDataset creates the dataset; when it exists, `ifExists` decides:
//! ERROR (default) fails, UPDATE applies the settings, SKIP returns it
//! unchanged. UpdateDataset patches the settings it is given onto an
//! existing dataset (`datasets.patch`, as Kestra's client's `update` does);
//! a missing dataset fails. Both output `dataset`, `project`,
//! `friendlyName`, `description`, `location`. DeleteDataset deletes `name`
//! (with its tables when `deleteContents`); outputs `dataset`, `project`.

use std::sync::LazyLock;

use async_trait::async_trait;
use baton_model::decl::OutDecl;
use baton_model::props::PropKind;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::job::BqProps;
use crate::gcp::common::{IfExists, bq_error};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// `name` or `project.name` → (project, dataset).
fn split_name(name: &str, project: &str) -> (String, String) {
    match name.trim().split_once('.') {
        Some((p, d)) => (p.to_string(), d.to_string()),
        None => (project.to_string(), name.trim().to_string()),
    }
}

/// Kestra's `AccessControl` entity types and roles.
const ENTITY_TYPES: [&str; 4] = ["DOMAIN", "GROUP", "USER", "IAM_MEMBER"];
const ROLES: [&str; 3] = ["READER", "WRITER", "OWNER"];

/// One `acl` entry as written: `{entity: {type, value}, role}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessControl {
    entity: Entity,
    role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entity {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

/// `acl` as BigQuery's `access` list (`userByEmail`, `groupByEmail`,
/// `domain`, `iamMember` with `role`); a template left in a value is
/// accepted only when `rendered` is false (validation).
fn access(v: &Value, rendered: bool) -> Result<Vec<Value>, String> {
    if !rendered && v.as_str().is_some_and(baton_model::expr::is_template) {
        return Ok(Vec::new());
    }
    let list: Vec<AccessControl> = serde_json::from_value(v.clone())
        .map_err(|e| format!("a list of {{entity: {{type, value}}, role}} is expected: {e}"))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, a) in list.iter().enumerate() {
        let open = |s: &str| !rendered && baton_model::expr::is_template(s);
        let kind = a.entity.kind.trim();
        let key = match kind {
            "USER" => "userByEmail",
            "GROUP" => "groupByEmail",
            "DOMAIN" => "domain",
            "IAM_MEMBER" => "iamMember",
            _ if open(kind) => "userByEmail",
            _ => return Err(format!("acl[{i}].entity.type '{kind}' is not one of {}", ENTITY_TYPES.join(", "))),
        };
        let role = a.role.trim();
        if !ROLES.contains(&role) && !open(role) {
            return Err(format!("acl[{i}].role '{role}' is not one of {}", ROLES.join(", ")));
        }
        out.push(json!({"role": role, key: a.entity.value}));
    }
    Ok(out)
}

fn acl_ok(v: &Value) -> Result<(), String> {
    access(v, false).map(|_| ())
}

/// A dataset's settings (Kestra's `AbstractDataset`), shared by
/// CreateDataset and UpdateDataset.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct DatasetProps {
    #[serde(flatten)]
    bq: BqProps,
    /// The dataset's id (or `project.dataset`).
    #[serde(deserialize_with = "de::string_lenient")]
    name: String,
    /// A display name.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    friendly_name: Option<String>,
    /// The dataset's description: the task's own `description`, as in Kestra.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    description: Option<String>,
    /// Labels set on the dataset.
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    labels: Vec<(String, String)>,
    /// Default lifetime of new tables, in milliseconds (at least 3,600,000).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    default_table_lifetime: Option<u64>,
    /// Default partition expiration of new partitioned tables, in milliseconds.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    default_partition_expiration_ms: Option<u64>,
    /// Access controls: [{entity: {type: USER|GROUP|DOMAIN|IAM_MEMBER, value}, role: READER|WRITER|OWNER}].
    #[serde(default)]
    #[prop(kind = "List", check = acl_ok)]
    acl: Option<Value>,
    /// The Cloud KMS key new tables are encrypted with: {kmsKeyName}.
    #[serde(default)]
    #[prop(kind = "Map", check = encryption_ok)]
    default_encryption_configuration: Option<Value>,
}

/// `defaultEncryptionConfiguration`: `{kmsKeyName}` and nothing else
/// (BigQuery's `EncryptionConfiguration`).
fn encryption(v: &Value) -> Result<Value, String> {
    let key = match v.as_object() {
        Some(m) if m.len() == 1 => m.get("kmsKeyName").and_then(Value::as_str),
        _ => None,
    };
    match key {
        Some(k) => Ok(json!({"kmsKeyName": k})),
        None => Err("expected {kmsKeyName: projects/…/cryptoKeys/…}".into()),
    }
}

fn encryption_ok(v: &Value) -> Result<(), String> {
    if v.as_str().is_some_and(baton_model::expr::is_template) {
        return Ok(());
    }
    encryption(v).map(|_| ())
}

impl DatasetProps {
    fn check(&self) -> Result<(), TaskError> {
        if self.name.trim().is_empty() {
            return Err(TaskError::property("name", "the dataset name is empty"));
        }
        if let Some(a) = &self.acl {
            access(a, true).map_err(|e| TaskError::property("acl", e))?;
        }
        if let Some(e) = &self.default_encryption_configuration {
            encryption(e).map_err(|e| TaskError::property("defaultEncryptionConfiguration", e))?;
        }
        Ok(())
    }

    /// The settings as a Dataset resource (without its reference): only
    /// those the task sets, as Kestra's `DatasetInfo` builder.
    fn settings(&self) -> Result<Map<String, Value>, TaskError> {
        let mut m = Map::new();
        if let Some(l) = self.bq.location() {
            m.insert("location".into(), Value::String(l.to_string()));
        }
        if let Some(f) = &self.friendly_name {
            m.insert("friendlyName".into(), Value::String(f.clone()));
        }
        if let Some(d) = &self.description {
            m.insert("description".into(), Value::String(d.clone()));
        }
        if !self.labels.is_empty() {
            m.insert("labels".into(), Value::Object(self.labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect()));
        }
        if let Some(ms) = self.default_table_lifetime {
            m.insert("defaultTableExpirationMs".into(), Value::String(ms.to_string()));
        }
        if let Some(ms) = self.default_partition_expiration_ms {
            m.insert("defaultPartitionExpirationMs".into(), Value::String(ms.to_string()));
        }
        if let Some(a) = &self.acl {
            let list = access(a, true).map_err(|e| TaskError::property("acl", e))?;
            m.insert("access".into(), Value::Array(list));
        }
        if let Some(e) = &self.default_encryption_configuration {
            let e = encryption(e).map_err(|e| TaskError::property("defaultEncryptionConfiguration", e))?;
            m.insert("defaultEncryptionConfiguration".into(), e);
        }
        Ok(m)
    }
}

/// The outputs of CreateDataset and UpdateDataset (Kestra's `AbstractDataset.Output`).
fn dataset_outputs() -> Vec<OutDecl> {
    [
        ("dataset", "The dataset's id."),
        ("project", "The project holding it."),
        ("friendlyName", "Its display name."),
        ("description", "Its description."),
        ("location", "Its location."),
    ]
    .into_iter()
    .map(|(name, doc)| OutDecl { name, kind: PropKind::String, doc })
    .collect()
}

/// Create a BigQuery dataset.
///
/// Creates (or updates, or skips) a dataset.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.CreateDataset",
    group = "gcp",
    example = "id: dataset\ntype: io.kestra.plugin.gcp.bigquery.CreateDataset\nname: zoomcamp\nifExists: SKIP\n",
    outputs_of = dataset_outputs
)]
struct CreateProps {
    #[serde(flatten)]
    ds: DatasetProps,
    /// What to do when it already exists.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["ERROR", "UPDATE", "SKIP"], default = "\"ERROR\"")]
    if_exists: Option<String>,
}

struct CreateDataset {
    p: DatasetProps,
    if_exists: IfExists,
}

fn build_create(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CreateProps = parse_props(props)?;
    p.ds.check()?;
    let if_exists = IfExists::parse(p.if_exists.as_deref())?;
    Ok(Box::new(CreateDataset { p: p.ds, if_exists }))
}

fn output(d: &Value, project: &str, dataset: &str) -> TaskOutput {
    let mut out = Map::new();
    out.insert(
        "dataset".into(),
        Value::String(d["datasetReference"]["datasetId"].as_str().unwrap_or(dataset).to_string()),
    );
    out.insert(
        "project".into(),
        Value::String(d["datasetReference"]["projectId"].as_str().unwrap_or(project).to_string()),
    );
    for key in ["friendlyName", "description", "location"] {
        if let Some(v) = d[key].as_str() {
            out.insert(key.into(), Value::String(v.to_string()));
        }
    }
    TaskOutput::with(out)
}

#[async_trait]
impl RunnableTask for CreateDataset {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let (project, dataset) = split_name(&self.p.name, r.project()?);
        let settings = self.p.settings()?;
        let mut body = settings.clone();
        body.insert("datasetReference".into(), json!({"projectId": project, "datasetId": dataset}));
        match bq.create_dataset(&project, &Value::Object(body)).await {
            Ok(d) => {
                cx.info(&format!("Created dataset '{project}.{dataset}'"));
                Ok(output(&d, &project, &dataset))
            }
            Err(e) if e.status() == Some(409) => match self.if_exists {
                IfExists::Error => Err(bq_error(e)),
                IfExists::Skip => {
                    cx.info(&format!("Dataset '{project}.{dataset}' already exists, skipping"));
                    let d = bq.get_dataset(&project, &dataset).await.map_err(bq_error)?.unwrap_or(Value::Null);
                    Ok(output(&d, &project, &dataset))
                }
                IfExists::Update => {
                    cx.info(&format!("Dataset '{project}.{dataset}' already exists, updating it"));
                    let d = bq.patch_dataset(&project, &dataset, &Value::Object(settings)).await.map_err(bq_error)?;
                    Ok(output(&d, &project, &dataset))
                }
            },
            Err(e) => Err(bq_error(e)),
        }
    }
}

pub static CREATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CreateProps>(build_create));

/// Update a BigQuery dataset's metadata.
///
/// Patches the settings it is given (friendlyName, description, labels, acl, location, default expirations) onto an existing dataset.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.UpdateDataset",
    group = "gcp",
    example = "id: update_dataset\ntype: io.kestra.plugin.gcp.bigquery.UpdateDataset\nname: my_dataset\nlocation: EU\nfriendlyName: new Friendly Name\n",
    outputs_of = dataset_outputs
)]
struct UpdateProps {
    #[serde(flatten)]
    ds: DatasetProps,
}

struct UpdateDataset {
    p: DatasetProps,
}

fn build_update(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: UpdateProps = parse_props(props)?;
    p.ds.check()?;
    Ok(Box::new(UpdateDataset { p: p.ds }))
}

#[async_trait]
impl RunnableTask for UpdateDataset {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let (project, dataset) = split_name(&self.p.name, r.project()?);
        let d = bq.patch_dataset(&project, &dataset, &Value::Object(self.p.settings()?)).await.map_err(bq_error)?;
        cx.info(&format!("Updated dataset '{project}.{dataset}'"));
        Ok(output(&d, &project, &dataset))
    }
}

pub static UPDATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<UpdateProps>(build_update));

/// Delete a BigQuery dataset.
///
/// Deletes a dataset, with its tables when deleteContents.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.DeleteDataset",
    group = "gcp",
    example = "id: drop\ntype: io.kestra.plugin.gcp.bigquery.DeleteDataset\nname: scratch\ndeleteContents: true\n"
)]
struct DeleteProps {
    #[serde(flatten)]
    bq: BqProps,
    /// The dataset's or bucket's name.
    #[serde(deserialize_with = "de::string_lenient")]
    name: String,
    /// Delete its tables too.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    delete_contents: Option<bool>,
}

struct DeleteDataset {
    p: DeleteProps,
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(DeleteDataset { p: parse_props(props)? }))
}

#[async_trait]
impl RunnableTask for DeleteDataset {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let (project, dataset) = split_name(&self.p.name, r.project()?);
        let deleted =
            bq.delete_dataset(&project, &dataset, self.p.delete_contents.unwrap_or(false)).await.map_err(bq_error)?;
        if !deleted {
            return Err(TaskError::failed(format!("Couldn't find dataset '{project}.{dataset}'")));
        }
        cx.info(&format!("Deleted dataset '{project}.{dataset}'"));
        let mut out = Map::new();
        out.insert("dataset".into(), Value::String(dataset));
        out.insert("project".into(), Value::String(project));
        Ok(TaskOutput::with(out))
    }
}

pub static DELETE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DeleteProps>(build_delete));

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings as BigQuery's Dataset resource names them.
    #[test]
    fn settings_are_bigquery_s_dataset_fields() {
        let props = json!({
            "name": "sales", "friendlyName": "Sales", "description": "Orders", "location": "EU",
            "labels": {"team": "data"}, "defaultTableLifetime": 3600000, "defaultPartitionExpirationMs": "86400000",
            "acl": [
                {"entity": {"type": "USER", "value": "ana@example.com"}, "role": "READER"},
                {"entity": {"type": "GROUP", "value": "team@example.com"}, "role": "WRITER"},
                {"entity": {"type": "DOMAIN", "value": "example.com"}, "role": "READER"},
                {"entity": {"type": "IAM_MEMBER", "value": "serviceAccount:a@p.iam.gserviceaccount.com"}, "role": "OWNER"}
            ],
            "defaultEncryptionConfiguration": {"kmsKeyName": "projects/p/locations/eu/keyRings/r/cryptoKeys/k"}
        });
        let p: UpdateProps = parse_props(props.as_object().unwrap()).unwrap();
        p.ds.check().unwrap();
        assert_eq!(
            Value::Object(p.ds.settings().unwrap()),
            json!({
                "location": "EU", "friendlyName": "Sales", "description": "Orders", "labels": {"team": "data"},
                "defaultTableExpirationMs": "3600000", "defaultPartitionExpirationMs": "86400000",
                "access": [
                    {"role": "READER", "userByEmail": "ana@example.com"},
                    {"role": "WRITER", "groupByEmail": "team@example.com"},
                    {"role": "READER", "domain": "example.com"},
                    {"role": "OWNER", "iamMember": "serviceAccount:a@p.iam.gserviceaccount.com"}
                ],
                "defaultEncryptionConfiguration": {"kmsKeyName": "projects/p/locations/eu/keyRings/r/cryptoKeys/k"}
            })
        );
        // only what is written is sent: a patch leaves the rest as it is
        let p: UpdateProps = parse_props(json!({"name": "sales", "friendlyName": "x"}).as_object().unwrap()).unwrap();
        assert_eq!(Value::Object(p.ds.settings().unwrap()), json!({"friendlyName": "x"}));
        // a bad entry names itself
        let bad = json!([{"entity": {"type": "USER", "value": "a"}, "role": "READER"}, {"entity": {"type": "ROBOT", "value": "a"}, "role": "READER"}]);
        assert_eq!(
            access(&bad, true).unwrap_err(),
            "acl[1].entity.type 'ROBOT' is not one of DOMAIN, GROUP, USER, IAM_MEMBER"
        );
        assert!(encryption(&json!({"kmsKeyName": "k", "other": 1})).is_err());
    }
}
