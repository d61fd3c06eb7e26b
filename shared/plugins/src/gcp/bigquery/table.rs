//! `io.kestra.plugin.gcp.bigquery.CreateTable` and `…DeleteTable`, plus the
//! schema conversion `Load` shares. CreateTable takes Kestra's
//! `tableDefinition` (`type` TABLE / VIEW / MATERIALIZED_VIEW / EXTERNAL,
//! `schema.fields[]` with `subFields`, `standardTableDefinition`,
//! `viewDefinition`, `materializedViewDefinition`,
//! `externalTableDefinition`), `friendlyName`, `labels`,
//! `requirePartitionFilter`, `expirationDuration` (`description` is the
//! task's own key in Baton's flow model); outputs the table's
//! metadata as Kestra names it (`projectId`, `datasetId`, `table`, …).

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::job::BqProps;
use super::table_ref::TableProps;
use crate::gcp::common::bq_error;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Kestra's schema (`{fields: [{name, type, mode, description, subFields}]}`)
/// as BigQuery's `TableSchema` JSON (sub-fields under `fields`).
pub fn schema_json(property: &str, v: &Value) -> Result<Value, TaskError> {
    fn fields(property: &str, list: &Value) -> Result<Vec<Value>, TaskError> {
        let items =
            list.as_array().ok_or_else(|| TaskError::property(property, "'fields' must be a list of {name, type}"))?;
        items
            .iter()
            .map(|f| {
                let name = f["name"].as_str().filter(|n| !n.is_empty());
                let ty = f["type"].as_str().filter(|t| !t.is_empty());
                let (Some(name), Some(ty)) = (name, ty) else {
                    return Err(TaskError::property(
                        property,
                        format!("each field needs a name and a type, found {f}"),
                    ));
                };
                let mut out = Map::new();
                out.insert("name".into(), json!(name));
                out.insert("type".into(), json!(ty.to_ascii_uppercase()));
                for key in ["mode", "description"] {
                    if let Some(s) = f[key].as_str() {
                        out.insert(
                            key.into(),
                            json!(if key == "mode" { s.to_ascii_uppercase() } else { s.to_string() }),
                        );
                    }
                }
                let subs = if f["subFields"].is_array() { &f["subFields"] } else { &f["fields"] };
                if subs.is_array() {
                    out.insert("fields".into(), Value::Array(fields(property, subs)?));
                }
                Ok(Value::Object(out))
            })
            .collect()
    }
    match v.get("fields") {
        Some(list) => Ok(json!({"fields": fields(property, list)?})),
        None => {
            Err(TaskError::property(property, format!("Unable to deserialize schema, no 'fields' with data '{v}'")))
        }
    }
}

/// Copies the listed keys of `from` that are set.
fn pick(from: &Value, keys: &[&str]) -> Map<String, Value> {
    keys.iter().filter_map(|k| from.get(*k).filter(|v| !v.is_null()).map(|v| (k.to_string(), v.clone()))).collect()
}

/// Kestra's `tableDefinition` merged into a BigQuery `Table` resource.
fn apply_definition(def: &Value, table: &mut Map<String, Value>) -> Result<(), TaskError> {
    let prop = "tableDefinition";
    let kind = def["type"].as_str().unwrap_or("TABLE").to_ascii_uppercase();
    if def["schema"].is_object() {
        table.insert("schema".into(), schema_json("tableDefinition.schema", &def["schema"])?);
    }
    match kind.as_str() {
        "TABLE" => {
            let std = &def["standardTableDefinition"];
            if let Some(tp) = std.get("timePartitioning").filter(|v| v.is_object()) {
                table.insert(
                    "timePartitioning".into(),
                    Value::Object(pick(tp, &["type", "field", "expirationMs", "requirePartitionFilter"])),
                );
            }
            match std.get("clustering") {
                Some(Value::Array(f)) => {
                    table.insert("clustering".into(), json!({"fields": f}));
                }
                Some(c @ Value::Object(_)) => {
                    table.insert("clustering".into(), Value::Object(pick(c, &["fields"])));
                }
                _ => {}
            }
            if let Some(rp) = std.get("rangePartitioning").filter(|v| v.is_object()) {
                table.insert("rangePartitioning".into(), rp.clone());
            }
        }
        "VIEW" => {
            let v = &def["viewDefinition"];
            let query =
                v["query"].as_str().ok_or_else(|| TaskError::property(prop, "a VIEW needs viewDefinition.query"))?;
            table.insert(
                "view".into(),
                json!({"query": query, "useLegacySql": v["useLegacySql"].as_bool().unwrap_or(false)}),
            );
        }
        "MATERIALIZED_VIEW" => {
            let v = &def["materializedViewDefinition"];
            let query = v["query"].as_str().ok_or_else(|| {
                TaskError::property(prop, "a MATERIALIZED_VIEW needs materializedViewDefinition.query")
            })?;
            let mut m = pick(v, &["enableRefresh"]);
            m.insert("query".into(), json!(query));
            table.insert("materializedView".into(), Value::Object(m));
        }
        "EXTERNAL" => {
            let e = &def["externalTableDefinition"];
            let uris = e["sourceUris"].as_array().filter(|u| !u.is_empty()).ok_or_else(|| {
                TaskError::property(prop, "an EXTERNAL table needs externalTableDefinition.sourceUris")
            })?;
            let mut m = pick(e, &["autodetect", "compression", "maxBadRecords", "ignoreUnknownValues"]);
            m.insert("sourceUris".into(), Value::Array(uris.clone()));
            let format = e["formatType"].as_str().unwrap_or("CSV").to_ascii_uppercase();
            let format = if format == "JSON" { "NEWLINE_DELIMITED_JSON".to_string() } else { format };
            if let Some(csv) = e.get("csvOptions").filter(|v| v.is_object()) {
                m.insert("csvOptions".into(), Value::Object(super::load::csv_options(csv)));
            }
            m.insert("sourceFormat".into(), Value::String(format));
            if let Some(s) = table.remove("schema") {
                m.insert("schema".into(), s);
            }
            table.insert("externalDataConfiguration".into(), Value::Object(m));
        }
        other => {
            return Err(TaskError::property(
                "tableDefinition.type",
                format!("'{other}' is not one of TABLE, VIEW, MATERIALIZED_VIEW, EXTERNAL"),
            ));
        }
    }
    Ok(())
}

/// A Table resource as Kestra's table output.
pub(super) fn table_output(t: &Value) -> Map<String, Value> {
    let r = &t["tableReference"];
    let mut out = Map::new();
    out.insert("projectId".into(), r["projectId"].clone());
    out.insert("datasetId".into(), r["datasetId"].clone());
    out.insert("table".into(), r["tableId"].clone());
    for (to, from) in [
        ("etag", "etag"),
        ("generatedId", "id"),
        ("selfLink", "selfLink"),
        ("friendlyName", "friendlyName"),
        ("description", "description"),
        ("labels", "labels"),
        ("requirePartitionFilter", "requirePartitionFilter"),
    ] {
        if !t[from].is_null() {
            out.insert(to.into(), t[from].clone());
        }
    }
    for (to, from) in [("numBytes", "numBytes"), ("numRows", "numRows"), ("numLongTermBytes", "numLongTermBytes")] {
        if let Some(n) = t[from].as_str().and_then(|s| s.parse::<i64>().ok()) {
            out.insert(to.into(), Value::from(n));
        }
    }
    for (to, from) in [
        ("creationTime", "creationTime"),
        ("expirationTime", "expirationTime"),
        ("lastModifiedTime", "lastModifiedTime"),
    ] {
        if let Some(t) =
            t[from].as_str().and_then(|s| s.parse::<i64>().ok()).and_then(chrono::DateTime::from_timestamp_millis)
        {
            out.insert(to.into(), Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
        }
    }
    let kind = t["type"].as_str().unwrap_or("TABLE");
    let mut def = Map::new();
    def.insert("type".into(), json!(kind));
    if t["schema"].is_object() {
        def.insert("schema".into(), t["schema"].clone());
    }
    out.insert("definition".into(), Value::Object(def));
    out
}

/// Create a BigQuery table.
///
/// Creates a table from a table definition (schema, partitioning, clustering).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.CreateTable",
    group = "gcp",
    example = "id: table\ntype: io.kestra.plugin.gcp.bigquery.CreateTable\ndataset: zoomcamp\ntable: trips\ntableDefinition:\n  type: TABLE\n  schema:\n    fields:\n      - name: id\n        type: INT64\n"
)]
pub(super) struct CreateProps {
    #[serde(flatten)]
    pub(super) bq: BqProps,
    /// The dataset.
    #[serde(deserialize_with = "de::string_lenient")]
    pub(super) dataset: String,
    /// The table.
    #[serde(deserialize_with = "de::string_lenient")]
    pub(super) table: String,
    /// The table: {type, schema, timePartitioning, clustering…}.
    #[serde(default)]
    #[prop(kind = "Map")]
    pub(super) table_definition: Option<Value>,
    /// A display name.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    pub(super) friendly_name: Option<String>,
    /// Labels set on the resource.
    #[serde(default, deserialize_with = "de::string_map")]
    #[prop(kind = "Map")]
    pub(super) labels: Vec<(String, String)>,
    /// Queries must filter on the partition.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    pub(super) require_partition_filter: Option<bool>,
    /// Delete the table after this long.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration")]
    pub(super) expiration_duration: Option<chrono::Duration>,
}

struct CreateTable {
    p: CreateProps,
    /// The Table resource without its reference.
    body: Map<String, Value>,
}

fn build_create(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CreateProps = parse_props(props)?;
    let body = p.body()?;
    Ok(Box::new(CreateTable { p, body }))
}

impl CreateProps {
    /// The Table resource of the settings given (no reference, no expiration).
    pub(super) fn body(&self) -> Result<Map<String, Value>, TaskError> {
        let p = self;
        let mut body = Map::new();
        if let Some(def) = &p.table_definition {
            apply_definition(def, &mut body)?;
        }
        if let Some(f) = &p.friendly_name {
            body.insert("friendlyName".into(), json!(f));
        }
        if !p.labels.is_empty() {
            body.insert("labels".into(), Value::Object(p.labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect()));
        }
        if let Some(r) = p.require_partition_filter {
            body.insert("requirePartitionFilter".into(), json!(r));
        }
        Ok(body)
    }
}

#[async_trait]
impl RunnableTask for CreateTable {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let project = r.project()?.to_string();
        let (dataset, table) = (self.p.dataset.trim(), self.p.table.trim());
        let mut body = self.body.clone();
        body.insert("tableReference".into(), json!({"projectId": project, "datasetId": dataset, "tableId": table}));
        if let Some(d) = self.p.expiration_duration {
            let at = Utc::now() + d;
            body.insert("expirationTime".into(), Value::String(at.timestamp_millis().to_string()));
        }
        if let Some(l) = self.p.bq.location() {
            body.insert("location".into(), json!(l));
        }
        let created = bq.create_table(&project, dataset, &Value::Object(body)).await.map_err(bq_error)?;
        cx.info(&format!("Created table '{project}.{dataset}.{table}'"));
        Ok(TaskOutput::with(table_output(&created)))
    }
}

pub static CREATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CreateProps>(build_create));

/// Delete a BigQuery table.
///
/// Deletes one table.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.DeleteTable",
    group = "gcp",
    example = "id: drop_table\ntype: io.kestra.plugin.gcp.bigquery.DeleteTable\ndataset: zoomcamp\ntable: trips_staging\n"
)]
struct DeleteProps {
    #[serde(flatten)]
    t: TableProps,
}

struct DeleteTable {
    p: DeleteProps,
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(DeleteTable { p: parse_props(props)? }))
}

#[async_trait]
impl RunnableTask for DeleteTable {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.p.t.bq.gcp.resolve(cx)?;
        let bq = r.bigquery(cx).await?;
        let project = r.project()?.to_string();
        let (dataset, table) = (self.p.t.dataset.trim(), self.p.t.table.trim());
        if !bq.delete_table(&project, dataset, table).await.map_err(bq_error)? {
            return Err(TaskError::failed(format!("Couldn't find table '{project}.{dataset}.{table}'")));
        }
        cx.info(&format!("Deleted table '{project}.{dataset}.{table}'"));
        let mut out = Map::new();
        out.insert("projectId".into(), json!(project));
        out.insert("datasetId".into(), json!(dataset));
        out.insert("table".into(), json!(table));
        Ok(TaskOutput::with(out))
    }
}

pub static DELETE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DeleteProps>(build_delete));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kestra_definitions_become_bigquery_tables() {
        let def = json!({"type": "EXTERNAL", "schema": {"fields": [{"name": "id", "type": "int64"},
            {"name": "s", "type": "RECORD", "subFields": [{"name": "x", "type": "STRING", "mode": "nullable"}]}]},
            "externalTableDefinition": {"sourceUris": ["gs://b/f.csv"], "formatType": "CSV",
            "csvOptions": {"skipLeadingRows": 1}, "ignoreUnknownValues": true}});
        let mut t = Map::new();
        apply_definition(&def, &mut t).unwrap();
        assert_eq!(
            Value::Object(t),
            json!({"externalDataConfiguration": {"ignoreUnknownValues": true, "sourceUris": ["gs://b/f.csv"],
                "csvOptions": {"skipLeadingRows": "1"}, "sourceFormat": "CSV",
                "schema": {"fields": [{"name": "id", "type": "INT64"},
                    {"name": "s", "type": "RECORD", "fields": [{"name": "x", "type": "STRING", "mode": "NULLABLE"}]}]}}})
        );
        let mut t = Map::new();
        let def = json!({"type": "TABLE", "standardTableDefinition": {"clustering": ["a"], "timePartitioning": {"type": "DAY", "field": "d"}}});
        apply_definition(&def, &mut t).unwrap();
        assert_eq!(
            Value::Object(t),
            json!({"timePartitioning": {"type": "DAY", "field": "d"}, "clustering": {"fields": ["a"]}})
        );
        let e = apply_definition(&json!({"type": "EXTERNAL"}), &mut Map::new()).unwrap_err().to_string();
        assert!(e.contains("sourceUris"), "{e}");
        let e = schema_json("schema", &json!({"fields": [{"name": "a"}]})).unwrap_err().to_string();
        assert!(e.contains("needs a name and a type"), "{e}");
    }
}
