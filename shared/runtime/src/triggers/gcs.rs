//! `io.kestra.plugin.gcp.gcs.Trigger`: starts an execution for new or
//! updated objects under `from` (plugin-gcp `gcs/Trigger.java`).
//!
//! Kestra polls every `interval`; `baton server local` does too
//! (`runtime::events::gcs`), while on Google Cloud Terraform turns the
//! trigger into the bucket's Pub/Sub notification and each object event is
//! pushed to the scheduler function (`functions::events`), so `interval`
//! has no effect there. This module is the pure part: the trigger's
//! properties and checks ([`GcsTrigger`]), which objects it selects, the
//! `trigger.blobs` variables and the deterministic execution id of a set of
//! object generations.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::stateful::{DEFAULT_INTERVAL, DEFAULT_MAX_FILES, MAX_FILES_BOUND, MIN_INTERVAL};
use super::{TriggerDef, TriggerProblem, WhenProp, prop};
use crate::model::flow::kind_of;
use crate::model::{Flow, Trigger};
use crate::plugins::Declare;
use crate::template::is_template;

pub const TYPE: &str = "io.kestra.plugin.gcp.gcs.Trigger";

/// The credential properties of the gcp triggers (plugin-gcp `GcpInterface`).
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct GcpAuthProps {
    /// The Google Cloud project; the runtime's when absent.
    #[prop(kind = "String")]
    project_id: Option<Value>,
    /// A service account key (JSON); the runtime's credentials when absent.
    #[prop(kind = "Any")]
    service_account: Option<Value>,
    /// Act as this service account.
    #[prop(kind = "String")]
    impersonated_service_account: Option<Value>,
    /// OAuth scopes.
    #[prop(kind = "StringOrList", default = "[\"https://www.googleapis.com/auth/cloud-platform\"]")]
    scopes: Option<Value>,
}

/// Start an execution for new files in a GCS bucket.
///
/// Starts an execution for new or updated objects under `from` (trigger.blobs). Polled every `interval` by `baton server local`; pushed by the bucket's Pub/Sub notification on Google Cloud, where `interval` has no effect.
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    example = "id: new_files\ntype: io.kestra.plugin.gcp.gcs.Trigger\nfrom: gs://my-bucket/incoming/\ninterval: PT5M\naction: MOVE\nmoveDirectory: gs://my-bucket/archive/\n",
)]
struct GcsTriggerProps {
    #[serde(flatten)]
    auth: GcpAuthProps,
    /// The gs:// folder to watch.
    #[prop(kind = "String", required)]
    from: Option<Value>,
    /// How often to list (local runtime).
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    /// What to do with a file once seen.
    #[prop(kind = "String", values = ["MOVE", "DELETE", "NONE"])]
    action: Option<Value>,
    /// Where MOVE puts the files.
    #[prop(kind = "String")]
    move_directory: Option<Value>,
    /// List the folder only, or recursively.
    #[prop(kind = "String", values = ["DIRECTORY", "RECURSIVE"], default = "\"DIRECTORY\"")]
    listing_type: Option<Value>,
    /// Only files whose path matches this regular expression.
    #[prop(kind = "String")]
    reg_exp: Option<Value>,
    /// Fire on new files, changed ones, or both.
    #[prop(kind = "String", values = ["CREATE", "UPDATE", "CREATE_OR_UPDATE"])]
    on: Option<Value>,
    /// The key under which seen files are remembered.
    #[prop(kind = "String")]
    state_key: Option<Value>,
    /// Forget a seen file after this long.
    #[prop(kind = "Duration")]
    state_ttl: Option<Value>,
    /// At most this many files per execution.
    #[prop(kind = "Integer")]
    max_files: Option<Value>,
    #[serde(flatten)]
    when: WhenProp,
}

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<GcsTriggerProps>(check, crate::conditions::ConditionUse::Polling));

/// What happens to the objects once their execution exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    Delete,
    /// Copy to `gs://{bucket}/{prefix}{file name}`, then delete the source.
    Move {
        bucket: String,
        prefix: String,
    },
}

pub use super::On;

/// The credentials a gcp trigger names (rendered at run time: they may use `secret()`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthProps {
    pub project_id: Option<String>,
    pub service_account: Option<Value>,
    pub impersonated_service_account: Option<String>,
    pub scopes: Vec<String>,
}

impl AuthProps {
    pub fn from_trigger(t: &Trigger) -> AuthProps {
        let s = |k: &str| prop(t, k).and_then(Value::as_str).map(str::to_string).filter(|v| !v.trim().is_empty());
        let scopes = match prop(t, "scopes") {
            Some(Value::String(v)) => vec![v.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        };
        AuthProps {
            project_id: s("projectId"),
            service_account: prop(t, "serviceAccount").cloned(),
            impersonated_service_account: s("impersonatedServiceAccount"),
            scopes,
        }
    }
}

/// A checked `gcs.Trigger`.
#[derive(Debug, Clone)]
pub struct GcsTrigger {
    pub id: String,
    pub bucket: String,
    /// The object-name prefix (`from` without `gs://bucket/`).
    pub prefix: String,
    pub regexp: Option<Regex>,
    /// `listingType: RECURSIVE` (else only the objects right under `prefix`).
    pub recursive: bool,
    pub action: Action,
    pub on: On,
    pub interval: Duration,
    pub max_files: usize,
    pub state_key: Option<String>,
    pub state_ttl: Option<Duration>,
    pub auth: AuthProps,
}

/// A literal string property (these are read by Terraform from the flow file, so no template).
pub(crate) fn literal(t: &Trigger, key: &str) -> Result<Option<String>, TriggerProblem> {
    match prop(t, key) {
        None => Ok(None),
        Some(Value::String(s)) if is_template(s) => Err(TriggerProblem::at(
            key,
            format!(
                "trigger '{}': '{key}' must be written out, not a template: Terraform reads it from the flow file \
                 to create the Google Cloud resources",
                t.id
            ),
        )),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(other) => Err(TriggerProblem::at(
            key,
            format!("trigger '{}': '{key}' must be a string, got {}", t.id, kind_of(other)),
        )),
    }
}

/// An enum-like property, upper-cased and checked against `allowed`.
pub(crate) fn one_of(t: &Trigger, key: &str, allowed: &[&str]) -> Result<Option<String>, TriggerProblem> {
    let Some(v) = literal(t, key)? else { return Ok(None) };
    let up = v.to_ascii_uppercase();
    if allowed.contains(&up.as_str()) {
        Ok(Some(up))
    } else {
        Err(TriggerProblem::at(key, format!("trigger '{}': '{key}' is '{v}', not one of {}", t.id, allowed.join(", "))))
    }
}

/// An ISO-8601 duration property.
pub(crate) fn duration(t: &Trigger, key: &str) -> Result<Option<Duration>, TriggerProblem> {
    let Some(v) = literal(t, key)? else { return Ok(None) };
    let d = crate::model::duration::parse_iso(&v)
        .map_err(|e| TriggerProblem::at(key, format!("trigger '{}': '{key}': {e}", t.id)))?;
    d.to_std()
        .ok()
        .filter(|d| !d.is_zero())
        .map(Some)
        .ok_or_else(|| TriggerProblem::at(key, format!("trigger '{}': '{key}' must be positive, got '{v}'", t.id)))
}

/// A positive integer property, at most `max`.
pub(crate) fn count(t: &Trigger, key: &str, max: usize) -> Result<Option<usize>, TriggerProblem> {
    let Some(v) = prop(t, key) else { return Ok(None) };
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n >= 1 && n as usize <= max => Ok(Some(n as usize)),
        _ => Err(TriggerProblem::at(
            key,
            format!("trigger '{}': '{key}' must be an integer from 1 to {max} (Baton's bound), got {v}", t.id),
        )),
    }
}

/// The value of a property read with its problem, if any, kept aside.
pub(crate) fn keep<T>(problems: &mut Vec<TriggerProblem>, r: Result<Option<T>, TriggerProblem>) -> Option<T> {
    r.map_err(|p| problems.push(p)).ok().flatten()
}

/// `gs://bucket/prefix` → (bucket, prefix).
pub fn parse_gs(s: &str) -> Option<(String, String)> {
    let rest = s.trim().strip_prefix("gs://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), prefix.to_string()))
}

impl GcsTrigger {
    /// Reads and checks the trigger's properties.
    pub fn from_trigger(t: &Trigger) -> Result<GcsTrigger, Vec<TriggerProblem>> {
        let mut problems = Vec::new();
        let from = keep(&mut problems, literal(t, "from"));
        let move_dir = keep(&mut problems, literal(t, "moveDirectory"));
        let action = keep(&mut problems, one_of(t, "action", &["MOVE", "DELETE", "NONE"]));
        let listing = keep(&mut problems, one_of(t, "listingType", &["DIRECTORY", "RECURSIVE"]));
        let on = keep(&mut problems, one_of(t, "on", &["CREATE", "UPDATE", "CREATE_OR_UPDATE"]));
        let interval = keep(&mut problems, duration(t, "interval"));
        let state_ttl = keep(&mut problems, duration(t, "stateTtl"));
        let max_files = keep(&mut problems, count(t, "maxFiles", MAX_FILES_BOUND));
        let state_key = keep(&mut problems, literal(t, "stateKey"));
        let regexp = match keep(&mut problems, literal(t, "regExp")).filter(|r| !r.is_empty()) {
            None => None,
            Some(r) => match Regex::new(&format!("^(?:{r})$")) {
                Ok(re) => Some(re),
                Err(e) => {
                    problems.push(TriggerProblem::at("regExp", format!("trigger '{}': invalid regExp: {e}", t.id)));
                    None
                }
            },
        };
        let (bucket, prefix) = match from.as_deref().map(|f| (f, parse_gs(f))) {
            None => {
                if prop(t, "from").is_none() {
                    problems.push(TriggerProblem::at("", format!("trigger '{}': a gcs.Trigger needs 'from'", t.id)));
                }
                (String::new(), String::new())
            }
            Some((_, Some(bp))) => bp,
            Some((f, None)) => {
                problems.push(TriggerProblem::at(
                    "from",
                    format!("trigger '{}': 'from' is '{f}', not a GCS URI (gs://bucket/prefix/)", t.id),
                ));
                (String::new(), String::new())
            }
        };
        let action = match action.as_deref() {
            Some("MOVE") => match move_dir.as_deref().map(|m| (m, parse_gs(m))) {
                Some((_, Some((bucket, prefix)))) => {
                    let prefix = if prefix.is_empty() || prefix.ends_with('/') { prefix } else { format!("{prefix}/") };
                    Action::Move { bucket, prefix }
                }
                Some((m, None)) => {
                    problems.push(TriggerProblem::at(
                        "moveDirectory",
                        format!("trigger '{}': 'moveDirectory' is '{m}', not a GCS URI (gs://bucket/dir/)", t.id),
                    ));
                    Action::None
                }
                None => {
                    problems.push(TriggerProblem::at(
                        "moveDirectory",
                        format!("trigger '{}': action MOVE needs 'moveDirectory'", t.id),
                    ));
                    Action::None
                }
            },
            Some("DELETE") => Action::Delete,
            _ => Action::None,
        };
        if let (Action::Move { bucket: mb, prefix: mp }, false) = (&action, bucket.is_empty())
            && *mb == bucket
            && mp.starts_with(&prefix)
        {
            problems.push(TriggerProblem::at(
                "moveDirectory",
                format!(
                    "trigger '{}': 'moveDirectory' gs://{mb}/{mp} is under 'from' gs://{bucket}/{prefix}: \
                     moved objects would trigger again",
                    t.id
                ),
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(GcsTrigger {
            id: t.id.clone(),
            bucket,
            prefix,
            regexp,
            recursive: listing.as_deref() == Some("RECURSIVE"),
            action,
            on: On::parse(on.as_deref()),
            interval: interval.unwrap_or(DEFAULT_INTERVAL).max(MIN_INTERVAL),
            max_files: max_files.unwrap_or(DEFAULT_MAX_FILES),
            state_key,
            state_ttl,
            auth: AuthProps::from_trigger(t),
        })
    }

    /// Whether the object `name` of `bucket` is one this trigger watches:
    /// under the prefix, right under it unless RECURSIVE, not a "directory"
    /// placeholder, and matching `regExp` on its `gs://` URI.
    pub fn selects(&self, bucket: &str, name: &str) -> bool {
        if bucket != self.bucket || !name.starts_with(&self.prefix) || name.ends_with('/') {
            return false;
        }
        if !self.recursive && name[self.prefix.len()..].contains('/') {
            return false;
        }
        self.regexp.as_ref().is_none_or(|r| r.is_match(&format!("gs://{bucket}/{name}")))
    }

    /// Where MOVE puts `name`: `moveDirectory` + its file name (Kestra's `FilenameUtils.getName`).
    pub fn move_target(&self, name: &str) -> Option<(String, String)> {
        match &self.action {
            Action::Move { bucket, prefix } => {
                let file = name.rsplit('/').next().unwrap_or(name);
                Some((bucket.clone(), format!("{prefix}{file}")))
            }
            _ => None,
        }
    }

    /// The key of this trigger's stored state (`stateKey`, else namespace/flow/trigger, as Kestra).
    pub fn state_key(&self, flow: &Flow) -> String {
        self.state_key.clone().unwrap_or_else(|| format!("{}/{}/{}", flow.namespace, flow.id, self.id))
    }
}

/// One object generation an execution is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ObjectRef {
    pub bucket: String,
    pub name: String,
    pub generation: String,
}

impl ObjectRef {
    /// From a JSON API object resource.
    pub fn of(object: &Value) -> ObjectRef {
        let s = |k: &str| match &object[k] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        ObjectRef { bucket: s("bucket"), name: s("name"), generation: s("generation") }
    }
}

/// The execution id for these object generations of `trigger`: the same set
/// always names the same execution, so a duplicate event or a repeated
/// poll creates nothing.
pub fn execution_id(flow: &Flow, trigger_id: &str, objects: &[ObjectRef]) -> String {
    let mut sorted: Vec<&ObjectRef> = objects.iter().collect();
    sorted.sort();
    let mut seed = format!("gcs.Trigger\n{}\n{}\n{trigger_id}", flow.namespace, flow.id);
    for o in sorted {
        seed.push_str(&format!("\ngs://{}/{}#{}", o.bucket, o.name, o.generation));
    }
    crate::model::ids::derived_id(&seed)
}

/// The version Kestra keeps per object: `generation:{g}_metageneration:{m}`.
pub fn version(object: &Value) -> String {
    let n = |k: &str| match &object[k] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => "0".into(),
    };
    format!("generation:{}_metageneration:{}", n("generation"), n("metageneration"))
}

/// One entry of `trigger.blobs`: Kestra's Blob of the object with `uri`
/// the file's copy in internal storage, plus `changeType` (CREATE/UPDATE).
pub fn blob_variable(object: &Value, internal_uri: &str, is_new: bool) -> Value {
    let mut blob = crate::plugins::gcp::gcs::blob::from_object(object);
    if let Value::Object(m) = &mut blob {
        m.insert("uri".into(), Value::String(internal_uri.to_string()));
        m.insert("changeType".into(), Value::String(if is_new { "CREATE" } else { "UPDATE" }.into()));
    }
    blob
}

/// The trigger variables of an execution: `{"blobs": [...]}`.
pub fn variables(blobs: Vec<Value>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("blobs".into(), Value::Array(blobs));
    m
}

fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    match GcsTrigger::from_trigger(trig) {
        Ok(_) => Vec::new(),
        Err(p) => p,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn props(yaml: &str) -> Map<String, Value> {
        let (v, _) = crate::yaml::parse(yaml).expect("yaml");
        v.as_object().cloned().expect("a mapping")
    }

    pub(crate) fn flow() -> Flow {
        let src = "id: f\nnamespace: ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
        let (v, _) = crate::yaml::parse(src).expect("yaml");
        Flow::from_value(&v, src).0.expect("flow")
    }

    fn trig(yaml: &str) -> Trigger {
        Trigger {
            id: "watch".into(),
            type_: TYPE.into(),
            disabled: false,
            props: props(yaml),
            path: "triggers[0]".into(),
        }
    }

    #[test]
    fn reads_kestra_s_example() {
        let t = GcsTrigger::from_trigger(&trig(
            "interval: PT5M\nfrom: gs://my-bucket/kestra/listen/\naction: MOVE\nmoveDirectory: gs://my-bucket/kestra/archive/",
        ))
        .expect("valid");
        assert_eq!((t.bucket.as_str(), t.prefix.as_str()), ("my-bucket", "kestra/listen/"));
        assert_eq!(t.interval, Duration::from_secs(300));
        assert_eq!(t.max_files, 25);
        assert_eq!(t.on, On::CreateOrUpdate);
        assert_eq!(
            t.move_target("kestra/listen/a.csv"),
            Some(("my-bucket".to_string(), "kestra/archive/a.csv".to_string()))
        );
        assert!(t.selects("my-bucket", "kestra/listen/a.csv"));
        assert!(!t.selects("my-bucket", "kestra/listen/sub/a.csv"), "DIRECTORY: one level");
        assert!(!t.selects("my-bucket", "kestra/listen/"), "directory placeholder");
        assert!(!t.selects("other", "kestra/listen/a.csv"));
    }

    #[test]
    fn regexp_and_recursive() {
        let t = GcsTrigger::from_trigger(&trig("from: gs://b/in/\nlistingType: RECURSIVE\nregExp: .*\\.csv"))
            .expect("valid");
        assert!(t.selects("b", "in/x/y.csv"));
        assert!(!t.selects("b", "in/x/y.json"));
    }

    #[test]
    fn problems_name_the_property() {
        let paths = |y: &str| -> Vec<String> {
            GcsTrigger::from_trigger(&trig(y)).expect_err("invalid").into_iter().map(|p| p.path).collect()
        };
        assert_eq!(paths("from: s3://b/x"), ["from"]);
        assert_eq!(paths("from: gs://b/in/\naction: MOVE"), ["moveDirectory"]);
        assert_eq!(paths("from: gs://b/in/\naction: COPY"), ["action"]);
        assert_eq!(paths("from: gs://b/in/\non: NEVER"), ["on"]);
        assert_eq!(paths("from: gs://b/in/\nmaxFiles: 0"), ["maxFiles"]);
        assert_eq!(paths("from: gs://b/in/\ninterval: soon"), ["interval"]);
        assert_eq!(paths("from: \"{{ vars.x }}\""), ["from"]);
        assert_eq!(paths("from: gs://b/in/\naction: MOVE\nmoveDirectory: gs://b/in/done/"), ["moveDirectory"]);
        assert_eq!(paths("from: gs://b/in/\nregExp: '('"), ["regExp"]);
        assert_eq!(paths("action: NONE"), [""]);
    }

    #[test]
    fn execution_ids_follow_the_generations() {
        let flow = flow();
        let a = ObjectRef { bucket: "b".into(), name: "in/a".into(), generation: "1".into() };
        let b = ObjectRef { bucket: "b".into(), name: "in/b".into(), generation: "1".into() };
        let a2 = ObjectRef { generation: "2".into(), ..a.clone() };
        let id = execution_id(&flow, "watch", &[a.clone(), b.clone()]);
        assert_eq!(id, execution_id(&flow, "watch", &[b.clone(), a.clone()]), "order does not matter");
        assert_ne!(id, execution_id(&flow, "watch", &[a2, b.clone()]), "a new generation is a new event");
        assert_ne!(id, execution_id(&flow, "other", &[a, b]));
    }

    #[test]
    fn blob_variable_is_kestra_s_blob_with_internal_uri() {
        let o = serde_json::json!({"bucket":"b","name":"in/a.csv","size":"11","generation":"7","metageneration":"1"});
        let v = blob_variable(&o, "kestra:///ns/f/executions/x/trigger/watch/a.csv", true);
        assert_eq!(v["uri"], "kestra:///ns/f/executions/x/trigger/watch/a.csv");
        assert_eq!(
            (v["name"].as_str(), v["size"].as_i64(), v["changeType"].as_str()),
            (Some("in/a.csv"), Some(11), Some("CREATE"))
        );
        assert_eq!(version(&o), "generation:7_metageneration:1");
    }
}
