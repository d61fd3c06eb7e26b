//! Cloudflare (`io.kestra.plugin.cloudflare.*`, plugin-cloudflare): the
//! v4 API's zone, DNS record and cache calls. This module holds what every
//! task shares — the token, `baseUrl`, the call and Cloudflare's answer
//! envelope — and `cache.Purge` and the two zone tasks; [`records`] holds
//! the DNS record tasks.
//!
//! As Kestra: `Authorization: Bearer {apiToken}` on every call, JSON in
//! and out, `baseUrl` (default `https://api.cloudflare.com/client/v4`) in
//! front of each path; an answer whose envelope is not `success` fails the
//! task with Cloudflare's errors (code and message each). Zone IDs and
//! record IDs are path segments (percent-encoded), never a path of their
//! own; query values are encoded (Kestra pastes them in as written).
//!
//! One difference, on purpose: a list (`zones.List`, `dns.records.List`)
//! is every page Cloudflare has (`result_info.total_pages`), up to
//! [`MAX_ITEMS`] items, an error naming the bound past it; Kestra keeps the
//! first page only (20 zones, 100 records) without saying so. `options`
//! is carried out as core `http.Request`'s (timeouts); with `allowFailed`
//! a failed call still fails the task, as it does in Kestra (the envelope
//! then says `success: false`). Each answer is read up to [`MAX_ANSWER`].

pub mod records;

use std::sync::LazyLock;

use async_trait::async_trait;
use baton_model::decl::DeclaredProps;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::core::http::{self, HttpOptions};
use crate::registry::{PluginDef, PropDecl};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Cloudflare's API, when `baseUrl` is not set.
pub const API: &str = "https://api.cloudflare.com/client/v4";
/// The most bytes of one answer read.
pub const MAX_ANSWER: u64 = 32 * 1024 * 1024;
/// The most items a list task gathers over all pages.
pub const MAX_ITEMS: usize = 50_000;
/// Items asked for per page of a list.
const PER_PAGE: usize = 50;

/// What every Cloudflare task takes.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct ApiProps {
    /// The API token, sent as a Bearer token (use a secret).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    api_token: String,
    /// Cloudflare's API base URL.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, default = "\"https://api.cloudflare.com/client/v4\"")]
    base_url: Option<String>,
    /// The HTTP client's options (connectTimeout, readTimeout…), as core http.Request's.
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<HttpOptions>,
}

/// A checked connection to the API.
#[derive(Debug)]
pub(crate) struct Api {
    token: String,
    base: Url,
    options: HttpOptions,
}

/// Reads the connection properties of a task.
pub(crate) fn api(props: &Map<String, Value>) -> Result<Api, TaskError> {
    let p: ApiProps = parse_props(props)?;
    if p.api_token.trim().is_empty() {
        return Err(TaskError::property("apiToken", "is required"));
    }
    let base = p.base_url.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or(API);
    let base = http::parse_uri("baseUrl", base.trim_end_matches('/'))?;
    if base.cannot_be_a_base() {
        return Err(TaskError::property("baseUrl", format!("'{base}' cannot hold a path")));
    }
    Ok(Api { token: p.api_token.trim().to_string(), base, options: p.options.unwrap_or_default() })
}

/// A required, non-blank string property, trimmed.
pub(crate) fn required(name: &str, v: String) -> Result<String, TaskError> {
    let v = v.trim().to_string();
    if v.is_empty() {
        return Err(TaskError::property(name, "is required"));
    }
    Ok(v)
}

impl Api {
    /// `{baseUrl}/{segments…}?{query}`.
    pub(crate) fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// One call; the envelope of a successful answer (`success: true`).
    pub(crate) async fn call(
        &self,
        cx: &RunContext,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<Map<String, Value>, TaskError> {
        let mut rb = cx
            .services
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            rb = rb.header(reqwest::header::CONTENT_TYPE, "application/json").body(b.to_string());
        }
        let rb = http::with_timeout(rb, None, &self.options)?;
        let (status, bytes) = http::call(rb, &method, "Cloudflare", url, MAX_ANSWER).await?;
        let envelope = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| v.as_object().cloned());
        match envelope {
            Some(e) if status.is_success() && e.get("success") == Some(&Value::Bool(true)) => Ok(e),
            Some(e) if e.contains_key("success") => Err(TaskError::failed(format!(
                "Cloudflare refused {method} {} ({}): {}",
                url.path(),
                status.as_u16(),
                errors(&e)
            ))),
            _ if !status.is_success() => Err(http::status_error(status, &bytes, &method, url)),
            _ => Err(TaskError::failed(format!(
                "Cloudflare's answer to {method} {} is not its JSON envelope",
                url.path()
            ))),
        }
    }

    /// Every item of a list, page after page, at most [`MAX_ITEMS`].
    pub(crate) async fn list(
        &self,
        cx: &RunContext,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Vec<Map<String, Value>>, TaskError> {
        let per_page = PER_PAGE.to_string();
        let mut items = Vec::new();
        let mut page = 1usize;
        loop {
            let n = page.to_string();
            let mut q = query.to_vec();
            q.extend([("page", n.as_str()), ("per_page", per_page.as_str())]);
            let url = self.url(segments, &q);
            let envelope = self.call(cx, Method::GET, &url, None).await?;
            let got = match envelope.get("result") {
                Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_object().cloned()).collect::<Vec<_>>(),
                _ => Vec::new(),
            };
            let empty = got.is_empty();
            items.extend(got);
            if items.len() > MAX_ITEMS {
                return Err(TaskError::failed(format!(
                    "{} holds over {MAX_ITEMS} items, the most a Cloudflare list task reads",
                    url.path()
                )));
            }
            let pages = envelope.get("result_info").and_then(|i| i.get("total_pages")).and_then(Value::as_u64);
            if empty || pages.is_none_or(|p| page as u64 >= p) {
                return Ok(items);
            }
            page += 1;
        }
    }
}

/// Cloudflare's `errors` (and `messages`) of a refused call, one
/// `[code] message` each.
fn errors(envelope: &Map<String, Value>) -> String {
    let said: Vec<String> = ["errors", "messages"]
        .iter()
        .filter_map(|k| envelope.get(*k).and_then(Value::as_array))
        .flatten()
        .map(|e| match (e.get("code"), e.get("message").and_then(Value::as_str)) {
            (Some(c), Some(m)) => format!("[{c}] {m}"),
            (None, Some(m)) => m.to_string(),
            _ => e.to_string(),
        })
        .collect();
    if said.is_empty() { "no error given".to_string() } else { said.join("; ") }
}

/// The `result` object of an envelope.
pub(crate) fn result(what: &str, envelope: &Map<String, Value>) -> Result<Map<String, Value>, TaskError> {
    match envelope.get("result") {
        Some(Value::Object(r)) => Ok(r.clone()),
        _ => Err(TaskError::failed(format!("Cloudflare's answer to {what} holds no result"))),
    }
}

/// `keys` of `from`, those it has.
pub(crate) fn pick(from: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    keys.iter().filter_map(|k| from.get(*k).map(|v| (k.to_string(), v.clone()))).collect()
}

/// What `cache.Purge` takes besides the connection.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct PurgeProps {
    /// The zone whose cache is purged.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    zone_id: String,
    /// Purge everything the zone has cached.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    purge_all: Option<bool>,
    /// The URLs to purge (when purgeAll is not true).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, kind = "List")]
    files: Vec<String>,
    /// The cache tags to purge (when neither purgeAll nor files is set).
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, kind = "List")]
    tags: Vec<String>,
}

/// Purge a zone's Cloudflare cache.
///
/// Purges the whole cache (purgeAll: true), else the URLs in files, else the cache tags in tags; outputs the purge request's ID.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.cloudflare.cache.Purge",
    group = "core",
    props = PurgeDecl,
    example = "id: purge_all\ntype: io.kestra.plugin.cloudflare.cache.Purge\napiToken: \"{{ secret('CLOUDFLARE_API_TOKEN') }}\"\nzoneId: \"{{ secret('CLOUDFLARE_ZONE_ID') }}\"\npurgeAll: true\n",
    outputs(requestId(String, "The purge request's ID."))
)]
struct Purge {
    api: Api,
    zone: String,
    body: Value,
    said: String,
}

/// The properties of `cache.Purge`.
pub struct PurgeDecl;

impl DeclaredProps for PurgeDecl {
    fn props() -> Vec<PropDecl> {
        [ApiProps::props(), PurgeProps::props()].concat()
    }
}

fn build_purge(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let api = api(props)?;
    let p: PurgeProps = parse_props(props)?;
    let zone = required("zoneId", p.zone_id)?;
    let (body, said) = if p.purge_all == Some(true) {
        (json!({"purge_everything": true}), format!("Purging entire cache for zone '{zone}'"))
    } else if !p.files.is_empty() {
        let said = format!("Purging {} file(s) for zone '{zone}'", p.files.len());
        (json!({"files": p.files}), said)
    } else if !p.tags.is_empty() {
        let said = format!("Purging {} tag(s) for zone '{zone}'", p.tags.len());
        (json!({"tags": p.tags}), said)
    } else {
        return Err(TaskError::property(
            "purgeAll",
            "Invalid purge configuration. Provide either 'purgeAll: true', non-empty 'files', or non-empty 'tags'.",
        ));
    };
    Ok(Box::new(Purge { api, zone, body, said }))
}

#[async_trait]
impl RunnableTask for Purge {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        cx.info(&self.said);
        let url = self.api.url(&["zones", &self.zone, "purge_cache"], &[]);
        let envelope = self.api.call(cx, Method::POST, &url, Some(&self.body)).await?;
        let r = result("the cache purge", &envelope)?;
        Ok(TaskOutput::with(Map::from_iter([("requestId".to_string(), r.get("id").cloned().unwrap_or(Value::Null))])))
    }
}

/// The fields of a zone the zone tasks output.
const ZONE_FIELDS: [&str; 3] = ["id", "name", "status"];

/// List the account's Cloudflare zones.
///
/// Outputs every zone the token can see (id, name, status), all pages.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.cloudflare.zones.List",
    group = "core",
    props = ApiProps,
    example = "id: list_zones\ntype: io.kestra.plugin.cloudflare.zones.List\napiToken: \"{{ secret('CLOUDFLARE_API_TOKEN') }}\"\n",
    outputs(zones(List, "The zones: [{id, name, status}]."))
)]
struct ZoneList {
    api: Api,
}

fn build_zone_list(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(ZoneList { api: api(props)? }))
}

#[async_trait]
impl RunnableTask for ZoneList {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        cx.info("Listing Cloudflare zones");
        let zones = self.api.list(cx, &["zones"], &[]).await?;
        let zones: Vec<Value> = zones.iter().map(|z| Value::Object(pick(z, &ZONE_FIELDS))).collect();
        Ok(TaskOutput::with(Map::from_iter([("zones".to_string(), Value::Array(zones))])))
    }
}

/// What `zones.Get` takes besides the connection.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct ZoneGetProps {
    /// The zone's ID (or set hostname).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    zone_id: Option<String>,
    /// The zone's name, looked up when zoneId is not set.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    hostname: Option<String>,
}

/// The properties of `zones.Get`.
pub struct ZoneGetDecl;

impl DeclaredProps for ZoneGetDecl {
    fn props() -> Vec<PropDecl> {
        [ApiProps::props(), ZoneGetProps::props()].concat()
    }
}

/// Get one Cloudflare zone.
///
/// Reads the zone zoneId, or the zone named hostname; outputs its id, name and status.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.cloudflare.zones.Get",
    group = "core",
    props = ZoneGetDecl,
    example = "id: zone\ntype: io.kestra.plugin.cloudflare.zones.Get\napiToken: \"{{ secret('CLOUDFLARE_API_TOKEN') }}\"\nhostname: example.com\n",
    outputs(
        id(String, "The zone's ID."),
        name(String, "The zone's name."),
        status(String, "The zone's status (active, pending…).")
    )
)]
struct ZoneGet {
    api: Api,
    by: Result<String, String>,
}

fn build_zone_get(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let api = api(props)?;
    let p: ZoneGetProps = parse_props(props)?;
    let set = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let by = match (set(p.zone_id), set(p.hostname)) {
        (Some(id), _) => Ok(id),
        (None, Some(name)) => Err(name),
        (None, None) => return Err(TaskError::property("zoneId", "Either 'zoneId' or 'hostname' must be provided.")),
    };
    Ok(Box::new(ZoneGet { api, by }))
}

#[async_trait]
impl RunnableTask for ZoneGet {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let zone = match &self.by {
            Ok(id) => {
                cx.info(&format!("Fetching zone by ID '{id}'"));
                let envelope = self.api.call(cx, Method::GET, &self.api.url(&["zones", id], &[]), None).await?;
                result(&format!("the zone {id}"), &envelope)?
            }
            Err(name) => {
                cx.info(&format!("Fetching zone by hostname '{name}'"));
                let url = self.api.url(&["zones"], &[("name", name)]);
                let envelope = self.api.call(cx, Method::GET, &url, None).await?;
                let first = envelope.get("result").and_then(Value::as_array).and_then(|a| a.first());
                match first.and_then(Value::as_object) {
                    Some(z) => z.clone(),
                    None => return Err(TaskError::failed(format!("Zone not found for hostname: {name}"))),
                }
            }
        };
        Ok(TaskOutput::with(pick(&zone, &ZONE_FIELDS)))
    }
}

pub static PURGE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<Purge>(build_purge));
pub static ZONE_LIST: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<ZoneList>(build_zone_list));
pub static ZONE_GET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<ZoneGet>(build_zone_get));

/// Registers this family's plugins.
pub fn register(r: &mut crate::Registry) {
    for def in [*PURGE, *ZONE_LIST, *ZONE_GET] {
        r.register(def);
    }
    records::register(r);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_purge_needs_something_to_purge_and_a_token() {
        let base = json!({"apiToken": "t", "zoneId": "z"});
        let err = build_purge(&props(base.clone())).err().unwrap().to_string();
        assert!(err.contains("purgeAll"), "{err}");
        let mut all = base.clone();
        all["purgeAll"] = json!(true);
        assert!(build_purge(&props(all.clone())).is_ok());
        all["apiToken"] = json!(" ");
        assert!(build_purge(&props(all)).err().unwrap().to_string().contains("apiToken"));
        let mut bad = base.clone();
        bad["files"] = json!(["https://example.com/a.js"]);
        bad["baseUrl"] = json!("ftp://example.com");
        assert!(build_purge(&props(bad)).err().unwrap().to_string().contains("baseUrl"));
    }

    #[test]
    fn a_zone_is_named_by_id_or_hostname() {
        assert!(build_zone_get(&props(json!({"apiToken": "t"}))).err().unwrap().to_string().contains("hostname"));
        assert!(build_zone_get(&props(json!({"apiToken": "t", "hostname": "example.com"}))).is_ok());
    }

    #[test]
    fn urls_encode_ids_and_queries() {
        let a = api(&props(json!({"apiToken": "t", "baseUrl": "http://127.0.0.1:9/client/v4/"}))).unwrap();
        let url = a.url(&["zones", "a/b", "dns_records"], &[("name", "x y&z")]);
        assert_eq!(url.as_str(), "http://127.0.0.1:9/client/v4/zones/a%2Fb/dns_records?name=x+y%26z");
    }

    #[test]
    fn refusals_carry_cloudflare_s_errors() {
        let e = json!({"success": false, "errors": [{"code": 9109, "message": "Invalid access token"}]});
        assert_eq!(errors(e.as_object().unwrap()), "[9109] Invalid access token");
    }
}
