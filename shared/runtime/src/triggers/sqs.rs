//! The Amazon SQS triggers (plugin-aws `sqs/Trigger.java`,
//! `sqs/RealtimeTrigger.java`).
//!
//! `io.kestra.plugin.aws.sqs.Trigger`: every `interval` (PT60S by default)
//! it receives messages as the `Consume` task does (until `maxRecords` or
//! `maxDuration`, one of them required, or an empty receive) and, when it
//! received any, starts ONE execution with `trigger.uri` (a kestra:// Ion
//! file of the bodies, read per `serdeType`) and `trigger.count`. Polled as
//! an `http.Trigger` (`super::http`: one evaluation per slot of `interval`,
//! claimed in the trigger store; `stopAfter`, `failOnTriggerError`,
//! `conditions`, `when`), by `baton server local`'s poller and on Google
//! Cloud by a Cloud Scheduler job (whole minutes); `runtime::events::sqs`
//! receives.
//!
//! `io.kestra.plugin.aws.sqs.RealtimeTrigger`: one execution per message as
//! it arrives (a receive waits up to `waitTime` and takes up to
//! `maxNumberOfMessage`), with `trigger.data` (the body, read per
//! `serdeType`; a body that is not JSON is passed as text, as Kestra does).
//! It listens on `baton server local` only; Google Cloud's functions hold
//! no listener, so a deployment refuses a flow that has one (Terraform's
//! `unsupported` check, naming the trigger).
//!
//! Both delete a message (with `autoDelete`, the default) only once the
//! execution that holds it is stored, and make it visible again at once
//! when that execution cannot be stored: at least once, where Kestra
//! deletes as it reads.
//!
//! This module is the pure part: the declarations, the checks of what is
//! written out, and the rendered properties read ([`Rendered`]).

use std::sync::LazyLock;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{StopAfterProp, TriggerDef, TriggerProblem, WhenProp, prop};
use crate::model::{Flow, Trigger};
use crate::plugins::aws::AwsProps;
use crate::plugins::aws::connection::AWS_PROPS;
use crate::plugins::aws::sqs::consume::ConsumeProps;
use crate::plugins::aws::sqs::queue::ConsumeSpec;
use crate::plugins::aws::sqs::queue::{MAX_PER_REQUEST, MAX_WAIT, QueueProps, ReadProps, Serde};
use crate::plugins::{Declare, TaskError, de, parse_props};
use crate::template::is_template;

pub const TYPE: &str = "io.kestra.plugin.aws.sqs.Trigger";
pub const REALTIME_TYPE: &str = "io.kestra.plugin.aws.sqs.RealtimeTrigger";

/// The properties a receive reads, besides the connection's.
const RECEIVE_PROPS: &[&str] = &[
    "queueUrl",
    "maxConcurrency",
    "connectionAcquisitionTimeout",
    "serdeType",
    "autoDelete",
    "visibilityTimeout",
    "maxRecords",
    "maxDuration",
    "waitTime",
    "maxNumberOfMessage",
    "clientRetryMaxAttempts",
];

/// Start an execution for the messages of an SQS queue.
///
/// Receives messages every `interval` (until maxRecords or maxDuration, one of them required, or the queue is empty) and starts one execution for them (trigger.uri: one Ion line per body; trigger.count), then deletes them (autoDelete). Polled by `baton server local`, and on Google Cloud by a Cloud Scheduler job (whole minutes). Messages whose execution cannot be stored are made visible again at once.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    example = "id: watch\ntype: io.kestra.plugin.aws.sqs.Trigger\nregion: eu-central-1\nqueueUrl: https://sqs.eu-central-1.amazonaws.com/000000000000/test-queue\nmaxRecords: 10\n",
)]
struct TriggerProps {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    c: ConsumeProps,
    /// How often the queue is polled (whole minutes on Google Cloud).
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    /// A receive that fails becomes a FAILED execution (else it is logged and retried at the next interval).
    #[prop(kind = "Boolean", default = "false")]
    fail_on_trigger_error: Option<Value>,
    #[serde(flatten)]
    stop_after: StopAfterProp,
    #[serde(flatten)]
    when: WhenProp,
}

/// What the realtime trigger reads besides the connection.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct ListenProps {
    #[serde(flatten)]
    pub queue: QueueProps,
    #[serde(flatten)]
    pub read: ReadProps,
    /// How long one receive waits for a message (at most PT20S).
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration", default = "\"PT20S\"")]
    pub wait_time: Option<chrono::TimeDelta>,
    /// The most messages one receive returns, 1 to 10 (each still starts its own execution).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, default = "5")]
    pub max_number_of_message: Option<u64>,
    /// How many times the client retries a request that failed for a reason that may pass.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, default = "3")]
    pub client_retry_max_attempts: Option<u64>,
}

/// Start an execution for each message of an SQS queue.
///
/// Receives messages as they arrive (a receive waits up to waitTime) and starts one execution per message (trigger.data, read per serdeType: a body that is not JSON is passed as text), then deletes it (autoDelete). Listens on `baton server local` only: a Google Cloud deployment refuses it (its functions hold no listener). A message whose execution cannot be stored is made visible again at once.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = REALTIME_TYPE,
    example = "id: live\ntype: io.kestra.plugin.aws.sqs.RealtimeTrigger\nregion: eu-central-1\nqueueUrl: https://sqs.eu-central-1.amazonaws.com/000000000000/test-queue\nserdeType: JSON\n",
)]
struct RealtimeTriggerProps {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    l: ListenProps,
    #[serde(flatten)]
    when: WhenProp,
}

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<TriggerProps>(check, crate::conditions::ConditionUse::Polling));

pub static REALTIME_DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<RealtimeTriggerProps>(check, crate::conditions::ConditionUse::None));

/// Whether `t` is an `sqs.Trigger`.
pub fn is(t: &Trigger) -> bool {
    t.type_ == TYPE
}

/// Whether `t` is an `sqs.RealtimeTrigger`.
pub fn is_realtime(t: &Trigger) -> bool {
    t.type_ == REALTIME_TYPE
}

fn picked(t: &Trigger) -> Map<String, Value> {
    let mut props = super::picked(t, AWS_PROPS);
    props.extend(super::picked(t, RECEIVE_PROPS));
    props
}

/// The properties an `sqs.Trigger`'s receive reads, unrendered; `None` for another type.
pub fn receive_props(t: &Trigger) -> Option<Map<String, Value>> {
    is(t).then(|| picked(t))
}

/// The properties an `sqs.RealtimeTrigger` listens with, unrendered;
/// `None` for another type or a disabled trigger.
pub fn realtime_props(t: &Trigger) -> Option<Map<String, Value>> {
    (is_realtime(t) && !t.disabled).then(|| picked(t))
}

/// A polling trigger's properties, rendered and read.
#[derive(Debug, Deserialize)]
pub struct Rendered {
    #[serde(flatten)]
    pub aws: AwsProps,
    #[serde(flatten)]
    pub c: ConsumeProps,
}

impl Rendered {
    /// The properties and the receive they describe, checked.
    pub fn read(props: &Map<String, Value>) -> Result<(Rendered, ConsumeSpec), TaskError> {
        let r: Rendered = parse_props(props)?;
        r.aws.check()?;
        let spec = r.c.spec()?;
        Ok((r, spec))
    }
}

/// A realtime trigger's properties, rendered.
#[derive(Debug, Deserialize)]
struct Listen {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    l: ListenProps,
}

/// A realtime trigger's properties, read and checked.
#[derive(Debug)]
pub struct ListenSpec {
    pub aws: AwsProps,
    pub url: String,
    pub connect: Duration,
    pub serde: Serde,
    pub wait: Duration,
    pub max_messages: usize,
    pub visibility_secs: u64,
    /// How many attempts the client makes (a first one and its retries).
    pub attempts: u32,
    pub auto_delete: bool,
}

impl ListenSpec {
    pub fn read(props: &Map<String, Value>) -> Result<ListenSpec, TaskError> {
        let Listen { aws, l } = parse_props(props)?;
        aws.check()?;
        let wait = l.wait_time.map_or(Ok(MAX_WAIT), |d| d.to_std()).unwrap_or(Duration::MAX);
        if wait > MAX_WAIT {
            return Err(TaskError::property("waitTime", "must be between PT0S and PT20S (SQS's longest wait)"));
        }
        let max_messages = match l.max_number_of_message.unwrap_or(5) {
            n @ 1..=10 => n as usize,
            n => {
                return Err(TaskError::property(
                    "maxNumberOfMessage",
                    format!("must be between 1 and {MAX_PER_REQUEST}, got {n}"),
                ));
            }
        };
        Ok(ListenSpec {
            url: l.queue.url()?.to_string(),
            connect: l.queue.connect_timeout(),
            serde: l.read.serde()?,
            wait,
            max_messages,
            visibility_secs: l.read.visibility_secs()?,
            attempts: l.client_retry_max_attempts.unwrap_or(3).min(10) as u32 + 1,
            auto_delete: l.read.auto_delete(),
            aws,
        })
    }
}

fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    let realtime = is_realtime(trig);
    let what = if realtime { "RealtimeTrigger" } else { "Trigger" };
    if prop(trig, "queueUrl").is_none() {
        out.push(TriggerProblem::at("", format!("trigger '{}': an sqs.{what} needs 'queueUrl'", trig.id)));
    }
    if !realtime && prop(trig, "maxRecords").is_none() && prop(trig, "maxDuration").is_none() {
        out.push(TriggerProblem::at(
            "",
            format!(
                "trigger '{}': an sqs.Trigger needs 'maxRecords' or 'maxDuration', so that receiving ends",
                trig.id
            ),
        ));
    }
    // what is written out is read as an evaluation will read it
    let written: Map<String, Value> =
        picked(trig).into_iter().filter(|(_, v)| !v.as_str().is_some_and(is_template)).collect();
    let read = if realtime {
        ListenSpec::read(&written).map(|_| ())
    } else {
        match parse_props::<Rendered>(&written) {
            Ok(r) => r.aws.check().and_then(|_| {
                // the spec's own "one of them is required" is reported above
                if r.c.max_records.is_none() && r.c.max_duration.is_none() { Ok(()) } else { r.c.spec().map(|_| ()) }
            }),
            Err(e) => Err(e),
        }
    };
    out.extend(super::read_problem(trig, &written, read));
    if !trig.disabled && !realtime {
        out.extend(super::http::poll_problem(trig));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::flow;
    use super::*;

    fn paths(type_: &str, props: Value) -> Vec<String> {
        let t = super::super::tests::trigger_of("watch", type_, props);
        check(&t, &flow()).into_iter().map(|p| p.path).collect()
    }

    #[test]
    fn kestra_s_examples_pass_and_checks_name_the_property() {
        let url = "https://sqs.eu-central-1.amazonaws.com/000000000000/test-queue";
        let creds =
            json!({"accessKeyId": "{{ secret('A') }}", "secretKeyId": "{{ secret('S') }}", "region": "eu-central-1"});
        let with = |extra: Value| {
            let mut m = creds.as_object().cloned().unwrap_or_default();
            m.extend(extra.as_object().cloned().unwrap_or_default());
            Value::Object(m)
        };
        assert!(paths(TYPE, with(json!({"queueUrl": url, "maxRecords": 10}))).is_empty());
        assert!(paths(REALTIME_TYPE, with(json!({"queueUrl": url, "serdeType": "JSON"}))).is_empty());
        assert_eq!(paths(TYPE, json!({"maxRecords": 1})), [""], "queueUrl");
        assert_eq!(paths(TYPE, json!({"queueUrl": url})), [""], "maxRecords or maxDuration");
        assert_eq!(paths(TYPE, json!({"queueUrl": url, "maxRecords": 1, "serdeType": "AVRO"})), ["serdeType"]);
        assert_eq!(paths(TYPE, json!({"queueUrl": url, "maxRecords": 1, "interval": "PT0.1S"})), ["interval"]);
        assert_eq!(paths(REALTIME_TYPE, json!({"queueUrl": url, "waitTime": "PT30S"})), ["waitTime"]);
        assert_eq!(paths(REALTIME_TYPE, json!({"queueUrl": url, "maxNumberOfMessage": 11})), ["maxNumberOfMessage"]);
        assert_eq!(paths(REALTIME_TYPE, json!({"queueUrl": "not a url"})), ["queueUrl"]);
        assert!(
            paths(REALTIME_TYPE, json!({"queueUrl": "{{ vars.q }}"})).is_empty(),
            "a template is read when rendered"
        );
    }

    #[test]
    fn a_realtime_trigger_reads_kestra_s_defaults() {
        let l = ListenSpec::read(json!({"queueUrl": "http://h/1/q"}).as_object().expect("map")).expect("valid");
        assert_eq!((l.wait, l.max_messages, l.attempts), (MAX_WAIT, 5, 4));
        assert_eq!((l.serde, l.visibility_secs, l.auto_delete), (Serde::String, 30, true));
    }
}
