//! Apify (`io.kestra.plugin.apify.*`, plugin-apify): `actor.Run` starts an
//! Actor run (`POST /acts/{actorId}/runs`, the `input` as the body, the
//! run options as query parameters) and outputs the run as Apify answers
//! it (`id`, `status`, `defaultDatasetId`, `usageTotalUsd`…);
//! `dataset.Get` reads a dataset's items (`GET /datasets/{id}/items`) into
//! `dataset`.
//!
//! As Kestra: `Authorization: Bearer {apiToken}` and the header
//! `x-apify-integration-platform: kestra` on every call; a non-2xx answer
//! fails the task with its status and body; `memory` is one of `MB_128` …
//! `MB_32768` (the number of megabytes is read too); `waitForFinish` is 0
//! to 60 seconds. A run started without waiting is usually still running,
//! so `dataset.Get` reads again while the dataset is empty, 2 s apart at
//! first and doubling up to 32 s, for up to five minutes, then fails
//! saying so (Kestra waits for the task's `timeout` when it has one).
//!
//! Two differences, on purpose: Kestra sends `clean` as `cleanValue` and
//! `sort` as `sortDirection`, names Apify does not read, so both have no
//! effect there; Baton sends Apify's own `clean` and `desc`. `flatten` is
//! sent as Kestra sends it. An `input` left empty is not sent, so the
//! Actor runs with its default input, as Kestra documents it.
//!
//! `BATON_APIFY_BASE_URL` replaces `https://api.apify.com/v2` (Kestra's
//! JVM property `apify.api.base.url`). Actor and dataset IDs are path
//! segments (percent-encoded; `owner~name` kept). Each answer is read up to
//! [`MAX_ANSWER`].

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use baton_model::decl::DeclaredProps;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::core::http::{self, HttpOptions};
use crate::registry::{PluginDef, PropDecl};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// Apify's API, when `BATON_APIFY_BASE_URL` is not set.
const API: &str = "https://api.apify.com/v2";
/// The most bytes of one answer read.
pub const MAX_ANSWER: u64 = 64 * 1024 * 1024;
/// How long `dataset.Get` waits for a dataset that is still empty.
pub const DATASET_WAIT: Duration = Duration::from_secs(300);
/// The first pause between two reads of an empty dataset; it doubles.
const FIRST_PAUSE: Duration = Duration::from_secs(2);
/// The longest pause between two reads of an empty dataset.
const MAX_PAUSE: Duration = Duration::from_secs(32);

/// What both tasks take.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct ApiProps {
    /// The API token, sent as a Bearer token (use a secret).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    api_token: String,
    /// The HTTP client's options (connectTimeout, readTimeout…), as core http.Request's.
    #[serde(default)]
    #[prop(kind = "Map")]
    options: Option<HttpOptions>,
}

/// A checked connection.
#[derive(Debug)]
struct Api {
    token: String,
    options: HttpOptions,
}

fn api(props: &Map<String, Value>) -> Result<Api, TaskError> {
    let p: ApiProps = parse_props(props)?;
    let token = p.api_token.trim().to_string();
    if token.is_empty() {
        return Err(TaskError::property("apiToken", "is required"));
    }
    let options = p.options.unwrap_or_default();
    if options.allow_failed == Some(true) {
        return Err(TaskError::property("options", "allowFailed: a failed Apify call always fails the task"));
    }
    Ok(Api { token, options })
}

impl Api {
    /// `{base}/{segments…}?{query}`.
    fn url(&self, cx: &RunContext, segments: &[&str], query: &[(&str, String)]) -> Result<Url, TaskError> {
        let mut url = http::api_url("BATON_APIFY_BASE_URL", cx.services.config.apify_url.as_deref(), API, "")?;
        url.path_segments_mut()
            .map_err(|_| TaskError::failed("BATON_APIFY_BASE_URL cannot hold a path"))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    /// One call; the answer's JSON (a non-2xx fails).
    async fn call(&self, cx: &RunContext, method: Method, url: &Url, body: Option<&Value>) -> Result<Value, TaskError> {
        let mut rb = cx
            .services
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(&self.token)
            .header("x-apify-integration-platform", "kestra");
        if let Some(b) = body {
            rb = rb.header(reqwest::header::CONTENT_TYPE, "application/json; charset=UTF-8").body(b.to_string());
        }
        let rb = http::with_timeout(rb, None, &self.options)?;
        let (status, bytes) = http::call(rb, &method, "Apify", url, MAX_ANSWER).await?;
        if !status.is_success() {
            return Err(http::status_error(status, &bytes, &method, url));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| TaskError::failed(format!("Apify's answer to {method} {} is not JSON: {e}", url.path())))
    }
}

/// What `actor.Run` takes besides the token.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct RunProps {
    /// The Actor: its ID or owner~name.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    actor_id: String,
    /// The Actor's input, sent as the body (left out when empty: the Actor's default input).
    #[serde(default)]
    #[prop(dynamic, kind = "Map")]
    input: Option<Value>,
    /// The run's timeout in seconds (Apify's timeout; the Actor's default when unset).
    #[serde(default)]
    #[prop(dynamic, kind = "Number")]
    request_timeout: Option<Value>,
    /// The run's memory: MB_128, MB_256 … MB_32768.
    #[serde(default)]
    #[prop(dynamic, values = ["MB_128", "MB_256", "MB_512", "MB_1024", "MB_2048", "MB_4096", "MB_8192", "MB_16384", "MB_32768"])]
    memory: Option<Value>,
    /// The most dataset items the run may produce (pay-per-result Actors).
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, kind = "Integer")]
    max_items: Option<u64>,
    /// The most the run may charge, in US dollars.
    #[serde(default)]
    #[prop(dynamic, kind = "Number")]
    max_total_charge_usd: Option<Value>,
    /// The build tag or number to run (the Actor's default, usually latest).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    build: Option<String>,
    /// Seconds (0 to 60) Apify waits for the run to end before answering.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, kind = "Integer")]
    wait_for_finish: Option<u64>,
    /// Webhooks for the run's events: a base64-encoded JSON array (use a secret).
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    webhooks: Option<String>,
}

/// A number property, as Apify reads it (`600`, `10.5`).
fn number(name: &str, v: Option<Value>) -> Result<Option<String>, TaskError> {
    let n = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match n {
        Some(n) if n.is_finite() && n >= 0.0 => {
            Ok(Some(if n.fract() == 0.0 { format!("{n:.0}") } else { n.to_string() }))
        }
        _ => Err(TaskError::property(name, "expected a number of zero or more")),
    }
}

/// `memory`: `MB_1024` (Kestra's names) or 1024.
fn memory(v: Option<Value>) -> Result<Option<String>, TaskError> {
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(v) => de::value_to_string(&v),
    };
    let mb = text.trim().trim_start_matches("MB_").parse::<u64>().ok();
    match mb {
        Some(mb) if (128..=32768).contains(&mb) && mb.is_power_of_two() => Ok(Some(mb.to_string())),
        _ => Err(TaskError::property("memory", format!("'{text}' is not one of MB_128, MB_256 … MB_32768"))),
    }
}

/// Run an Apify Actor.
///
/// Starts a run of actorId with input and the run options; outputs the run as Apify answers it (id, status, defaultDatasetId, usageTotalUsd…).
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.apify.actor.Run",
    group = "core",
    props = RunDecl,
    example = "id: run_actor\ntype: io.kestra.plugin.apify.actor.Run\napiToken: \"{{ secret('APIFY_API_TOKEN') }}\"\nactorId: apify~website-content-crawler\nmaxItems: 100\ninput:\n  startUrls:\n    - url: https://news.ycombinator.com\n",
    outputs(
        id(String, "The run's ID."),
        actId(String, "The Actor's ID."),
        status(String, "The run's status (READY, RUNNING, SUCCEEDED, FAILED…)."),
        startedAt(String, "When the run started."),
        finishedAt(String, "When the run finished, if it has."),
        defaultDatasetId(String, "The run's default dataset (read it with dataset.Get)."),
        defaultKeyValueStoreId(String, "The run's default key-value store."),
        usageTotalUsd(Number, "What the run cost so far, in US dollars."),
        stats(Map, "The run's statistics."),
        options(Map, "The options the run was started with.")
    )
)]
struct ActorRun {
    api: Api,
    actor: String,
    input: Option<Value>,
    query: Vec<(&'static str, String)>,
}

/// The properties of `actor.Run`.
pub struct RunDecl;

impl DeclaredProps for RunDecl {
    fn props() -> Vec<PropDecl> {
        [ApiProps::props(), RunProps::props()].concat()
    }
}

fn build_run(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let api = api(props)?;
    let p: RunProps = parse_props(props)?;
    let actor = p.actor_id.trim().to_string();
    if actor.is_empty() {
        return Err(TaskError::property("actorId", "is required"));
    }
    let input = match p.input {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) if m.is_empty() => None,
        Some(Value::Object(m)) => Some(Value::Object(m)),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => Some(Value::Object(m)),
            _ => return Err(TaskError::property("input", "expected a map (or JSON holding one)")),
        },
        Some(other) => return Err(TaskError::property("input", format!("expected a map, found {other}"))),
    };
    if let Some(w) = p.wait_for_finish
        && w > 60
    {
        return Err(TaskError::property("waitForFinish", format!("{w}: at most 60 seconds")));
    }
    // Kestra's order: the names sorted
    let query: Vec<(&'static str, String)> = [
        ("build", p.build.map(|b| b.trim().to_string()).filter(|b| !b.is_empty())),
        ("maxItems", p.max_items.map(|n| n.to_string())),
        ("maxTotalChargeUsd", number("maxTotalChargeUsd", p.max_total_charge_usd)?),
        ("memory", memory(p.memory)?),
        ("timeout", number("requestTimeout", p.request_timeout)?),
        ("waitForFinish", p.wait_for_finish.map(|n| n.to_string())),
        ("webhooks", p.webhooks.filter(|w| !w.trim().is_empty())),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    Ok(Box::new(ActorRun { api, actor, input, query }))
}

#[async_trait]
impl RunnableTask for ActorRun {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let url = self.api.url(cx, &["acts", &self.actor, "runs"], &self.query)?;
        let answer = self.api.call(cx, Method::POST, &url, self.input.as_ref()).await?;
        let Some(Value::Object(run)) = answer.get("data") else {
            return Err(TaskError::failed(format!("Apify's answer to the run of {} holds no run", self.actor)));
        };
        cx.info(&format!(
            "Actor {} run {} is {}",
            self.actor,
            run.get("id").and_then(Value::as_str).unwrap_or("?"),
            run.get("status").and_then(Value::as_str).unwrap_or("?")
        ));
        Ok(TaskOutput::with(run.clone()))
    }
}

/// What `dataset.Get` takes besides the token.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct GetProps {
    /// The dataset's ID (a run's defaultDatasetId).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    dataset_id: String,
    /// Skip empty items and fields starting with #.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    clean: Option<bool>,
    /// How many items to skip first.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, kind = "Integer", default = "0")]
    offset: Option<u64>,
    /// The most items read.
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    #[prop(dynamic, kind = "Integer", default = "1000")]
    limit: Option<u64>,
    /// The fields each item keeps.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, kind = "List")]
    fields: Vec<String>,
    /// The fields removed from each item.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, kind = "List")]
    omit: Vec<String>,
    /// Fields to unwind, in order: an array's elements become items, an object merges into its item.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, kind = "List")]
    unwind: Vec<String>,
    /// Sent to Apify as Kestra sends it (flatten=true or false).
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    flatten: Option<bool>,
    /// ASC (oldest first, the default) or DESC.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["ASC", "DESC"], default = "\"ASC\"")]
    sort: Option<String>,
    /// Skip empty items.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    skip_empty: Option<bool>,
    /// Skip items holding errorInfo.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    skip_failed_pages: Option<bool>,
    /// A view of the dataset's schema.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic)]
    view: Option<String>,
    /// Skip fields starting with #.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    skip_hidden: Option<bool>,
    /// Apify's simplified output.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "false")]
    simplified: Option<bool>,
}

/// Get an Apify dataset's items.
///
/// Reads the items of datasetId (offset, limit, fields, omit, unwind…) into dataset; an empty dataset is read again, with growing pauses, for up to five minutes.
#[derive(Debug, Declare)]
#[plugin(
    type = "io.kestra.plugin.apify.dataset.Get",
    group = "core",
    props = GetDecl,
    example = "id: get_dataset\ntype: io.kestra.plugin.apify.dataset.Get\napiToken: \"{{ secret('APIFY_API_TOKEN') }}\"\ndatasetId: \"{{ outputs.run_actor.defaultDatasetId }}\"\nlimit: 100\n",
    outputs(dataset(List, "The items read."))
)]
struct DatasetGet {
    api: Api,
    dataset: String,
    query: Vec<(&'static str, String)>,
}

/// The properties of `dataset.Get`.
pub struct GetDecl;

impl DeclaredProps for GetDecl {
    fn props() -> Vec<PropDecl> {
        [ApiProps::props(), GetProps::props()].concat()
    }
}

fn build_get(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let api = api(props)?;
    let p: GetProps = parse_props(props)?;
    let dataset = p.dataset_id.trim().to_string();
    if dataset.is_empty() {
        return Err(TaskError::property("datasetId", "is required"));
    }
    let desc = match p.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("ASC") {
        "ASC" => false,
        "DESC" => true,
        other => return Err(TaskError::property("sort", format!("'{other}' is not ASC or DESC"))),
    };
    let flag = |b: Option<bool>, default: bool| b.unwrap_or(default).to_string();
    let mut query: Vec<(&'static str, String)> = vec![
        ("clean", flag(p.clean, true)),
        ("desc", desc.to_string()),
        ("flatten", flag(p.flatten, false)),
        ("limit", p.limit.unwrap_or(1000).to_string()),
        ("offset", p.offset.unwrap_or(0).to_string()),
        ("simplified", flag(p.simplified, false)),
        ("skipEmpty", flag(p.skip_empty, true)),
        ("skipFailedPages", flag(p.skip_failed_pages, false)),
        ("skipHidden", flag(p.skip_hidden, false)),
    ];
    for (k, list) in [("fields", p.fields), ("omit", p.omit), ("unwind", p.unwind)] {
        if !list.is_empty() {
            query.push((k, list.join(",")));
        }
    }
    if let Some(v) = p.view.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
        query.push(("view", v));
    }
    query.sort_by_key(|(k, _)| *k);
    Ok(Box::new(DatasetGet { api, dataset, query }))
}

#[async_trait]
impl RunnableTask for DatasetGet {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let url = self.api.url(cx, &["datasets", &self.dataset, "items"], &self.query)?;
        let started = Instant::now();
        let mut pause = FIRST_PAUSE;
        loop {
            let items = match self.api.call(cx, Method::GET, &url, None).await? {
                Value::Array(items) => items,
                other => {
                    return Err(TaskError::failed(format!(
                        "Apify's answer for dataset {} is not a list of items: {}",
                        self.dataset,
                        de::value_to_string(&other).chars().take(200).collect::<String>()
                    )));
                }
            };
            if !items.is_empty() {
                cx.info(&format!("Read {} item(s) of dataset {}", items.len(), self.dataset));
                return Ok(TaskOutput::with(Map::from_iter([("dataset".to_string(), Value::Array(items))])));
            }
            if started.elapsed() + pause > DATASET_WAIT {
                return Err(TaskError::failed(format!(
                    "Timeout reached before dataset {} was available (it stayed empty for {} s); try again later.",
                    self.dataset,
                    DATASET_WAIT.as_secs()
                )));
            }
            cx.log("DEBUG", &format!("Dataset {} is empty; reading it again in {} s", self.dataset, pause.as_secs()));
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}

pub static RUN: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<ActorRun>(build_run));
pub static GET: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare_as::<DatasetGet>(build_get));

/// Registers this family's plugins.
pub fn register(r: &mut crate::Registry) {
    r.register(*RUN);
    r.register(*GET);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn run_options_are_checked_and_sent_as_apify_reads_them() {
        let base = json!({"apiToken": "t", "actorId": "apify~crawler"});
        assert_eq!(memory(Some(json!("MB_1024"))).unwrap().as_deref(), Some("1024"));
        assert_eq!(memory(Some(json!(256))).unwrap().as_deref(), Some("256"));
        assert!(memory(Some(json!("MB_1000"))).unwrap_err().to_string().contains("memory"));
        assert_eq!(number("x", Some(json!(600))).unwrap().as_deref(), Some("600"));
        assert_eq!(number("x", Some(json!("10.5"))).unwrap().as_deref(), Some("10.5"));
        let mut p = base.clone();
        p["waitForFinish"] = json!(61);
        assert!(build_run(&props(p)).err().unwrap().to_string().contains("waitForFinish"));
        let mut p = base.clone();
        p["input"] = json!([1]);
        assert!(build_run(&props(p)).err().unwrap().to_string().contains("input"));
        assert!(build_run(&props(json!({"apiToken": "t"}))).is_err());
    }

    #[test]
    fn a_dataset_s_sort_is_asc_or_desc() {
        let p = json!({"apiToken": "t", "datasetId": "d", "sort": "NEWEST"});
        assert!(build_get(&props(p)).err().unwrap().to_string().contains("sort"));
    }
}
