//! Kestra's `io.kestra.plugin.redis.pubsub.Publish`: PUBLISH each record of
//! `from` (a list, a JSON list or an Ion file, as ListPush reads it) on a
//! channel, serialized by `serdeType`; outputs how many were published.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::conn::{RedisProps, Serde, command_error, serde_ok};
use super::records::{self, From};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Publish messages on a Redis channel.
///
/// PUBLISHes each value of a list, or each record of an Ion file, on the channel; outputs count.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.redis.pubsub.Publish",
    aliases = ["io.kestra.plugin.redis.Publish"],
    group = "core",
    example = "id: publish\ntype: io.kestra.plugin.redis.pubsub.Publish\nurl: redis://:redis@localhost:6379/0\nchannel: mych\nfrom:\n  - value1\n  - value2\n",
    outputs(count(Integer, "How many messages were published."))
)]
struct PublishProps {
    #[serde(flatten)]
    redis: RedisProps,
    /// The channel.
    #[serde(deserialize_with = "de::string_lenient")]
    channel: String,
    /// The messages: a list of strings, a JSON list, or a kestra:// Ion file of records.
    #[prop(kind = "Any", check = records::from_ok)]
    from: Value,
    /// How messages are written: STRING or JSON.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["STRING", "JSON"], default = "\"STRING\"", check = serde_ok)]
    serde_type: Option<String>,
}

struct Publish {
    redis: RedisProps,
    channel: String,
    from: From,
    serde: Serde,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: PublishProps = parse_props(props)?;
    let serde = Serde::property(p.serde_type.as_deref())?;
    Ok(Box::new(Publish { redis: p.redis, channel: p.channel, from: From::parse(p.from)?, serde }))
}

#[async_trait]
impl RunnableTask for Publish {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut con = self.redis.connect().await?;
        let mut count = 0u64;
        let mut records = self.from.open(cx, self.serde).await?;
        while let Some(text) = records.next().await? {
            let _: u64 = redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(text)
                .query_async(&mut con)
                .await
                .map_err(|e| command_error("PUBLISH", e))?;
            count += 1;
        }
        cx.counter("published.records.count", count as f64, &[]);
        cx.info(&format!("Published {count} messages on '{}'", self.channel));
        let mut out = Map::new();
        out.insert("count".into(), Value::from(count));
        Ok(TaskOutput::with(out))
    }
}

pub static PUBLISH: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<PublishProps>(build));
