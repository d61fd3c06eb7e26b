//! ServiceNow (`io.kestra.plugin.servicenow.*`, plugin-servicenow): the
//! Table API's four calls — `Get` (`GET /api/now/table/{table}` with
//! `sysparm_query`, `sysparm_limit`, `sysparm_offset`, `sysparm_fields`),
//! `Post` (`POST` a record), `Update` (`PUT /…/{sysId}`) and `Delete`
//! (`DELETE /…/{sysId}`; `deleted` when ServiceNow answers 204).
//!
//! As Kestra: the instance is `https://{domain}.service-now.com/`; calls
//! use Basic auth with `username`/`password`, or, with `clientId` and
//! `clientSecret`, a Bearer token from the OAuth password grant
//! (`POST oauth_token.do`, form-encoded), fetched once per task run; a
//! non-2xx answer fails the task with its status and body. `Get`'s
//! `fetchType` is FETCH by default (`results`, `size`, `offset`),
//! FETCH_ONE keeps the first record in `results`, STORE writes the records
//! as an Ion file (`uri`), and NONE returns the records as FETCH does
//! (Kestra's `default` branch). `headers` go with every call, as Kestra
//! documents them (its code sends them only to the token endpoint).
//!
//! `BATON_SERVICENOW_BASE_URL` replaces `https://{domain}.service-now.com`
//! for proxies and local tests. Table names and sys_ids are path segments
//! (percent-encoded, never a path of their own). `options` is carried out
//! as core `http.Request`'s (timeouts; `allowFailed` refused: a failed call
//! always fails the task). Each answer is read up to [`MAX_ANSWER`].

use std::sync::LazyLock;

use async_trait::async_trait;
use baton_model::decl::DeclaredProps;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::core::http::{self, HttpOptions};
use crate::jdbc::fetch::{FetchType, fetch_type_ok, write_ion_line};
use crate::registry::{PluginDef, PropDecl};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most bytes of one answer read.
pub const MAX_ANSWER: u64 = 64 * 1024 * 1024;

/// How to reach the instance: what every ServiceNow task takes.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct ConnProps {
    /// The instance's subdomain: https://{domain}.service-now.com/ (no protocol).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    domain: String,
    /// The user (Basic auth, or the OAuth password grant with clientId).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    username: String,
    /// The user's password (use a secret).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    password: String,
    /// An OAuth client: with clientSecret, calls carry a Bearer token from the password grant.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    client_id: Option<String>,
    /// The OAuth client's secret.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    client_secret: Option<String>,
    /// Headers sent with every call.
    #[serde(default)]
    #[prop(dynamic, kind = "Map")]
    headers: Option<Map<String, Value>>,
    /// The HTTP client's options (connectTimeout, readTimeout…), as core http.Request's.
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<HttpOptions>,
}

/// A request's body.
enum Body<'a> {
    Json(String),
    Form(&'a [(&'a str, &'a str)]),
}

/// A checked connection.
#[derive(Debug)]
struct Instance {
    domain: String,
    username: String,
    password: String,
    client: Option<(String, String)>,
    headers: Vec<(String, String)>,
    options: HttpOptions,
}

fn set(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl ConnProps {
    fn check(self) -> Result<Instance, TaskError> {
        let domain = self.domain.trim().to_string();
        if domain.is_empty() || domain.contains("://") || domain.contains('/') {
            return Err(TaskError::property(
                "domain",
                "the instance's subdomain, as in https://{domain}.service-now.com",
            ));
        }
        let client = match (set(self.client_id), set(self.client_secret)) {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            (Some(_), None) => return Err(TaskError::property("clientSecret", "is required with clientId")),
            (None, Some(_)) => return Err(TaskError::property("clientId", "is required with clientSecret")),
        };
        let headers = self
            .headers
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect();
        let options = self.options.unwrap_or_default();
        if options.allow_failed == Some(true) {
            return Err(TaskError::property("options", "allowFailed: a failed ServiceNow call always fails the task"));
        }
        Ok(Instance { domain, username: self.username, password: self.password, client, headers, options })
    }
}

impl Instance {
    /// `/{segments…}` on the instance.
    fn url(&self, cx: &RunContext, segments: &[&str]) -> Result<Url, TaskError> {
        let default = format!("https://{}.service-now.com", self.domain);
        let mut url =
            http::api_url("BATON_SERVICENOW_BASE_URL", cx.services.config.servicenow_url.as_deref(), &default, "/")?;
        url.path_segments_mut()
            .map_err(|_| TaskError::failed("BATON_SERVICENOW_BASE_URL cannot hold a path"))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends a request; the answer's status and bytes (a non-2xx fails).
    async fn send(
        &self,
        cx: &RunContext,
        method: Method,
        url: Url,
        body: Option<Body<'_>>,
        bearer: Option<&str>,
    ) -> Result<(StatusCode, Vec<u8>), TaskError> {
        let mut rb =
            cx.services.http.request(method.clone(), url.clone()).header(reqwest::header::ACCEPT, "application/json");
        for (k, v) in &self.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        rb = match body {
            Some(Body::Json(b)) => rb.header(reqwest::header::CONTENT_TYPE, "application/json").body(b),
            Some(Body::Form(pairs)) => rb.form(pairs),
            None => rb,
        };
        rb = match bearer {
            Some(t) => rb.bearer_auth(t),
            None => rb.basic_auth(&self.username, Some(&self.password)),
        };
        let rb = http::with_timeout(rb, None, &self.options)?;
        let (status, bytes) = http::call(rb, &method, "ServiceNow", &url, MAX_ANSWER).await?;
        if !status.is_success() {
            return Err(http::status_error(status, &bytes, &method, &url));
        }
        Ok((status, bytes))
    }

    /// The Bearer token of the OAuth password grant, when a client is set.
    async fn token(&self, cx: &RunContext) -> Result<Option<String>, TaskError> {
        let Some((id, secret)) = &self.client else { return Ok(None) };
        let url = self.url(cx, &["oauth_token.do"])?;
        let form = [
            ("grant_type", "password"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("username", self.username.as_str()),
            ("password", self.password.as_str()),
        ];
        let (_, bytes) = self
            .send(cx, Method::POST, url, Some(Body::Form(&form)), None)
            .await
            .map_err(|e| TaskError::failed(format!("ServiceNow's token request failed: {e}")))?;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match answer["access_token"].as_str() {
            Some(t) => Ok(Some(t.to_string())),
            None => Err(TaskError::property("clientId", format!("Invalid token request with response {answer}"))),
        }
    }

    /// One call with its JSON answer (`Null` for an empty one).
    async fn call(
        &self,
        cx: &RunContext,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), TaskError> {
        let token = self.token(cx).await?;
        let body = body.map(|b| Body::Json(b.to_string()));
        let what = format!("{method} {}", url.path());
        let (status, bytes) = self.send(cx, method, url, body, token.as_deref()).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok((status, Value::Null));
        }
        let v = serde_json::from_slice(&bytes)
            .map_err(|e| TaskError::failed(format!("ServiceNow's answer to {what} is not JSON: {e}")))?;
        Ok((status, v))
    }
}

/// `table` and, for the calls on one record, `sysId`.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct TableProps {
    /// The table's API name (incident, cmdb_ci_server…).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    table: String,
}

fn table(p: TableProps) -> Result<String, TaskError> {
    let t = p.table.trim().to_string();
    if t.is_empty() {
        return Err(TaskError::property("table", "is required"));
    }
    Ok(t)
}

/// `Get`'s own properties.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct GetProps {
    /// FETCH (default): results; FETCH_ONE: the first record only; STORE: an Ion file; NONE reads as FETCH, as in Kestra.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["FETCH", "FETCH_ONE", "STORE", "NONE"], default = "\"FETCH\"", check = fetch_type_ok)]
    fetch_type: Option<String>,
    /// An encoded query (sysparm_query), e.g. active=true^priority=1.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    query: Option<String>,
    /// The most records returned (sysparm_limit; ServiceNow's own default without it).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic)]
    limit: Option<u64>,
    /// The first record's index (sysparm_offset).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic)]
    offset: Option<u64>,
    /// The fields returned (sysparm_fields); all when absent.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, kind = "List")]
    fields: Vec<String>,
}

/// Fetch records from a ServiceNow table.
///
/// Reads the table's records (query, fields, limit, offset) with Basic auth or the OAuth password grant; fetchType FETCH (default) returns them as results, FETCH_ONE only the first, STORE writes them to an Ion file.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.servicenow.Get",
    group = "core",
    props = GetDecl,
    example = "id: get\ntype: io.kestra.plugin.servicenow.Get\ndomain: \"{{ secret('SNOW_DOMAIN') }}\"\nusername: \"{{ secret('SNOW_USERNAME') }}\"\npassword: \"{{ secret('SNOW_PASSWORD') }}\"\ntable: incident\nquery: active=true^priority=1\nfields:\n  - number\n  - short_description\nlimit: 100\n",
    outputs(
        results(List, "The records as ServiceNow returned them (not with STORE)."),
        size(Integer, "How many records were returned or stored."),
        offset(Integer, "The sysparm_offset sent, if any: add size for the next page."),
        uri(String, "The records as an Ion file (fetchType STORE).")
    )
)]
struct Get {
    instance: Instance,
    table: String,
    fetch: FetchType,
    query: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
    fields: Vec<String>,
}

fn build_get(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: GetProps = parse_props(props)?;
    let fetch = match set(p.fetch_type) {
        None => FetchType::Fetch,
        Some(s) => FetchType::parse(&s).map_err(|m| TaskError::property("fetchType", m))?,
    };
    Ok(Box::new(Get {
        instance: parse_props::<ConnProps>(props)?.check()?,
        table: table(parse_props(props)?)?,
        fetch,
        query: set(p.query),
        limit: p.limit,
        offset: p.offset,
        fields: p.fields.into_iter().map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect(),
    }))
}

#[async_trait]
impl RunnableTask for Get {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut url = self.instance.url(cx, &["api", "now", "table", &self.table])?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(query) = &self.query {
                q.append_pair("sysparm_query", query);
            }
            if let Some(l) = self.limit {
                q.append_pair("sysparm_limit", &l.to_string());
            }
            if let Some(o) = self.offset {
                q.append_pair("sysparm_offset", &o.to_string());
            }
            if !self.fields.is_empty() {
                q.append_pair("sysparm_fields", &self.fields.join(","));
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let (_, mut answer) = self.instance.call(cx, Method::GET, url, None).await?;
        let Value::Array(mut results) = answer["result"].take() else {
            return Err(TaskError::failed(format!("ServiceNow's answer holds no result list: {answer}")));
        };
        cx.info(&format!("Get done: {} record(s) from {}", results.len(), self.table));
        let mut out = Map::new();
        if let Some(o) = self.offset {
            out.insert("offset".into(), json!(o));
        }
        match self.fetch {
            FetchType::FetchOne => results.truncate(1),
            FetchType::Store => {
                let mut ion = Vec::new();
                for r in &results {
                    let row = r.as_object().cloned().unwrap_or_default();
                    write_ion_line(&row, &mut ion)?;
                }
                let (uri, _) = cx.put_file("records.ion", Box::pin(std::io::Cursor::new(ion))).await?;
                out.insert("size".into(), json!(results.len()));
                out.insert("uri".into(), Value::String(uri));
                return Ok(TaskOutput::with(out));
            }
            FetchType::Fetch | FetchType::None => {}
        }
        out.insert("size".into(), json!(results.len()));
        out.insert("results".into(), Value::Array(results));
        Ok(TaskOutput::with(out))
    }
}

/// A record's fields.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct DataProps {
    /// The record's fields, sent as the JSON body.
    #[prop(dynamic, required, kind = "Map")]
    data: Map<String, Value>,
}

/// The record a call is about.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct SysIdProps {
    /// The record's sys_id.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    sys_id: String,
}

fn sys_id(p: SysIdProps) -> Result<String, TaskError> {
    let s = p.sys_id.trim().to_string();
    if s.is_empty() {
        return Err(TaskError::property("sysId", "is required"));
    }
    Ok(s)
}

/// Create a record in a ServiceNow table.
///
/// Sends data as a new record of table (Basic auth or the OAuth password grant) and outputs the created record.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.servicenow.Post",
    group = "core",
    props = PostDecl,
    example = "id: create\ntype: io.kestra.plugin.servicenow.Post\ndomain: \"{{ secret('SNOW_DOMAIN') }}\"\nusername: \"{{ secret('SNOW_USERNAME') }}\"\npassword: \"{{ secret('SNOW_PASSWORD') }}\"\ntable: incident\ndata:\n  short_description: API Create Incident...\n",
    outputs(result(Map, "The created record."))
)]
struct Post {
    instance: Instance,
    table: String,
    data: Map<String, Value>,
}

/// Update a ServiceNow record.
///
/// Sends data to the record sysId of table with a PUT (Basic auth or the OAuth password grant) and outputs the updated record.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.servicenow.Update",
    group = "core",
    props = UpdateDecl,
    example = "id: update\ntype: io.kestra.plugin.servicenow.Update\ndomain: \"{{ secret('SNOW_DOMAIN') }}\"\nusername: \"{{ secret('SNOW_USERNAME') }}\"\npassword: \"{{ secret('SNOW_PASSWORD') }}\"\ntable: incident\nsysId: \"{{ outputs.create.result.sys_id }}\"\ndata:\n  state: \"2\"\n  work_notes: In progress\n",
    outputs(result(Map, "The updated record."))
)]
struct Update {
    instance: Instance,
    table: String,
    sys_id: String,
    data: Map<String, Value>,
}

/// Delete a ServiceNow record.
///
/// Deletes the record sysId of table (Basic auth or the OAuth password grant); deleted is true when ServiceNow answers 204.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.servicenow.Delete",
    group = "core",
    props = DeleteDecl,
    example = "id: delete\ntype: io.kestra.plugin.servicenow.Delete\ndomain: \"{{ secret('SNOW_DOMAIN') }}\"\nusername: \"{{ secret('SNOW_USERNAME') }}\"\npassword: \"{{ secret('SNOW_PASSWORD') }}\"\ntable: incident\nsysId: \"{{ outputs.create.result.sys_id }}\"\n",
    outputs(deleted(Boolean, "True when ServiceNow answered 204 No Content."))
)]
struct Delete {
    instance: Instance,
    table: String,
    sys_id: String,
}

/// The properties of `Get`: its own, the connection's and `table`.
pub struct GetDecl;
/// The properties of `Post`.
pub struct PostDecl;
/// The properties of `Update`.
pub struct UpdateDecl;
/// The properties of `Delete`.
pub struct DeleteDecl;

impl DeclaredProps for GetDecl {
    fn props() -> Vec<PropDecl> {
        [ConnProps::props(), TableProps::props(), GetProps::props()].concat()
    }
}

impl DeclaredProps for PostDecl {
    fn props() -> Vec<PropDecl> {
        [ConnProps::props(), TableProps::props(), DataProps::props()].concat()
    }
}

impl DeclaredProps for UpdateDecl {
    fn props() -> Vec<PropDecl> {
        [ConnProps::props(), TableProps::props(), SysIdProps::props(), DataProps::props()].concat()
    }
}

impl DeclaredProps for DeleteDecl {
    fn props() -> Vec<PropDecl> {
        [ConnProps::props(), TableProps::props(), SysIdProps::props()].concat()
    }
}

fn build_post(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(Post {
        instance: parse_props::<ConnProps>(props)?.check()?,
        table: table(parse_props(props)?)?,
        data: parse_props::<DataProps>(props)?.data,
    }))
}

fn build_update(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(Update {
        instance: parse_props::<ConnProps>(props)?.check()?,
        table: table(parse_props(props)?)?,
        sys_id: sys_id(parse_props(props)?)?,
        data: parse_props::<DataProps>(props)?.data,
    }))
}

fn build_delete(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    Ok(Box::new(Delete {
        instance: parse_props::<ConnProps>(props)?.check()?,
        table: table(parse_props(props)?)?,
        sys_id: sys_id(parse_props(props)?)?,
    }))
}

/// The `result` record of an answer.
fn result(what: &str, answer: Value) -> Result<TaskOutput, TaskError> {
    match answer.get("result") {
        Some(Value::Object(r)) => {
            Ok(TaskOutput::with(Map::from_iter([("result".to_string(), Value::Object(r.clone()))])))
        }
        _ => Err(TaskError::failed(format!("ServiceNow's answer to {what} holds no result record: {answer}"))),
    }
}

#[async_trait]
impl RunnableTask for Post {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let url = self.instance.url(cx, &["api", "now", "table", &self.table])?;
        let (_, answer) = self.instance.call(cx, Method::POST, url, Some(&Value::Object(self.data.clone()))).await?;
        cx.info(&format!("Post done: a record created in {}", self.table));
        result("Post", answer)
    }
}

#[async_trait]
impl RunnableTask for Update {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let url = self.instance.url(cx, &["api", "now", "table", &self.table, &self.sys_id])?;
        let (_, answer) = self.instance.call(cx, Method::PUT, url, Some(&Value::Object(self.data.clone()))).await?;
        cx.info(&format!("Update done: record {} of {}", self.sys_id, self.table));
        result("Update", answer)
    }
}

#[async_trait]
impl RunnableTask for Delete {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let url = self.instance.url(cx, &["api", "now", "table", &self.table, &self.sys_id])?;
        let (status, _) = self.instance.call(cx, Method::DELETE, url, None).await?;
        let deleted = status == StatusCode::NO_CONTENT;
        cx.info(&format!("Delete of record {} of {}: {}", self.sys_id, self.table, status.as_u16()));
        Ok(TaskOutput::with(Map::from_iter([("deleted".to_string(), Value::Bool(deleted))])))
    }
}

pub static GET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<Get>(build_get));
pub static POST: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<Post>(build_post));
pub static UPDATE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<Update>(build_update));
pub static DELETE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<Delete>(build_delete));

/// Registers this family's plugins.
pub fn register(r: &mut crate::Registry) {
    for def in [*GET, *POST, *UPDATE, *DELETE] {
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
    fn connections_are_checked_naming_the_property() {
        let base = json!({"domain": "dev1", "username": "u", "password": "p", "table": "incident"});
        assert!(build_get(&props(base.clone())).is_ok());
        let mut bad = base.clone();
        bad["domain"] = json!("https://dev1.service-now.com");
        assert!(build_get(&props(bad)).err().unwrap().to_string().contains("domain"));
        let mut half = base.clone();
        half["clientId"] = json!("c");
        assert!(build_get(&props(half)).err().unwrap().to_string().contains("clientSecret"));
        let mut fetch = base.clone();
        fetch["fetchType"] = json!("ALL");
        assert!(build_get(&props(fetch)).err().unwrap().to_string().contains("fetchType"));
        let e =
            build_update(&props(json!({"domain": "d", "username": "u", "password": "p", "table": "t", "data": {}})));
        assert!(e.err().unwrap().to_string().contains("sysId"));
    }
}
