//! The Amazon Kinesis polling trigger (plugin-aws `kinesis/Trigger.java`).
//!
//! `io.kestra.plugin.aws.kinesis.Trigger`: every `interval` (PT60S by
//! default) it reads the stream's shards as the `Consume` task does (until
//! `maxRecords`, 1,000 by default, or `maxDuration`, PT30S) and, when it
//! read any, starts ONE execution with Consume's outputs: `trigger.uri` (a
//! kestra:// Ion file of `{data, partitionKey, sequenceNumber, shardId,
//! approximateArrivalTimestamp}`), `trigger.count` and
//! `trigger.lastSequencePerShard`. Polled as an `http.Trigger`
//! (`super::http`: one evaluation per slot of `interval`, claimed in the
//! trigger store; `stopAfter`, `failOnTriggerError`, `conditions`, `when`),
//! by `baton server local`'s poller and on Google Cloud by a Cloud
//! Scheduler job (whole minutes); `runtime::events::kinesis` reads.
//!
//! Where it starts: Kestra's trigger documents that it "stores the last
//! sequence per shard to avoid reprocessing", and its code starts every
//! poll at `iteratorType` again (LATEST misses what arrived between two
//! polls, TRIM_HORIZON reads the stream again each time). Baton keeps what
//! the documentation promises: a shard is read after the last record an
//! execution got from it, a shard none came from yet at `iteratorType` on
//! the first poll and from the first poll's start time after (so LATEST
//! loses nothing between polls). The cursor moves only once the
//! execution holding the records is stored: at least once.
//!
//! This module is the pure part: the declaration and the checks of what is
//! written out. The realtime trigger is refused by name at validation
//! (`plugins::registry::left_out`).

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{StopAfterProp, TriggerDef, TriggerProblem, WhenProp, prop};
use crate::model::{Flow, Trigger};
use crate::plugins::aws::AwsProps;
use crate::plugins::aws::connection::AWS_PROPS;
use crate::plugins::aws::kinesis::consume::{ConsumeProps, Reader};
use crate::plugins::{Declare, TaskError, parse_props};
use crate::template::is_template;

pub const TYPE: &str = "io.kestra.plugin.aws.kinesis.Trigger";

/// The properties a read reads besides the connection's.
const READ_PROPS: &[&str] =
    &["streamName", "iteratorType", "startingSequenceNumber", "maxRecords", "maxDuration", "pollDuration"];

/// Start an execution for the new records of a Kinesis data stream.
///
/// Reads the stream's shards every `interval` (as Consume: until maxRecords or maxDuration) and starts one execution for the records read (trigger.uri: one Ion record {data, partitionKey, sequenceNumber, shardId, approximateArrivalTimestamp} each; trigger.count; trigger.lastSequencePerShard). Each shard is read on from the last record an execution got from it, so no record is read twice or skipped between polls; the position moves once the execution is stored. Polled by `baton server local`, and on Google Cloud by a Cloud Scheduler job (whole minutes).
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    example = "id: poll\ntype: io.kestra.plugin.aws.kinesis.Trigger\nregion: eu-central-1\nstreamName: stream\niteratorType: LATEST\ninterval: PT30S\nmaxRecords: 100\n",
)]
struct TriggerProps {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    c: ConsumeProps,
    /// How often the stream is read (whole minutes on Google Cloud).
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    /// A read that fails becomes a FAILED execution (else it is logged and retried at the next interval).
    #[prop(kind = "Boolean", default = "false")]
    fail_on_trigger_error: Option<Value>,
    #[serde(flatten)]
    stop_after: StopAfterProp,
    #[serde(flatten)]
    when: WhenProp,
}

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<TriggerProps>(check, crate::conditions::ConditionUse::Polling));

/// Whether `t` is a `kinesis.Trigger`.
pub fn is(t: &Trigger) -> bool {
    super::is_of(&DEF, t)
}

/// The properties a `kinesis.Trigger`'s read reads, unrendered; `None` for another type.
pub fn read_props(t: &Trigger) -> Option<Map<String, Value>> {
    is(t).then(|| picked(t))
}

fn picked(t: &Trigger) -> Map<String, Value> {
    let mut props = super::picked(t, AWS_PROPS);
    props.extend(super::picked(t, READ_PROPS));
    props
}

/// A trigger's properties, rendered and read.
#[derive(Debug, Deserialize)]
pub struct Rendered {
    #[serde(flatten)]
    pub aws: AwsProps,
    #[serde(flatten)]
    pub c: ConsumeProps,
}

impl Rendered {
    /// The connection and the reading the properties describe, checked.
    pub fn read(props: &Map<String, Value>) -> Result<(AwsProps, Reader), TaskError> {
        let r: Rendered = parse_props(props)?;
        r.aws.check()?;
        let reader = r.c.reader()?;
        Ok((r.aws, reader))
    }
}

fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    if prop(trig, "streamName").is_none() {
        out.push(TriggerProblem::at("", format!("trigger '{}': a kinesis.Trigger needs 'streamName'", trig.id)));
    }
    // what is written out is read as an evaluation will read it (a
    // templated stream name stands in for its value)
    let mut written: Map<String, Value> =
        picked(trig).into_iter().filter(|(_, v)| !v.as_str().is_some_and(is_template)).collect();
    written.entry("streamName").or_insert_with(|| Value::String("stream".into()));
    out.extend(super::read_problem(trig, &written, Rendered::read(&written).map(|_| ())));
    if !trig.disabled {
        out.extend(super::http::poll_problem(trig));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::flow;
    use super::*;

    fn paths(props: Value) -> Vec<String> {
        let t = super::super::tests::trigger_of("poll", TYPE, props);
        check(&t, &flow()).into_iter().map(|p| p.path).collect()
    }

    #[test]
    fn kestra_s_example_passes_and_checks_name_the_property() {
        let example = json!({"streamName": "stream", "iteratorType": "LATEST", "interval": "PT30S", "maxRecords": 100});
        assert!(paths(example).is_empty());
        assert!(paths(json!({"streamName": "{{ vars.stream }}", "iteratorType": "{{ vars.it }}"})).is_empty());
        assert_eq!(paths(json!({"maxRecords": 1})), [""], "streamName");
        assert_eq!(paths(json!({"streamName": "s", "iteratorType": "AT_TIMESTAMP"})), ["iteratorType"]);
        assert_eq!(paths(json!({"streamName": "s", "iteratorType": "AFTER_SEQUENCE_NUMBER"})), ["iteratorType"]);
        assert_eq!(paths(json!({"streamName": "s", "maxRecords": 0})), ["maxRecords"]);
        assert_eq!(paths(json!({"streamName": "s", "interval": "PT0.1S"})), ["interval"]);
    }
}
