//! `io.kestra.plugin.amqp.Publish`, plugin-amqp `Publish.java`: publishes
//! each message of `from` (Kestra's `Data.From`: one message map, a list
//! of them, a JSON string of either, or a `kestra://` Ion file of them,
//! streamed) to `exchange` with `routingKey` (`""` by default), the body
//! written per `serdeType`. The channel is in confirm mode: the task ends
//! once the broker confirmed every message (a message it refuses fails the
//! task). Output `messagesCount`; metric `published.records`.

use std::sync::LazyLock;

use async_trait::async_trait;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::conn::AmqpProps;
use super::message::{Outgoing, SerdeType, outgoing};
use crate::core::ion_file::{DataFrom, DataValues};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The longest line of a `from` file.
const MAX_LINE_BYTES: u64 = 8 * 1024 * 1024;

/// Publish messages to an AMQP exchange.
///
/// Publishes each message {data, headers, contentType, …} of from (one, a list, or a kestra:// Ion file) to the exchange with the routing key, the body written per serdeType; ends once the broker confirmed them; outputs messagesCount.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.amqp.Publish",
    group = "core",
    example = "id: publish\ntype: io.kestra.plugin.amqp.Publish\nhost: localhost\nport: 5672\nusername: guest\npassword: \"{{ secret('AMQP_PASSWORD') }}\"\nvirtualHost: /my_vhost\nexchange: kestramqp.exchange\nfrom:\n  - data: value-1\n    headers:\n      testHeader: KestraTest\n    timestamp: '2023-01-09T08:46:33.103130753Z'\n  - data: value-2\n    timestamp: '2023-01-09T08:46:33.115456977Z'\n    appId: unit-kestra\n",
    outputs(messagesCount(Integer, "How many messages were published."))
)]
struct Props {
    #[serde(flatten)]
    conn: AmqpProps,
    /// The exchange to publish to ("" is the default exchange, which routes by queue name).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    exchange: Option<String>,
    /// The routing key.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    routing_key: Option<String>,
    /// The messages: {data, headers, contentType, contentEncoding, deliveryMode, priority, messageId, correlationId, replyTo, expiration, timestamp, type, userId, appId}, a list of them, a JSON string of either, or a kestra:// Ion file of them.
    #[prop(kind = "Any", required)]
    from: Option<Value>,
    /// How a message's data is written: STRING (text) or JSON.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["STRING", "JSON"], default = "\"STRING\"")]
    serde_type: Option<String>,
}

struct Publish {
    conn: AmqpProps,
    exchange: String,
    routing_key: String,
    from: DataFrom,
    serde: SerdeType,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.conn.check()?;
    // "" is the default exchange: written out, it is given
    let exchange = p.exchange.ok_or_else(|| TaskError::property("exchange", "is required"))?;
    Ok(Box::new(Publish {
        exchange: exchange.trim().to_string(),
        routing_key: p.routing_key.unwrap_or_default(),
        from: DataFrom::parse("from", p.from)?,
        serde: SerdeType::read(p.serde_type.as_deref())?,
        conn: p.conn,
    }))
}

/// The next message of `values`.
async fn next_message(values: &mut DataValues<'_>, serde: SerdeType) -> Result<Option<Outgoing>, TaskError> {
    match values.next().await? {
        None => Ok(None),
        Some((n, v, true)) => outgoing(&v, n, serde, true).map(Some),
        Some((n, v, false)) => {
            outgoing(&v, n, serde, false).map(Some).map_err(|e| values.error("from", n, &e.to_string()))
        }
    }
}

#[async_trait]
impl RunnableTask for Publish {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let connection = self.conn.connect().await?;
        let failed =
            |e: lapin::Error| TaskError::failed(format!("cannot publish to exchange '{}': {e}", self.exchange));
        let channel = connection.create_channel().await.map_err(failed)?;
        channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(failed)?;
        let mut count = 0u64;
        let mut pending = Vec::new();
        let mut messages = self.from.open(cx, "from", MAX_LINE_BYTES).await?;
        while let Some(m) = next_message(&mut messages, self.serde).await? {
            let confirm = channel
                .basic_publish(&self.exchange, &self.routing_key, BasicPublishOptions::default(), &m.body, m.props)
                .await
                .map_err(failed)?;
            pending.push(confirm);
            count += 1;
            // bounded: the confirmations of at most 1000 messages are awaited at once
            if pending.len() >= 1000 {
                confirm_all(&mut pending, &self.exchange).await?;
            }
        }
        confirm_all(&mut pending, &self.exchange).await?;
        let _ = channel.close(200, "done").await;
        let _ = connection.close(200, "done").await;
        cx.counter("published.records", count as f64, &[]);
        cx.info(&format!("Published {count} messages to exchange '{}'", self.exchange));
        let mut out = Map::new();
        out.insert("messagesCount".into(), Value::from(count));
        Ok(TaskOutput::with(out))
    }
}

async fn confirm_all(
    pending: &mut Vec<lapin::publisher_confirm::PublisherConfirm>,
    exchange: &str,
) -> Result<(), TaskError> {
    for c in pending.drain(..) {
        let confirmation =
            c.await.map_err(|e| TaskError::failed(format!("exchange '{exchange}': no confirmation: {e}")))?;
        if confirmation.is_nack() {
            return Err(TaskError::failed(format!("exchange '{exchange}': the broker refused a message")));
        }
    }
    Ok(())
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kestra_s_example_builds_and_checks_name_the_property() {
        let ok = json!({"host": "localhost", "exchange": "kestramqp.exchange",
            "from": [{"data": "value-1", "headers": {"testHeader": "KestraTest"}}, {"data": "value-2", "appId": "unit-kestra"}]});
        assert!(build(ok.as_object().unwrap()).is_ok());
        let err = |v: Value| build(v.as_object().unwrap()).err().expect("refused").to_string();
        assert!(err(json!({"host": "h", "from": {"data": "x"}})).contains("'exchange'"));
        assert!(err(json!({"host": "h", "exchange": "e"})).contains("'from'"));
        assert!(err(json!({"url": "amqps://h", "exchange": "e", "from": {"data": "x"}})).contains("'url'"));
    }
}
