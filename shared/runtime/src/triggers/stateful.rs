//! What the stateful file triggers (S3's `s3.Trigger`, a local folder's
//! `fs.local.Trigger`: Kestra's `StatefulTriggerInterface` with `maxFiles`)
//! share, declared once: the properties besides their listing (`on`,
//! `maxFiles`, `stateKey`, `stateTtl`), their polled `interval`, and which
//! of their properties are rendered at each poll. The GCS and Pub/Sub
//! triggers take the same `interval` and `maxFiles` defaults and bounds.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{On, TriggerProblem};
use crate::model::{Flow, Trigger};
use crate::plugins::Declare;

/// Kestra's default `interval` of the polled triggers (files, objects, Pub/Sub).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// The smallest `interval` the local poller honours.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// The keys read by the trigger machinery, not rendered with the listing's.
const NOT_RENDERED: &[&str] =
    &["id", "type", "description", "disabled", "conditions", "labels", "allowConcurrent", "when", "interval"];

/// The properties to render at each poll: the trigger's, less those the
/// machinery reads.
pub fn renderable(t: &Trigger) -> Map<String, Value> {
    t.props.iter().filter(|(k, _)| !NOT_RENDERED.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The trigger's `interval` (a literal ISO-8601 duration: Terraform reads it).
pub fn interval(t: &Trigger) -> Result<Duration, TriggerProblem> {
    super::poll_interval(t, DEFAULT_INTERVAL, MIN_INTERVAL)
}

/// Kestra's default `maxFiles` of the stateful file triggers.
pub const DEFAULT_MAX_FILES: usize = 25;
/// The largest `maxFiles` Baton accepts (files or objects in one execution).
pub const MAX_FILES_BOUND: usize = 1000;

/// The declaration of what the stateful file triggers (S3's, a local
/// folder's) take besides their listing, `#[serde(flatten)]`ed into each
/// one's; [`StatefulProps`] reads them rendered.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct StatefulDecl {
    /// Fire on new files (or objects), changed ones, or both.
    #[prop(dynamic, kind = "String", values = ["CREATE", "UPDATE", "CREATE_OR_UPDATE"], default = "\"CREATE_OR_UPDATE\"")]
    on: Option<Value>,
    /// At most this many files (or objects) per execution (the others go to the next).
    #[prop(dynamic, kind = "Integer", default = "25")]
    max_files: Option<Value>,
    /// The key under which the files (or objects) seen are remembered.
    #[prop(dynamic, kind = "String")]
    state_key: Option<Value>,
    /// Forget a file (or object) seen after this long (it fires again if still there).
    #[prop(dynamic, kind = "Duration")]
    state_ttl: Option<Value>,
}

/// What the stateful file triggers (S3's, a local folder's: Kestra's
/// `StatefulTriggerInterface` with `maxFiles`) read of their rendered
/// properties, `#[serde(flatten)]`ed into each one's.
/// Kept as written and read in [`Stateful::check`]: an error inside a
/// flattened struct would lose the property's name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulProps {
    #[serde(default)]
    on: Option<Value>,
    #[serde(default)]
    max_files: Option<Value>,
    #[serde(default)]
    state_key: Option<Value>,
    #[serde(default)]
    state_ttl: Option<Value>,
}

/// `v` read by `read` (one of `crate::plugins::de`'s), an error naming `property`.
fn read_prop<T>(
    property: &str,
    v: Option<Value>,
    read: fn(Value) -> Result<Option<T>, serde_json::Error>,
) -> Result<Option<T>, crate::plugins::TaskError> {
    match v {
        None => Ok(None),
        Some(v) => read(v).map_err(|e| crate::plugins::TaskError::property(property, e.to_string())),
    }
}

/// [`StatefulProps`] checked: which changes fire, how many files one
/// execution takes, and where and how long the files seen are remembered.
#[derive(Debug, Clone)]
pub struct Stateful {
    pub on: On,
    pub max_files: usize,
    pub state_key: Option<String>,
    pub state_ttl: Option<Duration>,
}

impl Stateful {
    /// `on` one of [`On::VALUES`] (any case), `maxFiles` from 1 to [`MAX_FILES_BOUND`].
    pub fn check(p: StatefulProps) -> Result<Stateful, crate::plugins::TaskError> {
        use crate::plugins::{TaskError, de};
        let on: Option<String> = read_prop("on", p.on, de::opt_string_lenient)?;
        let max_files: Option<u64> = read_prop("maxFiles", p.max_files, de::opt_u64_lenient)?;
        let state_key: Option<String> = read_prop("stateKey", p.state_key, de::opt_string_lenient)?;
        let state_ttl = read_prop("stateTtl", p.state_ttl, de::opt_duration)?;
        let on = match on.as_deref().map(str::trim).filter(|o| !o.is_empty()) {
            None => On::CreateOrUpdate,
            Some(o) if On::VALUES.contains(&o.to_ascii_uppercase().as_str()) => {
                On::parse(Some(&o.to_ascii_uppercase()))
            }
            Some(o) => return Err(TaskError::property("on", format!("'{o}' is not one of {}", On::VALUES.join(", ")))),
        };
        let max_files = match max_files {
            None => DEFAULT_MAX_FILES,
            Some(n) if n >= 1 && n as usize <= MAX_FILES_BOUND => n as usize,
            Some(n) => {
                return Err(TaskError::property(
                    "maxFiles",
                    format!("must be from 1 to {MAX_FILES_BOUND} (Baton's bound, MAX_FILES_BOUND), got {n}"),
                ));
            }
        };
        Ok(Stateful {
            on,
            max_files,
            state_key: state_key.filter(|k| !k.trim().is_empty()),
            state_ttl: state_ttl.and_then(|d| d.to_std().ok()),
        })
    }

    /// The key of trigger `id`'s stored state (`stateKey`, else
    /// namespace/flow/trigger, as Kestra).
    pub fn state_key(&self, flow: &Flow, id: &str) -> String {
        self.state_key.clone().unwrap_or_else(|| format!("{}/{}/{id}", flow.namespace, flow.id))
    }
}
