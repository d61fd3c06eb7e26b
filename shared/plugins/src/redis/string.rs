//! Kestra's Redis string tasks (plugin-redis `string/*`): `Set` (SET with
//! NX/XX, PX/PXAT/KEEPTTL and GET), `Get`, `Delete` (DEL), `Increment`
//! (INCR, INCRBY or INCRBYFLOAT, then EXPIRE/EXPIREAT) and `Ttl`. Each
//! opens one connection for its run (`conn`).

use std::sync::LazyLock;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Number, Value};

use super::conn::{self, RedisProps, Serde, command_error, serde_ok};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The keys `options` takes on Set.
const SET_OPTIONS: &[&str] = &["expirationDuration", "expirationDate", "mustNotExist", "mustExist", "keepTtl"];
/// The keys `options` takes on Increment.
const INCR_OPTIONS: &[&str] = &["expirationDuration", "expirationDate"];

fn options_ok(v: &Value, keys: &[&str]) -> Result<(), String> {
    match v {
        Value::Null => Ok(()),
        Value::Object(m) => match m.keys().find(|k| !keys.contains(&k.as_str())) {
            Some(k) => Err(format!("unknown property '{k}' of options (known: {})", keys.join(", "))),
            None => Ok(()),
        },
        Value::String(s) if baton_model::expr::is_template(s) => Ok(()),
        other => Err(format!("expected a map of options, found {other}")),
    }
}

fn set_options_ok(v: &Value) -> Result<(), String> {
    options_ok(v, SET_OPTIONS)
}

fn incr_options_ok(v: &Value) -> Result<(), String> {
    options_ok(v, INCR_OPTIONS)
}

/// Set's and Increment's `options`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    #[serde(default, deserialize_with = "de::opt_duration")]
    expiration_duration: Option<chrono::TimeDelta>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    expiration_date: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    must_not_exist: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    must_exist: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    keep_ttl: Option<bool>,
}

impl Options {
    fn parse(v: Value) -> Result<Options, TaskError> {
        if v.is_null() {
            return Ok(Options::default());
        }
        serde_json::from_value(v).map_err(|e| TaskError::property("options", e.to_string()))
    }

    /// `expirationDate` in milliseconds since the epoch.
    fn date_millis(&self) -> Result<Option<i64>, TaskError> {
        let Some(d) = self.expiration_date.as_deref().map(str::trim).filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        chrono::DateTime::parse_from_rfc3339(d).map(|t| Some(t.timestamp_millis())).map_err(|e| {
            TaskError::property("options.expirationDate", format!("'{d}' is not a date-time with an offset: {e}"))
        })
    }
}

/// Set a Redis string.
///
/// Runs SET on the key with the value serialized by serdeType; options set a TTL and NX/XX; get returns the previous value.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.redis.string.Set",
    aliases = ["io.kestra.plugin.redis.Set"],
    group = "core",
    example = "id: set\ntype: io.kestra.plugin.redis.string.Set\nurl: redis://:redis@localhost:6379/0\nkey: \"{{ inputs.key }}\"\nvalue: \"{{ inputs.value }}\"\noptions:\n  expirationDuration: PT1H\n",
    outputs(oldValue(String, "The previous value, when get is true and the key existed."))
)]
struct SetProps {
    #[serde(flatten)]
    redis: RedisProps,
    /// The key.
    #[serde(deserialize_with = "de::string_lenient")]
    key: String,
    /// The value (text, or a map or list with serdeType JSON).
    #[prop(kind = "Any")]
    value: Value,
    /// TTL and conditions: expirationDuration, expirationDate, mustNotExist (NX), mustExist (XX), keepTtl.
    #[serde(default)]
    #[prop(kind = "Map", check = set_options_ok)]
    options: Value,
    /// Return the previous value (SET … GET).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    get: Option<bool>,
    /// How the value is stored: STRING or JSON.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["STRING", "JSON"], default = "\"STRING\"", check = serde_ok)]
    serde_type: Option<String>,
}

struct Set {
    redis: RedisProps,
    key: String,
    value: String,
    options: Options,
    get: bool,
}

fn build_set(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: SetProps = parse_props(props)?;
    let serde = Serde::property(p.serde_type.as_deref())?;
    let value = serde.serialize(&p.value).map_err(|e| TaskError::property("value", e))?;
    let options = Options::parse(p.options)?;
    let keep = options.keep_ttl.unwrap_or(false);
    if keep && (options.expiration_duration.is_some() || options.expiration_date.is_some()) {
        return Err(TaskError::property(
            "options",
            "keepTtl keeps the key's TTL: it cannot be used with expirationDuration or expirationDate",
        ));
    }
    Ok(Box::new(Set { redis: p.redis, key: p.key, value, options, get: p.get.unwrap_or(false) }))
}

#[async_trait]
impl RunnableTask for Set {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut con = self.redis.connect().await?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(&self.key).arg(&self.value);
        let o = &self.options;
        if o.must_not_exist.unwrap_or(false) {
            cmd.arg("NX");
        }
        if o.must_exist.unwrap_or(false) {
            cmd.arg("XX");
        }
        if self.get {
            cmd.arg("GET");
        }
        if let Some(d) = o.expiration_duration {
            cmd.arg("PX").arg(d.num_milliseconds().max(1));
        }
        if let Some(ms) = o.date_millis()? {
            cmd.arg("PXAT").arg(ms);
        }
        if o.keep_ttl.unwrap_or(false) {
            cmd.arg("KEEPTTL");
        }
        let reply: redis::Value = cmd.query_async(&mut con).await.map_err(|e| command_error("SET", e))?;
        let mut out = Map::new();
        if self.get
            && let redis::Value::BulkString(bytes) = reply
        {
            conn::check_size(&format!("the previous value of '{}'", self.key), bytes.len())?;
            out.insert("oldValue".into(), Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        }
        cx.info(&format!("Set key '{}'", self.key));
        Ok(TaskOutput::with(out))
    }
}

/// Get a Redis string.
///
/// Runs GET on the key and outputs the value deserialized by serdeType (null when the key is missing, unless failedOnMissing).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.redis.string.Get",
    aliases = ["io.kestra.plugin.redis.Get"],
    group = "core",
    example = "id: get\ntype: io.kestra.plugin.redis.string.Get\nurl: redis://:redis@localhost:6379/0\nkey: \"{{ inputs.key }}\"\n",
    outputs(data(Any, "The value (null when the key is missing)."), key(String, "The key read."))
)]
struct GetProps {
    #[serde(flatten)]
    redis: RedisProps,
    /// The key.
    #[serde(deserialize_with = "de::string_lenient")]
    key: String,
    /// How the value was stored: STRING or JSON.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(values = ["STRING", "JSON"], default = "\"STRING\"", check = serde_ok)]
    serde_type: Option<String>,
    /// Fail when the key does not exist.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    failed_on_missing: Option<bool>,
}

struct Get {
    redis: RedisProps,
    key: String,
    serde: Serde,
    failed_on_missing: bool,
}

fn build_get(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: GetProps = parse_props(props)?;
    let serde = Serde::property(p.serde_type.as_deref())?;
    Ok(Box::new(Get { redis: p.redis, key: p.key, serde, failed_on_missing: p.failed_on_missing.unwrap_or(false) }))
}

#[async_trait]
impl RunnableTask for Get {
    async fn run(&self, _cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut con = self.redis.connect().await?;
        // the size first, so a huge value is named rather than read
        let len: usize =
            redis::cmd("STRLEN").arg(&self.key).query_async(&mut con).await.map_err(|e| command_error("STRLEN", e))?;
        conn::check_size(&format!("key '{}'", self.key), len)?;
        let data: Option<Vec<u8>> =
            redis::cmd("GET").arg(&self.key).query_async(&mut con).await.map_err(|e| command_error("GET", e))?;
        let data = match data {
            None if self.failed_on_missing => {
                return Err(TaskError::failed(format!("Missing key '{}'", self.key)));
            }
            None => Value::Null,
            Some(bytes) => {
                conn::check_size(&format!("key '{}'", self.key), bytes.len())?;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                self.serde.deserialize(text).map_err(|e| TaskError::failed(format!("key '{}': {e}", self.key)))?
            }
        };
        let mut out = Map::new();
        out.insert("data".into(), data);
        out.insert("key".into(), Value::String(self.key.clone()));
        Ok(TaskOutput::with(out))
    }
}

/// Delete Redis keys.
///
/// Runs DEL on the keys and outputs how many were deleted (failing, with failedOnMissing, when some did not exist).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.redis.string.Delete",
    aliases = ["io.kestra.plugin.redis.Delete"],
    group = "core",
    example = "id: delete\ntype: io.kestra.plugin.redis.string.Delete\nurl: redis://:redis@localhost:6379/0\nkeys:\n  - keyDelete1\n  - keyDelete2\n",
    outputs(count(Integer, "How many keys were deleted."))
)]
struct DeleteProps {
    #[serde(flatten)]
    redis: RedisProps,
    /// The keys to delete.
    #[serde(deserialize_with = "de::string_or_list")]
    #[prop(kind = "List")]
    keys: Vec<String>,
    /// Fail when fewer keys were deleted than given.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "false")]
    failed_on_missing: Option<bool>,
}

struct Delete {
    redis: RedisProps,
    keys: Vec<String>,
    failed_on_missing: bool,
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: DeleteProps = parse_props(props)?;
    if p.keys.is_empty() {
        return Err(TaskError::property("keys", "give at least one key"));
    }
    Ok(Box::new(Delete { redis: p.redis, keys: p.keys, failed_on_missing: p.failed_on_missing.unwrap_or(false) }))
}

#[async_trait]
impl RunnableTask for Delete {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut con = self.redis.connect().await?;
        let count: u64 =
            redis::cmd("DEL").arg(&self.keys).query_async(&mut con).await.map_err(|e| command_error("DEL", e))?;
        if self.failed_on_missing && count < self.keys.len() as u64 {
            return Err(TaskError::failed(format!(
                "Missing keys: only {count} of the {} keys were deleted",
                self.keys.len()
            )));
        }
        cx.counter("deleted.records.count", count as f64, &[]);
        let mut out = Map::new();
        out.insert("count".into(), Value::from(count));
        Ok(TaskOutput::with(out))
    }
}

/// Increment a Redis number.
///
/// Runs INCR (or INCRBY/INCRBYFLOAT with amount) on the key, then sets its expiration when options say so.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.redis.string.Increment",
    aliases = ["io.kestra.plugin.redis.Increment"],
    group = "core",
    example = "id: increment\ntype: io.kestra.plugin.redis.string.Increment\nurl: redis://:redis@localhost:6379/0\nkey: visits\namount: 1\n",
    outputs(value(Number, "The value after the increment."), key(String, "The key incremented."))
)]
struct IncrementProps {
    #[serde(flatten)]
    redis: RedisProps,
    /// The key.
    #[serde(deserialize_with = "de::string_lenient")]
    key: String,
    /// How much to add (INCR, adding 1, when absent).
    #[serde(default)]
    #[prop(kind = "Number")]
    amount: Option<Value>,
    /// The key's expiration after the increment: expirationDuration or expirationDate.
    #[serde(default)]
    #[prop(kind = "Map", check = incr_options_ok)]
    options: Value,
}

/// The increment to run.
#[derive(Debug, Clone, Copy)]
enum Amount {
    /// INCR.
    One,
    /// INCRBY (Kestra sends whole numbers beyond 32 bits there).
    Integer(i64),
    /// INCRBYFLOAT (Kestra sends every other number there, whole ones included).
    Float(f64),
}

fn parse_amount(v: Option<Value>) -> Result<Amount, TaskError> {
    let n = match v {
        None | Some(Value::Null) => return Ok(Amount::One),
        Some(Value::Number(n)) => n,
        Some(Value::String(s)) => {
            s.trim().parse::<Number>().map_err(|_| TaskError::property("amount", format!("'{s}' is not a number")))?
        }
        Some(other) => return Err(TaskError::property("amount", format!("expected a number, found {other}"))),
    };
    match n.as_i64() {
        Some(i) if i32::try_from(i).is_err() => Ok(Amount::Integer(i)),
        _ => n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Amount::Float)
            .ok_or_else(|| TaskError::property("amount", format!("{n} is not a finite number"))),
    }
}

struct Increment {
    redis: RedisProps,
    key: String,
    amount: Amount,
    expire_seconds: Option<i64>,
    expire_at: Option<i64>,
}

fn build_increment(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: IncrementProps = parse_props(props)?;
    let amount = parse_amount(p.amount)?;
    let options = Options::parse(p.options)?;
    if options.expiration_duration.is_some() && options.expiration_date.is_some() {
        return Err(TaskError::property(
            "options",
            "give expirationDuration (a relative TTL) or expirationDate (an absolute time), not both",
        ));
    }
    let expire_at = options.date_millis()?.map(|ms| ms.div_euclid(1000));
    let expire_seconds = options.expiration_duration.map(|d| d.num_seconds()).filter(|s| *s > 0);
    Ok(Box::new(Increment { redis: p.redis, key: p.key, amount, expire_seconds, expire_at }))
}

#[async_trait]
impl RunnableTask for Increment {
    async fn run(&self, _cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut con = self.redis.connect().await?;
        let value = match self.amount {
            Amount::One => {
                let v: i64 = redis::cmd("INCR")
                    .arg(&self.key)
                    .query_async(&mut con)
                    .await
                    .map_err(|e| command_error("INCR", e))?;
                Value::from(v)
            }
            Amount::Integer(by) => {
                let v: i64 = redis::cmd("INCRBY")
                    .arg(&self.key)
                    .arg(by)
                    .query_async(&mut con)
                    .await
                    .map_err(|e| command_error("INCRBY", e))?;
                Value::from(v)
            }
            Amount::Float(by) => {
                let v: f64 = redis::cmd("INCRBYFLOAT")
                    .arg(&self.key)
                    .arg(by)
                    .query_async(&mut con)
                    .await
                    .map_err(|e| command_error("INCRBYFLOAT", e))?;
                Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null)
            }
        };
        if let Some(s) = self.expire_seconds {
            let _: i64 = redis::cmd("EXPIRE")
                .arg(&self.key)
                .arg(s)
                .query_async(&mut con)
                .await
                .map_err(|e| command_error("EXPIRE", e))?;
        }
        if let Some(at) = self.expire_at {
            let _: i64 = redis::cmd("EXPIREAT")
                .arg(&self.key)
                .arg(at)
                .query_async(&mut con)
                .await
                .map_err(|e| command_error("EXPIREAT", e))?;
        }
        let mut out = Map::new();
        out.insert("value".into(), value);
        out.insert("key".into(), Value::String(self.key.clone()));
        Ok(TaskOutput::with(out))
    }
}

/// Read a Redis key's time to live.
///
/// Runs TTL on the key: seconds left, -1 when it does not expire, -2 when it does not exist.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.redis.string.Ttl",
    group = "core",
    example = "id: ttl\ntype: io.kestra.plugin.redis.string.Ttl\nurl: redis://:redis@localhost:6379/0\nkey: session\n",
    outputs(ttl(Integer, "Seconds left (-1: no expiration, -2: no such key)."), key(String, "The key."))
)]
struct TtlProps {
    #[serde(flatten)]
    redis: RedisProps,
    /// The key.
    #[serde(deserialize_with = "de::string_lenient")]
    key: String,
}

struct Ttl(TtlProps);

#[async_trait]
impl RunnableTask for Ttl {
    async fn run(&self, _cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut con = self.0.redis.connect().await?;
        let ttl: i64 =
            redis::cmd("TTL").arg(&self.0.key).query_async(&mut con).await.map_err(|e| command_error("TTL", e))?;
        let mut out = Map::new();
        out.insert("ttl".into(), Value::from(ttl));
        out.insert("key".into(), Value::String(self.0.key.clone()));
        Ok(TaskOutput::with(out))
    }
}

pub static SET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<SetProps>(build_set));
pub static GET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<GetProps>(build_get));
pub static DELETE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<DeleteProps>(build_delete));
pub static INCREMENT: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<IncrementProps>(build_increment));
pub static TTL: LazyLock<PluginDef> =
    LazyLock::new(|| PluginDef::declare::<TtlProps>(|p| Ok(Box::new(Ttl(parse_props(p)?)) as Box<dyn RunnableTask>)));

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_go_where_kestra_sends_them() {
        assert!(matches!(parse_amount(None).unwrap(), Amount::One));
        assert!(matches!(parse_amount(Some(json!(2))).unwrap(), Amount::Float(f) if f == 2.0));
        assert!(matches!(parse_amount(Some(json!(1.5))).unwrap(), Amount::Float(f) if f == 1.5));
        assert!(matches!(parse_amount(Some(json!(5_000_000_000i64))).unwrap(), Amount::Integer(5_000_000_000)));
        assert!(parse_amount(Some(json!("x"))).is_err());
    }

    #[test]
    fn options_keys_are_checked() {
        assert!(set_options_ok(&json!({"expirationDuration": "PT1H", "keepTtl": false})).is_ok());
        assert!(set_options_ok(&json!({"ttl": 3})).unwrap_err().contains("unknown property 'ttl'"));
        assert!(incr_options_ok(&json!({"mustExist": true})).unwrap_err().contains("mustExist"));
    }

    #[test]
    fn keep_ttl_with_an_expiration_is_refused() {
        let props = json!({"url": "redis://h", "key": "k", "value": "v",
            "options": {"keepTtl": true, "expirationDuration": "PT1M"}});
        let err = build_set(props.as_object().unwrap()).err().unwrap().to_string();
        assert!(err.contains("keepTtl"), "{err}");
    }
}
