//! `io.kestra.plugin.aws.eventbridge.PutEvents` (plugin-aws
//! `eventbridge/PutEvents.java`): sends custom events to EventBridge.
//! `entries` is a list of `{eventBusName, source, detailType, detail,
//! resources}` (`detail` a map, sent as JSON, or a string holding JSON) or
//! a `kestra://` Ion file of them. EventBridge takes 10 events a request:
//! Baton sends them 10 at a time (Kestra sends all in one request, which
//! EventBridge refuses above 10), at most [`MAX_ENTRIES`]. With
//! `failOnUnsuccessfulEvents` (the default) an event EventBridge did not
//! accept fails the task naming it. Outputs `entryCount`,
//! `failedEntryCount` and `uri`, an Ion file of `{eventId, errorCode,
//! errorMessage, entry}` per event, in order; metrics
//! `eventbridge.put.events.{total,successful,failed}` and `…duration`.

use std::sync::LazyLock;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AwsProps;
use super::connection::sdk_error;
use crate::core::ion_file::IonFile;
use crate::core::ion_text;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// EventBridge's most events a request.
const PER_REQUEST: usize = 10;
/// The most events one task sends.
pub const MAX_ENTRIES: usize = 100_000;
/// The longest line of an `entries` file (EventBridge takes 256 KiB a request).
const MAX_LINE_BYTES: u64 = 1024 * 1024;
/// An entry's fields.
const FIELDS: &[&str] = &["eventBusName", "source", "detailType", "detail", "resources"];

fn entry_ok(m: &Map<String, Value>) -> Result<(), String> {
    if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown field '{k}' (an entry has {})", FIELDS.join(", ")));
    }
    Ok(())
}

fn entries_ok(v: &Value) -> Result<(), String> {
    match v {
        Value::String(_) => Ok(()),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| match item {
            Value::Object(m) => entry_ok(m).map_err(|e| format!("entry {}: {e}", i + 1)),
            other => Err(format!("entry {} must be a map, found {other}", i + 1)),
        }),
        other => Err(format!("expected a list of entries or a kestra:// URI, found {other}")),
    }
}

/// Send events to Amazon EventBridge.
///
/// Sends custom events ({eventBusName, source, detailType, detail, resources}) from a list or a kestra:// Ion file, 10 a request; outputs entryCount, failedEntryCount and an Ion file of the results (uri).
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.aws.eventbridge.PutEvents",
    group = "aws",
    example = "id: put_events\ntype: io.kestra.plugin.aws.eventbridge.PutEvents\nregion: eu-central-1\nentries:\n  - eventBusName: events\n    source: Kestra\n    detailType: my_object\n    detail:\n      message: hello from EventBridge and Kestra\n",
    outputs(
        uri(String, "An Ion file of {eventId, errorCode, errorMessage, entry} per event, in order."),
        entryCount(Integer, "How many events were sent."),
        failedEntryCount(Integer, "How many events EventBridge did not accept.")
    )
)]
struct Props {
    #[serde(flatten)]
    aws: AwsProps,
    /// The events: a list of {eventBusName, source, detailType, detail, resources}, or a kestra:// Ion file of them.
    #[prop(dynamic, kind = "Any", required, check = entries_ok)]
    entries: Option<Value>,
    /// Fail the task when EventBridge does not accept an event.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(dynamic, default = "true")]
    fail_on_unsuccessful_events: Option<bool>,
}

enum Entries {
    Inline(Vec<Map<String, Value>>),
    File(String),
}

struct PutEvents {
    aws: AwsProps,
    entries: Entries,
    fail: bool,
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    p.aws.check()?;
    let err = |e: String| TaskError::property("entries", e);
    let entries = match p.entries.ok_or_else(|| err("the events are required".into()))? {
        Value::String(s) if s.trim().starts_with("kestra://") => Entries::File(s.trim().to_string()),
        Value::String(s) => {
            return Err(err(format!("'{s}' is not a kestra:// URI: give a list of entries or an Ion file")));
        }
        Value::Array(items) => {
            entries_ok(&Value::Array(items.clone())).map_err(err)?;
            Entries::Inline(items.into_iter().filter_map(|v| v.as_object().cloned()).collect())
        }
        other => return Err(err(format!("expected a list of entries or a kestra:// URI, found {other}"))),
    };
    Ok(Box::new(PutEvents { aws: p.aws, entries, fail: p.fail_on_unsuccessful_events.unwrap_or(true) }))
}

/// An entry as EventBridge takes it; `n` numbers it in errors.
fn request_entry(m: &Map<String, Value>, n: usize) -> Result<PutEventsRequestEntry, String> {
    entry_ok(m).map_err(|e| format!("entry {n}: {e}"))?;
    let text = |k: &str| -> Result<Option<String>, String> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("entry {n}: '{k}' must be text, found {other}")),
        }
    };
    let detail = match m.get("detail") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let resources = match m.get("resources") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|r| {
                    r.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("entry {n}: a resource must be text, found {r}"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(other) => return Err(format!("entry {n}: 'resources' must be a list, found {other}")),
    };
    Ok(PutEventsRequestEntry::builder()
        .set_event_bus_name(text("eventBusName")?)
        .set_source(text("source")?)
        .set_detail_type(text("detailType")?)
        .set_detail(detail)
        .set_resources(resources)
        .build())
}

/// Why event `n` was not accepted, `None` when it was.
fn failure(n: usize, result: &aws_sdk_eventbridge::types::PutEventsResultEntry) -> Option<String> {
    let code = result.error_code()?;
    Some(format!("event {n}: {} ({code})", result.error_message().unwrap_or("no reason given")))
}

impl PutEvents {
    /// The entries, rendered (a file's lines are rendered as Kestra renders each entry's fields).
    async fn entries(&self, cx: &RunContext) -> Result<Vec<Map<String, Value>>, TaskError> {
        let uri = match &self.entries {
            Entries::Inline(items) => return Ok(items.clone()),
            Entries::File(uri) => uri,
        };
        let mut file = IonFile::open(cx, "entries", uri, MAX_LINE_BYTES).await?;
        let mut out = Vec::new();
        while let Some(v) = file.next().await? {
            let Value::Object(m) = cx.render_value(&v)? else {
                return Err(file.error("is not an entry (an Ion struct)"));
            };
            out.push(m);
            if out.len() > MAX_ENTRIES {
                return Err(TaskError::failed(format!(
                    "{uri} holds more than {MAX_ENTRIES} events, the most one PutEvents sends"
                )));
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl RunnableTask for PutEvents {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let started = Instant::now();
        let entries = self.entries(cx).await?;
        if entries.len() > MAX_ENTRIES {
            return Err(TaskError::property(
                "entries",
                format!("more than {MAX_ENTRIES} events, the most one PutEvents sends"),
            ));
        }
        let client = self.aws.eventbridge().await?;
        let mut lines = Vec::new();
        let (mut failed, mut first_failure) = (0usize, None);
        for (c, chunk) in entries.chunks(PER_REQUEST).enumerate() {
            let request = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| request_entry(m, c * PER_REQUEST + i + 1))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| TaskError::property("entries", e))?;
            let answer = client
                .put_events()
                .set_entries(Some(request))
                .send()
                .await
                .map_err(|e| sdk_error("EventBridge", "cannot put the events", e))?;
            for (i, (entry, result)) in chunk.iter().zip(answer.entries()).enumerate() {
                if let Some(why) = failure(c * PER_REQUEST + i + 1, result) {
                    failed += 1;
                    first_failure.get_or_insert(why);
                }
                let line = json!({"eventId": result.event_id(), "errorCode": result.error_code(),
                    "errorMessage": result.error_message(), "entry": entry});
                ion_text::write_line(&line, &mut lines)
                    .map_err(|e| TaskError::failed(format!("cannot write the results: {e}")))?;
            }
        }
        let total = entries.len();
        cx.timer("eventbridge.put.events.duration", started.elapsed(), &[]);
        cx.counter("eventbridge.put.events.failed", failed as f64, &[]);
        cx.counter("eventbridge.put.events.successful", (total - failed) as f64, &[]);
        cx.counter("eventbridge.put.events.total", total as f64, &[]);
        if self.fail
            && let Some(why) = first_failure
        {
            return Err(TaskError::failed(format!("EventBridge did not accept {failed} of {total} events; {why}")));
        }
        let (uri, _) = cx.put_file("eventbridge-results.ion", Box::pin(std::io::Cursor::new(lines))).await?;
        cx.info(&format!("Sent {total} events to EventBridge ({failed} not accepted)"));
        let mut out = Map::new();
        out.insert("uri".into(), Value::String(uri));
        out.insert("entryCount".into(), Value::from(total));
        out.insert("failedEntryCount".into(), Value::from(failed));
        Ok(TaskOutput::with(out))
    }
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read_and_checked() {
        let m = |v: Value| v.as_object().cloned().expect("map");
        let e = request_entry(&m(json!({"source": "Kestra", "detail": {"a": 1}, "resources": ["arn:x"]})), 1).unwrap();
        assert_eq!(
            (e.source(), e.detail(), e.resources()),
            (Some("Kestra"), Some("{\"a\":1}"), &["arn:x".to_string()][..])
        );
        assert_eq!(request_entry(&m(json!({"detail": "{\"b\":2}"})), 1).unwrap().detail(), Some("{\"b\":2}"));
        assert!(request_entry(&m(json!({"source": 1})), 3).unwrap_err().contains("entry 3: 'source' must be text"));
        assert!(entries_ok(&json!([{"bus": "x"}])).unwrap_err().contains("unknown field 'bus'"));
        assert!(entries_ok(&json!(3)).is_err());
    }

    #[test]
    fn a_failed_entry_is_named() {
        use aws_sdk_eventbridge::types::PutEventsResultEntry;
        let ok = PutEventsResultEntry::builder().event_id("e1").build();
        assert_eq!(failure(1, &ok), None);
        let bad = PutEventsResultEntry::builder().error_code("NotFound").error_message("no bus").build();
        assert_eq!(failure(7, &bad).as_deref(), Some("event 7: no bus (NotFound)"));
    }
}
