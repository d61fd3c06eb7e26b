//! `http.Trigger` evaluations, the same way on both runtimes:
//! `baton server local` polls every `interval` (`super::poller`); on Google
//! Cloud a Cloud Scheduler job sends the scheduler function a tick for the
//! trigger (at most once a minute) and it evaluates once.
//!
//! An evaluation decides from the trigger's stored state
//! (`TriggerStore`, the same record as a Schedule's): a trigger stopped by
//! `stopAfter` stays stopped until its flow changes; a slot of `interval`
//! already evaluated is not evaluated again. Otherwise the slot is claimed
//! in the store (`TriggerStore::claim_tick`, create-if-absent, keyed by the
//! slot's start): of the evaluations of one slot — the copies of a tick
//! Pub/Sub delivers at once, two servers — exactly one sends the request
//! (failed statuses allowed), renders `responseCondition` with `response`,
//! and when it holds creates the execution of this slot, whose id derives
//! from the slot. A slot is polled at most once: an instance that dies
//! between its claim and its request leaves that slot unpolled, one that
//! dies between its request and the execution's creation leaves the
//! response unused, and the next slot polls again (as a Kestra worker lost
//! mid-evaluation). While
//! the execution the trigger started last is running, the trigger is not
//! evaluated at all (Kestra's scheduler skips a polling trigger whose
//! execution has not ended), so `stopAfter` sees it end before any new poll
//! — unless the trigger has `allowConcurrent: true`. Nor while one of its
//! `conditions` is false (`super::condition_false`, tested before the claim).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::{EventError, launch_event};
use crate::backend::LogEntry;
use crate::backend::schedule::{TickClaim, TickKey, TriggerKey, TriggerState};
use crate::model::Flow;
use crate::plugins::context::{LogSink, Services};
use crate::plugins::{RunContext, TaskError};
use crate::runtime::engine::Engine;
use crate::runtime::scheduler::source_hash;
use crate::runtime::stop_after::{self, Held};
use crate::triggers::http::{HttpTrigger, Probe, execution_id};

/// What one evaluation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluated {
    /// An execution was created.
    Started(String),
    /// The request was sent and `responseCondition` (or `when`) was false.
    ConditionFalse,
    /// Nothing was sent: this slot was evaluated already, or the trigger is stopped.
    Skipped(&'static str),
}

/// The request's log lines go to the server's log (there is no execution yet).
struct TraceSink;

impl LogSink for TraceSink {
    fn emit(&self, e: LogEntry) {
        tracing::debug!(flow_id = %e.flow_id, level = %e.level, "http.Trigger: {}", e.message);
    }
}

/// Evaluates `trig` of `flow` at `now`.
pub async fn evaluate(
    engine: &Arc<Engine>,
    flow: &Flow,
    trig: &HttpTrigger,
    now: DateTime<Utc>,
) -> Result<Evaluated, EventError> {
    let store = engine
        .trigger_store
        .as_ref()
        .ok_or_else(|| EventError::config(flow, &trig.id, "this runtime keeps no trigger state"))?
        .clone();
    let key = TriggerKey { namespace: flow.namespace.clone(), flow_id: flow.id.clone(), trigger_id: trig.id.clone() };
    let mut state = store.load_trigger_state(&key).await?.unwrap_or_else(|| TriggerState::fresh(key.clone(), now));
    let flow_hash = source_hash(&flow.source);
    if stop_after::held(&mut state, &flow_hash) == Held::Yes {
        return Ok(Evaluated::Skipped("stopped by stopAfter"));
    }
    let last = match &state.last_execution_id {
        Some(id) => engine.state.load_execution(id).await?.map(|e| (id.clone(), e.state.current)),
        None => None,
    };
    if let Some((id, s)) = &last
        && !s.is_terminal()
        && !trig.allow_concurrent
    {
        // Kestra's scheduler does not evaluate a polling trigger while the
        // execution it started last is running (the trigger is "locked")
        tracing::debug!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id = %trig.id, execution_id = %id,
            "http.Trigger not evaluated: its last execution is {s}");
        return Ok(Evaluated::Skipped("the trigger's last execution is still running"));
    }
    if let Some(reason) = last.as_ref().and_then(|(id, s)| stop_after::reason(&trig.stop_after, id, *s)) {
        stop_after::mark(&mut state, reason, flow_hash, now);
        store.save_trigger_state(&state).await?;
        return Ok(Evaluated::Skipped("stopped by stopAfter"));
    }
    let slot = trig.slot(now);
    if state.last_tick.is_some_and(|t| t >= slot) {
        return Ok(Evaluated::Skipped("this interval was evaluated already"));
    }
    if super::condition_false(engine, flow, &trig.id, now)?.is_some() {
        // Kestra tests a polling trigger's conditions before evaluating it:
        // nothing is sent and the slot stays unclaimed
        return Ok(Evaluated::Skipped("a condition of the trigger is false"));
    }
    let id = execution_id(flow, &trig.id, slot);
    let claim = TickKey {
        namespace: key.namespace.clone(),
        flow_id: key.flow_id.clone(),
        trigger_id: key.trigger_id.clone(),
        date: slot,
    };
    if let TickClaim::Existing { execution_id: owner } = store.claim_tick(&claim, &id).await? {
        // another evaluation of this slot sends the request and saves the
        // state; if it died between launching and saving (a killed instance,
        // whose message is then redelivered here), the slot's execution is
        // recorded from the store, so `stopAfter` and the trigger lock see it
        if state.last_tick.is_none_or(|t| t < slot) && engine.state.load_execution(&owner).await?.is_some() {
            state.last_execution_id = Some(owner);
            state.last_tick = Some(slot);
            state.next_tick = Some(slot + trig.interval);
            state.updated = now;
            store.save_trigger_state(&state).await?;
        }
        return Ok(Evaluated::Skipped("this interval was evaluated already"));
    }
    // a list's, a queue's or a stream's batch, given back (or its position
    // kept) if its execution is not stored
    #[cfg_attr(
        not(any(
            feature = "redis",
            feature = "aws",
            feature = "mqtt",
            feature = "nats",
            feature = "amqp",
            feature = "kafka",
            feature = "gcp"
        )),
        allow(unused_mut)
    )]
    let mut taken: Option<Taken> = None;
    let evaluated = match &trig.probe {
        Probe::Request { request: props, response_condition } => match request(engine, flow, trig, &id, props).await {
            Ok(output) => condition_holds(engine, flow, trig, response_condition, &output).map(|holds| (output, holds)),
            Err(e) => Err(e),
        },
        // a JDBC trigger fires when its query returns rows (Kestra: size > 0)
        Probe::Query { task_type, props } => {
            run_task(engine, flow, trig, &id, task_type, props.clone()).await.map(|o| {
                let rows = o.get("size").and_then(Value::as_u64).unwrap_or(0);
                (o, rows > 0)
            })
        }
        #[cfg(feature = "redis")]
        Probe::RedisList { props } => super::redis::pop(engine, flow, &trig.id, &id, props).await.map(|(o, p)| {
            taken = p.map(Taken::Redis);
            (o, taken.is_some())
        }),
        #[cfg(not(feature = "redis"))]
        Probe::RedisList { .. } => Err(EventError::config(flow, &trig.id, "Redis is not in this build of baton")),
        #[cfg(feature = "aws")]
        Probe::SqsQueue { props } => super::sqs::receive(engine, flow, &trig.id, &id, props).await.map(|(o, t)| {
            taken = t.map(Taken::Sqs);
            (o, taken.is_some())
        }),
        #[cfg(not(feature = "aws"))]
        Probe::SqsQueue { .. } => Err(EventError::config(flow, &trig.id, "AWS is not in this build of baton")),
        #[cfg(feature = "aws")]
        Probe::KinesisStream { props } => {
            super::kinesis::receive(engine, flow, &trig.id, &id, props).await.map(|(o, t)| {
                taken = t.map(Taken::Kinesis);
                (o, taken.is_some())
            })
        }
        #[cfg(not(feature = "aws"))]
        Probe::KinesisStream { .. } => Err(EventError::config(flow, &trig.id, "AWS is not in this build of baton")),
        #[cfg(feature = "mqtt")]
        Probe::MqttTopics { props } => {
            let cap = trig.interval.to_std().unwrap_or(std::time::Duration::from_secs(60));
            super::mqtt::receive(engine, flow, &trig.id, &id, props, cap).await.map(|(o, t)| {
                taken = t.map(Taken::Mqtt);
                (o, taken.is_some())
            })
        }
        #[cfg(not(feature = "mqtt"))]
        Probe::MqttTopics { .. } => Err(EventError::config(flow, &trig.id, "MQTT is not in this build of baton")),
        #[cfg(feature = "nats")]
        Probe::NatsSubject { props } => {
            let cap = trig.interval.to_std().unwrap_or(std::time::Duration::from_secs(60));
            super::nats::receive(engine, flow, &trig.id, &id, props, cap).await.map(|(o, t)| {
                taken = t.map(Taken::Nats);
                (o, taken.is_some())
            })
        }
        #[cfg(not(feature = "nats"))]
        Probe::NatsSubject { .. } => Err(EventError::config(flow, &trig.id, "NATS is not in this build of baton")),
        #[cfg(feature = "amqp")]
        Probe::AmqpQueue { props } => {
            let cap = trig.interval.to_std().unwrap_or(std::time::Duration::from_secs(60));
            super::amqp::receive(engine, flow, &trig.id, &id, props, cap).await.map(|(o, t)| {
                taken = t.map(Taken::Amqp);
                (o, taken.is_some())
            })
        }
        #[cfg(not(feature = "amqp"))]
        Probe::AmqpQueue { .. } => Err(EventError::config(flow, &trig.id, "AMQP is not in this build of baton")),
        #[cfg(feature = "kafka")]
        Probe::KafkaTopics { props } => {
            let cap = trig.interval.to_std().unwrap_or(std::time::Duration::from_secs(60));
            super::kafka::receive(engine, flow, &trig.id, &id, props, cap).await.map(|(o, t)| {
                taken = t.map(Taken::Kafka);
                (o, taken.is_some())
            })
        }
        #[cfg(not(feature = "kafka"))]
        Probe::KafkaTopics { .. } => Err(EventError::config(flow, &trig.id, "Kafka is not in this build of baton")),
        #[cfg(feature = "gcp")]
        Probe::DataflowJobs { props } => {
            let interval = trig.interval.to_std().unwrap_or(std::time::Duration::from_secs(60));
            super::dataflow::poll(engine, flow, &trig.id, &id, props, interval).await.map(|(o, fired, t)| {
                taken = t.map(Taken::Dataflow);
                (o, fired)
            })
        }
        #[cfg(not(feature = "gcp"))]
        Probe::DataflowJobs { .. } => {
            Err(EventError::config(flow, &trig.id, "Google Cloud is not in this build of baton"))
        }
    };
    let (output, holds) = match evaluated {
        Ok(r) => r,
        Err(e) if trig.fail_on_trigger_error => {
            // Kestra's failOnTriggerError: the error becomes a FAILED execution of this slot
            let failed = fail_execution(engine, flow, trig, &id, &e).await?;
            state.last_execution_id = Some(id.clone());
            state.last_tick = Some(slot);
            state.next_tick = Some(slot + trig.interval);
            state.updated = now;
            store.save_trigger_state(&state).await?;
            return Ok(if failed {
                Evaluated::Started(id)
            } else {
                Evaluated::Skipped("this interval was evaluated already")
            });
        }
        Err(e) => return Err(e),
    };
    let launched =
        if holds { launch_event(engine, flow, &trig.id, trig.type_name, &id, output).await } else { Ok(false) };
    // not created: the slot's execution exists (a redelivered tick), or `when` was false
    let existed = match &launched {
        Ok(false) if holds => engine.state.load_execution(&id).await.map(|e| e.is_some()),
        _ => Ok(false),
    };
    if let Some(t) = taken {
        // in a stored execution (or consumed by a false `when`) unless the
        // launch failed or the slot's execution was stored before (or
        // cannot be told): else back onto its list or queue
        let kept = launched.is_ok() && matches!(existed, Ok(false));
        t.settle(flow, &trig.id, kept).await;
    }
    let outcome = if !holds {
        Evaluated::ConditionFalse
    } else if launched? {
        state.last_execution_id = Some(id.clone());
        Evaluated::Started(id)
    } else if existed? {
        state.last_execution_id = Some(id.clone());
        Evaluated::Skipped("this interval was evaluated already")
    } else {
        // `when` was false
        Evaluated::ConditionFalse
    };
    state.last_tick = Some(slot);
    state.next_tick = Some(slot + trig.interval);
    state.updated = now;
    store.save_trigger_state(&state).await?;
    Ok(outcome)
}

/// What an evaluation took from a list or a queue, settled once its
/// execution is stored or not.
enum Taken {
    #[cfg(feature = "redis")]
    Redis(super::redis::Popped),
    #[cfg(feature = "aws")]
    Sqs(super::sqs::Taken),
    #[cfg(feature = "aws")]
    Kinesis(super::kinesis::Taken),
    #[cfg(feature = "mqtt")]
    Mqtt(super::mqtt::Taken),
    #[cfg(feature = "nats")]
    Nats(super::nats::Taken),
    #[cfg(feature = "amqp")]
    Amqp(super::amqp::Taken),
    #[cfg(feature = "kafka")]
    Kafka(super::kafka::Taken),
    #[cfg(feature = "gcp")]
    Dataflow(super::dataflow::Taken),
}

impl Taken {
    async fn settle(self, flow: &Flow, trigger_id: &str, kept: bool) {
        #[cfg(not(any(
            feature = "redis",
            feature = "aws",
            feature = "mqtt",
            feature = "nats",
            feature = "amqp",
            feature = "kafka",
            feature = "gcp"
        )))]
        let _ = (flow, trigger_id, kept);
        match self {
            #[cfg(feature = "redis")]
            Taken::Redis(p) if !kept => p.give_back(flow, trigger_id).await,
            #[cfg(feature = "redis")]
            Taken::Redis(_) => {}
            #[cfg(feature = "aws")]
            Taken::Sqs(t) => t.settle(flow, trigger_id, kept).await,
            #[cfg(feature = "aws")]
            Taken::Kinesis(t) => t.settle(flow, trigger_id, kept).await,
            #[cfg(feature = "mqtt")]
            Taken::Mqtt(t) => t.settle(flow, trigger_id, kept).await,
            #[cfg(feature = "nats")]
            Taken::Nats(t) => t.settle(flow, trigger_id, kept).await,
            #[cfg(feature = "amqp")]
            Taken::Amqp(t) => t.settle(flow, trigger_id, kept).await,
            #[cfg(feature = "kafka")]
            Taken::Kafka(t) => t.settle(flow, trigger_id, kept).await,
            #[cfg(feature = "gcp")]
            Taken::Dataflow(t) => t.settle(flow, trigger_id, kept).await,
        }
    }
}

/// Creates the FAILED execution `id` holding the evaluation's error (no
/// task runs); false when it exists already (a redelivered tick).
async fn fail_execution(
    engine: &Arc<Engine>,
    flow: &Flow,
    trig: &HttpTrigger,
    id: &str,
    error: &EventError,
) -> Result<bool, EventError> {
    let req = crate::runtime::launcher::LaunchRequest {
        trigger: Some(crate::model::TriggerContext {
            id: trig.id.clone(),
            type_: trig.type_name.to_string(),
            variables: Map::new(),
        }),
        execution_id: Some(id.to_string()),
        failed: Some(format!("trigger '{}' failed: {error}", trig.id)),
        ..Default::default()
    };
    match crate::runtime::launcher::launch(engine, flow, req).await {
        Ok(_) => Ok(true),
        Err(crate::runtime::launcher::LaunchError::Exists(_)) => Ok(false),
        Err(source) => Err(EventError::Launch {
            flow: format!("{}.{}", flow.namespace, flow.id),
            trigger: trig.id.clone(),
            source,
        }),
    }
}

/// Sends the request as `core.http.Request` with failed statuses allowed;
/// its outputs (`uri`, `code`, `headers`, `body`).
async fn request(
    engine: &Arc<Engine>,
    flow: &Flow,
    trig: &HttpTrigger,
    id: &str,
    request: &Map<String, Value>,
) -> Result<Map<String, Value>, EventError> {
    let mut props = request.clone();
    props.insert("allowFailed".into(), Value::Bool(true));
    run_task(engine, flow, trig, id, crate::plugins::core::request::DEF.type_name, props).await
}

/// Runs the task `task_type` with `props` (rendered here, with `secret()`
/// and the flow's variables) for an evaluation of `trig`; its outputs,
/// masked. Its files go under the execution `id` the evaluation may start.
async fn run_task(
    engine: &Arc<Engine>,
    flow: &Flow,
    trig: &HttpTrigger,
    id: &str,
    task_type: &str,
    props: Map<String, Value>,
) -> Result<Map<String, Value>, EventError> {
    let fail = |e: TaskError| EventError::config(flow, &trig.id, e.to_string());
    let def = engine
        .registry
        .get(task_type)
        .ok_or_else(|| EventError::config(flow, &trig.id, format!("{task_type} is not in this build of baton")))?;
    let cx = trigger_context(engine, flow, &trig.id, trig.type_name, id, props.clone());
    let rendered = cx.render_value(&Value::Object(props)).map_err(fail)?;
    let props = rendered.as_object().cloned().unwrap_or_default();
    let task = (def.build)(&props).map_err(fail)?;
    let out = task.run(&cx).await.map_err(fail)?;
    match cx.mask_value(Value::Object(out.outputs)) {
        Value::Object(m) => Ok(m),
        _ => Ok(Map::new()),
    }
}

/// The context a trigger's evaluation `id` calls a service in (as a task
/// of the trigger: its log lines go to the server's log).
pub(crate) fn trigger_context(
    engine: &Arc<Engine>,
    flow: &Flow,
    trigger_id: &str,
    type_name: &str,
    id: &str,
    props: Map<String, Value>,
) -> RunContext {
    RunContext::new(
        id.to_string(),
        format!("{id}-trigger"),
        1,
        flow.namespace.clone(),
        flow.id.clone(),
        trigger_id.to_string(),
        type_name.to_string(),
        super::trigger_vars(engine, flow, trigger_id),
        props,
        Services {
            renderer: engine.renderer.clone(),
            kv: engine.kv.clone(),
            storage: engine.storage.clone(),
            logs: Arc::new(TraceSink),
            http: engine.http.clone(),
            progress: None,
            work_root: engine.work_root.clone(),
            config: engine.plugins.clone(),
            flows: None,
            executions: None,
        },
        engine.host.clone(),
    )
}

/// `responseCondition` rendered with `response.statusCode`, `.body`, `.headers`.
fn condition_holds(
    engine: &Engine,
    flow: &Flow,
    trig: &HttpTrigger,
    response_condition: &str,
    output: &Map<String, Value>,
) -> Result<bool, EventError> {
    let response = json!({
        "statusCode": output.get("code").cloned().unwrap_or(Value::Null),
        "body": output.get("body").cloned().unwrap_or(Value::Null),
        "headers": output.get("headers").cloned().unwrap_or(Value::Null),
    });
    let mut ctx = super::trigger_vars(engine, flow, &trig.id);
    ctx["response"] = response;
    let rendered = engine
        .renderer
        .render_str(response_condition, &ctx, engine.host.as_ref())
        .map_err(|e| EventError::config(flow, &trig.id, format!("responseCondition: {e}")))?;
    Ok(crate::plugins::core::items::is_truthy(&rendered))
}
