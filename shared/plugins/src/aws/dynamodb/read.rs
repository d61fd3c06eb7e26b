//! `io.kestra.plugin.aws.dynamodb.Query` (`keyConditionExpression` with
//! its `expressionAttributeValues`) and `Scan` (a whole table), both with
//! `filterExpression` and `limit`; `fetchType` (STORE by default) says what
//! becomes of the items: FETCH_ONE `row`, FETCH `rows`, STORE an Ion file
//! (`uri`), each with `size`; metric `records` (tag `tableName`). Kestra
//! reads one page of at most 1 MB; Baton follows DynamoDB's pages until
//! `limit` items or the end, at most [`MAX_ITEMS`] (an error naming the
//! bound beyond).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{TableProps, from_item, map_of, map_ok, to_item};
use crate::aws::AwsProps;
use crate::aws::connection::sdk_error;
use crate::jdbc::fetch::{FetchType, ResultWriter, fetch_type_ok};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most items one Query or Scan reads.
pub const MAX_ITEMS: u64 = 1_000_000;

/// What Query and Scan share.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct ReadProps {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    table: TableProps,
    /// What becomes of the items: STORE (an Ion file), FETCH (rows), FETCH_ONE (row) or NONE.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["STORE", "FETCH", "FETCH_ONE", "NONE"], default = "\"STORE\"", check = fetch_type_ok)]
    fetch_type: Option<String>,
    /// The most items returned.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic)]
    limit: Option<u64>,
    /// A filter applied to the items read, with placeholders from expressionAttributeValues.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    filter_expression: Option<String>,
}

/// Query items of a DynamoDB table.
///
/// Reads the items matching keyConditionExpression (its placeholders in expressionAttributeValues), optionally filtered; fetchType says whether they become row, rows or an Ion file.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.dynamodb.Query",
    group = "aws",
    example = "id: query\ntype: io.kestra.plugin.aws.dynamodb.Query\nregion: eu-central-1\ntableName: persons\nkeyConditionExpression: id = :id\nexpressionAttributeValues:\n  \":id\": \"1\"\nfetchType: FETCH\n",
    outputs(
        row(Map, "The first item (fetchType FETCH_ONE)."),
        rows(List, "The items (fetchType FETCH)."),
        uri(String, "An Ion file of the items, one a line (fetchType STORE)."),
        size(Integer, "How many items were read.")
    )
)]
struct QueryProps {
    #[serde(flatten)]
    r: ReadProps,
    /// The key condition: the partition key, and a condition on the sort key when the table has one.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    key_condition_expression: Option<String>,
    /// The values of the expressions' placeholders (`:name` → value).
    #[prop(dynamic, kind = "Map", required, check = map_ok)]
    expression_attribute_values: Option<Value>,
}

/// Scan the items of a DynamoDB table.
///
/// Reads every item of a table, optionally filtered (filterExpression with expressionAttributeValues); fetchType says whether they become row, rows or an Ion file.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.dynamodb.Scan",
    group = "aws",
    example = "id: scan\ntype: io.kestra.plugin.aws.dynamodb.Scan\nregion: eu-central-1\ntableName: persons\nfilterExpression: lastname = :lastname\nexpressionAttributeValues:\n  \":lastname\": Doe\nfetchType: FETCH\n",
    outputs(
        row(Map, "The first item (fetchType FETCH_ONE)."),
        rows(List, "The items (fetchType FETCH)."),
        uri(String, "An Ion file of the items, one a line (fetchType STORE)."),
        size(Integer, "How many items were read.")
    )
)]
struct ScanProps {
    #[serde(flatten)]
    r: ReadProps,
    /// The values of the filter's placeholders (`:name` → value); required with filterExpression.
    #[prop(dynamic, kind = "Map", check = map_ok)]
    expression_attribute_values: Option<Value>,
}

struct Read {
    aws: AwsProps,
    table: String,
    kind: FetchType,
    limit: Option<u64>,
    filter: Option<String>,
    /// The query's key condition; `None` for a scan.
    key_condition: Option<String>,
    values: Option<Map<String, Value>>,
}

fn read(r: ReadProps, key_condition: Option<String>, values: Option<Value>) -> Result<Read, TaskError> {
    r.aws.check()?;
    let kind = match r.fetch_type.as_deref() {
        None => FetchType::Store,
        Some(s) => FetchType::parse(s).map_err(|e| TaskError::property("fetchType", e))?,
    };
    if r.limit == Some(0) {
        return Err(TaskError::property("limit", "must be at least 1"));
    }
    let values = values.map(|v| map_of("expressionAttributeValues", &v)).transpose()?;
    let filter = r.filter_expression.map(|f| f.trim().to_string()).filter(|f| !f.is_empty());
    if filter.is_some() && values.as_ref().is_none_or(Map::is_empty) {
        return Err(TaskError::property(
            "expressionAttributeValues",
            "'expressionAttributeValues' must be provided when 'filterExpression' is used",
        ));
    }
    Ok(Read { table: r.table.table()?.to_string(), aws: r.aws, kind, limit: r.limit, filter, key_condition, values })
}

fn build_query(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: QueryProps = parse_props(props)?;
    let cond = p.key_condition_expression.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    let cond = cond.ok_or_else(|| TaskError::property("keyConditionExpression", "the key condition is required"))?;
    let values = p.expression_attribute_values.ok_or_else(|| {
        TaskError::property("expressionAttributeValues", "the key condition's placeholder values are required")
    })?;
    Ok(Box::new(read(p.r, Some(cond), Some(values))?))
}

fn build_scan(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ScanProps = parse_props(props)?;
    Ok(Box::new(read(p.r, None, p.expression_attribute_values)?))
}

type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

impl Read {
    /// One page from `start`: its items and where the next one starts.
    async fn page(
        &self,
        client: &aws_sdk_dynamodb::Client,
        start: Option<Item>,
        want: Option<i32>,
    ) -> Result<(Vec<Item>, Option<Item>), TaskError> {
        let table = self.table.as_str();
        let values = self.values.as_ref().map(to_item);
        match &self.key_condition {
            Some(cond) => {
                let a = client
                    .query()
                    .table_name(table)
                    .key_condition_expression(cond)
                    .set_expression_attribute_values(values)
                    .set_filter_expression(self.filter.clone())
                    .set_limit(want)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| sdk_error("DynamoDB", &format!("cannot query '{table}'"), e))?;
                Ok((a.items().to_vec(), a.last_evaluated_key().cloned()))
            }
            None => {
                let a = client
                    .scan()
                    .table_name(table)
                    .set_expression_attribute_values(values.filter(|_| self.filter.is_some()))
                    .set_filter_expression(self.filter.clone())
                    .set_limit(want)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| sdk_error("DynamoDB", &format!("cannot scan '{table}'"), e))?;
                Ok((a.items().to_vec(), a.last_evaluated_key().cloned()))
            }
        }
    }
}

#[async_trait]
impl RunnableTask for Read {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.aws.dynamodb().await?;
        let mut w = ResultWriter::new(cx, self.kind, "result.ion");
        let mut read = 0u64;
        let mut start = None;
        let cap = self.limit.unwrap_or(u64::MAX);
        loop {
            let left = cap.saturating_sub(read);
            let want = (left < i32::MAX as u64).then_some(left as i32);
            let (items, next) = self.page(&client, start, want).await?;
            for item in items {
                if read >= cap || !w.wants_more() {
                    break;
                }
                read += 1;
                if read > MAX_ITEMS {
                    return Err(TaskError::failed(format!(
                        "'{}' has more than {MAX_ITEMS} items to read, the most one task reads: narrow it with limit or a filter",
                        self.table
                    )));
                }
                w.push(from_item(&item)).await?;
            }
            start = next;
            if start.is_none() || read >= cap || !w.wants_more() {
                break;
            }
        }
        let out = w.finish().await?;
        let size = out.get("size").and_then(Value::as_u64).unwrap_or(read);
        cx.counter("records", size as f64, &[("tableName", self.table.as_str())]);
        cx.info(&format!("Read {read} items of '{}'", self.table));
        Ok(TaskOutput::with(out))
    }
}

pub static QUERY: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<QueryProps>(build_query));
pub static SCAN: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ScanProps>(build_scan));
