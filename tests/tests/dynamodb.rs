//! The Amazon DynamoDB tasks (`io.kestra.plugin.aws.dynamodb.*`) in flows,
//! against moto's server (`crate::moto`), one per test:
//! - PutItem (a map, a JSON string), GetItem (found, and not: an empty
//!   `row`), Query (FETCH), Scan (STORE, FETCH_ONE with a filter),
//!   DeleteItem, with Kestra's conversion (a number written as text);
//! - Kestra's documented "SQS RealtimeTrigger into DynamoDB" flow on
//!   `baton server local`: a JSON message becomes an item;
//! - validation: a Query without its key condition, named with its position.

use std::time::Duration;

use serde_json::{Value, json};
use shared::model::{Execution, StateType};
use shared::plugins::aws::aws_sdk_dynamodb::Client;
use shared::plugins::aws::aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

use crate::moto::{Moto, moto};
use crate::redis_tasks::validate;
use crate::redis_triggers::{Local, ended};
use crate::sched_support::read_uri;
use crate::support::{harness, runs};

async fn client(m: &Moto) -> Client {
    m.props().dynamodb().await.expect("client")
}

/// A table keyed by the text attribute `id`.
async fn table(c: &Client, name: &str) {
    c.create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("definition"),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().expect("key"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
}

fn out<'a>(e: &'a Execution, task: &str) -> &'a serde_json::Map<String, Value> {
    runs(e, task).first().and_then(|t| t.outputs.as_ref()).unwrap_or_else(|| panic!("no outputs of {task}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_tasks_put_get_query_scan_and_delete_items() {
    let aws = moto().await;
    let c = client(&aws).await;
    table(&c, "persons").await;
    let h = harness();
    let flow = format!(
        r#"
id: persons
namespace: company.team
tasks:
  - id: put_map
    type: io.kestra.plugin.aws.dynamodb.PutItem
    item:
      id: 1
      firstname: John
      lastname: Doe
      active: true
  - id: put_json
    type: io.kestra.plugin.aws.dynamodb.PutItem
    item: |
      {{"id": 2, "firstname": "Jane", "lastname": "Doe", "flow": "{{{{ flow.id }}}}", "tags": ["a", "b"]}}
  - id: get
    type: io.kestra.plugin.aws.dynamodb.GetItem
    key:
      id: "1"
  - id: missing
    type: io.kestra.plugin.aws.dynamodb.GetItem
    key:
      id: "9"
  - id: query
    type: io.kestra.plugin.aws.dynamodb.Query
    keyConditionExpression: id = :id
    expressionAttributeValues:
      ":id": "2"
    fetchType: FETCH
  - id: scan
    type: io.kestra.plugin.aws.dynamodb.Scan
  - id: janes
    type: io.kestra.plugin.aws.dynamodb.Scan
    filterExpression: firstname = :name
    expressionAttributeValues:
      ":name": Jane
    fetchType: FETCH_ONE
  - id: delete
    type: io.kestra.plugin.aws.dynamodb.DeleteItem
    key:
      id: "1"
  - id: after
    type: io.kestra.plugin.aws.dynamodb.Scan
    fetchType: FETCH
{}  - type: io.kestra.plugin.aws.dynamodb
    values:
      tableName: persons
"#,
        aws.defaults()
    );
    let e = h.run(&flow, json!({})).await;
    assert_eq!(e.state.current, StateType::Success, "{:?}", h.logs(&e.id).await);
    assert_eq!(
        Value::Object(out(&e, "get")["row"].as_object().cloned().unwrap_or_default()),
        json!({"active": true, "firstname": "John", "id": "1", "lastname": "Doe"}),
        "a number is written as text, as Kestra writes it"
    );
    assert_eq!(out(&e, "missing")["row"], json!({}), "no item: an empty row");
    assert_eq!(out(&e, "query")["size"], 1);
    assert_eq!(out(&e, "query")["rows"][0]["tags"], json!(["a", "b"]));
    assert_eq!(out(&e, "query")["rows"][0]["flow"], json!("persons"), "the JSON string was rendered");
    assert_eq!(out(&e, "scan")["size"], 2);
    let text = read_uri(&h.embedded.engine, &out(&e, "scan")["uri"]).await;
    assert_eq!(text.lines().count(), 2, "{text}");
    assert_eq!(out(&e, "janes")["row"]["id"], json!("2"));
    assert_eq!(out(&e, "after")["size"], 1, "deleted");
    let left = c.get_item().table_name("persons").key("id", AttributeValue::S("1".into())).send().await.expect("get");
    assert!(left.item().is_none());

    // a table that does not exist: the task fails naming it and DynamoDB's reason
    let e = h.run(&flow.replace("tableName: persons", "tableName: nobody"), json!({})).await;
    assert_eq!(e.state.current, StateType::Failed);
    let logs = h.logs(&e.id).await.join("\n");
    assert!(logs.contains("cannot put the item into 'nobody'"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kestra_s_sqs_realtime_into_dynamodb_flow_stores_each_order() {
    let aws = moto().await;
    let dynamo = client(&aws).await;
    table(&dynamo, "orders").await;
    let sqs = aws.props().sqs(Duration::from_secs(5)).await.expect("sqs");
    let url =
        sqs.create_queue().queue_name("orders").send().await.expect("queue").queue_url().expect("url").to_string();
    let connection = format!(
        "endpointOverride: {}\n      region: us-east-1\n      accessKeyId: testing\n      secretKeyId: testing",
        aws.url
    );
    // Kestra's example (plugin-aws sqs/RealtimeTrigger), its item keyed by `id` here
    let yaml = format!(
        r#"id: sqs_realtime_trigger
namespace: company.team
tasks:
  - id: insert_into_dynamoDB
    type: io.kestra.plugin.aws.dynamodb.PutItem
    tableName: orders
    item:
      id: "{{{{ trigger.data | jq('.order_id') | first }}}}"
      customer_name: "{{{{ trigger.data | jq('.customer_name') | first }}}}"
      total: "{{{{ trigger.data | jq('.total') | first }}}}"
triggers:
  - id: realtime_trigger
    type: io.kestra.plugin.aws.sqs.RealtimeTrigger
    queueUrl: {url}
    serdeType: JSON
    waitTime: PT1S
pluginDefaults:
  - type: io.kestra.plugin.aws
    values:
      {connection}
"#
    );
    let local = Local::new(&yaml);
    let server = local.start().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body(r#"{"order_id": "o-1", "customer_name": "Ada", "total": 42.5}"#)
        .send()
        .await
        .expect("send");
    let all = ended(&server, "sqs_realtime_trigger", 1).await;
    assert_eq!(all[0].state.current, StateType::Success, "{:?}", all[0].error);
    let got =
        dynamo.get_item().table_name("orders").key("id", AttributeValue::S("o-1".into())).send().await.expect("get");
    let item = got.item().expect("the order is stored");
    assert_eq!(item.get("customer_name"), Some(&AttributeValue::S("Ada".into())));
    assert_eq!(item.get("total"), Some(&AttributeValue::S("42.5".into())));
    server.shutdown().await;
}

#[test]
fn validation_names_a_query_without_its_key_condition() {
    let out = validate(
        "id: v\nnamespace: company.team\ntasks:\n  - id: q\n    type: io.kestra.plugin.aws.dynamodb.Query\n    \
         tableName: t\n    expressionAttributeValues:\n      \":id\": \"1\"\n    fetchType: ALL\n",
    );
    assert!(out.contains("flow.yaml:4:5") && out.contains("keyConditionExpression"), "{out}");
    assert!(out.contains("fetchType"), "{out}");
}
