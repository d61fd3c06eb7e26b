//! Cloudflare DNS records (`io.kestra.plugin.cloudflare.dns.records.*`):
//! `Create` (`POST /zones/{zone}/dns_records`), `Get`, `List` (every page),
//! `Update` (`PATCH`, only the fields set), `Delete`, `Upsert` (looks the
//! record up by name and type, then `PATCH`es the first match or creates
//! it; `action` says which) and `Batch` (`POST …/dns_records/batch` with
//! `posts`, `patches` and `deletes`, the empty ones left out).
//!
//! A record is output as Kestra outputs it: `recordId` (or `id` in a
//! list), `name`, `type`, `content`, `ttl`, `proxied`. Kestra's `Create`
//! reads the answer's type from a field Cloudflare does not send and
//! outputs `type: null`; Baton outputs the record's type. A `Batch` item
//! holds only the keys Kestra's records carry; another key is an error
//! naming it, not dropped.

use std::sync::LazyLock;

use async_trait::async_trait;
use baton_model::decl::DeclaredProps;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Api, api, pick, required, result};
use crate::registry::{PluginDef, PropDecl};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The fields of a record as a task outputs them (`id` becomes `recordId`
/// outside a list).
const RECORD_FIELDS: [&str; 6] = ["id", "name", "type", "content", "ttl", "proxied"];

/// The zone every record task works in.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct ZoneProps {
    /// The zone's ID.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    zone_id: String,
}

/// The record `Get`, `Update` and `Delete` work on.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct RecordIdProps {
    /// The record's ID.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    record_id: String,
}

/// A whole record, as `Create` and `Upsert` send it.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct RecordProps {
    /// The record's type (A, AAAA, CNAME, TXT…).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    record_type: String,
    /// The record's name (app.example.com).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    name: String,
    /// The record's content (an address, a host name, a text).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    content: String,
    /// Time to live in seconds; 1 is automatic.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, kind = "Integer", default = "1")]
    ttl: Option<u64>,
    /// Whether Cloudflare proxies the traffic.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    proxied: Option<bool>,
}

impl RecordProps {
    fn body(self) -> Result<Value, TaskError> {
        Ok(json!({
            "type": required("recordType", self.record_type)?,
            "name": required("name", self.name)?,
            "content": required("content", self.content)?,
            "ttl": self.ttl.unwrap_or(1),
            "proxied": self.proxied.unwrap_or(false),
        }))
    }
}

/// The fields `Update` changes, each only when set.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct ChangeProps {
    /// The record's new type.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    record_type: Option<String>,
    /// The record's new name.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    name: Option<String>,
    /// The record's new content.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    content: Option<String>,
    /// The record's new time to live (1 is automatic).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, kind = "Integer")]
    ttl: Option<u64>,
    /// Whether Cloudflare proxies the traffic from now on.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic)]
    proxied: Option<bool>,
}

/// What `Batch` sends.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct BatchProps {
    /// Records to create: [{type, name, content, ttl, proxied}] (a list, or a string holding one as JSON).
    #[serde(default)]
    #[prop(dynamic, kind = "List")]
    posts: Option<Value>,
    /// Records to change: [{id, type, name, content, ttl, proxied}].
    #[serde(default)]
    #[prop(dynamic, kind = "List")]
    patches: Option<Value>,
    /// Records to delete: [{id}].
    #[serde(default)]
    #[prop(dynamic, kind = "List")]
    deletes: Option<Value>,
}

/// A record's output: its fields, with `id` as `recordId`.
fn record_output(record: &Map<String, Value>) -> Map<String, Value> {
    let mut out = pick(record, &RECORD_FIELDS);
    if let Some(id) = out.remove("id") {
        out.insert("recordId".into(), id);
    }
    out
}

/// What a task does.
#[derive(Debug)]
enum Op {
    Create(Value),
    Get(String),
    List,
    Update(String, Map<String, Value>),
    Delete(String),
    Upsert(Value),
    Batch(Map<String, Value>),
}

/// A checked record task.
#[derive(Debug)]
struct RecordTask {
    api: Api,
    zone: String,
    op: Op,
}

#[async_trait]
impl RunnableTask for RecordTask {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let (api, zone) = (&self.api, self.zone.as_str());
        let records = api.url(&["zones", zone, "dns_records"], &[]);
        let out = match &self.op {
            Op::Create(body) => {
                cx.info(&format!("Creating DNS record '{}' of type '{}' in zone '{zone}'", body["name"], body["type"]));
                let r = result("the record's creation", &api.call(cx, Method::POST, &records, Some(body)).await?)?;
                cx.info(&format!("DNS record created with ID '{}'", r.get("id").unwrap_or(&Value::Null)));
                record_output(&r)
            }
            Op::Get(id) => {
                cx.info(&format!("Fetching DNS record '{id}' from zone '{zone}'"));
                let url = api.url(&["zones", zone, "dns_records", id], &[]);
                record_output(&result(&format!("the record {id}"), &api.call(cx, Method::GET, &url, None).await?)?)
            }
            Op::List => {
                cx.info(&format!("Listing DNS records for zone '{zone}'"));
                let all = api.list(cx, &["zones", zone, "dns_records"], &[]).await?;
                let list = all.iter().map(|r| Value::Object(pick(r, &RECORD_FIELDS))).collect();
                Map::from_iter([("records".to_string(), Value::Array(list))])
            }
            Op::Update(id, body) => {
                cx.info(&format!("Updating DNS record '{id}' in zone '{zone}'"));
                let url = api.url(&["zones", zone, "dns_records", id], &[]);
                let body = Value::Object(body.clone());
                let r = result(&format!("the record {id}"), &api.call(cx, Method::PATCH, &url, Some(&body)).await?)?;
                pick(&r, &["id"])
            }
            Op::Delete(id) => {
                cx.info(&format!("Deleting DNS record '{id}' from zone '{zone}'"));
                let url = api.url(&["zones", zone, "dns_records", id], &[]);
                let r = result(&format!("the record {id}"), &api.call(cx, Method::DELETE, &url, None).await?)?;
                Map::from_iter([("deletedId".to_string(), r.get("id").cloned().unwrap_or(Value::Null))])
            }
            Op::Upsert(body) => upsert(cx, api, zone, body).await?,
            Op::Batch(body) => {
                cx.info(&format!("Executing batch DNS operation for zone '{zone}'"));
                let url = api.url(&["zones", zone, "dns_records", "batch"], &[]);
                api.call(cx, Method::POST, &url, Some(&Value::Object(body.clone()))).await?;
                cx.info("Batch DNS operation completed successfully");
                Map::from_iter([("success".to_string(), Value::Bool(true))])
            }
        };
        Ok(TaskOutput::with(out))
    }
}

/// Looks the record up by name and type; updates the first match or
/// creates it.
async fn upsert(cx: &RunContext, api: &Api, zone: &str, body: &Value) -> Result<Map<String, Value>, TaskError> {
    let (name, kind) = (body["name"].as_str().unwrap_or_default(), body["type"].as_str().unwrap_or_default());
    let lookup = api.url(&["zones", zone, "dns_records"], &[("name", name), ("type", kind)]);
    let found = api.call(cx, Method::GET, &lookup, None).await?;
    let existing = found.get("result").and_then(Value::as_array).and_then(|a| a.first()).and_then(|r| r.get("id"));
    let (r, action) = match existing.and_then(Value::as_str) {
        Some(id) => {
            cx.info(&format!("Record exists (id={id}), updating..."));
            let url = api.url(&["zones", zone, "dns_records", id], &[]);
            (result(&format!("the record {id}"), &api.call(cx, Method::PATCH, &url, Some(body)).await?)?, "updated")
        }
        None => {
            cx.info("Record does not exist, creating...");
            let url = api.url(&["zones", zone, "dns_records"], &[]);
            (result("the record's creation", &api.call(cx, Method::POST, &url, Some(body)).await?)?, "created")
        }
    };
    let mut out = record_output(&r);
    out.insert("action".into(), Value::String(action.into()));
    Ok(out)
}

/// One list of a `Batch`: a list of maps holding only `allowed` keys
/// (`id` required when `with_id`), from a list or a string holding one.
fn batch_items(name: &str, v: Option<Value>, allowed: &[&str], with_id: bool) -> Result<Vec<Value>, TaskError> {
    let v = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => serde_json::from_str(&s)
            .map_err(|e| TaskError::property(name, format!("expected a list of records, or JSON holding one: {e}")))?,
        Some(other) => other,
    };
    let Value::Array(items) = v else {
        return Err(TaskError::property(name, format!("expected a list of records, found {v}")));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::Object(m) = item else {
                return Err(TaskError::property(&format!("{name}[{i}]"), format!("expected a map, found {item}")));
            };
            if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(TaskError::property(
                    &format!("{name}[{i}]"),
                    format!("'{k}' is not a key Kestra's Batch sends ({})", allowed.join(", ")),
                ));
            }
            if with_id && m.get("id").is_none_or(|id| id.as_str().is_none_or(|s| s.trim().is_empty())) {
                return Err(TaskError::property(&format!("{name}[{i}]"), "id is required"));
            }
            Ok(Value::Object(m))
        })
        .collect()
}

/// The properties of each record task.
pub struct CreateDecl;
/// The properties of `Get` and `Delete`.
pub struct OneDecl;
/// The properties of `Update`.
pub struct UpdateDecl;
/// The properties of `Batch`.
pub struct BatchDecl;
/// The properties of `List`.
pub struct ListDecl;

impl DeclaredProps for CreateDecl {
    fn props() -> Vec<PropDecl> {
        [super::ApiProps::props(), ZoneProps::props(), RecordProps::props()].concat()
    }
}

impl DeclaredProps for OneDecl {
    fn props() -> Vec<PropDecl> {
        [super::ApiProps::props(), ZoneProps::props(), RecordIdProps::props()].concat()
    }
}

impl DeclaredProps for UpdateDecl {
    fn props() -> Vec<PropDecl> {
        [super::ApiProps::props(), ZoneProps::props(), RecordIdProps::props(), ChangeProps::props()].concat()
    }
}

impl DeclaredProps for BatchDecl {
    fn props() -> Vec<PropDecl> {
        [super::ApiProps::props(), ZoneProps::props(), BatchProps::props()].concat()
    }
}

impl DeclaredProps for ListDecl {
    fn props() -> Vec<PropDecl> {
        [super::ApiProps::props(), ZoneProps::props()].concat()
    }
}

/// Which task a declaration builds.
#[derive(Clone, Copy)]
enum Kind {
    Create,
    Get,
    List,
    Update,
    Delete,
    Upsert,
    Batch,
}

fn build(kind: Kind, props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let api = api(props)?;
    let zone = required("zoneId", parse_props::<ZoneProps>(props)?.zone_id)?;
    let record_id =
        || -> Result<String, TaskError> { required("recordId", parse_props::<RecordIdProps>(props)?.record_id) };
    let op = match kind {
        Kind::Create => Op::Create(parse_props::<RecordProps>(props)?.body()?),
        Kind::Upsert => Op::Upsert(parse_props::<RecordProps>(props)?.body()?),
        Kind::Get => Op::Get(record_id()?),
        Kind::Delete => Op::Delete(record_id()?),
        Kind::List => Op::List,
        Kind::Update => {
            let c: ChangeProps = parse_props(props)?;
            let mut body = Map::new();
            let text = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).map(Value::String);
            for (k, v) in [("type", text(c.record_type)), ("name", text(c.name)), ("content", text(c.content))] {
                if let Some(v) = v {
                    body.insert(k.into(), v);
                }
            }
            if let Some(t) = c.ttl {
                body.insert("ttl".into(), json!(t));
            }
            if let Some(p) = c.proxied {
                body.insert("proxied".into(), json!(p));
            }
            Op::Update(record_id()?, body)
        }
        Kind::Batch => {
            let b: BatchProps = parse_props(props)?;
            const FIELDS: [&str; 5] = ["type", "name", "content", "ttl", "proxied"];
            const PATCH: [&str; 6] = ["id", "type", "name", "content", "ttl", "proxied"];
            let mut body = Map::new();
            for (name, items) in [
                ("posts", batch_items("posts", b.posts, &FIELDS, false)?),
                ("patches", batch_items("patches", b.patches, &PATCH, true)?),
                ("deletes", batch_items("deletes", b.deletes, &["id"], true)?),
            ] {
                if !items.is_empty() {
                    body.insert(name.into(), Value::Array(items));
                }
            }
            if body.is_empty() {
                return Err(TaskError::property("posts", "Provide at least one of posts, patches or deletes."));
            }
            Op::Batch(body)
        }
    };
    Ok(Box::new(RecordTask { api, zone, op }))
}

/// Declares one record task type: its doc, type name, properties, example,
/// outputs and [`Kind`].
macro_rules! record_task {
    ($(#[$doc:meta])* $name:ident, $static:ident, $type:literal, $decl:ident, $example:literal, $kind:ident, $($out:tt)*) => {
        $(#[$doc])*
        #[derive(Debug, Declare)]
        #[plugin(type = $type, group = "core", props = $decl, example = $example, outputs($($out)*))]
        struct $name;

        pub static $static: LazyLock<PluginDef> =
            LazyLock::new(|| PluginDef::declare_as::<$name>(|props| build(Kind::$kind, props)));
    };
}

record_task!(
    /// Create a Cloudflare DNS record.
    ///
    /// Creates the record (recordType, name, content, ttl, proxied) in zoneId; outputs it.
    Create, CREATE, "io.kestra.plugin.cloudflare.dns.records.Create", CreateDecl,
    "id: create_dns\ntype: io.kestra.plugin.cloudflare.dns.records.Create\napiToken: \"{{ secret('CLOUDFLARE_API_TOKEN') }}\"\nzoneId: \"{{ secret('CLOUDFLARE_ZONE_ID') }}\"\nrecordType: A\nname: app.example.com\ncontent: 1.2.3.4\n",
    Create,
    recordId(String, "The record's ID."), name(String, "The record's name."), type(String, "The record's type."),
    content(String, "The record's content."), ttl(Integer, "The record's time to live."), proxied(Boolean, "Whether the record is proxied.")
);

record_task!(
    /// Get a Cloudflare DNS record.
    ///
    /// Reads the record recordId of zoneId; outputs it.
    Get, GET, "io.kestra.plugin.cloudflare.dns.records.Get", OneDecl,
    "id: get_dns\ntype: io.kestra.plugin.cloudflare.dns.records.Get\napiToken: \"{{ secret('CLOUDFLARE_API_TOKEN') }}\"\nzoneId: \"{{ secret('CLOUDFLARE_ZONE_ID') }}\"\nrecordId: \"{{ outputs.create_dns.recordId }}\"\n",
    Get,
    recordId(String, "The record's ID."), name(String, "The record's name."), type(String, "The record's type."),
    content(String, "The record's content."), ttl(Integer, "The record's time to live."), proxied(Boolean, "Whether the record is proxied.")
);

record_task!(
    /// List a zone's Cloudflare DNS records.
    ///
    /// Outputs every record of zoneId (id, name, type, content, ttl, proxied), all pages.
    List, LIST, "io.kestra.plugin.cloudflare.dns.records.List", ListDecl,
    "id: list_dns\ntype: io.kestra.plugin.cloudflare.dns.records.List\napiToken: \"{{ secret('CLOUDFLARE_API_TOKEN') }}\"\nzoneId: \"{{ secret('CLOUDFLARE_ZONE_ID') }}\"\n",
    List,
    records(List, "The records: [{id, name, type, content, ttl, proxied}].")
);

record_task!(
    /// Update a Cloudflare DNS record.
    ///
    /// Changes the fields set (recordType, name, content, ttl, proxied) of the record recordId with a PATCH; outputs its id.
    Update, UPDATE, "io.kestra.plugin.cloudflare.dns.records.Update", UpdateDecl,
    "id: update_dns\ntype: io.kestra.plugin.cloudflare.dns.records.Update\napiToken: \"{{ secret('CLOUDFLARE_API_TOKEN') }}\"\nzoneId: \"{{ secret('CLOUDFLARE_ZONE_ID') }}\"\nrecordId: \"{{ outputs.create_dns.recordId }}\"\ncontent: 5.6.7.8\n",
    Update,
    id(String, "The record's ID.")
);

record_task!(
    /// Delete a Cloudflare DNS record.
    ///
    /// Deletes the record recordId of zoneId; outputs its id.
    Delete, DELETE, "io.kestra.plugin.cloudflare.dns.records.Delete", OneDecl,
    "id: delete_dns\ntype: io.kestra.plugin.cloudflare.dns.records.Delete\napiToken: \"{{ secret('CLOUDFLARE_API_TOKEN') }}\"\nzoneId: \"{{ secret('CLOUDFLARE_ZONE_ID') }}\"\nrecordId: \"{{ outputs.create_dns.recordId }}\"\n",
    Delete,
    deletedId(String, "The deleted record's ID.")
);

record_task!(
    /// Create or update a Cloudflare DNS record.
    ///
    /// Looks the record up by name and recordType in zoneId: updates the first match, else creates it; outputs the record and action (created or updated).
    Upsert, UPSERT, "io.kestra.plugin.cloudflare.dns.records.Upsert", CreateDecl,
    "id: ensure_dns\ntype: io.kestra.plugin.cloudflare.dns.records.Upsert\napiToken: \"{{ secret('CLOUDFLARE_API_TOKEN') }}\"\nzoneId: \"{{ secret('CLOUDFLARE_ZONE_ID') }}\"\nrecordType: A\nname: app.example.com\ncontent: 1.2.3.4\n",
    Upsert,
    recordId(String, "The record's ID."), name(String, "The record's name."), type(String, "The record's type."),
    content(String, "The record's content."), ttl(Integer, "The record's time to live."), proxied(Boolean, "Whether the record is proxied."),
    action(String, "created or updated.")
);

record_task!(
    /// Create, change and delete Cloudflare DNS records in one call.
    ///
    /// Sends posts, patches and deletes (at least one; the empty ones left out) to the zone's batch endpoint, which Cloudflare applies in one transaction.
    Batch, BATCH, "io.kestra.plugin.cloudflare.dns.records.Batch", BatchDecl,
    "id: batch_records\ntype: io.kestra.plugin.cloudflare.dns.records.Batch\napiToken: \"{{ secret('CLOUDFLARE_API_TOKEN') }}\"\nzoneId: \"{{ secret('CLOUDFLARE_ZONE_ID') }}\"\nposts:\n  - type: A\n    name: app1.example.com\n    content: 1.2.3.4\n    ttl: 1\n    proxied: false\n",
    Batch,
    success(Boolean, "True once Cloudflare applied the batch.")
);

/// Registers the record tasks.
pub fn register(r: &mut crate::Registry) {
    for def in [*CREATE, *GET, *LIST, *UPDATE, *DELETE, *UPSERT, *BATCH] {
        r.register(def);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn batch_items_are_checked_naming_the_item() {
        let base = json!({"apiToken": "t", "zoneId": "z"});
        let err = build(Kind::Batch, &props(base.clone())).err().unwrap().to_string();
        assert!(err.contains("at least one"), "{err}");
        let mut p = base.clone();
        p["posts"] = json!("[{\"type\": \"A\", \"name\": \"a.example.com\", \"content\": \"1.2.3.4\"}]");
        assert!(build(Kind::Batch, &props(p.clone())).is_ok());
        p["deletes"] = json!([{"name": "x"}]);
        let err = build(Kind::Batch, &props(p.clone())).err().unwrap().to_string();
        assert!(err.contains("deletes[0]") && err.contains("'name'"), "{err}");
        p["deletes"] = json!([{}]);
        assert!(build(Kind::Batch, &props(p)).err().unwrap().to_string().contains("id is required"));
    }

    #[test]
    fn records_need_their_fields() {
        let p = json!({"apiToken": "t", "zoneId": "z", "recordType": "A", "name": " ", "content": "1.2.3.4"});
        assert!(build(Kind::Upsert, &props(p)).err().unwrap().to_string().contains("name"));
        let p = json!({"apiToken": "t", "zoneId": "z"});
        assert!(build(Kind::Get, &props(p.clone())).err().unwrap().to_string().contains("recordId"));
        assert!(build(Kind::List, &props(p)).is_ok());
    }

    #[test]
    fn a_record_outputs_its_id_as_record_id() {
        let r = json!({"id": "r1", "name": "a", "type": "A", "content": "1.2.3.4", "ttl": 1, "proxied": false, "zone_id": "z"});
        let out = record_output(r.as_object().unwrap());
        assert_eq!(
            Value::Object(out),
            json!({"recordId": "r1", "name": "a", "type": "A", "content": "1.2.3.4", "ttl": 1, "proxied": false})
        );
    }
}
