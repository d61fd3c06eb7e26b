//! NATS key-value buckets (`io.kestra.plugin.nats.kv.*`, plugin-nats
//! `kv/*.java`) on JetStream: `CreateBucket` (`name`, `description`,
//! `historyPerKey`, `bucketSize`, `valueSize`; outputs the bucket's
//! status), `Put` (`values`: each written as JSON; outputs `revisions`),
//! `Get` (`keys`, or `keyRevisions` for given revisions; outputs `output`,
//! each value read back from JSON, missing keys left out) and `Delete`
//! (`keys`; outputs `deletedCount`). Kestra's `metadata` of a bucket is a
//! NATS 2.10 stream field this client and Debian's server (2.9) do not
//! have: it is refused by name.

use std::sync::LazyLock;

use async_nats::jetstream::stream::{Config as StreamConfig, DiscardPolicy};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::conn::NatsProps;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The largest value `Get` reads.
const MAX_VALUE_BYTES: usize = 32 * 1024 * 1024;

/// Create a NATS key-value bucket.
///
/// Creates a key-value bucket (name, description, historyPerKey, bucketSize, valueSize); outputs its status (bucket, description, history, entryCount, bucketSize, valueSize).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.nats.kv.CreateBucket",
    group = "core",
    example = "id: create_bucket\ntype: io.kestra.plugin.nats.kv.CreateBucket\nurl: nats://localhost:4222\nname: my_bucket\ndescription: my bucket for special purposes\nhistoryPerKey: 2\nbucketSize: 1024\nvalueSize: 1024\n",
    outputs(
        bucket(String, "The bucket's name."),
        description(String, "Its description."),
        history(Integer, "How many values it keeps per key."),
        entryCount(Integer, "How many entries it holds."),
        bucketSize(Integer, "Its largest size in bytes (-1: unbounded)."),
        valueSize(Integer, "Its largest value in bytes (-1: unbounded).")
    )
)]
struct CreateProps {
    #[serde(flatten)]
    conn: NatsProps,
    /// The bucket's name.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    name: Option<String>,
    /// A description.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    description: Option<String>,
    /// Stream metadata (NATS 2.10): refused, this client and Debian's server lack it.
    #[prop(kind = "Map", check = no_metadata)]
    metadata: Option<Value>,
    /// How many values are kept per key (1 to 64).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, default = "1")]
    history_per_key: Option<u64>,
    /// The bucket's largest size in bytes.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic)]
    bucket_size: Option<u64>,
    /// The largest value in bytes.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic)]
    value_size: Option<u64>,
}

fn no_metadata(v: &Value) -> Result<(), String> {
    match v {
        Value::Null => Ok(()),
        _ => Err("bucket metadata is a NATS 2.10 stream field Baton's NATS client does not send".into()),
    }
}

/// Put values in a NATS key-value bucket.
///
/// Writes each key of values (as JSON) in the bucket; outputs revisions (key → revision).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.nats.kv.Put",
    group = "core",
    example = "id: put\ntype: io.kestra.plugin.nats.kv.Put\nurl: nats://localhost:4222\nbucketName: my_bucket\nvalues:\n  key1: value1\n  key2: value2\n  key3:\n    subKey1: some other value\n",
    outputs(revisions(Map, "Each key's new revision."))
)]
struct PutProps {
    #[serde(flatten)]
    conn: NatsProps,
    /// The bucket.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    bucket_name: Option<String>,
    /// The keys and their values (each stored as JSON).
    #[prop(kind = "Map", required)]
    values: Option<Map<String, Value>>,
}

/// Get values from a NATS key-value bucket.
///
/// Reads keys (or keyRevisions: key → revision) of the bucket, each value parsed from JSON; outputs output (missing keys left out).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.nats.kv.Get",
    group = "core",
    example = "id: get\ntype: io.kestra.plugin.nats.kv.Get\nurl: nats://localhost:4222\nbucketName: my_bucket\nkeys:\n  - key1\n  - key2\n",
    outputs(output(Map, "Each key found and its value."))
)]
struct GetProps {
    #[serde(flatten)]
    conn: NatsProps,
    /// The bucket.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    bucket_name: Option<String>,
    /// The keys to read.
    #[serde(default)]
    #[prop(kind = "List")]
    keys: Option<Vec<Value>>,
    /// Keys and the revision of each to read (instead of keys).
    #[prop(kind = "Map")]
    key_revisions: Option<Map<String, Value>>,
}

/// Delete keys of a NATS key-value bucket.
///
/// Deletes each key (a tombstone, a new revision); outputs deletedCount.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.nats.kv.Delete",
    group = "core",
    example = "id: delete\ntype: io.kestra.plugin.nats.kv.Delete\nurl: nats://localhost:4222\nbucketName: my_bucket\nkeys:\n  - key1\n  - key2\n",
    outputs(deletedCount(Integer, "How many keys were deleted."))
)]
struct DeleteProps {
    #[serde(flatten)]
    conn: NatsProps,
    /// The bucket.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    bucket_name: Option<String>,
    /// The keys to delete.
    #[prop(kind = "List", required)]
    keys: Option<Vec<Value>>,
}

fn required(v: Option<String>, name: &str) -> Result<String, TaskError> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).ok_or_else(|| TaskError::property(name, "is required"))
}

fn texts(items: &[Value]) -> Vec<String> {
    items.iter().map(de::value_to_string).collect()
}

async fn store(conn: &NatsProps, bucket: &str) -> Result<async_nats::jetstream::kv::Store, TaskError> {
    let js = async_nats::jetstream::new(conn.connect().await?);
    js.get_key_value(bucket).await.map_err(|e| TaskError::failed(format!("no key-value bucket '{bucket}': {e}")))
}

struct Create(CreateProps);

#[async_trait]
impl RunnableTask for Create {
    async fn run(&self, _cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let p = &self.0;
        let name = required(p.name.clone(), "name")?;
        if let Some(m) = &p.metadata {
            no_metadata(m).map_err(|e| TaskError::property("metadata", e))?;
        }
        let history = match p.history_per_key.unwrap_or(1) {
            h @ 1..=64 => h as i64,
            h => return Err(TaskError::property("historyPerKey", format!("must be between 1 and 64, got {h}"))),
        };
        let size = |v: Option<u64>| v.map_or(-1, |n| n.min(i64::MAX as u64) as i64);
        // the bucket's stream as the client's `create_key_value` makes it:
        // that call first reads the account's limits in a form NATS 2.9
        // (Debian's) does not answer
        let config = StreamConfig {
            name: format!("KV_{name}"),
            description: p.description.clone(),
            subjects: vec![format!("$KV.{name}.>")],
            max_messages_per_subject: history,
            max_bytes: size(p.bucket_size),
            max_message_size: p.value_size.map_or(-1, |n| n.min(i32::MAX as u64) as i32),
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: DiscardPolicy::New,
            num_replicas: 1,
            ..StreamConfig::default()
        };
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(TaskError::property("name", format!("'{name}': a bucket name is letters, digits, - and _")));
        }
        let js = async_nats::jetstream::new(p.conn.connect().await?);
        js.create_stream(config)
            .await
            .map_err(|e| TaskError::failed(format!("cannot create the key-value bucket '{name}': {e}")))?;
        let kv = js
            .get_key_value(&name)
            .await
            .map_err(|e| TaskError::failed(format!("cannot open the key-value bucket '{name}': {e}")))?;
        let status = kv.status().await.map_err(|e| TaskError::failed(format!("cannot read bucket '{name}': {e}")))?;
        let c = &status.info.config;
        let mut out = Map::new();
        out.insert("bucket".into(), Value::String(status.bucket.clone()));
        out.insert("description".into(), c.description.clone().map_or(Value::Null, Value::String));
        out.insert("history".into(), Value::from(c.max_messages_per_subject));
        out.insert("entryCount".into(), Value::from(status.info.state.messages));
        out.insert("bucketSize".into(), Value::from(c.max_bytes));
        out.insert("valueSize".into(), Value::from(c.max_message_size));
        Ok(TaskOutput::with(out))
    }
}

struct Put(PutProps);

#[async_trait]
impl RunnableTask for Put {
    async fn run(&self, _cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let bucket = required(self.0.bucket_name.clone(), "bucketName")?;
        let values = self.0.values.clone().ok_or_else(|| TaskError::property("values", "is required"))?;
        let kv = store(&self.0.conn, &bucket).await?;
        let mut revisions = Map::new();
        for (k, v) in values {
            let revision = kv
                .put(&k, serde_json::to_vec(&v).unwrap_or_default().into())
                .await
                .map_err(|e| TaskError::failed(format!("cannot put '{k}' in bucket '{bucket}': {e}")))?;
            revisions.insert(k, Value::from(revision));
        }
        let mut out = Map::new();
        out.insert("revisions".into(), Value::Object(revisions));
        Ok(TaskOutput::with(out))
    }
}

struct Get(GetProps);

#[async_trait]
impl RunnableTask for Get {
    async fn run(&self, _cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let bucket = required(self.0.bucket_name.clone(), "bucketName")?;
        let kv = store(&self.0.conn, &bucket).await?;
        let mut wanted: Vec<(String, Option<u64>)> = Vec::new();
        match (&self.0.key_revisions, &self.0.keys) {
            (Some(revs), _) => {
                for (k, r) in revs {
                    let r = r.as_u64().or_else(|| r.as_str().and_then(|s| s.trim().parse().ok())).ok_or_else(|| {
                        TaskError::property("keyRevisions", format!("'{k}': {r} is not a revision number"))
                    })?;
                    wanted.push((k.clone(), Some(r)));
                }
            }
            (None, Some(keys)) => wanted.extend(texts(keys).into_iter().map(|k| (k, None))),
            (None, None) => return Err(TaskError::property("keys", "is required (or keyRevisions)")),
        }
        let mut output = Map::new();
        for (k, rev) in wanted {
            let value = match rev {
                None => kv.get(&k).await.map(|v| v.map(|b| b.to_vec())),
                Some(r) => kv.entry_for_revision(&k, r).await.map(|e| {
                    e.filter(|e| e.operation == async_nats::jetstream::kv::Operation::Put).map(|e| e.value.to_vec())
                }),
            }
            .map_err(|e| TaskError::failed(format!("cannot read '{k}' of bucket '{bucket}': {e}")))?;
            let Some(bytes) = value else { continue };
            if bytes.len() > MAX_VALUE_BYTES {
                return Err(TaskError::failed(format!("'{k}' holds over {MAX_VALUE_BYTES} bytes, the most Get reads")));
            }
            let v = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            output.insert(k, v);
        }
        let mut out = Map::new();
        out.insert("output".into(), Value::Object(output));
        Ok(TaskOutput::with(out))
    }
}

struct Delete(DeleteProps);

#[async_trait]
impl RunnableTask for Delete {
    async fn run(&self, _cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let bucket = required(self.0.bucket_name.clone(), "bucketName")?;
        let keys = texts(self.0.keys.as_deref().ok_or_else(|| TaskError::property("keys", "is required"))?);
        let kv = store(&self.0.conn, &bucket).await?;
        for k in &keys {
            kv.delete(k)
                .await
                .map_err(|e| TaskError::failed(format!("cannot delete '{k}' of bucket '{bucket}': {e}")))?;
        }
        let mut out = Map::new();
        out.insert("deletedCount".into(), Value::from(keys.len()));
        Ok(TaskOutput::with(out))
    }
}

fn build_create(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: CreateProps = parse_props(props)?;
    p.conn.check()?;
    Ok(Box::new(Create(p)))
}

fn build_put(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: PutProps = parse_props(props)?;
    p.conn.check()?;
    Ok(Box::new(Put(p)))
}

fn build_get(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: GetProps = parse_props(props)?;
    p.conn.check()?;
    Ok(Box::new(Get(p)))
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: DeleteProps = parse_props(props)?;
    p.conn.check()?;
    Ok(Box::new(Delete(p)))
}

pub static CREATE_BUCKET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<CreateProps>(build_create));
pub static PUT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<PutProps>(build_put));
pub static GET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<GetProps>(build_get));
pub static DELETE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DeleteProps>(build_delete));
