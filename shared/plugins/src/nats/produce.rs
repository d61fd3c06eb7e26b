//! `io.kestra.plugin.nats.core.Produce` (alias `nats.Produce`) and
//! `io.kestra.plugin.nats.core.Request` (alias `nats.Request`), plugin-nats
//! `Produce.java`, `Request.java`.
//!
//! `from` is Kestra's `Data.From`: one message `{headers, data}`, a list of
//! them, a JSON string of either, or a `kestra://` Ion file of them
//! (streamed, one a line). `Produce` publishes each on `subject` and ends
//! once the server has them all (a flush: PING answered); output
//! `messagesCount`. `Request` sends the first and waits up to
//! `requestTimeout` (PT5S) for the reply; output `response` (the reply's
//! data as text). A subject is one name, without wildcards.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::conn::{self, NatsProps};
use crate::core::ion_file::{DataFrom, DataValues};
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The longest line of a `from` file.
const MAX_LINE_BYTES: u64 = 8 * 1024 * 1024;

/// Publish messages to a NATS subject.
///
/// Publishes each message {headers, data} of from (one, a list, or a kestra:// Ion file) on the subject; outputs messagesCount.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.nats.core.Produce",
    aliases = ["io.kestra.plugin.nats.Produce"],
    group = "core",
    example = "id: produce\ntype: io.kestra.plugin.nats.core.Produce\nurl: nats://localhost:4222\nusername: nats_user\npassword: \"{{ secret('NATS_PASSWORD') }}\"\nsubject: kestra.publish\nfrom:\n  headers:\n    someHeaderKey: someHeaderValue\n  data: Some message\n",
    outputs(messagesCount(Integer, "How many messages were published."))
)]
struct ProduceProps {
    #[serde(flatten)]
    conn: NatsProps,
    /// The subject to publish on.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    subject: Option<String>,
    /// The messages: {headers, data}, a list of them, a JSON string of either, or a kestra:// Ion file of them.
    #[prop(kind = "Any", required)]
    from: Option<Value>,
}

/// Send a request on a NATS subject and wait for its reply.
///
/// Sends the message {headers, data} of from on the subject and waits up to requestTimeout for a reply; outputs response (the reply's data).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.nats.core.Request",
    aliases = ["io.kestra.plugin.nats.Request"],
    group = "core",
    example = "id: request\ntype: io.kestra.plugin.nats.core.Request\nurl: nats://localhost:4222\nsubject: greet.bob\nfrom:\n  headers:\n    someHeaderKey: someHeaderValue\n  data: Hello from Kestra!\nrequestTimeout: PT2S\n",
    outputs(response(String, "The reply's data, as text."))
)]
struct RequestProps {
    #[serde(flatten)]
    conn: NatsProps,
    /// The subject to send the request on.
    #[serde(default, deserialize_with = "de::opt_string_lenient")]
    #[prop(dynamic, required)]
    subject: Option<String>,
    /// The request: {headers, data} (data sent as written, or as JSON), a JSON string of it, or a kestra:// Ion file (its first line).
    #[prop(kind = "Any", required)]
    from: Option<Value>,
    /// How long to wait for the reply.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(dynamic, kind = "Duration", default = "\"PT5S\"")]
    request_timeout: Option<chrono::TimeDelta>,
}

/// The next message of `values`, read as Kestra's `{headers, data}`.
async fn next_message(values: &mut DataValues<'_>) -> Result<Option<conn::Outgoing>, TaskError> {
    match values.next().await? {
        None => Ok(None),
        Some((n, v, true)) => conn::outgoing(&v, n, true).map(Some),
        Some((n, v, false)) => {
            conn::outgoing(&v, n, false).map(Some).map_err(|e| values.error("from", n, &e.to_string()))
        }
    }
}

fn subject(s: Option<String>) -> Result<String, TaskError> {
    let s = s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let s = s.ok_or_else(|| TaskError::property("subject", "is required"))?;
    if s.split('.').any(|t| t == "*" || t == ">") {
        return Err(TaskError::property("subject", format!("'{s}': a subject to send on has no wildcard (*, >)")));
    }
    Ok(s)
}

struct Produce {
    conn: NatsProps,
    subject: String,
    from: DataFrom,
}

fn build_produce(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: ProduceProps = parse_props(props)?;
    p.conn.check()?;
    Ok(Box::new(Produce { subject: subject(p.subject)?, from: DataFrom::parse("from", p.from)?, conn: p.conn }))
}

#[async_trait]
impl RunnableTask for Produce {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let client = self.conn.connect().await?;
        let mut count = 0u64;
        let mut messages = self.from.open(cx, "from", MAX_LINE_BYTES).await?;
        while let Some(m) = next_message(&mut messages).await? {
            client
                .publish_with_headers(self.subject.clone(), m.headers, m.data.into())
                .await
                .map_err(|e| TaskError::failed(format!("cannot publish on '{}': {e}", self.subject)))?;
            count += 1;
        }
        // the server has every message once it answered the flush's PING
        client.flush().await.map_err(|e| TaskError::failed(format!("NATS did not confirm the messages: {e}")))?;
        cx.counter("records", count as f64, &[("subject", &self.subject)]);
        cx.info(&format!("Published {count} messages on '{}'", self.subject));
        let mut out = Map::new();
        out.insert("messagesCount".into(), Value::from(count));
        Ok(TaskOutput::with(out))
    }
}

struct Request {
    conn: NatsProps,
    subject: String,
    from: DataFrom,
    timeout: Duration,
}

fn build_request(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: RequestProps = parse_props(props)?;
    p.conn.check()?;
    let timeout = match p.request_timeout {
        None => Duration::from_secs(5),
        Some(d) => d
            .to_std()
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| TaskError::property("requestTimeout", "must be longer than PT0S"))?,
    };
    Ok(Box::new(Request {
        subject: subject(p.subject)?,
        from: DataFrom::parse("from", p.from)?,
        conn: p.conn,
        timeout,
    }))
}

#[async_trait]
impl RunnableTask for Request {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let first = next_message(&mut self.from.open(cx, "from", MAX_LINE_BYTES).await?).await?;
        let m = first.ok_or_else(|| TaskError::property("from", "holds no message"))?;
        let client = self.conn.connect().await?;
        let request = async_nats::Request::new().headers(m.headers).payload(m.data.into()).timeout(Some(self.timeout));
        let reply = client
            .send_request(self.subject.clone(), request)
            .await
            .map_err(|e| TaskError::failed(format!("no reply on '{}' within {:?}: {e}", self.subject, self.timeout)))?;
        let mut out = Map::new();
        out.insert("response".into(), Value::String(String::from_utf8_lossy(&reply.payload).into_owned()));
        Ok(TaskOutput::with(out))
    }
}

pub static PRODUCE: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<ProduceProps>(build_produce));
pub static REQUEST: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<RequestProps>(build_request));

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kestra_s_examples_build_and_checks_name_the_property() {
        let ok = json!({"url": "nats://h:4222", "subject": "kestra.publish", "from": [{"data": "a"}, {"data": "b"}]});
        assert!(build_produce(ok.as_object().unwrap()).is_ok());
        let err = |v: Value| build_produce(v.as_object().unwrap()).err().expect("refused").to_string();
        assert!(err(json!({"url": "nats://h", "subject": "a.>", "from": {"data": "x"}})).contains("'subject'"));
        assert!(err(json!({"url": "nats://h", "subject": "a", "from": "plain"})).contains("'from'"));
        let r = json!({"url": "nats://h", "subject": "greet.bob", "from": {"data": "hi"}, "requestTimeout": "PT0S"});
        assert!(build_request(r.as_object().unwrap()).err().expect("refused").to_string().contains("'requestTimeout'"));
    }
}
