//! Popping a batch from a Redis list for the runtime's `redis.list.Trigger`
//! (`baton-runtime`'s `triggers::redis`): the trigger's LPOPs, as
//! `ListPop` does them (`count` at a time until the list is empty,
//! `maxRecords` were popped or `maxDuration` passed), kept as the raw bytes
//! so that the runtime can write them to the execution's file
//! ([`ion_lines`]) — or, when the execution cannot be stored, push them
//! back onto the head of the list in their order ([`give_back`]), so that
//! a popped element is not lost. [`blpop`] waits for one element, for the
//! `RealtimeTrigger`.

use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use serde_json::Value;

use super::conn::{RedisProps, command_error};
pub use super::conn::{Serde, check_url};
use crate::TaskError;
use crate::core::ion_text;

/// What one batch pops.
#[derive(Debug, Clone)]
pub struct PopSpec {
    pub url: String,
    pub key: String,
    /// Values one LPOP takes.
    pub count: u64,
    /// Stop once this many were popped.
    pub max_records: u64,
    /// Stop once this long has passed.
    pub max_duration: Option<Duration>,
    /// Stop once the values popped hold this many bytes.
    pub max_bytes: u64,
}

/// Opens a connection to `url` (bounded connect and response times, as a task's).
pub async fn connect(url: &str) -> Result<MultiplexedConnection, TaskError> {
    RedisProps { url: url.to_string() }.connect().await
}

/// Pops a batch; the values' bytes in list order. A command that fails
/// after some values were popped gives them back before the error returns.
pub async fn pop(spec: &PopSpec) -> Result<Vec<Vec<u8>>, TaskError> {
    let mut con = connect(&spec.url).await?;
    let started = Instant::now();
    let (mut out, mut bytes) = (Vec::new(), 0u64);
    loop {
        let want = spec.count.min(spec.max_records.saturating_sub(out.len() as u64)).max(1);
        let popped: Result<Option<Vec<Vec<u8>>>, _> =
            redis::cmd("LPOP").arg(&spec.key).arg(want).query_async(&mut con).await;
        let values = match popped {
            Ok(v) => v.unwrap_or_default(),
            Err(e) => {
                let err = command_error("LPOP", e);
                if !out.is_empty() {
                    give_back(&mut con, &spec.key, &out).await?;
                }
                return Err(err);
            }
        };
        if values.is_empty() {
            break;
        }
        bytes += values.iter().map(|v| v.len() as u64).sum::<u64>();
        out.extend(values);
        if out.len() as u64 >= spec.max_records || bytes >= spec.max_bytes {
            break;
        }
        if spec.max_duration.is_some_and(|d| started.elapsed() > d) {
            break;
        }
    }
    Ok(out)
}

/// Pops the head of list `key`, waiting at most `wait` for one (BLPOP);
/// its bytes, `None` when none came.
pub async fn blpop(con: &mut MultiplexedConnection, key: &str, wait: Duration) -> Result<Option<Vec<u8>>, TaskError> {
    let got: Option<(String, Vec<u8>)> = redis::cmd("BLPOP")
        .arg(key)
        .arg(wait.as_secs_f64().max(0.01))
        .query_async(con)
        .await
        .map_err(|e| command_error("BLPOP", e))?;
    Ok(got.map(|(_, raw)| raw))
}

/// Pushes `values` back onto the head of list `key`, first value first,
/// byte for byte (one LPUSH of the reversed values: the list reads as
/// before the pop).
pub async fn give_back(con: &mut MultiplexedConnection, key: &str, values: &[Vec<u8>]) -> Result<(), TaskError> {
    let reversed: Vec<&[u8]> = values.iter().rev().map(Vec::as_slice).collect();
    let _: u64 =
        redis::cmd("LPUSH").arg(key).arg(reversed).query_async(con).await.map_err(|e| command_error("LPUSH", e))?;
    Ok(())
}

/// One value as `serde` reads it (bytes that are not UTF-8 read with
/// U+FFFD in their place); text that is not JSON under `JSON` is kept as
/// text (it was popped: it exists nowhere else), as `ListPop` does.
pub fn decode(serde: Serde, raw: &[u8]) -> Value {
    let text = String::from_utf8_lossy(raw).into_owned();
    serde.deserialize(text.clone()).unwrap_or(Value::String(text))
}

/// The values as the file `ListPop` writes: one Ion (JSON) line each.
pub fn ion_lines(serde: Serde, values: &[Vec<u8>]) -> Result<Vec<u8>, TaskError> {
    let mut out = Vec::new();
    for t in values {
        ion_text::write_line(&decode(serde, t), &mut out)
            .map_err(|e| TaskError::failed(format!("cannot write the popped values: {e}")))?;
    }
    Ok(out)
}
