//! `io.kestra.plugin.kafka.Consume`, plugin-kafka `Consume.java`: reads
//! records of `topic` or `topicPattern` ([`super::subscribe`]) until a
//! poll of `pollDuration` (PT5S) brings nothing, `maxRecords` were kept or
//! `maxDuration` passed, into an Ion file of Kestra's records `{key,
//! value, topic, headers, partition, timestamp, offset}`; outputs `uri`
//! and `messagesCount`, metric `records` per topic. With a `groupId` the
//! offsets read are committed once the file is stored (as Kestra), so a
//! run that fails leaves the records to the next.
//!
//! Kestra ends on `pollDuration` counted from the start where its docs
//! say `maxDuration`, and stops only after the poll that passed
//! `maxRecords`; Baton ends on `maxDuration` and keeps exactly
//! `maxRecords`.

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::conn::{Config, KafkaProps};
use super::pull::{self, MAX_CONSUME_BYTES};
use super::subscribe::{LimitProps, Limits, SubscribeProps, SubscribeSpec};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, parse_props};

/// Consume records of Kafka topics.
///
/// Reads records of topic (or topicPattern) until a poll of pollDuration brings nothing, maxRecords or maxDuration, into an Ion file of {key, value, topic, headers, partition, timestamp, offset}; with groupId, commits the offsets read once the file is stored; outputs uri and messagesCount.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.kafka.Consume",
    group = "core",
    example = "id: consume\ntype: io.kestra.plugin.kafka.Consume\ntopic: test_kestra\nproperties:\n  bootstrap.servers: localhost:9092\n  auto.offset.reset: earliest\ngroupId: kestra-consumer\nkeyDeserializer: STRING\nvalueDeserializer: JSON\nmaxRecords: 100\n",
    outputs(uri(String, "The Ion file of the records."), messagesCount(Integer, "How many records were kept."))
)]
struct Props {
    #[serde(flatten)]
    conn: KafkaProps,
    #[serde(flatten)]
    s: SubscribeProps,
    #[serde(flatten)]
    limits: LimitProps,
}

struct Consume {
    config: Config,
    spec: SubscribeSpec,
    limits: Limits,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    Ok(Box::new(Consume { config: p.conn.config()?, spec: p.s.spec(false)?, limits: p.limits.limits()? }))
}

#[async_trait]
impl RunnableTask for Consume {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let consumer = pull::open(&self.config, &self.spec).await?;
        let got = pull::pull(&consumer, &self.spec, &self.limits, None).await?;
        if got.bounded {
            cx.warn(&format!(
                "stopped consuming after {} records: they hold {MAX_CONSUME_BYTES} bytes, the most one Consume keeps",
                got.count
            ));
        }
        let (uri, _) = cx.put_file("kafka-consume.ion", Box::pin(std::io::Cursor::new(got.lines))).await?;
        pull::dead_letters(&self.config, &self.spec, &got.dead).await?;
        pull::commit(&consumer, &self.spec, &got.next).await?;
        for (topic, n) in &got.per_topic {
            cx.counter("records", *n as f64, &[("topic", topic)]);
        }
        cx.info(&format!("Consumed {} records", got.count));
        let mut out = Map::new();
        out.insert("messagesCount".into(), Value::from(got.count));
        out.insert("uri".into(), Value::String(uri));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kestra_s_example_builds_and_checks_name_the_property() {
        let ok = json!({"topic": "t", "properties": {"bootstrap.servers": "h:9092", "auto.offset.reset": "earliest", "max.poll.records": "10"},
            "groupId": "g", "keyDeserializer": "STRING", "valueDeserializer": "JSON", "pollDuration": "PT5S", "maxRecords": 3,
            "headerFilters": {"match": "yes"}});
        assert!(build(ok.as_object().unwrap()).is_ok());
        let err = |v: Value| build(v.as_object().unwrap()).err().expect("refused").to_string();
        assert!(err(json!({"topic": "t"})).contains("'properties'"));
        assert!(
            err(json!({"topic": "t", "properties": {"bootstrap.servers": "h"}, "maxRecords": 0}))
                .contains("'maxRecords'")
        );
    }
}
