//! `io.kestra.plugin.notifications.discord.DiscordIncomingWebhook` (a JSON
//! payload) and `DiscordExecution` (the execution summary as an embed,
//! merged into the first of `embedList`, with `username`, `avatarUrl` and
//! `content`, as Kestra builds it; a non-blank `payload` is sent instead).

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::summary::{Summary, SummaryProps};
use super::task::{Posted, Summarized, Summarizes};
use super::webhook::{Target, payload_text};
use crate::registry::PluginDef;
use crate::{Declare, RunnableTask, TaskError, de, parse_props};

/// Send a Discord message through a webhook.
///
/// Posts `payload` (Discord's JSON message) to a Discord webhook.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.notifications.discord.DiscordIncomingWebhook",
    // the plugin's own package since it left plugin-notifications
    aliases = ["io.kestra.plugin.discord.DiscordIncomingWebhook"],
    group = "core",
    example = "id: discord\ntype: io.kestra.plugin.notifications.discord.DiscordIncomingWebhook\nurl: \"{{ secret('DISCORD_WEBHOOK') }}\"\npayload: |\n  {\"content\": \"Flow {{ flow.id }} failed: {{ execution.id }}\"}\n"
)]
struct IncomingProps {
    #[serde(flatten)]
    target: Target,
    /// The message (JSON).
    #[prop(kind = "String")]
    payload: Value,
}

/// One of `embedList`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Embed {
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    title: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    website_url: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    description: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    thumbnail: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    author_name: Option<String>,
    /// `[r, g, b]`.
    #[serde(default)]
    color: Option<Vec<i64>>,
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    footer: Option<String>,
}

impl Embed {
    /// Discord's embed object (Kestra's `getEmbedMap`).
    fn to_json(&self, avatar_url: Option<&str>) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(t) = &self.title {
            m.insert("title".into(), json!(t));
        }
        if let Some(d) = &self.description {
            m.insert("description".into(), json!(d));
        }
        if let Some(u) = &self.website_url {
            m.insert("url".into(), json!(u));
        }
        if let Some(u) = &self.thumbnail {
            m.insert("thumbnail".into(), json!({ "url": u }));
        }
        if let Some(name) = &self.author_name {
            m.insert("author".into(), json!({"name": name, "url": self.website_url, "icon_url": avatar_url}));
        }
        if let Some(c) = &self.color {
            let rgb = if c.len() >= 3 { (c[0] << 16) + (c[1] << 8) + c[2] } else { 0 };
            m.insert("color".into(), json!(rgb));
        }
        if let Some(f) = &self.footer {
            m.insert("footer".into(), json!({ "text": f }));
        }
        m
    }
}

/// Send a Discord message with an execution's summary.
///
/// Posts the summary of this execution (or `executionId`) as an embed: namespace, flow, id, state, duration, the last (failed) task, a link to its page when `BATON_URL` is set, the custom message and fields.
#[derive(Debug, Clone, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.notifications.discord.DiscordExecution",
    // the plugin's own package since it left plugin-notifications
    aliases = ["io.kestra.plugin.discord.DiscordExecution"],
    group = "core",
    example = "id: alert\ntype: io.kestra.plugin.notifications.discord.DiscordExecution\nurl: \"{{ secret('DISCORD_WEBHOOK') }}\"\nexecutionId: \"{{ trigger.executionId }}\"\nusername: Baton\n"
)]
struct ExecutionProps {
    #[serde(flatten)]
    target: Target,
    /// A message (JSON) sent instead of the summary when not blank.
    #[serde(default)]
    #[prop(kind = "String")]
    payload: Option<Value>,
    /// The webhook's username.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    username: Option<String>,
    /// The webhook's avatar URL.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    avatar_url: Option<String>,
    /// Embeds (title, websiteUrl, description, thumbnail, authorName, color `[r, g, b]`, footer); the summary goes into the first.
    #[serde(default)]
    #[prop(kind = "List")]
    embed_list: Option<Vec<Embed>>,
    /// The message's content.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    content: Option<String>,
    #[serde(flatten)]
    summary: SummaryProps,
}

/// The summary embed.
fn summary_embed(s: &Summary) -> Map<String, Value> {
    let mut d = String::new();
    if let Some(m) = &s.custom_message {
        d.push_str(&format!("{m}\n\n"));
    }
    d.push_str(&format!(
        "Namespace: {}\nFlow ID: {}\nExecution ID: {}\nExecution Status: {}\nFinal task ID: {}",
        s.namespace,
        s.flow_id,
        s.id,
        s.state.as_str(),
        s.last_task.as_deref().unwrap_or_default()
    ));
    if let Some(link) = &s.link {
        d.push_str(&format!("\n\n[Open the execution]({link})"));
    }
    let mut m = Map::new();
    m.insert("description".into(), json!(d));
    if !s.custom_fields.is_empty() {
        let fields: Vec<Value> =
            s.custom_text().into_iter().map(|(k, v)| json!({"name": k, "value": v, "inline": true})).collect();
        m.insert("fields".into(), Value::Array(fields));
    }
    m.insert("footer".into(), json!({ "text": s.outcome() }));
    m
}

/// The message of an execution summary (Kestra's `DiscordTemplate`).
fn execution_message(s: &Summary, p: &ExecutionProps) -> Value {
    let summary = summary_embed(s);
    let mut out = Map::new();
    let embeds: Vec<Value> = match &p.embed_list {
        None => vec![Value::Object(summary)],
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut m = e.to_json(p.avatar_url.as_deref());
                if i == 0 {
                    m.extend(summary.clone());
                }
                Value::Object(m)
            })
            .collect(),
    };
    out.insert("embeds".into(), Value::Array(embeds));
    if let Some(u) = &p.username {
        out.insert("username".into(), json!(u));
    }
    if let Some(u) = &p.avatar_url {
        out.insert("avatar_url".into(), json!(u));
    }
    out.insert("tts".into(), json!(false));
    if let Some(c) = &p.content {
        out.insert("content".into(), json!(c));
    }
    Value::Object(out)
}

/// A payload as JSON text (Kestra parses it before sending).
fn json_payload(v: &Value) -> Result<String, TaskError> {
    let text = payload_text(v);
    let parsed: Value =
        serde_json::from_str(&text).map_err(|e| TaskError::property("payload", format!("is not valid JSON: {e}")))?;
    Ok(parsed.to_string())
}

fn build_incoming(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: IncomingProps = parse_props(props)?;
    Ok(Posted::task("Discord", p.target, json_payload(&p.payload)?))
}

/// Unlike the other services' tasks, Kestra's DiscordExecution sends a
/// written (non-blank) `payload` instead of the summary.
fn build_execution(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ExecutionProps = parse_props(props)?;
    let written = p.payload.as_ref().filter(|v| !v.is_null() && !payload_text(v).trim().is_empty());
    if let Some(v) = written {
        return Ok(Posted::task("Discord", p.target, json_payload(v)?));
    }
    Ok(Box::new(Summarized(Box::new(p))))
}

impl Summarizes for ExecutionProps {
    const TASK: &'static str = "DiscordExecution";
    const SERVICE: &'static str = "Discord";

    fn target(&self) -> &Target {
        &self.target
    }

    fn summary(&self) -> &SummaryProps {
        &self.summary
    }

    fn message(&self, s: &Summary) -> Value {
        execution_message(s, self)
    }
}

pub static INCOMING: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<IncomingProps>(build_incoming));

pub static EXECUTION: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ExecutionProps>(build_execution));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeds_follow_kestra_s_shape() {
        let e: Embed = serde_json::from_value(json!({
            "title": "T", "websiteUrl": "https://x.io", "authorName": "me", "color": [255, 0, 1], "footer": "f"
        }))
        .unwrap();
        let m = Value::Object(e.to_json(Some("https://a/icon.png")));
        assert_eq!(
            m,
            json!({"title": "T", "url": "https://x.io",
                   "author": {"name": "me", "url": "https://x.io", "icon_url": "https://a/icon.png"},
                   "color": 16711681, "footer": {"text": "f"}})
        );
        assert!(serde_json::from_value::<Embed>(json!({"colour": [1, 2, 3]})).is_err());
    }
}
