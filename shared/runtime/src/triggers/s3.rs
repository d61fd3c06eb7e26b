//! `io.kestra.plugin.aws.s3.Trigger`: starts an execution for new or
//! changed objects of a bucket (plugin-aws `s3/Trigger.java`), polled every
//! `interval` on both runtimes: by `baton server local`'s poller, and on
//! Google Cloud by a Cloud Scheduler job ticking the scheduler function (at
//! most once a minute), as an `http.Trigger` (`runtime::events::s3` acts).
//!
//! This module is the pure part: the declaration (the S3 tasks' connection,
//! listing and action properties, with `interval`, `on`, `maxFiles`,
//! `stateKey`, `stateTtl`), the checks that can be made on the flow as
//! written, and [`S3Trigger`], the trigger once its properties are rendered
//! (they may use `secret()`; only `interval` must be written out, Terraform
//! reads it).

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::stateful::{interval, renderable};
use super::{Stateful, StatefulDecl, StatefulProps, TriggerDef, TriggerProblem, WhenProp};
use crate::model::{Flow, Trigger};
use crate::plugins::aws::AwsProps;
use crate::plugins::aws::s3::action::{Action, ActionProps};
use crate::plugins::aws::s3::common::{ListProps, Listing};
use crate::plugins::aws::s3::list::BucketProps;
use crate::plugins::{Declare, TaskError, parse_props};

pub const TYPE: &str = "io.kestra.plugin.aws.s3.Trigger";

/// Start an execution for new files in an S3 bucket.
///
/// Lists a bucket every `interval` and starts an execution for the objects new or changed since (trigger.objects, each downloaded into the execution's files), then moves or deletes them (action). Polled by `baton server local`, and on Google Cloud by a Cloud Scheduler job (whole minutes).
#[derive(Deserialize, Declare)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
#[plugin(
    type = TYPE,
    example = "id: watch\ntype: io.kestra.plugin.aws.s3.Trigger\nregion: eu-central-1\nbucket: my-bucket\nprefix: incoming/\ninterval: PT5M\naction: MOVE\nmoveTo:\n  bucket: my-bucket\n  key: archive\n",
)]
struct S3TriggerProps {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    b: BucketProps,
    #[serde(flatten)]
    list: ListProps,
    #[serde(flatten)]
    action: ActionProps,
    /// How often to list (whole minutes on Google Cloud).
    #[prop(kind = "Duration", default = "\"PT60S\"")]
    interval: Option<Value>,
    #[serde(flatten)]
    stateful: StatefulDecl,
    #[serde(flatten)]
    when: WhenProp,
}

pub static DEF: LazyLock<TriggerDef> =
    LazyLock::new(|| TriggerDef::declare::<S3TriggerProps>(check, crate::conditions::ConditionUse::Polling));

/// The rendered properties the trigger reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rendered {
    #[serde(flatten)]
    aws: AwsProps,
    #[serde(flatten)]
    b: BucketProps,
    #[serde(flatten)]
    list: ListProps,
    #[serde(flatten)]
    action: ActionProps,
    #[serde(flatten)]
    stateful: StatefulProps,
}

pub use super::On;

/// A trigger with its properties rendered and checked.
#[derive(Debug, Clone)]
pub struct S3Trigger {
    pub id: String,
    pub aws: AwsProps,
    pub listing: Listing,
    pub action: Action,
    pub stateful: Stateful,
}

impl S3Trigger {
    /// Reads the rendered properties (see [`renderable`]).
    pub fn from_rendered(id: &str, props: &Map<String, Value>) -> Result<S3Trigger, TaskError> {
        let r: Rendered = parse_props(props)?;
        r.aws.check()?;
        let listing = r.list.check(&r.b.bucket, &r.b.request_payer)?;
        let action = r.action.check()?;
        let stateful = Stateful::check(r.stateful)?;
        // moved objects the listing would find again would trigger again, forever
        if let Some((b, k)) = action.move_target(&listing.bucket, "x")
            && b == listing.bucket
            && listing.regexp.is_none()
        {
            let prefix = listing.prefix.as_deref().unwrap_or("");
            let listed =
                k.starts_with(prefix) && listing.delimiter.as_deref().is_none_or(|d| !k[prefix.len()..].contains(d));
            if listed {
                return Err(TaskError::property(
                    "moveTo",
                    format!(
                        "s3://{b}/{} is listed by the trigger itself: moved objects would trigger again",
                        &k[..k.len() - 2]
                    ),
                ));
            }
        }
        Ok(S3Trigger { id: id.to_string(), aws: r.aws, listing, action, stateful })
    }
}

/// What can be checked before rendering: `interval`, and the other
/// properties when none is a template (else they are checked at each poll).
fn check(trig: &Trigger, _flow: &Flow) -> Vec<TriggerProblem> {
    let mut out = Vec::new();
    if let Err(p) = interval(trig) {
        out.push(p);
    }
    let props = renderable(trig);
    // required, as Kestra's `bucket` and `action` (@NotNull)
    let missing: Vec<&str> = ["bucket", "action"].into_iter().filter(|k| !props.contains_key(*k)).collect();
    for key in &missing {
        out.push(TriggerProblem::at(
            key.to_string(),
            format!("trigger '{}': missing required property '{key}'", trig.id),
        ));
    }
    if props.values().any(super::templated) || !missing.is_empty() {
        return out;
    }
    if let Err(e) = S3Trigger::from_rendered(&trig.id, &props) {
        out.push(super::problem_of(&trig.id, e));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn trig(yaml: &str) -> Trigger {
        let (v, _) = crate::yaml::parse(yaml).expect("yaml");
        Trigger {
            id: "watch".into(),
            type_: TYPE.into(),
            disabled: false,
            props: v.as_object().cloned().expect("a mapping"),
            path: "triggers[0]".into(),
        }
    }

    fn flow() -> Flow {
        let src = "id: f\nnamespace: ns\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
        let (v, _) = crate::yaml::parse(src).expect("yaml");
        Flow::from_value(&v, src).0.expect("flow")
    }

    #[test]
    fn reads_kestra_s_example() {
        let t = trig(
            "bucket: b\nprefix: in/\ninterval: PT5M\naction: MOVE\nmoveTo:\n  bucket: b\n  key: archive\nregexp: .*\\.csv",
        );
        assert_eq!(interval(&t).expect("interval"), Duration::from_secs(300));
        assert!(check(&t, &flow()).is_empty());
        let s = S3Trigger::from_rendered("watch", &renderable(&t)).expect("valid");
        assert_eq!((s.listing.bucket.as_str(), s.stateful.max_files, s.stateful.on), ("b", 25, On::CreateOrUpdate));
        assert_eq!(s.action.move_target("b", "in/a.csv"), Some(("b".into(), "archive/a.csv".into())));
        assert_eq!(s.stateful.state_key(&flow(), &s.id), "ns/f/watch");
    }

    #[test]
    fn problems_name_the_property() {
        let paths = |y: &str| -> Vec<String> { check(&trig(y), &flow()).into_iter().map(|p| p.path).collect() };
        assert_eq!(paths("bucket: b\naction: COPY"), ["action"]);
        assert_eq!(paths("bucket: b\naction: MOVE"), ["moveTo"]);
        assert_eq!(paths("bucket: b\naction: NONE\non: NEVER"), ["on"]);
        assert_eq!(paths("bucket: b\naction: NONE\nmaxFiles: 0"), ["maxFiles"]);
        assert_eq!(paths("bucket: b\naction: NONE\ninterval: soon"), ["interval"]);
        assert_eq!(paths("bucket: b\naction: NONE\ninterval: \"{{ vars.i }}\""), ["interval"]);
        assert_eq!(paths("bucket: b\naction: NONE\nregexp: '('"), ["regexp"]);
        assert_eq!(paths("bucket: b\naction: NONE\nstateTtl: later"), ["stateTtl"]);
        assert_eq!(paths("bucket: b\nprefix: in/\naction: MOVE\nmoveTo:\n  key: in/done"), ["moveTo"]);
        assert!(paths("bucket: b\nprefix: in/\naction: MOVE\nmoveTo:\n  key: archive").is_empty());
        // Kestra's required properties, refused when absent
        assert_eq!(paths("prefix: in/"), ["bucket", "action"]);
        assert_eq!(paths("bucket: b"), ["action"]);
        // a template is checked when rendered, at each poll
        assert!(paths("bucket: \"{{ secret('B') }}\"\naction: NONE\nregexp: '('").is_empty());
    }
}
