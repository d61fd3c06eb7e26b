//! The SQS triggers' receives.
//!
//! [`receive`]: an `sqs.Trigger`'s, the same on both runtimes: an
//! evaluation of the trigger (`super::http::evaluate`, one per slot of
//! `interval`, on `baton server local`'s poller or a Cloud Scheduler tick)
//! calls it, then starts the slot's execution with its outputs (`uri`,
//! `count`; no file and `count: 0` when nothing came: nothing starts). The
//! messages are deleted ([`Taken::settle`]) only once that execution is
//! stored — or `when` rejected it, which consumes them as Kestra 2.0 does —
//! and made visible again at once otherwise (a launch error, the slot's
//! execution already stored by an evaluation before). A process killed
//! between the receive and the settle leaves them hidden until their
//! visibility timeout ends: then they come again. At least once, where
//! Kestra deletes as it reads.
//!
//! [`listen`]: an `sqs.RealtimeTrigger`'s, on `baton server local` (its
//! poller evaluates it continuously): one receive (up to `waitTime`, up to
//! `maxNumberOfMessage` messages), each message one execution with
//! `trigger.data`. Its execution id derives from the message id (with
//! `autoDelete`) so a message SQS delivers twice starts one execution;
//! without `autoDelete` each delivery is its own execution, as in Kestra
//! (the id derives from the message id and its receive count). A message
//! whose execution cannot be stored is made visible again at once.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{EventError, launch_event, render_props, trigger_file};
use crate::model::Flow;
use crate::model::ids::derived_id;
use crate::plugins::aws::aws_sdk_sqs::Client;
use crate::plugins::aws::sqs::queue;
use crate::runtime::engine::Engine;
use crate::triggers::sqs::{ListenSpec, REALTIME_TYPE, Rendered};

/// Messages received and not yet settled.
#[derive(Debug)]
pub struct Taken {
    client: Client,
    url: String,
    handles: Vec<String>,
    auto_delete: bool,
}

impl Taken {
    /// Deletes the messages (with `autoDelete`) when `kept` (their execution
    /// is stored), else makes them visible again; a failure is logged with
    /// what follows from it.
    pub async fn settle(self, flow: &Flow, trigger_id: &str, kept: bool) {
        let n = self.handles.len();
        let (result, done, failed) = match (kept, self.auto_delete) {
            (true, false) => return,
            (true, true) => (
                queue::delete(&self.client, &self.url, &self.handles).await,
                "deleted",
                "could not be deleted: they come again after their visibility timeout",
            ),
            (false, _) => (
                queue::release(&self.client, &self.url, &self.handles).await,
                "made visible again (no execution stored for them)",
                "could not be made visible again: they come again after their visibility timeout",
            ),
        };
        match result {
            Ok(()) if kept => {
                tracing::debug!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, messages = n, "sqs: {done}")
            }
            Ok(()) => tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, queue = %self.url,
                messages = n, "sqs: {done}"),
            Err(e) => tracing::error!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, queue = %self.url,
                messages = n, error = %e, "sqs: {failed}"),
        }
    }
}

/// Receives the batch of `sqs.Trigger` `trigger_id` of `flow` for the
/// execution `execution_id`; its outputs (`uri`, `count`) and what to
/// settle, `None` when nothing came.
pub async fn receive(
    engine: &Arc<Engine>,
    flow: &Flow,
    trigger_id: &str,
    execution_id: &str,
    props: &Map<String, Value>,
) -> Result<(Map<String, Value>, Option<Taken>), EventError> {
    let rendered = render_props(engine, flow, trigger_id, props.clone())?;
    let (r, spec) = Rendered::read(&rendered).map_err(EventError::of_task(flow, trigger_id))?;
    let url = r.c.queue.url().map_err(EventError::of_task(flow, trigger_id))?.to_string();
    let client = r.aws.sqs(r.c.queue.connect_timeout()).await.map_err(EventError::of_task(flow, trigger_id))?;
    let got = queue::consume(&client, &url, &spec).await.map_err(EventError::of_task(flow, trigger_id))?;
    let mut out = Map::new();
    out.insert("count".into(), Value::from(got.count()));
    if got.count() == 0 {
        return Ok((out, None));
    }
    let taken = Taken { client, url, handles: got.handles, auto_delete: r.c.auto_delete() };
    let path = trigger_file(flow, trigger_id, execution_id, "sqs.ion");
    if let Err(e) = engine.storage.put(&path, Box::pin(std::io::Cursor::new(got.lines))).await {
        taken.settle(flow, trigger_id, false).await;
        return Err(e.into());
    }
    out.insert("uri".into(), Value::String(format!("kestra://{path}")));
    Ok((out, Some(taken)))
}

/// One evaluation of `RealtimeTrigger` `trigger_id` of `flow` (see the
/// module documentation); the ids of the executions it started.
pub async fn listen(
    engine: &Arc<Engine>,
    flow: &Flow,
    trigger_id: &str,
    props: &Map<String, Value>,
) -> Result<Vec<String>, EventError> {
    let rendered = render_props(engine, flow, trigger_id, props.clone())?;
    let fail = EventError::of_task(flow, trigger_id);
    let spec = ListenSpec::read(&rendered).map_err(&fail)?;
    let client = spec.aws.sqs_retrying(spec.connect, spec.attempts).await.map_err(&fail)?;
    let messages =
        queue::receive(&client, &spec.url, spec.max_messages, spec.wait, spec.visibility_secs).await.map_err(&fail)?;
    let (url, serde, auto_delete) = (spec.url, spec.serde, spec.auto_delete);
    let mut started = Vec::new();
    let mut kept = Vec::new();
    let mut messages = messages.into_iter();
    while let Some(m) = messages.next() {
        let data = serde.read(&m.body).unwrap_or_else(|e| {
            tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, message = %m.id,
                "sqs.RealtimeTrigger: passed as text: {e}");
            Value::String(m.body.clone())
        });
        let seed = if auto_delete { m.id.clone() } else { format!("{}\n{}", m.id, m.receive_count) };
        let id = derived_id(&format!("sqs.RealtimeTrigger\n{}\n{}\n{trigger_id}\n{seed}", flow.namespace, flow.id));
        let mut vars = Map::new();
        vars.insert("data".into(), data);
        match launch_event(engine, flow, trigger_id, REALTIME_TYPE, &id, vars).await {
            Ok(created) => {
                if created {
                    started.push(id);
                }
                // stored now or before (a message delivered twice), or `when` rejected it: consumed
                kept.push(m.handle);
            }
            Err(e) => {
                let back = std::iter::once(m.handle).chain(messages.map(|m| m.handle)).collect();
                let taken = Taken { client: client.clone(), url: url.clone(), handles: back, auto_delete };
                taken.settle(flow, trigger_id, false).await;
                Taken { client, url, handles: kept, auto_delete }.settle(flow, trigger_id, true).await;
                return Err(e);
            }
        }
    }
    Taken { client, url, handles: kept, auto_delete }.settle(flow, trigger_id, true).await;
    Ok(started)
}
