//! The two shapes a webhook notification task runs as: a payload posted
//! as written ([`Posted`]: every `…IncomingWebhook` and `…Alert`), and an
//! execution's summary built into the service's message ([`Summarized`]:
//! the `…Execution` tasks, each saying only how its message looks through
//! [`Summarizes`]).

use std::fmt::Debug;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::summary::{self, Summary, SummaryProps};
use super::webhook::Target;
use crate::{RunContext, RunnableTask, TaskError, TaskOutput, parse_props};

/// A payload posted to `target` as written, with `header` when the service
/// takes a token in one.
#[derive(Debug)]
pub struct Posted {
    /// The service, in messages ("Zulip").
    pub service: &'static str,
    pub target: Box<Target>,
    pub payload: String,
    pub header: Option<(&'static str, String)>,
}

impl Posted {
    /// The task posting `payload` to `target`.
    pub fn task(service: &'static str, target: Target, payload: String) -> Box<dyn RunnableTask> {
        Box::new(Posted { service, target: Box::new(target), payload, header: None })
    }
}

#[async_trait]
impl RunnableTask for Posted {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        match &self.header {
            Some((name, value)) => self.target.post_with(cx, self.service, &self.payload, (name, value)).await?,
            None => self.target.post(cx, self.service, &self.payload).await?,
        }
        Ok(TaskOutput::empty())
    }
}

/// What an `…Execution` task's properties say of its message.
pub trait Summarizes: Debug + DeserializeOwned + Send + Sync + 'static {
    /// The task, in messages ("ZulipExecution").
    const TASK: &'static str;
    /// The service, in messages ("Zulip").
    const SERVICE: &'static str;
    fn target(&self) -> &Target;
    fn summary(&self) -> &SummaryProps;
    /// The message sent for the execution summarized in `s`.
    fn message(&self, s: &Summary) -> Value;
    /// The `payload` Kestra's task inherits from its webhook task and
    /// overwrites (a written one is warned about).
    fn replaced_payload(&self) -> Option<&Value> {
        None
    }
    /// A header carrying the service's token.
    fn header(&self) -> Option<(&'static str, String)> {
        None
    }
}

/// The task sending the summary of an execution as `P` lays it out.
#[derive(Debug)]
pub struct Summarized<P>(pub Box<P>);

impl<P: Summarizes> Summarized<P> {
    /// Builds the task from rendered properties.
    pub fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
        let p: P = parse_props(props)?;
        Ok(Box::new(Summarized(Box::new(p))))
    }
}

#[async_trait]
impl<P: Summarizes> RunnableTask for Summarized<P> {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.0;
        summary::warn_replaced_payload(cx, P::TASK, p.replaced_payload());
        let s = p.summary().load(cx, P::TASK).await?;
        let message = p.message(&s).to_string();
        match p.header() {
            Some((name, value)) => p.target().post_with(cx, P::SERVICE, &message, (name, &value)).await?,
            None => p.target().post(cx, P::SERVICE, &message).await?,
        }
        Ok(TaskOutput::empty())
    }
}
