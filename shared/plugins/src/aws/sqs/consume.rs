//! `io.kestra.plugin.aws.sqs.Consume` (plugin-aws `sqs/Consume.java`):
//! receives messages of a queue into an Ion file (one value a line, the
//! body as text or, with `serdeType: JSON`, parsed) until `maxRecords` or
//! `maxDuration` — one of them is required, as in Kestra — or an empty
//! receive (see [`super::queue::consume`]). With `autoDelete` (the default)
//! the messages are deleted once the file holds them all; a message that
//! cannot be read or a file that cannot be written leaves every message
//! received in the queue, visible again at once. Outputs `uri` and `count`;
//! metric `sqs.consume.messages` (tag `queue`).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::queue::{self, ConsumeSpec, MAX_CONSUME_BYTES, QueueProps, ReadProps};
use crate::aws::AwsProps;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Consume messages from an SQS queue.
///
/// Receives messages of a queue into an Ion file until maxRecords or maxDuration (one is required) or the queue is empty, then deletes them (autoDelete); outputs uri and count.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.sqs.Consume",
    group = "aws",
    example = "id: consume\ntype: io.kestra.plugin.aws.sqs.Consume\nregion: eu-central-1\nqueueUrl: https://sqs.eu-central-1.amazonaws.com/000000000000/test-queue\nmaxRecords: 10\n",
    outputs(uri(String, "The Ion file of the messages' bodies."), count(Integer, "How many messages were received."))
)]
struct Props {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    c: ConsumeProps,
}

/// What `Consume` and the polling `Trigger` share.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct ConsumeProps {
    #[serde(flatten)]
    pub queue: QueueProps,
    /// Stop once this many messages were received.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic)]
    pub max_records: Option<u64>,
    /// Stop once this long has passed.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration")]
    pub max_duration: Option<chrono::TimeDelta>,
    #[serde(flatten)]
    pub read: ReadProps,
}

impl ConsumeProps {
    /// The consume's spec, checked (`what` names the type in errors).
    pub fn spec(&self) -> Result<ConsumeSpec, TaskError> {
        self.queue.url()?;
        if self.max_records.is_none() && self.max_duration.is_none() {
            return Err(TaskError::property(
                "maxRecords",
                "'maxDuration' or 'maxRecords' must be set, so that receiving ends",
            ));
        }
        if self.max_records == Some(0) {
            return Err(TaskError::property("maxRecords", "must be at least 1"));
        }
        Ok(ConsumeSpec {
            serde: self.read.serde()?,
            max_records: self.max_records,
            max_duration: match self.max_duration {
                Some(d) => Some(d.to_std().map_err(|_| TaskError::property("maxDuration", "must not be negative"))?),
                None => None,
            },
            visibility_secs: self.read.visibility_secs()?,
        })
    }

    pub fn auto_delete(&self) -> bool {
        self.read.auto_delete()
    }
}

struct Consume {
    aws: AwsProps,
    c: ConsumeProps,
    spec: ConsumeSpec,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.aws.check()?;
    let spec = p.c.spec()?;
    Ok(Box::new(Consume { aws: p.aws, c: p.c, spec }))
}

#[async_trait]
impl RunnableTask for Consume {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let url = self.c.queue.url()?;
        let client = self.aws.sqs(self.c.queue.connect_timeout()).await?;
        let got = queue::consume(&client, url, &self.spec).await?;
        if got.bounded {
            cx.warn(&format!(
                "stopped receiving from {url} after {} messages: they hold {MAX_CONSUME_BYTES} bytes, the most one Consume keeps",
                got.count()
            ));
        }
        let count = got.count();
        let kept = cx.put_file("sqs-consume.ion", Box::pin(std::io::Cursor::new(got.lines))).await;
        let uri = match kept {
            Ok((uri, _)) => uri,
            Err(e) => {
                // nothing is lost: the messages are visible again for the next receive
                let _ = queue::release(&client, url, &got.handles).await;
                return Err(e);
            }
        };
        if self.c.auto_delete() {
            queue::delete(&client, url, &got.handles).await?;
        }
        cx.counter("sqs.consume.messages", count as f64, &[("queue", url)]);
        cx.info(&format!("Received {count} messages from {url}"));
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(uri));
        out.insert("count".into(), Value::from(count));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn props(v: Value) -> ConsumeProps {
        parse_props(v.as_object().expect("map")).expect("props")
    }

    #[test]
    fn the_spec_needs_an_end_and_names_what_is_wrong() {
        let ok = props(json!({"queueUrl": "http://h/1/q", "maxRecords": "3", "serdeType": "JSON"})).spec().expect("ok");
        assert_eq!((ok.max_records, ok.serde, ok.visibility_secs), (Some(3), queue::Serde::Json, 30));
        let err = |v: Value| props(v).spec().expect_err("refused").to_string();
        assert!(err(json!({"queueUrl": "http://h/q"})).contains("'maxDuration' or 'maxRecords' must be set"));
        assert!(err(json!({"queueUrl": "http://h/q", "maxRecords": 0})).contains("'maxRecords'"));
        assert!(
            err(json!({"queueUrl": "http://h/q", "maxRecords": 1, "visibilityTimeout": 50000})).contains("12 hours")
        );
        assert!(
            err(json!({"queueUrl": "http://h/q", "maxDuration": "PT1S", "serdeType": "AVRO"})).contains("'serdeType'")
        );
    }
}
