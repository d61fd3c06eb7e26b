//! GCS and Pub/Sub trigger events pushed to the scheduler function.
//!
//! On Google Cloud, Terraform turns each `gcs.Trigger` into the bucket's
//! Pub/Sub notification (OBJECT_FINALIZE, and OBJECT_METADATA_UPDATE unless
//! `on: CREATE`) on a topic whose push subscription to the scheduler
//! function is named [`gcs_subscription`] (`baton-gcs~{namespace}~{flowId}~{triggerId}`:
//! `~` cannot occur in those ids, so the name says which trigger it is),
//! and each `pubsub.Trigger`/`RealtimeTrigger` into a push subscription
//! named as its `subscription` property. [`route`] recognises such a
//! delivery by its subscription; [`handle`] turns it into one execution
//! (`runtime::events`): the id derives from the object generation or the
//! message id, so a duplicate delivery creates nothing, and the `action`
//! runs after the execution exists. No poll and no sweep: idle is zero
//! invocations.
//!
//! A GCS notification (`payloadFormat: JSON_API_V1`) has the attributes
//! `bucketId`, `objectId`, `objectGeneration`, `eventType` (and
//! `overwroteGeneration` when it replaced an object: Kestra's UPDATE) and
//! the object resource as data.

use std::sync::Arc;

use serde_json::{Value, json};

use super::envelope::Delivery;
use super::push::Outcome;
use crate::model::Flow;
use crate::runtime::engine::Engine;
use crate::runtime::events::gcs::{Detected, fire};
use crate::runtime::events::pubsub::{fire_message, fire_pushed};
use crate::runtime::events::{EventError, gcs_client};
use crate::runtime::flow_files::{FlowError, current_flow, load_all};
use crate::triggers::gcs::{GcsTrigger, TYPE as GCS_TYPE};
use crate::triggers::pubsub::{PubSubTrigger, REALTIME_TYPE, Received, TYPE as PUBSUB_TYPE, short_name};

/// The prefix of the push subscriptions of `gcs.Trigger`s.
pub const GCS_SUBSCRIPTION_PREFIX: &str = "baton-gcs~";

/// The push subscription Terraform names for a `gcs.Trigger`.
pub fn gcs_subscription(namespace: &str, flow_id: &str, trigger_id: &str) -> String {
    format!("{GCS_SUBSCRIPTION_PREFIX}{namespace}~{flow_id}~{trigger_id}")
}

/// Which trigger a delivery is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Gcs { namespace: String, flow_id: String, trigger_id: String },
    PubSub { namespace: String, flow_id: String, trigger_id: String },
}

fn pubsub_route(flows: &[Arc<Flow>], subscription: &str) -> Option<Route> {
    flows.iter().find_map(|f| {
        f.triggers
            .iter()
            .filter(|t| {
                matches!(crate::triggers::find(&t.type_).map(|d| d.type_name), Some(PUBSUB_TYPE | REALTIME_TYPE))
            })
            .find(|t| t.props.get("subscription").and_then(Value::as_str).map(short_name) == Some(subscription))
            .map(|t| Route::PubSub { namespace: f.namespace.clone(), flow_id: f.id.clone(), trigger_id: t.id.clone() })
    })
}

/// The trigger a delivery is for, `None` for the scheduler's own messages.
pub async fn route(engine: &Arc<Engine>, delivery: &Delivery) -> Option<Route> {
    let sub = short_name(&delivery.subscription);
    if let Some(rest) = sub.strip_prefix(GCS_SUBSCRIPTION_PREFIX) {
        let mut parts = rest.splitn(3, '~');
        let (ns, flow, trig) = (parts.next()?, parts.next()?, parts.next()?);
        return Some(Route::Gcs { namespace: ns.into(), flow_id: flow.into(), trigger_id: trig.into() });
    }
    if sub.is_empty() {
        return None;
    }
    if let Some(r) = pubsub_route(&engine.flows.all(), sub) {
        return Some(r);
    }
    // not a scheduler message: maybe a flow this instance has not loaded yet
    if serde_json::from_slice::<super::scheduler::SchedulerMessage>(&delivery.data).is_err()
        && let Some(source) = engine.flow_files.as_deref()
    {
        if let Err(e) = load_all(engine, source).await {
            tracing::warn!(error = %e, "cannot reload the flows");
        }
        return pubsub_route(&engine.flows.all(), sub);
    }
    None
}

fn event_outcome(what: &str, e: EventError) -> Outcome {
    if e.is_transient() { Outcome::Retry(format!("{what}: {e}")) } else { Outcome::Ignored(format!("{what}: {e}")) }
}

/// The flow and its trigger `trigger_id` (enabled), or why not.
async fn trigger_of(
    engine: &Arc<Engine>,
    namespace: &str,
    flow_id: &str,
    trigger_id: &str,
) -> Result<(Arc<Flow>, crate::model::Trigger), Outcome> {
    let flow =
        current_flow(engine, engine.flow_files.as_deref(), namespace, flow_id, None).await.map_err(|e| match e {
            FlowError::Backend(b) => Outcome::Retry(b.to_string()),
            other => Outcome::Ignored(other.to_string()),
        })?;
    let Some(t) = flow.triggers.iter().find(|t| t.id == trigger_id).cloned() else {
        return Err(Outcome::Ignored(format!("flow {namespace}.{flow_id} has no trigger '{trigger_id}'")));
    };
    if flow.disabled || t.disabled {
        return Err(Outcome::Ignored(format!("trigger '{trigger_id}' of {namespace}.{flow_id} is disabled")));
    }
    // a trigger disabled through the API or a Toggle task starts nothing, nor
    // one whose condition is false: Kestra would not poll it (a
    // RealtimeTrigger has no conditions)
    let conditions = crate::triggers::find(&t.type_).is_none_or(|d| d.type_name != REALTIME_TYPE);
    match crate::runtime::events::held_back(engine, &flow, trigger_id, conditions, chrono::Utc::now()).await {
        Ok(None) => {}
        Ok(Some(why)) => {
            return Err(Outcome::Ignored(format!(
                "trigger '{trigger_id}' of {namespace}.{flow_id}: {why}, no execution"
            )));
        }
        Err(e) => return Err(event_outcome(&format!("trigger '{trigger_id}' of {namespace}.{flow_id}"), e)),
    }
    Ok((flow, t))
}

/// Handles a routed delivery (see the module documentation).
pub async fn handle(engine: &Arc<Engine>, route: Route, delivery: &Delivery) -> Outcome {
    match route {
        Route::Gcs { namespace, flow_id, trigger_id } => {
            let (flow, t) = match trigger_of(engine, &namespace, &flow_id, &trigger_id).await {
                Ok(x) => x,
                Err(o) => return o,
            };
            if crate::triggers::find(&t.type_).map(|d| d.type_name) != Some(GCS_TYPE) {
                return Outcome::Ignored(format!(
                    "trigger '{trigger_id}' of {namespace}.{flow_id} is not a gcs.Trigger"
                ));
            }
            let trig = match GcsTrigger::from_trigger(&t) {
                Ok(g) => g,
                Err(p) => return Outcome::Ignored(format!("trigger '{trigger_id}': {}", p[0].message)),
            };
            handle_gcs(engine, &flow, &trig, delivery).await
        }
        Route::PubSub { namespace, flow_id, trigger_id } => {
            let (flow, t) = match trigger_of(engine, &namespace, &flow_id, &trigger_id).await {
                Ok(x) => x,
                Err(o) => return o,
            };
            let trig = match PubSubTrigger::from_trigger(&t) {
                Ok(p) => p,
                Err(p) => return Outcome::Ignored(format!("trigger '{trigger_id}': {}", p[0].message)),
            };
            let m = Received {
                message_id: delivery.message_id.clone(),
                data: delivery.data.clone(),
                attributes: delivery.attributes.clone(),
                ordering_key: None,
            };
            let what = format!("message {} for trigger '{trigger_id}' of {namespace}.{flow_id}", m.message_id);
            let fired = if trig.realtime {
                fire_message(engine, &flow, &trig, &m).await
            } else {
                fire_pushed(engine, &flow, &trig, &m).await
            };
            match fired {
                Ok((id, true)) => {
                    tracing::info!(execution_id = %id, "{what}: started");
                    Outcome::Done
                }
                Ok((id, false)) => Outcome::Duplicate(format!("{what}: execution {id} exists")),
                Err(e) => event_outcome(&what, e),
            }
        }
    }
}

/// The object a GCS notification is about, and whether it is new (no `overwroteGeneration`).
pub fn notified_object(delivery: &Delivery) -> Result<(Value, bool), String> {
    let a = &delivery.attributes;
    let event = a.get("eventType").map(String::as_str).unwrap_or_default();
    let is_new = match event {
        "OBJECT_FINALIZE" => !a.contains_key("overwroteGeneration"),
        "OBJECT_METADATA_UPDATE" => false,
        other => return Err(format!("event '{other}' is not an object creation or update")),
    };
    let mut object: Value = serde_json::from_slice(&delivery.data).unwrap_or(Value::Null);
    if !object.is_object() {
        // payloadFormat NONE: what the attributes say
        object = json!({});
    }
    for (field, attr) in [("bucket", "bucketId"), ("name", "objectId"), ("generation", "objectGeneration")] {
        if object.get(field).is_none_or(Value::is_null)
            && let Some(v) = a.get(attr)
        {
            object[field] = Value::String(v.clone());
        }
    }
    if object["bucket"].as_str().is_none() || object["name"].as_str().is_none() {
        return Err("the notification names no bucket or object (bucketId, objectId)".into());
    }
    Ok((object, is_new))
}

async fn handle_gcs(engine: &Arc<Engine>, flow: &Flow, trig: &GcsTrigger, delivery: &Delivery) -> Outcome {
    let (object, is_new) = match notified_object(delivery) {
        Ok(x) => x,
        Err(why) => return Outcome::Ignored(why),
    };
    let (bucket, name) = (object["bucket"].as_str().unwrap_or_default(), object["name"].as_str().unwrap_or_default());
    let what = format!("gs://{bucket}/{name} for trigger '{}' of {}.{}", trig.id, flow.namespace, flow.id);
    if !trig.selects(bucket, name) {
        return Outcome::Ignored(format!("{what}: not selected by from/listingType/regExp"));
    }
    if !trig.on.fires(is_new) {
        return Outcome::Ignored(format!("{what}: on {:?} does not fire for this change", trig.on));
    }
    let gcs = match gcs_client(engine, flow, &trig.id, &trig.auth) {
        Ok(g) => g,
        Err(e) => return event_outcome(&what, e),
    };
    match fire(engine, flow, trig, &gcs, &[Detected { object, is_new }]).await {
        Ok(f) if f.created => {
            tracing::info!(execution_id = %f.execution_id, "{what}: started");
            Outcome::Done
        }
        Ok(f) => Outcome::Duplicate(format!("{what}: execution {} exists (action redone if needed)", f.execution_id)),
        Err(e) => event_outcome(&what, e),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Utc;

    use super::*;

    fn delivery(subscription: &str, attrs: &[(&str, &str)], data: &[u8]) -> Delivery {
        Delivery {
            message_id: "1".into(),
            publish_time: Utc::now(),
            attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
            data: data.to_vec(),
            delivery_attempt: 1,
            subscription: subscription.into(),
        }
    }

    #[test]
    fn gcs_subscriptions_name_their_trigger() {
        let name = gcs_subscription("company.team", "my.flow-1", "watch");
        assert_eq!(name, "baton-gcs~company.team~my.flow-1~watch");
        let rest = name.strip_prefix(GCS_SUBSCRIPTION_PREFIX).expect("prefix");
        assert_eq!(rest.splitn(3, '~').collect::<Vec<_>>(), ["company.team", "my.flow-1", "watch"]);
    }

    #[test]
    fn notifications_as_gcs_sends_them() {
        let attrs = [
            ("bucketId", "b"),
            ("objectId", "in/a.csv"),
            ("objectGeneration", "1700000000000001"),
            ("eventType", "OBJECT_FINALIZE"),
            ("payloadFormat", "JSON_API_V1"),
        ];
        let data =
            br#"{"kind":"storage#object","bucket":"b","name":"in/a.csv","generation":"1700000000000001","size":"3"}"#;
        let (o, new) = notified_object(&delivery("projects/p/subscriptions/x", &attrs, data)).expect("object");
        assert!(new);
        assert_eq!((o["name"].as_str(), o["size"].as_str()), (Some("in/a.csv"), Some("3")));
        let mut over = attrs.to_vec();
        over.push(("overwroteGeneration", "1"));
        assert!(!notified_object(&delivery("s", &over, data)).expect("object").1, "an overwrite is an UPDATE");
        let (o, _) = notified_object(&delivery("s", &attrs, b"")).expect("payload NONE");
        assert_eq!(o["generation"], "1700000000000001");
        let mut del = attrs.to_vec();
        del[3] = ("eventType", "OBJECT_DELETE");
        assert!(notified_object(&delivery("s", &del, data)).is_err());
    }
}
