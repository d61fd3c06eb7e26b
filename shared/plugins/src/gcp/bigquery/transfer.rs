//! `io.kestra.plugin.gcp.bigquery.RunTransferConfig` (plugin-gcp
//! `bigquery/RunTransferConfig.java`): a manual run of a BigQuery Data
//! Transfer Service config, through its REST API
//! (`bigquerydatatransfer.googleapis.com`).
//!
//! As Kestra: with `reattach` (default) a run of the config already
//! PENDING or RUNNING (`transferConfigs.runs.list`, the most recently
//! scheduled, none older than `reattachMaxAge` when set) is adopted
//! instead of starting one; else `transferConfigs.startManualRuns` with
//! `requestedRunTime` now starts one (none started fails the task). The
//! metric `reattached` is 1 or 0. The config is read
//! (`transferConfigs.get`) for its destination dataset. With `wait`
//! (default) the run is read every `pollInterval` (15 s) until SUCCEEDED,
//! FAILED or CANCELLED, for at most `maxDuration` (1 h: then the task
//! fails naming the last state); the metric `duration` times the wait;
//! FAILED and CANCELLED fail the task with the run's error message.
//! Outputs: `runName`, `state`, `reattached`, `destinationDatasetId`, and
//! `projectId` and `location` read from `transferConfigName`.
//!
//! Kestra's Enterprise Edition also emits the destination as a lineage
//! asset; its open-source edition skips that quietly, as Baton does. A
//! killed task stops waiting and leaves the run going, as Kestra's (the
//! API has no way to cancel a run).

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::gcp::common::GcpProps;
use crate::gcp::rest::Api;
use crate::registry::PluginDef;
use crate::{Declare, RunContext, RunnableTask, TaskError, TaskOutput, de, parse_props};

/// The most pages of in-flight runs read when looking for one to adopt.
const MAX_PAGES: usize = 50;

/// `projects/{p}[/locations/{l}]/transferConfigs/{c}`, checked.
fn config_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    let parts: Vec<&str> = s.split('/').collect();
    let plain = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    let ok = match parts.as_slice() {
        ["projects", p, "transferConfigs", c] => plain(p) && plain(c),
        ["projects", p, "locations", l, "transferConfigs", c] => plain(p) && plain(l) && plain(c),
        _ => false,
    };
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "'{s}' is not a transfer config name: expected projects/{{project}}/locations/{{location}}/transferConfigs/{{config}}"
        ))
    }
}

fn config_ok(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(s) if !baton_model::expr::is_template(s) => config_name(s).map(|_| ()),
        _ => Ok(()),
    }
}

/// Trigger a BigQuery Data Transfer Service run.
///
/// Starts a manual run of a transfer config (or re-attaches to one already in flight) and waits for it to end.
#[derive(Debug, Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[plugin(
    type = "io.kestra.plugin.gcp.bigquery.RunTransferConfig",
    group = "gcp",
    example = "id: trigger_transfer\ntype: io.kestra.plugin.gcp.bigquery.RunTransferConfig\ntransferConfigName: projects/my-project/locations/us/transferConfigs/615123456789012345\npollInterval: PT15S\nmaxDuration: PT1H\n",
    outputs(
        runName(String, "The transfer run's resource name."),
        state(String, "The run's state: its final one with `wait`."),
        reattached(Boolean, "Whether a run already in flight was adopted instead of starting one."),
        destinationDatasetId(String, "The transfer config's destination dataset."),
        projectId(String, "The project, from `transferConfigName`."),
        location(String, "The location, from `transferConfigName`.")
    )
)]
struct Props {
    #[serde(flatten)]
    gcp: GcpProps,
    /// The transfer config: projects/{project}/locations/{location}/transferConfigs/{config}.
    #[serde(deserialize_with = "de::string_lenient")]
    #[prop(check = config_ok)]
    transfer_config_name: String,
    /// Adopt a run of this config already pending or running instead of starting a new one.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    reattach: Option<bool>,
    /// With `reattach`, an in-flight run scheduled longer ago than this is not adopted (any age when unset).
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration")]
    reattach_max_age: Option<chrono::Duration>,
    /// Wait for the run to end.
    #[serde(default, deserialize_with = "de::opt_bool_lenient")]
    #[prop(default = "true")]
    wait: Option<bool>,
    /// How often the run is read while waiting.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration", default = "\"PT15S\"")]
    poll_interval: Option<chrono::Duration>,
    /// The longest wait for the run to end.
    #[serde(default, deserialize_with = "de::opt_duration")]
    #[prop(kind = "Duration", default = "\"PT1H\"")]
    max_duration: Option<chrono::Duration>,
}

pub static DEF: LazyLock<PluginDef> = LazyLock::new(|| PluginDef::declare::<Props>(build));

struct RunTransferConfig {
    gcp: GcpProps,
    config: String,
    reattach: bool,
    reattach_max_age: Option<chrono::Duration>,
    wait: bool,
    poll: Duration,
    max: Duration,
}

fn positive(prop: &str, d: Option<chrono::Duration>, default: Duration) -> Result<Duration, TaskError> {
    match d {
        None => Ok(default),
        Some(d) => d
            .to_std()
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| TaskError::property(prop, "the duration must be positive")),
    }
}

fn build(props: &Map<String, Value>) -> Result<Box<dyn RunnableTask>, TaskError> {
    let p: Props = parse_props(props)?;
    Ok(Box::new(RunTransferConfig {
        config: config_name(&p.transfer_config_name).map_err(|e| TaskError::property("transferConfigName", e))?,
        reattach: p.reattach.unwrap_or(true),
        reattach_max_age: p.reattach_max_age,
        wait: p.wait.unwrap_or(true),
        poll: positive("pollInterval", p.poll_interval, Duration::from_secs(15))?,
        max: positive("maxDuration", p.max_duration, Duration::from_secs(3600))?,
        gcp: p.gcp,
    }))
}

/// The segment after `key` in a resource name (`projects` → the project).
fn segment(name: &str, key: &str) -> Value {
    let parts: Vec<&str> = name.split('/').collect();
    parts.windows(2).find(|w| w[0] == key).map_or(Value::Null, |w| json!(w[1]))
}

fn schedule_time(run: &Value) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    run["scheduleTime"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
}

/// The most recently scheduled of `runs` not scheduled before `cutoff`.
fn most_recent(runs: &[Value], cutoff: Option<chrono::DateTime<chrono::Utc>>) -> Option<Value> {
    runs.iter()
        .filter(|r| match (cutoff, schedule_time(r)) {
            (Some(c), Some(t)) => t >= c,
            _ => true,
        })
        .max_by_key(|r| schedule_time(r))
        .cloned()
}

fn terminal(state: &str) -> bool {
    matches!(state, "SUCCEEDED" | "FAILED" | "CANCELLED")
}

impl RunTransferConfig {
    /// A run of the config already pending or running, to adopt.
    async fn in_flight(&self, cx: &RunContext, api: &Api) -> Result<Option<Value>, TaskError> {
        let cutoff = self.reattach_max_age.map(|a| chrono::Utc::now() - a);
        let mut runs = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut path = format!("/v1/{}/runs?states=PENDING&states=RUNNING", self.config);
            if let Some(t) = &token {
                path.push_str(&format!("&pageToken={}", form(t)));
            }
            let page = api.get(cx, &path).await?;
            for r in page["transferRuns"].as_array().into_iter().flatten() {
                if let (Some(c), Some(t)) = (cutoff, schedule_time(r))
                    && t < c
                {
                    cx.info(&format!(
                        "Ignoring in-flight transfer run '{}' scheduled at {t}: it is older than reattachMaxAge; a fresh run will be started",
                        r["name"].as_str().unwrap_or_default()
                    ));
                }
                runs.push(r.clone());
            }
            token = page["nextPageToken"].as_str().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(most_recent(&runs, cutoff))
    }

    fn output(&self, run: &Value, reattached: bool, config: &Value) -> TaskOutput {
        let mut out = Map::new();
        out.insert("runName".into(), run.get("name").cloned().unwrap_or(Value::Null));
        out.insert("state".into(), run.get("state").cloned().unwrap_or(Value::Null));
        out.insert("reattached".into(), json!(reattached));
        out.insert("destinationDatasetId".into(), config.get("destinationDatasetId").cloned().unwrap_or(Value::Null));
        out.insert("projectId".into(), segment(&self.config, "projects"));
        out.insert("location".into(), segment(&self.config, "locations"));
        TaskOutput::with(out)
    }
}

/// A query parameter's value, percent-encoded.
fn form(s: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[("v", s)])
        .ok()
        .and_then(|u| u.query().map(|q| q.trim_start_matches("v=").to_string()))
        .unwrap_or_default()
}

#[async_trait]
impl RunnableTask for RunTransferConfig {
    async fn run(&self, cx: &RunContext) -> Result<TaskOutput, TaskError> {
        let r = self.gcp.resolve(cx)?;
        let api = Api::connect(cx, &r, "BigQuery Data Transfer", "bigquerydatatransfer.googleapis.com").await?;
        let adopted = if self.reattach { self.in_flight(cx, &api).await? } else { None };
        let reattached = adopted.is_some();
        cx.counter("reattached", if reattached { 1.0 } else { 0.0 }, &[]);
        let run = match adopted {
            Some(run) => {
                let name = run["name"].as_str().unwrap_or_default();
                cx.info(&format!("Re-attaching to in-flight transfer run '{name}' instead of starting a new one"));
                run
            }
            None => {
                let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                let body = json!({"requestedRunTime": now});
                let started = api.post(cx, &format!("/v1/{}:startManualRuns", self.config), &body).await?;
                let Some(run) = started["runs"].as_array().and_then(|r| r.first()).cloned() else {
                    return Err(TaskError::failed(format!(
                        "startManualRuns started no run for transfer config '{}': the config may be disabled or the requested run time is outside its window",
                        self.config
                    )));
                };
                cx.info(&format!("Started transfer run '{}'", run["name"].as_str().unwrap_or_default()));
                run
            }
        };
        let config = api.get(cx, &format!("/v1/{}", self.config)).await?;
        if !self.wait {
            return Ok(self.output(&run, reattached, &config));
        }
        let Some(name) = run["name"].as_str().map(str::to_string) else {
            return Err(TaskError::failed("BigQuery Data Transfer answered a run without its name"));
        };
        let started = Instant::now();
        let ended = loop {
            let now = api.get(cx, &format!("/v1/{name}")).await?;
            let state = now["state"].as_str().unwrap_or_default();
            if terminal(state) {
                break now;
            }
            if started.elapsed() >= self.max {
                return Err(TaskError::failed(format!(
                    "Transfer run '{name}' did not reach a terminal state within {}s: last observed state was {state}",
                    self.max.as_secs()
                )));
            }
            tokio::time::sleep(self.poll.min(self.max.saturating_sub(started.elapsed())).max(Duration::from_millis(1)))
                .await;
        };
        cx.timer("duration", started.elapsed(), &[]);
        let state = ended["state"].as_str().unwrap_or_default();
        if state != "SUCCEEDED" {
            return Err(TaskError::failed(format!(
                "Transfer run '{name}' ended in state {state}: {}",
                ended["errorStatus"]["message"].as_str().unwrap_or_default()
            )));
        }
        Ok(self.output(&ended, reattached, &config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_are_checked_and_read() {
        let n = "projects/p1/locations/us/transferConfigs/615";
        assert_eq!(config_name(n).as_deref(), Ok(n));
        assert!(config_name("projects/p1/transferConfigs/615").is_ok());
        assert!(config_name("projects/p1/locations/us/transferConfigs/../x").is_err());
        assert!(config_name("615").is_err());
        assert_eq!((segment(n, "projects"), segment(n, "locations")), (json!("p1"), json!("us")));
        assert_eq!(segment("projects/p1/transferConfigs/1", "locations"), Value::Null);
    }

    #[test]
    fn the_most_recent_in_flight_run_not_too_old_is_adopted() {
        let runs = [
            json!({"name": "a", "scheduleTime": "2024-01-01T00:00:00Z"}),
            json!({"name": "b", "scheduleTime": "2024-01-02T00:00:00Z"}),
        ];
        assert_eq!(most_recent(&runs, None).expect("one")["name"], "b");
        let late = chrono::DateTime::parse_from_rfc3339("2024-01-03T00:00:00Z").expect("t").to_utc();
        assert!(most_recent(&runs, Some(late)).is_none());
        assert!(terminal("CANCELLED") && !terminal("RUNNING"));
        assert_eq!(form("a b&c"), "a+b%26c");
    }
}
