//! The batches' `execution`, `peripherals` and `runtime` properties
//! (Kestra's `AbstractBatch.ExecutionConfiguration`,
//! `PeripheralsConfiguration` and `RuntimeConfiguration`): checked when a
//! flow is validated (their keys), parsed when the task is built, and
//! mapped onto the batch's `environmentConfig` and `runtimeConfig` as
//! Kestra maps them:
//!
//! - `environmentConfig.executionConfig` is always sent (empty without
//!   `execution`): `networkUri`, `subnetworkUri`, `networkTags`,
//!   `serviceAccount` (from `serviceAccountEmail`), `kmsKey`;
//! - `environmentConfig.peripheralsConfig` when `peripherals` is given:
//!   `metastoreService`, `sparkHistoryServerConfig.dataprocCluster`;
//! - `runtimeConfig` when `runtime` is given: `containerImage`, `version`,
//!   `properties` (each key and value rendered once more, as Kestra does).
//!
//! One difference: Kestra's task fails as soon as `networkTags` holds a
//! tag (it sets list items that do not exist yet); Baton sends the tags.

use serde::Deserialize;
use serde_json::{Map, Value, json};

#[cfg(doc)]
use crate::RunContext;
use crate::{TaskError, de};

const EXECUTION_KEYS: &[&str] = &["networkUri", "subnetworkUri", "networkTags", "serviceAccountEmail", "kmsKey"];
const PERIPHERALS_KEYS: &[&str] = &["metastoreService", "sparkHistoryServer"];
const HISTORY_KEYS: &[&str] = &["dataprocCluster"];
const RUNTIME_KEYS: &[&str] = &["containerImage", "version", "properties"];

/// `v`, a map of `known` keys only (a template stands for one).
fn keys_ok(what: &str, v: &Value, known: &[&str]) -> Result<(), String> {
    match v {
        Value::Null => Ok(()),
        Value::String(s) if baton_model::expr::is_template(s) => Ok(()),
        Value::Object(m) => match m.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(format!("unknown property '{k}' of {what} (known: {})", known.join(", "))),
            None => Ok(()),
        },
        other => Err(format!("expected a map {{{}}}, found {other}", known.join(", "))),
    }
}

/// The validator's check of `execution`.
pub fn execution_ok(v: &Value) -> Result<(), String> {
    keys_ok("execution", v, EXECUTION_KEYS)
}

/// The validator's check of `peripherals` (and its `sparkHistoryServer`).
pub fn peripherals_ok(v: &Value) -> Result<(), String> {
    keys_ok("peripherals", v, PERIPHERALS_KEYS)?;
    match v.get("sparkHistoryServer") {
        Some(h) => keys_ok("peripherals.sparkHistoryServer", h, HISTORY_KEYS),
        None => Ok(()),
    }
}

/// The validator's check of `runtime`.
pub fn runtime_ok(v: &Value) -> Result<(), String> {
    keys_ok("runtime", v, RUNTIME_KEYS)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Execution {
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    network_uri: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    subnetwork_uri: Option<String>,
    #[serde(default, deserialize_with = "de::string_or_list")]
    network_tags: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    service_account_email: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    kms_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HistoryServer {
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    dataproc_cluster: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Peripherals {
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    metastore_service: Option<String>,
    #[serde(default)]
    spark_history_server: Option<HistoryServer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Runtime {
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    container_image: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    version: Option<String>,
    #[serde(default, deserialize_with = "de::string_map")]
    properties: Vec<(String, String)>,
}

/// A batch's environment and runtime, as written.
#[derive(Debug, Default)]
pub struct Environment {
    execution: Option<Execution>,
    peripherals: Option<Peripherals>,
    runtime: Option<Runtime>,
}

fn parse<T: for<'de> Deserialize<'de>>(
    name: &str,
    v: Option<Value>,
    check: fn(&Value) -> Result<(), String>,
) -> Result<Option<T>, TaskError> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(None) };
    check(&v).map_err(|e| TaskError::property(name, e))?;
    if !v.is_object() {
        return Err(TaskError::property(name, format!("expected a map, found {v}")));
    }
    serde_json::from_value(v).map(Some).map_err(|e| TaskError::property(name, e.to_string()))
}

impl Environment {
    /// The three properties, rendered: a property error names the one
    /// that does not fit.
    pub fn parse(
        execution: Option<Value>,
        peripherals: Option<Value>,
        runtime: Option<Value>,
    ) -> Result<Environment, TaskError> {
        let peripherals: Option<Peripherals> = parse("peripherals", peripherals, peripherals_ok)?;
        if peripherals
            .as_ref()
            .and_then(|p| p.spark_history_server.as_ref())
            .is_some_and(|h| h.dataproc_cluster.is_none())
        {
            return Err(TaskError::property(
                "peripherals.sparkHistoryServer.dataprocCluster",
                "is required when sparkHistoryServer is given (a cluster: projects/{project}/regions/{region}/clusters/{name})",
            ));
        }
        Ok(Environment {
            execution: parse("execution", execution, execution_ok)?,
            peripherals,
            runtime: parse("runtime", runtime, runtime_ok)?,
        })
    }

    /// Sets `environmentConfig` and `runtimeConfig` on the batch `body`;
    /// `render` renders the runtime properties once more (the task's
    /// [`RunContext::render`]).
    pub fn apply(
        &self,
        render: &dyn Fn(&str) -> Result<String, TaskError>,
        body: &mut Map<String, Value>,
    ) -> Result<(), TaskError> {
        let mut exec = Map::new();
        if let Some(e) = &self.execution {
            put(&mut exec, "networkUri", &e.network_uri);
            put(&mut exec, "subnetworkUri", &e.subnetwork_uri);
            if !e.network_tags.is_empty() {
                exec.insert("networkTags".into(), json!(e.network_tags));
            }
            put(&mut exec, "serviceAccount", &e.service_account_email);
            put(&mut exec, "kmsKey", &e.kms_key);
        }
        let mut env = Map::new();
        env.insert("executionConfig".into(), Value::Object(exec));
        if let Some(p) = &self.peripherals {
            let mut per = Map::new();
            put(&mut per, "metastoreService", &p.metastore_service);
            if let Some(h) = &p.spark_history_server {
                per.insert("sparkHistoryServerConfig".into(), json!({"dataprocCluster": h.dataproc_cluster}));
            }
            env.insert("peripheralsConfig".into(), Value::Object(per));
        }
        body.insert("environmentConfig".into(), Value::Object(env));
        if let Some(r) = &self.runtime {
            let mut rt = Map::new();
            put(&mut rt, "containerImage", &r.container_image);
            put(&mut rt, "version", &r.version);
            if !r.properties.is_empty() {
                let mut props = Map::new();
                for (k, v) in &r.properties {
                    props.insert(render(k)?, Value::String(render(v)?));
                }
                rt.insert("properties".into(), Value::Object(props));
            }
            body.insert("runtimeConfig".into(), Value::Object(rt));
        }
        Ok(())
    }
}

fn put(m: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(key.into(), Value::String(v.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named() {
        let e = execution_ok(&json!({"serviceAccount": "x"})).unwrap_err();
        assert!(e.contains("'serviceAccount'") && e.contains("serviceAccountEmail"), "{e}");
        let e = peripherals_ok(&json!({"sparkHistoryServer": {"cluster": "c"}})).unwrap_err();
        assert!(e.contains("peripherals.sparkHistoryServer"), "{e}");
        assert!(runtime_ok(&json!({"version": "2.2", "properties": {"a": "b"}})).is_ok());
        assert!(runtime_ok(&json!("{{ inputs.runtime }}")).is_ok());
        let e = Environment::parse(None, Some(json!({"sparkHistoryServer": {}})), None).unwrap_err().to_string();
        assert!(e.contains("dataprocCluster"), "{e}");
        let e = Environment::parse(Some(json!(["x"])), None, None).unwrap_err().to_string();
        assert!(e.contains("'execution'"), "{e}");
    }

    #[test]
    fn kestra_s_mapping_of_the_environment() {
        let same = |s: &str| Ok(s.to_string());
        let mut body = Map::new();
        Environment::default().apply(&same, &mut body).unwrap();
        assert_eq!(Value::Object(body), json!({"environmentConfig": {"executionConfig": {}}}));
        let env = Environment::parse(
            Some(json!({"serviceAccountEmail": "sa@p.iam.gserviceaccount.com", "networkTags": ["a", "b"], "kmsKey": "k"})),
            Some(json!({"metastoreService": "m", "sparkHistoryServer": {"dataprocCluster": "c"}})),
            Some(json!({"version": 2.2, "properties": {"spark.executor.instances": 2}})),
        )
        .unwrap();
        let mut body = Map::new();
        env.apply(&same, &mut body).unwrap();
        assert_eq!(
            Value::Object(body),
            json!({
                "environmentConfig": {
                    "executionConfig": {"serviceAccount": "sa@p.iam.gserviceaccount.com", "networkTags": ["a", "b"], "kmsKey": "k"},
                    "peripheralsConfig": {"metastoreService": "m", "sparkHistoryServerConfig": {"dataprocCluster": "c"}}
                },
                "runtimeConfig": {"version": "2.2", "properties": {"spark.executor.instances": "2"}}
            })
        );
    }
}
