//! Kestra's Redis list tasks (plugin-redis `list/*`): `ListPush` (LPUSH in
//! batches of `batchSize`, from a list or an Ion file) and `ListPop`
//! (LPOP `count` at a time into an Ion file until the list is empty,
//! `maxRecords` were read or `maxDuration` passed — one of the two is
//! required, as in Kestra).

use std::sync::LazyLock;
use std::time::Instant;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use super::conn::{RedisProps, Serde, command_error, serde_ok};
use super::records::{self, From};
use crate::context::RemoveOnDrop;
use crate::core::ion_text;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Kestra's default LPUSH batch.
const DEFAULT_BATCH: u64 = 500;
/// Kestra's default LPOP count.
const DEFAULT_COUNT: u64 = 100;
/// The most bytes one ListPop stores in its file: popping stops there (the
/// records popped so far are all kept) with a warning naming the bound.
pub const MAX_POP_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// The most values one LPOP or LPUSH carries.
const MAX_BATCH: u64 = 10_000;

/// Push values onto a Redis list.
///
/// LPUSHes a list of values, or the records of an Ion file, onto the key (in batches of batchSize); outputs count.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.redis.list.ListPush",
    aliases = ["io.kestra.plugin.redis.ListPush"],
    group = "core",
    example = "id: push\ntype: io.kestra.plugin.redis.list.ListPush\nurl: redis://:redis@localhost:6379/0\nkey: mypopkeyjson\nfrom:\n  - value1\n  - value2\n",
    outputs(count(Integer, "How many values were pushed."))
)]
struct PushProps {
    #[serde(flatten)]
    redis: RedisProps,
    /// The list's key.
    #[serde(deserialize_with = "de::string_lenient")]
    key: String,
    /// The values: a list of strings, a JSON list, or a kestra:// Ion file of records.
    #[prop(kind = "Any", check = records::from_ok)]
    from: Value,
    /// How values are stored: STRING or JSON.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["STRING", "JSON"], default = "\"STRING\"", check = serde_ok)]
    serde_type: Option<String>,
    /// How many values one LPUSH carries.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "500")]
    batch_size: Option<u64>,
}

struct Push {
    redis: RedisProps,
    key: String,
    from: From,
    serde: Serde,
    batch: usize,
}

fn build_push(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: PushProps = parse_props(props)?;
    let batch = p.batch_size.unwrap_or(DEFAULT_BATCH);
    if batch == 0 || batch > MAX_BATCH {
        return Err(TaskError::property("batchSize", format!("must be between 1 and {MAX_BATCH}, got {batch}")));
    }
    Ok(Box::new(Push {
        redis: p.redis,
        key: p.key,
        from: From::parse(p.from)?,
        serde: Serde::property(p.serde_type.as_deref())?,
        batch: batch as usize,
    }))
}

async fn lpush(con: &mut redis::aio::MultiplexedConnection, key: &str, values: &[String]) -> Result<(), TaskError> {
    let _: u64 =
        redis::cmd("LPUSH").arg(key).arg(values).query_async(con).await.map_err(|e| command_error("LPUSH", e))?;
    Ok(())
}

#[async_trait]
impl RunnableTask for Push {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut con = self.redis.connect().await?;
        let mut pending: Vec<String> = Vec::with_capacity(self.batch);
        let mut count = 0u64;
        let mut records = self.from.open(cx, self.serde).await?;
        while let Some(text) = records.next().await? {
            pending.push(text);
            if pending.len() >= self.batch {
                lpush(&mut con, &self.key, &pending).await?;
                count += pending.len() as u64;
                pending.clear();
            }
        }
        if !pending.is_empty() {
            lpush(&mut con, &self.key, &pending).await?;
            count += pending.len() as u64;
        }
        cx.counter("inserted.records.count", count as f64, &[]);
        cx.info(&format!("Pushed {count} values onto '{}'", self.key));
        let mut out = Map::new();
        out.insert("count".into(), Value::from(count));
        Ok(TaskOutput::with(out))
    }
}

/// Pop values from a Redis list.
///
/// LPOPs values from the key into an Ion file until the list is empty, maxRecords were read or maxDuration passed; outputs uri and count.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.redis.list.ListPop",
    aliases = ["io.kestra.plugin.redis.ListPop"],
    group = "core",
    example = "id: pop\ntype: io.kestra.plugin.redis.list.ListPop\nurl: redis://:redis@localhost:6379/0\nkey: mypopkeyjson\nserdeType: JSON\nmaxRecords: 1\n",
    outputs(uri(String, "The Ion file of the values."), count(Integer, "How many values were popped."))
)]
struct PopProps {
    #[serde(flatten)]
    redis: RedisProps,
    /// The list's key.
    #[serde(deserialize_with = "de::string_lenient")]
    key: String,
    /// How values were stored: STRING or JSON.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["STRING", "JSON"], default = "\"STRING\"", check = serde_ok)]
    serde_type: Option<String>,
    /// Stop once this many values were popped.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    max_records: Option<u64>,
    /// Stop once this long has passed.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration")]
    max_duration: Option<chrono::TimeDelta>,
    /// How many values one LPOP takes.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(default = "100")]
    count: Option<u64>,
}

struct Pop {
    redis: RedisProps,
    key: String,
    serde: Serde,
    max_records: Option<u64>,
    max_duration: Option<chrono::TimeDelta>,
    count: u64,
}

fn build_pop(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: PopProps = parse_props(props)?;
    if p.max_records.is_none() && p.max_duration.is_none() {
        return Err(TaskError::property("maxRecords", "give maxRecords or maxDuration, so popping ends"));
    }
    let count = p.count.unwrap_or(DEFAULT_COUNT);
    if count == 0 || count > MAX_BATCH {
        return Err(TaskError::property("count", format!("must be between 1 and {MAX_BATCH}, got {count}")));
    }
    Ok(Box::new(Pop {
        redis: p.redis,
        key: p.key,
        serde: Serde::property(p.serde_type.as_deref())?,
        max_records: p.max_records,
        max_duration: p.max_duration,
        count,
    }))
}

#[async_trait]
impl RunnableTask for Pop {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut con = self.redis.connect().await?;
        let path = cx.working_dir()?.join(format!("redis-pop-{}.ion", uuid::Uuid::new_v4().simple()));
        let _cleanup = RemoveOnDrop(path.clone());
        let io = |e: std::io::Error| TaskError::failed(format!("cannot write the popped values: {e}"));
        let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(&path).await.map_err(io)?);
        let started = Instant::now();
        let (mut total, mut bytes) = (0u64, 0u64);
        loop {
            let values: Option<Vec<Vec<u8>>> = redis::cmd("LPOP")
                .arg(&self.key)
                .arg(self.count)
                .query_async(&mut con)
                .await
                .map_err(|e| command_error("LPOP", e))?;
            let values = values.unwrap_or_default();
            if values.is_empty() {
                break;
            }
            // every value popped is written: a popped value exists nowhere else
            let mut line = Vec::new();
            for v in values {
                let text = String::from_utf8_lossy(&v).into_owned();
                let value = match self.serde.deserialize(text.clone()) {
                    Ok(value) => value,
                    Err(e) => {
                        // already popped: kept as text rather than lost
                        cx.warn(&format!("value {} of '{}' kept as text: {e}", total + 1, self.key));
                        Value::String(text)
                    }
                };
                line.clear();
                ion_text::write_line(&value, &mut line).map_err(io)?;
                file.write_all(&line).await.map_err(io)?;
                bytes += line.len() as u64;
                total += 1;
            }
            if self.max_records.is_some_and(|m| total >= m) {
                break;
            }
            if self.max_duration.is_some_and(|d| d.to_std().is_ok_and(|d| started.elapsed() > d)) {
                break;
            }
            if bytes >= MAX_POP_FILE_BYTES {
                cx.warn(&format!(
                    "stopped popping '{}' after {total} values: the file reached {MAX_POP_FILE_BYTES} bytes, the most one ListPop stores",
                    self.key
                ));
                break;
            }
        }
        file.flush().await.map_err(io)?;
        drop(file);
        let f = tokio::fs::File::open(&path).await.map_err(io)?;
        let (uri, _) = cx.put_file("redis-pop.ion", Box::pin(f)).await?;
        cx.counter("popped.records.count", total as f64, &[("key", self.key.as_str())]);
        cx.info(&format!("Popped {total} values from '{}'", self.key));
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(uri));
        out.insert("count".into(), Value::from(total));
        Ok(TaskOutput::with(out))
    }
}

pub static PUSH: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<PushProps>(build_push));
pub static POP: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<PopProps>(build_pop));
