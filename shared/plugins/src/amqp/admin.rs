//! The declaring tasks of plugin-amqp: `io.kestra.plugin.amqp.CreateQueue`
//! (`CreateQueue.java`: `name`, `durability` true, `exclusive` false,
//! `autoDelete` false, `args`; output `queue`),
//! `io.kestra.plugin.amqp.DeclareExchange` (`DeclareExchange.java`: `name`,
//! `exchangeType` DIRECT, `durability` true, `autoDelete` false, `internal`
//! false, `args`; output `exchange`) and `io.kestra.plugin.amqp.QueueBind`
//! (`QueueBind.java`: `exchange`, `queue`, `routingKey`, `args`; outputs
//! `queue` and `exchange`). Each opens one connection and channel; a
//! declaration that differs from the existing queue's or exchange's fails
//! as the broker says.

use std::sync::LazyLock;

use async_trait::async_trait;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ExchangeKind};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::conn::{AmqpProps, field_table};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Create an AMQP queue.
///
/// Declares a queue (durable, exclusive, auto-delete as set, with args) on the broker; outputs queue.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.amqp.CreateQueue",
    group = "core",
    example = "id: create_queue\ntype: io.kestra.plugin.amqp.CreateQueue\nhost: localhost\nport: 5672\nusername: guest\npassword: \"{{ secret('AMQP_PASSWORD') }}\"\nvirtualHost: /my_vhost\nname: kestramqp.queue\n",
    outputs(queue(String, "The queue's name."))
)]
struct QueueProps {
    #[serde(flatten)]
    conn: AmqpProps,
    /// The queue's name.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    name: Option<String>,
    /// A durable queue survives a restart of the broker.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    durability: Option<bool>,
    /// An exclusive queue belongs to this connection (and is deleted with it).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    exclusive: Option<bool>,
    /// The broker deletes the queue once its last consumer left.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    auto_delete: Option<bool>,
    /// The queue's arguments (x-message-ttl, x-max-length, x-queue-type…).
    #[serde(default)]
    #[prop(dynamic, kind = "Map")]
    args: Option<Map<String, Value>>,
}

/// Create an AMQP exchange.
///
/// Declares an exchange (DIRECT, FANOUT, TOPIC or HEADERS; durable, auto-delete, internal as set, with args) on the broker; outputs exchange.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.amqp.DeclareExchange",
    group = "core",
    example = "id: declare_exchange\ntype: io.kestra.plugin.amqp.DeclareExchange\nhost: localhost\nport: 5672\nusername: guest\npassword: \"{{ secret('AMQP_PASSWORD') }}\"\nvirtualHost: /my_vhost\nname: kestramqp.exchange\n",
    outputs(exchange(String, "The exchange's name."))
)]
struct ExchangeProps {
    #[serde(flatten)]
    conn: AmqpProps,
    /// The exchange's name.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    name: Option<String>,
    /// The exchange's type.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["DIRECT", "FANOUT", "TOPIC", "HEADERS"], default = "\"DIRECT\"")]
    exchange_type: Option<String>,
    /// A durable exchange survives a restart of the broker.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    durability: Option<bool>,
    /// The broker deletes the exchange once no queue is bound to it.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    auto_delete: Option<bool>,
    /// An internal exchange takes messages from other exchanges only, not from publishers.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    internal: Option<bool>,
    /// The exchange's arguments (alternate-exchange…).
    #[serde(default)]
    #[prop(dynamic, kind = "Map")]
    args: Option<Map<String, Value>>,
}

/// Bind a queue to an AMQP exchange.
///
/// Binds a queue to an exchange with the routing key (and args, for a HEADERS exchange); outputs queue and exchange.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.amqp.QueueBind",
    group = "core",
    example = "id: queue_bind\ntype: io.kestra.plugin.amqp.QueueBind\nhost: localhost\nport: 5672\nusername: guest\npassword: \"{{ secret('AMQP_PASSWORD') }}\"\nvirtualHost: /my_vhost\nexchange: kestramqp.exchange\nqueue: kestramqp.queue\n",
    outputs(queue(String, "The queue's name."), exchange(String, "The exchange's name."))
)]
struct BindProps {
    #[serde(flatten)]
    conn: AmqpProps,
    /// The exchange to bind to.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    exchange: Option<String>,
    /// The queue to bind.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    queue: Option<String>,
    /// The binding's routing key.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    routing_key: Option<String>,
    /// The binding's arguments (x-match and the headers of a HEADERS exchange…).
    #[serde(default)]
    #[prop(dynamic, kind = "Map")]
    args: Option<Map<String, Value>>,
}

fn name(property: &str, v: Option<String>) -> Result<String, TaskError> {
    let v = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    v.ok_or_else(|| TaskError::property(property, "is required"))
}

/// What one of the three declares.
enum Declaration {
    Queue { name: String, options: QueueDeclareOptions },
    Exchange { name: String, kind: ExchangeKind, options: ExchangeDeclareOptions },
    Bind { queue: String, exchange: String, routing_key: String },
}

struct Declaring {
    conn: AmqpProps,
    what: Declaration,
    args: FieldTable,
}

fn build_queue(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: QueueProps = parse_props(props)?;
    p.conn.check()?;
    let options = QueueDeclareOptions {
        durable: p.durability.unwrap_or(true),
        exclusive: p.exclusive.unwrap_or(false),
        auto_delete: p.auto_delete.unwrap_or(false),
        ..QueueDeclareOptions::default()
    };
    let what = Declaration::Queue { name: name("name", p.name)?, options };
    Ok(Box::new(Declaring { args: field_table("args", p.args.as_ref())?, conn: p.conn, what }))
}

fn build_exchange(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ExchangeProps = parse_props(props)?;
    p.conn.check()?;
    let kind = match p.exchange_type.as_deref().map(str::trim).unwrap_or("DIRECT") {
        "DIRECT" => ExchangeKind::Direct,
        "FANOUT" => ExchangeKind::Fanout,
        "TOPIC" => ExchangeKind::Topic,
        "HEADERS" => ExchangeKind::Headers,
        other => {
            return Err(TaskError::property(
                "exchangeType",
                format!("unknown '{other}': DIRECT, FANOUT, TOPIC or HEADERS"),
            ));
        }
    };
    let options = ExchangeDeclareOptions {
        durable: p.durability.unwrap_or(true),
        auto_delete: p.auto_delete.unwrap_or(false),
        internal: p.internal.unwrap_or(false),
        ..ExchangeDeclareOptions::default()
    };
    let what = Declaration::Exchange { name: name("name", p.name)?, kind, options };
    Ok(Box::new(Declaring { args: field_table("args", p.args.as_ref())?, conn: p.conn, what }))
}

fn build_bind(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: BindProps = parse_props(props)?;
    p.conn.check()?;
    let what = Declaration::Bind {
        queue: name("queue", p.queue)?,
        exchange: name("exchange", p.exchange)?,
        routing_key: p.routing_key.unwrap_or_default(),
    };
    Ok(Box::new(Declaring { args: field_table("args", p.args.as_ref())?, conn: p.conn, what }))
}

async fn channel(conn: &AmqpProps) -> Result<(Connection, Channel), TaskError> {
    let connection = conn.connect().await?;
    let channel =
        connection.create_channel().await.map_err(|e| TaskError::failed(format!("cannot open a channel: {e}")))?;
    Ok((connection, channel))
}

#[async_trait]
impl RunnableTask for Declaring {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (connection, ch) = channel(&self.conn).await?;
        let args = self.args.clone();
        let mut out = Map::new();
        let done = match &self.what {
            Declaration::Queue { name, options } => {
                out.insert("queue".into(), Value::String(name.clone()));
                ch.queue_declare(name, *options, args)
                    .await
                    .map(|_| format!("Declared queue '{name}'"))
                    .map_err(|e| TaskError::failed(format!("cannot declare queue '{name}': {e}")))
            }
            Declaration::Exchange { name, kind, options } => {
                out.insert("exchange".into(), Value::String(name.clone()));
                ch.exchange_declare(name, kind.clone(), *options, args)
                    .await
                    .map(|_| format!("Declared exchange '{name}'"))
                    .map_err(|e| TaskError::failed(format!("cannot declare exchange '{name}': {e}")))
            }
            Declaration::Bind { queue, exchange, routing_key } => {
                out.insert("queue".into(), Value::String(queue.clone()));
                out.insert("exchange".into(), Value::String(exchange.clone()));
                ch.queue_bind(queue, exchange, routing_key, QueueBindOptions::default(), args)
                    .await
                    .map(|_| format!("Bound queue '{queue}' to exchange '{exchange}'"))
                    .map_err(|e| {
                        TaskError::failed(format!("cannot bind queue '{queue}' to exchange '{exchange}': {e}"))
                    })
            }
        };
        let _ = ch.close(200, "done").await;
        let _ = connection.close(200, "done").await;
        cx.info(&done?);
        Ok(TaskOutput::with(out))
    }
}

pub static CREATE_QUEUE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<QueueProps>(build_queue));
pub static DECLARE_EXCHANGE: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare::<ExchangeProps>(build_exchange));
pub static QUEUE_BIND: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<BindProps>(build_bind));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kestra_s_examples_build_and_checks_name_the_property() {
        let conn =
            json!({"host": "localhost", "port": 5672, "username": "guest", "password": "p", "virtualHost": "/v"});
        let with = |extra: Value| {
            let mut m = conn.as_object().cloned().unwrap_or_default();
            m.extend(extra.as_object().cloned().unwrap_or_default());
            m
        };
        assert!(build_queue(&with(json!({"name": "kestramqp.queue", "args": {"x-max-length": 5}}))).is_ok());
        assert!(build_exchange(&with(json!({"name": "kestramqp.exchange", "exchangeType": "FANOUT"}))).is_ok());
        assert!(build_bind(&with(json!({"exchange": "e", "queue": "q"}))).is_ok());
        let err = |r: Result<Box<dyn RunnableTask>, TaskError>| r.err().expect("refused").to_string();
        assert!(err(build_queue(&with(json!({})))).contains("'name'"));
        assert!(err(build_exchange(&with(json!({"name": "e", "exchangeType": "X"})))).contains("'exchangeType'"));
        assert!(err(build_bind(&with(json!({"exchange": "e"})))).contains("'queue'"));
    }
}
