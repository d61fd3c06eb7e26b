//! `io.kestra.plugin.gcp.pubsub.Trigger` and `…pubsub.RealtimeTrigger`:
//! executions from the messages of a Pub/Sub subscription (plugin-gcp
//! `pubsub/Trigger.java`, `RealtimeTrigger.java`, `Consume.java`).
//!
//! - `Trigger` (polling): one execution per batch of messages, with
//!   `trigger.count` and `trigger.uri` (an Ion file, one message per line:
//!   `data`, `attributes`, `messageId`, `orderingKey`). A batch ends at
//!   `maxRecords` or after `maxDuration` (one of them is required, as in
//!   Kestra's `Consume`).
//! - `RealtimeTrigger`: one execution per message, with the message itself
//!   as `trigger.data`, `trigger.attributes`, `trigger.messageId`,
//!   `trigger.orderingKey`.
//!
//! With `serdeType: STRING` (the default) `data` is the payload's bytes,
//! which Kestra's JSON shows base64-encoded (hence `trigger.data |
//! base64decode` in Kestra's example); with `JSON` it is the parsed value.
//!
//! `baton server local` pulls the subscription (`runtime::events::pubsub`);
//! on Google Cloud Terraform makes `subscription` a push subscription to the
//! scheduler function, so every message is one push and `interval` has no
//! effect. Execution ids derive from the message ids (see [`execution_id`]).

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::gcs::{AuthProps, GcpAuthProps, count, duration, keep, literal, one_of};
use super::{TriggerDef, TriggerProblem, WhenProp, prop};
use crate::model::{Flow, Trigger};
use crate::plugins::Declare;

pub const TYPE: &str = "io.kestra.plugin.gcp.pubsub.Trigger";
pub const REALTIME_TYPE: &str = "io.kestra.plugin.gcp.pubsub.RealtimeTrigger";

/// Messages one poll takes at most (whatever `maxRecords`/`maxDuration` say): the rest wait for the next poll.
pub const MAX_RECORDS_BOUND: usize = 10_000;
/// The longest a poll waits for its messages (`maxDuration`, or for
/// `maxRecords` messages when only `maxRecords` is set): below the hour for
/// which Pub/Sub's client keeps extending the leases of the messages held.
pub const MAX_BATCH_WAIT: Duration = Duration::from_secs(55 * 60);

/// The properties both Pub/Sub trigger types take.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct PubSubProps {
    #[serde(flatten)]
    auth: GcpAuthProps,
    /// The topic the subscription reads.
    #[prop(kind = "String", required)]
    topic: Option<Value>,
    /// The subscription to pull from (or push to, on Google Cloud).
    #[prop(kind = "String", required)]
    subscription: Option<Value>,
    /// Create the subscription when it does not exist.
    #[prop(kind = "Boolean", default = "true")]
    auto_create_subscription: Option<Value>,
    /// How often to poll (local runtime).
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    /// At most this many messages per execution.
    #[prop(kind = "Integer")]
    max_records: Option<Value>,
    /// Gather messages for at most this long per execution.
    #[prop(kind = "Duration")]
    max_duration: Option<Value>,
    /// How message data is decoded.
    #[prop(kind = "String", values = ["STRING", "JSON"], default = "\"STRING\"")]
    serde_type: Option<Value>,
    #[serde(flatten)]
    when: WhenProp,
}

/// Start an execution per batch of Pub/Sub messages.
///
/// Starts one execution per batch of Pub/Sub messages (trigger.count, trigger.uri). Polled every `interval` by `baton server local`; a push subscription on Google Cloud, where `interval` has no effect.
#[derive(Declare)]
#[plugin(
    type = TYPE,
    props = PubSubProps,
    example = "id: messages\ntype: io.kestra.plugin.gcp.pubsub.Trigger\ntopic: orders\nsubscription: baton-orders\nmaxRecords: 100\n",
)]
struct PubSubTriggerDecl;

/// Start an execution per Pub/Sub message.
///
/// Starts one execution per Pub/Sub message (trigger.data, trigger.attributes, trigger.messageId). As in Kestra, `interval`, `maxRecords` and `maxDuration` have no effect on it.
#[derive(Declare)]
#[plugin(
    type = REALTIME_TYPE,
    props = PubSubProps,
    example = "id: each_message\ntype: io.kestra.plugin.gcp.pubsub.RealtimeTrigger\ntopic: orders\nsubscription: baton-orders-rt\nserdeType: JSON\n",
)]
struct RealtimeTriggerDecl;

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<PubSubTriggerDecl>(check, crate::conditions::ConditionUse::Polling));

pub static REALTIME_DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<RealtimeTriggerDecl>(check, crate::conditions::ConditionUse::None));

/// How a payload is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serde {
    String,
    Json,
}

/// A checked Pub/Sub trigger.
#[derive(Debug, Clone)]
pub struct PubSubTrigger {
    pub id: String,
    pub realtime: bool,
    pub topic: String,
    /// The subscription name (without `projects/…/subscriptions/`).
    pub subscription: String,
    pub auto_create: bool,
    pub interval: Duration,
    pub max_records: Option<usize>,
    pub max_duration: Option<Duration>,
    pub serde: Serde,
    pub auth: AuthProps,
}

/// The last segment of `projects/p/subscriptions/name` (or `name` itself).
pub fn short_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl PubSubTrigger {
    pub fn from_trigger(t: &Trigger) -> Result<PubSubTrigger, Vec<TriggerProblem>> {
        let mut problems = Vec::new();
        let topic = keep(&mut problems, literal(t, "topic"));
        let subscription = keep(&mut problems, literal(t, "subscription"));
        let interval = keep(&mut problems, duration(t, "interval"));
        let max_duration = keep(&mut problems, duration(t, "maxDuration"));
        let max_records = keep(&mut problems, count(t, "maxRecords", usize::MAX));
        let serde = keep(&mut problems, one_of(t, "serdeType", &["STRING", "JSON"]));
        let auto_create = match prop(t, "autoCreateSubscription") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                s.eq_ignore_ascii_case("true")
            }
            Some(other) => {
                problems.push(TriggerProblem::at(
                    "autoCreateSubscription",
                    format!("trigger '{}': 'autoCreateSubscription' must be true or false, got {other}", t.id),
                ));
                true
            }
        };
        let realtime = t.type_ == REALTIME_TYPE;
        for (key, v) in [("topic", &topic), ("subscription", &subscription)] {
            if prop(t, key).is_none() {
                problems.push(TriggerProblem::at("", format!("trigger '{}': a Pub/Sub trigger needs '{key}'", t.id)));
            } else if let Some(name) = v
                && !valid_name(name)
            {
                problems.push(TriggerProblem::at(
                    key,
                    format!(
                        "trigger '{}': '{name}' is not a Pub/Sub {key} name (3 to 255 letters, digits, - _ . ~ + %, \
                         starting with a letter)",
                        t.id
                    ),
                ));
            }
        }
        if let Some(d) = max_duration
            && !realtime
            && d > MAX_BATCH_WAIT
        {
            problems.push(TriggerProblem::at(
                "maxDuration",
                format!(
                    "trigger '{}': 'maxDuration' is at most PT55M (Baton's bound: Pub/Sub stops extending the leases \
                     of held messages after an hour)",
                    t.id
                ),
            ));
        }
        if !realtime && max_records.is_none() && max_duration.is_none() && prop(t, "maxRecords").is_none() {
            problems.push(TriggerProblem::at(
                "",
                format!(
                    "trigger '{}': 'maxDuration' or 'maxRecords' must be set to avoid an infinite loop (as in Kestra)",
                    t.id
                ),
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(PubSubTrigger {
            id: t.id.clone(),
            realtime,
            topic: topic.unwrap_or_default(),
            subscription: subscription.unwrap_or_default(),
            auto_create,
            interval: interval.unwrap_or(super::stateful::DEFAULT_INTERVAL).max(super::stateful::MIN_INTERVAL),
            max_records,
            max_duration,
            serde: if serde.as_deref() == Some("JSON") { Serde::Json } else { Serde::String },
            auth: AuthProps::from_trigger(t),
        })
    }

    /// How many messages one poll takes at most (`maxRecords` has no
    /// effect on a `RealtimeTrigger`, as in Kestra).
    pub fn batch_limit(&self) -> usize {
        match self.max_records {
            Some(n) if !self.realtime => n.min(MAX_RECORDS_BOUND),
            _ => MAX_RECORDS_BOUND,
        }
    }

    /// How long a polling `Trigger` waits for its batch: `maxDuration`,
    /// else until `maxRecords` arrive (Kestra's Consume), at most
    /// [`MAX_BATCH_WAIT`].
    pub fn batch_wait(&self) -> Duration {
        self.max_duration.unwrap_or(MAX_BATCH_WAIT).min(MAX_BATCH_WAIT)
    }
}

/// Pub/Sub's name rule for topics and subscriptions.
fn valid_name(s: &str) -> bool {
    let s = short_name(s);
    (3..=255).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && !s.starts_with("goog")
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.~+%".contains(c))
}

/// One received message.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub message_id: String,
    pub data: Vec<u8>,
    pub attributes: BTreeMap<String, String>,
    pub ordering_key: Option<String>,
}

/// Kestra's `Message` as JSON (`data`, `attributes`, `messageId`, `orderingKey`).
pub fn message_value(serde: Serde, m: &Received) -> Result<Value, String> {
    let data = match serde {
        Serde::String => Value::String(base64::engine::general_purpose::STANDARD.encode(&m.data)),
        Serde::Json => serde_json::from_slice(&m.data)
            .map_err(|e| format!("message {}: serdeType JSON, but the data is not JSON: {e}", m.message_id))?,
    };
    let mut out = Map::new();
    out.insert("data".into(), data);
    out.insert(
        "attributes".into(),
        Value::Object(m.attributes.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()),
    );
    out.insert("messageId".into(), Value::String(m.message_id.clone()));
    out.insert("orderingKey".into(), Value::String(m.ordering_key.clone().unwrap_or_default()));
    Ok(Value::Object(out))
}

/// The execution id for these messages of `trigger`: the same messages
/// (a redelivery) always name the same execution.
pub fn execution_id(flow: &Flow, trigger_id: &str, message_ids: &[String]) -> String {
    let mut ids: Vec<&String> = message_ids.iter().collect();
    ids.sort();
    ids.dedup();
    let mut seed = format!("pubsub.Trigger\n{}\n{}\n{trigger_id}", flow.namespace, flow.id);
    for id in ids {
        seed.push('\n');
        seed.push_str(id);
    }
    crate::model::ids::derived_id(&seed)
}

fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    match PubSubTrigger::from_trigger(trig) {
        Ok(_) => Vec::new(),
        Err(p) => p,
    }
}

#[cfg(test)]
mod tests {
    use super::super::gcs::tests::{flow, props};
    use super::*;

    fn trig(type_: &str, yaml: &str) -> Trigger {
        Trigger {
            id: "sub".into(),
            type_: type_.into(),
            disabled: false,
            props: props(yaml),
            path: "triggers[0]".into(),
        }
    }

    #[test]
    fn reads_kestra_s_examples() {
        let t = PubSubTrigger::from_trigger(&trig(TYPE, "topic: tes-topic\nsubscription: sub1\nmaxRecords: 10"))
            .expect("valid");
        assert_eq!(
            (t.topic.as_str(), t.subscription.as_str(), t.max_records, t.realtime),
            ("tes-topic", "sub1", Some(10), false)
        );
        assert_eq!((t.interval, t.serde, t.auto_create), (Duration::from_secs(60), Serde::String, true));
        let r = PubSubTrigger::from_trigger(&trig(
            REALTIME_TYPE,
            "projectId: test-project-id\ntopic: test-topic\nsubscription: test-subscription",
        ))
        .expect("valid");
        assert!(r.realtime);
        assert_eq!((t.batch_limit(), t.batch_wait()), (10, MAX_BATCH_WAIT), "maxRecords alone: wait for them");
        assert_eq!(r.auth.project_id.as_deref(), Some("test-project-id"));
    }

    #[test]
    fn problems_name_the_property() {
        let paths = |ty: &str, y: &str| -> Vec<String> {
            PubSubTrigger::from_trigger(&trig(ty, y)).expect_err("invalid").into_iter().map(|p| p.path).collect()
        };
        assert_eq!(paths(TYPE, "topic: t1t\nsubscription: s1s"), [""], "maxRecords or maxDuration");
        assert_eq!(paths(TYPE, "topic: t1t\nmaxRecords: 1"), [""], "subscription");
        assert_eq!(paths(TYPE, "topic: t1t\nsubscription: 9bad\nmaxRecords: 1"), ["subscription"]);
        assert_eq!(paths(TYPE, "topic: t1t\nsubscription: s1s\nmaxRecords: 1\nserdeType: AVRO"), ["serdeType"]);
        assert_eq!(paths(REALTIME_TYPE, "topic: \"{{ x }}\"\nsubscription: s1s"), ["topic"]);
        assert_eq!(paths(TYPE, "topic: t1t\nsubscription: s1s\nmaxDuration: PT2H"), ["maxDuration"]);
    }

    #[test]
    fn messages_as_kestra_shows_them() {
        let m = Received {
            message_id: "42".into(),
            data: br#"{"a":1}"#.to_vec(),
            attributes: [("k".to_string(), "v".to_string())].into(),
            ordering_key: None,
        };
        let s = message_value(Serde::String, &m).expect("string");
        assert_eq!(s["data"], "eyJhIjoxfQ==");
        assert_eq!((s["messageId"].as_str(), s["attributes"]["k"].as_str()), (Some("42"), Some("v")));
        assert_eq!(message_value(Serde::Json, &m).expect("json")["data"]["a"], 1);
        let bad = Received { data: b"nope".to_vec(), ..m };
        assert!(message_value(Serde::Json, &bad).expect_err("not json").contains("message 42"));
    }

    #[test]
    fn execution_ids_follow_the_message_ids() {
        let f = flow();
        let a = execution_id(&f, "sub", &["1".into(), "2".into()]);
        assert_eq!(a, execution_id(&f, "sub", &["2".into(), "1".into(), "1".into()]));
        assert_ne!(a, execution_id(&f, "sub", &["1".into()]));
    }
}
