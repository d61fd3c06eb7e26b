//! Klaviyo (`io.kestra.plugin.klaviyo.*`, plugin-klaviyo): seven tasks that
//! each read a list of Klaviyo objects by ID from its REST API — campaigns,
//! their recipient estimations, campaign messages, a message's campaign
//! and image, recipient estimation jobs and send jobs — one declaration
//! each in [`KINDS`], one implementation for all.
//!
//! As Kestra: `GET {baseUrl}/{path}` per ID with `Authorization:
//! Klaviyo-API-Key …`, `Accept: application/vnd.api+json` and the API
//! `revision` Kestra pins ([`REVISION`]); each answer's `data` is one row
//! (an answer without `data` adds none); anything but 200 fails the task
//! naming the ID; `fetchType` FETCH (default: `rows`), FETCH_ONE (`row`),
//! STORE (`uri`, an Ion file) or NONE, with `size` the rows read. Calls
//! are a second apart, as Kestra paces them against Klaviyo's rate limits
//! (Kestra also waits before the first; Baton does not). At most
//! [`MAX_IDS`] IDs a task, each answer read up to [`MAX_ANSWER`].

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use baton_model::decl::DeclaredProps;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::core::http;
use crate::jdbc::fetch::{FetchType, fetch_type_ok, write_ion_line};
use crate::registry::{PluginDef, PropDecl};
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The API revision Kestra's tasks send.
pub const REVISION: &str = "2025-10-15";
/// Klaviyo's API, when `baseUrl` is not set.
const API: &str = "https://a.klaviyo.com/api";
/// The pause between two calls.
const PACE: Duration = Duration::from_secs(1);
/// The most IDs one task reads (at a call a second, about 17 minutes).
pub const MAX_IDS: usize = 1000;
/// The most bytes of one answer read.
pub const MAX_ANSWER: u64 = 16 * 1024 * 1024;

/// What every Klaviyo task takes.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct CommonProps {
    /// The private API key, sent as Klaviyo-API-Key (use a secret).
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(dynamic, required)]
    api_key: String,
    /// Klaviyo's API base URL.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, default = "\"https://a.klaviyo.com/api\"")]
    base_url: Option<String>,
    /// FETCH (default): rows; FETCH_ONE: row; STORE: an Ion file (uri); NONE: size only.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, values = ["FETCH", "FETCH_ONE", "STORE", "NONE"], default = "\"FETCH\"", check = fetch_type_ok)]
    fetch_type: Option<String>,
}

/// The campaigns the task reads.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct CampaignIds {
    /// The campaigns' IDs; rows keep their order.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, required, kind = "List")]
    campaign_ids: Vec<String>,
}

/// The campaign messages the task reads.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct MessageIds {
    /// The campaign messages' IDs; rows keep their order.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, required, kind = "List")]
    message_ids: Vec<String>,
}

/// The jobs the task reads.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
struct JobIds {
    /// The jobs' IDs; rows keep their order.
    #[serde(default, deserialize_with = "de::string_or_list")]
    #[prop(dynamic, required, kind = "List")]
    job_ids: Vec<String>,
}

/// Which list of IDs a kind of task reads.
#[derive(Debug, Clone, Copy)]
enum Ids {
    Campaigns,
    Messages,
    Jobs,
}

/// One kind of Klaviyo task: the path of an ID (`{}` is the ID) and what
/// a failure calls the object.
#[derive(Debug, Clone, Copy)]
struct Kind {
    ids: Ids,
    path: &'static str,
    what: &'static str,
}

const CAMPAIGN: Kind = Kind { ids: Ids::Campaigns, path: "campaigns/{}", what: "campaign" };
const RECIPIENT_COUNT: Kind =
    Kind { ids: Ids::Campaigns, path: "campaign-recipient-estimations/{}", what: "recipient estimation for campaign" };
const MESSAGE: Kind = Kind { ids: Ids::Messages, path: "campaign-messages/{}", what: "message" };
const MESSAGE_CAMPAIGN: Kind =
    Kind { ids: Ids::Messages, path: "campaign-messages/{}/campaign", what: "campaign for message" };
const MESSAGE_IMAGE: Kind = Kind { ids: Ids::Messages, path: "campaign-messages/{}/image", what: "image for message" };
const RECIPIENT_JOB: Kind =
    Kind { ids: Ids::Jobs, path: "campaign-recipient-estimation-jobs/{}", what: "recipient estimation job" };
const SEND_JOB: Kind = Kind { ids: Ids::Jobs, path: "campaign-send-jobs/{}", what: "send job" };

/// A checked task of some kind.
#[derive(Debug)]
struct Fetch {
    kind: Kind,
    api_key: String,
    base: String,
    fetch: FetchType,
    ids: Vec<String>,
}

fn build(kind: Kind, props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let c: CommonProps = parse_props(props)?;
    let (name, ids) = match kind.ids {
        Ids::Campaigns => ("campaignIds", parse_props::<CampaignIds>(props)?.campaign_ids),
        Ids::Messages => ("messageIds", parse_props::<MessageIds>(props)?.message_ids),
        Ids::Jobs => ("jobIds", parse_props::<JobIds>(props)?.job_ids),
    };
    let ids: Vec<String> = ids.into_iter().map(|i| i.trim().to_string()).filter(|i| !i.is_empty()).collect();
    if ids.is_empty() {
        return Err(TaskError::property(name, "names no ID"));
    }
    if ids.len() > MAX_IDS {
        return Err(TaskError::property(name, format!("{} IDs: at most {MAX_IDS} a task", ids.len())));
    }
    let fetch = match c.fetch_type.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => FetchType::Fetch,
        Some(s) => FetchType::parse(s).map_err(|m| TaskError::property("fetchType", m))?,
    };
    let base = c.base_url.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or(API);
    http::parse_uri("baseUrl", base)?;
    Ok(Box::new(Fetch { kind, api_key: c.api_key, base: base.trim_end_matches('/').to_string(), fetch, ids }))
}

impl Fetch {
    /// The `data` of object `id`, if the answer has one.
    async fn one(&self, cx: &RunContext, id: &str) -> Result<Option<Map<String, Value>>, TaskError> {
        let mut url = http::parse_uri("baseUrl", &self.base)?;
        url.path_segments_mut()
            .map_err(|_| TaskError::property("baseUrl", "is not a base URL"))?
            .pop_if_empty()
            .extend(self.kind.path.split('/').map(|s| if s == "{}" { id } else { s }));
        let rb = cx
            .services
            .http
            .request(Method::GET, url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/vnd.api+json")
            .header(reqwest::header::AUTHORIZATION, format!("Klaviyo-API-Key {}", self.api_key))
            .header("revision", REVISION);
        let (status, bytes) = http::call(rb, &Method::GET, "Klaviyo", &url, MAX_ANSWER).await?;
        let failed = |why: String| TaskError::failed(format!("Failed to retrieve {} {id}: {why}", self.kind.what));
        if status.as_u16() != 200 {
            let body: String = String::from_utf8_lossy(&bytes).chars().take(500).collect();
            return Err(failed(format!("{} - {}", status.as_u16(), body.trim())));
        }
        let answer: Value =
            serde_json::from_slice(&bytes).map_err(|e| failed(format!("the answer is not JSON: {e}")))?;
        Ok(match answer.get("data") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(other) => Some(Map::from_iter([("data".to_string(), other.clone())])),
        })
    }
}

#[async_trait]
impl RunnableTask for Fetch {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let mut rows = Vec::new();
        for (i, id) in self.ids.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(PACE).await;
            }
            if let Some(row) = self.one(cx, id).await? {
                rows.push(row);
            }
        }
        cx.info(&format!("Successfully retrieved {} {}(s)", rows.len(), self.kind.what));
        let mut out = Map::new();
        out.insert("size".into(), json!(rows.len()));
        match self.fetch {
            FetchType::None => {}
            FetchType::FetchOne => {
                if let Some(first) = rows.into_iter().next() {
                    out.insert("row".into(), Value::Object(first));
                }
            }
            FetchType::Fetch => {
                out.insert("rows".into(), Value::Array(rows.into_iter().map(Value::Object).collect()));
            }
            FetchType::Store => {
                let mut ion = Vec::new();
                for r in &rows {
                    write_ion_line(r, &mut ion)?;
                }
                let (uri, _) = cx.put_file("rows.ion", Box::pin(std::io::Cursor::new(ion))).await?;
                out.insert("uri".into(), Value::String(uri));
            }
        }
        Ok(TaskOutput::with(out))
    }
}

/// The properties of the tasks reading campaigns.
pub struct CampaignDecl;
/// The properties of the tasks reading campaign messages.
pub struct MessageDecl;
/// The properties of the tasks reading jobs.
pub struct JobDecl;

impl DeclaredProps for CampaignDecl {
    fn props() -> Vec<PropDecl> {
        [CommonProps::props(), CampaignIds::props()].concat()
    }
}

impl DeclaredProps for MessageDecl {
    fn props() -> Vec<PropDecl> {
        [CommonProps::props(), MessageIds::props()].concat()
    }
}

impl DeclaredProps for JobDecl {
    fn props() -> Vec<PropDecl> {
        [CommonProps::props(), JobIds::props()].concat()
    }
}

/// Declares one Klaviyo task type: its doc, type name, properties, example
/// and [`Kind`].
macro_rules! klaviyo_task {
    ($(#[$doc:meta])* $name:ident, $static:ident, $type:literal, $decl:ident, $example:literal, $kind:ident) => {
        $(#[$doc])*
        #[derive(Debug, Declare)]
        #[plugin(
            type = $type,
            group = "core",
            props = $decl,
            example = $example,
            outputs(
                size(Integer, "How many objects were read."),
                row(Map, "The first object (fetchType FETCH_ONE)."),
                rows(List, "The objects, in the order of the IDs (fetchType FETCH)."),
                uri(String, "The objects as an Ion file (fetchType STORE).")
            )
        )]
        struct $name;

        pub static $static: LazyLock<PluginDef> =
            LazyLock::new(|| PluginDef::declare_as::<$name>(|props| build($kind, props)));
    };
}

klaviyo_task!(
    /// Fetch Klaviyo campaigns by ID.
    ///
    /// Reads each campaign of campaignIds (a second between calls); fetchType FETCH (default) returns them as rows.
    CampaignGet, CAMPAIGN_GET, "io.kestra.plugin.klaviyo.campaign.Get",
    CampaignDecl,
    "id: read\ntype: io.kestra.plugin.klaviyo.campaign.Get\napiKey: \"{{ secret('KLAVIYO_API_KEY') }}\"\ncampaignIds:\n  - 01HXYZEXAMPLE\n", CAMPAIGN
);
klaviyo_task!(
    /// Estimate the recipients of Klaviyo campaigns.
    ///
    /// Reads the recipient estimation of each campaign of campaignIds (a second between calls).
    CampaignRecipientCount, CAMPAIGN_RECIPIENT_COUNT, "io.kestra.plugin.klaviyo.campaign.GetRecipientCount",
    CampaignDecl,
    "id: read\ntype: io.kestra.plugin.klaviyo.campaign.GetRecipientCount\napiKey: \"{{ secret('KLAVIYO_API_KEY') }}\"\ncampaignIds:\n  - 01HXYZEXAMPLE\n", RECIPIENT_COUNT
);
klaviyo_task!(
    /// Fetch Klaviyo campaign messages by ID.
    ///
    /// Reads each campaign message of messageIds (a second between calls).
    MessageGet, MESSAGE_GET, "io.kestra.plugin.klaviyo.campaign.messages.Get",
    MessageDecl,
    "id: read\ntype: io.kestra.plugin.klaviyo.campaign.messages.Get\napiKey: \"{{ secret('KLAVIYO_API_KEY') }}\"\nmessageIds:\n  - 01HXYZEXAMPLE\n", MESSAGE
);
klaviyo_task!(
    /// Fetch the campaigns of Klaviyo campaign messages.
    ///
    /// Reads the campaign of each campaign message of messageIds (a second between calls).
    MessageCampaign, MESSAGE_CAMPAIGN_GET, "io.kestra.plugin.klaviyo.campaign.messages.GetCampaign",
    MessageDecl,
    "id: read\ntype: io.kestra.plugin.klaviyo.campaign.messages.GetCampaign\napiKey: \"{{ secret('KLAVIYO_API_KEY') }}\"\nmessageIds:\n  - 01HXYZEXAMPLE\n", MESSAGE_CAMPAIGN
);
klaviyo_task!(
    /// Fetch the images of Klaviyo mobile push messages.
    ///
    /// Reads the image of each campaign message of messageIds (channel mobile_push; a second between calls).
    MessageImages, MESSAGE_IMAGES, "io.kestra.plugin.klaviyo.campaign.messages.GetImages",
    MessageDecl,
    "id: read\ntype: io.kestra.plugin.klaviyo.campaign.messages.GetImages\napiKey: \"{{ secret('KLAVIYO_API_KEY') }}\"\nmessageIds:\n  - 01HXYZEXAMPLE\n", MESSAGE_IMAGE
);
klaviyo_task!(
    /// Fetch Klaviyo recipient estimation jobs.
    ///
    /// Reads each recipient estimation job of jobIds (a second between calls).
    RecipientJob, RECIPIENT_JOB_GET, "io.kestra.plugin.klaviyo.jobs.GetRecipient",
    JobDecl,
    "id: read\ntype: io.kestra.plugin.klaviyo.jobs.GetRecipient\napiKey: \"{{ secret('KLAVIYO_API_KEY') }}\"\njobIds:\n  - 01HXYZEXAMPLE\n", RECIPIENT_JOB
);
klaviyo_task!(
    /// Fetch Klaviyo campaign send jobs.
    ///
    /// Reads each campaign send job of jobIds (a second between calls).
    SendJob, SEND_JOB_GET, "io.kestra.plugin.klaviyo.jobs.GetSendJob",
    JobDecl,
    "id: read\ntype: io.kestra.plugin.klaviyo.jobs.GetSendJob\napiKey: \"{{ secret('KLAVIYO_API_KEY') }}\"\njobIds:\n  - 01HXYZEXAMPLE\n", SEND_JOB
);

/// Registers this family's plugins.
pub fn register(r: &mut crate::Registry) {
    for def in [
        *CAMPAIGN_GET,
        *CAMPAIGN_RECIPIENT_COUNT,
        *MESSAGE_GET,
        *MESSAGE_CAMPAIGN_GET,
        *MESSAGE_IMAGES,
        *RECIPIENT_JOB_GET,
        *SEND_JOB_GET,
    ] {
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
    fn ids_and_fetch_types_are_checked_naming_the_property() {
        assert!(build(CAMPAIGN, &props(json!({"apiKey": "k", "campaignIds": ["a", "b"]}))).is_ok());
        let e = build(MESSAGE, &props(json!({"apiKey": "k", "messageIds": []}))).err().unwrap().to_string();
        assert!(e.contains("messageIds"), "{e}");
        let e = build(SEND_JOB, &props(json!({"apiKey": "k", "jobIds": ["j"], "fetchType": "ALL"}))).err().unwrap();
        assert!(e.to_string().contains("fetchType"), "{e}");
        let many: Vec<String> = (0..=MAX_IDS).map(|i| i.to_string()).collect();
        let e = build(CAMPAIGN, &props(json!({"apiKey": "k", "campaignIds": many}))).err().unwrap().to_string();
        assert!(e.contains("at most"), "{e}");
    }
}
