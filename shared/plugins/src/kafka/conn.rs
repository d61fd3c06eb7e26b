//! What every Kafka type shares (plugin-kafka `AbstractKafkaConnection`,
//! `KafkaConnectionInterface`): `properties`, the Kafka client's
//! configuration (`bootstrap.servers` required), and `serdeProperties`.
//!
//! Kestra hands `properties` to the Java client; Baton hands them to
//! librdkafka, which knows most of the Java client's names
//! (`bootstrap.servers`, `security.protocol`, `sasl.mechanism`,
//! `auto.offset.reset`, `acks`, `compression.type`, …). Those it does not
//! know are translated here, or refused by name:
//!
//! - `sasl.jaas.config` (PLAIN or SCRAM login module): its `username` and
//!   `password` become `sasl.username`/`sasl.password`;
//! - `ssl.truststore.location` / `ssl.keystore.location`: Kestra takes
//!   them as base64 of the file; a PEM trust store becomes
//!   `ssl.ca.location`, a PKCS#12 key store `ssl.keystore.location` (a
//!   JKS store, which librdkafka cannot read, is refused: convert it to
//!   PEM or PKCS#12); the files are written for the client's creation
//!   only (librdkafka reads them then) and removed;
//! - `ssl.endpoint.identification.algorithm: ""` (the Java way to turn the
//!   check off) becomes `none`; `auto.offset.reset: none` becomes `error`;
//!   the Java assignors' class names become librdkafka's names;
//! - `max.poll.records` is read by Baton (how many records one poll takes);
//! - `key.serializer` and the like are refused: `keySerializer` and
//!   `valueDeserializer` choose them.
//!
//! Any other name goes to librdkafka as written; one it does not know is a
//! validation error naming it.

use std::path::PathBuf;

use base64::Engine as _;
use rdkafka::ClientConfig;
use rdkafka::config::FromClientConfig;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{Declare, TaskError, de};

/// The connection properties, `#[serde(flatten)]`ed into each Kafka type's.
#[derive(Debug, Default, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
pub struct KafkaProps {
    /// The Kafka client's configuration: bootstrap.servers and any producer or consumer setting (ssl.truststore.location and ssl.keystore.location as base64 of the file).
    #[prop(kind = "Map", required, check = properties_ok)]
    pub properties: Option<Map<String, Value>>,
    /// The serializers' settings (schema.registry.url…); used by the AVRO serdes, which Baton does not have.
    #[prop(kind = "Map", default = "{}")]
    pub serde_properties: Option<Map<String, Value>>,
}

/// A client configuration, read and checked. Its `Debug` names every
/// property but shows no secret's value and no file's content.
#[derive(Clone)]
pub struct Config {
    /// What librdkafka is given (secrets included: never logged).
    pub entries: Vec<(String, String)>,
    /// Files to write for the client's creation: (librdkafka property, content).
    pub files: Vec<(String, Vec<u8>)>,
    /// `max.poll.records`.
    pub max_poll_records: Option<usize>,
    /// `bootstrap.servers`, for errors.
    pub servers: String,
}

/// Whether a librdkafka property holds a secret (`sasl.password`,
/// `ssl.key.password`, `sasl.oauthbearer.client.secret`, `ssl.key.pem`…).
fn secret_property(name: &str) -> bool {
    ["password", "secret", "jaas", "key", "token"].iter().any(|w| name.contains(w))
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries: Vec<(&str, &str)> = self
            .entries
            .iter()
            .map(|(k, v)| (k.as_str(), if secret_property(k) { "<redacted>" } else { v.as_str() }))
            .collect();
        let files: Vec<String> = self.files.iter().map(|(k, c)| format!("{k}: {} bytes", c.len())).collect();
        f.debug_struct("Config")
            .field("entries", &entries)
            .field("files", &files)
            .field("max_poll_records", &self.max_poll_records)
            .field("servers", &self.servers)
            .finish()
    }
}

impl KafkaProps {
    /// Reads and checks the configuration (librdkafka checks every name).
    pub fn config(&self) -> Result<Config, TaskError> {
        let props = self.properties.as_ref().ok_or_else(|| TaskError::property("properties", "is required"))?;
        let mut c = Config { entries: Vec::new(), files: Vec::new(), max_poll_records: None, servers: String::new() };
        let text: Vec<(String, String)> =
            props.iter().map(|(k, v)| (k.trim().to_string(), de::value_to_string(v))).collect();
        for (k, v) in &text {
            translate(k, v, &text, &mut c)?;
        }
        c.servers = lookup(&text, "bootstrap.servers").map(str::trim).unwrap_or_default().to_string();
        if c.servers.is_empty() {
            return Err(TaskError::property(
                "properties",
                "'bootstrap.servers' is required (host:port, comma-separated)",
            ));
        }
        if let Some(m) = &self.serde_properties
            && let Some(k) = m.keys().find(|k| k.starts_with("json."))
        {
            return Err(TaskError::property(
                "serdeProperties",
                format!("'{k}': Baton's JSON serdes read and write any JSON value and take no setting"),
            ));
        }
        // librdkafka names what it does not know
        c.client_config().create_native_config().map_err(|e| TaskError::property("properties", librdkafka_says(&e)))?;
        Ok(c)
    }
}

/// The client properties as written, read as a run will read them: a
/// templated value is left out (read when rendered), but for
/// `bootstrap.servers`, which stands for one.
pub fn as_written(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter_map(|(k, v)| match (v.as_str().is_some_and(baton_model::expr::is_template), k.as_str()) {
            (false, _) => Some((k.clone(), v.clone())),
            (true, "bootstrap.servers") => Some((k.clone(), Value::String("templated:9092".into()))),
            (true, _) => None,
        })
        .collect()
}

/// The written `properties` checked at validation (see [`as_written`]).
pub fn properties_ok(v: &Value) -> Result<(), String> {
    let m = match v {
        Value::Object(m) => m,
        Value::String(s) if baton_model::expr::is_template(s) => return Ok(()),
        other => return Err(format!("expected a map of client properties, found {other}")),
    };
    let props = KafkaProps { properties: Some(as_written(m)), serde_properties: None };
    props.config().map(|_| ()).map_err(super::message)
}

fn librdkafka_says(e: &rdkafka::error::KafkaError) -> String {
    match e {
        rdkafka::error::KafkaError::ClientConfig(_, desc, key, value) => {
            let _ = value;
            format!("'{key}': {desc}")
        }
        other => other.to_string(),
    }
}

fn lookup<'a>(all: &'a [(String, String)], k: &str) -> Option<&'a str> {
    all.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// One Java client property (of `all`) into librdkafka's.
fn translate(k: &str, v: &str, all: &[(String, String)], c: &mut Config) -> Result<(), TaskError> {
    let get = |name: &str| lookup(all, name);
    let err = |m: String| TaskError::property("properties", format!("'{k}': {m}"));
    let mut put = |name: &str, value: &str| c.entries.push((name.to_string(), value.to_string()));
    match k {
        "sasl.jaas.config" => {
            if v.contains("OAuthBearerLoginModule") {
                return Err(err("OAUTHBEARER is set with sasl.oauthbearer.* properties in librdkafka".into()));
            }
            let field = |name: &str| {
                let at = v.find(&format!("{name}=\""))? + name.len() + 2;
                v[at..].find('"').map(|end| v[at..at + end].to_string())
            };
            match (field("username"), field("password")) {
                (Some(u), Some(p)) => {
                    put("sasl.username", &u);
                    put("sasl.password", &p);
                }
                _ => {
                    return Err(err(
                        "must hold username=\"…\" and password=\"…\" (a PLAIN or SCRAM login module)".into()
                    ));
                }
            }
        }
        "ssl.truststore.location" => {
            let bytes = base64_file(v).map_err(err)?;
            if !is_pem(&bytes) {
                return Err(err(
                    "holds a JKS or PKCS#12 trust store, which Baton's Kafka client (librdkafka) cannot read: give the CA certificate as PEM (base64 of the PEM file here, or ssl.ca.pem)".into(),
                ));
            }
            c.files.push(("ssl.ca.location".into(), bytes));
        }
        "ssl.keystore.location" => {
            let bytes = base64_file(v).map_err(err)?;
            if is_pem(&bytes) {
                c.files.push(("ssl.certificate.location".into(), bytes.clone()));
                c.files.push(("ssl.key.location".into(), bytes));
            } else if bytes.starts_with(&[0xFE, 0xED, 0xFE, 0xED]) {
                return Err(err(
                    "holds a JKS key store, which librdkafka cannot read: convert it to PKCS#12 or PEM".into()
                ));
            } else {
                c.files.push(("ssl.keystore.location".into(), bytes));
            }
        }
        // what the store files' type is, read from their content above
        "ssl.truststore.type" | "ssl.keystore.type" => match v.trim().to_ascii_uppercase().as_str() {
            "PEM" | "PKCS12" | "JKS" => {}
            other => return Err(err(format!("unknown store type '{other}' (PEM, PKCS12 or JKS)"))),
        },
        // a PEM trust store needs no password; librdkafka's key store one is ssl.keystore.password
        "ssl.truststore.password" => {}
        // the private key's password: librdkafka's for a PEM key, the PKCS#12 store's otherwise
        "ssl.key.password"
            if get("ssl.keystore.location").is_some_and(|s| base64_file(s).is_ok_and(|b| is_pem(&b))) =>
        {
            put("ssl.key.password", v)
        }
        "ssl.key.password" if get("ssl.keystore.password").is_none() => put("ssl.keystore.password", v),
        "ssl.key.password" => {}
        "ssl.endpoint.identification.algorithm" => put(k, if v.trim().is_empty() { "none" } else { v }),
        "auto.offset.reset" => put(k, if v.trim() == "none" { "error" } else { v }),
        "partition.assignment.strategy" => {
            let names: Vec<&str> = v
                .split(',')
                .map(|s| match s.trim().rsplit('.').next().unwrap_or_default() {
                    "RangeAssignor" => "range",
                    "RoundRobinAssignor" => "roundrobin",
                    "CooperativeStickyAssignor" => "cooperative-sticky",
                    other => other,
                })
                .collect();
            put(k, &names.join(","));
        }
        "max.poll.records" => {
            let n: usize = v.trim().parse().map_err(|_| err(format!("'{v}' is not a whole number")))?;
            if n == 0 {
                return Err(err("must be at least 1".into()));
            }
            c.max_poll_records = Some(n);
        }
        "key.serializer" | "value.serializer" | "key.deserializer" | "value.deserializer" => {
            return Err(err("the serdes are chosen by keySerializer/valueSerializer (Produce) or keyDeserializer/valueDeserializer (Consume)".into()));
        }
        _ => put(k, v),
    }
    Ok(())
}

fn base64_file(v: &str) -> Result<Vec<u8>, String> {
    let compact: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| format!("must be the file's content in base64, as Kestra takes it ({e})"))
}

fn is_pem(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).contains("-----BEGIN")
}

impl Config {
    /// librdkafka's configuration, without the files.
    fn client_config(&self) -> ClientConfig {
        let mut cc = ClientConfig::new();
        for (k, v) in &self.entries {
            cc.set(k, v);
        }
        for (k, _) in &self.files {
            cc.set(k, "/dev/null");
        }
        cc
    }

    /// Creates a client with `more` set (the files written for its
    /// creation only); an error names the servers.
    pub fn create<C: FromClientConfig>(&self, more: &[(&str, &str)]) -> Result<C, TaskError> {
        let mut cc = self.client_config();
        for (k, v) in more {
            cc.set(*k, *v);
        }
        let dir = KeyFiles::write(&self.files)?;
        for (k, path) in &dir.paths {
            cc.set(k, path.to_string_lossy());
        }
        let made = C::from_config(&cc);
        drop(dir);
        made.map_err(|e| TaskError::failed(format!("cannot create a Kafka client for {}: {e}", self.servers)))
    }
}

/// The key and certificate files of one client's creation, removed when dropped.
struct KeyFiles {
    dir: Option<PathBuf>,
    paths: Vec<(String, PathBuf)>,
}

impl KeyFiles {
    fn write(files: &[(String, Vec<u8>)]) -> Result<KeyFiles, TaskError> {
        if files.is_empty() {
            return Ok(KeyFiles { dir: None, paths: Vec::new() });
        }
        let dir = std::env::temp_dir().join(format!("baton-kafka-{}", uuid::Uuid::new_v4().simple()));
        let fail = |e: std::io::Error| TaskError::failed(format!("cannot write the Kafka client's key files: {e}"));
        let mut out = KeyFiles { dir: Some(dir.clone()), paths: Vec::new() };
        std::fs::create_dir_all(&dir).map_err(fail)?;
        for (i, (k, bytes)) in files.iter().enumerate() {
            let path = dir.join(format!("{i}"));
            write_private(&path, bytes).map_err(fail)?;
            out.paths.push((k.clone(), path));
        }
        Ok(out)
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?.write_all(bytes)
}

impl Drop for KeyFiles {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(v: Value) -> Result<Config, TaskError> {
        crate::parse_props::<KafkaProps>(v.as_object().unwrap()).unwrap().config()
    }

    fn get<'a>(c: &'a Config, k: &str) -> Option<&'a str> {
        c.entries.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn java_properties_are_translated_or_refused_by_name() {
        let c = config(json!({"properties": {"bootstrap.servers": "h:9092", "auto.offset.reset": "earliest", "max.poll.records": 10,
            "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\";",
            "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "ssl.endpoint.identification.algorithm": ""}}))
        .unwrap();
        assert_eq!((get(&c, "sasl.username"), get(&c, "sasl.password")), (Some("u"), Some("p")));
        let shown = format!("{c:?}");
        assert!(shown.contains("sasl.username") && shown.contains("\"u\"") && !shown.contains("\"p\""), "{shown}");
        assert_eq!(get(&c, "ssl.endpoint.identification.algorithm"), Some("none"));
        assert_eq!(c.max_poll_records, Some(10));
        assert!(get(&c, "sasl.jaas.config").is_none());
        let err = |v: Value| config(v).unwrap_err().to_string();
        assert!(err(json!({"properties": {}})).contains("bootstrap.servers"));
        assert!(
            err(json!({"properties": {"bootstrap.servers": "h", "no.such.thing": "1"}})).contains("'no.such.thing'")
        );
        assert!(
            err(json!({"properties": {"bootstrap.servers": "h", "value.deserializer": "x"}}))
                .contains("valueDeserializer")
        );
        let jks = base64::engine::general_purpose::STANDARD.encode([0xFE, 0xED, 0xFE, 0xED, 0, 0]);
        assert!(err(json!({"properties": {"bootstrap.servers": "h", "ssl.truststore.location": jks}})).contains("PEM"));
        let pem = base64::engine::general_purpose::STANDARD
            .encode("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
        let c = config(json!({"properties": {"bootstrap.servers": "h", "ssl.truststore.location": pem}})).unwrap();
        assert_eq!(c.files[0].0, "ssl.ca.location");
        assert!(
            err(json!({"properties": {"bootstrap.servers": "h"}, "serdeProperties": {"json.value.type": "x"}}))
                .contains("'json.value.type'")
        );
    }
}
