//! A `kinesis.Trigger`'s read, the same on both runtimes: an evaluation
//! of the trigger (`super::http::evaluate`, one per slot of `interval`, on
//! `baton server local`'s poller or a Cloud Scheduler tick) calls
//! [`receive`], then starts the slot's execution with its outputs (`uri`,
//! `count`, `lastSequencePerShard`; no file and `count: 0` when nothing
//! came: nothing starts).
//!
//! Where each shard is read from is kept in the state store's record
//! `kinesis-trigger/{namespace}/{flow}/{trigger}` ([`Cursor`]): the last
//! sequence number an execution got from each shard, the stream it was
//! read from (a cursor of another stream is dropped), and for LATEST the
//! time the first poll started, from which a shard nothing came from yet
//! is read (`AT_TIMESTAMP`), so nothing that arrives between two polls is
//! skipped. The shards' positions move ([`Taken::settle`]) only once the
//! execution holding the records is stored — or `when` rejected it, which
//! consumes them as Kestra 2.0 does; a launch error or a process killed
//! before the settle leaves them where they were, and the next poll reads
//! the same records again: at least once. Saves are compare-and-set; a
//! lost race is merged shard by shard, the furthest position winning.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{EventError, load_state, render_props, save_state, trigger_file};
use crate::model::Flow;
use crate::plugins::aws::kinesis::consume::Start;
use crate::runtime::engine::Engine;
use crate::triggers::kinesis::Rendered;

/// The state store's kind of the trigger's records.
pub const RECORD_KIND: &str = "kinesis-trigger";

/// How many times a lost compare-and-set is merged and tried again.
const SAVE_ATTEMPTS: usize = 5;

/// Where a trigger's reading of its stream stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// The stream the positions are of.
    #[serde(default)]
    pub stream: String,
    /// Shard id → the sequence number of the last record an execution got.
    #[serde(default)]
    pub shards: BTreeMap<String, String>,
    /// With LATEST: when the first poll started; a shard with no position
    /// is read from then.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
}

impl Cursor {
    /// Moves each shard of `last` to its sequence number unless the cursor
    /// is further already.
    fn advance(&mut self, last: &BTreeMap<String, String>) {
        for (shard, seq) in last {
            let further = self.shards.get(shard).is_none_or(|have| later(seq, have));
            if further {
                self.shards.insert(shard.clone(), seq.clone());
            }
        }
    }
}

/// Whether sequence number `a` comes after `b` (decimal numbers of up to
/// 128 digits: longer is larger, then by digits).
fn later(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

/// The record key of a trigger's cursor.
fn key(flow: &Flow, trigger_id: &str) -> String {
    format!("{}/{}/{trigger_id}", flow.namespace, flow.id)
}

/// Records read and not yet settled: the positions they move the cursor to.
pub struct Taken {
    engine: Arc<Engine>,
    key: String,
    stream: String,
    last: BTreeMap<String, String>,
}

impl Taken {
    /// Moves the cursor past the records when `kept` (their execution is
    /// stored); else leaves it, so the next poll reads them again. A
    /// failure is logged with what follows from it.
    pub async fn settle(self, flow: &Flow, trigger_id: &str, kept: bool) {
        if !kept {
            tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, stream = %self.stream,
                "kinesis: no execution stored for the records read: the next poll reads them again");
            return;
        }
        for _ in 0..SAVE_ATTEMPTS {
            let loaded = load_state::<Cursor>(&self.engine, RECORD_KIND, &self.key).await;
            let (version, mut cursor) = match loaded {
                Ok(v) => v,
                Err(e) => return self.failed(flow, trigger_id, &e),
            };
            if cursor.stream != self.stream {
                cursor = Cursor { stream: self.stream.clone(), ..Cursor::default() };
            }
            cursor.advance(&self.last);
            match save_state(&self.engine, RECORD_KIND, &self.key, version, &cursor).await {
                Ok(true) => return,
                Ok(false) => continue,
                Err(e) => return self.failed(flow, trigger_id, &e),
            }
        }
        tracing::error!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, stream = %self.stream,
            "kinesis: the shards' positions could not be saved ({SAVE_ATTEMPTS} concurrent changes): \
             the next poll reads these records again");
    }

    fn failed(&self, flow: &Flow, trigger_id: &str, e: &EventError) {
        tracing::error!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, stream = %self.stream,
            error = %e, "kinesis: the shards' positions could not be saved: the next poll reads these records again");
    }
}

/// Reads the records of `kinesis.Trigger` `trigger_id` of `flow` for the
/// execution `execution_id`; its outputs (`uri`, `count`,
/// `lastSequencePerShard`) and what to settle, `None` when nothing came.
pub async fn receive(
    engine: &Arc<Engine>,
    flow: &Flow,
    trigger_id: &str,
    execution_id: &str,
    props: &Map<String, Value>,
) -> Result<(Map<String, Value>, Option<Taken>), EventError> {
    let rendered = render_props(engine, flow, trigger_id, props.clone())?;
    let (aws, reader) = Rendered::read(&rendered).map_err(EventError::of_task(flow, trigger_id))?;
    let key = key(flow, trigger_id);
    let (version, mut cursor) = load_state::<Cursor>(engine, RECORD_KIND, &key).await?;
    if cursor.stream != reader.stream {
        cursor = Cursor { stream: reader.stream.clone(), ..Cursor::default() };
    }
    // LATEST: the first poll reads from now on, and keeps when that was so
    // that the next ones read a shard nothing came from yet from then
    let since = cursor.since;
    if reader.starts_latest() && since.is_none() {
        cursor.since = Some(chrono::Utc::now());
        // a lost race: another poll kept its own time, as good as this one
        save_state(engine, RECORD_KIND, &key, version, &cursor).await?;
    }
    let client = aws.kinesis().await.map_err(EventError::of_task(flow, trigger_id))?;
    let start = |shard: &str| match (cursor.shards.get(shard), since) {
        (Some(seq), _) => Some(Start::After(seq.clone())),
        (None, Some(at)) if reader.starts_latest() => Some(Start::Since(at)),
        (None, _) => None,
    };
    let read = reader.read(&client, &start).await.map_err(EventError::of_task(flow, trigger_id))?;
    if read.bounded {
        tracing::warn!(namespace = %flow.namespace, flow_id = %flow.id, trigger_id, stream = %reader.stream,
            records = read.count, "kinesis: stopped reading at {} bytes of records, the most one poll keeps",
            crate::plugins::aws::kinesis::consume::MAX_CONSUME_BYTES);
    }
    let mut out = Map::new();
    out.insert("count".into(), Value::from(read.count));
    if read.count == 0 {
        return Ok((out, None));
    }
    let last: BTreeMap<String, String> =
        read.last.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect();
    let path = trigger_file(flow, trigger_id, execution_id, "kinesis.ion");
    engine.storage.put(&path, Box::pin(std::io::Cursor::new(read.lines))).await?;
    out.insert("uri".into(), Value::String(format!("kestra://{path}")));
    out.insert("lastSequencePerShard".into(), Value::Object(read.last));
    Ok((out, Some(Taken { engine: engine.clone(), key, stream: reader.stream, last })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_moves_each_shard_forward_only() {
        let mut c = Cursor::default();
        let of = |pairs: &[(&str, &str)]| pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        c.advance(&of(&[("s0", "49590338271490256608559692538361571095921575989136588898"), ("s1", "9")]));
        c.advance(&of(&[("s0", "49590338271490256608559692538361571095921575989136588897"), ("s1", "10")]));
        assert_eq!(c.shards["s0"], "49590338271490256608559692538361571095921575989136588898", "not backwards");
        assert_eq!(c.shards["s1"], "10", "a longer number is larger");
        assert!(later("10", "9") && !later("9", "10") && !later("5", "5"));
    }
}
