//! `io.kestra.plugin.aws.dynamodb.PutItem` (an item, a map or a JSON
//! string, created or replaced), `GetItem` (by its full key: output `row`,
//! an empty map when there is no such item) and `DeleteItem` (by its full
//! key; nothing to delete is no error, as in DynamoDB).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{TableProps, from_item, map_of, map_ok, to_item};
use crate::aws::AwsProps;
use crate::aws::connection::sdk_error;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, parse_props};

/// Put an item into a DynamoDB table.
///
/// Creates the item, or replaces the one with the same key; `item` is a map or a string holding a JSON object.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.dynamodb.PutItem",
    group = "aws",
    example = "id: put_item\ntype: io.kestra.plugin.aws.dynamodb.PutItem\nregion: eu-central-1\ntableName: persons\nitem:\n  id: 1\n  firstname: John\n  lastname: Doe\n"
)]
struct PutProps {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    table: TableProps,
    /// The item: a map, or a string holding a JSON object.
    #[prop(dynamic, kind = "Any", required, check = map_ok)]
    item: Option<Value>,
}

/// Get an item of a DynamoDB table by its key.
///
/// Reads the item with the given full key (partition key, and sort key when the table has one); outputs row, an empty map when there is none.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.dynamodb.GetItem",
    group = "aws",
    example = "id: get_item\ntype: io.kestra.plugin.aws.dynamodb.GetItem\nregion: eu-central-1\ntableName: persons\nkey:\n  id: \"1\"\n",
    outputs(row(Map, "The item (an empty map when there is none)."))
)]
struct KeyProps {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    table: TableProps,
    /// The item's full key: the partition key, and the sort key when the table has one.
    #[prop(dynamic, kind = "Map", required, check = map_ok)]
    key: Option<Value>,
}

/// Delete an item of a DynamoDB table by its key.
///
/// Deletes the item with the given full key (partition key, and sort key when the table has one); no item is no error.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.dynamodb.DeleteItem",
    group = "aws",
    example = "id: delete_item\ntype: io.kestra.plugin.aws.dynamodb.DeleteItem\nregion: eu-central-1\ntableName: persons\nkey:\n  id: \"1\"\n"
)]
struct DeleteProps {
    #[serde(flatten)]
    k: KeyProps,
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Put,
    Get,
    Delete,
}

struct ItemTask {
    aws: AwsProps,
    table: String,
    op: Op,
    /// The item (Put) or the key (Get, Delete).
    fields: Map<String, Value>,
}

fn build_put(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: PutProps = parse_props(props)?;
    p.aws.check()?;
    let item = p.item.ok_or_else(|| TaskError::property("item", "the item is required"))?;
    Ok(Box::new(ItemTask {
        table: p.table.table()?.to_string(),
        aws: p.aws,
        op: Op::Put,
        fields: map_of("item", &item)?,
    }))
}

fn keyed(p: KeyProps, op: Op) -> Result<Box<dyn RunnableTask>, TaskError> {
    p.aws.check()?;
    let key = p.key.ok_or_else(|| TaskError::property("key", "the item's key is required"))?;
    let fields = map_of("key", &key)?;
    if fields.is_empty() {
        return Err(TaskError::property("key", "the key is empty"));
    }
    Ok(Box::new(ItemTask { table: p.table.table()?.to_string(), aws: p.aws, op, fields }))
}

fn build_get(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    keyed(parse_props(props)?, Op::Get)
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    keyed(parse_props::<DeleteProps>(props)?.k, Op::Delete)
}

#[async_trait]
impl RunnableTask for ItemTask {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.aws.dynamodb().await?;
        let table = self.table.as_str();
        let fields = to_item(&self.fields);
        let mut out = Map::new();
        match self.op {
            Op::Put => {
                client
                    .put_item()
                    .table_name(table)
                    .set_item(Some(fields))
                    .send()
                    .await
                    .map_err(|e| sdk_error("DynamoDB", &format!("cannot put the item into '{table}'"), e))?;
                cx.info(&format!("Put an item into '{table}'"));
            }
            Op::Get => {
                let answer = client
                    .get_item()
                    .table_name(table)
                    .set_key(Some(fields))
                    .send()
                    .await
                    .map_err(|e| sdk_error("DynamoDB", &format!("cannot get the item of '{table}'"), e))?;
                let row = answer.item().map(from_item).unwrap_or_default();
                cx.info(&format!("{} item of '{table}'", if row.is_empty() { "No" } else { "Got the" }));
                out.insert("row".into(), Value::Object(row));
            }
            Op::Delete => {
                client
                    .delete_item()
                    .table_name(table)
                    .set_key(Some(fields))
                    .send()
                    .await
                    .map_err(|e| sdk_error("DynamoDB", &format!("cannot delete the item of '{table}'"), e))?;
                cx.info(&format!("Deleted the item of '{table}'"));
            }
        }
        Ok(TaskOutput::with(out))
    }
}

pub static PUT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<PutProps>(build_put));
pub static GET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<KeyProps>(build_get));
pub static DELETE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DeleteProps>(build_delete));
