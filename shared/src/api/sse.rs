//! Server-sent events: `GET /executions/{id}/follow` sends the execution
//! each time it changes, and `GET /logs/{id}/follow` each new log line,
//! until the execution has ended (then the stream closes). Both poll the
//! state store (every 300 ms, sooner when this instance's engine announces
//! a change), so they work the same on one machine and on GCP, where the
//! change happens on another instance.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde_json::Value;

use super::ApiState;
use super::error::ApiResult;
use super::executions::{execution_json, load};
use super::query::Params;
use crate::runtime::logs::LogQuery;

const POLL: Duration = Duration::from_millis(300);

/// Waits for the next poll: an update of this instance's engine or [`POLL`].
async fn next_poll(updates: &mut tokio::sync::broadcast::Receiver<crate::runtime::engine::ExecutionUpdate>) {
    let _ = tokio::time::timeout(POLL, updates.recv()).await;
}

type Events = Vec<Result<Event, Infallible>>;

/// A stream of batches of events from `step`, run until it returns `None`.
fn batches<S, F, Fut>(state: S, step: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnMut(S) -> Fut,
    Fut: std::future::Future<Output = Option<(Events, S)>>,
{
    futures::stream::unfold(state, step).flat_map(futures::stream::iter)
}

struct Follow {
    s: ApiState,
    id: String,
    updates: tokio::sync::broadcast::Receiver<crate::runtime::engine::ExecutionUpdate>,
    last: Option<Value>,
    sent: usize,
    done: bool,
    first: bool,
}

impl Follow {
    async fn new(s: &ApiState, id: String) -> ApiResult<Follow> {
        load(&s.engine, &id).await?;
        let updates = s.engine.updates.subscribe();
        Ok(Follow { s: s.clone(), id, updates, last: None, sent: 0, done: false, first: true })
    }

    async fn wait(&mut self) {
        if !self.first {
            next_poll(&mut self.updates).await;
        }
        self.first = false;
    }
}

pub async fn follow_execution(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    Params::parse(raw.as_deref(), "GET /executions/{id}/follow", &[])?;
    let follow = Follow::new(&s, id).await?;
    let stream = batches(follow, |mut f| async move {
        if f.done {
            return None;
        }
        let mut out = Vec::new();
        while out.is_empty() && !f.done {
            f.wait().await;
            match f.s.engine.state.load_execution(&f.id).await {
                Ok(Some(e)) => {
                    let v = execution_json(&e);
                    if f.last.as_ref() != Some(&v) {
                        out.push(Ok(Event::default().data(v.to_string())));
                        f.last = Some(v);
                    }
                    f.done = e.is_done();
                }
                Ok(None) => f.done = true,
                Err(err) => {
                    out.push(Ok(Event::default().event("error").data(err.to_string())));
                    f.done = true;
                }
            }
        }
        Some((out, f))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

pub async fn follow_logs(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let p = Params::parse(raw.as_deref(), "GET /logs/{id}/follow", &["minLevel", "taskId", "taskRunId", "attempt"])?;
    let query = LogQuery::from_pairs(p.pairs.clone())?;
    let follow = Follow::new(&s, id).await?;
    let stream = batches((follow, query), |(mut f, query)| async move {
        if f.done {
            return None;
        }
        let mut out = Vec::new();
        while out.is_empty() && !f.done {
            f.wait().await;
            // the state first: once it has ended, every log line is in the store
            let ended = !matches!(f.s.engine.state.load_execution(&f.id).await, Ok(Some(e)) if !e.is_done());
            if ended {
                f.s.engine.logs.flush().await;
            }
            match f.s.engine.state.logs(&f.id).await {
                Ok(logs) => {
                    for l in logs.iter().skip(f.sent).filter(|l| query.matches(l)) {
                        out.push(Ok(Event::default().data(super::logs::log_json(l).to_string())));
                    }
                    f.sent = f.sent.max(logs.len());
                }
                Err(err) => out.push(Ok(Event::default().event("error").data(err.to_string()))),
            }
            f.done = ended;
        }
        Some((out, (f, query)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
